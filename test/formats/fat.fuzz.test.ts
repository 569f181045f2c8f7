// Mutation fuzzing of the FAT12/16/32 reader: valid images made by mkfs.vfat + mcopy/mmd (FAT12,
// FAT16, FAT32 and 4096-byte sectors, with long names and subdirectories), damaged by bit flips,
// truncation, extreme 16/32-bit values (cluster numbers, sizes, BPB fields) and byte runs.
// Invariant: the image parses, or the reader throws VmctxError with an ERR_FAT_* code — never
// anything else, and never more than a bounded amount of work. FUZZ_RUNS sets the case count
// (default 3000 in `npm test`; `npm run test:long` uses 100 000).
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FatImage, looksLikeFat } from '../../src/formats/fat/reader.js';
import type { ByteSource } from '../../src/formats/iso9660/source.js';
import { VmctxError } from '../../src/shared/errors.js';
import { makeFatImage, type FatImageSpec } from '../helpers/fatimage.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 3000);

interface Seed {
  readonly image: Buffer;
  /** The bytes worth mutating: boot sector, FATs, root directory and the first data clusters. */
  readonly head: number;
  /** Where the structures are: boot sector, the FAT's start, each directory's first cluster ([start, end)). */
  readonly regions: ReadonlyArray<readonly [number, number]>;
}

const seeds: Seed[] = [];

const FILES = {
  'meta-data': 'instance-id: iid-fuzz\nlocal-hostname: fuzz\n',
  'user-data': '#cloud-config\nruncmd:\n  - [echo, fuzz]\n',
  'network-config': 'version: 2\n',
  'openstack/latest/meta_data.json': '{"uuid":"fuzz"}',
  'openstack/latest/a name longer than thirteen characters.txt': 'long',
  'readme.txt': 'x'.repeat(3000),
};

beforeAll(async () => {
  const specs: FatImageSpec[] = [
    { label: 'cidata', sizeKiB: 1440, files: FILES },
    { label: 'CIDATA', fatBits: 16, sizeKiB: 16384, files: FILES },
    { label: 'CONFIG-2', fatBits: 32, sizeKiB: 34 * 1024, files: FILES },
    { label: 'config-2', sectorSize: 4096, sizeKiB: 8192, files: FILES },
  ];
  for (const spec of specs) {
    const image = await readFile(await makeFatImage(spec));
    const image0 = await FatImage.open(bufferOf(image));
    // the data area starts after the reserved sectors, the FATs and (FAT12/16) the root directory
    const bps = image.readUInt16LE(11);
    const fatSectors = image.readUInt16LE(22) || image.readUInt32LE(36);
    const fatStart = image.readUInt16LE(14) * bps;
    const rootStart = fatStart + image[16]! * fatSectors * bps;
    const dataStart = rootStart + image.readUInt16LE(17) * 32;
    const cb = image0.info.clusterBytes;
    const head = Math.min(image.length, dataStart + 16 * cb);
    const regions: Array<readonly [number, number]> = [[0, 512], [fatStart, fatStart + 1024]];
    if (image0.info.type === 'fat32') regions.push([dataStart + (image.readUInt32LE(44) - 2) * cb, dataStart + (image.readUInt32LE(44) - 1) * cb]);
    else regions.push([rootStart, dataStart]);
    for (const e of await image0.walk()) if (e.isDirectory) regions.push([dataStart + (e.firstCluster - 2) * cb, dataStart + (e.firstCluster - 1) * cb]);
    // a directory's region ends just past its end marker (mutations in the unused rest change nothing)
    const used = (r: readonly [number, number], i: number): readonly [number, number] => {
      if (i < 2) return r;
      let end = r[0];
      while (end < r[1] && image[end] !== 0) end += 32;
      return [r[0], Math.min(r[1], end + 32)];
    };
    seeds.push({ image, head, regions: regions.map(used).filter(([a, b]) => b <= head && a < b) });
  }
});

function bufferOf(data: Uint8Array): ByteSource {
  return { size: data.length, read: (offset, length) => Promise.resolve(data.subarray(Math.min(offset, data.length), Math.min(offset + length, data.length))) };
}

/** The image with a mutated copy of its head; reads past the head come from the seed, up to `size`. */
function overlay(seed: Seed, head: Buffer, size: number): ByteSource & { readBytes: number } {
  const src = {
    size,
    readBytes: 0,
    read(offset: number, length: number): Promise<Uint8Array> {
      const start = Math.min(Math.max(offset, 0), size);
      const end = Math.min(start + length, size);
      src.readBytes += end - start;
      if (end <= head.length) return Promise.resolve(head.subarray(start, end));
      const out = Buffer.alloc(end - start);
      if (start < head.length) head.copy(out, 0, start, head.length);
      seed.image.copy(out, Math.max(0, head.length - start), Math.max(start, head.length), end);
      return Promise.resolve(out);
    },
  };
  return src;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'run'; at: number; length: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 0x7fffffff, 0xffffffff, 0x0ffffff7, 0x0ffffff8, 0x10000, 65525) }),
  fc.record({ kind: fc.constant('u16' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 512, 4085, 0xff7, 0xfff, 0xfff7, 0xffff) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.constantFrom(0, 0x05, 0x0f, 0x10, 0x20, 0x29, 0x41, 0x55, 0xaa, 0xe5, 0xff) }),
  fc.record({ kind: fc.constant('run' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }), value: fc.integer({ min: 0, max: 255 }) }),
);

/**
 * Mutations land in one of the structures (boot sector, FAT, a directory), or anywhere in the
 * head when `region` is past them; truncation anywhere.
 */
function apply(seed: Seed, mutations: readonly Mutation[], region: number): { head: Buffer; size: number } {
  const head = Buffer.from(seed.image.subarray(0, seed.head));
  let size = seed.image.length;
  for (const m of mutations) {
    if (m.kind === 'truncate') {
      size = Math.min(size, m.at % (seed.image.length + 1));
      continue;
    }
    const [start, end] = seed.regions[region] ?? [0, head.length];
    const at = start + (m.at % (end - start));
    if (m.kind === 'flip') head[at] = (head[at] ?? 0) ^ (1 << m.bit);
    else if (m.kind === 'byte') head[at] = m.value;
    else if (m.kind === 'u32' && at + 4 <= head.length) head.writeUInt32LE(m.value >>> 0, at);
    else if (m.kind === 'u16' && at + 2 <= head.length) head.writeUInt16LE(m.value, at);
    else if (m.kind === 'run') head.fill(m.value, at, Math.min(head.length, at + m.length));
  }
  return { head, size };
}

async function exercise(source: ByteSource): Promise<void> {
  looksLikeFat(await source.read(0, 512));
  const image = await FatImage.open(source);
  for (const entry of await image.walk()) {
    if (!entry.isDirectory) await image.readFile(entry, { maxBytes: 1024 * 1024 });
  }
  await image.stat('openstack/latest/meta_data.json');
}

describe('FAT reader under mutation', () => {
  it(`parses or throws ERR_FAT_* for ${RUNS} mutated images`, { timeout: 900_000 }, async () => {
    const codes = new Map<string, number>();
    let parsed = 0;
    let maxRead = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 7 }), async (which, mutations, region) => {
        const seed = seeds[which]!;
        const { head, size } = apply(seed, mutations, region);
        const source = overlay(seed, head, size);
        try {
          await exercise(source);
          parsed++;
        } catch (error) {
          if (!(error instanceof VmctxError) || !error.code.startsWith('ERR_FAT_')) throw error;
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        }
        // bounded work: never more than the directories' and files' limits allow
        maxRead = Math.max(maxRead, source.readBytes);
        expect(source.readBytes).toBeLessThan(64 * 1024 * 1024);
      }),
      { numRuns: RUNS, seed: 20261207 },
    );
    process.stdout.write(`fat fuzz: ${RUNS} cases, ${parsed} parsed, most bytes read in one case ${maxRead}, errors ${JSON.stringify(Object.fromEntries(codes))}\n`);
    expect(parsed + [...codes.values()].reduce((a, b) => a + b, 0)).toBe(RUNS);
    // the mutations reach past the boot sector checks: some images still parse, some chains break
    expect(parsed).toBeGreaterThan(0);
    expect(codes.size).toBeGreaterThan(2);
  });
});
