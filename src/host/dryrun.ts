// Dry run: a Root that reads through to the real one and keeps every change in an overlay instead
// of making it, and an Exec that runs the system tools a run needs (useradd -R, chpasswd -R,
// ssh-keygen -A) on a scratch copy of the files they touch and brings their effect into the
// overlay. So `vmctx run --dry-run` goes through the same code as the run and lists exactly the
// paths the run would change.
import { lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, symlink, writeFile, chown, chmod, lchown, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { VmctxError, errnoCode } from '../shared/errors.js';
import type { Exec, ExecOptions, ExecResult } from './exec.js';
import type { DirOptions, EntryInfo, FileOwner, ReadOptions, Root, UserTree, WriteOptions, WriteResult } from './root.js';
import { MAX_SYMLINKS, linkTarget } from './linkwalk.js';

export interface PlannedChange {
  readonly path: string;
  readonly kind: 'write' | 'mkdir' | 'remove' | 'symlink';
  readonly before: Buffer | undefined;
  readonly after: Buffer | undefined;
  readonly mode?: number;
  readonly owner?: FileOwner;
  readonly secret?: boolean;
}

type Entry =
  | { readonly type: 'file'; readonly data: Buffer; readonly mode: number; readonly uid: number; readonly gid: number; readonly nlink: number }
  | { readonly type: 'directory'; readonly mode: number; readonly uid: number; readonly gid: number }
  | { readonly type: 'symlink'; readonly target: string; readonly uid: number; readonly gid: number }
  | { readonly type: 'other' }
  | { readonly type: 'absent' };

const NO_WRITE = ['/proc', '/sys', '/dev'];
/** Files bigger than this are compared by size and mode only (a runtime, a bundle). */
const MAX_COMPARE = 64 * 1024 * 1024;

function pathError(code: 'ERR_PATH_INVALID' | 'ERR_PATH_SYMLINK' | 'ERR_PATH_FORBIDDEN' | 'ERR_PATH_OWNER' | 'ERR_PATH_NOT_DIR' | 'ERR_PATH_LOOP' | 'ERR_UNSAFE_FILE', path: string, message: string): VmctxError {
  return new VmctxError(code, `${path}: ${message}`, { details: { path } });
}

function split(guestPath: string): string[] {
  if (!guestPath.startsWith('/')) throw pathError('ERR_PATH_INVALID', guestPath, 'guest paths must be absolute');
  if (guestPath.includes('\0')) throw pathError('ERR_PATH_INVALID', JSON.stringify(guestPath), 'NUL byte in path');
  return guestPath.split('/').filter((p) => p !== '' && p !== '.');
}

const isUnder = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);
const processOwner = (): FileOwner => ({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'file' && b.type === 'file') return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.data.equals(b.data);
  if (a.type === 'directory' && b.type === 'directory') return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
  if (a.type === 'symlink' && b.type === 'symlink') return a.target === b.target;
  return true;
}

function infoOf(entry: Entry): EntryInfo | undefined {
  switch (entry.type) {
    case 'absent':
      return undefined;
    case 'file':
      return { type: 'file', mode: entry.mode, uid: entry.uid, gid: entry.gid, size: entry.data.length, nlink: entry.nlink };
    case 'directory':
      return { type: 'directory', mode: entry.mode, uid: entry.uid, gid: entry.gid, size: 0, nlink: 2 };
    case 'symlink':
      return { type: 'symlink', mode: 0o777, uid: entry.uid, gid: entry.gid, size: entry.target.length, nlink: 1, linkTarget: entry.target };
    case 'other':
      return { type: 'other', mode: 0, uid: 0, gid: 0, size: 0, nlink: 1 };
  }
}

export class DryRunRoot implements Root {
  readonly #inner: Root;
  /** Physical guest path → what it holds after the planned changes. */
  readonly #entries = new Map<string, Entry>();
  /** Physical guest path → what it held before the first planned change (in order of first change). */
  readonly #original = new Map<string, Entry>();
  readonly #secret = new Set<string>();
  /** What #entry last read from the inner root, so the original of a change is not read twice. */
  readonly #read = new Map<string, Entry>();

  constructor(inner: Root) {
    this.#inner = inner;
  }

  get path(): string {
    return this.#inner.path;
  }

  get isLive(): boolean {
    return this.#inner.isLive;
  }

  /** The net changes, one per path, in the order they were first made; what a change undid is left out. */
  get changes(): PlannedChange[] {
    const out: PlannedChange[] = [];
    for (const [path, before] of this.#original) {
      const after = this.#entries.get(path) ?? before;
      if (sameEntry(before, after)) continue;
      const secret = this.#secret.has(path);
      const beforeData = before.type === 'file' ? before.data : undefined;
      switch (after.type) {
        case 'file':
          out.push({ path, kind: 'write', before: beforeData, after: after.data, mode: after.mode, owner: { uid: after.uid, gid: after.gid }, secret });
          break;
        case 'directory':
          out.push({ path, kind: 'mkdir', before: undefined, after: undefined, mode: after.mode, owner: { uid: after.uid, gid: after.gid } });
          break;
        case 'symlink':
          out.push({ path, kind: 'symlink', before: beforeData, after: Buffer.from(after.target), secret });
          break;
        default:
          out.push({ path, kind: 'remove', before: beforeData, after: undefined, secret });
      }
    }
    return out;
  }

  /** The guest paths the run would change (created, modified, removed, or their mode or owner). */
  changedPaths(): string[] {
    return this.changes.map((c) => c.path);
  }

  /** What the inner root holds at a physical path (no link followed). */
  async #innerEntry(path: string): Promise<Entry> {
    const st = await this.#inner.lstat(path).catch(() => undefined);
    if (st === undefined) return { type: 'absent' };
    if (st.type === 'directory') return { type: 'directory', mode: st.mode, uid: st.uid, gid: st.gid };
    if (st.type === 'symlink') return { type: 'symlink', target: st.linkTarget ?? '', uid: st.uid, gid: st.gid };
    if (st.type === 'other') return { type: 'other' };
    const data = st.size > MAX_COMPARE ? Buffer.alloc(0) : ((await this.#inner.readFile(path, { maxBytes: MAX_COMPARE }).catch(() => undefined)) ?? Buffer.alloc(0));
    return { type: 'file', data, mode: st.mode, uid: st.uid, gid: st.gid, nlink: st.nlink };
  }

  async #entry(path: string): Promise<Entry> {
    const planned = this.#entries.get(path);
    if (planned !== undefined) return planned;
    const entry = await this.#innerEntry(path);
    this.#read.set(path, entry);
    return entry;
  }

  /** lstat of a physical path, overlay first. */
  async #stat(path: string): Promise<EntryInfo | undefined> {
    const planned = this.#entries.get(path);
    if (planned !== undefined) return infoOf(planned);
    return this.#inner.lstat(path).catch(() => undefined);
  }

  /** Records a planned change at a physical path. */
  async #put(path: string, entry: Entry, secret = false): Promise<void> {
    if (!this.#original.has(path)) this.#original.set(path, this.#read.get(path) ?? (await this.#innerEntry(path)));
    this.#entries.set(path, entry);
    if (secret) this.#secret.add(path);
  }

  /**
   * The physical path of a guest path, resolving links inside the root as the directory root does:
   * every link is followed (absolute ones from the root) except, in a user's tree, at and below
   * its base, where a link is refused and a directory must be the user's or root's; the final
   * component is followed only when asked.
   */
  async #resolve(guestPath: string, followFinal: boolean, tree?: UserTree): Promise<string> {
    const parts = split(guestPath);
    if (parts.length === 0) throw pathError('ERR_PATH_INVALID', guestPath, 'the root itself cannot be written');
    let strictFrom = Number.POSITIVE_INFINITY;
    if (tree !== undefined) {
      const base = split(tree.base);
      const parents = parts.slice(0, -1);
      if (!(base.every((b, i) => parents[i] === b) && parents.length >= base.length) || parts.includes('..')) throw pathError('ERR_PATH_INVALID', guestPath, `not inside ${tree.base}`);
      strictFrom = base.length - 1;
    }
    const pending = parts.map((name, i) => ({ name, strict: i >= strictFrom, final: i === parts.length - 1 }));
    let done: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const step = pending.shift();
      if (step === undefined) break;
      if (step.name === '..') {
        done.pop();
        continue;
      }
      const path = `/${[...done, step.name].join('/')}`;
      if (step.final && (!followFinal || step.strict)) {
        done.push(step.name);
        break;
      }
      const st = await this.#stat(path);
      if (st?.type === 'symlink') {
        if (step.strict) throw pathError('ERR_PATH_SYMLINK', path, 'is a symlink inside a user-owned tree; refusing to follow it');
        if (++links > MAX_SYMLINKS) throw pathError('ERR_PATH_LOOP', guestPath, 'too many levels of symbolic links');
        const target = linkTarget(st.linkTarget ?? '');
        if (target.fromRoot) done = [];
        pending.unshift(...target.parts.map((name, i, all) => ({ name, strict: false, final: step.final && i === all.length - 1 })));
        continue;
      }
      if (st !== undefined && st.type !== 'directory' && !step.final) throw pathError('ERR_PATH_NOT_DIR', path, 'is not a directory');
      if (step.strict && st !== undefined && tree !== undefined && st.uid !== tree.uid && st.uid !== 0) {
        throw pathError('ERR_PATH_OWNER', path, `is owned by uid ${st.uid}, not by the user (${tree.uid}) or root`);
      }
      done.push(step.name);
    }
    if (done.length === 0) throw pathError('ERR_PATH_INVALID', guestPath, 'leads to the root itself, which cannot be written');
    return `/${done.join('/')}`;
  }

  /** Plans the directories a write creates on its way: 0755 root's, or in a user's tree 0700 the user's. */
  async #parents(path: string, tree: UserTree | undefined, owner: FileOwner | undefined): Promise<void> {
    const parts = split(path).slice(0, -1);
    const strictFrom = tree === undefined ? Number.POSITIVE_INFINITY : split(tree.base).length - 1;
    for (let i = 0; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i + 1).join('/')}`;
      const st = await this.#stat(dir);
      const strict = i >= strictFrom;
      if (st?.type === 'directory') {
        // as the directory root: no write through a directory another user can swap
        if (!strict) await this.#checkNotSquatted(dir, st, `/${parts.slice(0, i).join('/')}`, owner);
        continue;
      }
      if (st !== undefined) throw pathError('ERR_PATH_NOT_DIR', dir, 'is not a directory');
      const who = strict && owner !== undefined ? owner : processOwner();
      await this.#put(dir, { type: 'directory', mode: strict ? 0o700 : 0o755, uid: who.uid, gid: who.gid });
    }
  }

  /** The directory root's rule for an existing directory a write goes through (see checkNotSquatted in root.ts). */
  async #checkNotSquatted(dir: string, st: EntryInfo, parentPath: string, owner: FileOwner | undefined): Promise<void> {
    const self = processOwner();
    if (st.uid !== 0 && st.uid !== self.uid && st.uid !== owner?.uid) {
      throw pathError('ERR_PATH_OWNER', dir, `is owned by uid ${st.uid}, not root or the file's owner; refusing to put a file there another user can replace`);
    }
    const up = await this.#stat(parentPath);
    if (up !== undefined && (up.mode & 0o002) !== 0 && (up.mode & 0o1000) === 0) {
      throw pathError('ERR_PATH_OWNER', dir, `is in a world-writable directory without the sticky bit (mode ${(up.mode & 0o7777).toString(8)}): anyone can rename it away and put their own in its place; refusing to write below it`);
    }
  }

  #checkWritable(path: string): void {
    if (NO_WRITE.some((p) => isUnder(path, p))) throw pathError('ERR_PATH_FORBIDDEN', path, 'vmctx never writes into /proc, /sys or /dev');
  }

  async readFile(guestPath: string, options: ReadOptions = {}): Promise<Buffer | undefined> {
    const path = await this.#resolve(guestPath, options.userTree === undefined, options.userTree);
    const planned = this.#entries.get(path);
    if (planned === undefined) return this.#inner.readFile(path, options);
    switch (planned.type) {
      case 'absent':
        return undefined;
      case 'directory':
        throw pathError('ERR_UNSAFE_FILE', path, 'is a directory');
      case 'symlink':
        throw pathError('ERR_PATH_SYMLINK', path, 'is a symlink inside a user-owned tree; not reading through it');
      case 'other':
        throw pathError('ERR_UNSAFE_FILE', path, 'is not a regular file');
      case 'file': {
        if (options.head !== undefined) return Buffer.from(planned.data.subarray(0, options.head));
        const limit = options.maxBytes ?? 64 * 1024 * 1024;
        if (planned.data.length > limit) throw pathError('ERR_UNSAFE_FILE', path, `${planned.data.length} bytes is over the limit of ${limit}`);
        return Buffer.from(planned.data);
      }
    }
  }

  async readText(guestPath: string, options?: ReadOptions): Promise<string | undefined> {
    return (await this.readFile(guestPath, options))?.toString('utf8');
  }

  async lstat(guestPath: string): Promise<EntryInfo | undefined> {
    if (split(guestPath).length === 0) return this.#inner.lstat(guestPath);
    return this.#stat(await this.#resolve(guestPath, false));
  }

  async readdir(guestPath: string): Promise<string[] | undefined> {
    const path = split(guestPath).length === 0 ? '/' : await this.#resolve(guestPath, true);
    const planned = this.#entries.get(path);
    let names: string[] | undefined;
    if (planned === undefined) names = await this.#inner.readdir(path);
    else names = planned.type === 'directory' ? ((await this.#inner.readdir(path).catch(() => undefined)) ?? []) : undefined;
    if (names === undefined) return undefined;
    const set = new Set(names);
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const [p, entry] of this.#entries) {
      if (!p.startsWith(prefix) || p.slice(prefix.length).includes('/') || p === path) continue;
      if (entry.type === 'absent') set.delete(p.slice(prefix.length));
      else set.add(p.slice(prefix.length));
    }
    return [...set].sort();
  }

  async writeFile(guestPath: string, data: string | Uint8Array, options: WriteOptions): Promise<WriteResult> {
    const after = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const path = await this.#resolve(guestPath, options.userTree === undefined, options.userTree);
    this.#checkWritable(path);
    await this.#parents(path, options.userTree, options.owner);
    const current = await this.#entry(path);
    if (current.type === 'directory') throw pathError('ERR_PATH_NOT_DIR', path, 'is a directory, not a file');
    if (current.type === 'file' && current.nlink === 1 && current.mode === options.mode && current.data.equals(after)) {
      if (options.owner === undefined || (current.uid === options.owner.uid && current.gid === options.owner.gid)) return { changed: false, replacedSymlink: false };
    }
    const owner = options.owner ?? processOwner();
    await this.#put(path, { type: 'file', data: after, mode: options.mode, uid: owner.uid, gid: owner.gid, nlink: 1 }, options.secret === true);
    return { changed: true, replacedSymlink: current.type === 'symlink' };
  }

  async ensureDir(guestPath: string, options: DirOptions): Promise<boolean> {
    const path = await this.#resolve(guestPath, false, options.userTree);
    this.#checkWritable(path);
    await this.#parents(path, options.userTree, options.owner);
    const current = await this.#entry(path);
    if (current.type === 'symlink') throw pathError('ERR_PATH_SYMLINK', path, `is a symlink${options.userTree === undefined ? '' : ' inside a user-owned tree'}; refusing to use it as a directory`);
    if (current.type !== 'directory' && current.type !== 'absent') throw pathError('ERR_PATH_NOT_DIR', path, 'exists and is not a directory');
    if (current.type === 'directory' && options.userTree !== undefined && current.uid !== options.userTree.uid && current.uid !== 0) throw pathError('ERR_PATH_OWNER', path, `is owned by uid ${current.uid}`);
    const was = current.type === 'directory' ? current : { ...processOwner(), mode: -1 };
    const owner = options.owner ?? { uid: was.uid, gid: was.gid };
    const next: Entry = { type: 'directory', mode: options.mode, uid: owner.uid, gid: owner.gid };
    if (current.type === 'directory' && sameEntry(current, next)) return false;
    await this.#put(path, next);
    return true;
  }

  async remove(guestPath: string, options: { userTree?: UserTree | undefined } = {}): Promise<boolean> {
    const path = await this.#resolve(guestPath, false, options.userTree);
    this.#checkWritable(path);
    const current = await this.#stat(path);
    if (current === undefined) return false;
    if (current.type === 'directory') throw new VmctxError('ERR_IO', `${path}: is a directory; vmctx removes files and links only`);
    await this.#put(path, { type: 'absent' });
    return true;
  }

  async symlink(target: string, guestPath: string): Promise<boolean> {
    const path = await this.#resolve(guestPath, false);
    this.#checkWritable(path);
    await this.#parents(path, undefined, undefined);
    const current = await this.#entry(path);
    if (current.type === 'symlink' && current.target === target) return false;
    if (current.type === 'directory') throw pathError('ERR_PATH_NOT_DIR', path, 'is a directory');
    await this.#put(path, { type: 'symlink', target, ...processOwner() });
    return true;
  }

  /** Log lines of a dry run go nowhere. */
  openAppend(): Promise<FileHandle> {
    return open('/dev/null', 'a');
  }

  /** A dry run takes no lock and writes nothing. */
  createExclusive(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /**
   * Runs a program that changes files under a root directory it is given (`useradd -R DIR`,
   * `ssh-keygen -A -f DIR`) on a scratch directory holding this root's view (overlay included) of
   * the files such programs read and write, and plans what it changed there as changes here.
   */
  async simulate(run: (dir: string) => Promise<ExecResult>): Promise<ExecResult> {
    const dir = await mkdtemp(join(tmpdir(), 'vmctx-dryrun-'));
    try {
      const scratch = join(dir, 'root');
      await mkdir(scratch, { mode: 0o755 });
      await this.#stage(scratch).catch((error: unknown) => {
        const code = errnoCode(error);
        const why = code === 'EPERM' || code === 'EACCES' ? ': like the run, a dry run that changes accounts or host keys needs root' : '';
        throw new VmctxError('ERR_EXEC', `dry run: cannot prepare the scratch copy a system tool runs on (${error instanceof Error ? error.message : String(error)})${why}`, { cause: error });
      });
      const before = await treeOf(scratch);
      const result = await run(scratch);
      const after = await treeOf(scratch);
      for (const [path, entry] of after) {
        const was = before.get(path);
        if (was !== undefined && sameEntry(was, entry)) continue;
        // content a program writes unreadable by others (shadow, private host keys) is a secret
        await this.#put(path, entry, entry.type === 'file' && entry.data.length > 0 && (entry.mode & 0o004) === 0);
      }
      for (const path of before.keys()) if (!after.has(path)) await this.#put(path, { type: 'absent' });
      const scrub = (s: string): string => s.split(scratch).join(this.path === '/' ? '' : this.path);
      return { ...result, stdout: scrub(result.stdout), stderr: scrub(result.stderr) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Copies what the account and key tools read and write (this root's view) into `scratch`. */
  async #stage(scratch: string): Promise<void> {
    const copy = async (path: string, recurse: boolean): Promise<void> => {
      const st = await this.#stat(path);
      if (st === undefined) return;
      const to = join(scratch, path);
      await mkdir(posix.dirname(to), { recursive: true });
      if (st.type === 'directory') {
        await mkdir(to).catch((e: unknown) => {
          if (errnoCode(e) !== 'EEXIST') throw e;
        });
        if (recurse) for (const name of (await this.readdir(path)) ?? []) await copy(posix.join(path, name), true);
        await chown(to, st.uid, st.gid);
        await chmod(to, st.mode);
      } else if (st.type === 'symlink') {
        await symlink(st.linkTarget ?? '', to);
        await lchown(to, st.uid, st.gid);
      } else if (st.type === 'file') {
        const entry = await this.#entry(path);
        await writeFile(to, entry.type === 'file' ? entry.data : Buffer.alloc(0), { mode: 0o600 });
        await chown(to, st.uid, st.gid);
        await chmod(to, st.mode);
      }
    };
    // the directories themselves (their owner and mode), then what is in them
    for (const dir of ['/etc', '/etc/default', '/etc/ssh', '/home', '/var', '/var/log', '/var/mail', '/var/spool', '/var/spool/mail']) await copy(dir, false);
    for (const name of (await this.readdir('/home').catch(() => undefined)) ?? []) await copy(`/home/${name}`, false);
    const etc = ['passwd', 'shadow', 'group', 'gshadow', 'subuid', 'subgid'].flatMap((n) => [n, `${n}-`]);
    for (const name of [...etc, '.pwd.lock', 'login.defs', 'default/useradd']) await copy(`/etc/${name}`, false);
    for (const name of ((await this.readdir('/etc/ssh').catch(() => undefined)) ?? []).filter((n) => /^ssh_host_/u.test(n))) await copy(`/etc/ssh/${name}`, false);
    for (const name of ['lastlog', 'faillog', 'tallylog']) await copy(`/var/log/${name}`, false);
    await copy('/etc/skel', true);
  }
}

/** Every entry under a scratch directory, by guest path. */
async function treeOf(dir: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const path = `${rel}/${name}`;
      const st = await lstat(join(dir, path));
      const owner = { uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        out.set(path, { type: 'directory', mode: st.mode & 0o7777, ...owner });
        await walk(path);
      } else if (st.isSymbolicLink()) out.set(path, { type: 'symlink', target: await readlink(join(dir, path)), ...owner });
      else if (st.isFile()) out.set(path, { type: 'file', data: await readFile(join(dir, path)), mode: st.mode & 0o7777, ...owner, nlink: st.nlink });
      else out.set(path, { type: 'other' });
    }
  };
  await walk('');
  return out;
}

/** A unified diff of one planned change (text files), or a one-line summary. */
export function renderChange(change: PlannedChange): string {
  const owner = change.owner === undefined || (change.owner.uid === 0 && change.owner.gid === 0) ? '' : `, owner ${change.owner.uid}:${change.owner.gid}`;
  const mode = change.mode === undefined ? '' : ` (mode ${change.mode.toString(8).padStart(4, '0')}${owner})`;
  switch (change.kind) {
    case 'mkdir':
      return `mkdir ${change.path}${mode}\n`;
    case 'symlink':
      return `symlink ${change.path} -> ${change.after?.toString('utf8') ?? ''}\n`;
    case 'remove':
      return `remove ${change.path}\n`;
    case 'write': {
      const before = change.before?.toString('utf8') ?? '';
      const after = change.after?.toString('utf8') ?? '';
      const header = `${change.before === undefined ? 'create' : 'modify'} ${change.path}${mode}\n`;
      if (change.secret === true) return `${header}  (secret content not shown)\n`;
      if (change.before?.equals(change.after ?? Buffer.alloc(0)) === true) return `${header}  (same content; mode or owner changes)\n`;
      // big or binary content (a bundle, a runtime) is summarised, not diffed
      const big = (b: Buffer | undefined): boolean => b !== undefined && (b.length > 64 * 1024 || b.subarray(0, 8192).includes(0));
      if (big(change.before) || big(change.after)) return `${header}  (${change.after?.length ?? 0} bytes${change.before === undefined ? '' : `, was ${change.before.length}`}; not shown)\n`;
      return header + createTwoFilesPatch(`a${change.path}`, `b${change.path}`, before, after, '', '', { context: 3 }).split('\n').slice(1).join('\n');
    }
  }
}

/**
 * The Exec of a dry run. Programs that change files under the root they are given (`-R ROOT`,
 * `ssh-keygen -A -f ROOT`) run on a scratch copy (DryRunRoot.simulate) so their effect is planned
 * like any other change; programs that only compute (`openssl passwd`, `visudo -c`) run as they
 * are; anything else is recorded and not run (its output is empty, its exit 0).
 */
export class RecordingExec implements Exec {
  readonly #inner: Exec;
  readonly #root: DryRunRoot | undefined;
  readonly commands: string[][] = [];

  constructor(inner: Exec, root?: DryRunRoot) {
    this.#inner = inner;
    this.#root = root;
  }

  which(name: string): Promise<string | undefined> {
    return this.#inner.which(name);
  }

  run(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    this.commands.push([file, ...args]);
    const root = this.#root;
    const program = posix.basename(file);
    if (root !== undefined) {
      const at = rootArgument(program, args, root.path);
      if (at !== undefined) return root.simulate((dir) => this.#inner.run(file, args.map((a, i) => (i === at ? dir : a)), options));
      if ((program === 'openssl' && args[0] === 'passwd') || (program === 'visudo' && args.includes('-c'))) return this.#inner.run(file, args, options);
    }
    return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
  }
}

/** The index of the argument naming the root a program works on, when it is one that changes files there. */
function rootArgument(program: string, args: readonly string[], rootPath: string): number | undefined {
  if (program === 'ssh-keygen') {
    const f = args.indexOf('-f');
    return args.includes('-A') && f >= 0 && args[f + 1] === rootPath ? f + 1 : undefined;
  }
  const r = args.indexOf('-R');
  return r >= 0 && args[r + 1] === rootPath ? r + 1 : undefined;
}
