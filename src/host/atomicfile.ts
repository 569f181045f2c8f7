// A file on this machine replaced atomically and durably: a temp file beside it, created with its
// final mode, written, fsynced, renamed over the old one, and the directory fsynced.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = constants;

export interface AtomicWriteOptions {
  /** The file's mode from its creation on (never briefly wider). */
  readonly mode: number;
}

/**
 * Replaces `path` with `data`: a reader sees the old file or the new one, never a part of it, and
 * after it resolves the new one survives a crash. The temp file is created exclusively (never
 * through a planted file or link) and is gone again when anything fails; the error is the one the
 * step raised, to be told by its path (the temp file's name is never worth showing).
 */
export async function writeFileAtomic(path: string, data: Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.vmctx-${randomBytes(6).toString('hex')}`);
  let handle: FileHandle | undefined;
  let created = false;
  try {
    handle = await open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, options.mode);
    created = true;
    // open() applies the umask: the final mode is set on the handle, never by path
    await handle.chmod(options.mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
    created = false;
  } catch (error) {
    await handle?.close().catch(() => undefined);
    if (created) await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes a rename in `dir` durable. A file system that cannot fsync a directory (EINVAL) has nothing to make durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, O_RDONLY | O_DIRECTORY);
  try {
    await handle.sync().catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    });
  } finally {
    await handle.close();
  }
}
