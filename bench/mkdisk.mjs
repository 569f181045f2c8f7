// Benchmark: `vmctx mkdisk` on 1, 4 and 8 GiB ext4 file systems made with mke2fs holding a little
// data (a fake /boot kernel and initrd, some MiB of files): a raw MBR disk booting BIOS and UEFI.
// The disk is written sparsely, so the time should follow the data, not the file system's size.
// Not wired into bench/run.mjs here (the lead does that): `node -e "import('./bench/mkdisk.mjs').then(m => m.benchMkdisk())"`.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, sh, timed } from './stats.mjs';

const RUNS = Number(process.env.BENCH_MKDISK_RUNS ?? 3);
const SIZES = ['1G', '4G', '8G'];
const bundle = resolve('dist/vmctx.js');


async function makeTree(base) {
  const tree = join(base, 'tree');
  for (const d of ['boot', 'etc', 'usr/share/data']) await mkdir(join(tree, d), { recursive: true });
  await writeFile(join(tree, 'boot/vmlinuz-6.1.0-10-amd64'), randomBytes(8 * 1024 * 1024));
  await writeFile(join(tree, 'boot/initrd.img-6.1.0-10-amd64'), randomBytes(24 * 1024 * 1024));
  await writeFile(join(tree, 'etc/fstab'), '/dev/vda1 / ext4 errors=remount-ro 0 1\n');
  for (let i = 0; i < 16; i++) await writeFile(join(tree, `usr/share/data/f${i}`), randomBytes(4 * 1024 * 1024));
  return tree;
}

export async function benchMkdisk() {
  const base = await mkdtemp(join(tmpdir(), 'vmctx-bench-mkdisk-'));
  try {
    const tree = await makeTree(base);
    const sizes = {};
    for (const size of SIZES) {
      const img = join(base, `fs-${size}.ext4`);
      sh('mke2fs', ['-F', '-q', '-t', 'ext4', '-d', tree, img, size]);
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const out = join(base, `disk-${size}-${i}.raw`);
        runs.push(timed(process.execPath, [bundle, 'mkdisk', img, '-o', out, '-q']));
        await rm(out);
      }
      await rm(img);
      sizes[size] = { medianMs: median(runs), runs };
    }
    const result = { data: '96 MiB of files (a 8 MiB kernel, a 24 MiB initrd, 64 MiB more)', table: 'mbr', boot: 'both', runs: RUNS, sizes };
    console.log(`mkdisk: raw MBR disk, BIOS + UEFI, from an ext4 file system holding ${result.data} (median of ${RUNS})`);
    console.log(`  ${Object.entries(sizes).map(([s, v]) => `${s} ${v.medianMs.toFixed(0)} ms`).join(', ')}`);
    return result;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
