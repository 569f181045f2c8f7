// `vmctx sparsecopy SRC DST`: copies a disk image (a file, a block device, `-` for stdin; gz, bz2,
// zip or xz understood) writing holes for all-zero blocks, and fits its partition table to a larger
// destination (gpt.ts). Where the source's holes are is asked of the file system (its extent map,
// read with e2fsprogs' filefrag: FIEMAP, the file synced first), so hole bytes are never read; where
// it cannot tell (tmpfs, a block device, a stream) every byte is read and zero blocks are found by
// comparing. Node has no lseek(SEEK_DATA); see the note at dataExtents. Nothing is written when the
// destination is the source (a link to it, stdin redirected from it, a loop device over it: sameData)
// or a device in use (Dest opens it O_EXCL); a file destination is replaced only when the copy is whole.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { VmctxError, errnoCode } from '../shared/errors.js';
import { HostExec } from '../host/exec.js';
import { blockDeviceBytes, loopBackingFile, partitionOf } from '../host/bytesource.js';
import { decompressStream, detectCompression, type Compression } from './compression.js';
import { TABLE_HEAD_BYTES, planTable, type TablePlan } from './gpt.js';
import type { ProgressSink } from './progress.js';

/** The unit of hole detection: blocks of this size, aligned to it, that are all zero become holes. */
export const SPARSE_BLOCK = 4096;
const CHUNK = 4 * 1024 * 1024;
const ZERO_CHUNK = Buffer.alloc(CHUNK);

export type SourceCompression = Compression;

export interface SparsecopyOptions {
  readonly source: string;
  readonly dest: string;
  /** -f SIZE: the destination's size in bytes (at least the source's). */
  readonly size?: number | undefined;
  readonly growLast?: boolean | undefined;
  readonly progress?: ProgressSink | undefined;
  /** Where `-` reads from (default: process.stdin). */
  readonly stdin?: Readable | undefined;
  /** false: do not ask the file system where the holes are (read and compare everything). */
  readonly extentMap?: boolean | undefined;
}

export interface SparsecopyResult {
  readonly source: string;
  readonly dest: string;
  readonly compression: SourceCompression;
  /** How holes were found: the source's extent map (holes never read), or reading and comparing. */
  readonly holeMethod: 'extent-map' | 'zero-detect';
  readonly destKind: 'file' | 'block device';
  /** The source's size (after decompression) and the destination's. */
  readonly sourceBytes: number;
  readonly destBytes: number;
  /** Bytes of the source written as data, and left as holes (of which never read: holesUnread). */
  readonly dataBytes: number;
  readonly holeBytes: number;
  readonly holesUnread: number;
  /** Bytes read from the source (after decompression) and written to the destination, tables included. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** A block device: hole bytes read back from it to see they are zero, and zeros written where not. */
  readonly holesVerified: number;
  readonly zerosWritten: number;
  readonly table?: { readonly scheme: 'gpt' | 'mbr'; readonly actions: readonly string[] } | undefined;
}

const host = new HostExec();

/** A block device's size, from sysfs by its device number (Node's fstat says 0 for devices and has no lseek(SEEK_END)). */
function deviceBytes(st: Stats, path: string): number {
  const bytes = blockDeviceBytes(st.rdev);
  if (bytes === undefined) throw new VmctxError('ERR_SPARSECOPY_INPUT', `${path}: cannot tell the block device's size from /sys/dev/block`);
  return bytes;
}

/** The identity of a loop device's backing file, when `st` is a loop device (or a partition of one) with one. */
function loopBacking(st: Stats): { path: string; st: Stats } | undefined {
  if (!st.isBlockDevice()) return undefined;
  const path = loopBackingFile(st.rdev);
  const backing = path === undefined ? undefined : statSync(path, { throwIfNoEntry: false });
  return path === undefined || backing === undefined ? undefined : { path, st: backing };
}

/**
 * Why copying `src` onto `dst` would read what it writes, or undefined: the same file (any name of
 * it: a link, a hard link), the same device or a partition of it, a loop device reading the other
 * end's file.
 */
export function sameData(src: Stats, srcName: string, dst: Stats, dstName: string): string | undefined {
  if (src.dev === dst.dev && src.ino === dst.ino) return `${srcName} and ${dstName} are the same ${src.isBlockDevice() ? 'device' : 'file'}`;
  if (src.isBlockDevice() && dst.isBlockDevice()) {
    if (src.rdev === dst.rdev) return `${srcName} and ${dstName} are the same device`;
    const nested = partitionOf(src.rdev, dst.rdev);
    if (nested !== undefined) return nested === 'a in b' ? `${srcName} is a partition of ${dstName}` : `${dstName} is a partition of ${srcName}`;
  }
  const dstLoop = loopBacking(dst);
  if (dstLoop !== undefined && dstLoop.st.dev === src.dev && dstLoop.st.ino === src.ino) return `${dstName} is a loop device reading ${srcName} (${dstLoop.path})`;
  const srcLoop = loopBacking(src);
  if (srcLoop !== undefined && srcLoop.st.dev === dst.dev && srcLoop.st.ino === dst.ino) return `${srcName} is a loop device reading ${dstName} (${srcLoop.path})`;
  return undefined;
}

/**
 * The byte ranges of a regular file that hold data, from its extent map (FIEMAP through filefrag,
 * which syncs the file first), or undefined when the file system cannot say (tmpfs, no filefrag).
 * Node has no lseek(SEEK_DATA/SEEK_HOLE); the one npm package exposing lseek (fs-ext) is a native
 * addon that cannot go into the single-file bundle. Measured on this machine (8 GiB, 100 MiB data):
 * reading and comparing everything takes 1.5-2.4 s, the extent map a few ms (see bench/sparsecopy.mjs).
 */
export async function dataExtents(path: string, size: number): Promise<Array<[number, number]> | undefined> {
  const filefrag = await host.which('filefrag');
  if (filefrag === undefined) return undefined;
  const r = await host.run(filefrag, ['-s', '-e', '--', path], { timeoutMs: 120_000, maxOutput: 256 * 1024 * 1024 }).catch(() => undefined);
  if (r?.code !== 0) return undefined;
  const header = /^File size of .* is (\d+) \(\d+ blocks? of (\d+) bytes\)$/mu.exec(r.stdout);
  if (header === null || Number(header[1]) !== size) return undefined;
  const blockSize = Number(header[2]);
  const extents: Array<[number, number]> = [];
  for (const m of r.stdout.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):/gmu)) {
    const start = Number(m[1]) * blockSize;
    const end = Math.min(size, (Number(m[2]) + 1) * blockSize);
    if (end <= start) continue;
    const prev = extents.at(-1);
    if (prev !== undefined && start <= prev[1]) prev[1] = Math.max(prev[1], end);
    else extents.push([start, end]);
  }
  // an extent map that says "no data" for a file with blocks is not believed
  if (extents.length === 0 && size > 0) return undefined;
  return extents;
}

/**
 * The destination. A block device is opened exclusively (O_EXCL: Linux says EBUSY while it is
 * mounted or otherwise claimed) and written in place, holes checked to read zero. A file is written
 * as a new temporary file beside it (same file system, holes by not writing), synced and renamed over
 * it at the end: until then an existing file keeps its content, and a failure removes the temporary.
 * A replaced file keeps its permission bits (and, as root, its owner); a new one is 0644 less the umask.
 */
class Dest {
  readonly fd: number;
  readonly kind: 'file' | 'block device';
  readonly capacity: number | undefined;
  bytesWritten = 0;
  holesVerified = 0;
  zerosWritten = 0;
  readonly #check = Buffer.alloc(CHUNK);
  readonly #path: string;
  /** A file: the temporary written, and the file it replaces at the end. */
  readonly #temp: string | undefined;
  readonly #target: string | undefined;
  readonly #existed: boolean;
  #closed = false;

  constructor(path: string, st: Stats | undefined) {
    this.#path = path;
    this.#existed = st !== undefined;
    if (st?.isBlockDevice() === true) {
      try {
        this.fd = openSync(path, constants.O_RDWR | constants.O_EXCL);
      } catch (error) {
        if (errnoCode(error) === 'EBUSY') throw new VmctxError('ERR_SPARSECOPY_BUSY', `${path}: the device is in use (mounted, or held by another program) — nothing was written`);
        throw error;
      }
      this.kind = 'block device';
      this.capacity = deviceBytes(st, path);
      return;
    }
    if (st !== undefined && !st.isFile()) throw new VmctxError('ERR_USAGE', `${path}: not a regular file or a block device`);
    this.kind = 'file';
    this.capacity = undefined;
    // a link to a file: the file it names is replaced, the link kept
    this.#target = st === undefined ? path : realpathSync(path);
    this.#temp = join(dirname(this.#target), `.${basename(this.#target)}.sparsecopy-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.fd = openSync(this.#temp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      if (st !== undefined) {
        if (process.getuid?.() === 0) fchownSync(this.fd, st.uid, st.gid);
        fchmodSync(this.fd, st.mode & 0o7777);
      }
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  /** What a failure leaves, said at the end of its message. */
  get leftAs(): string {
    if (this.kind === 'block device') return `the copy on ${this.#path} is incomplete`;
    return this.#existed ? `${this.#path} was left as it was` : `${this.#path} was not created`;
  }

  write(data: Buffer, position: number): void {
    if (this.capacity !== undefined && position + data.length > this.capacity) {
      throw new VmctxError('ERR_SPARSECOPY_TOO_SMALL', `the destination (${this.capacity} bytes) is smaller than the source (more than ${position + data.length} bytes) — ${this.leftAs}`);
    }
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, position + done);
    this.bytesWritten += data.length;
  }

  /** A run of zero blocks: nothing on a file; on a device, zeros where it does not read zero already. */
  hole(position: number, length: number): void {
    if (this.kind === 'file') return;
    if (this.capacity !== undefined && position + length > this.capacity) throw new VmctxError('ERR_SPARSECOPY_TOO_SMALL', `the destination (${this.capacity} bytes) is smaller than the source — ${this.leftAs}`);
    for (let off = 0; off < length; off += CHUNK) {
      const n = Math.min(CHUNK, length - off);
      const got = readSync(this.fd, this.#check, 0, n, position + off);
      this.holesVerified += n;
      if (got === n && this.#check.subarray(0, n).equals(ZERO_CHUNK.subarray(0, n))) continue;
      this.write(ZERO_CHUNK.subarray(0, n), position + off);
      this.zerosWritten += n;
    }
  }

  /** Everything written: synced, and a file's temporary renamed over the destination. */
  commit(): void {
    fsyncSync(this.fd);
    this.#close();
    if (this.#temp !== undefined && this.#target !== undefined) renameSync(this.#temp, this.#target);
  }

  /** A failure: a file's temporary removed (the destination is as it was); a device is closed. */
  abort(): void {
    this.#close();
    if (this.#temp === undefined) return;
    try {
      unlinkSync(this.#temp);
    } catch {
      // already gone
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }
}

/** Splits chunks at the source position into data runs (written) and zero runs (holes). */
class SparseSplitter {
  dataBytes = 0;
  holeBytes = 0;
  constructor(private readonly dest: Dest) {}

  put(chunk: Buffer, position: number): void {
    if (chunk.equals(ZERO_CHUNK.subarray(0, Math.min(chunk.length, CHUNK))) && chunk.length <= CHUNK) {
      this.#hole(position, chunk.length);
      return;
    }
    let runStart = 0;
    let runData = false;
    let off = 0;
    while (off < chunk.length) {
      // blocks aligned to the disk, not to the chunk
      const end = Math.min(chunk.length, off + SPARSE_BLOCK - ((position + off) % SPARSE_BLOCK));
      const isData = !chunk.subarray(off, end).equals(ZERO_CHUNK.subarray(0, end - off));
      if (isData !== runData && off > runStart) this.#emit(chunk, runStart, off, position, runData);
      if (isData !== runData) {
        runStart = off;
        runData = isData;
      }
      off = end;
    }
    if (off > runStart) this.#emit(chunk, runStart, off, position, runData);
  }

  hole(position: number, length: number): void {
    this.#hole(position, length);
  }

  #emit(chunk: Buffer, from: number, to: number, position: number, data: boolean): void {
    if (data) {
      this.dest.write(chunk.subarray(from, to), position + from);
      this.dataBytes += to - from;
    } else this.#hole(position + from, to - from);
  }

  #hole(position: number, length: number): void {
    this.dest.hole(position, length);
    this.holeBytes += length;
  }
}

/** Reads a stream's first `bytes` (or all of a shorter one) and gives back a stream of the whole. */
async function peek(stream: AsyncIterable<Buffer | string>, bytes: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const iterator = stream[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done === true) break;
    const b = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    parts.push(b);
    length += b.length;
  }
  const head = Buffer.concat(parts);
  async function* rest(): AsyncIterable<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    }
  }
  return { head, rest: rest() };
}

interface OpenedSource {
  readonly compression: SourceCompression;
  /** The first TABLE_HEAD_BYTES of the (decompressed) disk. */
  readonly head: Buffer;
  /** A raw file or device: its descriptor and size (read by position, holes skipped by the extent map). */
  readonly fd?: number | undefined;
  readonly bytes?: number | undefined;
  /** A stream (stdin, a decompressor's output), from its first byte. */
  readonly chunks?: AsyncIterable<Buffer> | undefined;
  /** Resolves when the decompressor has exited well (rejects with why not). */
  readonly done: Promise<void>;
  close(): void;
}

async function* nothing(): AsyncIterable<Buffer> {
  // an empty stream
}

async function openSource(source: string, srcStat: Stats | undefined, stdin: AsyncIterable<Buffer | string>): Promise<OpenedSource> {
  let fd: number | undefined;
  let decompressor: { out: Writable; abort: AbortController } | undefined;
  const close = (): void => {
    decompressor?.abort.abort();
    decompressor?.out.destroy();
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  try {
    let head: Buffer;
    let stream: AsyncIterable<Buffer> | undefined;
    let bytes: number | undefined;
    if (srcStat === undefined) {
      const p = await peek(stdin, 6);
      head = p.head;
      stream = p.rest;
    } else {
      fd = openSync(source, 'r');
      bytes = srcStat.isBlockDevice() ? deviceBytes(srcStat, source) : srcStat.size;
      head = Buffer.alloc(Math.min(TABLE_HEAD_BYTES, bytes));
      readSync(fd, head, 0, head.length, 0);
    }
    const compression = detectCompression(head);
    if (compression === 'raw') {
      if (stream === undefined) return { compression, head, fd, bytes, done: Promise.resolve(), close };
      const p = await peek(stream, TABLE_HEAD_BYTES);
      return { compression, head: p.head, chunks: p.rest, done: Promise.resolve(), close };
    }
    // the decompressor's output arrives through a queue the copy reads from
    // a file is read through the descriptor opened (and checked) above; unzip needs the path
    const input = compression === 'zip' && stream === undefined ? { path: source } : { stream: stream ?? (createReadStream('', { fd, autoClose: false, start: 0 }) as AsyncIterable<Buffer>) };
    const out = new PassThrough({ highWaterMark: CHUNK });
    decompressor = { out, abort: new AbortController() };
    const done = decompressStream(compression, input, out, { signal: decompressor.abort.signal, code: 'ERR_SPARSECOPY_INPUT' });
    done.then(() => { out.end(); }, (error: unknown) => { out.destroy(error as Error); });
    const p = await peek(out, TABLE_HEAD_BYTES);
    return { compression, head: p.head, chunks: p.rest, done, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** What fd 0 is (undefined when it is closed). */
function stdinStat(): Stats | undefined {
  try {
    return fstatSync(0);
  } catch {
    return undefined;
  }
}

export async function sparsecopy(options: SparsecopyOptions): Promise<SparsecopyResult> {
  const { source, dest: destPath, progress } = options;
  const growLast = options.growLast === true;
  if (destPath === '-') throw new VmctxError('ERR_USAGE', 'the destination cannot be standard output (it cannot hold holes); give a file or a block device');
  let srcStat: Stats | undefined;
  if (source !== '-') {
    try {
      srcStat = statSync(source);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new VmctxError('ERR_USAGE', `${source}: no such file`);
      throw error;
    }
    if (!srcStat.isFile() && !srcStat.isBlockDevice()) throw new VmctxError('ERR_USAGE', `${source}: not a regular file or a block device`);
  } else if (options.stdin === undefined && process.stdin.isTTY) {
    throw new VmctxError('ERR_USAGE', 'standard input is a terminal: pipe the image in (or give its path)');
  }
  const dstStat = statSync(destPath, { throwIfNoEntry: false });
  // links followed (stat): a symbolic or hard link to the source is the source; `-` is what fd 0 is
  const inStat = srcStat ?? (options.stdin === undefined ? stdinStat() : undefined);
  const same = inStat === undefined || dstStat === undefined ? undefined : sameData(inStat, source === '-' ? 'standard input' : source, dstStat, destPath);
  if (same !== undefined) throw new VmctxError('ERR_SPARSECOPY_SAME_FILE', `${same}: nothing was written`);
  if (dstStat?.isBlockDevice() === true && options.size !== undefined) throw new VmctxError('ERR_USAGE', '-f SIZE is for a file destination; a block device keeps its own size');
  if (dstStat !== undefined && !dstStat.isFile() && !dstStat.isBlockDevice()) throw new VmctxError('ERR_USAGE', `${destPath}: not a regular file or a block device`);

  const src = await openSource(source, srcStat, options.stdin ?? process.stdin);
  let dest: Dest | undefined;
  try {
    const sourceBytes = src.bytes;
    const wanted = options.size;
    if (wanted !== undefined && sourceBytes !== undefined && wanted < sourceBytes) throw new VmctxError('ERR_SPARSECOPY_TOO_SMALL', `-f ${wanted}: smaller than the source (${sourceBytes} bytes) — nothing was written`);
    // the partition table is planned (and a damaged GPT refused) before anything is written
    const table: TablePlan | undefined = planTable(src.head, growLast);
    if (growLast && table === undefined) throw new VmctxError('ERR_SPARSECOPY_GROW', '--grow-last: the source has no partition table — nothing was written');
    dest = new Dest(destPath, dstStat);
    if (dest.capacity !== undefined && sourceBytes !== undefined && dest.capacity < sourceBytes) {
      throw new VmctxError('ERR_SPARSECOPY_TOO_SMALL', `${destPath} (${dest.capacity} bytes) is smaller than ${source} (${sourceBytes} bytes) — nothing was written`);
    }
    const splitter = new SparseSplitter(dest);
    const label = 'copying (sparse)';
    let bytesRead = 0;
    let holesUnread = 0;
    let holeMethod: SparsecopyResult['holeMethod'] = 'zero-detect';
    let copied = 0;
    if (src.fd !== undefined && sourceBytes !== undefined) {
      const total = sourceBytes;
      if (dest.kind === 'file') ftruncateSync(dest.fd, wanted ?? total);
      // the extent map only when the file has holes at all (a fully allocated one is read anyway)
      const extents = srcStat?.isFile() === true && options.extentMap !== false && srcStat.blocks * 512 < total ? await dataExtents(source, total) : undefined;
      if (extents !== undefined) holeMethod = 'extent-map';
      const ranges = extents ?? [[0, total] as [number, number]];
      const buf = Buffer.allocUnsafe(CHUNK);
      let pos = 0;
      for (const [start, end] of ranges) {
        if (start > pos) {
          splitter.hole(pos, start - pos);
          holesUnread += start - pos;
        }
        for (let at = start; at < end; ) {
          const n = readSync(src.fd, buf, 0, Math.min(CHUNK, end - at), at);
          if (n === 0) throw new VmctxError('ERR_SPARSECOPY_INPUT', `${source}: the source shrank while it was copied (it ends at byte ${at}, ${total} were there at the start) — ${dest.leftAs}`);
          bytesRead += n;
          splitter.put(buf.subarray(0, n), at);
          at += n;
          progress?.bytes(label, at, total);
        }
        pos = end;
      }
      if (pos < total) {
        splitter.hole(pos, total - pos);
        holesUnread += total - pos;
      }
      copied = total;
    } else {
      for await (const chunk of src.chunks ?? nothing()) {
        if (wanted !== undefined && copied + chunk.length > wanted) throw new VmctxError('ERR_SPARSECOPY_TOO_SMALL', `-f ${wanted}: smaller than the source (more than ${copied + chunk.length} bytes) — the copy was stopped; ${dest.leftAs}`);
        splitter.put(chunk, copied);
        copied += chunk.length;
        bytesRead += chunk.length;
        progress?.bytes(label, copied, undefined);
      }
      await src.done;
      if (dest.kind === 'file') ftruncateSync(dest.fd, Math.max(copied, wanted ?? 0));
    }
    progress?.bytes(label, copied, copied);
    const destBytes = dest.capacity ?? Math.max(copied, wanted ?? 0);
    // planned from the head before the copy; a stream's own size is known only now
    if (table !== undefined) for (const w of table.writes(destBytes, copied)) dest.write(w.data, w.position);
    dest.commit();
    return {
      source,
      dest: destPath,
      compression: src.compression,
      holeMethod,
      destKind: dest.kind,
      sourceBytes: copied,
      destBytes,
      dataBytes: splitter.dataBytes,
      holeBytes: splitter.holeBytes,
      holesUnread,
      bytesRead,
      bytesWritten: dest.bytesWritten,
      holesVerified: dest.holesVerified,
      zerosWritten: dest.zerosWritten,
      ...(table === undefined ? {} : { table: { scheme: table.scheme, actions: table.actions } }),
    };
  } catch (error) {
    dest?.abort();
    throw error;
  } finally {
    src.close();
  }
}
