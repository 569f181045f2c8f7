// One rule, one place (issue 17.10): every caller that asks "is this a password hash?" or "is this
// a DNS server?" gets the same answer, because they all use the codecs in src/formats/.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passwordModule, usersModule } from '../../src/agent/modules/users.js';
import { parseCloudConfig } from '../../src/formats/cloudconfig.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { createLogger } from '../../src/shared/logger.js';
import { contextOf } from '../helpers/context.js';
import { scratchRoot } from '../helpers/scratch.js';
import { cryptMatches } from '../helpers/tools.js';

const log = createLogger(undefined);
// real libxcrypt hashes of "vmctx-test"
const SHA1 = '$sha1$198075$MS7oVfq6i98QOAhAWqGqZZjoYwqHsZ9EnzNb$koGZhZsl4QtplRWxPAY3ADE0JKP0';
const SUNMD5 = '$md5,rounds=60636$7L9Kaays$$OA1jPgMvAFTJSavPIPBUP/';
const YESCRYPT = '$y$j9T$vrBVAKEsS7TJBt6hQCDdVo0zLYQ4vlso///bwlvCCIB$51RLLjucp/88aTDI8GpkZMymGur05y/.FjDgaZHr.g3';
const SHA512 = '$6$yXPOofzarzVg.NJg$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0';
const DES = '7pXVyo5AvHeOA';

const shadowField = async (root: string, user: string): Promise<string> =>
  (await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((l) => l.startsWith(`${user}:`))?.split(':')[1] ?? '';

describe('crypt hashes: one codec for CRYPTED_PASSWORD, cloud-config passwd and chpasswd lists', () => {
  it('a chpasswd list entry bob:$sha1$… (and $md5,…) stores that hash in /etc/shadow, not a literal password (real chpasswd -R)', async () => {
    const root = await scratchRoot();
    const ctx = await contextOf({ USER_DATA: `#cloud-config\nusers:\n  - name: bob\n  - name: carol\n  - name: dave\nchpasswd:\n  list: |\n    bob:${SHA1}\n    carol:${SUNMD5}\n    dave:$6$x\n` });
    expect(ctx.extraPasswords.map((p) => [p.user, p.kind])).toEqual([['bob', 'hash'], ['carol', 'hash']]);
    expect(ctx.warnings.map((w) => w.message).join('\n')).toMatch(/chpasswd: the value for dave looks like a sha512crypt hash \(\$6\$…\) but is not a well-formed one; skipped/u);
    const target = { root: new DirectoryRoot(root), exec: new HostExec(), live: false };
    await usersModule.apply(ctx, target, log);
    await passwordModule.apply(ctx, target, log);
    expect(await shadowField(root, 'bob')).toBe(SHA1);
    expect(await shadowField(root, 'carol')).toBe(SUNMD5);
    // the system's own libcrypt takes them: "vmctx-test" logs bob in, the hash text does not
    expect(cryptMatches(await shadowField(root, 'bob'), 'vmctx-test')).toBe(true);
    expect(cryptMatches(await shadowField(root, 'bob'), SHA1)).toBe(false);
    // a malformed "$6$x" never became dave's literal password
    expect(cryptMatches(await shadowField(root, 'dave'), '$6$x')).toBe(false);
  });

  // [value, is a declared hash (CRYPTED_PASSWORD, cloud-config passwd), chpasswd reads it as]
  const table: Array<[string, boolean, 'hash' | 'plain' | 'skipped']> = [
    [SHA1, true, 'hash'],
    [SUNMD5, true, 'hash'],
    [YESCRYPT, true, 'hash'],
    [SHA512, true, 'hash'],
    [`!${SHA512}`, true, 'hash'],
    ['!', true, 'hash'],
    ['*', true, 'hash'],
    [DES, true, 'plain'],
    ['$6$x', false, 'skipped'],
    ['$sha1$1$abc$short', false, 'skipped'],
    ['plain-Passw0rd', false, 'plain'],
  ];
  for (const [value, declared, chpasswd] of table) {
    it(`${JSON.stringify(value.slice(0, 20))}: CRYPTED_PASSWORD ${declared ? 'takes' : 'refuses'} it, cloud-config passwd agrees, chpasswd: ${chpasswd}`, async () => {
      const ctx = await contextOf({ CRYPTED_PASSWORD: value });
      expect(ctx.password?.kind === 'hash').toBe(declared);
      const issues: string[] = [];
      const cc = parseCloudConfig(`#cloud-config\nusers:\n  - name: bob\n    passwd: ${JSON.stringify(value)}\nchpasswd:\n  list:\n    - ${JSON.stringify(`bob:${value}`)}\n`, issues);
      expect(cc?.users[0]?.passwdHash !== undefined).toBe(declared);
      expect(cc?.chpasswd[0]?.kind ?? 'skipped').toBe(chpasswd);
    });
  }
});
