// The symlink rule every Root shares: a guest path resolved component by component inside its root, at most MAX_SYMLINKS links per walk, an absolute target restarting at the root (never the host's), ".." never above it.
import { posix } from 'node:path';
import { VmctxError } from '../shared/errors.js';

/** Links one walk may follow (the kernel's limit): more is a loop, ERR_PATH_LOOP. */
export const MAX_SYMLINKS = 40;

/** What a link's target does to the walk: its components come next, from the root when it is absolute. */
export function linkTarget(target: string): { readonly fromRoot: boolean; readonly parts: string[] } {
  return { fromRoot: target.startsWith('/'), parts: target.split('/').filter((p) => p !== '' && p !== '.') };
}

/** Where a final link leads, as a normalised guest path: from the root when absolute, else from the link's directory. */
export function followFinal(linkDir: string, target: string): string {
  return posix.normalize(`/${target.startsWith('/') ? target : posix.join(linkDir, target)}`);
}

/** What a walk needs to know of one entry of the tree it walks (a directory on the host, an ext image). */
export type EntryKind = 'missing' | 'directory' | 'symlink' | 'other';

export interface LinkWalkOps {
  /** The kind of the entry at a resolved guest path (never following a link). */
  kind(path: string): Promise<EntryKind>;
  readlink(path: string): Promise<string>;
  /** A missing directory on the way: create it (true) or stop the walk (false: it resolves to undefined). */
  missing(path: string): Promise<boolean>;
  /** Called before a link on the way is followed: throws to refuse it. */
  beforeFollow?(path: string): void;
}

export interface Resolved {
  /** The real path in the tree (no symlinks in its directories). */
  readonly path: string;
  readonly parent: string;
  readonly name: string;
}

function tooMany(guestPath: string): VmctxError {
  return new VmctxError('ERR_PATH_LOOP', `${guestPath}: too many symbolic links`);
}

/**
 * Resolves the directories of an absolute guest path inside the tree, following links on the way
 * (within the tree), never the final component. Undefined when a directory is missing and not made.
 */
export async function walkParents(guestPath: string, ops: LinkWalkOps): Promise<Resolved | undefined> {
  if (!guestPath.startsWith('/') || guestPath.includes('\0')) throw new VmctxError('ERR_PATH_INVALID', `${guestPath}: guest paths must be absolute, without NUL`);
  let pending = guestPath.split('/').filter((p) => p !== '' && p !== '.');
  if (pending.length === 0) throw new VmctxError('ERR_PATH_INVALID', `${guestPath}: the root itself`);
  const name = pending.pop() ?? '';
  if (name === '..') throw new VmctxError('ERR_PATH_INVALID', `${guestPath}: ends in ..`);
  let current: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() ?? '';
    if (part === '..') {
      current.pop();
      continue;
    }
    const next = `/${[...current, part].join('/')}`;
    const kind = await ops.kind(next);
    if (kind === 'missing') {
      if (!(await ops.missing(next))) return undefined;
      current.push(part);
      continue;
    }
    if (kind === 'symlink') {
      ops.beforeFollow?.(next);
      if (++links > MAX_SYMLINKS) throw tooMany(guestPath);
      const target = linkTarget(await ops.readlink(next));
      if (target.fromRoot) current = [];
      pending = [...target.parts, ...pending];
      continue;
    }
    if (kind !== 'directory') throw new VmctxError('ERR_PATH_NOT_DIR', `${next}: not a directory`);
    current.push(part);
  }
  const parent = `/${current.join('/')}`;
  return { path: posix.join(parent, name), parent, name };
}

/** Resolves a guest path following the final component too (for reads), at most MAX_SYMLINKS final links. */
export async function walkAll(guestPath: string, ops: LinkWalkOps): Promise<string | undefined> {
  let path = guestPath;
  for (let links = 0; ; links++) {
    const r = await walkParents(path, ops);
    if (r === undefined) return undefined;
    if ((await ops.kind(r.path)) !== 'symlink') return r.path;
    if (links >= MAX_SYMLINKS) throw tooMany(guestPath);
    path = followFinal(r.parent, await ops.readlink(r.path));
  }
}
