// Compressed images: gz/bz2/zip/xz told from their first bytes, decompressed (into a sparse raw file, or
// as a stream for sparsecopy), and the result compressed again — through the host's tools, each with a deadline.
import { createReadStream, createWriteStream, closeSync, openSync, readSync, statSync } from 'node:fs';
import { link, mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { VmctxError, type ErrorCode } from '../shared/errors.js';
import { HostExec, streamProcess } from '../host/exec.js';
import { NOT_AN_IMAGE, declaredImageSize } from './extimage.js';
import { meteredRead, type ProgressSink } from './progress.js';
import { FREE_MARGIN, HEAD_BYTES, ReachedDeclaredEnd, SparseWriter, freeBytesAt, noRoom } from './sparsewriter.js';

export type Compression = 'raw' | 'gz' | 'bz2' | 'zip' | 'xz';

/** How long a tool may take over a whole image (decompressing, copying, compressing many GiB). */
export const IMAGE_TOOL_DEADLINE_MS = 6 * 3600_000;
/** How long listing a zip's entries may take. */
const LIST_DEADLINE_MS = 60_000;

const host = new HostExec();
const which = (name: string): Promise<string | undefined> => host.which(name);

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

export function detectCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gz';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bz2';
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return 'zip';
  if (head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  return 'raw';
}

/** The compression of an image file, from its first bytes. */
export function imageCompression(path: string): Compression {
  const head = Buffer.alloc(6);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 6, 0);
  } finally {
    closeSync(fd);
  }
  return detectCompression(head);
}

/**
 * Runs a tool (argv only, in vmctx's own process group so ^C reaches it) with its stdout piped
 * into `sink`, within `timeoutMs`; a non-zero exit is ERR_IMAGE with the end of its stderr.
 */
export async function toolStream(program: string, args: readonly string[], sink: Writable, input?: Readable, timeoutMs = IMAGE_TOOL_DEADLINE_MS, how: { signal?: AbortSignal | undefined; code?: ErrorCode | undefined } = {}): Promise<void> {
  const r = await streamProcess(program, args, { timeoutMs, stdout: sink, ownGroup: false, ...(input === undefined ? {} : { stdin: input }), ...(how.signal === undefined ? {} : { signal: how.signal }) });
  if (r.code !== 0) throw new VmctxError(how.code ?? 'ERR_IMAGE', `${basename(program)} ${args.join(' ')} exited with ${r.code ?? r.signal ?? '?'}: ${r.stderr.trim().slice(0, 300)}`);
}

/** unzip takes names as patterns: each wildcard character is put in brackets to stand for itself. */
function zipPattern(name: string): string {
  return name.replace(/[*?[\]]/gu, (c) => `[${c}]`);
}

/** The entries of a zip (names, directories left out), read with zipinfo/unzip -Z1. */
async function zipEntries(input: string, code: ErrorCode): Promise<string[]> {
  const unzip = await which('unzip');
  if (unzip === undefined) throw new VmctxError(code, 'a .zip image needs unzip installed');
  const chunks: Buffer[] = [];
  await toolStream(unzip, ['-Z1', '--', input], new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } }), undefined, LIST_DEADLINE_MS, { code });
  return Buffer.concat(chunks).toString('utf8').split('\n').filter((n) => n !== '' && !n.endsWith('/'));
}
export interface DecompressOptions {
  readonly progress?: ProgressSink | undefined;
  /** The entry of a .zip holding the image (required when the zip has several). */
  readonly zipEntry?: string | undefined;
}

/**
 * Decompresses (or copies) an image into a sparse raw file, checking it is an image from its first
 * bytes and stopping at its declared end or when the disk would fill. Returns warnings.
 */
export async function decompressTo(input: string, kind: Compression, dest: string, options: DecompressOptions = {}): Promise<string[]> {
  const progress = options.progress;
  if (kind === 'raw') {
    // checked before a byte is copied: an image, and room for it (its allocated blocks: cp keeps holes)
    const head = Buffer.alloc(HEAD_BYTES);
    const fd = openSync(input, 'r');
    try {
      readSync(fd, head, 0, HEAD_BYTES, 0);
    } finally {
      closeSync(fd);
    }
    if (declaredImageSize(head) === undefined) throw new VmctxError('ERR_IMAGE', NOT_AN_IMAGE);
    const st = statSync(input);
    const free = freeBytesAt(dirname(dest));
    if (Math.min(st.size, st.blocks * 512) > free - FREE_MARGIN) throw noRoom(dirname(dest), free);
    const label = 'copying the image (sparse)';
    progress?.step(label);
    // cp writes in order: how far the copy got is the size of what it wrote so far
    const meter = progress === undefined ? undefined : setInterval(() => {
      const size = statSync(dest, { throwIfNoEntry: false })?.size;
      if (size !== undefined && size < st.size) progress.bytes(label, size, st.size);
    }, 200);
    try {
      // cp keeps holes (SEEK_HOLE) and clones where the file system can
      await toolStream('cp', ['--sparse=always', '--reflink=auto', '--', input, dest], new Writable({ write: (_c, _e, cb) => { cb(); } }));
    } finally {
      clearInterval(meter);
    }
    progress?.bytes(label, st.size, st.size);
    return [];
  }
  const label = `decompressing (${kind})`;
  progress?.step(label);
  const sink = new SparseWriter(dest, progress === undefined ? undefined : (done, total) => {
    progress.bytes(label, done, total);
  });
  try {
    await decompressStream(kind, { path: input }, sink, { zipEntry: options.zipEntry, zipEntryOption: '--zip-entry' });
  } catch (error) {
    if (error instanceof ReachedDeclaredEnd) return [`the decompressed image goes on past its declared size (${sink.written} bytes); the rest was not read`];
    throw error;
  }
  return [];
}

export interface StreamOptions {
  /** The entry of a .zip to read (required when it holds several). */
  readonly zipEntry?: string | undefined;
  /** How a caller names an entry, said when a zip holds several (undefined: only one-entry zips are read). */
  readonly zipEntryOption?: string | undefined;
  /** Aborting stops the tool. */
  readonly signal?: AbortSignal | undefined;
  /** The code of the errors thrown (default ERR_IMAGE). */
  readonly code?: ErrorCode | undefined;
}

/**
 * Decompresses a gz/bz2/xz/zip source into `sink`: a file by its path, or (not zip: unzip needs the
 * file) a stream. gz through pigz when present (else zlib), bz2 through lbzip2 or bzip2, xz through
 * xz, zip through unzip -p of its one entry (or the one named). Resolves when the tool exited well.
 */
export async function decompressStream(kind: Exclude<Compression, 'raw'>, input: { readonly path: string } | { readonly stream: AsyncIterable<Buffer> }, sink: Writable, options: StreamOptions = {}): Promise<void> {
  const code = options.code ?? 'ERR_IMAGE';
  const how = { signal: options.signal, code };
  const source = (): Readable => ('path' in input ? createReadStream(input.path) : Readable.from(input.stream));
  const tool = async (...names: string[]): Promise<string> => {
    for (const n of names) {
      const p = await which(n);
      if (p !== undefined) return p;
    }
    throw new VmctxError(code, `a .${kind} image needs ${names.join(' or ')} installed`);
  };
  if (kind === 'gz') {
    const pigz = await which('pigz');
    if (pigz !== undefined) await toolStream(pigz, ['-dc'], sink, source(), IMAGE_TOOL_DEADLINE_MS, how);
    else {
      try {
        await pipeline(source(), createGunzip(), sink, ...(options.signal === undefined ? [] : [{ signal: options.signal }]));
      } catch (error) {
        if ((error as { code?: unknown }).code === 'Z_DATA_ERROR' || (error as { code?: unknown }).code === 'Z_BUF_ERROR') throw new VmctxError(code, `gunzip: ${(error as Error).message}`);
        throw error;
      }
    }
  } else if (kind === 'bz2') {
    await toolStream(await tool('lbzip2', 'bzip2'), ['-dc'], sink, source(), IMAGE_TOOL_DEADLINE_MS, how);
  } else if (kind === 'xz') {
    await toolStream(await tool('xz'), ['-dc'], sink, source(), IMAGE_TOOL_DEADLINE_MS, how);
  } else {
    if (!('path' in input)) throw new VmctxError(code, 'a .zip cannot be read from standard input (unzip needs the file); give its path');
    const entries = await zipEntries(input.path, code);
    let entry = options.zipEntry;
    const list = `${entries.slice(0, 20).join(', ')}${entries.length > 20 ? ', …' : ''}`;
    if (entry === undefined) {
      if (entries.length > 1) {
        if (options.zipEntryOption === undefined) throw new VmctxError(code, `${input.path}: a zip holding one file is needed (it holds ${entries.length}: ${list})`);
        throw new VmctxError('ERR_USAGE', `the zip holds ${entries.length} entries (${list}); name the image with ${options.zipEntryOption} NAME`);
      }
      entry = entries[0];
      if (entry === undefined) throw new VmctxError(code, 'the zip holds no file');
    } else if (!entries.includes(entry)) {
      throw new VmctxError('ERR_USAGE', `${options.zipEntryOption ?? 'zip entry'} ${entry}: no such entry in the zip (entries: ${list})`);
    }
    await toolStream(await tool('unzip'), ['-p', '--', input.path, zipPattern(entry)], sink, undefined, IMAGE_TOOL_DEADLINE_MS, how);
  }
}

/** Compresses the finished raw image into `dest` (a .zip holds it as one entry named `nameInZip`). */
export async function compress(raw: string, kind: Compression, dest: string, nameInZip: string, progress?: ProgressSink): Promise<void> {
  const source = (): Readable => meteredRead(raw, statSync(raw).size, `compressing (${kind})`, progress);
  if (kind === 'gz') {
    const pigz = await which('pigz');
    if (pigz !== undefined) await toolStream(pigz, ['-c'], createWriteStream(dest, { mode: 0o644 }), source());
    else await pipeline(source(), createGzip({ level: 6 }), createWriteStream(dest, { mode: 0o644 }));
  } else if (kind === 'bz2') {
    const tool = (await which('lbzip2')) ?? (await which('bzip2'));
    if (tool === undefined) throw new VmctxError('ERR_IMAGE', 'writing .bz2 needs lbzip2 or bzip2 installed');
    await toolStream(tool, ['-c'], createWriteStream(dest, { mode: 0o644 }), source());
  } else if (kind === 'xz') {
    const xz = await which('xz');
    if (xz === undefined) throw new VmctxError('ERR_IMAGE', 'writing .xz needs xz installed');
    await toolStream(xz, ['-c', '-T0'], createWriteStream(dest, { mode: 0o644 }), source());
  } else if (kind === 'zip') {
    const zip = await which('zip');
    if (zip === undefined) throw new VmctxError('ERR_IMAGE', 'writing .zip needs zip installed');
    // zip reads the entry from stdin (-) and names it with -fz-/the rename below is not possible,
    // so the raw file is linked under the wanted name in a private directory first
    const dir = `${dest}.d`;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    try {
      await link(raw, join(dir, nameInZip));
      await toolStream(zip, ['-q', '-j', '-', join(dir, nameInZip)], createWriteStream(dest, { mode: 0o644 }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

