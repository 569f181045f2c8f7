// A drop directory: other processes leave empty files named after an event in it; the owner hears
// of them through inotify (no polling), takes each one (unlinks it) and removes the directory when done.
import { watch } from 'node:fs';
import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface DropWatch {
  close(): void;
}

/** Calls `onChange` whenever an entry of `dir` is added or removed. */
export function watchDropDir(dir: string, onChange: () => void, onError: (error: Error) => void): DropWatch {
  const watcher = watch(dir, () => { onChange(); });
  watcher.on('error', onError);
  return { close: () => { watcher.close(); } };
}

/**
 * Takes every entry now in `dir`: each one this call unlinks is passed to `onTaken` (one a
 * concurrent caller took first is skipped). A missing directory has nothing to take.
 */
export async function takeDropped(dir: string, onTaken: (name: string) => void): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (await unlink(join(dir, name)).then(() => true, () => false)) onTaken(name);
  }
}

/** Removes the directory and whatever is still in it. */
export async function removeDropDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
