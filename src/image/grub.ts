// GRUB for `vmctx mkdisk`, without grub-install or a device: the core images come from
// grub-mkimage (run as an ordinary program on files), and the two things grub-bios-setup does to a
// disk are done here on bytes — boot.img as the MBR (the partition table and disk signature kept)
// told where the core starts, and the core's first sector (diskboot) given the blocklist of the
// rest. Offsets from GRUB's include/grub/i386/pc/boot.h, include/grub/offsets.h and
// util/setup.c (GRUB 2.06).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmctxError } from '../shared/errors.js';
import { HostExec } from '../host/exec.js';

export const SECTOR = 512;
/** boot.img: the BIOS parameter block a floppy/FAT sector carries (kept from the sector on disk). */
export const BOOT_BPB_START = 0x3;
export const BOOT_BPB_END = 0x5a;
/** boot.img: the LBA (64-bit LE) of the core's first sector. */
export const BOOT_KERNEL_SECTOR = 0x5c;
/** boot.img: the boot drive (0xff: the one the BIOS passes in DL). */
export const BOOT_DRIVE = 0x64;
/** boot.img: a jump over the "is DL a hard disk" fix-up; NOPs on a hard disk (as grub-bios-setup). */
export const BOOT_DRIVE_CHECK = 0x66;
/** The MBR's disk signature, then the partition table and 0x55AA: never overwritten. */
export const BOOT_WINDOWS_NT_MAGIC = 0x1b8;
/** diskboot (the core's first sector): one blocklist entry at its end, {start u64, len u16, segment u16}. */
export const BLOCKLIST_START = SECTOR - 12;
export const BLOCKLIST_LEN = SECTOR - 4;
export const BLOCKLIST_SEGMENT = SECTOR - 2;
/** Where diskboot loads the rest of the core: GRUB_BOOT_I386_PC_KERNEL_SEG + one sector. */
export const CORE_LOAD_SEGMENT = 0x800 + (SECTOR >> 4);

export const GRUB_DIRS = { bios: '/usr/lib/grub/i386-pc', uefi: '/usr/lib/grub/x86_64-efi' } as const;
const GRUB_PACKAGES = { bios: 'grub-pc-bin', uefi: 'grub-efi-amd64-bin' } as const;

/** What each core image carries (no module is read from the disk at boot: grub.cfg needs no insmod). */
const COMMON_MODULES = ['part_msdos', 'part_gpt', 'ext2', 'search', 'search_fs_uuid', 'normal', 'linux', 'configfile', 'echo', 'test', 'serial', 'terminal', 'boot', 'halt', 'reboot'];
export const GRUB_MODULES = {
  bios: ['biosdisk', ...COMMON_MODULES],
  uefi: ['fat', 'efi_gop', ...COMMON_MODULES],
} as const;

export type Firmware = 'bios' | 'uefi';

/** The modules the image needs that are not installed: an error naming Debian's package. */
export function checkGrubModules(firmware: Firmware, dir: string = GRUB_DIRS[firmware]): void {
  const needed = [...GRUB_MODULES[firmware].map((m) => `${m}.mod`), ...(firmware === 'bios' ? ['boot.img', 'diskboot.img', 'kernel.img', 'lzma_decompress.img'] : ['kernel.img'])];
  const missing = needed.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new VmctxError('ERR_MKDISK_MISSING', `GRUB's ${firmware === 'bios' ? 'i386-pc' : 'x86_64-efi'} files are missing from ${dir} (${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''}): install Debian's ${GRUB_PACKAGES[firmware]} package`, { details: { missing } });
  }
}

/** The config built into the core: find the root file system by UUID and let `normal` read its /boot/grub/grub.cfg. */
export function earlyConfig(uuid: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/u.test(uuid)) throw new VmctxError('ERR_MKDISK_NOT_EXT', `not a file-system UUID: ${uuid}`);
  return `search --no-floppy --fs-uuid --set=root ${uuid}\nset prefix=($root)/boot/grub\n`;
}

const host = new HostExec();
const MKIMAGE_DEADLINE_MS = 120_000;

/** Runs grub-mkimage for one firmware: the core (i386-pc, diskboot first) or BOOTX64.EFI. */
export async function buildGrubImage(firmware: Firmware, uuid: string, dir: string = GRUB_DIRS[firmware]): Promise<Buffer> {
  checkGrubModules(firmware, dir);
  const mkimage = await host.which('grub-mkimage');
  if (mkimage === undefined) throw new VmctxError('ERR_MKDISK_MISSING', `grub-mkimage is not installed: install Debian's ${GRUB_PACKAGES[firmware]} package (it brings grub-common)`);
  const work = await mkdtemp(join(tmpdir(), 'vmctx-grub-'));
  try {
    await writeFile(join(work, 'early.cfg'), earlyConfig(uuid));
    const out = join(work, 'image');
    const format = firmware === 'bios' ? 'i386-pc' : 'x86_64-efi';
    const r = await host.run(mkimage, ['-d', dir, '-O', format, '-o', out, '-c', join(work, 'early.cfg'), '-p', '/boot/grub', ...GRUB_MODULES[firmware]], { timeoutMs: MKIMAGE_DEADLINE_MS });
    if (r.code !== 0) throw new VmctxError('ERR_MKDISK_GRUB', `grub-mkimage -O ${format} exited with ${r.code ?? r.signal ?? '?'}: ${r.stderr.trim().slice(0, 300)}`);
    return await readFile(out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The core as it goes on the disk at `lba`: padded to whole sectors, its first sector's blocklist
 * naming the sectors after it (start lba+1, count), the entry before it a terminator.
 */
export function placeCore(core: Buffer, lba: number): Buffer {
  const sectors = Math.ceil(core.length / SECTOR);
  if (sectors < 2) throw new VmctxError('ERR_MKDISK_GRUB', 'the GRUB core image is too small to be an i386-pc core');
  const out = Buffer.alloc(sectors * SECTOR);
  core.copy(out);
  // the template diskboot.img carries: len 0, segment 0x820 (a sanity check on the image's layout)
  if (out.readUInt16LE(BLOCKLIST_SEGMENT) !== CORE_LOAD_SEGMENT) throw new VmctxError('ERR_MKDISK_GRUB', `the core's first sector is not GRUB's diskboot (blocklist segment 0x${out.readUInt16LE(BLOCKLIST_SEGMENT).toString(16)})`);
  out.writeBigUInt64LE(BigInt(lba + 1), BLOCKLIST_START);
  out.writeUInt16LE(sectors - 1, BLOCKLIST_LEN);
  out.writeUInt16LE(CORE_LOAD_SEGMENT, BLOCKLIST_SEGMENT);
  out.fill(0, BLOCKLIST_START - 12, BLOCKLIST_START);
  return out;
}

/** GRUB's boot.img made the disk's first sector: its code, the core's LBA, the table and signature kept from `current`. */
export function bootSector(bootImg: Buffer, current: Buffer, coreLba: number): Buffer {
  if (bootImg.length !== SECTOR || bootImg.readUInt16LE(510) !== 0xaa55) throw new VmctxError('ERR_MKDISK_GRUB', 'boot.img is not a 512-byte boot sector');
  if (current.length !== SECTOR) throw new VmctxError('ERR_MKDISK_GRUB', 'the disk\'s first sector could not be read');
  const out = Buffer.from(current);
  bootImg.copy(out, 0, 0, BOOT_BPB_START);
  bootImg.copy(out, BOOT_BPB_END, BOOT_BPB_END, BOOT_WINDOWS_NT_MAGIC);
  out.writeBigUInt64LE(BigInt(coreLba), BOOT_KERNEL_SECTOR);
  out[BOOT_DRIVE] = 0xff;
  out[BOOT_DRIVE_CHECK] = 0x90;
  out[BOOT_DRIVE_CHECK + 1] = 0x90;
  out.writeUInt16LE(0xaa55, 510);
  return out;
}
