// Guest paths as they enter vmctx (cloud-config, passwd homes): one spelling for one path, so no
// check can be skipped by writing `//`, `/./` or a trailing `/`. Pure; links are Root's business.

export type GuestPathResult = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * The normal spelling of an absolute guest path: no empty or `.` components, no trailing `/`.
 * `..` is refused, not folded: next to a link, `a/link/..` is not `a`, so only Root may resolve it.
 */
export function normaliseGuestPath(text: string): GuestPathResult {
  if (!text.startsWith('/')) return { ok: false, reason: 'must be absolute' };
  if (text.includes('\0')) return { ok: false, reason: 'contains a NUL byte' };
  const parts = text.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, reason: 'must not contain ".."' };
  return { ok: true, path: `/${parts.join('/')}` };
}

/** True when `path` is `dir` or below it; both in normal spelling (see normaliseGuestPath). */
export function isGuestPathUnder(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}
