// Zeroing an image's free blocks after the work: holes punched where the file system reported free space (zeros written where that fails), so the image compresses and copies small.
import { HostExec, streamProcess } from '../host/exec.js';
import type { FileDisk } from './disk.js';
import type { ProgressSink } from './progress.js';

/**
 * Punches each range given as arguments ($1 the file, then offset/length pairs) with fallocate
 * ($FALLOCATE); prints the offset of each range it could not punch. Fixed text: the data are
 * arguments (numbers checked before), never part of the script.
 */
const PUNCH_SCRIPT = `f=$1; shift
while [ $# -ge 2 ]; do
  "$FALLOCATE" --punch-hole --keep-size --offset "$1" --length "$2" "$f" </dev/null >/dev/null 2>&1 || echo "$1"
  shift 2
done
`;

/** Ranges punched by one shell (one process start in vmctx for this many fallocate runs). */
const RANGES_PER_BATCH = 512;
/** The deadline of one batch. */
const BATCH_DEADLINE_MS = 120_000;

export interface PunchOptions {
  /** The fallocate program (default: found on the system PATH; none: every range is zeroed). */
  readonly fallocate?: string | undefined;
  readonly timeoutMs?: number;
  /** Called after each batch with the bytes handled so far. */
  readonly progress?: (done: number) => void;
}

/** An offset and a length fallocate can take as they are: non-negative safe integers, the length above 0. */
function isByteRange([offset, length]: readonly [number, number]): boolean {
  return Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length > 0;
}

/**
 * Punches holes over `ranges` ([offset, length], absolute) of the file at `path`; returns the
 * ranges that could not be punched (fallocate missing, refused, or past its deadline), for the
 * caller to zero.
 */
export async function punchHoles(path: string, ranges: ReadonlyArray<readonly [number, number]>, options: PunchOptions = {}): Promise<Array<readonly [number, number]>> {
  const fallocate = options.fallocate;
  if (fallocate === undefined) return [...ranges];
  // only whole byte counts reach the script's argv; anything else is handed back as not punched
  const failed: Array<readonly [number, number]> = ranges.filter((range) => !isByteRange(range));
  const valid = ranges.filter(isByteRange);
  let done = 0;
  for (let i = 0; i < valid.length; i += RANGES_PER_BATCH) {
    const batch = valid.slice(i, i + RANGES_PER_BATCH);
    const args = batch.flatMap(([offset, length]) => [String(offset), String(length)]);
    let out = '';
    let ok: boolean;
    try {
      const r = await streamProcess('/bin/sh', ['-c', PUNCH_SCRIPT, 'vmctx-punch', path, ...args], {
        timeoutMs: options.timeoutMs ?? BATCH_DEADLINE_MS,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', FALLOCATE: fallocate },
        stdout: (chunk) => {
          out += chunk.toString('latin1');
        },
      });
      ok = r.code === 0;
    } catch {
      ok = false;
    }
    if (!ok) failed.push(...batch);
    else {
      const refused = new Set(out.split('\n').filter((l) => l !== ''));
      for (const range of batch) if (refused.has(String(range[0]))) failed.push(range);
    }
    for (const [, length] of batch) done += length;
    options.progress?.(done);
  }
  return failed;
}

/** Punches holes where the file system said blocks are free (zeroes them when that fails); returns the bytes handled. */
export async function zeroFree(path: string, disk: FileDisk, progress: ProgressSink | undefined, fallocate?: string): Promise<number> {
  const total = disk.discarded.reduce((sum, [, length]) => sum + length, 0);
  progress?.step('zeroing free blocks');
  // the bar starts now, at 0: with batched punching the next report may be the last, and a bar
  // first seen at 100% has no time behind it, so no rate
  progress?.bytes('zeroing free blocks', 0, total);
  // the ranges are absolute already: ext2fs adds the partition offset before calling discard
  const failed = await punchHoles(path, disk.discarded, {
    fallocate: fallocate ?? (await new HostExec().which('fallocate')),
    progress: (done) => progress?.bytes('zeroing free blocks', done, total),
  });
  for (const [abs, length] of failed) disk.zero(abs, length);
  if (failed.length > 0) progress?.bytes('zeroing free blocks', total, total);
  return total;
}
