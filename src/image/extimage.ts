// Before the file system is opened: where it is (a whole-file file system, or a partition of an
// MBR/GPT disk image) and whether libext2fs may write it (superblock state and feature flags).
import { VmctxError } from '../shared/errors.js';
import type { FileDisk } from './disk.js';

export interface Superblock {
  readonly blockSize: number;
  readonly blocks: number;
  readonly freeBlocks: number;
  readonly label: string;
  readonly state: number;
  readonly compat: number;
  readonly incompat: number;
  readonly roCompat: number;
  /** "ext2", "ext3" (journal) or "ext4" (extents and friends). */
  readonly kind: 'ext2' | 'ext3' | 'ext4';
}

const EXT_MAGIC = 0xef53;
const INCOMPAT = { compression: 0x1, filetype: 0x2, recover: 0x4, journalDev: 0x8, metaBg: 0x10, extents: 0x40, bit64: 0x80, mmp: 0x100, flexBg: 0x200, eaInode: 0x400, dirdata: 0x1000, csumSeed: 0x2000, largedir: 0x4000, inlineData: 0x8000, encrypt: 0x10000, casefold: 0x20000 };
const RO_COMPAT = { sparseSuper: 0x1, largeFile: 0x2, btreeDir: 0x4, hugeFile: 0x8, gdtCsum: 0x10, dirNlink: 0x20, extraIsize: 0x40, snapshot: 0x80, quota: 0x100, bigalloc: 0x200, metadataCsum: 0x400, replica: 0x800, readonly: 0x1000, project: 0x2000, verity: 0x8000, orphanPresent: 0x10000 };
/** What the bundled libext2fs writes safely; anything else is refused with its name. */
const SAFE_INCOMPAT = INCOMPAT.filetype | INCOMPAT.metaBg | INCOMPAT.extents | INCOMPAT.bit64 | INCOMPAT.flexBg | INCOMPAT.csumSeed;
const SAFE_RO_COMPAT = RO_COMPAT.sparseSuper | RO_COMPAT.largeFile | RO_COMPAT.btreeDir | RO_COMPAT.hugeFile | RO_COMPAT.gdtCsum | RO_COMPAT.dirNlink | RO_COMPAT.extraIsize | RO_COMPAT.metadataCsum;

function names(table: Record<string, number>, bits: number): string[] {
  const out = Object.entries(table).filter(([, bit]) => (bits & bit) !== 0).map(([n]) => n);
  const known = Object.values(table).reduce((a, b) => a | b, 0);
  if ((bits & ~known) !== 0) out.push(`unknown 0x${(bits & ~known).toString(16)}`);
  return out;
}

export function parseSuperblock(buf: Buffer): Superblock | undefined {
  if (buf.length < 1024 || buf.readUInt16LE(56) !== EXT_MAGIC) return undefined;
  const logBlock = buf.readUInt32LE(24);
  if (logBlock > 6) return undefined;
  const incompat = buf.readUInt32LE(96);
  const compat = buf.readUInt32LE(92);
  const hasJournal = (compat & 0x4) !== 0;
  const ext4 = (incompat & (INCOMPAT.extents | INCOMPAT.bit64 | INCOMPAT.flexBg)) !== 0;
  // 64bit file systems keep the high halves of the block counts at 0x150/0x158
  const bit64 = (incompat & INCOMPAT.bit64) !== 0 && buf.length >= 0x15c;
  return {
    blockSize: 1024 << logBlock,
    blocks: buf.readUInt32LE(4) + (bit64 ? buf.readUInt32LE(0x150) * 2 ** 32 : 0),
    freeBlocks: buf.readUInt32LE(12) + (bit64 ? buf.readUInt32LE(0x158) * 2 ** 32 : 0),
    label: buf.subarray(120, 136).toString('latin1').replace(/\0.*$/su, ''),
    state: buf.readUInt16LE(58),
    compat,
    incompat,
    roCompat: buf.readUInt32LE(100),
    kind: ext4 ? 'ext4' : hasJournal ? 'ext3' : 'ext2',
  };
}

export interface Located {
  readonly offset: number;
  readonly superblock: Superblock;
  /** "whole image", or "partition N (MBR|GPT)". */
  readonly where: string;
}

const LINUX_GPT_GUID = '0fc63daf-8483-4772-8e79-3d69d8477de4';

function guid(b: Buffer): string {
  const h = (x: Buffer): string => x.toString('hex');
  const le = (x: Buffer): string => h(Buffer.from(x).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}`;
}

interface Partition {
  readonly index: number;
  readonly offset: number;
  readonly linux: boolean;
  readonly scheme: 'MBR' | 'GPT';
}

function partitions(disk: FileDisk): Partition[] {
  const mbr = disk.readAt(512, 0);
  if (mbr.readUInt16LE(510) !== 0xaa55) return [];
  const out: Partition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = mbr.subarray(446 + i * 16, 446 + (i + 1) * 16);
    const type = e[4] ?? 0;
    const lba = e.readUInt32LE(8);
    if (type === 0xee) {
      const header = disk.readAt(512, 512);
      if (header.subarray(0, 8).toString('latin1') !== 'EFI PART') return [];
      const entriesLba = Number(header.readBigUInt64LE(72));
      const count = Math.min(header.readUInt32LE(80), 256);
      const size = header.readUInt32LE(84);
      if (size < 128 || size > 4096) return [];
      const table = disk.readAt(count * size, entriesLba * 512);
      const gpt: Partition[] = [];
      for (let j = 0; j < count; j++) {
        const entry = table.subarray(j * size, (j + 1) * size);
        if (entry.subarray(0, 16).every((x) => x === 0)) continue;
        gpt.push({ index: j + 1, offset: Number(entry.readBigUInt64LE(32)) * 512, linux: guid(entry.subarray(0, 16)) === LINUX_GPT_GUID, scheme: 'GPT' });
      }
      return gpt;
    }
    if (type !== 0 && lba > 0) out.push({ index: i + 1, offset: lba * 512, linux: type === 0x83, scheme: 'MBR' });
  }
  return out;
}

export const NOT_AN_IMAGE = 'not an ext2/3/4 image: no ext superblock at 1024 and no MBR/GPT partition table';

/**
 * How long the image says it is, from its first bytes (at least 2 KiB, before anything else is
 * read): an ext superblock at 1024 gives the file system's size; an MBR the end of its last
 * partition; a GPT the block after its backup header. Undefined: none of these (not an image).
 */
export function declaredImageSize(head: Buffer): { bytes: number; what: string } | undefined {
  const sb = head.length >= 2048 ? parseSuperblock(head.subarray(1024, 2048)) : undefined;
  if (sb !== undefined) return { bytes: sb.blocks * sb.blockSize, what: `the ${sb.kind} file system` };
  if (head.length < 1024 || head.readUInt16LE(510) !== 0xaa55) return undefined;
  let end = 0;
  for (let i = 0; i < 4; i++) {
    const e = head.subarray(446 + i * 16, 446 + (i + 1) * 16);
    if (e[4] === 0xee && head.subarray(512, 520).toString('latin1') === 'EFI PART') {
      const backup = Number(head.readBigUInt64LE(512 + 32));
      return backup > 0 ? { bytes: (backup + 1) * 512, what: 'the GPT partition table' } : undefined;
    }
    if ((e[4] ?? 0) !== 0) end = Math.max(end, (e.readUInt32LE(8) + e.readUInt32LE(12)) * 512);
  }
  return end > 0 ? { bytes: end, what: 'the MBR partition table' } : undefined;
}

/** Finds the ext file system: the whole image, the partition asked for, or the one Linux partition. */
export function locateFileSystem(disk: FileDisk, partition?: number): Located {
  const whole = parseSuperblock(disk.readAt(1024, 1024));
  if (whole !== undefined && partition === undefined) return { offset: 0, superblock: whole, where: 'whole image' };
  const parts = partitions(disk);
  if (parts.length === 0 && whole !== undefined) throw new VmctxError('ERR_IMAGE', `--partition ${partition ?? ''}: the image has no partition table (its file system, ${whole.kind}, fills the whole image); leave --partition out`);
  if (parts.length === 0) throw new VmctxError('ERR_IMAGE', NOT_AN_IMAGE);
  const candidates = partition !== undefined ? parts.filter((p) => p.index === partition) : parts.filter((p) => p.linux);
  if (partition !== undefined && candidates.length === 0) throw new VmctxError('ERR_IMAGE', `no partition ${partition} (found ${parts.map((p) => p.index).join(', ')})`);
  const found = candidates.map((p) => ({ p, sb: parseSuperblock(disk.readAt(1024, p.offset + 1024)) })).filter((c) => c.sb !== undefined);
  if (found.length === 0) throw new VmctxError('ERR_IMAGE', `no ext file system on ${partition === undefined ? 'a Linux partition' : `partition ${partition}`}`);
  if (found.length > 1) throw new VmctxError('ERR_IMAGE', `several Linux partitions carry ext file systems (${found.map((c) => c.p.index).join(', ')}); pick one with --partition N`);
  const [c] = found;
  if (c?.sb === undefined) throw new VmctxError('ERR_IMAGE', 'no ext file system found');
  return { offset: c.p.offset, superblock: c.sb, where: `partition ${c.p.index} (${c.p.scheme})` };
}

/** A file system that claims more blocks than the image holds was cut short (a failed copy or download). */
export function checkComplete(located: Located, imageBytes: number): void {
  const needed = located.superblock.blocks * located.superblock.blockSize;
  if (located.offset + needed > imageBytes) {
    throw new VmctxError('ERR_IMAGE', `the image is truncated: the file system (${located.where}) is ${needed} bytes but the image holds only ${imageBytes - located.offset} from its start`);
  }
}

/** Refuses what libext2fs cannot write safely, and dirty or damaged file systems (unless forced). */
export function checkWritable(sb: Superblock, force: boolean): string[] {
  const warnings: string[] = [];
  const badIncompat = sb.incompat & ~SAFE_INCOMPAT & ~INCOMPAT.recover;
  const badRo = sb.roCompat & ~SAFE_RO_COMPAT & ~RO_COMPAT.orphanPresent;
  if (badIncompat !== 0 || badRo !== 0) {
    throw new VmctxError('ERR_IMAGE', `the file system uses features vmctx cannot write safely: ${[...names(INCOMPAT, badIncompat), ...names(RO_COMPAT, badRo)].join(', ')}; nothing was changed`);
  }
  const dirty: string[] = [];
  if ((sb.incompat & INCOMPAT.recover) !== 0) dirty.push('its journal needs recovery (the image was not cleanly unmounted)');
  if ((sb.roCompat & RO_COMPAT.orphanPresent) !== 0) dirty.push('it has orphan inodes to process');
  if ((sb.state & 2) !== 0) dirty.push('it is marked as having errors');
  if (dirty.length > 0) {
    if (!force) throw new VmctxError('ERR_IMAGE', `refusing to write: ${dirty.join('; ')}. Run e2fsck on it first, or pass --force`);
    warnings.push(`--force: writing although ${dirty.join('; ')}`);
  }
  return warnings;
}
