// Opens a regular file or a block device as a ByteSource for the ISO 9660 and FAT readers (read-only, no mount),
// and what sysfs says of a block device by its device number (its size; the file behind a loop device).
import { readFileSync, realpathSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from '../formats/iso9660/source.js';

export interface OpenedSource extends ByteSource {
  close(): Promise<void>;
}

/** A device number's major and minor (glibc's gnu_dev_major/gnu_dev_minor on Node's numeric st_rdev). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const major = (Math.floor(rdev / 256) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = ((rdev & 0xff) | (Math.floor(rdev / 4096) & ~0xff)) >>> 0;
  return { major: major >>> 0, minor };
}

/** The block device's directory in sysfs, found by its device number (so any name of it works: by-label links too). */
export function blockDeviceSysDir(rdev: number, sysDir = '/sys'): string {
  const { major, minor } = deviceNumbers(rdev);
  return `${sysDir}/dev/block/${major}:${minor}`;
}

/**
 * Whether one block device is a partition of the other (either way round), from where sysfs puts
 * them: a partition's directory sits inside its disk's. Undefined when neither is.
 */
export function partitionOf(a: number, b: number, sysDir = '/sys'): 'a in b' | 'b in a' | undefined {
  let pa: string;
  let pb: string;
  try {
    pa = realpathSync(blockDeviceSysDir(a, sysDir));
    pb = realpathSync(blockDeviceSysDir(b, sysDir));
  } catch {
    return undefined;
  }
  if (pa.startsWith(`${pb}/`)) return 'a in b';
  if (pb.startsWith(`${pa}/`)) return 'b in a';
  return undefined;
}

/**
 * A block device's size in bytes from sysfs (512-byte sectors), by its device number; undefined when
 * the kernel does not tell. Node's fstat says 0 for a device and Node has no lseek(SEEK_END).
 */
export function blockDeviceBytes(rdev: number, sysDir = '/sys'): number | undefined {
  let text: string;
  try {
    text = readFileSync(`${blockDeviceSysDir(rdev, sysDir)}/size`, 'utf8');
  } catch {
    return undefined;
  }
  const sectors = Number(text.trim());
  return Number.isSafeInteger(sectors) && sectors > 0 ? sectors * 512 : undefined;
}

/**
 * The file a loop device (or a partition of one) reads, from sysfs; undefined for any other device,
 * a detached loop device, or a backing file the kernel marks " (deleted)".
 */
export function loopBackingFile(rdev: number, sysDir = '/sys'): string | undefined {
  const dir = blockDeviceSysDir(rdev, sysDir);
  for (const candidate of [`${dir}/loop/backing_file`, `${dir}/../loop/backing_file`]) {
    let text: string;
    try {
      text = readFileSync(candidate, 'utf8');
    } catch {
      continue;
    }
    const path = text.replace(/\n$/u, '');
    return path === '' || path.endsWith(' (deleted)') ? undefined : path;
  }
  return undefined;
}

export async function openByteSource(path: string, sysDir = '/sys'): Promise<OpenedSource> {
  const handle: FileHandle = await open(path, 'r');
  try {
    const st = await handle.stat();
    const size = st.isFile() ? st.size : st.isBlockDevice() ? blockDeviceBytes(st.rdev, sysDir) : undefined;
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
