// A bounded read of a kernel-made file (/sys/class/dmi/id/*, /proc/cmdline): such files say no
// size (procfs) or a page (sysfs), so the bytes are read up to a cap, never the file's whole.
import { open } from 'node:fs/promises';
import { errnoCode } from '../shared/errors.js';

/** Its text (NULs as spaces, trimmed), `over` when it has more than `max` bytes; undefined when absent. */
export async function readKernelFile(path: string, max: number): Promise<{ text: string; over: boolean } | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(max + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > max) return { text: '', over: true };
    }
    return { text: buffer.subarray(0, size).toString('utf8').replace(/\0/gu, ' ').trim(), over: false };
  } finally {
    await handle.close();
  }
}
