import { execFileSync } from 'node:child_process';
import { chmod, chown, lchown, link, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryRoot, linkIsTrusted } from '../../src/host/root.js';
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

describe('DirectoryRoot: its own protected_symlinks / protected_hardlinks rule (issue 17 item 1)', () => {
  const SHADOW = 'root:$6$hash:1::::::\n';
  /** A scratch root with a sticky 1777 /tmp holding uid 1000's links to /etc/shadow and /etc. */
  async function shared(mode = 0o1777): Promise<{ host: string; root: DirectoryRoot }> {
    const s = await scratch();
    await mkdir(join(s.host, 'tmp'));
    await chmod(join(s.host, 'tmp'), mode);
    for (const [name, target] of [['f', '/etc/shadow'], ['d', '/etc']] as const) {
      await symlink(target, join(s.host, 'tmp', name));
      await lchown(join(s.host, 'tmp', name), 1000, 1000);
    }
    return s;
  }

  it('linkIsTrusted: any link where only root writes; only root\'s in a root-owned sticky world-writable directory; none elsewhere', () => {
    const me = { uid: 0, gid: 0 };
    const cases: [number, { uid: number; gid: number; mode: number }, boolean][] = [
      [1000, { uid: 0, gid: 0, mode: 0o755 }, true], // /etc: only root made it
      [0, { uid: 0, gid: 0, mode: 0o1777 }, true], // root's link in /tmp
      [1000, { uid: 0, gid: 0, mode: 0o1777 }, false], // the attack: a user's link in /tmp
      [0, { uid: 0, gid: 0, mode: 0o777 }, false], // non-sticky: anyone may have swapped even root's
      [1000, { uid: 0, gid: 0, mode: 0o777 }, false],
      [1000, { uid: 1000, gid: 1000, mode: 0o755 }, false], // a user's own directory
      [0, { uid: 1000, gid: 1000, mode: 0o755 }, false],
      [1000, { uid: 1000, gid: 1000, mode: 0o1777 }, false], // a user's sticky directory
      [0, { uid: 0, gid: 1000, mode: 0o775 }, false], // group-writable by a user group
      [1000, { uid: 0, gid: 0, mode: 0o775 }, true], // group-writable by root's group
    ];
    for (const [linkUid, dir, trusted] of cases) expect(linkIsTrusted({ uid: linkUid }, dir, me), `${linkUid} in ${JSON.stringify(dir)}`).toBe(trusted);
    // vmctx run by a developer on a --root demo: their own links count as root's
    expect(linkIsTrusted({ uid: 1001 }, { uid: 1001, gid: 1001, mode: 0o755 }, { uid: 1001, gid: 1001 })).toBe(true);
  });

  it('writeFile replaces a final link of another user in /tmp (atomically) instead of writing through it', async () => {
    const { host, root } = await shared();
    const result = await root.writeFile('/tmp/f', 'script\n', { mode: 0o755, owner: { uid: 1000, gid: 1000 } });
    expect(result).toEqual({ changed: true, replacedSymlink: true });
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe(SHADOW);
    const st = await lstat(join(host, 'tmp/f'));
    expect([st.isFile(), st.mode & 0o7777, st.uid]).toEqual([true, 0o755, 1000]);
    expect((await stat(join(host, 'etc/shadow'))).uid).toBe(0);
  });

  it('the same in a world-writable directory without the sticky bit, even for a link root owns', async () => {
    const { host, root } = await shared(0o777);
    await symlink('/etc/shadow', join(host, 'tmp/rootlink'));
    for (const p of ['/tmp/f', '/tmp/rootlink']) await root.writeFile(p, 'x\n', { mode: 0o644 });
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe(SHADOW);
  });

  it('every method refuses such a link as a directory, naming it', async () => {
    const { host, root } = await shared();
    const refused = { code: 'ERR_PATH_SYMLINK', message: expect.stringMatching(/\/tmp\/d: is a symlink owned by uid 1000 in a world-writable sticky directory/u) as unknown };
    await expect(root.writeFile('/tmp/d/shadow', 'x', { mode: 0o644 })).rejects.toMatchObject(refused);
    await expect(root.readText('/tmp/d/shadow')).rejects.toMatchObject(refused);
    await expect(root.lstat('/tmp/d/shadow')).rejects.toMatchObject(refused);
    await expect(root.readdir('/tmp/d')).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    await expect(root.ensureDir('/tmp/d/x', { mode: 0o755 })).rejects.toMatchObject(refused);
    await expect(root.remove('/tmp/d/shadow')).rejects.toMatchObject(refused);
    await expect(root.symlink('/x', '/tmp/d/shadow')).rejects.toMatchObject(refused);
    await expect(root.openAppend('/tmp/d/shadow', 0o600)).rejects.toMatchObject(refused);
    await expect(root.createExclusive('/tmp/d/lock', '1', 0o644)).rejects.toMatchObject(refused);
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe(SHADOW);
    expect((await readdir(join(host, 'etc'))).sort()).toEqual(['shadow']);
  });

  it('readFile does not read through a final untrusted link, nor a second hard link in a shared directory', async () => {
    const { host, root } = await shared();
    await expect(root.readText('/tmp/f')).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    await link(join(host, 'etc/shadow'), join(host, 'tmp/hard'));
    await expect(root.readText('/tmp/hard')).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringMatching(/2 hard links/u) as unknown });
    // root's own link in root's sticky /tmp is followed as before
    await symlink('/etc/shadow', join(host, 'tmp/mine'));
    expect(await root.readText('/tmp/mine')).toBe(SHADOW);
  });

  it('openAppend refuses a hard-linked file and a file another user owns', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'var/log'), { recursive: true });
    await link(join(host, 'etc/shadow'), join(host, 'var/log/vmctx.log'));
    await expect(root.openAppend('/var/log/vmctx.log', 0o600)).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringMatching(/2 hard links/u) as unknown });
    await writeFile(join(host, 'var/log/other.log'), '');
    await chown(join(host, 'var/log/other.log'), 1000, 1000);
    await expect(root.openAppend('/var/log/other.log', 0o600)).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringMatching(/owned by uid 1000/u) as unknown });
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe(SHADOW);
  });

  it('noFollow: a final link, even a trusted one, is replaced, not written through', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'run/vmctx'), { recursive: true });
    await symlink('/etc/shadow', join(host, 'run/vmctx/report.json'));
    expect((await root.writeFile('/run/vmctx/report.json', '{}\n', { mode: 0o644, noFollow: true })).replacedSymlink).toBe(true);
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe(SHADOW);
    expect((await lstat(join(host, 'run/vmctx/report.json'))).isFile()).toBe(true);
  });
});

/** A FIFO (mkfifo) owned by `uid`: an open without O_NONBLOCK would wait for the other end forever. */
function mkfifo(path: string, uid = 1000): void {
  execFileSync('mkfifo', ['-m', '0666', path]);
  execFileSync('chown', [`${uid}:${uid}`, path]);
}

describe('DirectoryRoot: FIFOs, sockets and devices are never opened (red-team: a planted FIFO hung the boot)', () => {
  it('readFile refuses a FIFO (ERR_UNSAFE_FILE "is a FIFO") at once, in and out of a user tree', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'home/alice/.ssh'), { recursive: true });
    await chown(join(host, 'home/alice'), 1000, 1000);
    await chown(join(host, 'home/alice/.ssh'), 1000, 1000);
    mkfifo(join(host, 'home/alice/.ssh/authorized_keys'));
    mkfifo(join(host, 'etc/fifo'), 0);
    await expect(root.readFile('/home/alice/.ssh/authorized_keys', { userTree: { base: '/home/alice', uid: 1000 } })).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
    await expect(root.readFile('/etc/fifo')).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
  });

  it('readFile refuses a socket and a device', async () => {
    const { host, root } = await scratch();
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => { server.listen(join(host, 'etc/sock'), resolve); });
    try {
      await expect(root.readFile('/etc/sock')).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a socket') as unknown });
    } finally {
      server.close();
    }
    execFileSync('mknod', ['-m', '0666', join(host, 'etc/null'), 'c', '1', '3']);
    await expect(root.readFile('/etc/null')).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a device') as unknown });
  });

  it('openAppend refuses a FIFO in a sticky /tmp and in a group-writable /var/log', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'tmp'));
    await chmod(join(host, 'tmp'), 0o1777);
    mkfifo(join(host, 'tmp/notes'));
    await mkdir(join(host, 'var/log'), { recursive: true });
    await chown(join(host, 'var/log'), 0, 104);
    await chmod(join(host, 'var/log'), 0o775);
    mkfifo(join(host, 'var/log/vmctx.log'), 104);
    await expect(root.openAppend('/tmp/notes', 0o600)).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
    await expect(root.openAppend('/var/log/vmctx.log', 0o600)).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
  });

  it('writeFile\'s same-content check (readAt) never opens a FIFO: the FIFO is replaced by the file', async () => {
    const { host, root } = await scratch();
    mkfifo(join(host, 'etc/motd'), 0);
    expect((await root.writeFile('/etc/motd', 'hi\n', { mode: 0o644 })).changed).toBe(true);
    expect((await lstat(join(host, 'etc/motd'))).isFile()).toBe(true);
    expect(await readFile(join(host, 'etc/motd'), 'utf8')).toBe('hi\n');
  });

  it('createExclusive on a FIFO: exists, not opened', async () => {
    const { host, root } = await scratch();
    mkfifo(join(host, 'etc/lock'), 0);
    expect(await root.createExclusive('/etc/lock', 'x', 0o600)).toBe(false);
  });
});

describe('DirectoryRoot: kernel path errors are bad paths, not I/O failures', () => {
  it('a 300-byte name, a file used as a directory: ERR_PATH_INVALID (or ERR_PATH_NOT_DIR), never a raw errno', async () => {
    const { host, root } = await scratch();
    const long = `/etc/${'a'.repeat(300)}`;
    await expect(root.writeFile(long, 'x', { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_PATH_INVALID', message: expect.stringContaining('too long') as unknown });
    await expect(root.readFile(long)).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
    await expect(root.ensureDir(long, { mode: 0o755 })).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
    await expect(root.lstat(long)).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
    await writeFile(join(host, 'etc/plain'), 'x');
    await expect(root.readdir('/etc/plain/x')).rejects.toMatchObject({ code: 'ERR_PATH_NOT_DIR' });
    await expect(root.writeFile('/etc/plain/x', 'y', { mode: 0o644 })).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_PATH_(INVALID|NOT_DIR)$/u) as unknown });
  });
});

describe('DirectoryRoot: no root file in a directory another user can swap (red-team: /tmp/provision squatted by uid 1000)', () => {
  async function withTmp(): Promise<{ host: string; root: DirectoryRoot }> {
    const s = await scratch();
    await mkdir(join(s.host, 'tmp'));
    await chmod(join(s.host, 'tmp'), 0o1777);
    return s;
  }

  it('refuses writeFile, ensureDir, symlink and createExclusive into /tmp/provision made by uid 1000, naming the owner', async () => {
    const { host, root } = await withTmp();
    await mkdir(join(host, 'tmp/provision'));
    await chown(join(host, 'tmp/provision'), 1000, 1000);
    const refused = { code: 'ERR_PATH_OWNER', message: expect.stringContaining('/tmp/provision: is owned by uid 1000, not root or the file\'s owner') as unknown };
    await expect(root.writeFile('/tmp/provision/setup.sh', '#!/bin/sh\n', { mode: 0o755 })).rejects.toMatchObject(refused);
    await expect(root.writeFile('/tmp/provision/setup.sh', '#!/bin/sh\n', { mode: 0o755, owner: { uid: 1001, gid: 1001 } })).rejects.toMatchObject(refused);
    await expect(root.ensureDir('/tmp/provision/sub', { mode: 0o755 })).rejects.toMatchObject(refused);
    await expect(root.symlink('/etc/shadow', '/tmp/provision/l')).rejects.toMatchObject(refused);
    await expect(root.createExclusive('/tmp/provision/lock', 'x', 0o600)).rejects.toMatchObject(refused);
    expect(await readdir(join(host, 'tmp/provision'))).toEqual([]);
  });

  it('refuses a root directory deeper in the chain below uid 1000\'s (she can rename it away)', async () => {
    const { host, root } = await withTmp();
    await mkdir(join(host, 'tmp/provision/sub'), { recursive: true });
    await chown(join(host, 'tmp/provision'), 1000, 1000);
    await expect(root.writeFile('/tmp/provision/sub/setup.sh', 'x', { mode: 0o755 })).rejects.toMatchObject({ code: 'ERR_PATH_OWNER' });
  });

  it('refuses an existing root directory in a world-writable directory without the sticky bit', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'srv/drop/sub'), { recursive: true });
    await chmod(join(host, 'srv/drop'), 0o777);
    await expect(root.writeFile('/srv/drop/sub/setup.sh', 'x', { mode: 0o755 })).rejects.toMatchObject({ code: 'ERR_PATH_OWNER', message: expect.stringContaining('without the sticky bit') as unknown });
  });

  it('legit: a root file in root-owned directories (also below sticky /tmp), an owner-bob file in bob\'s directory outside homes, alice\'s home as alice\'s tree', async () => {
    const { host, root } = await withTmp();
    expect((await root.writeFile('/tmp/provision/setup.sh', 'x', { mode: 0o755 })).changed).toBe(true);
    expect((await root.writeFile('/etc/app/conf', 'x', { mode: 0o644 })).changed).toBe(true);
    await mkdir(join(host, 'srv/bob'), { recursive: true });
    await chown(join(host, 'srv/bob'), 1001, 1001);
    expect((await root.writeFile('/srv/bob/app.conf', 'x', { mode: 0o644, owner: { uid: 1001, gid: 1001 } })).changed).toBe(true);
    expect(await root.ensureDir('/srv/bob/data', { mode: 0o750, owner: { uid: 1001, gid: 1001 } })).toBe(true);
    await mkdir(join(host, 'home/alice'), { recursive: true });
    await chown(join(host, 'home/alice'), 1000, 1000);
    const tree = { base: '/home/alice', uid: 1000 };
    expect((await root.writeFile('/home/alice/.profile', 'x', { mode: 0o644, owner: { uid: 1000, gid: 1000 }, userTree: tree })).changed).toBe(true);
    // a root-owned file in her home, written with her tree's rules (cloud-config owner: root)
    expect((await root.writeFile('/home/alice/motd', 'x', { mode: 0o644, userTree: tree })).changed).toBe(true);
    expect(await root.ensureDir('/home/alice/.ssh', { mode: 0o700, owner: { uid: 1000, gid: 1000 }, userTree: tree })).toBe(true);
    expect((await stat(join(host, 'srv/bob/app.conf'))).uid).toBe(1001);
  });
});

describe('reading a file\'s head', () => {
  it('head: only the first bytes, whatever the size (maxBytes plays no part); fewer from a shorter file; the link rules as for a whole read', async () => {
    const host = await tempDir();
    const root = new DirectoryRoot(host);
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    big.write('\x7fELF', 0, 'latin1');
    await writeFile(join(host, 'big'), big);
    await writeFile(join(host, 'small'), 'abc');
    expect(await root.readFile('/big', { head: 64, maxBytes: 1024 })).toEqual(big.subarray(0, 64));
    await expect(root.readFile('/big', { maxBytes: 1024 })).rejects.toThrow(/over the limit/u);
    expect((await root.readFile('/small', { head: 64 }))?.toString()).toBe('abc');
    expect(await root.readFile('/none', { head: 64 })).toBeUndefined();
    await symlink('/etc/passwd', join(host, 'out'));
    await symlink('/big', join(host, 'in'));
    expect(await root.readFile('/in', { head: 4 })).toEqual(Buffer.from('\x7fELF', 'latin1'));
    // a link out of the root is followed inside it (where there is no /etc/passwd), never to the host's
    expect(await root.readFile('/out', { head: 4 })).toBeUndefined();
  });
});
