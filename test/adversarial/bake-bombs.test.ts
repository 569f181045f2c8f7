// A hostile image given to `vmctx bake`: a compression bomb (no image inside, or an image with a
// flood after it), an image bigger than the output's disk, a zip of several entries, and links
// that would let the cleaning steps take what vmctx installs. Real ext images (mke2fs -d), real
// gzip/zip streams, a real small tmpfs; e2fsck -fn after every bake that succeeds.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BUNDLE } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const MIB = 1024 * 1024;

function debugfs(image: string, command: string): string {
  return spawnSync('debugfs', ['-R', command, image], { encoding: 'utf8' }).stdout;
}

function e2fsck(image: string): number | null {
  return spawnSync('e2fsck', ['-fn', image], { encoding: 'utf8' }).status;
}

/** A small root (libc named for the Node check) as an ext3 image of `size`. */
async function image(size: string, extra?: (dir: string) => Promise<void>): Promise<{ dir: string; img: string }> {
  const root = await tempDir();
  for (const d of ['etc/ssh', 'home', 'root', 'tmp', 'var/tmp', 'var/log', 'usr/sbin', 'lib/x86_64-linux-gnu']) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(root, 'etc/ssh/sshd_config'), '');
  await writeFile(join(root, 'usr/sbin/sshd'), '');
  await writeFile(join(root, 'lib/x86_64-linux-gnu/libc.so.6'), 'GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n');
  await extra?.(root);
  const dir = await tempDir();
  const img = join(dir, 'disk.img');
  run('mke2fs', ['-F', '-q', '-t', 'ext3', '-d', root, img, size]);
  return { dir, img };
}

/** Writes `chunks` through gzip into `path` (a bomb is made without holding it in memory). */
async function gzipTo(path: string, chunks: () => Generator<Buffer>): Promise<void> {
  await pipeline(Readable.from(chunks()), createGzip({ level: 9 }), createWriteStream(path));
}

function* repeated(byte: number, total: number): Generator<Buffer> {
  const block = Buffer.alloc(4 * MIB, byte);
  for (let done = 0; done < total; done += block.length) yield block;
}

/** Bytes on disk of every file in `dir` but `except` (what bake wrote there so far). */
function allocatedIn(dir: string, except: readonly string[]): number {
  let sum = 0;
  for (const name of readdirSync(dir)) {
    if (except.includes(name)) continue;
    try {
      sum += statSync(join(dir, name)).blocks * 512;
    } catch {
      // removed between readdir and stat
    }
  }
  return sum;
}

/** Runs the CLI, sampling how much it has written into `watch` meanwhile. */
async function bakeWatched(args: readonly string[], watch: string, except: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; peak: number }> {
  const child = spawn(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, allocatedIn(watch, except));
  }, 5);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(timer);
  return { code, stdout, stderr, peak: Math.max(peak, allocatedIn(watch, except)) };
}

describe('bake: compression bombs (issue 17.5)', () => {
  for (const [what, byte] of [['repeated bytes', 0x41], ['zeros', 0]] as const) {
    it(`a .gz of 256 MiB of ${what} (no image inside) is refused from its first 64 KiB; almost nothing is written and no temporary file stays`, async () => {
      const dir = await tempDir();
      const bomb = join(dir, 'bomb.img.gz');
      await gzipTo(bomb, () => repeated(byte, 256 * MIB));
      expect(statSync(bomb).size).toBeLessThan(1 * MIB);
      const r = await bakeWatched(['bake', bomb, '--node', 'system', '--bundle', BUNDLE], dir, ['bomb.img.gz']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toBe('vmctx: ERR_IMAGE: not an ext2/3/4 image: no ext superblock at 1024 and no MBR/GPT partition table (in the first 64 KiB; nothing more was read)\n');
      expect(r.peak).toBeLessThanOrEqual(4 * MIB);
      expect(await readdir(dir)).toEqual(['bomb.img.gz']);
    });
  }

  it('the library stops reading the bomb after its first 64 KiB (the bytes it reports)', async () => {
    const { bake } = await import('../../src/image/bake.js');
    const dir = await tempDir();
    const bomb = join(dir, 'bomb.img.gz');
    await gzipTo(bomb, () => repeated(0x41, 64 * MIB));
    let most = 0;
    const progress = { step: (): void => undefined, bytes: (_l: string, done: number): void => { most = Math.max(most, done); } };
    await expect(bake({ input: bomb, inPlace: false, bundle: await readFile(BUNDLE), node: 'system', sysprep: false, skip: [], stamp: {}, zeroFree: false, dryRun: false, force: false, progress })).rejects.toMatchObject({ code: 'ERR_IMAGE' });
    expect(most).toBeLessThanOrEqual(64 * 1024);
    expect(await readdir(dir)).toEqual(['bomb.img.gz']);
  });

  it('an image followed by a flood in the same stream is cut at the size its file system declares; the output is that image, e2fsck clean', async () => {
    const { dir, img } = await image('16M');
    const fs = await readFile(img);
    const input = join(dir, 'flood.img.gz');
    await gzipTo(input, function* () {
      yield fs;
      yield* repeated(0x41, 256 * MIB);
    });
    const r = await bakeWatched(['bake', input, '--node', 'system', '--bundle', BUNDLE], dir, ['disk.img', 'flood.img.gz']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: the decompressed image goes on past its declared size \(16777216 bytes\); the rest was not read/u);
    expect(r.peak).toBeLessThan(40 * MIB);
    const out = gunzipSync(await readFile(join(dir, 'flood-vmctx.img.gz')));
    expect(out.length).toBe(16 * MIB);
    await writeFile(join(dir, 'out.img'), out);
    expect(e2fsck(join(dir, 'out.img'))).toBe(0);
    expect(debugfs(join(dir, 'out.img'), 'ls /usr/lib/vmctx')).toContain('vmctx.js');
  });

  it('an image that would fill the output\'s disk stops there: exit 4, the disk named, no temporary file named or left', async () => {
    const { dir, img } = await image('64M', async (root) => writeFile(join(root, 'random'), randomBytes(40 * MIB)));
    run('gzip', ['-1', img]);
    const small = await tempDir();
    run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', small]);
    try {
      const r = await bakeWatched(['bake', `${img}.gz`, '--node', 'system', '--bundle', BUNDLE, '-o', join(small, 'out.img.gz')], small, []);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(new RegExp(`^vmctx: ERR_IO: not enough free space in ${small} for the image \\(\\d+ MiB free\\)`, 'u'));
      expect(r.stderr).not.toMatch(/vmctx-\d+-|\.raw|ENOSPC/u);
      expect(await readdir(small)).toEqual([]);
    } finally {
      run('umount', [small]);
    }
    expect(await readdir(dir)).toEqual(['disk.img.gz']);
  });
});

describe('bake: the output disk fills while compressing (issue 16.8)', () => {
  it('ENOSPC is said plainly (exit 4, the directory named, no errno twice, no temporary file named or left)', async () => {
    const { dir, img } = await image('32M', async (root) => writeFile(join(root, 'random'), randomBytes(14 * MIB)));
    const small = await tempDir();
    run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', small]);
    try {
      // the raw copy fits (about 15 MiB of data); its gzip of incompressible bytes does not fit beside it
      const r = await bakeWatched(['bake', img, '--node', 'system', '--bundle', BUNDLE, '--compress', 'gz', '-o', join(small, 'out.img.gz')], small, []);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toBe(`vmctx: ERR_IO: no space left on the disk holding ${small}; nothing was written\n`);
      expect(await readdir(small)).toEqual([]);
    } finally {
      run('umount', [small]);
    }
    expect(await readdir(dir)).toEqual(['disk.img']);
  });
});

describe('bake: a zip of several entries (issue 17.6)', () => {
  it('is refused with the list of its entries; --zip-entry NAME bakes that one', async () => {
    const { dir, img } = await image('16M');
    await writeFile(join(dir, 'README'), 'read me\n');
    run('zip', ['-q', '-j', join(dir, 'two.zip'), img, join(dir, 'README')]);
    const r = spawnSync(process.execPath, [BUNDLE, 'bake', join(dir, 'two.zip'), '--node', 'system', '--bundle', BUNDLE], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('vmctx: ERR_USAGE: the zip holds 2 entries (disk.img, README); name the image with --zip-entry NAME\n');
    expect((await readdir(dir)).sort()).toEqual(['README', 'disk.img', 'two.zip']);
    const wrong = spawnSync(process.execPath, [BUNDLE, 'bake', join(dir, 'two.zip'), '--zip-entry', 'disk.im?', '--node', 'system', '--bundle', BUNDLE], { encoding: 'utf8' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/--zip-entry disk\.im\?: no such entry in the zip \(entries: disk\.img, README\)/u);
    const ok = spawnSync(process.execPath, [BUNDLE, 'bake', join(dir, 'two.zip'), '--zip-entry', 'disk.img', '--node', 'system', '--bundle', BUNDLE], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    run('unzip', ['-q', join(dir, 'two-vmctx.zip'), '-d', join(dir, 'x')]);
    const [inner] = await readdir(join(dir, 'x'));
    expect(statSync(join(dir, 'x', inner ?? '')).size).toBe(16 * MIB);
    expect(e2fsck(join(dir, 'x', inner ?? ''))).toBe(0);
  });
});

describe('bake: links the cleaning steps must not follow (issue 17.9)', () => {
  it('/etc/vmctx as a link into /tmp keeps the installed config (cleaning runs first) and bake warns; e2fsck clean', async () => {
    const { dir, img } = await image('32M', async (root) => {
      await mkdir(join(root, 'tmp/vmctx'));
      await symlink('/tmp/vmctx', join(root, 'etc/vmctx'));
    });
    const r = spawnSync(process.execPath, [BUNDLE, 'bake', img, '--node', 'system', '--bundle', BUNDLE], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: \/etc\/vmctx is a link to \/tmp\/vmctx, inside \/tmp, which is emptied at boot/u);
    const out = join(dir, 'disk-vmctx.img');
    expect(e2fsck(out)).toBe(0);
    expect(debugfs(out, 'cat /tmp/vmctx/config')).toContain('METADATA_BUDGET_MS');
  });

  it('/var/tmp as a link elsewhere in the image is not followed by the tmp step', async () => {
    const { dir, img } = await image('32M', async (root) => {
      await rm(join(root, 'var/tmp'), { recursive: true });
      await mkdir(join(root, 'srv/keep'), { recursive: true });
      await writeFile(join(root, 'srv/keep/precious'), 'keep me\n');
      await symlink('/srv/keep', join(root, 'var/tmp'));
    });
    const r = spawnSync(process.execPath, [BUNDLE, 'bake', img, '--node', 'system', '--bundle', BUNDLE], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = join(dir, 'disk-vmctx.img');
    expect(e2fsck(out)).toBe(0);
    expect(debugfs(out, 'cat /srv/keep/precious')).toBe('keep me\n');
  });
});
