// Mutation fuzzing of the ISO 9660 reader: valid images from our writer, genisoimage and xorriso,
// damaged by bit flips, truncation, extreme length/extent values and byte runs. Invariant: the
// image parses, or the reader throws VmctxError with an ERR_ISO_* code — never anything else, and
// never more than a bounded amount of work. FUZZ_RUNS sets the case count (CI default 5000;
// `npm run test:long` uses 100 000).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { IsoImage } from '../../src/formats/iso9660/reader.js';
import { bufferSource } from '../../src/formats/iso9660/source.js';
import { writeIso } from '../../src/formats/iso9660/writer.js';
import { VmctxError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 5000);
const seeds: Buffer[] = [];

beforeAll(async () => {
  const files = [
    { path: 'context.sh', data: Buffer.from("SET_HOSTNAME='fuzz'\n") },
    { path: 'init.sh', data: Buffer.from('#!/bin/sh\n') },
    { path: 'a/b/c/deep.txt', data: Buffer.from('deep') },
  ];
  seeds.push(writeIso(files), writeIso(files, { rockRidge: false, joliet: false }));
  const dir = await tempDir();
  await mkdir(join(dir, 'src/a/b'), { recursive: true });
  for (const f of files) {
    await mkdir(join(dir, 'src', f.path, '..'), { recursive: true });
    await writeFile(join(dir, 'src', f.path), f.data);
  }
  run('genisoimage', ['-quiet', '-J', '-R', '-V', 'CONTEXT', '-o', join(dir, 'g.iso'), join(dir, 'src')]);
  run('xorriso', ['-report_about', 'SORRY', '-rockridge', 'on', '-joliet', 'on', '-outdev', join(dir, 'x.iso'), '-map', join(dir, 'src'), '/']);
  seeds.push(await readFile(join(dir, 'g.iso')), await readFile(join(dir, 'x.iso')));
});

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'run'; at: number; length: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 16, 17, 18, 2048, 0x10000) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 33, 34, 0x80, 0xff) }),
  fc.record({ kind: fc.constant('run' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }), value: fc.integer({ min: 0, max: 255 }) }),
);

/** Mutations land mostly in the interesting part: descriptors and directory sectors (16–40). */
function apply(seed: Buffer, mutations: readonly Mutation[], focus: boolean): Buffer {
  let img = Buffer.from(seed);
  for (const m of mutations) {
    const span = focus ? Math.min(img.length, 41 * 2048) - 16 * 2048 : img.length;
    const at = (focus ? 16 * 2048 : 0) + (m.at % Math.max(1, span));
    if (m.kind === 'truncate') img = img.subarray(0, at);
    else if (m.kind === 'flip') img[at] = (img[at] ?? 0) ^ (1 << m.bit);
    else if (m.kind === 'byte') img[at] = m.value;
    else if (m.kind === 'u32' && at + 4 <= img.length) img.writeUInt32LE(m.value >>> 0, at);
    else if (m.kind === 'run') img.fill(m.value, at, Math.min(img.length, at + m.length));
  }
  return img;
}

async function exercise(img: Buffer): Promise<void> {
  const image = await IsoImage.open(bufferSource(img));
  for (const entry of await image.walk()) {
    if (!entry.isDirectory) await image.readFile(entry, { maxBytes: 1024 * 1024 });
  }
  await image.stat('context.sh');
}

describe('ISO 9660 reader under mutation', () => {
  it(`parses or throws ERR_ISO_* for ${RUNS} mutated images`, { timeout: 600_000 }, async () => {
    const codes = new Map<string, number>();
    let parsed = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), async (which, mutations, focus) => {
        const img = apply(seeds[which % seeds.length]!, mutations, focus);
        try {
          await exercise(img);
          parsed++;
        } catch (error) {
          if (!(error instanceof VmctxError) || !error.code.startsWith('ERR_ISO_')) throw error;
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        }
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
    process.stdout.write(`iso fuzz: ${RUNS} cases, ${parsed} parsed, errors ${JSON.stringify(Object.fromEntries(codes))}\n`);
    expect(parsed + [...codes.values()].reduce((a, b) => a + b, 0)).toBe(RUNS);
  });
});
