import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import * as cloudconfig from '../../src/formats/cloudconfig.js';
import { APPLIED_KEYS, UNSUPPORTED_KEYS, checkCloudConfig, parseCloudConfig } from '../../src/formats/cloudconfig.js';
import * as decodebudget from '../../src/formats/decodebudget.js';
import { parseUserData } from '../../src/formats/userdata.js';

const hash = '$6$yXPOofzarzVg.NJg$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0';

describe('cloud-config subset', () => {
  it('reads the supported keys, validates each item and reports what it skips', () => {
    const issues: string[] = [];
    const cc = parseCloudConfig(`#cloud-config
hostname: cc-host
ssh_authorized_keys: [ "ssh-ed25519 AAAA k1" ]
users:
  - default
  - name: dev
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/bash
    ssh_authorized_keys: [ "ssh-ed25519 AAAA k2" ]
    lock_passwd: false
    passwd: "${hash}"
  - name: "../../etc"
  - name: bad-shell
    shell: "bash; reboot"
chpasswd:
  list: |
    dev:plain-pass
    root:${hash}
    nobody
    ghost:R
write_files:
  - path: /etc/app.conf
    content: hello
    permissions: '0640'
    owner: dev:dev
  - path: /etc/b64
    encoding: b64
    content: aGk=
  - path: relative/path
  - path: /etc/../shadow
  - path: /etc/mode
    permissions: rwx
runcmd: [ "echo a", [ls, -l], { bad: 1 } ]
bootcmd: [ "echo boot" ]
frobnicate: true
`, issues);
    expect(cc?.hostname).toBe('cc-host');
    expect(cc?.users.map((u) => [u.name, u.sudo.length > 0, u.shell ?? null, u.lockPasswd, u.password?.value === hash])).toEqual([['dev', true, '/bin/bash', false, true], ['bad-shell', false, null, true, false]]);
    expect(cc?.chpasswd.map((p) => [p.user, p.kind])).toEqual([['dev', 'plain'], ['root', 'hash']]);
    expect(cc?.writeFiles.map((f) => [f.path, f.content.toString(), f.mode.toString(8), f.owner])).toEqual([['/etc/app.conf', 'hello', '640', 'dev:dev'], ['/etc/b64', 'hi', '644', 'root:root']]);
    expect(cc?.runcmd).toEqual(['echo a', ['ls', '-l']]);
    expect(cc?.bootcmd).toEqual(['echo boot']);
    expect(issues).toEqual([
      'unknown cloud-config key "frobnicate"; ignored',
      'users[2]: no valid name (lower-case letters, digits, _ and -); skipped',
      'users[3]: shell "bash; reboot" is not an absolute path; ignored',
      'chpasswd: a line is not "user:password"; skipped',
      'chpasswd: a RANDOM password for ghost is not supported (cloud-init prints it on the console; vmctx never shows a secret); skipped',
      'write_files[2]: path must be absolute without ".."; skipped',
      'write_files[3]: path must be absolute without ".."; skipped',
      'write_files[4]: permissions "rwx" are not octal; skipped',
      'runcmd[2]: not a command (a string or a list of strings); skipped',
    ]);
  });

  it('survives what is not YAML, not a mapping, an alias bomb, and a gzip bomb', () => {
    const issues: string[] = [];
    expect(parseCloudConfig('#cloud-config\nusers: [ {name: a\n', issues)).toBeUndefined();
    expect(parseCloudConfig('#cloud-config\n- a\n- b\n', issues)).toBeUndefined();
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`).join('\n')}\n`;
    expect(parseCloudConfig(bomb, issues)).toBeUndefined();
    const gz = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x41)).toString('base64');
    const out = parseCloudConfig(`write_files:\n  - path: /big\n    encoding: gz+b64\n    content: ${gz}\n`, issues);
    expect(out?.writeFiles).toEqual([]);
    expect(issues.map((i) => i.split(':')[0])).toEqual(['cloud-config is not YAML', 'cloud-config is not a mapping; ignored', 'cloud-config uses aliases (*name) more than the limit of 32 uses; refused (nothing from it is applied)', 'write_files[0]']);
  });
});

describe('user data', () => {
  it('MIME multipart with a cloud-config part and a base64 shell script part; gzip is undone', () => {
    const mime = [
      'Content-Type: multipart/mixed; boundary="XYZ"', 'MIME-Version: 1.0', '',
      '--XYZ', 'Content-Type: text/cloud-config', '', '#cloud-config', 'hostname: from-mime', '',
      '--XYZ', 'Content-Type: text/x-shellscript', 'Content-Transfer-Encoding: base64', '', Buffer.from('#!/bin/sh\necho part\n').toString('base64'), '',
      '--XYZ', 'Content-Type: text/x-unknown', '', 'whatever', '',
      '--XYZ--', '',
    ].join('\n');
    const parts = parseUserData(gzipSync(Buffer.from(mime)));
    expect(parts.cloudConfigs.map((c) => c.hostname)).toEqual(['from-mime']);
    expect(parts.scripts.map((s) => [s.name, s.body.toString()])).toEqual([['user-data-part2', '#!/bin/sh\necho part\n']]);
    expect(parts.issues).toEqual(['user-data-part3: MIME type text/x-unknown is not supported; ignored']);
  });

  it('plain text that is none of the known kinds is reported, never run', () => {
    const parts = parseUserData(Buffer.from('rm -rf /\n'));
    expect(parts.scripts).toEqual([]);
    expect(parts.issues[0]).toMatch(/neither a #! script/);
  });
});

describe('cloud-config keys: applied, not supported, or a typo (with its line and column)', () => {
  it('regression contnet: a write_files entry whose content is under a misspelled key is skipped with a warning, not written empty', () => {
    const { config, issues } = checkCloudConfig('#cloud-config\nwrite_files:\n  - path: /etc/motd\n    contnet: hello\n  - path: /etc/empty-on-purpose\n');
    // the second entry is an empty file on purpose (no content and no look-alike key): still written
    expect(config?.writeFiles.map((f) => [f.path, f.content.toString()])).toEqual([['/etc/empty-on-purpose', '']]);
    expect(issues).toEqual([{ severity: 'warning', line: 4, col: 5, message: 'write_files[0]: unknown key "contnet" (did you mean "content"?); the entry has no content, so /etc/motd is not written (not even empty)' }]);
  });

  it('regression contnet (the string API the run used): no empty file, and the typo is named', () => {
    const issues: string[] = [];
    const cc = parseCloudConfig('#cloud-config\nwrite_files:\n  - path: /etc/motd\n    contnet: hello\n', issues);
    expect(cc?.writeFiles).toEqual([]);
    expect(issues.join('\n')).toMatch(/"contnet" \(did you mean "content"\?\)/u);
  });

  it('a misspelled key next to real content is a warning and the file is still written', () => {
    const { config, issues } = checkCloudConfig('write_files:\n  - path: /etc/a\n    content: x\n    permisions: "0600"\n');
    expect(config?.writeFiles.map((f) => [f.path, f.mode.toString(8)])).toEqual([['/etc/a', '644']]);
    expect(issues).toEqual([{ severity: 'warning', line: 4, col: 5, message: 'write_files[0]: unknown key "permisions" (did you mean "permissions"?); ignored' }]);
  });

  it('unknown top-level and users keys get a did-you-mean; documented keys vmctx does not apply are "not supported"', () => {
    const { issues } = checkCloudConfig('#cloud-config\nssh_authorised_keys: [a]\npackages: [vim]\nssh_import_id: [gh:x]\nusers:\n  - name: dev\n    shel: /bin/sh\n    selinux_user: staff_u\n    ssh-authorized-keys: [k]\n');
    expect(issues.map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual([
      '2:1 unknown cloud-config key "ssh_authorised_keys" (did you mean "ssh_authorized_keys"?); ignored',
      '3:1 cloud-config key "packages" is not supported by vmctx; ignored',
      '4:1 cloud-config key "ssh_import_id" is not supported by vmctx; ignored',
      '7:5 users[0]: unknown key "shel" (did you mean "shell"?); ignored',
      '8:5 users[0]: key "selinux_user" is not supported by vmctx (vmctx does not set SELinux users); ignored',
      '9:5 users[0]: ssh-authorized-keys is a deprecated spelling, read as ssh_authorized_keys',
    ]);
  });

  it('a YAML error is one error with its line and column; nothing of the document is used', () => {
    const { config, issues } = checkCloudConfig('#cloud-config\nhostname: a\nruncmd:\n  - [ echo, a\n');
    expect(config).toBeUndefined();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', line: 5, col: 1 });
    expect(issues[0]?.message).toMatch(/^cloud-config is not YAML: /u);
  });

  it('MIME parts count their lines in the whole body', () => {
    const mime = ['Content-Type: multipart/mixed; boundary="B"', 'MIME-Version: 1.0', '', '--B', 'Content-Type: text/cloud-config', '', '#cloud-config', 'hostnme: x', '--B--', ''].join('\n');
    expect(parseUserData(Buffer.from(mime)).located).toEqual([{ severity: 'warning', line: 8, col: 1, message: 'unknown cloud-config key "hostnme" (did you mean "hostname"?); ignored' }]);
  });

  it('#include is returned as URLs (fetched by the context layer); #part-handler is named as not supported', () => {
    const parts = parseUserData(Buffer.from('#include\nhttp://127.0.0.1/x\n'));
    expect(parts.issues).toEqual([]);
    expect(parts.includes).toEqual([{ url: 'http://127.0.0.1/x', once: false, name: 'user-data' }]);
    expect(parseUserData(Buffer.from('#part-handler\ndef list_types(): pass\n')).issues).toEqual(['user-data: #part-handler (Python code run by cloud-init) is not supported by vmctx; ignored']);
  });

  // ARCHITECTURE "Fidelity": every key cloud-init documents is applied or reported, never unknown
  it('every key of cloud-init\'s schema (snapshot in cloud-init-keys.json) is applied or reported as not supported', async () => {
    const documented = JSON.parse(await readFile(new URL('cloud-init-keys.json', import.meta.url), 'utf8')) as Record<'top' | 'users' | 'chpasswd' | 'write_files', string[]>;
    for (const level of ['top', 'users', 'chpasswd', 'write_files'] as const) {
      const missing = documented[level].filter((k) => !(APPLIED_KEYS[level] as readonly string[]).includes(k) && !(UNSUPPORTED_KEYS[level] as readonly string[]).includes(k));
      expect(missing, level).toEqual([]);
    }
    // and the parser says so: an unsupported key is reported as such, an applied one not at all
    for (const key of documented.top) {
      const { issues } = checkCloudConfig(`${JSON.stringify(key)}: null\n`);
      const said = issues.map((i) => i.message).join(' | ');
      if ((APPLIED_KEYS.top as readonly string[]).includes(key)) expect(said, key).not.toMatch(/unknown|not supported/u);
      else expect(said, key).toContain(`cloud-config key ${JSON.stringify(key)} is not supported by vmctx`);
    }
    for (const key of documented.write_files) {
      const { issues } = checkCloudConfig(`write_files:\n  - path: /x\n    content: y\n    ${JSON.stringify(key)}: null\n`);
      expect(issues.map((i) => i.message).join(' | '), key).not.toMatch(/unknown key/u);
    }
    for (const key of documented.users) {
      const { issues } = checkCloudConfig(`users:\n  - name: dev\n    ${JSON.stringify(key)}: null\n`);
      expect(issues.map((i) => i.message).join(' | '), key).not.toMatch(/unknown key/u);
    }
  });
});

// red-team round after issue 17: what one user-data document may cost in memory is bounded
describe('user data budgets and caps', () => {
  const MIB = 1024 * 1024;
  // the limits as exported; read through the namespace so the tests load (and fail) on code without them
  const api = decodebudget as unknown as {
    DecodeBudget?: new (total?: number) => { readonly left: number; readonly total: number };
    boundedGunzip?: (data: Buffer, limit: number, budget: unknown) => { data: Buffer } | { reason: string };
  };
  const budgetOf = (total: number): unknown => {
    if (api.DecodeBudget === undefined) throw new Error('no DecodeBudget');
    return new api.DecodeBudget(total);
  };
  /** 16 MiB - 1 of one byte, gzipped: ~16 KiB of gzip, ~22 KiB of base64. */
  const bomb = gzipSync(Buffer.alloc(16 * MIB - 1, 0x41), { level: 9 }).toString('base64');
  const at = (issues: ReadonlyArray<{ message: string; line?: number | undefined }>, re: RegExp): Array<[number | undefined, string]> =>
    issues.filter((i) => re.test(i.message)).map((i) => [i.line, i.message]);

  it('write_files gz+b64 entries share one 64 MiB budget: the 5th and 6th 16 MiB bomb are skipped, each named at its line', () => {
    let cc = '#cloud-config\nwrite_files:\n';
    for (let i = 0; i < 6; i++) cc += `  - path: /root/b${i}\n    encoding: gz+b64\n    content: ${bomb}\n`;
    const checked = checkCloudConfig(cc);
    expect(checked.config?.writeFiles.map((f) => f.path)).toEqual(['/root/b0', '/root/b1', '/root/b2', '/root/b3']);
    const skipped = at(checked.issues, /budget/u);
    expect(skipped.map(([line]) => line)).toEqual([17, 20]);
    expect(skipped[0]?.[1]).toMatch(/^write_files\[4\]: gz\+b64 content skipped: .*64 MiB decompressed-bytes budget/u);
  });

  it('aliases to one bomb count each time they are used (30 aliases of a 16 MiB bomb: 4 decoded)', () => {
    let cc = `#cloud-config\nx: &b ${bomb}\nwrite_files:\n`;
    for (let i = 0; i < 30; i++) cc += `  - path: /root/a${i}\n    encoding: gz+b64\n    content: *b\n`;
    const checked = checkCloudConfig(cc);
    expect(checked.config?.writeFiles).toHaveLength(4);
    expect(at(checked.issues, /budget/u)).toHaveLength(26);
    // plain (text) content repeated by aliases takes from the budget too
    const big = 'A'.repeat(1024 * 1024);
    let plain = `#cloud-config\nx: &p ${big}\nwrite_files:\n`;
    for (let i = 0; i < 30; i++) plain += `  - path: /root/p${i}\n    content: *p\n`;
    const p = checkCloudConfig(plain, 0, budgetOf(5 * MIB) as never);
    expect(p.config?.writeFiles).toHaveLength(5);
    expect(at(p.issues, /budget/u)[0]).toEqual([15, expect.stringMatching(/^write_files\[5\]: content skipped: its 1 MiB would pass .* 5 MiB decompressed-bytes budget/u)]);
  });

  it('more alias uses than maxAliasCount (32) refuse the document, at the alias past the limit', () => {
    const cc = `#cloud-config\nk: &k [a, b]\nruncmd:\n${'  - *k\n'.repeat(33)}`;
    const checked = checkCloudConfig(cc);
    expect(checked.config).toBeUndefined();
    expect(checked.issues).toEqual([{ severity: 'error', message: expect.stringMatching(/aliases .* limit of 32/u) as unknown, line: 36, col: 5 }]);
    // 32 are fine
    expect(checkCloudConfig(`#cloud-config\nk: &k [a, b]\nruncmd:\n${'  - *k\n'.repeat(32)}`).config?.runcmd).toHaveLength(32);
  });

  it('gzip never inflates past what is left of the budget (zlib maxOutputLength), and takes nothing when refused', () => {
    if (api.boundedGunzip === undefined) throw new Error('no boundedGunzip');
    const budget = budgetOf(1000) as { left: number };
    const refused = api.boundedGunzip(gzipSync(Buffer.alloc(4096)), 16 * MIB, budget);
    expect(refused).toEqual({ reason: expect.stringMatching(/past what is left of the 1000 bytes decompressed-bytes budget/u) as unknown });
    expect(budget.left).toBe(1000);
    const ok = api.boundedGunzip(gzipSync(Buffer.alloc(600)), 16 * MIB, budget);
    expect('data' in ok && ok.data.length).toBe(600);
    expect(budget.left).toBe(400);
    expect(api.boundedGunzip(gzipSync(Buffer.alloc(600)), 16 * MIB, budget)).toEqual({ reason: expect.stringMatching(/budget/u) as unknown });
    // the file limit (16 MiB here, 100 bytes below) is said as such
    expect(api.boundedGunzip(gzipSync(Buffer.alloc(200)), 100, budgetOf(1000))).toEqual({ reason: 'it inflates to over 100 bytes' });
  });

  it('gzip layers and base64 MIME parts of user data take from the same budget', () => {
    const script = Buffer.concat([Buffer.from('#!/bin/sh\n'), Buffer.alloc(3 * MIB, 0x23)]);
    // two gzip layers: 3 MiB + the inner gzip
    const twice = parseUserData(gzipSync(gzipSync(script)), budgetOf(3 * MIB) as never);
    expect(twice.scripts).toEqual([]);
    expect(twice.issues).toEqual([expect.stringMatching(/^user-data: gzip data ignored: it would inflate past what is left of the 3 MiB decompressed-bytes budget/u)]);
    expect(parseUserData(gzipSync(gzipSync(script)), budgetOf(4 * MIB) as never).scripts).toHaveLength(1);
    const part = (n: number): string[] => ['--XYZ', 'Content-Type: text/x-shellscript', 'Content-Transfer-Encoding: base64', '', Buffer.from(`#!/bin/sh\necho ${n}\n${'#'.repeat(MIB)}`).toString('base64'), ''];
    const mime = ['Content-Type: multipart/mixed; boundary="XYZ"', 'MIME-Version: 1.0', '', ...part(1), ...part(2), ...part(3), '--XYZ--', ''].join('\n');
    const parts = parseUserData(Buffer.from(mime), budgetOf(2.5 * MIB) as never);
    expect(parts.scripts.map((s) => s.name)).toEqual(['user-data-part1', 'user-data-part2']);
    expect(parts.issues).toEqual([expect.stringMatching(/^MIME part 3: .*2\.5 MiB decompressed-bytes budget.*; ignored$/u)]);
  });

  it.each([
    ['runcmd', (n: number) => `runcmd:\n${'  - [echo, hi]\n'.repeat(n)}`, (c: cloudconfig.CloudConfig) => c.runcmd.length, 3],
    ['bootcmd', (n: number) => `bootcmd:\n${'  - echo hi\n'.repeat(n)}`, (c: cloudconfig.CloudConfig) => c.bootcmd.length, 3],
    ['write_files', (n: number) => `write_files:\n${Array.from({ length: n }, (_, i) => `  - {path: /f${i}, content: x}\n`).join('')}`, (c: cloudconfig.CloudConfig) => c.writeFiles.length, 3],
    ['users', (n: number) => `users:\n${Array.from({ length: n }, (_, i) => `  - u${i}\n`).join('')}`, (c: cloudconfig.CloudConfig) => c.users.length, 3],
    ['ssh_authorized_keys', (n: number) => `ssh_authorized_keys:\n${'  - ssh-ed25519 AAAA k\n'.repeat(n)}`, (c: cloudconfig.CloudConfig) => c.sshAuthorizedKeys.length, 3],
    ['users[0].ssh_authorized_keys', (n: number) => `users:\n  - name: alice\n    ssh_authorized_keys:\n${'      - ssh-ed25519 AAAA k\n'.repeat(n)}`, (c: cloudconfig.CloudConfig) => c.users[0]?.sshAuthorizedKeys.length ?? 0, 5],
    ['chpasswd.list', (n: number) => `chpasswd:\n  list:\n${Array.from({ length: n }, (_, i) => `    - u${i}:Correct-Horse-${i}\n`).join('')}`, (c: cloudconfig.CloudConfig) => c.chpasswd.length, 4],
  ])('%s: the first 1000 entries are taken, the rest reported with the key, the count and the line of the first left out', (key, yaml, count, firstLine) => {
    const checked = checkCloudConfig(`#cloud-config\n${yaml(1500)}`);
    expect(checked.config === undefined ? -1 : count(checked.config)).toBe(1000);
    expect(at(checked.issues, /limit/u)).toEqual([[firstLine + 1000, `${key}: 1500 entries, over the limit of 1000; the 500 after the first 1000 are ignored`]]);
    // 1000 is fine
    expect(at(checkCloudConfig(`#cloud-config\n${yaml(1000)}`).issues, /limit/u)).toEqual([]);
  });

  it('a list command of over 1000 words is skipped and said', () => {
    const checked = checkCloudConfig(`#cloud-config\nruncmd:\n  - [${Array(1001).fill('a').join(', ')}]\n  - [echo, ok]\n`);
    expect(checked.config?.runcmd).toEqual([['echo', 'ok']]);
    expect(at(checked.issues, /words/u)).toEqual([[3, 'runcmd[0]: a command of 1001 words, over the limit of 1000; skipped']]);
  });

  it('a cloud-config text over 2 MiB is refused before parsing, naming the limit', () => {
    const text = `#cloud-config\nwrite_files:\n  - path: /a\n    content: |\n${`      ${'A'.repeat(74)}\n`.repeat(27_000)}`;
    expect(text.length).toBeGreaterThan(2 * MIB);
    const checked = checkCloudConfig(text, 4);
    expect(checked.config).toBeUndefined();
    expect(checked.issues).toEqual([{ severity: 'error', message: expect.stringMatching(/^cloud-config of 2\.\d+ MiB is over the 2 MiB limit for one document; refused/u) as unknown, line: 5, col: 1 }]);
    // just under: parsed
    expect(checkCloudConfig(text.slice(0, 2 * MIB - 100)).config?.writeFiles).toHaveLength(1);
  });

  it('a document of more YAML tokens than 100 000 (1 MiB of "- [a]" lines) is refused before parsing', () => {
    const checked = checkCloudConfig(`#cloud-config\nruncmd:\n${'- [a]\n'.repeat(175_000)}`);
    expect(checked.config).toBeUndefined();
    expect(checked.issues).toEqual([{ severity: 'error', message: expect.stringMatching(/over 100000 YAML tokens/u) as unknown, line: 1, col: 1 }]);
    const parts = parseUserData(gzipSync(`#cloud-config\nruncmd:\n${'- [a]\n'.repeat(175_000)}`));
    expect(parts.cloudConfigs).toEqual([]);
    expect(parts.located).toEqual([{ severity: 'error', message: expect.stringMatching(/YAML tokens/u) as unknown, line: 1, col: 1 }]);
  });
});
