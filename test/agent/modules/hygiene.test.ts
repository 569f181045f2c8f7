import { execFileSync } from 'node:child_process';
import { link, mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostKeysModule, timezoneModule } from '../../../src/agent/modules/hygiene.js';
import { runAgent } from '../../../src/agent/run.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger(undefined);
const target = (root: string) => ({ root: new DirectoryRoot(root), exec: new HostExec(), live: false });
const fingerprint = (root: string): string => execFileSync('ssh-keygen', ['-lf', join(root, 'etc/ssh/ssh_host_ed25519_key.pub')], { encoding: 'utf8' });

describe('ssh-host-keys module', () => {
  it('regenerates the image\'s host keys once per instance; a clone gets new ones', async () => {
    const root = await scratchRoot();
    execFileSync('ssh-keygen', ['-A', '-f', root]);
    const imageKey = fingerprint(root);
    const src = await tempDir();
    const run = async (vmid: string) => {
      await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: vmid }));
      return runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'local', dryRun: false, exec: new HostExec(), logger: log, console: new ConsoleLines(false), version: 'test', modules: [hostKeysModule] });
    };
    expect((await run('1')).modules[0]?.status).toBe('applied');
    const first = fingerprint(root);
    expect(first).not.toBe(imageKey);
    expect((await stat(join(root, 'etc/ssh/ssh_host_ed25519_key'))).mode & 0o777).toBe(0o600);
    expect((await run('1')).modules[0]?.status).toBe('skipped');
    expect(fingerprint(root)).toBe(first);
    await run('2');
    expect(fingerprint(root)).not.toBe(first);
  });

  it('does nothing without sshd, and refuses an /etc/ssh that is a symlink out of an offline root', async () => {
    const bare = await scratchRoot();
    await rm(join(bare, 'etc/ssh'), { recursive: true });
    expect((await hostKeysModule.apply(await contextOf({}), target(bare), log)).changed).toEqual([]);
    // a link to a host path resolves inside the root (no sshd_config there): nothing happens outside
    const root = await scratchRoot();
    const outside = await tempDir();
    await writeFile(join(outside, 'sshd_config'), '');
    await rm(join(root, 'etc/ssh'), { recursive: true });
    await symlink(outside, join(root, 'etc/ssh'));
    expect((await hostKeysModule.apply(await contextOf({}), target(root), log)).changed).toEqual([]);
    // a link that does lead to an sshd_config (inside the root) is refused: ssh-keygen -f would follow it on the host
    await rm(join(root, 'etc/ssh'));
    await mkdir(join(root, 'etc/ssh-real'));
    await writeFile(join(root, 'etc/ssh-real/sshd_config'), '');
    await symlink('ssh-real', join(root, 'etc/ssh'));
    await expect(hostKeysModule.apply(await contextOf({}), target(root), log)).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    expect(await readdir(join(root, 'etc/ssh-real'))).toEqual(['sshd_config']);
    expect(await readdir(outside)).toEqual(['sshd_config']);
  });
});

describe('ssh-host-keys from cloud-config (ssh_keys, ssh_deletekeys, ssh_genkeytypes)', () => {
  const keygen = (dir: string, name: string, args: string[]): { priv: string; pub: string } => {
    execFileSync('ssh-keygen', ['-q', '-N', '', '-C', 'given', '-f', join(dir, name), ...args]);
    return { priv: readFileSync(join(dir, name), 'utf8'), pub: readFileSync(join(dir, `${name}.pub`), 'utf8').trim() };
  };
  const indented = (text: string): string => `|\n${text.trim().split('\n').map((l) => `    ${l}`).join('\n')}`;
  const keysIn = async (root: string): Promise<string[]> => (await readdir(join(root, 'etc/ssh'))).filter((n) => n.startsWith('ssh_host_')).sort();
  const withUserData = (cloudConfig: string) => contextOf({ USER_DATA: `#cloud-config\n${cloudConfig}` });

  it("writes the given keys (0600 private, 0644 public, root's), makes a missing public key from its private key, adds the certificate, makes no other type; the image's keys go", async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/ssh/sshd_config'), 'PermitRootLogin prohibit-password\nMatch User backup\n  X11Forwarding no\n');
    execFileSync('ssh-keygen', ['-A', '-f', root]);
    const dir = await tempDir();
    const ed = keygen(dir, 'ed', ['-t', 'ed25519']);
    const rsa = keygen(dir, 'rsa', ['-t', 'rsa', '-b', '1024', '-m', 'PEM']);
    const cert = `ssh-ed25519-cert-v01@openssh.com ${Buffer.concat([Buffer.from([0, 0, 0, 32]), Buffer.from('ssh-ed25519-cert-v01@openssh.com'), Buffer.alloc(8)]).toString('base64')} host-cert`;
    const ctx = await withUserData(`ssh_keys:\n  ed25519_private: ${indented(ed.priv)}\n  ed25519_public: ${ed.pub}\n  ed25519_certificate: ${cert}\n  rsa_private: ${indented(rsa.priv)}\nssh_genkeytypes: [ecdsa]\n`);
    expect(ctx.warnings).toEqual([]);
    const out = await hostKeysModule.apply(ctx, target(root), log);
    expect(await keysIn(root)).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key-cert.pub', 'ssh_host_ed25519_key.pub', 'ssh_host_rsa_key', 'ssh_host_rsa_key.pub']);
    expect(out.warnings).toEqual(['ssh_genkeytypes: not used, ssh_keys gives the host keys (as in cloud-init)']);
    expect(await readFile(join(root, 'etc/ssh/ssh_host_ed25519_key'), 'utf8')).toBe(ed.priv);
    expect(await readFile(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).toBe(`${ed.pub}\n`);
    expect(await readFile(join(root, 'etc/ssh/ssh_host_ed25519_key-cert.pub'), 'utf8')).toBe(`${cert}\n`);
    // the public key made from the private one is the one ssh-keygen -y gives
    const derived = execFileSync('ssh-keygen', ['-y', '-f', join(root, 'etc/ssh/ssh_host_rsa_key')], { encoding: 'utf8' }).trim();
    expect(await readFile(join(root, 'etc/ssh/ssh_host_rsa_key.pub'), 'utf8')).toBe(`${derived.split(' ').slice(0, 2).join(' ')} root@localhost\n`);
    for (const [name, mode] of [['ssh_host_ed25519_key', 0o600], ['ssh_host_rsa_key', 0o600], ['ssh_host_ed25519_key.pub', 0o644], ['ssh_host_rsa_key.pub', 0o644], ['ssh_host_ed25519_key-cert.pub', 0o644]] as const) {
      const st = await stat(join(root, 'etc/ssh', name));
      expect([name, st.mode & 0o777, st.uid, st.gid]).toEqual([name, mode, 0, 0]);
    }
    // HostCertificate is global: its block goes before the first Match
    expect(await readFile(join(root, 'etc/ssh/sshd_config'), 'utf8')).toBe('PermitRootLogin prohibit-password\n# BEGIN vmctx host certificates managed block: changes inside are replaced\nHostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\n# END vmctx host certificates managed block\nMatch User backup\n  X11Forwarding no\n');
    // the private key is in no log line, warning or action of the outcome
    expect(JSON.stringify(out)).not.toContain(ed.priv.split('\n')[1] ?? '-');
  });

  it('a hard-linked sshd_config is not rewritten for HostCertificate (named); the keys are still written', async () => {
    const root = await scratchRoot();
    await rm(join(root, 'etc/ssh/sshd_config'));
    await link(join(root, 'etc/shadow'), join(root, 'etc/ssh/sshd_config'));
    const dir = await tempDir();
    const ed = keygen(dir, 'ed', ['-t', 'ed25519']);
    const cert = `ssh-ed25519-cert-v01@openssh.com ${Buffer.concat([Buffer.from([0, 0, 0, 32]), Buffer.from('ssh-ed25519-cert-v01@openssh.com'), Buffer.alloc(8)]).toString('base64')}`;
    const out = await hostKeysModule.apply(await withUserData(`ssh_keys:\n  ed25519_private: ${indented(ed.priv)}\n  ed25519_certificate: ${cert}\n`), target(root), log);
    expect(out.warnings).toEqual(['/etc/ssh/sshd_config has 2 hard links; HostCertificate for /etc/ssh/ssh_host_ed25519_key-cert.pub is not added (sshd does not offer the certificates)']);
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).not.toContain('HostCertificate');
    expect(await keysIn(root)).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key-cert.pub', 'ssh_host_ed25519_key.pub']);
  });

  it('ssh_deletekeys: false keeps the image\'s keys and makes only the missing types of ssh_genkeytypes', async () => {
    const root = await scratchRoot();
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-f', join(root, 'etc/ssh/ssh_host_ed25519_key')]);
    const image = fingerprint(root);
    const out = await hostKeysModule.apply(await withUserData('ssh_deletekeys: false\nssh_genkeytypes: [ed25519, ecdsa]\n'), target(root), log);
    expect(await keysIn(root)).toEqual(['ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    expect(fingerprint(root)).toBe(image);
    expect([out.changed, out.actions]).toEqual([['/etc/ssh/ssh_host_ecdsa_key', '/etc/ssh/ssh_host_ecdsa_key.pub'], ["ssh_deletekeys: false: the image's host keys are kept (2 files)"]]);
    expect((await stat(join(root, 'etc/ssh/ssh_host_ecdsa_key'))).mode & 0o777).toBe(0o600);
  });

  it('ssh_genkeytypes: [ed25519] (the image\'s keys deleted, the default): only that type is made', async () => {
    const root = await scratchRoot();
    execFileSync('ssh-keygen', ['-A', '-f', root]);
    const image = fingerprint(root);
    await hostKeysModule.apply(await withUserData('ssh_genkeytypes: [ed25519]\n'), target(root), log);
    expect(await keysIn(root)).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    expect(fingerprint(root)).not.toBe(image);
  });

  it('an ssh_keys whose every entry is refused makes the usual keys (never an sshd without host keys), the refusal named at its line', async () => {
    const root = await scratchRoot();
    const ctx = await withUserData('ssh_keys:\n  rsa_private: not-a-key\n');
    expect(ctx.warnings.map((w) => [w.line, w.message])).toEqual([[3, 'ssh_keys.rsa_private is not a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY----- … -----END … PRIVATE KEY-----); refused (the rsa host key is not written from ssh_keys)']]);
    await hostKeysModule.apply(ctx, target(root), log);
    expect(await keysIn(root)).toContain('ssh_host_ed25519_key');
  });
});

describe('timezone module', () => {
  async function zoneRoot(): Promise<string> {
    const root = await scratchRoot();
    await mkdir(join(root, 'usr/share/zoneinfo/Europe'), { recursive: true });
    await writeFile(join(root, 'usr/share/zoneinfo/Europe/Madrid'), 'TZif');
    await writeFile(join(root, 'etc/timezone'), 'Etc/UTC\n');
    await mkdir(join(root, 'etc/sysconfig'), { recursive: true });
    await writeFile(join(root, 'etc/sysconfig/clock'), 'ZONE="UTC"\nUTC=true\n');
    return root;
  }

  it('points /etc/localtime at the zone and updates /etc/timezone and the old RHEL clock file', async () => {
    const root = await zoneRoot();
    await timezoneModule.apply(await contextOf({ TIMEZONE: 'Europe/Madrid' }), target(root), log);
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Madrid');
    expect(await readFile(join(root, 'etc/timezone'), 'utf8')).toBe('Europe/Madrid\n');
    expect(await readFile(join(root, 'etc/sysconfig/clock'), 'utf8')).toBe('UTC=true\nZONE="Europe/Madrid"\n');
    expect((await timezoneModule.apply(await contextOf({ TIMEZONE: 'Europe/Madrid' }), target(root), log)).changed).toEqual([]);
  });

  it('cloud-config timezone (cloud-init example shape) wins over TIMEZONE, said so; alone it is applied too', async () => {
    const root = await zoneRoot();
    await mkdir(join(root, 'usr/share/zoneinfo/America'), { recursive: true });
    await writeFile(join(root, 'usr/share/zoneinfo/America/New_York'), 'TZif');
    const both = await contextOf({ TIMEZONE: 'Europe/Madrid', USER_DATA: '#cloud-config\ntimezone: America/New_York\n' });
    const out = await timezoneModule.apply(both, target(root), log);
    expect(out.warnings).toEqual(['cloud-config timezone America/New_York is used, not TIMEZONE "Europe/Madrid": the user data\'s zone wins, as in cloud-init']);
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/America/New_York');
    expect(await readFile(join(root, 'etc/timezone'), 'utf8')).toBe('America/New_York\n');
    const alone = await contextOf({ USER_DATA: '#cloud-config\ntimezone: Europe/Madrid\n' });
    expect(timezoneModule.isRelevant(alone)).toBe(true);
    await timezoneModule.apply(alone, target(root), log);
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Madrid');
  });

  it('a cloud-config zone that is not a name is named at its line and not used; one not installed is refused naming its source', async () => {
    const bad = await contextOf({ TIMEZONE: 'Europe/Madrid', USER_DATA: '#cloud-config\nruncmd: []\ntimezone: ../../etc/shadow\n' });
    expect(bad.warnings.map((w) => [w.line, w.message])).toEqual([[3, 'timezone: "../../etc/shadow" is not a zone name like Europe/Madrid; ignored']]);
    const root = await zoneRoot();
    await timezoneModule.apply(bad, target(root), log);
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Madrid');
    await expect(timezoneModule.apply(await contextOf({ USER_DATA: '#cloud-config\ntimezone: Europe/Atlantis\n' }), target(root), log)).rejects.toThrow('cloud-config timezone Europe/Atlantis: /usr/share/zoneinfo/Europe/Atlantis does not exist in this system');
  });

  it('refuses a zone that is not a name or not installed, changing nothing', async () => {
    const root = await zoneRoot();
    for (const zone of ['../../etc/shadow', 'Europe/Atlantis', 'a b']) {
      await expect(timezoneModule.apply(await contextOf({ TIMEZONE: zone }), target(root), log)).rejects.toMatchObject({ code: 'ERR_MODULE' });
    }
    expect(await readFile(join(root, 'etc/timezone'), 'utf8')).toBe('Etc/UTC\n');
  });
});
