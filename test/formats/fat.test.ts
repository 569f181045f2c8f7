// The FAT12/16/32 reader on images made by mkfs.vfat + mcopy/mmd (the real tools), checked against
// blkid for labels and against what was copied for contents; then damaged images, each refused
// with its ERR_FAT_* code.
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FatImage, fatKey, looksLikeFat, readFatLabel, shortNameChecksum } from '../../src/formats/fat/reader.js';
import { bufferSource } from '../../src/formats/iso9660/source.js';
import { VmctxError } from '../../src/shared/errors.js';
import { makeFatImage, type FatImageSpec } from '../helpers/fatimage.js';
import { run } from '../helpers/tools.js';

const NOCLOUD = {
  'meta-data': 'instance-id: iid-fat-1\nlocal-hostname: fatseed\n',
  'user-data': '#cloud-config\nruncmd:\n  - [echo, fat]\n',
  'network-config': 'version: 2\nethernets:\n  nic0:\n    dhcp4: true\n',
};

async function open(spec: FatImageSpec): Promise<{ image: FatImage; bytes: Buffer; path: string }> {
  const path = await makeFatImage(spec);
  const bytes = await readFile(path);
  return { image: await FatImage.open(bufferSource(bytes)), bytes, path };
}

function blkidLabel(path: string): string {
  return run('blkid', ['-p', '-o', 'value', '-s', 'LABEL', path]).toString().trim();
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    if (error instanceof VmctxError) return error.code;
    throw error;
  }
  return 'no error';
}

/** Byte offsets of a FAT12/16 image's structures, from its BPB. */
function layout(img: Buffer): { bps: number; fat: number; root: number; data: number; cluster: number } {
  const bps = img.readUInt16LE(11);
  const spc = img[13]!;
  const reserved = img.readUInt16LE(14);
  const fats = img[16]!;
  const rootEntries = img.readUInt16LE(17);
  const fatSize = img.readUInt16LE(22) || img.readUInt32LE(36);
  const root = (reserved + fats * fatSize) * bps;
  return { bps, fat: reserved * bps, root, data: root + Math.ceil((rootEntries * 32) / bps) * bps, cluster: spc * bps };
}

/** The offset of the 8.3 entry of a name in a FAT12/16 root directory. */
function rootEntryOffset(img: Buffer, short11: string): number {
  const { root } = layout(img);
  for (let off = root; off < root + 512 * 32; off += 32) if (img.toString('latin1', off, off + 11) === short11) return off;
  throw new Error(`no entry ${short11}`);
}

describe('FAT reader on mkfs.vfat + mcopy images', () => {
  it('FAT12 NoCloud seed labelled cidata: long names, case-insensitive lookup, the 8.3 alias, the label as blkid reads it', async () => {
    const { image, path } = await open({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD });
    expect(image.info.type).toBe('fat12');
    expect(image.info.label).toBe('cidata');
    expect(image.info.label).toBe(blkidLabel(path));
    expect((await image.list('/')).map((e) => e.name).sort()).toEqual(['meta-data', 'network-config', 'user-data']);
    expect((await image.readFile('meta-data', { maxBytes: 1024 })).toString()).toBe(NOCLOUD['meta-data']);
    expect((await image.readFile('/USER-DATA', { maxBytes: 1024 })).toString()).toBe(NOCLOUD['user-data']);
    const meta = await image.stat('meta-data');
    expect(meta?.shortName).toBe('META-D~1');
    expect((await image.stat('meta-d~1'))?.name).toBe('meta-data');
    expect(await image.stat('nothing')).toBeUndefined();
    expect(await readFatLabel(bufferSource(await readFile(path)))).toBe('cidata');
  });

  it('FAT16 labelled CIDATA: subdirectories, multi-entry and non-ASCII long names, a file over many clusters, 8.3 case flags', async () => {
    const big = randomBytes(300_000);
    const { image, path } = await open({
      label: 'CIDATA',
      fatBits: 16,
      sizeKiB: 16384,
      files: {
        ...NOCLOUD,
        'a/b/c/a very long name of more than thirteen characters.txt': 'long',
        'données/été.txt': 'accents',
        'big.bin': big,
        'readme.txt': 'lower',
        'UPPER.TXT': 'upper',
      },
    });
    expect(image.info.type).toBe('fat16');
    expect(image.info.label).toBe('CIDATA');
    expect(blkidLabel(path)).toBe('CIDATA');
    expect((await image.readFile('A/B/C/A Very Long Name of more than thirteen characters.TXT', { maxBytes: 100 })).toString()).toBe('long');
    expect((await image.readFile('données/été.txt', { maxBytes: 100 })).toString()).toBe('accents');
    expect((await image.readFile('big.bin', { maxBytes: big.length })).equals(big)).toBe(true);
    // streamed in chunks, never more than asked
    let chunks = 0;
    for await (const c of image.stream((await image.stat('big.bin'))!, 64 * 1024)) {
      expect(c.length).toBeLessThanOrEqual(64 * 1024);
      chunks++;
    }
    expect(chunks).toBeGreaterThanOrEqual(5);
    // mtools stores "readme.txt" as README.TXT with the lower-case flags (0x18): Linux shows it in lower case
    const lower = await image.stat('README.TXT');
    expect(lower).toMatchObject({ name: 'readme.txt', shortName: 'README.TXT' });
    expect((await image.stat('upper.txt'))?.name).toBe('UPPER.TXT');
    const walked = (await image.walk()).map((e) => e.path);
    expect(walked).toEqual(expect.arrayContaining(['/a', '/a/b', '/a/b/c', '/a/b/c/a very long name of more than thirteen characters.txt', '/données/été.txt']));
    expect(await code(image.readFile('big.bin', { maxBytes: 1000 }))).toBe('ERR_FAT_FILE_TOO_LARGE');
  });

  it('FAT32 config drive labelled CONFIG-2: openstack/latest files, root in a cluster chain', async () => {
    const files = {
      'openstack/latest/meta_data.json': JSON.stringify({ uuid: 'u-1', hostname: 'drive' }),
      'openstack/latest/user_data': '#!/bin/sh\necho hi\n',
      'openstack/latest/network_data.json': '{"links":[],"networks":[]}',
      'openstack/content/0000': 'content',
    };
    const path = await makeFatImage({ label: 'CONFIG-2', fatBits: 32, sizeKiB: 34 * 1024, files });
    const bytes = await readFile(path);
    const image = await FatImage.open(bufferSource(bytes));
    expect(image.info).toMatchObject({ type: 'fat32', label: 'CONFIG-2', bootLabel: 'CONFIG-2', rootLabel: 'CONFIG-2' });
    expect(blkidLabel(path)).toBe('CONFIG-2');
    for (const [p, data] of Object.entries(files)) expect((await image.readFile(p, { maxBytes: 1000 })).toString()).toBe(data);
    expect((await image.readFile('OPENSTACK/LATEST/META_DATA.JSON', { maxBytes: 1000 })).toString()).toContain('u-1');
    expect((await image.list('openstack/latest')).map((e) => e.name).sort()).toEqual(['meta_data.json', 'network_data.json', 'user_data']);
  });

  it('4096-byte sectors (mkfs.vfat -S 4096)', async () => {
    const { image } = await open({ label: 'config-2', sectorSize: 4096, sizeKiB: 8192, files: { 'openstack/latest/meta_data.json': '{}' } });
    expect(image.info.bytesPerSector).toBe(4096);
    expect((await image.readFile('openstack/latest/meta_data.json', { maxBytes: 10 })).toString()).toBe('{}');
  });

  it('the root directory label entry wins over the boot sector label (as blkid); deleted entries are skipped', async () => {
    const path = await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: { ...NOCLOUD, gone: 'x' } });
    run('mdel', ['-i', path, '::gone']);
    const img = await readFile(path);
    img.write('OTHER      ', 0x2b, 'latin1'); // the boot sector's copy only
    const image = await FatImage.open(bufferSource(img));
    expect(image.info).toMatchObject({ label: 'cidata', bootLabel: 'OTHER', rootLabel: 'cidata' });
    expect((await image.list('/')).map((e) => e.name)).not.toContain('gone');
    // without a label entry, the boot sector's label
    img[rootEntryOffset(img, 'cidata     ')] = 0xe5;
    expect((await FatImage.open(bufferSource(img))).info).toMatchObject({ label: 'OTHER', rootLabel: undefined });
  });

  it('a long name whose checksum does not match its 8.3 entry is dropped for the 8.3 name', async () => {
    const { bytes } = await open({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD });
    const off = rootEntryOffset(bytes, 'META-D~1   ');
    expect(bytes[off - 32 + 13]).toBe(shortNameChecksum(bytes.subarray(off, off + 11)));
    bytes[off - 32 + 13] = (bytes[off - 32 + 13] ?? 0) ^ 0xff;
    const image = await FatImage.open(bufferSource(bytes));
    expect((await image.list('/')).map((e) => e.name)).toContain('META-D~1');
    expect(await image.stat('meta-data')).toBeUndefined();
  });

  it('sniffs: a FAT boot sector yes, an ISO or zeros no', async () => {
    const { bytes } = await open({ label: 'cidata', sizeKiB: 1440, files: {} });
    expect(looksLikeFat(bytes.subarray(0, 512))).toBe(true);
    expect(looksLikeFat(Buffer.alloc(512))).toBe(false);
    expect(await readFatLabel(bufferSource(Buffer.alloc(4096)))).toBeUndefined();
  });

  it('names a file by its first cluster and size for the medium budget', async () => {
    const { image } = await open({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD });
    const meta = (await image.stat('meta-data'))!;
    expect(fatKey(meta)).toBe(`fat:${meta.firstCluster}+${meta.size}`);
  });
});

describe('FAT reader on damaged images', () => {
  const base = (): Promise<Buffer> => fatImageWithDirs();

  async function fatImageWithDirs(): Promise<Buffer> {
    return readFile(await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: { ...NOCLOUD, 'sub/inner.txt': 'inner', 'two.bin': Buffer.alloc(5000, 7) } }));
  }

  it('boot sector: no 0x55AA, bad sector size, sectors per cluster, media, FAT count, no data area', async () => {
    const cases: Array<[(b: Buffer) => void, string]> = [
      [(b) => void (b[510] = 0), 'ERR_FAT_BAD_BOOT'],
      [(b) => void b.writeUInt16LE(300, 11), 'ERR_FAT_BAD_BOOT'],
      [(b) => void b.writeUInt16LE(8192, 11), 'ERR_FAT_BAD_BOOT'],
      [(b) => void (b[13] = 3), 'ERR_FAT_BAD_BOOT'],
      [(b) => void (b[13] = 0), 'ERR_FAT_BAD_BOOT'],
      [(b) => void (b[21] = 0x12), 'ERR_FAT_BAD_BOOT'],
      [(b) => void (b[16] = 0), 'ERR_FAT_BPB'],
      [(b) => void b.writeUInt16LE(0, 14), 'ERR_FAT_BPB'],
      [(b) => void b.writeUInt16LE(0, 17), 'ERR_FAT_BPB'],
      [(b) => void b.writeUInt16LE(10, 19), 'ERR_FAT_BPB'],
      [(b) => void b.writeUInt16LE(1, 22), 'ERR_FAT_BPB'],
      [(b) => void b.fill(0, 19, 21).writeUInt32LE(0xffffffff, 32), 'ERR_FAT_BPB'],
    ];
    for (const [damage, expected] of cases) {
      const img = await base();
      damage(img);
      expect(await code(FatImage.open(bufferSource(img)))).toBe(expected);
    }
  });

  it('a truncated image', async () => {
    const img = await base();
    expect(await code(FatImage.open(bufferSource(img.subarray(0, 100))))).toBe('ERR_FAT_TRUNCATED');
    expect(await code(FatImage.open(bufferSource(img.subarray(0, 2048))))).toBe('ERR_FAT_TRUNCATED');
    const image = await FatImage.open(bufferSource(img.subarray(0, layout(img).data + 512)));
    expect(await code(image.readFile('two.bin', { maxBytes: 10_000 }))).toBe('ERR_FAT_TRUNCATED');
  });

  it('cluster chains: a loop, an early end, a free cluster, a cluster past the volume', async () => {
    const setEntry = (img: Buffer, cluster: number, value: number): void => {
      const { fat } = layout(img);
      const at = fat + Math.floor((cluster * 3) / 2);
      const v = img.readUInt16LE(at);
      img.writeUInt16LE(cluster % 2 === 0 ? (v & 0xf000) | value : (v & 0x000f) | (value << 4), at);
    };
    const first = (img: Buffer): number => img.readUInt16LE(rootEntryOffset(img, 'TWO     BIN') + 26);
    const cases: Array<[(b: Buffer, c: number) => void, string]> = [
      [(b, c) => { setEntry(b, c, c); }, 'ERR_FAT_CHAIN_LOOP'],
      [(b, c) => { setEntry(b, c, 0xfff); }, 'ERR_FAT_CHAIN'],
      [(b, c) => { setEntry(b, c, 0); }, 'ERR_FAT_CHAIN'],
      [(b, c) => { setEntry(b, c, 0xff7); }, 'ERR_FAT_CHAIN'],
      [(b, c) => { setEntry(b, c, 0xff0); }, 'ERR_FAT_CHAIN'],
    ];
    for (const [damage, expected] of cases) {
      const img = await base();
      damage(img, first(img));
      const image = await FatImage.open(bufferSource(img));
      expect(await code(image.readFile('two.bin', { maxBytes: 10_000 }))).toBe(expected);
    }
    // a size larger than its chain
    const img = await base();
    img.writeUInt32LE(1_000_000, rootEntryOffset(img, 'TWO     BIN') + 28);
    expect(await code((await FatImage.open(bufferSource(img))).readFile('two.bin', { maxBytes: 2_000_000 }))).toBe('ERR_FAT_CHAIN');
  });

  it('a directory that points back at its parent, and one without a first cluster', async () => {
    const img = await base();
    const sub = rootEntryOffset(img, 'SUB        ');
    const subCluster = img.readUInt16LE(sub + 26);
    // sub/inner.txt becomes a directory whose first cluster is sub itself
    const { data, cluster } = layout(img);
    const subData = data + (subCluster - 2) * cluster;
    let inner = -1;
    for (let off = subData; off < subData + cluster; off += 32) if (img.toString('latin1', off, off + 11) === 'INNER   TXT') inner = off;
    img[inner + 11] = 0x10;
    img.writeUInt16LE(subCluster, inner + 26);
    expect(await code((await FatImage.open(bufferSource(img))).walk())).toBe('ERR_FAT_CHAIN_LOOP');
    const img2 = await base();
    img2.writeUInt16LE(0, rootEntryOffset(img2, 'SUB        ') + 26);
    expect(await code(FatImage.open(bufferSource(img2)))).toBe('ERR_FAT_DIR');
  });

  it('an entry whose name holds a "/" is refused', async () => {
    const img = await base();
    img.write('A/B     TXT', rootEntryOffset(img, 'TWO     BIN'), 'latin1');
    expect(await code(FatImage.open(bufferSource(img)))).toBe('ERR_FAT_DIR');
  });
});
