// Root: every file operation on the target system goes through here. Paths are resolved inside
// the root component by component, through directory file descriptors (openat-style via
// /proc/self/fd), so a symlink is either resolved inside the root or refused — never followed
// out of it, and never swapped in between a check and a write. Writes are atomic and durable.
// Because Root follows links itself, the kernel's protected_symlinks / protected_hardlinks never
// apply to it: it applies its own, stricter, rule (see linkIsTrusted).
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { crashPoint } from '../shared/crashpoint.js';
import { VmctxError, errnoCode } from '../shared/errors.js';
import { MAX_SYMLINKS, followFinal, linkTarget } from './linkwalk.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NONBLOCK } = constants;
/** Virtual file systems: reading is allowed (DMI, boot id), writing never. */
const NO_WRITE = ['/proc', '/sys', '/dev'];

export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * A tree a user owns (a home directory). At and below `base`, symlinks are refused, every
 * directory must belong to the user or root, and existing files must be regular, singly linked
 * and owned by the user or root.
 */
export interface UserTree {
  readonly base: string;
  readonly uid: number;
}

export interface WriteOptions {
  readonly mode: number;
  /** The content is a secret: dry runs and reports show that it changed, never what it holds. */
  readonly secret?: boolean;
  readonly owner?: FileOwner | undefined;
  readonly userTree?: UserTree | undefined;
  /**
   * Never follow the final component: a link there is replaced by the file. For vmctx's own files
   * (report, state, markers), which are never links.
   */
  readonly noFollow?: boolean | undefined;
}

export interface WriteResult {
  readonly changed: boolean;
  /** The final component was a symlink not to be followed (user tree, untrusted link, noFollow) and was replaced by a regular file. */
  readonly replacedSymlink: boolean;
}

export interface EntryInfo {
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  readonly linkTarget?: string;
}

export interface ReadOptions {
  readonly maxBytes?: number;
  /** Only the file's first bytes (a header): at most this many, whatever the file's size (maxBytes then plays no part). */
  readonly head?: number;
  readonly userTree?: UserTree | undefined;
}

export interface DirOptions {
  readonly mode: number;
  readonly owner?: FileOwner | undefined;
  readonly userTree?: UserTree | undefined;
}

/**
 * A guest path as a path on this host, for what must be named by host path (a program's argument,
 * a device to open): no link resolution, so only for paths the caller checked through the Root.
 */
export function onHost(root: Pick<Root, 'path'>, guestPath: string): string {
  return `${root.path.replace(/\/+$/u, '')}${guestPath}`;
}

/** The operations modules and the state store use; implemented by a directory and by a dry run. */
export interface Root {
  /** Host path of the root ('/' for the live system). */
  readonly path: string;
  readonly isLive: boolean;
  readFile(guestPath: string, options?: ReadOptions): Promise<Buffer | undefined>;
  readText(guestPath: string, options?: ReadOptions): Promise<string | undefined>;
  lstat(guestPath: string): Promise<EntryInfo | undefined>;
  readdir(guestPath: string): Promise<string[] | undefined>;
  writeFile(guestPath: string, data: string | Uint8Array, options: WriteOptions): Promise<WriteResult>;
  ensureDir(guestPath: string, options: DirOptions): Promise<boolean>;
  remove(guestPath: string, options?: { userTree?: UserTree | undefined }): Promise<boolean>;
  symlink(target: string, guestPath: string): Promise<boolean>;
  /** Opens a file for appending (logs), created with `mode`; returns the handle. */
  openAppend(guestPath: string, mode: number): Promise<FileHandle>;
  /** Creates a file only if it does not exist (O_EXCL); false when it does. For locks. */
  createExclusive(guestPath: string, data: string, mode: number): Promise<boolean>;
}

function pathError(code: 'ERR_PATH_INVALID' | 'ERR_PATH_SYMLINK' | 'ERR_PATH_FORBIDDEN' | 'ERR_PATH_OWNER' | 'ERR_PATH_NOT_DIR' | 'ERR_PATH_LOOP' | 'ERR_PATH_CHANGED' | 'ERR_UNSAFE_FILE', path: string, message: string, cause?: unknown): VmctxError {
  return new VmctxError(code, `${path}: ${message}`, { details: { path }, ...(cause === undefined ? {} : { cause }) });
}

/**
 * readlink of an entry lstat just saw as a symlink. Someone may have swapped it for a file or a
 * directory in between (EINVAL): that is a path changing under us, refused by name.
 */
async function readlinkSeen(hostPath: string, guestPath: string): Promise<string> {
  try {
    return await readlink(hostPath);
  } catch (error) {
    if (errnoCode(error) === 'EINVAL') throw pathError('ERR_PATH_CHANGED', guestPath, 'changed while being resolved (a symlink a moment ago, something else now); refusing');
    throw error;
  }
}

function splitGuestPath(guestPath: string): string[] {
  if (!guestPath.startsWith('/')) throw pathError('ERR_PATH_INVALID', guestPath, 'guest paths must be absolute');
  if (guestPath.includes('\0')) throw pathError('ERR_PATH_INVALID', JSON.stringify(guestPath), 'NUL byte in path');
  return guestPath.split('/').filter((p) => p !== '' && p !== '.');
}

function fdPath(handle: FileHandle, name: string): string {
  return `/proc/self/fd/${handle.fd}/${name}`;
}

/**
 * A run killed between writing its temporary file and renaming it leaves `.NAME.vmctx-XXXXXXXXXXXX`
 * behind; the next write of NAME removes such leftovers (files and links only, never directories).
 */
async function removeStaleTemps(dir: FileHandle, name: string): Promise<void> {
  const prefix = `.${name.slice(0, 200)}.vmctx-`;
  let names: string[];
  try {
    names = await readdir(fdPath(dir, '.'));
  } catch {
    return;
  }
  for (const entry of names) {
    if (!entry.startsWith(prefix) || !/^[0-9a-f]{12}$/u.test(entry.slice(prefix.length))) continue;
    const st = await lstat(fdPath(dir, entry)).catch(() => undefined);
    if (st !== undefined && (st.isFile() || st.isSymbolicLink())) await unlink(fdPath(dir, entry)).catch(() => undefined);
  }
}

/**
 * Why an existing entry is not a file vmctx may open for reading or appending: a FIFO (an open
 * would wait for a writer forever), a socket, a device. Undefined for a regular file (and for
 * what the caller checks itself: directories, links).
 */
function specialKind(st: Stats): string | undefined {
  if (st.isFIFO()) return 'is a FIFO';
  if (st.isSocket()) return 'is a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'is a device';
  return undefined;
}

function refuseSpecial(st: Stats, guestPath: string, what: string): void {
  const kind = specialKind(st);
  if (kind !== undefined) throw pathError('ERR_UNSAFE_FILE', guestPath, `${kind}, not a regular file; refusing to ${what} it`);
}

/**
 * Opens an existing name in `dir` that must be a regular file: lstat first (a FIFO, socket or
 * device is refused before any open), then O_NONBLOCK | O_NOFOLLOW (a FIFO swapped in between
 * cannot block the open), then fstat of the handle (checked again). ENOENT passes through.
 */
async function openRegular(dir: FileHandle, name: string, guestPath: string, flags: number, what: string, mode?: number): Promise<FileHandle> {
  const before = await lstat(fdPath(dir, name)).catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (before !== undefined) refuseSpecial(before, guestPath, what);
  const handle = await open(fdPath(dir, name), flags | O_NONBLOCK | O_NOFOLLOW, mode).catch((error: unknown) => {
    // O_WRONLY | O_NONBLOCK on a FIFO nobody reads (swapped in after the lstat)
    if (errnoCode(error) === 'ENXIO') throw pathError('ERR_UNSAFE_FILE', guestPath, `is a FIFO or a device, not a regular file; refusing to ${what} it`, error);
    throw error;
  });
  try {
    refuseSpecial(await handle.stat(), guestPath, what);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** A path the kernel rejects as spelled (a name over NAME_MAX, a file used as a directory, a link loop): a bad path in the input, not an I/O failure. */
function asPathError(error: unknown, guestPath: string): unknown {
  const code = errnoCode(error);
  if (code === 'ENAMETOOLONG') return pathError('ERR_PATH_INVALID', guestPath, 'a name in the path is too long', error);
  if (code === 'ENOTDIR') return pathError('ERR_PATH_INVALID', guestPath, 'a component of the path is not a directory', error);
  if (code === 'ELOOP') return pathError('ERR_PATH_INVALID', guestPath, 'too many levels of symbolic links', error);
  return error;
}

function info(st: Stats, linkTarget?: string): EntryInfo {
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, nlink: st.nlink, ...(linkTarget === undefined ? {} : { linkTarget }) };
}

/** Who vmctx runs as: root on a guest, the developer for `--root` demos. Its links and directories count as root's. */
export interface Self {
  readonly uid: number;
  readonly gid: number;
}

function processSelf(): Self {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

function privileged(uid: number, self: Self): boolean {
  return uid === 0 || uid === self.uid;
}

/** Nobody but root (and vmctx's own user) owns the directory or can write it through its group. */
function rootControlled(dir: { uid: number; gid: number; mode: number }, self: Self): boolean {
  return privileged(dir.uid, self) && ((dir.mode & 0o020) === 0 || dir.gid === 0 || dir.gid === self.gid);
}

/** True when a directory can be written by nobody but root (and vmctx's own user): no one else can plant or swap a name in it. */
export function writableOnlyByRoot(dir: { uid: number; gid: number; mode: number }, self: Self = processSelf()): boolean {
  return rootControlled(dir, self) && (dir.mode & 0o002) === 0;
}

/**
 * Root's own protected_symlinks rule: a link is followed only when no one but root could have
 * made it or can swap it. In a directory only root can write, any link; in a world-writable
 * sticky directory owned by root (/tmp, /var/tmp, /dev/shm), only root's links (another user's
 * link there is never followed, and root's cannot be replaced by anyone else); in any other
 * directory another user can write (world-writable without the sticky bit, a user's own, a
 * group-writable one), none — there even a link root owns could be swapped between the check
 * and the readlink. Stricter than the kernel's rule, never looser.
 */
export function linkIsTrusted(link: { uid: number }, dir: { uid: number; gid: number; mode: number }, self: Self = processSelf()): boolean {
  if (!rootControlled(dir, self)) return false;
  if ((dir.mode & 0o002) === 0) return true;
  return (dir.mode & 0o1000) !== 0 && privileged(link.uid, self);
}

function describeDir(dir: { uid: number; mode: number }): string {
  const ww = (dir.mode & 0o002) !== 0;
  return `${ww ? ((dir.mode & 0o1000) !== 0 ? 'world-writable sticky ' : 'world-writable ') : ''}directory (owner uid ${dir.uid}, mode ${(dir.mode & 0o7777).toString(8)})`;
}

function untrustedLinkError(path: string, link: { uid: number }, dir: { uid: number; mode: number }, what: string): VmctxError {
  return pathError('ERR_PATH_SYMLINK', path, `is a symlink owned by uid ${link.uid} in a ${describeDir(dir)} another user can write; ${what}`);
}

interface Frame {
  readonly handle: FileHandle;
  /** Physical guest path of this directory. */
  readonly path: string;
}

/** An open chain of directories from the root to a parent; closed with release(). */
class Walk {
  constructor(
    readonly frames: Frame[],
    readonly name: string,
    readonly strict: boolean,
    /** Set by #walkFinal when the final component is a link it would not follow: why. */
    readonly untrusted?: VmctxError,
  ) {}

  get parent(): Frame {
    const top = this.frames.at(-1);
    if (top === undefined) throw new VmctxError('ERR_IO', 'internal: empty walk');
    return top;
  }

  get guestPath(): string {
    return posix.join(this.parent.path, this.name);
  }

  async release(): Promise<void> {
    await Promise.all(this.frames.map((f) => f.handle.close().catch(() => undefined)));
  }
}

/** A write that will leave a file (or directory, or link) of `owner` (root when undefined). */
interface WriteFor {
  readonly owner?: number | undefined;
}

/**
 * An existing directory a write goes through must be one no other user can swap: owned by root
 * (or vmctx's own user) or by the owner of what is written, and not in a world-writable directory
 * without the sticky bit (where anyone may rename it away and put their own in its place).
 * Otherwise a root script written into /tmp/provision that uid 1000 made first could be replaced
 * by hers before runcmd runs it. A user's own home, written with its userTree rules, is not
 * checked here (the tree's own rules apply there).
 */
async function checkNotSquatted(dir: FileHandle, parent: FileHandle, guestPath: string, writeFor: WriteFor): Promise<void> {
  const st = await dir.stat();
  const self = processSelf();
  if (!privileged(st.uid, self) && st.uid !== writeFor.owner) {
    throw pathError('ERR_PATH_OWNER', guestPath, `is owned by uid ${st.uid}, not root or the file's owner; refusing to put a file there another user can replace`);
  }
  const up = await parent.stat();
  if ((up.mode & 0o002) !== 0 && (up.mode & 0o1000) === 0) {
    throw pathError('ERR_PATH_OWNER', guestPath, `is in a ${describeDir(up)} without the sticky bit: anyone can rename it away and put their own in its place; refusing to write below it`);
  }
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

export class DirectoryRoot implements Root {
  readonly path: string;
  readonly isLive: boolean;

  constructor(hostPath: string) {
    this.path = posix.resolve(hostPath);
    this.isLive = this.path === '/';
  }

  /** Runs one operation, turning what the kernel rejects as a spelling (ENAMETOOLONG, ENOTDIR, ELOOP) into ERR_PATH_INVALID. */
  async #pathErrors<T>(guestPath: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw asPathError(error, guestPath);
    }
  }

  async readFile(guestPath: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    return this.#pathErrors(guestPath, () => this.#readFile(guestPath, options));
  }

  async lstat(guestPath: string): Promise<EntryInfo | undefined> {
    return this.#pathErrors(guestPath, () => this.#lstat(guestPath));
  }

  async readdir(guestPath: string): Promise<string[] | undefined> {
    return this.#pathErrors(guestPath, () => this.#readdir(guestPath));
  }

  async writeFile(guestPath: string, data: string | Uint8Array, options: WriteOptions): Promise<WriteResult> {
    return this.#pathErrors(guestPath, () => this.#writeFile(guestPath, data, options));
  }

  async ensureDir(guestPath: string, options: DirOptions): Promise<boolean> {
    return this.#pathErrors(guestPath, () => this.#ensureDir(guestPath, options));
  }

  async remove(guestPath: string, options: { userTree?: UserTree | undefined } = {}): Promise<boolean> {
    return this.#pathErrors(guestPath, () => this.#remove(guestPath, options));
  }

  async symlink(target: string, guestPath: string): Promise<boolean> {
    return this.#pathErrors(guestPath, () => this.#symlink(target, guestPath));
  }

  async openAppend(guestPath: string, mode: number): Promise<FileHandle> {
    return this.#pathErrors(guestPath, () => this.#openAppend(guestPath, mode));
  }

  async createExclusive(guestPath: string, data: string, mode: number): Promise<boolean> {
    return this.#pathErrors(guestPath, () => this.#createExclusive(guestPath, data, mode));
  }

  /**
   * Opens every directory down to the parent of the final component.
   * Components before `strictFrom` resolve symlinks inside the root; later ones refuse them.
   */
  async #walk(guestPath: string, create: DirOptions | undefined, tree: UserTree | undefined, writeFor?: WriteFor): Promise<Walk | undefined> {
    const parts = splitGuestPath(guestPath);
    const name = parts.pop();
    if (name === undefined) throw pathError('ERR_PATH_INVALID', guestPath, 'the root itself cannot be written');
    if (name === '..') throw pathError('ERR_PATH_INVALID', guestPath, 'path ends in ".."');
    let strictFrom = Number.POSITIVE_INFINITY;
    if (tree !== undefined) {
      const base = splitGuestPath(tree.base);
      const isBelow = base.every((b, i) => parts[i] === b) && parts.length >= base.length;
      if (!isBelow || parts.includes('..')) throw pathError('ERR_PATH_INVALID', guestPath, `not inside ${tree.base}`);
      strictFrom = base.length - 1;
    }
    const rootHandle = await open(this.path, O_RDONLY | O_DIRECTORY);
    const frames: Frame[] = [{ handle: rootHandle, path: '/' }];
    const pending: { name: string; strict: boolean; created?: boolean }[] = parts.map((p, i) => ({ name: p, strict: i >= strictFrom }));
    let links = 0;
    try {
      while (pending.length > 0) {
        const step = pending.shift();
        if (step === undefined) break;
        const top = frames.at(-1);
        if (top === undefined) break;
        if (step.name === '..') {
          if (frames.length > 1) await frames.pop()?.handle.close();
          continue;
        }
        const childPath = posix.join(top.path, step.name);
        let handle: FileHandle;
        try {
          handle = await open(fdPath(top.handle, step.name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        } catch (error) {
          const code = errnoCode(error);
          if (code === 'ENOENT') {
            if (create === undefined) {
              await new Walk(frames, name, false).release();
              return undefined;
            }
            await this.#mkdirAt(top.handle, step.name, childPath, step.strict ? create : { mode: 0o755 });
            pending.unshift({ ...step, created: true });
            continue;
          }
          if (code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
          const st = await lstat(fdPath(top.handle, step.name));
          if (!st.isSymbolicLink()) throw pathError('ERR_PATH_NOT_DIR', childPath, 'is not a directory');
          if (step.strict) throw pathError('ERR_PATH_SYMLINK', childPath, 'is a symlink inside a user-owned tree; refusing to follow it');
          const dirSt = await top.handle.stat();
          if (!linkIsTrusted(st, dirSt)) throw untrustedLinkError(childPath, st, dirSt, 'refusing to follow it');
          if (++links > MAX_SYMLINKS) throw pathError('ERR_PATH_LOOP', guestPath, 'too many levels of symbolic links');
          const target = await readlinkSeen(fdPath(top.handle, step.name), childPath);
          const next = linkTarget(target);
          if (next.fromRoot) while (frames.length > 1) await frames.pop()?.handle.close();
          pending.unshift(...next.parts.map((p) => ({ name: p, strict: false })));
          continue;
        }
        frames.push({ handle, path: childPath });
        if (writeFor !== undefined && !step.strict && step.created !== true) await checkNotSquatted(handle, top.handle, childPath, writeFor);
        if (step.strict && tree !== undefined) {
          const st = await handle.stat();
          if (st.uid !== tree.uid && st.uid !== 0) {
            throw pathError('ERR_PATH_OWNER', childPath, `is owned by uid ${st.uid}, not by the user (${tree.uid}) or root`);
          }
        }
      }
      return new Walk(frames, name, parts.length >= strictFrom);
    } catch (error) {
      await new Walk(frames, name, false).release();
      throw error;
    }
  }

  async #mkdirAt(parent: FileHandle, name: string, guestPath: string, options: DirOptions): Promise<void> {
    try {
      await mkdir(fdPath(parent, name), options.mode);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      return;
    }
    const handle = await open(fdPath(parent, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((error: unknown) => {
      throw pathError('ERR_PATH_SYMLINK', guestPath, `changed while it was being created (${errnoCode(error) ?? 'error'})`);
    });
    try {
      await handle.chmod(options.mode);
      if (options.owner !== undefined) await handle.chown(options.owner.uid, options.owner.gid);
    } finally {
      await handle.close();
    }
    await parent.sync();
  }

  /**
   * Walks to the final component, following a final symlink inside the root unless strict,
   * `noFollow`, or the link is not trusted (then the walk stops at the link, marked `untrusted`).
   */
  async #walkFinal(guestPath: string, create: DirOptions | undefined, tree: UserTree | undefined, noFollow = false, writeFor?: WriteFor): Promise<Walk | undefined> {
    let path = guestPath;
    for (let links = 0; ; links++) {
      const walk = await this.#walk(path, create, tree, writeFor);
      if (walk === undefined || walk.strict || noFollow) return walk;
      let target: string;
      try {
        const st = await lstat(fdPath(walk.parent.handle, walk.name));
        if (!st.isSymbolicLink()) return walk;
        const dirSt = await walk.parent.handle.stat();
        if (!linkIsTrusted(st, dirSt)) return new Walk(walk.frames, walk.name, walk.strict, untrustedLinkError(walk.guestPath, st, dirSt, 'not following it'));
        target = await readlinkSeen(fdPath(walk.parent.handle, walk.name), guestPath);
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') return walk;
        await walk.release();
        throw error;
      }
      const base = walk.parent.path;
      await walk.release();
      if (links >= MAX_SYMLINKS) throw pathError('ERR_PATH_LOOP', guestPath, 'too many levels of symbolic links');
      path = followFinal(base, target);
    }
  }

  async #readFile(guestPath: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const walk = await this.#walkFinal(guestPath, undefined, options.userTree);
    if (walk === undefined) return undefined;
    try {
      if (walk.untrusted !== undefined) throw walk.untrusted;
      let handle: FileHandle;
      try {
        handle = await openRegular(walk.parent.handle, walk.name, walk.guestPath, O_RDONLY, 'read');
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOENT') return undefined;
        if (code === 'ELOOP') throw pathError('ERR_PATH_SYMLINK', walk.guestPath, 'is a symlink inside a user-owned tree; not reading through it');
        throw error;
      }
      try {
        const st = await handle.stat();
        if (st.isDirectory()) throw pathError('ERR_UNSAFE_FILE', walk.guestPath, 'is a directory');
        if (options.userTree !== undefined) {
          if (!st.isFile()) throw pathError('ERR_UNSAFE_FILE', walk.guestPath, 'is not a regular file');
          if (st.nlink > 1) throw pathError('ERR_UNSAFE_FILE', walk.guestPath, `has ${st.nlink} hard links; refusing to read it in a user-owned tree`);
          if (st.uid !== options.userTree.uid && st.uid !== 0) throw pathError('ERR_PATH_OWNER', walk.guestPath, `is owned by uid ${st.uid}`);
        }
        // protected_hardlinks: a second name for a file in a directory others can write may be
        // another user's way of making vmctx copy a file it can read (and they cannot) elsewhere
        if (st.isFile() && st.nlink > 1 && !writableOnlyByRoot(await walk.parent.handle.stat())) {
          throw pathError('ERR_UNSAFE_FILE', walk.guestPath, `has ${st.nlink} hard links in a directory another user can write; refusing to read it`);
        }
        if (options.head !== undefined) {
          const head = Buffer.alloc(options.head);
          let got = 0;
          for (let n = -1; n !== 0 && got < head.length; got += n) n = (await handle.read(head, got, head.length - got, got)).bytesRead;
          return head.subarray(0, got);
        }
        const limit = options.maxBytes ?? 64 * 1024 * 1024;
        if (st.isFile() && st.size > limit) throw pathError('ERR_UNSAFE_FILE', walk.guestPath, `${st.size} bytes is over the limit of ${limit}`);
        const chunks: Buffer[] = [];
        let total = 0;
        for (;;) {
          const chunk = Buffer.alloc(Math.min(65536, limit + 1 - total));
          const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
          if (bytesRead === 0) break;
          total += bytesRead;
          if (total > limit) throw pathError('ERR_UNSAFE_FILE', walk.guestPath, `more than ${limit} bytes`);
          chunks.push(chunk.subarray(0, bytesRead));
        }
        return Buffer.concat(chunks);
      } finally {
        await handle.close();
      }
    } finally {
      await walk.release();
    }
  }

  async readText(guestPath: string, options: ReadOptions = {}): Promise<string | undefined> {
    return (await this.readFile(guestPath, options))?.toString('utf8');
  }

  async #lstat(guestPath: string): Promise<EntryInfo | undefined> {
    const walk = await this.#walk(guestPath, undefined, undefined);
    if (walk === undefined) return undefined;
    try {
      const st = await lstat(fdPath(walk.parent.handle, walk.name));
      return info(st, st.isSymbolicLink() ? await readlinkSeen(fdPath(walk.parent.handle, walk.name), guestPath) : undefined);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    } finally {
      await walk.release();
    }
  }

  async #readdir(guestPath: string): Promise<string[] | undefined> {
    if (splitGuestPath(guestPath).length === 0) return (await readdir(this.path)).sort();
    const walk = await this.#walkFinal(guestPath, undefined, undefined);
    if (walk === undefined) return undefined;
    try {
      if (walk.untrusted !== undefined) throw walk.untrusted;
      return (await readdir(fdPath(walk.parent.handle, walk.name))).sort();
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    } finally {
      await walk.release();
    }
  }

  #checkWritable(walk: Walk): void {
    const path = walk.guestPath;
    if (NO_WRITE.some((p) => isUnder(path, p))) throw pathError('ERR_PATH_FORBIDDEN', path, 'vmctx never writes into /proc, /sys or /dev');
  }

  async #writeFile(guestPath: string, data: string | Uint8Array, options: WriteOptions): Promise<WriteResult> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const dirOptions: DirOptions = { mode: 0o755, owner: options.owner, userTree: options.userTree };
    // an untrusted final link (or any, with noFollow) is not followed: the rename below replaces it
    const walk = await this.#walkFinal(guestPath, options.userTree === undefined ? { mode: 0o755 } : { ...dirOptions, mode: 0o700 }, options.userTree, options.noFollow === true, { owner: options.owner?.uid });
    if (walk === undefined) throw pathError('ERR_PATH_INVALID', guestPath, 'parent directory could not be created');
    try {
      this.#checkWritable(walk);
      const dir = walk.parent.handle;
      let replacedSymlink = false;
      let existing: Stats | undefined;
      try {
        existing = await lstat(fdPath(dir, walk.name));
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
      if (existing?.isDirectory() === true) throw pathError('ERR_PATH_NOT_DIR', walk.guestPath, 'is a directory, not a file');
      if (existing?.isSymbolicLink() === true) replacedSymlink = true;
      if (existing?.isFile() === true && existing.nlink === 1 && (existing.mode & 0o7777) === options.mode) {
        const sameOwner = options.owner === undefined || (existing.uid === options.owner.uid && existing.gid === options.owner.gid);
        if (sameOwner && existing.size === bytes.length) {
          const current = await this.#readAt(dir, walk.name, bytes.length);
          if (current?.equals(bytes) === true) return { changed: false, replacedSymlink: false };
        }
      }
      await removeStaleTemps(dir, walk.name);
      const temp = `.${walk.name.slice(0, 200)}.vmctx-${randomBytes(6).toString('hex')}`;
      const handle = await open(fdPath(dir, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, options.mode & 0o600);
      try {
        if (options.owner !== undefined) await handle.chown(options.owner.uid, options.owner.gid);
        await handle.chmod(options.mode);
        crashPoint('write:temp-created', walk.guestPath);
        await handle.writeFile(bytes);
        await handle.sync();
      } catch (error) {
        await handle.close();
        await unlink(fdPath(dir, temp)).catch(() => undefined);
        throw error;
      }
      await handle.close();
      crashPoint('write:before-rename', walk.guestPath);
      try {
        await rename(fdPath(dir, temp), fdPath(dir, walk.name));
      } catch (error) {
        await unlink(fdPath(dir, temp)).catch(() => undefined);
        throw error;
      }
      crashPoint('write:before-dir-sync', walk.guestPath);
      await dir.sync();
      return { changed: true, replacedSymlink };
    } finally {
      await walk.release();
    }
  }

  async #readAt(dir: FileHandle, name: string, length: number): Promise<Buffer | undefined> {
    // the caller saw a regular file; whatever is there now is opened without blocking and checked again
    const handle = await openRegular(dir, name, name, O_RDONLY, 'read').catch(() => undefined);
    if (handle === undefined) return undefined;
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async #ensureDir(guestPath: string, options: DirOptions): Promise<boolean> {
    const parentWalk = await this.#walk(guestPath, options.userTree === undefined ? { mode: 0o755 } : { ...options, mode: 0o700 }, options.userTree, { owner: options.owner?.uid });
    if (parentWalk === undefined) return false;
    try {
      this.#checkWritable(parentWalk);
      const dir = parentWalk.parent.handle;
      let created = false;
      try {
        await mkdir(fdPath(dir, parentWalk.name), options.mode);
        created = true;
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
      let handle: FileHandle;
      try {
        handle = await open(fdPath(dir, parentWalk.name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (error) {
        const code = errnoCode(error);
        if (code === 'ENOTDIR' || code === 'ELOOP') {
          const st = await lstat(fdPath(dir, parentWalk.name));
          if (st.isSymbolicLink()) throw pathError('ERR_PATH_SYMLINK', parentWalk.guestPath, `is a symlink${options.userTree === undefined ? '' : ' inside a user-owned tree'}; refusing to use it as a directory`);
          throw pathError('ERR_PATH_NOT_DIR', parentWalk.guestPath, 'exists and is not a directory');
        }
        throw error;
      }
      let changed = created;
      try {
        const st = await handle.stat();
        if (options.userTree !== undefined && st.uid !== options.userTree.uid && st.uid !== 0) {
          throw pathError('ERR_PATH_OWNER', parentWalk.guestPath, `is owned by uid ${st.uid}`);
        }
        if ((st.mode & 0o7777) !== options.mode) {
          await handle.chmod(options.mode);
          changed = true;
        }
        if (options.owner !== undefined && (st.uid !== options.owner.uid || st.gid !== options.owner.gid)) {
          await handle.chown(options.owner.uid, options.owner.gid);
          changed = true;
        }
      } finally {
        await handle.close();
      }
      if (created) await dir.sync();
      return changed;
    } finally {
      await parentWalk.release();
    }
  }

  async #remove(guestPath: string, options: { userTree?: UserTree | undefined } = {}): Promise<boolean> {
    const walk = await this.#walk(guestPath, undefined, options.userTree);
    if (walk === undefined) return false;
    try {
      this.#checkWritable(walk);
      await unlink(fdPath(walk.parent.handle, walk.name));
      await walk.parent.handle.sync();
      return true;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw error;
    } finally {
      await walk.release();
    }
  }

  async #symlink(target: string, guestPath: string): Promise<boolean> {
    const walk = await this.#walk(guestPath, { mode: 0o755 }, undefined, {});
    if (walk === undefined) return false;
    try {
      this.#checkWritable(walk);
      const dir = walk.parent.handle;
      const current = await readlink(fdPath(dir, walk.name)).catch(() => undefined);
      if (current === target) return false;
      await removeStaleTemps(dir, walk.name);
      const temp = `.${walk.name.slice(0, 200)}.vmctx-${randomBytes(6).toString('hex')}`;
      await symlink(target, fdPath(dir, temp));
      await rename(fdPath(dir, temp), fdPath(dir, walk.name));
      await dir.sync();
      return true;
    } finally {
      await walk.release();
    }
  }

  async #openAppend(guestPath: string, mode: number): Promise<FileHandle> {
    // Never follows a final symlink: a planted link must not make log lines land in another file.
    const walk = await this.#walk(guestPath, { mode: 0o755 }, undefined);
    if (walk === undefined) throw pathError('ERR_PATH_INVALID', guestPath, 'parent directory could not be created');
    try {
      this.#checkWritable(walk);
      const handle = await openRegular(walk.parent.handle, walk.name, walk.guestPath, O_WRONLY | O_CREAT | O_APPEND, 'append to', mode).catch((error: unknown) => {
        if (errnoCode(error) === 'ELOOP') throw pathError('ERR_PATH_SYMLINK', walk.guestPath, 'is a symlink; refusing to append to it');
        throw error;
      });
      const st = await handle.stat();
      const refuse = !st.isFile() ? 'is not a regular file'
        : st.nlink > 1 ? `has ${st.nlink} hard links; refusing to append to it`
          : st.uid !== 0 && st.uid !== processSelf().uid ? `is owned by uid ${st.uid}, not root; refusing to append to it`
            : undefined;
      if (refuse !== undefined) {
        await handle.close();
        throw pathError('ERR_UNSAFE_FILE', walk.guestPath, refuse);
      }
      if ((st.mode & 0o7777) !== mode) await handle.chmod(mode);
      return handle;
    } finally {
      await walk.release();
    }
  }

  async #createExclusive(guestPath: string, data: string, mode: number): Promise<boolean> {
    const walk = await this.#walk(guestPath, { mode: 0o755 }, undefined, {});
    if (walk === undefined) throw pathError('ERR_PATH_INVALID', guestPath, 'parent directory could not be created');
    try {
      this.#checkWritable(walk);
      let handle: FileHandle;
      try {
        handle = await open(fdPath(walk.parent.handle, walk.name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, mode);
      } catch (error) {
        if (errnoCode(error) === 'EEXIST') return false;
        throw error;
      }
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      return true;
    } finally {
      await walk.release();
    }
  }
}
