// vmctx sparsecopy through the built CLI on files made here: byte-for-byte equal copies (cmp),
// allocated blocks (stat), stdin and compressed input, GPT and MBR disks made with sgdisk and
// sfdisk grown onto larger targets (checked with sgdisk -v / sfdisk -V), and the refusals. The
// "8 GiB with 100 MiB of data" case counts bytes read and written (no clock): the timing is in
// bench/sparsecopy.mjs.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';
import { crc32, planTable } from '../../src/image/gpt.js';
import { sparsecopy } from '../../src/image/sparsecopy.js';
import { isVmctxError } from '../../src/shared/errors.js';

const MiB = 1024 * 1024;

interface Report {
  holeMethod: string;
  destKind: string;
  holesVerified: number;
  zerosWritten: number;
  compression: string;
  sourceBytes: number;
  destBytes: number;
  dataBytes: number;
  holeBytes: number;
  holesUnread: number;
  bytesRead: number;
  bytesWritten: number;
  table?: { scheme: string; actions: string[] };
}

function copy(args: readonly string[], input?: Buffer): { code: number | null; stdout: string; stderr: string; report?: Report } {
  const r = spawnSync(process.execPath, [BUNDLE, 'sparsecopy', ...args, '--json'], { input, encoding: 'utf8', maxBuffer: 64 * MiB });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ...(r.status === 0 ? { report: JSON.parse(r.stdout) as Report } : {}) };
}

const cmp = (a: string, b: string): number | null => spawnSync('cmp', [a, b]).status;
const allocated = async (p: string): Promise<number> => (await stat(p)).blocks * 512;
const exists = async (p: string): Promise<boolean> => (await stat(p).catch(() => undefined)) !== undefined;

/** A sparse file of `size` bytes with `pieces` [offset, length] of random data (4 KiB aligned or not). */
async function sparseFile(path: string, size: number, pieces: ReadonlyArray<readonly [number, number]>): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    for (const [off, len] of pieces) await fh.write(randomBytes(len), 0, len, off);
  } finally {
    await fh.close();
  }
}

/** The size field of the protective MBR's 0xEE entry. */
async function protectiveSectors(img: string): Promise<number> {
  const mbr = (await readFile(img)).subarray(0, 512);
  expect(mbr[446 + 4]).toBe(0xee);
  return mbr.readUInt32LE(446 + 12);
}

/** A disk with a GPT (sgdisk) and two partitions holding data. */
async function gptDisk(dir: string, size = '64M'): Promise<string> {
  const img = join(dir, 'gpt.img');
  run('truncate', ['-s', size, img]);
  run('sgdisk', ['-n', '1:2048:+20M', '-t', '1:8300', '-c', '1:root', '-n', '2:0:+30M', '-t', '2:8300', '-c', '2:data', img]);
  const fh = await open(img, 'r+');
  await fh.write(randomBytes(MiB), 0, MiB, 2 * MiB);
  await fh.write(randomBytes(MiB), 0, MiB, 40 * MiB);
  await fh.close();
  expect(run('sgdisk', ['-v', img]).toString()).toContain('No problems found');
  return img;
}

describe('crc32 and the partition table plan', () => {
  it('crc32 is the IEEE CRC-32 GPT uses', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it('no table: no plan; a bare MBR signature with no partition: none either', () => {
    expect(planTable(Buffer.alloc(4096), false)).toBeUndefined();
    const mbr = Buffer.alloc(4096);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    expect(planTable(mbr, false)).toBeUndefined();
  });

  it('a FAT file system (0x55AA, boot code where the entries would be) is not taken for an MBR', async () => {
    const dir = await tempDir();
    const fat = join(dir, 'fat.img');
    run('truncate', ['-s', '16M', fat]);
    run('mkfs.vfat', [fat]);
    const head = (await readFile(fat)).subarray(0, 1024 * 1024);
    expect(head[510]).toBe(0x55);
    expect(planTable(head, false)).toBeUndefined();
    const r = copy([fat, join(dir, 'out.img'), '-f', '32M', '--grow-last']);
    expect(r.stderr).toMatch(/ERR_SPARSECOPY_GROW: --grow-last: the source has no partition table/u);
  });
});

describe('vmctx sparsecopy: files', () => {
  it('a sparse file: equal byte for byte, no more blocks than the source (plus a little), hole bytes never read', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src.img');
    await sparseFile(src, 64 * MiB, [[0, 5000], [10 * MiB + 123, 3 * MiB], [63 * MiB, MiB]]);
    const r = copy([src, join(dir, 'dst.img')]);
    expect(r.code, r.stderr).toBe(0);
    expect(cmp(src, join(dir, 'dst.img'))).toBe(0);
    expect((await stat(join(dir, 'dst.img'))).size).toBe(64 * MiB);
    expect(await allocated(join(dir, 'dst.img'))).toBeLessThanOrEqual((await allocated(src)) + 64 * 1024);
    const rep = r.report as Report;
    expect(rep.holeMethod).toBe('extent-map');
    // what was read is the data's extents: a few blocks more than the data, never the holes
    expect(rep.bytesRead).toBeLessThanOrEqual(await allocated(src));
    expect(rep.holesUnread).toBeGreaterThanOrEqual(64 * MiB - (await allocated(src)));
    expect(rep.dataBytes + rep.holeBytes).toBe(64 * MiB);
    expect(rep.bytesWritten).toBe(rep.dataBytes);
  });

  it('a sparse file whose size is not a whole number of blocks, data in its last partial block', async () => {
    const dir = await tempDir();
    const src = join(dir, 'odd.img');
    await sparseFile(src, 20 * MiB + 123, [[20 * MiB - 877, 1000], [4096 * 3 + 5, 10]]);
    const r = copy([src, join(dir, 'odd-copy.img')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.report?.holeMethod).toBe('extent-map');
    expect(r.report?.bytesRead).toBe(2 * 4096 + 123);
    expect(cmp(src, join(dir, 'odd-copy.img'))).toBe(0);
    expect((await stat(join(dir, 'odd-copy.img'))).size).toBe(20 * MiB + 123);
  });

  it('zero runs inside written data become holes too (block-aligned detection), with or without the extent map', async () => {
    const dir = await tempDir();
    const src = join(dir, 'dense.img');
    // fully allocated: data, 8 MiB of written zeros, data
    await writeFile(src, Buffer.concat([randomBytes(MiB), Buffer.alloc(8 * MiB), randomBytes(MiB + 100)]));
    for (const extra of [[], ['--no-extent-map']]) {
      const dst = join(dir, `dst${extra.length}.img`);
      const r = copy([src, dst, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expect(cmp(src, dst)).toBe(0);
      expect(await allocated(dst)).toBeLessThanOrEqual(2 * MiB + 8192 + 64 * 1024);
      expect(r.report?.holeBytes).toBe(8 * MiB);
      expect(r.report?.bytesRead).toBe(10 * MiB + 100);
    }
  });

  it('8 GiB holding 100 MiB: only the 100 MiB is read and written (the timing is in the bench)', async () => {
    const dir = await tempDir();
    const src = join(dir, 'big.img');
    await sparseFile(src, 8 * 1024 * MiB, Array.from({ length: 10 }, (_, i) => [i * 800 * MiB, 10 * MiB] as const));
    const r = copy([src, join(dir, 'big-copy.img')]);
    expect(r.code, r.stderr).toBe(0);
    const rep = r.report as Report;
    expect(rep.sourceBytes).toBe(8 * 1024 * MiB);
    expect(rep.bytesRead).toBe(100 * MiB);
    expect(rep.bytesWritten).toBe(100 * MiB);
    expect(rep.holesUnread).toBe(8 * 1024 * MiB - 100 * MiB);
    expect(await allocated(join(dir, 'big-copy.img'))).toBeLessThanOrEqual(100 * MiB + 64 * 1024);
    // cmp reads 16 GiB (holes as zeros): about 70 s alone, more on a loaded machine
    expect(cmp(src, join(dir, 'big-copy.img'))).toBe(0);
  }, 300_000);

  it('an existing destination file is replaced (a new file renamed over it: no old blocks stay allocated)', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src.img');
    await sparseFile(src, 16 * MiB, [[MiB, MiB]]);
    const dst = join(dir, 'dst.img');
    await writeFile(dst, randomBytes(20 * MiB));
    expect(copy([src, dst]).code).toBe(0);
    expect(cmp(src, dst)).toBe(0);
    expect(await allocated(dst)).toBeLessThanOrEqual(MiB + 64 * 1024);
  });
});

describe('vmctx sparsecopy: streams and compressed input', () => {
  it('stdin (-): equal and sparse', async () => {
    const dir = await tempDir();
    const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(6 * MiB), randomBytes(MiB)]);
    await writeFile(join(dir, 'src.img'), data);
    const r = copy(['-', join(dir, 'dst.img')], data);
    expect(r.code, r.stderr).toBe(0);
    expect(cmp(join(dir, 'src.img'), join(dir, 'dst.img'))).toBe(0);
    expect(r.report?.compression).toBe('raw');
    expect(await allocated(join(dir, 'dst.img'))).toBeLessThanOrEqual(300_000 + MiB + 3 * 4096 + 64 * 1024);
  });

  it('gz, bz2, xz and zip sources (and gz on stdin) decompress into a sparse copy equal to the raw disk', async () => {
    const dir = await tempDir();
    const raw = join(dir, 'disk.img');
    await sparseFile(raw, 24 * MiB, [[0, 70_000], [12 * MiB, MiB]]);
    run('gzip', ['-k', raw]);
    run('bzip2', ['-k', raw]);
    run('xz', ['-k', '-0', raw]);
    run('zip', ['-q', '-j', join(dir, 'disk.zip'), raw]);
    for (const [file, kind] of [['disk.img.gz', 'gz'], ['disk.img.bz2', 'bz2'], ['disk.img.xz', 'xz'], ['disk.zip', 'zip']] as const) {
      const dst = join(dir, `out-${kind}.img`);
      const r = copy([join(dir, file), dst]);
      expect(r.code, `${kind}: ${r.stderr}`).toBe(0);
      expect(r.report?.compression).toBe(kind);
      expect(cmp(raw, dst), kind).toBe(0);
      expect(await allocated(dst), kind).toBeLessThanOrEqual((await allocated(raw)) + 64 * 1024);
    }
    const r = copy(['-', join(dir, 'stdin-gz.img')], await readFile(join(dir, 'disk.img.gz')));
    expect(r.code, r.stderr).toBe(0);
    expect(r.report?.compression).toBe('gz');
    expect(cmp(raw, join(dir, 'stdin-gz.img'))).toBe(0);
  });
});

describe('vmctx sparsecopy: partition tables', () => {
  it('a GPT disk copied to a larger target with -f passes sgdisk -v; --grow-last grows the last partition', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    const big = join(dir, 'big.img');
    const r = copy([img, big, '-f', '128M']);
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(big)).size).toBe(128 * MiB);
    const verify = run('sgdisk', ['-v', big]).toString();
    expect(verify).toContain('No problems found');
    expect(r.report?.table?.actions.join('\n')).toMatch(/backup header moved from LBA 131071 to 262143/u);
    // past the primary header and entries (which changed), the partitions' contents are the source's
    expect(spawnSync('cmp', ['-i', String(34 * 512), '-n', String(60 * MiB), img, big]).status).toBe(0);
    expect(spawnSync('cmp', ['-n', String(34 * 512), img, big]).status).toBe(1);
    expect(run('sgdisk', ['-i', '2', big]).toString()).toMatch(/Last sector: 104447 /u);
    // the protective MBR covers the new disk
    expect(await protectiveSectors(big)).toBe(128 * 2048 - 1);

    const grown = join(dir, 'grown.img');
    const g = copy([img, grown, '-f', '128M', '--grow-last']);
    expect(g.code, g.stderr).toBe(0);
    expect(run('sgdisk', ['-v', grown]).toString()).toContain('No problems found');
    // ends on the last 1 MiB boundary before the backup entries (262110 is the last usable sector)
    const info = run('sgdisk', ['-i', '2', grown]).toString();
    expect(info).toMatch(/First sector: 43008 /u);
    expect(info).toMatch(/Last sector: 260095 /u);
    expect(info).toContain("Partition name: 'data'");
    expect(run('sgdisk', ['-i', '1', grown]).toString()).toMatch(/Last sector: 43007 /u);
  });

  it('a same-size copy of a GPT disk is byte for byte the source', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    expect(copy([img, join(dir, 'same.img')]).code).toBe(0);
    expect(cmp(img, join(dir, 'same.img'))).toBe(0);
  });

  it('a gzipped GPT disk streams to a larger target with its backup moved at the end', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    run('gzip', ['-k', img]);
    const r = copy([`${img}.gz`, join(dir, 'big.img'), '-f', '96M', '--grow-last']);
    expect(r.code, r.stderr).toBe(0);
    expect(run('sgdisk', ['-v', join(dir, 'big.img')]).toString()).toContain('No problems found');
    expect(await protectiveSectors(join(dir, 'big.img'))).toBe(96 * 2048 - 1);
    expect(run('sgdisk', ['-i', '2', join(dir, 'big.img')]).toString()).toMatch(/Last sector: 194559 /u);
  });

  it('an MBR disk just gets the size; --grow-last grows the last primary partition (sfdisk -V clean)', async () => {
    const dir = await tempDir();
    const img = join(dir, 'mbr.img');
    run('truncate', ['-s', '64M', img]);
    run('sfdisk', ['-q', img], { input: 'label: dos\n,20M,83\n,30M,83\n' });
    const plain = copy([img, join(dir, 'plain.img'), '-f', '100M']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(run('sfdisk', ['-d', join(dir, 'plain.img')]).toString()).toMatch(/plain\.img2 : start=\s+43008, size=\s+61440, type=83/u);
    const r = copy([img, join(dir, 'grown.img'), '-f', '100M', '--grow-last']);
    expect(r.code, r.stderr).toBe(0);
    const dump = run('sfdisk', ['-d', join(dir, 'grown.img')]).toString();
    expect(dump).toMatch(/grown\.img1 : start=\s+2048, size=\s+40960, type=83/u);
    expect(dump).toMatch(/grown\.img2 : start=\s+43008, size=\s+161792, type=83/u);
    expect(spawnSync('sfdisk', ['-V', join(dir, 'grown.img')]).status).toBe(0);
  });
});

describe('vmctx sparsecopy: refusals', () => {
  it('-f smaller than the source: ERR_SPARSECOPY_TOO_SMALL, nothing created', async () => {
    const dir = await tempDir();
    await sparseFile(join(dir, 'src.img'), 8 * MiB, [[0, 4096]]);
    const r = copy([join(dir, 'src.img'), join(dir, 'dst.img'), '-f', '4M']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_SPARSECOPY_TOO_SMALL/u);
    expect(await exists(join(dir, 'dst.img'))).toBe(false);
  });

  it('a stream larger than -f: stopped, and the destination it created removed', async () => {
    const dir = await tempDir();
    const r = copy(['-', join(dir, 'dst.img'), '-f', '1M'], randomBytes(3 * MiB));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_SPARSECOPY_TOO_SMALL/u);
    expect(await exists(join(dir, 'dst.img'))).toBe(false);
  });

  it('the destination is the source (itself, a hard link or a symbolic link to it): ERR_SPARSECOPY_SAME_FILE, untouched', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src.img');
    await sparseFile(src, 4 * MiB, [[0, 9000]]);
    const before = await readFile(src);
    await link(src, join(dir, 'alias.img'));
    await symlink(src, join(dir, 'symlink.img'));
    for (const dst of [src, join(dir, 'alias.img'), join(dir, 'symlink.img')]) {
      const r = copy([src, dst]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/ERR_SPARSECOPY_SAME_FILE/u);
    }
    expect((await readFile(src)).equals(before)).toBe(true);
  });

  it('standard input redirected from the destination file (- DST < DST): ERR_SPARSECOPY_SAME_FILE, the file untouched', async () => {
    const dir = await tempDir();
    const a = join(dir, 'a.img');
    const before = randomBytes(3 * MiB);
    await writeFile(a, before);
    for (const dst of [a, join(dir, 'alias.img')]) {
      if (dst !== a) await link(a, dst);
      const fd = openSync(a, 'r');
      try {
        const r = spawnSync(process.execPath, [BUNDLE, 'sparsecopy', '-', dst], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(4);
        expect(r.stderr).toMatch(/ERR_SPARSECOPY_SAME_FILE: standard input and .* are the same file: nothing was written/u);
      } finally {
        closeSync(fd);
      }
      expect((await readFile(a)).equals(before)).toBe(true);
    }
  });

  it('an existing destination file keeps its content when the copy fails (stream over -f), and no temporary is left', async () => {
    const dir = await tempDir();
    const keep = join(dir, 'keep.img');
    const before = randomBytes(2 * MiB);
    await writeFile(keep, before);
    const r = copy(['-f', '4M', '-', keep], randomBytes(8 * MiB));
    expect((await readFile(keep)).equals(before)).toBe(true);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_SPARSECOPY_TOO_SMALL: .*the copy was stopped; .*keep\.img was left as it was/u);
    expect(await readdir(dir)).toEqual(['keep.img']);
  });

  it('a replaced destination file keeps its permission bits; the copy lands through a symbolic link, the link kept', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src.img');
    await sparseFile(src, 8 * MiB, [[MiB, 5000]]);
    const dst = join(dir, 'dst.img');
    await writeFile(dst, randomBytes(MiB));
    await chmod(dst, 0o600);
    expect(copy([src, dst]).code).toBe(0);
    expect(cmp(src, dst)).toBe(0);
    expect((await stat(dst)).mode & 0o7777).toBe(0o600);
    await symlink(dst, join(dir, 'via.img'));
    const again = join(dir, 'src2.img');
    await sparseFile(again, 4 * MiB, [[0, 100]]);
    expect(copy([again, join(dir, 'via.img')]).code).toBe(0);
    expect(cmp(again, dst)).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['dst.img', 'src.img', 'src2.img', 'via.img']);
  });

  it('a source that shrinks during the copy: ERR_SPARSECOPY_INPUT, not a short copy called complete; the destination as it was', async () => {
    const dir = await tempDir();
    const src = join(dir, 'shrinks.img');
    // fully allocated and read by position: the file is cut after the first chunk is read
    await writeFile(src, randomBytes(12 * MiB));
    const dst = join(dir, 'dst.img');
    const before = randomBytes(MiB);
    await writeFile(dst, before);
    let cut = false;
    const progress = {
      step: (): void => undefined,
      bytes: (): void => {
        if (cut) return;
        cut = true;
        execFileSync('truncate', ['-s', String(5 * MiB), src]);
      },
    };
    const error: unknown = await sparsecopy({ source: src, dest: dst, progress }).catch((e: unknown) => e);
    expect(cut).toBe(true);
    expect(isVmctxError(error, 'ERR_SPARSECOPY_INPUT'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/the source shrank while it was copied \(it ends at byte 5242880, 12582912 were there at the start\) — .*dst\.img was left as it was/u);
    expect((await readFile(dst)).equals(before)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['dst.img', 'shrinks.img']);
  });

  it('a GPT whose entries fail their CRC is not moved: ERR_SPARSECOPY_GPT_CRC, the destination removed', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    // a byte of partition 1's name changed, the CRCs left as they were
    const fh = await open(img, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 1024 + 56);
    await fh.close();
    const r = copy([img, join(dir, 'big.img'), '-f', '128M']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_SPARSECOPY_GPT_CRC: .*partition entries' CRC32/u);
    expect(await exists(join(dir, 'big.img'))).toBe(false);
  });

  it('--grow-last without a partition table, or with an extended partition last: ERR_SPARSECOPY_GROW', async () => {
    const dir = await tempDir();
    await sparseFile(join(dir, 'plain.img'), 4 * MiB, [[0, 100]]);
    const r = copy([join(dir, 'plain.img'), join(dir, 'dst.img'), '-f', '8M', '--grow-last']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_SPARSECOPY_GROW: --grow-last: the source has no partition table/u);
    const ext = join(dir, 'ext.img');
    run('truncate', ['-s', '64M', ext]);
    run('sfdisk', ['-q', ext], { input: 'label: dos\n,20M,83\n,,5\n,10M,83\n' });
    const e = copy([ext, join(dir, 'dst2.img'), '-f', '100M', '--grow-last']);
    expect(e.code).toBe(4);
    expect(e.stderr).toMatch(/ERR_SPARSECOPY_GROW: .*extended partition 2/u);
    expect(await exists(join(dir, 'dst2.img'))).toBe(false);
  });

  it('usage: a missing source, stdout as the destination, a bad size', () => {
    expect(vmctx(['sparsecopy', '/nonexistent/x.img', '/tmp/y.img']).stderr).toMatch(/ERR_USAGE: \/nonexistent\/x\.img: no such file/u);
    expect(vmctx(['sparsecopy', BUNDLE, '-']).stderr).toMatch(/ERR_USAGE: the destination cannot be standard output/u);
    expect(vmctx(['sparsecopy', BUNDLE, '/tmp/y.img', '-f', '12X']).code).toBe(2);
  });
});

describe('vmctx sparsecopy: block devices (loop devices)', () => {
  const attached: string[] = [];
  afterEach(() => {
    for (const dev of attached.splice(0)) execFileSync('losetup', ['-d', dev]);
  });
  const loop = async (dir: string, name: string, bytes: number, fill: number): Promise<{ dev: string; file: string }> => {
    const file = join(dir, name);
    await writeFile(file, Buffer.alloc(bytes, fill));
    const dev = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
    attached.push(dev);
    return { dev, file };
  };

  it('onto a larger device holding old data: zero blocks written only where it does not read zero; GPT moved to its end, sgdisk -v clean', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    const { dev } = await loop(dir, 'dev.raw', 96 * MiB, 0xaa);
    const r = copy([img, dev, '--grow-last']);
    expect(r.code, r.stderr).toBe(0);
    const rep = r.report as Report;
    expect(rep.destKind).toBe('block device');
    expect(rep.destBytes).toBe(96 * MiB);
    // the device read 0xaa everywhere: every hole block was checked and zeroed
    expect(rep.holesVerified).toBe(rep.holeBytes);
    expect(rep.zerosWritten).toBe(rep.holeBytes);
    expect(spawnSync('cmp', ['-i', String(34 * 512), '-n', String(60 * MiB), img, dev]).status).toBe(0);
    expect(run('sgdisk', ['-v', dev]).toString()).toContain('No problems found');
    expect(run('sgdisk', ['-i', '2', dev]).toString()).toMatch(/Last sector: 194559 /u);
    // again: the holes read zero now, nothing but data and the table is written
    const again = copy([img, dev, '--grow-last']);
    expect(again.report?.zerosWritten).toBe(0);
    expect(again.report?.holesVerified).toBe(again.report?.holeBytes);
  });

  it('from a device: its size from sysfs, every byte read and compared; the same device as both ends, or a smaller one, is refused untouched', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    const { dev } = await loop(dir, 'dev.raw', 64 * MiB, 0);
    expect(copy([img, dev]).code).toBe(0);
    const out = join(dir, 'from-dev.img');
    const r = copy([dev, out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.report?.holeMethod).toBe('zero-detect');
    expect(r.report?.bytesRead).toBe(64 * MiB);
    expect(cmp(img, out)).toBe(0);
    const same = copy([dev, dev]);
    expect(same.code).toBe(4);
    expect(same.stderr).toMatch(/ERR_SPARSECOPY_SAME_FILE/u);
    const small = await loop(dir, 'small.raw', 32 * MiB, 0xaa);
    const s = copy([img, small.dev]);
    expect(s.code).toBe(4);
    expect(s.stderr).toMatch(/ERR_SPARSECOPY_TOO_SMALL: .* is smaller than/u);
    expect((await readFile(small.file)).equals(Buffer.alloc(32 * MiB, 0xaa))).toBe(true);
  });
  it('a mounted device is not written: ERR_SPARSECOPY_BUSY (exclusive open), its file system intact', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    const { dev, file } = await loop(dir, 'mounted.raw', 96 * MiB, 0);
    run('mkfs.ext4', ['-q', '-F', dev]);
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    execFileSync('mount', [dev, mnt]);
    try {
      const r = copy([img, dev]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/ERR_SPARSECOPY_BUSY: .* the device is in use \(mounted, or held by another program\) — nothing was written/u);
    } finally {
      execFileSync('umount', [mnt]);
    }
    expect(spawnSync('e2fsck', ['-fn', dev]).status).toBe(0);
    // no GPT header was written at LBA 1
    expect((await readFile(file)).subarray(512, 520).toString('latin1')).not.toBe('EFI PART');
  });

  it('a loop device reading the source file as the destination, or reading the destination as the source: ERR_SPARSECOPY_SAME_FILE', async () => {
    const dir = await tempDir();
    const img = await gptDisk(dir);
    const before = await readFile(img);
    const dev = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
    attached.push(dev);
    const onto = copy([img, dev]);
    expect(onto.code).toBe(4);
    expect(onto.stderr).toMatch(/ERR_SPARSECOPY_SAME_FILE: .* is a loop device reading .*gpt\.img/u);
    const from = copy([dev, img]);
    expect(from.code).toBe(4);
    expect(from.stderr).toMatch(/ERR_SPARSECOPY_SAME_FILE: .* is a loop device reading .*gpt\.img/u);
    const fd = openSync(img, 'r');
    try {
      const r = spawnSync(process.execPath, [BUNDLE, 'sparsecopy', '-', dev], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
      expect(r.status).toBe(4);
      expect(r.stderr).toMatch(/ERR_SPARSECOPY_SAME_FILE: .* is a loop device reading standard input/u);
    } finally {
      closeSync(fd);
    }
    expect((await readFile(img)).equals(before)).toBe(true);
  });
});
