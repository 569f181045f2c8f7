// vmctx's own directories (/run/vmctx, the state dir, /var/log/vmctx, /var/cache/vmctx, the
// scripts' work dirs): root's and writable by no one else before anything is written there —
// repaired when they are not (chown root, chmod go-w, anything another user planted in them removed),
// with a line saying what was repaired.
import { VmctxError } from '../shared/errors.js';
import type { Root } from './root.js';

/** vmctx's own identity (root on a guest; the developer for a `--root` demo). */
function self(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/**
 * Makes `guestPath` a directory of vmctx's own: created with `mode` (and root's) when missing;
 * when it exists but another user owns it or group/others can write it, chowned to root and
 * made go-w (and no wider than `mode`), and every entry in it that is not root's (a link, a file, a directory someone
 * planted) removed, since vmctx never leaves such things there. A link or a non-directory in its
 * place is refused (ERR_PATH_SYMLINK / ERR_PATH_NOT_DIR). Returns what was repaired, one line each.
 */
export async function ensureOwnDir(root: Root, guestPath: string, mode: number): Promise<string[]> {
  const me = self();
  const st = await root.lstat(guestPath);
  if (st === undefined) {
    await root.ensureDir(guestPath, { mode, owner: me });
    return [];
  }
  if (st.type === 'symlink') throw new VmctxError('ERR_PATH_SYMLINK', `${guestPath}: vmctx's own directory is a symlink (to ${st.linkTarget ?? '?'}); refusing to use it`, { details: { path: guestPath } });
  if (st.type !== 'directory') throw new VmctxError('ERR_PATH_NOT_DIR', `${guestPath}: vmctx's own directory exists and is not a directory; refusing to use it`, { details: { path: guestPath } });
  const foreignOwner = st.uid !== 0 && st.uid !== me.uid;
  const writable = (st.mode & 0o022) !== 0;
  if (!foreignOwner && !writable) return [];
  const repairs: string[] = [];
  // never wider than wanted: whatever else was opened up (setuid, sticky, group or world bits) goes too
  const fixedMode = st.mode & mode & 0o7777 & ~0o022;
  // on an open descriptor of the directory itself (Root never follows a final link for ensureDir)
  await root.ensureDir(guestPath, { mode: fixedMode, owner: foreignOwner ? me : { uid: st.uid, gid: st.gid } });
  repairs.push(`${guestPath} was ${foreignOwner ? `owned by uid ${st.uid}` : 'root\'s'} with mode ${(st.mode & 0o7777).toString(8)}; made root's, mode ${fixedMode.toString(8)}`);
  // until now someone else could write there: what they left is not vmctx's
  for (const name of (await root.readdir(guestPath)) ?? []) {
    const path = `${guestPath.replace(/\/+$/u, '')}/${name}`;
    const entry = await root.lstat(path);
    if (entry === undefined || entry.uid === 0 || entry.uid === me.uid) continue;
    if (entry.type === 'directory') {
      repairs.push(...(await ensureOwnDir(root, path, entry.mode & 0o7777 & ~0o022)));
      continue;
    }
    await root.remove(path);
    repairs.push(`${path} (a ${entry.type} of uid ${entry.uid}${entry.linkTarget === undefined ? '' : ` pointing to ${entry.linkTarget}`}) removed`);
  }
  return repairs;
}
