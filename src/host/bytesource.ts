// Opens a regular file or a block device as a ByteSource for the ISO 9660 and FAT readers (read-only, no mount).
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from '../formats/iso9660/source.js';

export interface OpenedSource extends ByteSource {
  close(): Promise<void>;
}

/** Size of a block device from sysfs (512-byte sectors), when the kernel tells. */
async function blockDeviceSize(path: string, sysDir: string): Promise<number | undefined> {
  const text = await readFile(`${sysDir}/class/block/${basename(path)}/size`, 'utf8').catch(() => undefined);
  const sectors = text === undefined ? NaN : Number(text.trim());
  return Number.isFinite(sectors) && sectors > 0 ? sectors * 512 : undefined;
}

export async function openByteSource(path: string, sysDir = '/sys'): Promise<OpenedSource> {
  const handle: FileHandle = await open(path, 'r');
  try {
    const st = await handle.stat();
    const size = st.isFile() ? st.size : st.isBlockDevice() ? await blockDeviceSize(path, sysDir) : undefined;
    return {
      size,
      async read(offset, length) {
        const buf = Buffer.alloc(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return buf.subarray(0, done);
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * What a path names, links followed: the device number of a block device, else device and inode;
 * so /dev/disk/by-label/cidata and /dev/vdb are one medium. Undefined when it cannot be learnt.
 */
export async function sourceIdentity(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return undefined;
  return st.isBlockDevice() || st.isCharacterDevice() ? `rdev:${st.rdev}` : `ino:${st.dev}:${st.ino}`;
}
