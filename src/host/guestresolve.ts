// Where a guest path really is: its spelling after the links Root would follow, found through
// the Root itself, so decisions such as "inside whose home" rest on the resolved path, never on text.
import { posix } from 'node:path';
import { normaliseGuestPath, isGuestPathUnder } from '../formats/guestpath.js';
import { VmctxError } from '../shared/errors.js';
import { MAX_SYMLINKS, linkTarget } from './linkwalk.js';
import { linkIsTrusted, type Root, type UserTree } from './root.js';

export interface ResolveOptions {
  /** Resolve the final component too (a home named in /etc/passwd), not only its directories. */
  readonly followFinal?: boolean;
  /**
   * Stop resolving once the path so far satisfies this (it entered a user's tree): the rest is
   * kept as written, and the write under that tree's rules refuses any link in it.
   */
  readonly stopAt?: (physical: string) => boolean;
}

/**
 * The physical spelling of `guestPath` inside `root`: links are followed the way Root follows
 * them (inside the root, only trusted ones); where a link would not be followed, or a component
 * does not exist yet, the rest is kept as written. Throws ERR_PATH_INVALID for a bad path.
 */
export async function resolveGuestPath(root: Root, guestPath: string, options: ResolveOptions = {}): Promise<string> {
  const normal = normaliseGuestPath(guestPath);
  if (!normal.ok) throw new VmctxError('ERR_PATH_INVALID', `${guestPath}: ${normal.reason}`, { details: { path: guestPath } });
  const pending = normal.path.split('/').filter((p) => p !== '');
  const final = options.followFinal === true ? undefined : pending.pop();
  const finish = (dirs: readonly string[], rest: readonly string[]): string => posix.join('/', ...dirs, ...rest, ...(final === undefined ? [] : [final]));
  let current: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const here = `/${current.join('/')}`;
    if (options.stopAt?.(here) === true && current.length > 0) return finish(current, pending);
    const part = pending.shift() ?? '';
    if (part === '..') {
      current.pop();
      continue;
    }
    const next = [...current, part];
    const st = await root.lstat(`/${next.join('/')}`).catch(() => undefined);
    if (st?.type !== 'symlink' || st.linkTarget === undefined) {
      if (st === undefined || st.type !== 'directory') return finish(next, pending);
      current = next;
      continue;
    }
    const dir = await root.lstat(here).catch(() => undefined);
    if (dir === undefined || !linkIsTrusted(st, dir) || ++links > MAX_SYMLINKS) return finish(current, [part, ...pending]);
    const target = linkTarget(st.linkTarget);
    if (target.fromRoot) current = [];
    pending.unshift(...target.parts);
  }
  return finish(current, []);
}

/** Every non-root account's home as Root resolves it (the text of /etc/passwd, normalised, then its links). */
export async function resolvedHomes(root: Root, entries: readonly { readonly uid: number; readonly home: string }[]): Promise<UserTree[]> {
  const homes: UserTree[] = [];
  for (const e of entries) {
    if (e.uid === 0) continue;
    const normal = normaliseGuestPath(e.home);
    if (!normal.ok || normal.path === '/') continue;
    const base = await resolveGuestPath(root, normal.path, { followFinal: true }).catch(() => normal.path);
    if (base !== '/') homes.push({ base, uid: e.uid });
  }
  return homes;
}

/**
 * Where a write to `guestPath` lands and whose home that is: the resolved path (resolution stops
 * on entering a home, so a user's own links in it are left for Root to refuse) and the innermost
 * home it is in, if any.
 */
export async function placeInHomes(root: Root, guestPath: string, homes: readonly UserTree[]): Promise<{ path: string; tree: UserTree | undefined }> {
  const inside = (p: string): UserTree | undefined =>
    homes.filter((h) => isGuestPathUnder(p, h.base)).sort((a, b) => b.base.length - a.base.length)[0];
  const path = await resolveGuestPath(root, guestPath, { stopAt: (p) => inside(p) !== undefined });
  return { path, tree: inside(path) };
}
