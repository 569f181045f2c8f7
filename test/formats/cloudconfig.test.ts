import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCloudConfig, parseUserData } from '../../src/formats/cloudconfig.js';

const hash = '$6$saltsalt$0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij';

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
