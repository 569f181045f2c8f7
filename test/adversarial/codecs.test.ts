// One rule, one place (issue 17.10): every caller that asks "is this a password hash?" or "is this
// a DNS server?" gets the same answer, because they all use the codecs in src/formats/.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mapOpenStack } from '../../src/agent/datasources/mapping.js';
import { showCommand } from '../../src/cli/commands.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { isSecretName, REDACTED } from '../../src/shared/secret.js';
import { tempDir } from '../helpers/tmp.js';
import { fetchMetadata } from '../../src/agent/datasources/metadata.js';
import { dnsModule } from '../../src/agent/modules/dns.js';
import { passwordModule, usersModule } from '../../src/agent/modules/users.js';
import { parseCloudConfig } from '../../src/formats/cloudconfig.js';
import { mapOpenNebula } from '../../src/network/fromopennebula.js';
import { renderNetplan } from '../../src/network/renderers/netplan.js';
import { renderNetworkd } from '../../src/network/renderers/networkd.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { createLogger } from '../../src/shared/logger.js';
import { contextOf } from '../helpers/context.js';
import { description, startServer } from '../helpers/metadata.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
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
    expect(ctx.accounts.passwords.map((p) => [p.user, p.kind])).toEqual([['bob', 'hash'], ['carol', 'hash']]);
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
      expect(cc?.users[0]?.password !== undefined).toBe(declared);
      expect(cc?.chpasswd[0]?.kind ?? 'skipped').toBe(chpasswd);
    });
  }
});

describe('DNS servers: one codec for DNS / ETHn_DNS in the context, the network model and the resolver files', () => {
  const target = (root: string) => ({ root: new DirectoryRoot(root), exec: new HostExec(), live: false });

  // [word, accepted by both, the global spelling, the spelling on the NIC's own list]
  const table: Array<[string, boolean, string?, string?]> = [
    ['fe80::1%eth0', true, 'fe80::1%eth0', 'fe80::1'],
    ['FE80::1%eth0', true, 'fe80::1%eth0', 'fe80::1'],
    ['[2001:db8::53]', true, '2001:db8::53', '2001:db8::53'],
    ['10.0.0.2', true, '10.0.0.2', '10.0.0.2'],
    ['2001:db8::1%eth0', false],
    ['10.0.0.2%eth0', false],
    ['fe80::1%2', true, 'fe80::1%2', 'fe80::1'],
  ];
  for (const [word, accepted, global, onLink] of table) {
    it(`${word}: the context and the network model ${accepted ? 'both take it' : 'both refuse it, with the same reason'}`, async () => {
      const vars = { ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH0_DNS: word, DNS: word };
      const ctx = await contextOf(vars);
      const { model, notes } = mapOpenNebula(vars);
      const nic = model.devices[0];
      if (accepted) {
        expect(ctx.dns.nameservers).toEqual([global]);
        expect(model.nameservers.addresses).toEqual([global]);
        expect(nic?.nameservers.addresses).toEqual([onLink]);
        expect(ctx.warnings).toEqual([]);
        expect(notes).toEqual([]);
      } else {
        expect(ctx.dns.nameservers).toEqual([]);
        expect(nic?.nameservers.addresses).toEqual([]);
        const fromContext = ctx.warnings.filter((w) => w.variable === 'DNS').map((w) => w.message);
        const fromModel = notes.filter((n) => n.path === 'DNS').map((n) => n.message);
        expect(fromContext).toHaveLength(1);
        expect(fromModel).toEqual(fromContext);
      }
    });
  }

  it('fe80::1%eth0 is written with its zone to resolv.conf and resolved.conf, without it per link (the .network files, netplan\'s ETH0_DNS), and not into NetworkManager\'s global DNS', async () => {
    const vars = { ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', DNS: 'fe80::1%eth0 10.0.0.2', ETH0_DNS: 'fe80::1%eth0' };
    const ctx = await contextOf(vars);
    const plain = await scratchRoot();
    await dnsModule.apply(ctx, target(plain), log);
    expect(await readFile(join(plain, 'etc/resolv.conf'), 'utf8')).toContain('nameserver fe80::1%eth0\nnameserver 10.0.0.2\n');
    const resolved = await scratchRoot({ resolvConf: 'none' });
    await symlink('../run/systemd/resolve/stub-resolv.conf', join(resolved, 'etc/resolv.conf'));
    await dnsModule.apply(ctx, target(resolved), log);
    expect(await readFile(join(resolved, 'etc/systemd/resolved.conf.d/90-vmctx.conf'), 'utf8')).toContain('DNS=fe80::1%eth0 10.0.0.2\n');
    const nm = await scratchRoot({ resolvConf: 'none' });
    await mkdir(join(nm, 'etc/NetworkManager'));
    await writeFile(join(nm, 'etc/resolv.conf'), '# Generated by NetworkManager\n');
    const outcome = await dnsModule.apply(ctx, target(nm), log);
    expect(await readFile(join(nm, 'etc/NetworkManager/conf.d/90-vmctx-dns.conf'), 'utf8')).toContain('servers=10.0.0.2\n');
    expect(outcome.warnings.join('\n')).toMatch(/nameserver fe80::1%eth0: a link-local server with an interface is not written into NetworkManager's global DNS/u);
    const { model } = mapOpenNebula(vars);
    const netplan = [...renderNetplan(model).files.values()].map((f) => f.content).join('');
    const rendered = renderNetworkd(model).files;
    const perLink = [...rendered].filter(([p]) => p.endsWith('.network')).map(([, f]) => f.content).join('');
    expect(netplan).toMatch(/- "?fe80::1"?\n/u);
    expect(perLink).toContain('DNS=fe80::1\n');
    expect(perLink).not.toContain('%');
    // the global list keeps the zone (systemd-resolved reads it)
    expect(rendered.get('/etc/systemd/resolved.conf.d/50-vmctx.conf')?.content).toContain('DNS=fe80::1%eth0 10.0.0.2\n');
  });
});

describe('metadata key entries: one entry is one key (issue 17.9)', () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  const k0 = fakeKey('ssh-ed25519', 'zero');
  const smuggled = fakeKey('ssh-rsa', 'smuggled');
  const k1 = fakeKey('ssh-ed25519', 'one');

  it('EC2 (real HTTP on 127.0.0.1): public-keys/0/openssh-key with a second line keeps the first, warns naming the entry', async () => {
    const d = description({}, []);
    (d['meta-data'] ?? {})['public-keys'] = [{ name: 'a', 'openssh-key': `${k0}\n${smuggled}\n` }, { name: 'b', 'openssh-key': `${k1}\n` }];
    const { server, url } = await startServer(d);
    servers.push(server);
    const got = await fetchMetadata({ url, deadline: Date.now() + 5000, connectMs: 500, requestMs: 2000, allowImdsv1: true });
    expect(got.raw.variables['SSH_PUBLIC_KEY']?.split('\n')).toEqual([k0, k1]);
    expect(got.raw.warnings).toContainEqual({ variable: 'meta-data/public-keys/0/openssh-key', message: 'holds 2 lines, but a key entry is one key: only its first line was kept' });
    // a trailing newline (as most servers send) is not a second line
    expect(got.raw.warnings.filter((w) => (w.variable ?? '').includes('public-keys/1'))).toEqual([]);
  });

  it('OpenStack: public_keys{name} and keys[].data likewise; the warning names the key', () => {
    const mapped = mapOpenStack({ uuid: 'u-1', public_keys: { mykey: `${k0}\r\n${smuggled}` }, keys: [{ name: 'other', type: 'ssh', data: `\n${k1}\n\n${smuggled}\n` }] }, undefined, undefined);
    expect(mapped.variables['SSH_PUBLIC_KEY']?.split('\n')).toEqual([k0, k1]);
    expect(mapped.warnings).toEqual([
      { variable: 'meta_data.json public_keys["mykey"]', message: 'holds 2 lines, but a key entry is one key: only its first line was kept' },
      { variable: 'meta_data.json keys[0].data ("other")', message: 'holds 2 lines, but a key entry is one key: only its first line was kept' },
    ]);
  });

  it("OpenNebula's SSH_PUBLIC_KEY stays a list, one key per line", async () => {
    const ctx = await contextOf({ SSH_PUBLIC_KEY: `${k0}\n${k1}\n` });
    expect(ctx.sshKeys.keys).toEqual([k0, k1]);
    expect(ctx.warnings).toEqual([]);
  });
});

describe('secret variable names (issue 17.9)', () => {
  const table: Array<[string, boolean]> = [
    ['API_KEY', true], ['ACCESS_KEY', true], ['X_API_KEY', true], ['STRIPE_APIKEY', true], ['AWS_ACCESS_KEY_ID', true], ['AWS_SECRET_ACCESS_KEY', true],
    ['GITHUB_TOKEN', true], ['ONEGATE_TOKEN', true], ['MY_SECRET_THING', true], ['SECRET', true], ['DB_PASSWORD', true], ['PASSWORD_BASE64', true],
    ['CRYPTED_PASSWORD', true], ['SMTP_PASS', true], ['PASS', true], ['api_key', true], ['USER_DATA', true], ['START_SCRIPT_BASE64', true], ['SSH_PRIVATE_KEY', true],
    ['SSH_PUBLIC_KEY', false], ['BYPASS_PROXY', false], ['PASSIVE_MODE', false], ['SET_HOSTNAME', false], ['ETH0_DNS', false], ['KEYBOARD', false], ['ACCESS_LOG', false],
  ];
  for (const [name, secret] of table) {
    it(`${name} is ${secret ? '' : 'not '}a secret`, () => {
      expect(isSecretName(name)).toBe(secret);
    });
  }

  it('vmctx show redacts API_KEY, ACCESS_KEY, *_TOKEN, *SECRET*, *PASSWORD* (text and --json), and shows them with --show-secrets', async () => {
    const medium = await tempDir('vmctx-show-secrets-');
    const root = await scratchRoot();
    const secrets = { API_KEY: 'sk-live-api-0f3c', ACCESS_KEY: 'AKIA-access-77e1', CI_TOKEN: 'ci-token-41aa', APP_SECRET_SALT: 'salt-9c2d', ADMIN_PASSWORD_HINT: 'hint-5b17' };
    await writeFile(join(medium, 'context.sh'), renderContextSh({ VMID: '7', APP_NAME: 'shown-app', ...secrets }));
    const show = async (json: boolean, showSecrets: boolean): Promise<string> => {
      const chunks: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        chunks.push(String(chunk));
        return true;
      });
      try {
        expect(await showCommand({ source: medium, root, json, showSecrets })).toBe(0);
      } finally {
        spy.mockRestore();
      }
      return chunks.join('');
    };
    const text = await show(false, false);
    const json = await show(true, false);
    expect(text).toContain('APP_NAME="shown-app"');
    for (const [name, value] of Object.entries(secrets)) {
      expect(text).not.toContain(value);
      expect(json).not.toContain(value);
      expect(text).toContain(`${name}=${JSON.stringify(REDACTED)}`);
      expect((JSON.parse(json) as { variables: Record<string, string> }).variables[name]).toBe(REDACTED);
    }
    const shown = JSON.parse(await show(true, true)) as { variables: Record<string, string> };
    for (const [name, value] of Object.entries(secrets)) expect(shown.variables[name]).toBe(value);
  });
});
