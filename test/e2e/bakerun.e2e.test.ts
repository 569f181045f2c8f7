// `vmctx bake --run/--install` on the debootstrap image of the e2e suite: a command runs in a
// chroot of the loop-mounted image with /proc, /sys, /dev and the host's resolv.conf; apt-get
// installs a real package; and after a normal run, a failing run and a killed run nothing is left
// mounted or attached, and the image's own resolv.conf is as it was.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { buildImage, readGuestFile } from './guest.js';

let work: string;
let image: string;
let resolvBefore: string | undefined;

function leftovers(): { loops: string; mounts: string } {
  return {
    loops: spawnSync('losetup', ['-j', image], { encoding: 'utf8' }).stdout.trim(),
    mounts: spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.split('\n').filter((t) => t.includes('vmctx-bake-mnt')).join('\n'),
  };
}

function bake(args: readonly string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BUNDLE, 'bake', image, '--in-place', '--no-sysprep', '--no-zero', '--bundle', BUNDLE, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stderr: r.stderr };
}

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-run-');
  image = await buildImage(work, { withAgent: false });
  resolvBefore = await readGuestFile(image, '/etc/resolv.conf');
}, 600_000);

describe('vmctx bake --run / --install (loop mount, chroot, clean up)', () => {
  it('runs a command with /proc, /sys, /dev and a borrowed resolv.conf; the image keeps its own; nothing left mounted', async () => {
    const host = await readFile('/etc/resolv.conf', 'utf8');
    const r = bake(['--run', 'test -r /proc/self/status && test -d /sys/class && test -c /dev/null && echo ok > /root/run-marker; cat /etc/resolv.conf > /root/resolv-seen']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/running in the image: test -r \/proc/u);
    expect(await readGuestFile(image, '/root/run-marker')).toBe('ok\n');
    expect(await readGuestFile(image, '/root/resolv-seen')).toBe(host);
    expect(await readGuestFile(image, '/etc/resolv.conf')).toBe(resolvBefore);
    // vmctx went in after the command
    expect(await readGuestFile(image, '/usr/sbin/vmctx')).toContain('vmctx launcher');
    expect(leftovers()).toEqual({ loops: '', mounts: '' });
  });

  it('--install puts a real package in with the image\'s apt-get (checked by reading the image), and cleans apt\'s cache', async () => {
    const r = bake(['--install', 'hello']);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect((await readGuestFile(image, '/var/lib/dpkg/status')) ?? '').toMatch(/^Package: hello\nStatus: install ok installed$/mu);
    expect(spawnSync('debugfs', ['-R', 'stat /usr/bin/hello', image], { encoding: 'utf8' }).stdout).toMatch(/Mode:\s+0755/u);
    expect(spawnSync('debugfs', ['-R', 'ls /var/cache/apt/archives', image], { encoding: 'utf8' }).stdout).not.toMatch(/hello_.*\.deb/u);
    expect(leftovers()).toEqual({ loops: '', mounts: '' });
  }, 600_000);

  it('a failing command exits 9 and leaves nothing; one that tries to unmount things too; a timeout kills it', async () => {
    const fail = bake(['--run', 'exit 3']);
    expect(fail.code).toBe(9);
    expect(fail.stderr).toMatch(/exited with 3/u);
    const rogue = bake(['--run', 'umount /proc; umount /dev; true']);
    expect(rogue.code, rogue.stderr).toBe(0);
    const slow = bake(['--run', 'sleep 60', '--run-timeout', '2']);
    expect(slow.code).toBe(9);
    expect(slow.stderr).toMatch(/did not finish in time/u);
    expect(leftovers()).toEqual({ loops: '', mounts: '' });
    expect(await readGuestFile(image, '/etc/resolv.conf')).toBe(resolvBefore);
  });

  it('vmctx killed (SIGKILL) in the middle of a command: the loop device and mounts go with it', async () => {
    const child = spawn(process.execPath, [BUNDLE, 'bake', image, '--in-place', '--no-sysprep', '--no-zero', '--bundle', BUNDLE, '--run', 'sleep 120'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('running in the image: sleep 120') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers().loops).not.toBe('');
    child.kill('SIGKILL');
    const gone = Date.now() + 20_000;
    while (leftovers().loops !== '' && Date.now() < gone) await new Promise((r) => setTimeout(r, 250));
    expect(leftovers()).toEqual({ loops: '', mounts: '' });
    expect(spawnSync('pgrep', ['-f', 'sleep 120'], { encoding: 'utf8' }).stdout.trim()).toBe('');
    expect(await readGuestFile(image, '/etc/resolv.conf')).toBe(resolvBefore);
  }, 120_000);

  it('an image attached to a loop device elsewhere (mounted by someone) is refused, unchanged', () => {
    const loop = spawnSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).stdout.trim();
    try {
      const before = spawnSync('sha256sum', [image], { encoding: 'utf8' }).stdout;
      const r = bake(['--run', 'true']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`attached to a loop device already \\(${loop}\\)`, 'u'));
      expect(spawnSync('sha256sum', [image], { encoding: 'utf8' }).stdout).toBe(before);
    } finally {
      spawnSync('losetup', ['-d', loop]);
    }
  });

  it("without root it says so and changes nothing", async () => {
    const before = spawnSync('sha256sum', [image], { encoding: 'utf8' }).stdout;
    // the unprivileged user runs a copy of the bundle (and of node, if it cannot reach ours) from
    // a world-readable directory: where the checkout lives (under a 0700 home?) must not matter
    const shelf = await tempDir('vmctx-e2e-nobody-');
    await chmod(shelf, 0o755);
    const bundle = join(shelf, 'vmctx.js');
    await copyFile(BUNDLE, bundle);
    await chmod(bundle, 0o644);
    let node = process.execPath;
    if (spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', node, '-e', '0']).status !== 0) {
      node = join(shelf, 'node');
      await copyFile(process.execPath, node);
      await chmod(node, 0o755);
    }
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', node, bundle, 'bake', image, '--in-place', '--bundle', bundle, '--run', 'true'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--run\/--install: it needs root .* Nothing was changed/u);
    expect(spawnSync('sha256sum', [image], { encoding: 'utf8' }).stdout).toBe(before);
  });
});
