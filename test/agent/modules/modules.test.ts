import { execFileSync } from 'node:child_process';
import { chown, lstat, mkdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dnsModule } from '../../../src/agent/modules/dns.js';
import { hostnameModule } from '../../../src/agent/modules/hostname.js';
import type { Module, Target } from '../../../src/agent/modules/module.js';
import { sshKeysModule } from '../../../src/agent/modules/sshkeys.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { fakeKey, scratchRoot } from '../../helpers/scratch.js';

const log = createLogger(undefined);

function target(root: string): Target {
  return { root: new DirectoryRoot(root), exec: new HostExec(), live: false };
}

async function apply(module: Module, root: string, variables: Record<string, string>, files: Record<string, string> = {}) {
  return module.apply(await contextOf(variables, files), target(root), log);
}

describe('ssh-keys module', () => {
  const k1 = fakeKey('ssh-ed25519', 'one');
  const k2 = fakeKey('ecdsa-sha2-nistp256', 'two');

  it('writes a managed block, 0700/0600 even under umask 000, and changes nothing on a second run', async () => {
    const root = await scratchRoot();
    const old = process.umask(0);
    try {
      const first = await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: `${k1}\n${k2}\n` });
      expect(first.changed).toEqual(['/root/.ssh', '/root/.ssh/authorized_keys']);
    } finally {
      process.umask(old);
    }
    const file = join(root, 'root/.ssh/authorized_keys');
    const text = await readFile(file, 'utf8');
    expect(text).toContain(k1);
    expect(text).toContain(k2);
    expect((await stat(join(root, 'root/.ssh'))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const second = await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: `${k1}\n${k2}\n` });
    expect(second.changed).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('keeps the user\'s own lines, revokes keys removed from the context, never duplicates', async () => {
    const root = await scratchRoot();
    const mine = fakeKey('ssh-ed25519', 'added-by-user');
    await mkdir(join(root, 'root/.ssh'), { mode: 0o700 });
    await writeFile(join(root, 'root/.ssh/authorized_keys'), `# my keys\n${mine}\n`, { mode: 0o600 });
    await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k1, SSH_KEY: k1, EC2_PUBLIC_KEY: k2 });
    let text = await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8');
    expect(text.split(k1)).toHaveLength(2);
    expect(text.startsWith(`# my keys\n${mine}\n`)).toBe(true);
    await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k2 });
    text = await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8');
    expect(text).not.toContain(k1);
    expect(text).toContain(k2);
    await apply(sshKeysModule, root, {});
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toBe(`# my keys\n${mine}\n`);
  });

  it('a hand-edited file whose block lost its END line: refused, naming the file and line, and left byte for byte', async () => {
    const root = await scratchRoot();
    await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k1 });
    const file = join(root, 'root/.ssh/authorized_keys');
    const mine = fakeKey('ssh-ed25519', 'added-after-the-block');
    const broken = `${(await readFile(file, 'utf8')).split('\n').filter((l) => !l.includes('END vmctx')).join('\n')}${mine}\n`;
    await writeFile(file, broken, { mode: 0o600 });
    await expect(apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k2 })).rejects.toThrow(/\/root\/\.ssh\/authorized_keys line 1: .* has no .*END vmctx managed block" line after it/u);
    expect(await readFile(file, 'utf8')).toBe(broken);
  });

  it('creates nothing when there are no keys and no block', async () => {
    const root = await scratchRoot();
    const outcome = await apply(sshKeysModule, root, {});
    expect(outcome.changed).toEqual([]);
    await expect(stat(join(root, 'root/.ssh'))).rejects.toThrow();
  });

  it('puts the keys of an existing USERNAME into that user\'s home, owned by the user', async () => {
    const root = await scratchRoot();
    await apply(sshKeysModule, root, { USERNAME: 'alice', SSH_PUBLIC_KEY: k1 });
    const st = await stat(join(root, 'home/alice/.ssh/authorized_keys'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 1000, 0o600]);
    expect((await stat(join(root, 'home/alice/.ssh'))).uid).toBe(1000);
  });

  it('uses the StratusLab variables and key files named on the medium, skipping bad lines with a warning', async () => {
    const root = await scratchRoot();
    const ctx = await contextOf({ PUBLIC_KEY: `${k1}\nnot a key`, ROOT_PUBKEY: 'root.pub', USER_PUBKEY: '../../etc/shadow' }, { 'root.pub': `${k2}\n` });
    expect(ctx.sshKeys.keys).toHaveLength(2);
    expect(ctx.warnings.map((w) => w.variable)).toEqual(['PUBLIC_KEY', 'USER_PUBKEY']);
    await sshKeysModule.apply(ctx, target(root), log);
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toContain(k2);
  });

  it('rejects garbage keys: wrong type, bad base64, mismatched blob, control characters', async () => {
    const good = fakeKey();
    const mismatched = `ssh-rsa ${good.split(' ')[1] ?? ''} x`;
    const ctx = await contextOf({ SSH_PUBLIC_KEY: ['ssh-foo AAAA', 'ssh-ed25519 !!!!', mismatched, `${good}\u0000`, 'command="evil" ssh-ed25519', good].join('\n') });
    expect(ctx.sshKeys.keys).toEqual([good]);
    expect(ctx.warnings).toHaveLength(5);
  });

  it('accepts a key with options', async () => {
    const key = `from="10.0.0.0/8",no-pty ${fakeKey()}`;
    expect((await contextOf({ SSH_PUBLIC_KEY: key })).sshKeys.keys).toEqual([key]);
  });

  it('refuses ~/.ssh as a symlink to /etc and writes nothing through it', async () => {
    const root = await scratchRoot();
    await symlink('/etc', join(root, 'root/.ssh'));
    await expect(apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k1 })).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    await expect(stat(join(root, 'etc/authorized_keys'))).rejects.toThrow();
    expect(await readlink(join(root, 'root/.ssh'))).toBe('/etc');
  });

  it('replaces an authorized_keys symlink to /etc/shadow without reading or touching shadow', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/shadow'), 'root:$6$secret:19000::::::\n', { mode: 0o640 });
    await mkdir(join(root, 'home/alice/.ssh'));
    await chown(join(root, 'home/alice/.ssh'), 1000, 1000);
    await symlink('/etc/shadow', join(root, 'home/alice/.ssh/authorized_keys'));
    const outcome = await apply(sshKeysModule, root, { USERNAME: 'alice', SSH_PUBLIC_KEY: k1 });
    expect(outcome.warnings.join()).toMatch(/was a symlink/);
    const text = await readFile(join(root, 'home/alice/.ssh/authorized_keys'), 'utf8');
    expect(text).not.toContain('$6$secret');
    expect((await lstat(join(root, 'home/alice/.ssh/authorized_keys'))).isFile()).toBe(true);
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe('root:$6$secret:19000::::::\n');
  });

  it('owns a whole file under authorized_keys.d when sshd reads one (via Include), and deletes it when keys go', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/ssh/sshd_config.d'));
    await writeFile(join(root, 'etc/ssh/sshd_config.d/50-keys.conf'), 'AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys.d/vmctx\n');
    await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k1 });
    const dropIn = join(root, 'root/.ssh/authorized_keys.d/vmctx');
    expect(await readFile(dropIn, 'utf8')).toContain(k1);
    await expect(stat(join(root, 'root/.ssh/authorized_keys'))).rejects.toThrow();
    await apply(sshKeysModule, root, {});
    await expect(stat(dropIn)).rejects.toThrow();
  });

  it('a home that is a root-made link (/home/alice -> /data/alice) gets the keys, as alice\'s, like write_files resolves it', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'data/alice'), { recursive: true });
    await chown(join(root, 'data/alice'), 1000, 1000);
    await rm(join(root, 'home/alice'), { recursive: true });
    await symlink('/data/alice', join(root, 'home/alice'));
    const outcome = await apply(sshKeysModule, root, { USERNAME: 'alice', SSH_PUBLIC_KEY: k1 });
    expect(outcome.warnings).toEqual([]);
    expect(await readFile(join(root, 'data/alice/.ssh/authorized_keys'), 'utf8')).toContain(k1);
    expect((await stat(join(root, 'data/alice/.ssh/authorized_keys'))).uid).toBe(1000);
  });

  it('a passwd home spelled "/home/alice/" (trailing slash): keys in /home/alice/.ssh, no "sshd reads no key file" warning', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice/:/bin/bash\n');
    const outcome = await apply(sshKeysModule, root, { USERNAME: 'alice', SSH_PUBLIC_KEY: k1 });
    expect(outcome.warnings).toEqual([]);
    expect(outcome.changed).toContain('/home/alice/.ssh/authorized_keys');
    expect(await readFile(join(root, 'home/alice/.ssh/authorized_keys'), 'utf8')).toContain(k1);
  });

  it('~alice/.ssh/authorized_keys a FIFO: refused at once as "is a FIFO", never opened', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'home/alice/.ssh'));
    await chown(join(root, 'home/alice/.ssh'), 1000, 1000);
    execFileSync('mkfifo', ['-m', '0666', join(root, 'home/alice/.ssh/authorized_keys')]);
    await expect(apply(sshKeysModule, root, { USERNAME: 'alice', SSH_PUBLIC_KEY: k1 })).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
  }, 5000);

  it('ignores AuthorizedKeysFile inside a Match block', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/ssh/sshd_config'), 'Match User bob\n  AuthorizedKeysFile /etc/keys/%u\n');
    await apply(sshKeysModule, root, { SSH_PUBLIC_KEY: k1 });
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toContain(k1);
  });
});

describe('hostname module', () => {
  it("writes /etc/hostname and a managed /etc/hosts line in place of the image's 127.0.1.1 line, replaced rather than appended", async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n# my entry\n10.1.1.1\tdb\n');
    await apply(hostnameModule, root, { SET_HOSTNAME: 'web-1.example.com', HOSTNAME: 'ignored' });
    await apply(hostnameModule, root, { SET_HOSTNAME: 'web-2.example.com' });
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('web-2.example.com\n');
    const hosts = await readFile(join(root, 'etc/hosts'), 'utf8');
    expect(hosts).toBe(
      '127.0.0.1\tlocalhost\n# BEGIN vmctx managed block: changes inside are replaced\n127.0.1.1\tweb-2.example.com web-2\n# END vmctx managed block\n# my entry\n10.1.1.1\tdb\n',
    );
    expect((await apply(hostnameModule, root, { SET_HOSTNAME: 'web-2.example.com' })).changed).toEqual([]);
  });

  it('sanitises hostile names: newlines, $(reboot), shell metacharacters, over-long labels', async () => {
    expect((await contextOf({ SET_HOSTNAME: 'evil\nhost' })).hostname).toBe('evil-host');
    expect((await contextOf({ SET_HOSTNAME: '$(reboot)' })).hostname).toBe('reboot');
    expect((await contextOf({ SET_HOSTNAME: 'a;b|c&d' })).hostname).toBe('a-b-c-d');
    expect((await contextOf({ SET_HOSTNAME: `${'x'.repeat(80)}.example.com` })).hostname).toBe(`${'x'.repeat(63)}.example.com`);
    expect((await contextOf({ SET_HOSTNAME: '$()`;' })).hostname).toBeUndefined();
    expect((await contextOf({ HOSTNAME: 'old-style' })).hostname).toBe('old-style');
    const root = await scratchRoot();
    await apply(hostnameModule, root, { SET_HOSTNAME: 'evil\n10.0.0.1 bank.example.com' });
    expect(await readFile(join(root, 'etc/hosts'), 'utf8')).not.toMatch(/^10\.0\.0\.1/mu);
  });

  it('updates HOSTNAME= in the old RHEL /etc/sysconfig/network', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/sysconfig'));
    await writeFile(join(root, 'etc/sysconfig/network'), 'NETWORKING=yes\nHOSTNAME=localhost.localdomain\n');
    await apply(hostnameModule, root, { SET_HOSTNAME: 'node7' });
    expect(await readFile(join(root, 'etc/sysconfig/network'), 'utf8')).toBe('NETWORKING=yes\nHOSTNAME=node7\n');
  });

  it("live: sets the running name only when the Target's machine has another one (no D-Bus yet: hostname, not hostnamectl)", async () => {
    const root = await scratchRoot();
    const calls: string[] = [];
    const live = (current: string): Target => ({
      root: new DirectoryRoot(root),
      live: true,
      machine: { hostname: () => current, readHead: () => Promise.resolve(undefined) },
      exec: {
        which: (name) => Promise.resolve(`/usr/bin/${name}`),
        run: (file, args) => {
          calls.push([file, ...args].join(' '));
          return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
        },
      },
    });
    const same = await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'node7' }), live('node7'), log);
    expect([same.actions, calls]).toEqual([[], []]);
    const other = await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'node7' }), live('localhost'), log);
    expect([other.actions, calls]).toEqual([['hostname node7'], ['/usr/bin/hostname node7']]);
  });
});

describe('dns module', () => {
  const vars = { DNS: '10.0.0.2 10.0.0.3', ETH0_DNS: '10.0.0.3 2001:db8::53', ETH1_DNS: 'not-an-ip', SEARCH_DOMAIN: 'example.com', ETH0_SEARCH_DOMAIN: 'corp.example.com example.com' };

  it('normalises: de-duplicated in order, invalid entries skipped with a warning, no public resolvers added', async () => {
    const ctx = await contextOf(vars);
    expect(ctx.dns).toEqual({ nameservers: ['10.0.0.2', '10.0.0.3', '2001:db8::53'], search: ['example.com', 'corp.example.com'] });
    expect(ctx.warnings.map((w) => w.variable)).toEqual(['ETH1_DNS']);
  });

  it('rewrites a plain resolv.conf atomically, keeping its options line', async () => {
    const root = await scratchRoot();
    await apply(dnsModule, root, vars);
    const text = await readFile(join(root, 'etc/resolv.conf'), 'utf8');
    expect(text).toBe('# Generated by vmctx from the VM context; changes are replaced at the next contextualization.\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 2001:db8::53\nsearch example.com corp.example.com\noptions edns0\n');
    expect(text).not.toMatch(/8\.8\.8\.8|1\.1\.1\.1|192\.0\.2\.53/u);
    expect((await apply(dnsModule, root, vars)).changed).toEqual([]);
  });

  it('leaves the systemd-resolved stub symlink in place and writes a drop-in', async () => {
    const root = await scratchRoot({ resolvConf: 'none' });
    await symlink('../run/systemd/resolve/stub-resolv.conf', join(root, 'etc/resolv.conf'));
    const outcome = await apply(dnsModule, root, vars);
    expect(outcome.changed).toEqual(['/etc/systemd/resolved.conf.d/90-vmctx.conf']);
    expect(await readlink(join(root, 'etc/resolv.conf'))).toBe('../run/systemd/resolve/stub-resolv.conf');
    expect(await readFile(join(root, 'etc/systemd/resolved.conf.d/90-vmctx.conf'), 'utf8')).toContain('DNS=10.0.0.2 10.0.0.3 2001:db8::53\nDomains=example.com corp.example.com\n');
  });

  it('feeds resolvconf through its base file', async () => {
    const root = await scratchRoot({ resolvConf: 'none' });
    await mkdir(join(root, 'etc/resolvconf/resolv.conf.d'), { recursive: true });
    await writeFile(join(root, 'etc/resolvconf/resolv.conf.d/base'), 'options rotate\n');
    await symlink('/run/resolvconf/resolv.conf', join(root, 'etc/resolv.conf'));
    await apply(dnsModule, root, { DNS: '10.0.0.2' });
    expect(await readFile(join(root, 'etc/resolvconf/resolv.conf.d/base'), 'utf8')).toBe('options rotate\n# BEGIN vmctx managed block: changes inside are replaced\nnameserver 10.0.0.2\n# END vmctx managed block\n');
  });

  it('gives NetworkManager a global-dns drop-in when it generates resolv.conf', async () => {
    const root = await scratchRoot({ resolvConf: 'none' });
    await mkdir(join(root, 'etc/NetworkManager'));
    await writeFile(join(root, 'etc/resolv.conf'), '# Generated by NetworkManager\nnameserver 192.0.2.1\n');
    await apply(dnsModule, root, vars);
    const text = await readFile(join(root, 'etc/NetworkManager/conf.d/90-vmctx-dns.conf'), 'utf8');
    expect(text).toContain('servers=10.0.0.2,10.0.0.3,2001:db8::53');
    expect(text).toContain('searches=example.com,corp.example.com');
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).toBe('# Generated by NetworkManager\nnameserver 192.0.2.1\n');
  });

  it('keeps only three nameservers (the resolver limit) with a warning', async () => {
    const root = await scratchRoot();
    const outcome = await apply(dnsModule, root, { DNS: '10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4' });
    expect(outcome.warnings.join()).toMatch(/first 3/);
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).not.toContain('10.0.0.4');
  });

  it('never lets a value inject extra resolver lines', async () => {
    const root = await scratchRoot();
    await apply(dnsModule, root, { DNS: '10.0.0.2\noptions ndots:15', SEARCH_DOMAIN: 'a.com\nnameserver 6.6.6.6' });
    const lines = (await readFile(join(root, 'etc/resolv.conf'), 'utf8')).split('\n');
    expect(lines.filter((l) => /^(options|nameserver 6\.6\.6\.6)/u.test(l))).toEqual(['options edns0']);
    expect(lines).toContain('nameserver 10.0.0.2');
    expect(lines.join('\n')).not.toContain('6.6.6.6');
  });
});
