import { execFileSync } from 'node:child_process';
import { chmod, chown, link, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryRoot } from '../../src/host/root.js';
import { tempDir } from '../helpers/tmp.js';

async function scratch(): Promise<{ host: string; root: DirectoryRoot; outside: string }> {
  const base = await tempDir();
  const host = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(host, 'etc'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'host secret\n');
  await writeFile(join(host, 'etc', 'shadow'), 'root:$6$hash:1::::::\n', { mode: 0o640 });
  return { host, root: new DirectoryRoot(host), outside };
}

describe('DirectoryRoot: atomic, durable, idempotent writes', () => {
  it('regression (crash injection, trial 33): a temporary file left by a killed write is removed by the next write of that file, nothing else is', async () => {
    const { host, root } = await scratch();
    await writeFile(join(host, 'etc/.machine-id.vmctx-55fed2ddf635'), 'half');
    await symlink('/nowhere', join(host, 'etc/.machine-id.vmctx-0123456789ab'));
    await writeFile(join(host, 'etc/.machine-id.vmctx-notours'), 'keep');
    await writeFile(join(host, 'etc/.hostname.vmctx-aaaaaaaaaaaa'), 'other file: left for its own next write');
    await root.writeFile('/etc/machine-id', 'id\n', { mode: 0o444 });
    expect((await readdir(join(host, 'etc'))).sort()).toEqual(['.hostname.vmctx-aaaaaaaaaaaa', '.machine-id.vmctx-notours', 'machine-id', 'shadow']);
  });

  it('writes with the exact mode whatever the umask, and reports no change when identical', async () => {
    const { host, root } = await scratch();
    const old = process.umask(0o000);
    try {
      expect((await root.writeFile('/etc/new/deep/file', 'one\n', { mode: 0o600 })).changed).toBe(true);
    } finally {
      process.umask(old);
    }
    const st = await stat(join(host, 'etc/new/deep/file'));
    expect(st.mode & 0o777).toBe(0o600);
    expect((await stat(join(host, 'etc/new/deep'))).mode & 0o777).toBe(0o755);
    const before = st.mtimeMs;
    expect((await root.writeFile('/etc/new/deep/file', 'one\n', { mode: 0o600 })).changed).toBe(false);
    expect((await stat(join(host, 'etc/new/deep/file'))).mtimeMs).toBe(before);
    expect((await root.writeFile('/etc/new/deep/file', 'one\n', { mode: 0o644 })).changed).toBe(true);
    expect((await stat(join(host, 'etc/new/deep/file'))).mode & 0o777).toBe(0o644);
    // no temp files left behind
    expect((await readdir(join(host, 'etc/new/deep'))).filter((n) => n.includes('vmctx'))).toEqual([]);
  });

  it('replaces a hard-linked file without touching the other link', async () => {
    const { host, root } = await scratch();
    await link(join(host, 'etc/shadow'), join(host, 'etc/hosts'));
    await root.writeFile('/etc/hosts', '127.0.0.1 localhost\n', { mode: 0o644 });
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe('root:$6$hash:1::::::\n');
  });

  it('refuses to write into /proc, /sys and /dev of the root', async () => {
    const { root } = await scratch();
    for (const p of ['/proc/sys/kernel/hostname', '/sys/x', '/dev/sda']) {
      await expect(root.writeFile(p, 'x', { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_PATH_FORBIDDEN' });
    }
  });

  it('rejects relative and NUL paths', async () => {
    const { root } = await scratch();
    await expect(root.writeFile('etc/x', 'x', { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
    await expect(root.writeFile('/etc/x\0y', 'x', { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
  });
});

describe('DirectoryRoot: symlinks resolve inside the root, never on the host', () => {
  it('an absolute symlink to a host path is resolved relative to the root', async () => {
    const { host, root, outside } = await scratch();
    await symlink(outside, join(host, 'etc', 'link'));
    await root.writeFile('/etc/link/secret', 'inside\n', { mode: 0o644 });
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('host secret\n');
    expect(await readFile(join(host, outside.slice(1), 'secret'), 'utf8')).toBe('inside\n');
  });

  it('a relative symlink climbing with .. stops at the root', async () => {
    const { host, root, outside } = await scratch();
    await symlink('../../../../../../../../..' + outside, join(host, 'etc', 'up'));
    await root.writeFile('/etc/up/secret', 'inside\n', { mode: 0o644 });
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('host secret\n');
    expect(await root.readText('/etc/up/secret')).toBe('inside\n');
  });

  it('a final symlink out of the root is followed inside it for system files', async () => {
    const { host, root, outside } = await scratch();
    await symlink(join(outside, 'secret'), join(host, 'etc', 'resolv.conf'));
    expect(await root.readText('/etc/resolv.conf')).toBeUndefined();
    await root.writeFile('/etc/resolv.conf', 'nameserver 10.0.0.1\n', { mode: 0o644 });
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('host secret\n');
    expect((await lstat(join(host, 'etc', 'resolv.conf'))).isSymbolicLink()).toBe(true);
  });

  it('a symlink loop is an error, not a hang', async () => {
    const { host, root } = await scratch();
    await symlink('b', join(host, 'etc', 'a'));
    await symlink('a', join(host, 'etc', 'b'));
    await expect(root.writeFile('/etc/a/x', 'x', { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_PATH_LOOP' });
    await expect(root.readText('/etc/a')).rejects.toMatchObject({ code: 'ERR_PATH_LOOP' });
  });

  it('lstat reports a symlink and its target without following it', async () => {
    const { host, root } = await scratch();
    await symlink('../run/systemd/resolve/stub-resolv.conf', join(host, 'etc', 'resolv.conf'));
    expect(await root.lstat('/etc/resolv.conf')).toMatchObject({ type: 'symlink', linkTarget: '../run/systemd/resolve/stub-resolv.conf' });
    expect(await root.lstat('/etc/none')).toBeUndefined();
  });
});

describe('DirectoryRoot: user-owned trees refuse symlinks and foreign files', () => {
  const tree = { base: '/home/alice', uid: 1000 };
  async function home(): Promise<{ host: string; root: DirectoryRoot; outside: string }> {
    const s = await scratch();
    await mkdir(join(s.host, 'home/alice'), { recursive: true });
    await chown(join(s.host, 'home/alice'), 1000, 1000);
    return s;
  }

  it('creates ~/.ssh 0700 and the file 0600 owned by the user', async () => {
    const { host, root } = await home();
    const owner = { uid: 1000, gid: 1000 };
    await root.ensureDir('/home/alice/.ssh', { mode: 0o700, owner, userTree: tree });
    await root.writeFile('/home/alice/.ssh/authorized_keys', 'k\n', { mode: 0o600, owner, userTree: tree });
    const dir = await stat(join(host, 'home/alice/.ssh'));
    const file = await stat(join(host, 'home/alice/.ssh/authorized_keys'));
    expect([dir.mode & 0o777, dir.uid, file.mode & 0o777, file.uid, file.gid]).toEqual([0o700, 1000, 0o600, 1000, 1000]);
  });

  it('refuses ~/.ssh as a symlink to /etc', async () => {
    const { host, root } = await home();
    await symlink('/etc', join(host, 'home/alice/.ssh'));
    await expect(root.ensureDir('/home/alice/.ssh', { mode: 0o700, userTree: tree })).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    await expect(root.writeFile('/home/alice/.ssh/authorized_keys', 'x', { mode: 0o600, userTree: tree })).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    expect(await readdir(join(host, 'etc'))).toEqual(['shadow']);
  });

  it('does not read through an authorized_keys symlink to /etc/shadow, and replaces the link', async () => {
    const { host, root } = await home();
    await mkdir(join(host, 'home/alice/.ssh'));
    await symlink('/etc/shadow', join(host, 'home/alice/.ssh/authorized_keys'));
    await expect(root.readText('/home/alice/.ssh/authorized_keys', { userTree: tree })).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    const result = await root.writeFile('/home/alice/.ssh/authorized_keys', 'key\n', { mode: 0o600, userTree: tree });
    expect(result.replacedSymlink).toBe(true);
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe('root:$6$hash:1::::::\n');
    expect((await lstat(join(host, 'home/alice/.ssh/authorized_keys'))).isFile()).toBe(true);
  });

  it('refuses to read a hard link in a user tree', async () => {
    const { host, root } = await home();
    await mkdir(join(host, 'home/alice/.ssh'));
    await link(join(host, 'etc/shadow'), join(host, 'home/alice/.ssh/authorized_keys'));
    await expect(root.readText('/home/alice/.ssh/authorized_keys', { userTree: tree })).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE' });
  });

  it('refuses a directory owned by another user', async () => {
    const { host, root } = await home();
    await mkdir(join(host, 'home/alice/.ssh'));
    await chown(join(host, 'home/alice/.ssh'), 2000, 2000);
    await expect(root.writeFile('/home/alice/.ssh/authorized_keys', 'x', { mode: 0o600, userTree: tree })).rejects.toMatchObject({ code: 'ERR_PATH_OWNER' });
  });

  it('refuses a home that is itself a symlink', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'home'));
    await symlink('/', join(host, 'home/alice'));
    await expect(root.writeFile('/home/alice/.ssh/authorized_keys', 'x', { mode: 0o600, userTree: tree })).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
  });

  it('fixes a ~/.ssh left 0600 by old scripts', async () => {
    const { host, root } = await home();
    await mkdir(join(host, 'home/alice/.ssh'));
    await chmod(join(host, 'home/alice/.ssh'), 0o600);
    expect(await root.ensureDir('/home/alice/.ssh', { mode: 0o700, owner: { uid: 1000, gid: 1000 }, userTree: tree })).toBe(true);
    expect((await stat(join(host, 'home/alice/.ssh'))).mode & 0o777).toBe(0o700);
  });
});

describe('DirectoryRoot: logs', () => {
  it('opens a log 0600 even under umask 000, and refuses a symlinked log', async () => {
    const { host, root } = await scratch();
    const old = process.umask(0);
    try {
      const handle = await root.openAppend('/var/log/vmctx.log', 0o600);
      await handle.write('line\n');
      await handle.close();
    } finally {
      process.umask(old);
    }
    expect((await stat(join(host, 'var/log/vmctx.log'))).mode & 0o777).toBe(0o600);
    execFileSync('ln', ['-sf', '/etc/shadow', join(host, 'var/log/other.log')]);
    await expect(root.openAppend('/var/log/other.log', 0o600)).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe('root:$6$hash:1::::::\n');
  });
});
