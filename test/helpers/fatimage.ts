// FAT images made by the real tools (mkfs.vfat from dosfstools, mcopy/mmd from mtools), as
// cloud-localds -f vfat and OpenStack's config_drive_format=vfat make them. Argv only.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDir } from './tmp.js';
import { run } from './tools.js';

export interface FatImageSpec {
  readonly label?: string;
  /** mkfs.vfat -F: 12, 16 or 32 (by default mkfs.vfat chooses by size). */
  readonly fatBits?: 12 | 16 | 32;
  /** Image size in KiB. */
  readonly sizeKiB: number;
  /** mkfs.vfat -S: logical sector size. */
  readonly sectorSize?: number;
  /** Files by path ("openstack/latest/meta_data.json"); their directories are made with mmd. */
  readonly files: Readonly<Record<string, string | Buffer>>;
  /** Extra empty directories. */
  readonly dirs?: readonly string[];
}

/** Makes the image in a new temporary directory and returns its path. */
export async function makeFatImage(spec: FatImageSpec, name = 'fat.img'): Promise<string> {
  const dir = await tempDir();
  const img = join(dir, name);
  const args = ['-C', ...(spec.label === undefined ? [] : ['-n', spec.label]), ...(spec.fatBits === undefined ? [] : ['-F', String(spec.fatBits)]), ...(spec.sectorSize === undefined ? [] : ['-S', String(spec.sectorSize)]), img, String(spec.sizeKiB)];
  run('mkfs.vfat', args);
  const dirs = new Set<string>(spec.dirs ?? []);
  for (const path of Object.keys(spec.files)) {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort((a, b) => a.split('/').length - b.split('/').length)) run('mmd', ['-i', img, `::${d}`]);
  const staging = join(dir, 'files');
  for (const [path, data] of Object.entries(spec.files)) {
    const local = join(staging, path);
    await mkdir(dirname(local), { recursive: true });
    await writeFile(local, data);
    // -D o: overwrite; names as given (mtools keeps the case in the long name)
    run('mcopy', ['-D', 'o', '-i', img, local, `::${path}`]);
  }
  return img;
}

export async function fatImageBytes(spec: FatImageSpec): Promise<Buffer> {
  return readFile(await makeFatImage(spec));
}
