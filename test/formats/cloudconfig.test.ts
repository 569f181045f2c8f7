import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { APPLIED_KEYS, UNSUPPORTED_KEYS, checkCloudConfig, parseCloudConfig, parseUserData } from '../../src/formats/cloudconfig.js';

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
    expect(cc?.users.map((u) => [u.name, u.sudo, u.shell ?? null, u.lockPasswd, u.passwdHash === hash])).toEqual([['dev', true, '/bin/bash', false, true], ['bad-shell', false, null, true, false]]);
    expect(cc?.chpasswd.map((p) => [p.user, p.kind])).toEqual([['dev', 'plain'], ['root', 'hash']]);
    expect(cc?.writeFiles.map((f) => [f.path, f.content.toString(), f.mode.toString(8), f.owner])).toEqual([['/etc/app.conf', 'hello', '640', 'dev:dev'], ['/etc/b64', 'hi', '644', 'root:root']]);
    expect(cc?.runcmd).toEqual(['echo a', ['ls', '-l']]);
    expect(cc?.bootcmd).toEqual(['echo boot']);
    expect(issues).toEqual([
      'unknown cloud-config key "frobnicate"; ignored',
      'users[2]: no valid name (lower-case letters, digits, _ and -); skipped',
      'users[3]: shell "bash; reboot" is not an absolute path; ignored',
      'chpasswd: a line is not "user:password"; skipped',
      'chpasswd: random passwords for ghost are not supported; skipped',
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
    expect(issues.map((i) => i.split(':')[0])).toEqual(['cloud-config is not YAML', 'cloud-config is not a mapping; ignored', 'cloud-config is not YAML', 'write_files[0]']);
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
    const { issues } = checkCloudConfig('#cloud-config\nssh_authorised_keys: [a]\npackages: [vim]\nssh_pwauth: true\nusers:\n  - name: dev\n    shel: /bin/sh\n    gecos: Dev\n    ssh-authorized-keys: [k]\n');
    expect(issues.map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual([
      '2:1 unknown cloud-config key "ssh_authorised_keys" (did you mean "ssh_authorized_keys"?); ignored',
      '3:1 cloud-config key "packages" is not supported by vmctx; ignored',
      '4:1 cloud-config key "ssh_pwauth" is not supported by vmctx; ignored',
      '7:5 users[0]: unknown key "shel" (did you mean "shell"?); ignored',
      '8:5 users[0]: key "gecos" is not supported by vmctx; ignored',
      '9:5 users[0]: key "ssh-authorized-keys" is not supported by vmctx (vmctx reads "ssh_authorized_keys"); ignored',
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

  it('#include and the other cloud-init user-data kinds are named as not supported', () => {
    expect(parseUserData(Buffer.from('#include\nhttp://127.0.0.1/x\n')).issues).toEqual(['user-data: #include user data is not supported by vmctx; ignored']);
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
