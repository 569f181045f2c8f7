// Files of a directory given as a medium (--source DIR, vmctx validate): a plain file is opened
// without following a link or blocking on a FIFO, and read in chunks that never pass the size seen
// when it was opened. The budget and the refusals are agent/datasources/medium.ts's.
import { constants } from 'node:fs';
import { open, readFile, readdir, readlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { VmctxError, errnoCode } from '../shared/errors.js';

const CHUNK = 1024 * 1024;

/** An open plain file: its size and identity (device:inode) when opened, its bytes in chunks. */
export interface PlainFile {
  readonly size: number;
  /** Device and inode: the same bytes under two names have one key. */
  readonly key: string;
  /**
   * Its bytes from the start, exactly `expected` of them (default: the size when opened);
   * ERR_PATH_CHANGED (naming `display`) when it has more or fewer.
   */
  chunks(expected?: number): AsyncGenerator<Uint8Array>;
  close(): Promise<void>;
}

export type PlainOpen =
  | { readonly kind: 'absent' }
  | { readonly kind: 'link'; readonly target: string | undefined }
  | { readonly kind: 'file'; readonly file: PlainFile };

async function* fileChunks(handle: FileHandle, size: number, display: string): AsyncGenerator<Uint8Array> {
  let done = 0;
  for (;;) {
    const buf = Buffer.alloc(Math.min(CHUNK, size - done + 1));
    const { bytesRead } = await handle.read(buf, 0, buf.length, done);
    if (bytesRead === 0) break;
    done += bytesRead;
    if (done > size) throw new VmctxError('ERR_PATH_CHANGED', `${display}: grew past its ${size} bytes while being read`);
    yield buf.subarray(0, bytesRead);
  }
  if (done < size) throw new VmctxError('ERR_PATH_CHANGED', `${display}: shrank to ${done} of its ${size} bytes while being read`);
}

/**
 * Opens `dir/name` if it is a plain file: absent when missing or not a plain file (a directory, a
 * FIFO, a device), `link` (with its target when readable) when it is a symbolic link.
 */
export async function openPlainFile(dir: string, name: string, display: string): Promise<PlainOpen> {
  let handle: FileHandle;
  try {
    handle = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    if (code === 'ELOOP') return { kind: 'link', target: await readlink(join(dir, name)).catch(() => undefined) };
    throw error;
  }
  const st = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!st.isFile()) {
    await handle.close();
    return { kind: 'absent' };
  }
  const size = st.size;
  return { kind: 'file', file: { size, key: `${st.dev}:${st.ino}`, chunks: (expected = size) => fileChunks(handle, expected, display), close: () => handle.close() } };
}

/** A whole file's bytes (vmctx validate reads the files a person names). */
export async function readWholeFile(path: string): Promise<Buffer> {
  return readFile(path);
}

/** The names in a directory; the system error when it cannot be read. */
export async function readNames(dir: string): Promise<string[]> {
  return readdir(dir);
}
