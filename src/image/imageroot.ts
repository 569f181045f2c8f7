// An ext2/3/4 file system inside an image file, opened with the ext2fs library (libext2fs compiled
// to WebAssembly: no mount, no root, no loop device) and exposed through the same Root interface
// the agent uses. Paths resolve inside the image: a symbolic link (absolute or relative) is
// followed within the image's own tree, never on the host; missing parents are created 0755.
import type { FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { VmctxError, errnoCode } from '../shared/errors.js';
import type { DirOptions, EntryInfo, ReadOptions, Root, UserTree, WriteOptions, WriteResult } from '../host/root.js';
import { walkAll, walkParents, type EntryKind, type LinkWalkOps, type Resolved } from '../host/linkwalk.js';

/** The subset of node-ext2fs's promise API used here. */
export interface ExtFs {
  lstat(path: string): Promise<{ mode: number; uid: number; gid: number; size: number; nlink: number; isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  writeFile(path: string, data: Buffer, options?: { mode?: number }): Promise<void>;
  mkdir(path: string, mode?: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  lchown(path: string, uid: number, gid: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  trim(): Promise<void>;
  open(path: string, flags: string, mode: number): Promise<{ fd: number; close(): Promise<void> }>;
  write(fd: number, buffer: Buffer, offset: null, length: number, position: number): Promise<unknown>;
}

/** libext2fs's own error codes (com_err table "ext2", base 2133571328) the library reports as UNKNOWN. */
const EXT2_ERRORS: Readonly<Record<number, string>> = {
  2133571398: 'no free inodes (the file system is full)',
  2133571399: 'no free blocks for a directory (the file system is full)',
  2133571400: 'no free blocks (the file system is full)',
};

/** Library errors as VmctxErrors that say what happened, where. */
export function fsError(error: unknown, path: string): never {
  if (error instanceof VmctxError) throw error;
  const code = errnoCode(error);
  const errno = typeof error === 'object' && error !== null && 'errno' in error && typeof error.errno === 'number' ? error.errno : undefined;
  if (code === 'ENOSPC') throw new VmctxError('ERR_IO', `${path}: the image's file system is full (ENOSPC)`, { cause: error, details: { errno: code } });
  if (errno !== undefined && EXT2_ERRORS[errno] !== undefined) throw new VmctxError('ERR_IO', `${path}: ${EXT2_ERRORS[errno]}`, { cause: error, details: { ext2: errno } });
  if (errno !== undefined && errno >= 2133571328 && errno < 2133571328 + 256) throw new VmctxError('ERR_IMAGE', `${path}: libext2fs error ${errno - 2133571328} (the file system may be damaged or truncated)`, { cause: error, details: { ext2: errno } });
  throw new VmctxError('ERR_IMAGE', `${path}: ${error instanceof Error ? error.message.split(' args:')[0] : String(error)}`, { cause: error });
}

/**
 * Reads a whole file as bytes. (ext2fs's readFile always decodes to a string, whatever the
 * options say, which would corrupt binaries; this reads through a descriptor instead.)
 */
async function readBytes(fs: ExtFs, path: string, size: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  if (size === 0) return out;
  const handle = await fs.open(path, 'r', 0);
  try {
    let off = 0;
    while (off < size) {
      const n = Math.min(1024 * 1024, size - off);
      const { bytesRead } = await fs.read(handle.fd, out, off, n, off);
      if (bytesRead <= 0) break;
      off += bytesRead;
    }
    return off === size ? out : out.subarray(0, off);
  } finally {
    await handle.close();
  }
}

/** Writes in 1 MiB pieces: one big write makes the WebAssembly heap grow past its limit (OOM). */
async function writeChunked(fs: ExtFs, path: string, bytes: Buffer, mode: number): Promise<void> {
  if (bytes.length <= 1024 * 1024) {
    await fs.writeFile(path, bytes, { mode });
    return;
  }
  const handle = await fs.open(path, 'w', mode);
  try {
    for (let off = 0; off < bytes.length; off += 1024 * 1024) {
      const piece = bytes.subarray(off, Math.min(off + 1024 * 1024, bytes.length));
      // (ext2fs's write(fd, buffer, offset, ...) ignores a numeric offset: pass each piece whole)
      await fs.write(handle.fd, piece, null, piece.length, off);
    }
  } finally {
    await handle.close();
  }
}

export class ImageRoot implements Root {
  readonly path: string;
  readonly isLive = false;
  readonly #fs: ExtFs;

  constructor(fs: ExtFs, label: string) {
    this.#fs = fs;
    this.path = label;
  }

  get fs(): ExtFs {
    return this.#fs;
  }

  async #lstat(path: string): Promise<Awaited<ReturnType<ExtFs['lstat']>> | undefined> {
    try {
      return await this.#fs.lstat(path);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  /** How the shared link walk (host/linkwalk.ts) sees this image; `create` makes missing directories. */
  #walkOps(create: DirOptions | undefined, userTree?: UserTree): LinkWalkOps {
    return {
      kind: async (path): Promise<EntryKind> => {
        const st = await this.#lstat(path);
        if (st === undefined) return 'missing';
        return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'other';
      },
      readlink: (path) => this.#fs.readlink(path),
      missing: async (path) => {
        if (create === undefined) return false;
        await this.#fs.mkdir(path, create.mode).catch((e: unknown) => fsError(e, path));
        await this.#fs.chmod(path, create.mode);
        if (create.owner !== undefined) await this.#fs.chown(path, create.owner.uid, create.owner.gid);
        return true;
      },
      beforeFollow: (path) => {
        if (userTree !== undefined && path.startsWith(userTree.base)) throw new VmctxError('ERR_PATH_SYMLINK', `${path}: a symlink inside a user-owned tree; refused`);
      },
    };
  }

  /**
   * Resolves the directories of a guest path inside the image (following links within it),
   * optionally creating missing ones. The final component is not followed.
   */
  #resolve(guestPath: string, create: DirOptions | undefined, userTree?: UserTree): Promise<Resolved | undefined> {
    return walkParents(guestPath, this.#walkOps(create, userTree));
  }

  /** Follows the final component too (for reads), within the image. */
  #resolveAll(guestPath: string): Promise<string | undefined> {
    return walkAll(guestPath, this.#walkOps(undefined));
  }

  async readFile(guestPath: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const path = await this.#resolveAll(guestPath);
    if (path === undefined) return undefined;
    const st = await this.#lstat(path);
    if (st === undefined) return undefined;
    if (!st.isFile()) throw new VmctxError('ERR_UNSAFE_FILE', `${guestPath}: not a regular file`);
    if (options.head !== undefined) return readBytes(this.#fs, path, Math.min(st.size, options.head));
    const limit = options.maxBytes ?? 64 * 1024 * 1024;
    if (st.size > limit) throw new VmctxError('ERR_UNSAFE_FILE', `${guestPath}: ${st.size} bytes is over the limit of ${limit}`);
    return readBytes(this.#fs, path, st.size);
  }

  async readText(guestPath: string, options: ReadOptions = {}): Promise<string | undefined> {
    return (await this.readFile(guestPath, options))?.toString('utf8');
  }

  async lstat(guestPath: string): Promise<EntryInfo | undefined> {
    const r = await this.#resolve(guestPath, undefined);
    if (r === undefined) return undefined;
    const st = await this.#lstat(r.path);
    if (st === undefined) return undefined;
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
    const linkTarget = type === 'symlink' ? await this.#fs.readlink(r.path) : undefined;
    return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, nlink: st.nlink, ...(linkTarget === undefined ? {} : { linkTarget }) };
  }

  async readdir(guestPath: string): Promise<string[] | undefined> {
    const path = guestPath === '/' ? '/' : await this.#resolveAll(guestPath);
    if (path === undefined) return undefined;
    try {
      return (await this.#fs.readdir(path)).filter((n) => n !== '.' && n !== '..');
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  async writeFile(guestPath: string, data: string | Uint8Array, options: WriteOptions): Promise<WriteResult> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const r = await this.#resolve(guestPath, { mode: 0o755 }, options.userTree);
    if (r === undefined) throw new VmctxError('ERR_PATH_INVALID', `${guestPath}: parent could not be created`);
    const st = await this.#lstat(r.path);
    if (st?.isDirectory() === true) throw new VmctxError('ERR_PATH_NOT_DIR', `${guestPath}: is a directory, not a file`);
    if (st?.isFile() === true && st.nlink === 1 && (st.mode & 0o7777) === options.mode && st.size === bytes.length) {
      const sameOwner = options.owner === undefined || (st.uid === options.owner.uid && st.gid === options.owner.gid);
      if (sameOwner && (await readBytes(this.#fs, r.path, st.size)).equals(bytes)) return { changed: false, replacedSymlink: false };
    }
    // a new file beside the old one, renamed over it: an interrupted bake never leaves half a file
    const temp = posix.join(r.parent, `.${r.name.slice(0, 200)}.vmctx-${randomBytes(6).toString('hex')}`);
    try {
      await writeChunked(this.#fs, temp, bytes, options.mode & 0o700);
      await this.#fs.chmod(temp, options.mode);
      const owner = options.owner ?? { uid: 0, gid: 0 };
      await this.#fs.chown(temp, owner.uid, owner.gid);
      await this.#fs.rename(temp, r.path);
    } catch (error) {
      await this.#fs.unlink(temp).catch(() => undefined);
      fsError(error, guestPath);
    }
    return { changed: true, replacedSymlink: st?.isSymbolicLink() === true };
  }

  async ensureDir(guestPath: string, options: DirOptions): Promise<boolean> {
    const r = await this.#resolve(guestPath, { mode: 0o755 }, options.userTree);
    if (r === undefined) return false;
    let st = await this.#lstat(r.path);
    let changed = false;
    if (st?.isSymbolicLink() === true) {
      const real = await this.#resolveAll(guestPath);
      st = real === undefined ? undefined : await this.#lstat(real);
      if (st?.isDirectory() !== true) throw new VmctxError('ERR_PATH_NOT_DIR', `${guestPath}: a link to something that is not a directory`);
      return false;
    }
    if (st === undefined) {
      await this.#fs.mkdir(r.path, options.mode).catch((e: unknown) => fsError(e, guestPath));
      changed = true;
      st = await this.#fs.lstat(r.path);
    }
    if (!st.isDirectory()) throw new VmctxError('ERR_PATH_NOT_DIR', `${guestPath}: exists and is not a directory`);
    if ((st.mode & 0o7777) !== options.mode) {
      await this.#fs.chmod(r.path, options.mode);
      changed = true;
    }
    if (options.owner !== undefined && (st.uid !== options.owner.uid || st.gid !== options.owner.gid)) {
      await this.#fs.chown(r.path, options.owner.uid, options.owner.gid);
      changed = true;
    }
    return changed;
  }

  async remove(guestPath: string): Promise<boolean> {
    const r = await this.#resolve(guestPath, undefined);
    if (r === undefined) return false;
    const st = await this.#lstat(r.path);
    if (st === undefined) return false;
    if (st.isDirectory()) throw new VmctxError('ERR_PATH_NOT_DIR', `${guestPath}: is a directory`);
    await this.#fs.unlink(r.path);
    return true;
  }

  /** Removes a directory tree inside the image (no link is followed). */
  async removeTree(guestPath: string): Promise<number> {
    const r = await this.#resolve(guestPath, undefined);
    if (r === undefined) return 0;
    const walk = async (path: string): Promise<number> => {
      const st = await this.#lstat(path);
      if (st === undefined) return 0;
      if (!st.isDirectory()) {
        await this.#fs.unlink(path);
        return 1;
      }
      let n = 0;
      for (const child of await this.#fs.readdir(path)) if (child !== '.' && child !== '..') n += await walk(posix.join(path, child));
      await this.#fs.rmdir(path);
      return n;
    };
    return walk(r.path);
  }

  /** Empties a regular file (logs) keeping its mode and owner. */
  async truncate(guestPath: string): Promise<boolean> {
    const r = await this.#resolve(guestPath, undefined);
    if (r === undefined) return false;
    const st = await this.#lstat(r.path);
    if (st?.isFile() !== true || st.size === 0) return false;
    // (the library has no truncate: an empty file with the same mode and owner replaces it)
    await this.writeFile(r.path, Buffer.alloc(0), { mode: st.mode & 0o7777, owner: { uid: st.uid, gid: st.gid } });
    return true;
  }

  async symlink(target: string, guestPath: string): Promise<boolean> {
    const r = await this.#resolve(guestPath, { mode: 0o755 });
    if (r === undefined) return false;
    const st = await this.#lstat(r.path);
    if (st?.isSymbolicLink() === true && (await this.#fs.readlink(r.path)) === target) return false;
    if (st?.isDirectory() === true) throw new VmctxError('ERR_PATH_NOT_DIR', `${guestPath}: is a directory`);
    if (st !== undefined) await this.#fs.unlink(r.path);
    await this.#fs.symlink(target, r.path).catch((e: unknown) => fsError(e, guestPath));
    await this.#fs.lchown(r.path, 0, 0).catch(() => undefined);
    return true;
  }

  createExclusive(guestPath: string): Promise<boolean> {
    return Promise.reject(new VmctxError('ERR_USAGE', `${guestPath}: locks are not taken inside an image`));
  }

  openAppend(guestPath: string): Promise<FileHandle> {
    return Promise.reject(new VmctxError('ERR_USAGE', `${guestPath}: appending is not supported inside an image`));
  }
}
