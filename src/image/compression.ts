// Compressed images: gz/bz2/zip told from their first bytes, decompressed into a sparse raw file, and the result compressed again — through the host's tools, each with a deadline.
import { createReadStream, createWriteStream, closeSync, openSync, readSync, statSync } from 'node:fs';
import { link, mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { VmctxError } from '../shared/errors.js';
import { HostExec, streamProcess } from '../host/exec.js';
import { NOT_AN_IMAGE, declaredImageSize } from './extimage.js';
import { meteredRead, type ProgressSink } from './progress.js';
import { FREE_MARGIN, HEAD_BYTES, ReachedDeclaredEnd, SparseWriter, freeBytesAt, noRoom } from './sparsewriter.js';

export type Compression = 'raw' | 'gz' | 'bz2' | 'zip';

/** How long a tool may take over a whole image (decompressing, copying, compressing many GiB). */
export const IMAGE_TOOL_DEADLINE_MS = 6 * 3600_000;
/** How long listing a zip's entries may take. */
const LIST_DEADLINE_MS = 60_000;

const host = new HostExec();
const which = (name: string): Promise<string | undefined> => host.which(name);

export function detectCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gz';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bz2';
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return 'zip';
  return 'raw';
}

/** The compression of an image file, from its first bytes. */
export function imageCompression(path: string): Compression {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return detectCompression(head);
}

/**
 * Runs a tool (argv only, in vmctx's own process group so ^C reaches it) with its stdout piped
 * into `sink`, within `timeoutMs`; a non-zero exit is ERR_IMAGE with the end of its stderr.
 */
export async function toolStream(program: string, args: readonly string[], sink: Writable, input?: Readable, timeoutMs = IMAGE_TOOL_DEADLINE_MS): Promise<void> {
  const r = await streamProcess(program, args, { timeoutMs, stdout: sink, ownGroup: false, ...(input === undefined ? {} : { stdin: input }) });
  if (r.code !== 0) throw new VmctxError('ERR_IMAGE', `${basename(program)} ${args.join(' ')} exited with ${r.code ?? '?'}: ${r.stderr.trim().slice(0, 300)}`);
}

/** unzip takes names as patterns: each wildcard character is put in brackets to stand for itself. */
function zipPattern(name: string): string {
  return name.replace(/[*?[\]]/gu, (c) => `[${c}]`);
}

/** The entries of a zip (names, directories left out), read with zipinfo/unzip -Z1. */
async function zipEntries(input: string): Promise<string[]> {
  const unzip = await which('unzip');
  if (unzip === undefined) throw new VmctxError('ERR_IMAGE', 'a .zip image needs unzip installed');
  const chunks: Buffer[] = [];
  await toolStream(unzip, ['-Z1', '--', input], new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } }), undefined, LIST_DEADLINE_MS);
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
    if (kind === 'gz') {
      const pigz = await which('pigz');
      if (pigz !== undefined) await toolStream(pigz, ['-dc'], sink, createReadStream(input));
      else await pipeline(createReadStream(input), createGunzip(), sink);
    } else if (kind === 'bz2') {
      const tool = (await which('lbzip2')) ?? (await which('bzip2'));
      if (tool === undefined) throw new VmctxError('ERR_IMAGE', 'a .bz2 image needs lbzip2 or bzip2 installed');
      await toolStream(tool, ['-dc'], sink, createReadStream(input));
    } else {
      const entries = await zipEntries(input);
      let entry = options.zipEntry;
      if (entry === undefined) {
        if (entries.length > 1) throw new VmctxError('ERR_USAGE', `the zip holds ${entries.length} entries (${entries.slice(0, 20).join(', ')}${entries.length > 20 ? ', …' : ''}); name the image with --zip-entry NAME`);
        entry = entries[0];
        if (entry === undefined) throw new VmctxError('ERR_IMAGE', 'the zip holds no file');
      } else if (!entries.includes(entry)) {
        throw new VmctxError('ERR_USAGE', `--zip-entry ${entry}: no such entry in the zip (entries: ${entries.slice(0, 20).join(', ')}${entries.length > 20 ? ', …' : ''})`);
      }
      const unzip = await which('unzip');
      if (unzip === undefined) throw new VmctxError('ERR_IMAGE', 'a .zip image needs unzip installed');
      await toolStream(unzip, ['-p', '--', input, zipPattern(entry)], sink);
    }
  } catch (error) {
    if (error instanceof ReachedDeclaredEnd) return [`the decompressed image goes on past its declared size (${sink.written} bytes); the rest was not read`];
    throw error;
  }
  return [];
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

