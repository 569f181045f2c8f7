// Reads of /dev, /sys and /run for device discovery, and what kind of thing a --source path is:
// the machine's side of finding a context medium (the choosing is agent/datasources/contextmedium.ts).
import { readdir, stat } from 'node:fs/promises';

/** The names in a directory; none when it is missing or unreadable (a /dev without by-label, say). */
export async function listNames(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/** Whether a path exists (a link is followed: a by-label link to a device that is gone is not there). */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export type PathKind = 'directory' | 'file' | 'block-device' | 'other';

/** What a path is (links followed); the system error when it cannot be looked at. */
export async function pathKind(path: string): Promise<PathKind> {
  const st = await stat(path);
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  if (st.isBlockDevice()) return 'block-device';
  return 'other';
}
