// Partition tables of a disk copied onto a larger one: a GPT's backup header and entries moved to
// the new end (CRC32s recomputed, the primary's alternate and last usable LBAs updated, the
// protective MBR widened), an MBR disk just bigger; `--grow-last` grows the last partition to fill.
// Pure functions over the first bytes of the disk: they return the writes, the caller does them.
import { VmctxError } from '../shared/errors.js';

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as the UEFI spec uses for GPT headers and entry arrays). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface Write {
  readonly position: number;
  readonly data: Buffer;
}

export interface TablePlan {
  readonly scheme: 'gpt' | 'mbr';
  /** What will be done, in words (for the summary). */
  readonly actions: string[];
  /** The writes that make the table of a `sourceBytes` disk fit one of `diskBytes` (none for a same-size copy without --grow-last). */
  writes(diskBytes: number, sourceBytes: number): Write[];
}

const EXTENDED = new Set([0x05, 0x0f, 0x85]);
const GPT_SIGNATURE = 'EFI PART';
/** How much of the disk's start the plan needs (MBR, GPT header, 128 entries of 128 bytes at 4 KiB sectors). */
export const TABLE_HEAD_BYTES = 1024 * 1024;

function mbrValid(head: Buffer): boolean {
  return head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa;
}

interface MbrEntry {
  readonly index: number;
  readonly type: number;
  readonly start: number;
  readonly sectors: number;
}

function mbrEntries(head: Buffer): MbrEntry[] {
  const out: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + i * 16;
    const type = head[e + 4] ?? 0;
    const sectors = head.readUInt32LE(e + 12);
    if (type !== 0 && sectors > 0) out.push({ index: i + 1, type, start: head.readUInt32LE(e + 8), sectors });
  }
  return out;
}

/** The GPT's sector size: where "EFI PART" is (LBA 1 of 512- or 4096-byte sectors). */
function gptSectorSize(head: Buffer): number | undefined {
  for (const ss of [512, 4096]) if (head.length >= ss + 92 && head.subarray(ss, ss + 8).toString('latin1') === GPT_SIGNATURE) return ss;
  return undefined;
}

/** An MBR entry's end CHS set to the "beyond 1024 cylinders" value tools write for large disks. */
function maxChs(sector: Buffer, entry: number): void {
  sector[entry + 5] = 0xfe;
  sector[entry + 6] = 0xff;
  sector[entry + 7] = 0xff;
}

/**
 * What the disk whose first bytes are `head` needs when copied to a larger disk (or, with
 * growLast, to fill its own): undefined when it has no partition table. Throws
 * ERR_SPARSECOPY_GPT_CRC for a GPT whose header or entries fail their CRC32 (nothing is moved
 * then), ERR_SPARSECOPY_GROW when --grow-last cannot grow the last partition.
 */
export function planTable(head: Buffer, growLast: boolean): TablePlan | undefined {
  if (!mbrValid(head) && gptSectorSize(head) === undefined) return undefined;
  const ss = gptSectorSize(head);
  if (ss !== undefined) return planGpt(head, ss, growLast);
  return planMbr(head, growLast);
}

/** A boot sector with 0x55AA but no partition table (a FAT or NTFS file system): boot flags other than 0 and 0x80, or a partition at sector 0. */
function looksLikeTable(head: Buffer, entries: readonly MbrEntry[]): boolean {
  for (let i = 0; i < 4; i++) if (![0, 0x80].includes(head[446 + i * 16] ?? 0)) return false;
  return entries.every((e) => e.start > 0);
}

function planMbr(head: Buffer, growLast: boolean): TablePlan | undefined {
  const entries = mbrEntries(head);
  if (entries.length === 0 || !looksLikeTable(head, entries)) return undefined;
  const last = entries.reduce((a, b) => (b.start + b.sectors > a.start + a.sectors ? b : a));
  if (growLast && EXTENDED.has(last.type)) {
    throw new VmctxError('ERR_SPARSECOPY_GROW', `--grow-last: the last partition on the disk is the extended partition ${last.index} (type 0x${last.type.toString(16)}); growing it would not grow the logical partition inside — nothing was written`);
  }
  const actions = ['MBR: the disk gets the new size (the table stays as it is)'];
  if (growLast) actions.push(`partition ${last.index} grown to the end of the disk`);
  return {
    scheme: 'mbr',
    actions,
    writes(diskBytes: number): Write[] {
      if (!growLast) return [];
      const totalSectors = Math.floor(diskBytes / 512);
      const wanted = totalSectors - last.start;
      if (wanted > 0xffffffff) throw new VmctxError('ERR_SPARSECOPY_GROW', `--grow-last: partition ${last.index} would be larger than an MBR can describe (2 TiB); use a GPT`);
      const sector = Buffer.from(head.subarray(0, 512));
      const e = 446 + (last.index - 1) * 16;
      const before = sector.readUInt32LE(e + 12);
      actions[1] = `partition ${last.index} grown from ${before} to ${wanted} sectors`;
      sector.writeUInt32LE(wanted, e + 12);
      maxChs(sector, e);
      return [{ position: 0, data: sector }];
    },
  };
}

interface GptHeader {
  readonly headerSize: number;
  readonly alternate: number;
  readonly firstUsable: number;
  readonly lastUsable: number;
  readonly entriesLba: number;
  readonly count: number;
  readonly entrySize: number;
}

function readHeader(sector: Buffer): GptHeader {
  return {
    headerSize: sector.readUInt32LE(12),
    alternate: Number(sector.readBigUInt64LE(32)),
    firstUsable: Number(sector.readBigUInt64LE(40)),
    lastUsable: Number(sector.readBigUInt64LE(48)),
    entriesLba: Number(sector.readBigUInt64LE(72)),
    count: sector.readUInt32LE(80),
    entrySize: sector.readUInt32LE(84),
  };
}

function sealHeader(header: Buffer, headerSize: number): void {
  header.writeUInt32LE(0, 16);
  header.writeUInt32LE(crc32(header.subarray(0, headerSize)), 16);
}

function planGpt(head: Buffer, ss: number, growLast: boolean): TablePlan {
  const primary = Buffer.from(head.subarray(ss, ss * 2));
  const h = readHeader(primary);
  const bad = (what: string): never => {
    throw new VmctxError('ERR_SPARSECOPY_GPT_CRC', `the source's GPT is damaged: ${what}; refusing to move its backup header (check it with sgdisk -v, repair it with gdisk) — nothing was written`);
  };
  if (h.headerSize < 92 || h.headerSize > ss) bad(`header size ${h.headerSize}`);
  const storedCrc = primary.readUInt32LE(16);
  const check = Buffer.from(primary.subarray(0, h.headerSize));
  check.writeUInt32LE(0, 16);
  const headerCrc = crc32(check);
  if (headerCrc !== storedCrc) bad(`the primary header's CRC32 is 0x${storedCrc.toString(16).padStart(8, '0')}, its content gives 0x${headerCrc.toString(16).padStart(8, '0')}`);
  if (h.entrySize < 128 || h.entrySize % 8 !== 0 || h.count === 0 || h.count * h.entrySize > 4 * 1024 * 1024) bad(`${h.count} entries of ${h.entrySize} bytes`);
  const entriesBytes = h.count * h.entrySize;
  const entriesStart = h.entriesLba * ss;
  if (entriesStart + entriesBytes > head.length) bad(`its entries (LBA ${h.entriesLba}) lie past the first ${head.length / 1024} KiB of the disk`);
  const entries = Buffer.from(head.subarray(entriesStart, entriesStart + entriesBytes));
  const storedEntriesCrc = primary.readUInt32LE(88);
  const entriesCrc = crc32(entries);
  if (entriesCrc !== storedEntriesCrc) bad(`the partition entries' CRC32 is 0x${storedEntriesCrc.toString(16).padStart(8, '0')}, their content gives 0x${entriesCrc.toString(16).padStart(8, '0')}`);
  // the partition that ends last on the disk
  let last: { index: number; first: number; end: number } | undefined;
  for (let i = 0; i < h.count; i++) {
    const e = entries.subarray(i * h.entrySize, (i + 1) * h.entrySize);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const end = Number(e.readBigUInt64LE(40));
    if (last === undefined || end > last.end) last = { index: i + 1, first: Number(e.readBigUInt64LE(32)), end };
  }
  if (growLast && last === undefined) throw new VmctxError('ERR_SPARSECOPY_GROW', '--grow-last: the GPT has no partition to grow — nothing was written');
  const entrySectors = Math.ceil(entriesBytes / ss);
  const actions: string[] = [];
  return {
    scheme: 'gpt',
    actions,
    writes(diskBytes: number, sourceBytes: number): Write[] {
      // a same-size copy is the source, byte for byte (even a GPT made for another size)
      if (diskBytes === sourceBytes && !growLast) return [];
      const sourceLast = Math.floor(sourceBytes / ss) - 1;
      const lastLba = Math.floor(diskBytes / ss) - 1;
      const backupEntriesLba = lastLba - entrySectors;
      const lastUsable = backupEntriesLba - 1;
      if (lastLba === h.alternate && lastUsable === h.lastUsable && !growLast) return [];
      if (lastUsable < h.lastUsable) throw new VmctxError('ERR_SPARSECOPY_TOO_SMALL', `the destination (${diskBytes} bytes) is smaller than the GPT's usable area`);
      const writes: Write[] = [];
      const newEntries = Buffer.from(entries);
      if (growLast && last !== undefined) {
        const e = newEntries.subarray((last.index - 1) * h.entrySize, last.index * h.entrySize);
        // ending on a 1 MiB boundary, as sgdisk aligns, unless that would not grow it
        const align = (1024 * 1024) / ss;
        const aligned = Math.floor((lastUsable + 1) / align) * align - 1;
        const end = aligned > last.end ? aligned : lastUsable;
        e.writeBigUInt64LE(BigInt(end), 40);
        actions.push(`GPT: partition ${last.index} grown from ${last.end - last.first + 1} to ${end - last.first + 1} sectors`);
        writes.push({ position: entriesStart, data: newEntries });
      }
      const newEntriesCrc = crc32(newEntries);
      const header = Buffer.from(primary);
      header.writeBigUInt64LE(BigInt(lastLba), 32);
      header.writeBigUInt64LE(BigInt(lastUsable), 48);
      header.writeUInt32LE(newEntriesCrc, 88);
      sealHeader(header, h.headerSize);
      writes.push({ position: ss, data: header });
      const backup = Buffer.alloc(ss);
      header.copy(backup, 0, 0, h.headerSize);
      backup.writeBigUInt64LE(BigInt(lastLba), 24);
      backup.writeBigUInt64LE(1n, 32);
      backup.writeBigUInt64LE(BigInt(backupEntriesLba), 72);
      sealHeader(backup, h.headerSize);
      writes.push({ position: backupEntriesLba * ss, data: newEntries });
      writes.push({ position: lastLba * ss, data: backup });
      // the old backup header, now inside the disk, would look like a second GPT: cleared
      if (h.alternate !== lastLba && h.alternate > 1 && h.alternate < backupEntriesLba) writes.push({ position: h.alternate * ss, data: Buffer.alloc(ss) });
      if (lastLba !== h.alternate) actions.unshift(`GPT: backup header moved from LBA ${h.alternate} to ${lastLba}, last usable LBA ${h.lastUsable} → ${lastUsable}`);
      // the protective MBR covers the whole disk (or as much as 32 bits say)
      if (mbrValid(head)) {
        const mbr = Buffer.from(head.subarray(0, 512));
        const pm = mbrEntries(mbr).find((e) => e.type === 0xee && e.start === 1);
        const wasWhole = pm !== undefined && (pm.sectors === 0xffffffff || pm.sectors >= Math.min(sourceLast, 0xffffffff));
        if (pm !== undefined && wasWhole) {
          const e = 446 + (pm.index - 1) * 16;
          mbr.writeUInt32LE(Math.min(lastLba, 0xffffffff), e + 12);
          maxChs(mbr, e);
          writes.push({ position: 0, data: mbr });
        }
      }
      return writes;
    },
  };
}
