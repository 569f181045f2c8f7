// FAT12/16/32 reader with VFAT long names, read-only and without mounting, over any ByteSource
// (vfat NoCloud seeds, config drives made with config_drive_format=vfat, hand-made seeds).
// Every field read is bounds-checked; malformed input throws VmctxError with an ERR_FAT_* code.
// The FAT type is decided by the count of clusters, as Microsoft's specification says.
import { VmctxError, type ErrorCode } from '../../shared/errors.js';
import { ascii, u16le, u32le, u8 } from '../iso9660/bytes.js';
import { readWhole, type ByteSource } from '../iso9660/source.js';

export type FatType = 'fat12' | 'fat16' | 'fat32';

const BOOT_SECTOR = 512;
const MAX_DEPTH = 32;
/** The specification's largest directory: 65 536 entries of 32 bytes. */
const MAX_DIRECTORY_BYTES = 65_536 * 32;
const MAX_ENTRIES = 200_000;
const MAX_FATS = 16;
const MAX_FAT32_CLUSTERS = 0x0ffffff5;
/** FAT bytes kept in memory at once (read on demand in 4 KiB pieces). */
const FAT_PIECE = 4096;
const MAX_FAT_PIECES = 1024;
const DIR_ENTRY = 32;
const ATTR_READ_ONLY = 0x01;
const ATTR_HIDDEN = 0x02;
const ATTR_SYSTEM = 0x04;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME = ATTR_READ_ONLY | ATTR_HIDDEN | ATTR_SYSTEM | ATTR_VOLUME_ID;
const NO_LABEL = 'NO NAME';

export interface FatEntry {
  /** The long name when there is a valid one, else the 8.3 name (with Linux's case flags). */
  readonly name: string;
  /** The 8.3 name as stored (upper case), e.g. "META-D~1". */
  readonly shortName: string;
  /** Path from the root, '/'-separated, starting with '/'. */
  readonly path: string;
  readonly isDirectory: boolean;
  readonly size: number;
  /** First cluster of the data (0 for an empty file, and for the FAT12/16 root). */
  readonly firstCluster: number;
}

export interface FatInfo {
  readonly type: FatType;
  /** The volume label: the root directory's label entry when there is one (as blkid reads it), else the boot sector's. */
  readonly label: string;
  readonly bootLabel: string | undefined;
  readonly rootLabel: string | undefined;
  readonly bytesPerSector: number;
  readonly clusterBytes: number;
  readonly clusterCount: number;
  readonly volumeBytes: number;
}

interface Geometry {
  readonly type: FatType;
  readonly bytesPerSector: number;
  readonly clusterBytes: number;
  readonly clusterCount: number;
  readonly volumeBytes: number;
  /** Byte offset of the FAT in use (the active one when FAT32 mirroring is off). */
  readonly fatOffset: number;
  readonly fatBytes: number;
  readonly rootOffset: number;
  readonly rootBytes: number;
  readonly rootCluster: number;
  readonly dataOffset: number;
  readonly bootLabel: string | undefined;
}

interface Directory {
  readonly entries: readonly FatEntry[];
  readonly exact: ReadonlyMap<string, FatEntry>;
  readonly folded: ReadonlyMap<string, FatEntry>;
  readonly label: string | undefined;
}

function fatError(code: ErrorCode, message: string): VmctxError {
  return new VmctxError(code, message);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Reads exactly `length` bytes or throws ERR_FAT_TRUNCATED. */
async function readExact(source: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  const data = await source.read(offset, length);
  if (data.length < length) {
    throw fatError('ERR_FAT_TRUNCATED', `${what}: the medium ends at byte ${offset + data.length}, expected ${length} bytes at ${offset}`);
  }
  return data;
}

function trimLabel(raw: string): string | undefined {
  const label = raw.replace(/[ \0]+$/u, '');
  return label === '' || label === NO_LABEL ? undefined : label;
}

/** The upper half of code page 437, Linux's default FAT code page (codepage=437). */
const CP437_HIGH = 'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/** Bytes of the OEM code page (437) as characters. */
function oemText(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80] ?? '';
  return out;
}

/** The checksum of an 8.3 name that its long-name entries carry. */
export function shortNameChecksum(name: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >> 1)) + (name[i] ?? 0)) & 0xff;
  return sum;
}

/**
 * Whether a boot sector looks like FAT: the 0x55AA signature and a BPB whose fields are in range.
 * Used to sniff a medium; FatImage.open says exactly what is wrong.
 */
export function looksLikeFat(sector: Uint8Array): boolean {
  try {
    parseBootSector(sector, undefined);
    return true;
  } catch {
    return false;
  }
}

function parseBootSector(boot: Uint8Array, sourceSize: number | undefined): Geometry {
  const code = 'ERR_FAT_BPB';
  if (boot.length < BOOT_SECTOR) throw fatError('ERR_FAT_TRUNCATED', `the medium is ${boot.length} bytes, too short for a boot sector`);
  if (boot[510] !== 0x55 || boot[511] !== 0xaa) throw fatError('ERR_FAT_BAD_BOOT', 'no boot sector signature 0x55AA at byte 510');
  const bytesPerSector = u16le(boot, 0x0b, code, 'bytes per sector');
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) {
    throw fatError('ERR_FAT_BAD_BOOT', `bytes per sector ${bytesPerSector} is not a power of two from 512 to 4096`);
  }
  const sectorsPerCluster = u8(boot, 0x0d, code, 'sectors per cluster');
  if (!isPowerOfTwo(sectorsPerCluster)) throw fatError('ERR_FAT_BAD_BOOT', `sectors per cluster ${sectorsPerCluster} is not a power of two from 1 to 128`);
  const reserved = u16le(boot, 0x0e, code, 'reserved sectors');
  if (reserved < 1) throw fatError(code, 'no reserved sectors (the boot sector is one)');
  const fats = u8(boot, 0x10, code, 'number of FATs');
  if (fats < 1 || fats > MAX_FATS) throw fatError(code, `${fats} FATs (1 to ${MAX_FATS} are read)`);
  const rootEntries = u16le(boot, 0x11, code, 'root directory entries');
  const total16 = u16le(boot, 0x13, code, 'total sectors');
  const media = u8(boot, 0x15, code, 'media descriptor');
  if (media !== 0xf0 && media < 0xf8) throw fatError('ERR_FAT_BAD_BOOT', `media descriptor 0x${media.toString(16)} is not 0xF0 or 0xF8..0xFF`);
  const fatSize16 = u16le(boot, 0x16, code, 'FAT size');
  const total32 = u32le(boot, 0x20, code, 'total sectors (32-bit)');
  const totalSectors = total16 !== 0 ? total16 : total32;
  const fatSize32 = u32le(boot, 0x24, code, 'FAT size (32-bit)');
  const fatSectors = fatSize16 !== 0 ? fatSize16 : fatSize32;
  if (totalSectors === 0) throw fatError(code, 'total sectors is 0');
  if (fatSectors === 0) throw fatError(code, 'FAT size is 0');
  const rootSectors = Math.ceil((rootEntries * DIR_ENTRY) / bytesPerSector);
  const metaSectors = reserved + fats * fatSectors + rootSectors;
  if (metaSectors >= totalSectors) throw fatError(code, `reserved, FAT and root directory sectors (${metaSectors}) leave no data area in ${totalSectors} sectors`);
  const clusterCount = Math.floor((totalSectors - metaSectors) / sectorsPerCluster);
  if (clusterCount < 1) throw fatError(code, 'no data clusters');
  // FAT32's cluster numbers have 28 bits, and the top ones mark bad clusters and chain ends
  if (clusterCount > MAX_FAT32_CLUSTERS) throw fatError(code, `${clusterCount} clusters, more than FAT32 can number (${MAX_FAT32_CLUSTERS})`);
  const type: FatType = clusterCount < 4085 ? 'fat12' : clusterCount < 65525 ? 'fat16' : 'fat32';
  const volumeBytes = totalSectors * bytesPerSector;
  let rootCluster = 0;
  let activeFat = 0;
  let bootLabel: string | undefined;
  if (type === 'fat32') {
    if (fatSize16 !== 0 || rootEntries !== 0) throw fatError(code, `${clusterCount} clusters make FAT32, but the FAT12/16 fields are set (FAT size ${fatSize16}, root entries ${rootEntries})`);
    const extFlags = u16le(boot, 0x28, code, 'extended flags');
    if ((extFlags & 0x80) !== 0) activeFat = extFlags & 0x0f;
    if (activeFat >= fats) throw fatError(code, `active FAT ${activeFat} of ${fats}`);
    const version = u16le(boot, 0x2a, code, 'file system version');
    if (version !== 0) throw fatError(code, `FAT32 version ${version >> 8}.${version & 0xff} (0.0 is read)`);
    rootCluster = u32le(boot, 0x2c, code, 'root cluster') & 0x0fffffff;
    if (rootCluster < 2 || rootCluster > clusterCount + 1) throw fatError(code, `root cluster ${rootCluster} is outside clusters 2..${clusterCount + 1}`);
    if (u8(boot, 0x42, code, 'boot signature') === 0x29) bootLabel = trimLabel(ascii(boot, 0x47, 11, code, 'volume label'));
  } else {
    if (rootEntries === 0) throw fatError(code, `${clusterCount} clusters make ${type.toUpperCase()}, but its root directory has no entries`);
    if (u8(boot, 0x26, code, 'boot signature') === 0x29) bootLabel = trimLabel(ascii(boot, 0x2b, 11, code, 'volume label'));
  }
  // the FAT must map every cluster (two reserved entries first)
  const neededFatBytes = type === 'fat12' ? Math.ceil(((clusterCount + 2) * 3) / 2) : (clusterCount + 2) * (type === 'fat16' ? 2 : 4);
  const fatBytes = fatSectors * bytesPerSector;
  if (fatBytes < neededFatBytes) throw fatError(code, `a FAT of ${fatBytes} bytes cannot map ${clusterCount} clusters (${neededFatBytes} bytes needed)`);
  if (sourceSize !== undefined && sourceSize < metaSectors * bytesPerSector) {
    throw fatError('ERR_FAT_TRUNCATED', `the medium is ${sourceSize} bytes, too short for its FATs and root directory (${metaSectors * bytesPerSector} bytes)`);
  }
  return {
    type,
    bytesPerSector,
    clusterBytes: sectorsPerCluster * bytesPerSector,
    clusterCount,
    volumeBytes,
    fatOffset: (reserved + activeFat * fatSectors) * bytesPerSector,
    fatBytes,
    rootOffset: (reserved + fats * fatSectors) * bytesPerSector,
    rootBytes: rootEntries * DIR_ENTRY,
    rootCluster,
    dataOffset: metaSectors * bytesPerSector,
    bootLabel,
  };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

function rebase(entry: FatEntry, parentPath: string): FatEntry {
  const path = `${parentPath === '/' ? '' : parentPath}/${entry.name}`;
  return path === entry.path ? entry : { ...entry, path };
}

/** The 8.3 name of an entry: "META-D~1", and as Linux shows it with the case flags at 0x0C. */
function shortNames(raw: Uint8Array, flags: number): { stored: string; shown: string } {
  const bytes = Uint8Array.from(raw.subarray(0, 11));
  if (bytes[0] === 0x05) bytes[0] = 0xe5; // a first byte 0xE5 is stored as 0x05 (0xE5 marks deleted entries)
  const base = oemText(bytes.subarray(0, 8)).replace(/ +$/u, '');
  const ext = oemText(bytes.subarray(8, 11)).replace(/ +$/u, '');
  const stored = ext === '' ? base : `${base}.${ext}`;
  const shownBase = (flags & 0x08) !== 0 ? base.toLowerCase() : base;
  const shownExt = (flags & 0x10) !== 0 ? ext.toLowerCase() : ext;
  return { stored, shown: shownExt === '' ? shownBase : `${shownBase}.${shownExt}` };
}

/** A long-name entry's 13 UTF-16 code units (up to the terminating 0). */
function lfnUnits(entry: Uint8Array): { units: number[]; ended: boolean } {
  const units: number[] = [];
  for (const [start, count] of [[1, 5], [14, 6], [28, 2]] as const) {
    for (let i = 0; i < count; i++) {
      const unit = (entry[start + 2 * i] ?? 0) | ((entry[start + 2 * i + 1] ?? 0) << 8);
      if (unit === 0) return { units, ended: true };
      units.push(unit);
    }
  }
  return { units, ended: false };
}

function decodeUtf16(units: readonly number[]): string {
  const bytes = new Uint8Array(units.length * 2);
  units.forEach((u, i) => {
    bytes[2 * i] = u & 0xff;
    bytes[2 * i + 1] = u >> 8;
  });
  return new TextDecoder('utf-16le').decode(bytes);
}

interface LongName {
  checksum: number;
  next: number;
  /** Pieces by sequence number (1 = the start of the name). */
  pieces: Map<number, number[]>;
}

export class FatImage {
  #info: FatInfo;
  readonly #source: ByteSource;
  readonly #geo: Geometry;
  readonly #fatPieces = new Map<number, Uint8Array>();
  readonly #directoryCache = new Map<number, Directory>();
  #entryBudget = MAX_ENTRIES;

  private constructor(source: ByteSource, geo: Geometry, info: FatInfo) {
    this.#source = source;
    this.#geo = geo;
    this.#info = info;
  }

  /** Opens a FAT file system: parses and checks the boot sector, reads the root directory (for its label). */
  static async open(source: ByteSource): Promise<FatImage> {
    const boot = await source.read(0, BOOT_SECTOR);
    const geo = parseBootSector(boot, source.size);
    const image = new FatImage(source, geo, {
      type: geo.type,
      label: geo.bootLabel ?? '',
      bootLabel: geo.bootLabel,
      rootLabel: undefined,
      bytesPerSector: geo.bytesPerSector,
      clusterBytes: geo.clusterBytes,
      clusterCount: geo.clusterCount,
      volumeBytes: geo.volumeBytes,
    });
    const root = await image.#loadDirectory(image.#rootEntry(), 0);
    // the root directory's label entry wins over the boot sector's, as blkid (and so udev's by-label) reads it
    image.#info = { ...image.#info, rootLabel: root.label, label: root.label ?? geo.bootLabel ?? '' };
    return image;
  }

  get info(): FatInfo {
    return this.#info;
  }

  /** Lists a directory ('/' for the root). */
  async list(path = '/'): Promise<FatEntry[]> {
    const entry = await this.stat(path);
    if (entry === undefined) throw fatError('ERR_FAT_NOT_FOUND', `${path}: no such directory on the medium`);
    if (!entry.isDirectory) throw fatError('ERR_FAT_NOT_FOUND', `${path}: not a directory`);
    return (await this.#loadDirectory(entry, splitPath(path).length)).entries.map((e) => rebase(e, entry.path));
  }

  /** Looks a path up, case-insensitively as FAT does (exact names first, then the 8.3 alias). Undefined when absent. */
  async stat(path: string): Promise<FatEntry | undefined> {
    let current = this.#rootEntry();
    const parts = splitPath(path);
    for (let depth = 0; depth < parts.length; depth++) {
      const part = parts[depth] ?? '';
      if (!current.isDirectory) return undefined;
      const children = await this.#loadDirectory(current, depth);
      const found = children.exact.get(part) ?? children.folded.get(part.toLowerCase());
      if (found === undefined) return undefined;
      current = rebase(found, current.path);
    }
    return current;
  }

  /** Every entry below the root, depth first, with loop and depth protection. */
  async walk(): Promise<FatEntry[]> {
    const out: FatEntry[] = [];
    const visit = async (dir: FatEntry, depth: number, seen: ReadonlySet<number>): Promise<void> => {
      for (const e of (await this.#loadDirectory(dir, depth)).entries) {
        const child = rebase(e, dir.path);
        // directories shared by many names would repeat their subtrees: the walk is bounded too
        if (out.length >= MAX_ENTRIES) throw fatError('ERR_FAT_DIR', `more than ${MAX_ENTRIES} entries on the medium`);
        out.push(child);
        if (child.isDirectory) {
          if (seen.has(child.firstCluster)) throw fatError('ERR_FAT_CHAIN_LOOP', `${child.path}: directory points back at one of its ancestors`);
          await visit(child, depth + 1, new Set([...seen, child.firstCluster]));
        }
      }
    };
    const root = this.#rootEntry();
    await visit(root, 0, new Set([root.firstCluster]));
    return out;
  }

  /** Reads a whole file, refusing more than maxBytes (ERR_FAT_FILE_TOO_LARGE). */
  async readFile(pathOrEntry: string | FatEntry, options: { maxBytes: number }): Promise<Buffer> {
    const entry = typeof pathOrEntry === 'string' ? await this.stat(pathOrEntry) : pathOrEntry;
    if (entry === undefined) throw fatError('ERR_FAT_NOT_FOUND', `${typeof pathOrEntry === 'string' ? pathOrEntry : pathOrEntry.path}: no such file on the medium`);
    if (entry.isDirectory) throw fatError('ERR_FAT_NOT_FOUND', `${entry.path}: is a directory`);
    return readWhole(entry, options.maxBytes, 'ERR_FAT_FILE_TOO_LARGE', this.stream(entry));
  }

  /**
   * Streams a file of any size in chunks (contiguous clusters read together); never holds more
   * than one chunk. The chain must hold the file's size: a chain that ends early, leaves the
   * volume, meets a free or bad cluster, or comes back on itself is an error.
   */
  async *stream(entry: FatEntry, chunkSize = 1024 * 1024): AsyncGenerator<Uint8Array> {
    if (entry.isDirectory) throw fatError('ERR_FAT_NOT_FOUND', `${entry.path}: is a directory`);
    const clusterBytes = this.#geo.clusterBytes;
    const needed = Math.ceil(entry.size / clusterBytes);
    if (needed === 0) return;
    const maxRun = Math.max(1, Math.floor(chunkSize / clusterBytes));
    let remaining = entry.size;
    let runStart = 0;
    let runLength = 0;
    const flush = async (): Promise<Uint8Array> => {
      const length = Math.min(runLength * clusterBytes, remaining);
      const data = await readExact(this.#source, this.#clusterOffset(runStart), length, entry.path);
      remaining -= length;
      runLength = 0;
      return data;
    };
    for await (const cluster of this.#chain(entry.firstCluster, needed, entry.path, true)) {
      if (runLength > 0 && (cluster !== runStart + runLength || runLength >= maxRun)) yield await flush();
      if (runLength === 0) runStart = cluster;
      runLength++;
    }
    if (runLength > 0) yield await flush();
  }

  #rootEntry(): FatEntry {
    const fat32 = this.#geo.type === 'fat32';
    return { name: '', shortName: '', path: '/', isDirectory: true, size: 0, firstCluster: fat32 ? this.#geo.rootCluster : 0 };
  }

  #clusterOffset(cluster: number): number {
    return this.#geo.dataOffset + (cluster - 2) * this.#geo.clusterBytes;
  }

  /** The FAT's entry for a cluster (FAT32's top four bits masked off). */
  async #fatEntry(cluster: number, what: string): Promise<number> {
    const { type, fatOffset } = this.#geo;
    const byte = type === 'fat12' ? Math.floor((cluster * 3) / 2) : cluster * (type === 'fat16' ? 2 : 4);
    const width = type === 'fat32' ? 4 : 2;
    const bytes = new Uint8Array(width);
    for (let i = 0; i < width; i++) {
      const at = byte + i;
      const index = Math.floor(at / FAT_PIECE);
      let piece = this.#fatPieces.get(index);
      if (piece === undefined) {
        if (this.#fatPieces.size >= MAX_FAT_PIECES) this.#fatPieces.clear();
        const length = Math.min(FAT_PIECE, this.#geo.fatBytes - index * FAT_PIECE);
        piece = await readExact(this.#source, fatOffset + index * FAT_PIECE, length, `${what}: FAT`);
        this.#fatPieces.set(index, piece);
      }
      bytes[i] = piece[at - index * FAT_PIECE] ?? 0;
    }
    if (type === 'fat12') {
      const v = (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8);
      return cluster % 2 === 0 ? v & 0x0fff : v >> 4;
    }
    if (type === 'fat16') return (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8);
    return u32le(bytes, 0, 'ERR_FAT_CHAIN', what) & 0x0fffffff;
  }

  /**
   * The clusters of a chain, in order. `limit` bounds the count; with `exact` the chain must hold
   * that many clusters (a file's size), else it may end sooner (a directory). Loops are refused.
   */
  async *#chain(first: number, limit: number, what: string, exact: boolean): AsyncGenerator<number> {
    const { type, clusterCount } = this.#geo;
    const endMark = type === 'fat12' ? 0xff8 : type === 'fat16' ? 0xfff8 : 0x0ffffff8;
    const badMark = endMark - 1;
    const lastCluster = clusterCount + 1;
    const seen = new Set<number>();
    let cluster = first;
    for (let count = 1; ; count++) {
      if (cluster < 2 || cluster > lastCluster) {
        throw fatError('ERR_FAT_CHAIN', `${what}: cluster ${cluster} (number ${count} of its chain) is outside clusters 2..${lastCluster}`);
      }
      if (seen.has(cluster)) throw fatError('ERR_FAT_CHAIN_LOOP', `${what}: its cluster chain comes back to cluster ${cluster}`);
      seen.add(cluster);
      yield cluster;
      if (exact && count === limit) return; // what follows the last cluster a file needs is not read
      const next = await this.#fatEntry(cluster, what);
      if (next >= endMark) {
        if (exact) throw fatError('ERR_FAT_CHAIN', `${what}: its cluster chain ends after ${count} clusters, ${limit} are needed for its size`);
        return;
      }
      if (next === badMark) throw fatError('ERR_FAT_CHAIN', `${what}: its cluster chain reaches a bad cluster after cluster ${cluster}`);
      if (next === 0) throw fatError('ERR_FAT_CHAIN', `${what}: its cluster chain reaches a free cluster after cluster ${cluster}`);
      if (count === limit) throw fatError('ERR_FAT_DIR', `${what}: directory of more than ${limit} clusters (over ${MAX_DIRECTORY_BYTES} bytes)`);
      cluster = next;
    }
  }

  /** A directory's bytes: the fixed FAT12/16 root, or a cluster chain. */
  async #directoryBytes(dir: FatEntry): Promise<Uint8Array> {
    if (dir.path === '/' && this.#geo.type !== 'fat32') {
      return readExact(this.#source, this.#geo.rootOffset, this.#geo.rootBytes, 'root directory');
    }
    const clusterBytes = this.#geo.clusterBytes;
    const limit = Math.max(1, Math.ceil(MAX_DIRECTORY_BYTES / clusterBytes));
    const pieces: Uint8Array[] = [];
    for await (const cluster of this.#chain(dir.firstCluster, limit, dir.path, false)) {
      pieces.push(await readExact(this.#source, this.#clusterOffset(cluster), clusterBytes, dir.path));
    }
    return Buffer.concat(pieces);
  }

  /** A directory's entries and its name indexes, read once. */
  async #loadDirectory(dir: FatEntry, depth: number): Promise<Directory> {
    if (depth >= MAX_DEPTH) throw fatError('ERR_FAT_TOO_DEEP', `${dir.path}: directories nested deeper than ${MAX_DEPTH}`);
    const cached = this.#directoryCache.get(dir.firstCluster);
    if (cached !== undefined) return cached;
    const data = await this.#directoryBytes(dir);
    const isRoot = dir.path === '/';
    const entries: FatEntry[] = [];
    const aliases = new Map<string, FatEntry>();
    let label: string | undefined;
    let long: LongName | undefined;
    const prefix = dir.path === '/' ? '' : dir.path;
    for (let offset = 0; offset + DIR_ENTRY <= data.length; offset += DIR_ENTRY) {
      const raw = data.subarray(offset, offset + DIR_ENTRY);
      const first = raw[0] ?? 0;
      if (first === 0x00) break; // the end of the directory
      if (first === 0xe5) {
        long = undefined; // deleted (a deleted name's long entries are marked too)
        continue;
      }
      const attr = (raw[11] ?? 0) & 0x3f;
      if (attr === ATTR_LONG_NAME) {
        long = this.#longNamePiece(raw, long);
        continue;
      }
      const pending = long;
      long = undefined;
      if ((attr & ATTR_VOLUME_ID) !== 0) {
        if (isRoot && label === undefined) label = trimLabel(oemText(raw.subarray(0, 11)));
        continue;
      }
      const { stored, shown } = shortNames(raw, raw[12] ?? 0);
      if (stored === '.' || stored === '..') continue;
      if (--this.#entryBudget < 0) throw fatError('ERR_FAT_DIR', `more than ${MAX_ENTRIES} entries on the medium`);
      const longName = pending !== undefined && pending.next === 0 && pending.checksum === shortNameChecksum(raw) ? assemble(pending) : undefined;
      const name = longName ?? shown;
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || stored === '') {
        throw fatError('ERR_FAT_DIR', `${dir.path}: entry ${offset / DIR_ENTRY} has an unusable name ${JSON.stringify(name)}`);
      }
      const isDirectory = (attr & ATTR_DIRECTORY) !== 0;
      const high = this.#geo.type === 'fat32' ? u16le(raw, 20, 'ERR_FAT_DIR', dir.path) : 0;
      const firstCluster = (high << 16) + u16le(raw, 26, 'ERR_FAT_DIR', dir.path);
      const size = isDirectory ? 0 : u32le(raw, 28, 'ERR_FAT_DIR', dir.path);
      const path = `${prefix}/${name}`;
      if (isDirectory && firstCluster === 0) throw fatError('ERR_FAT_DIR', `${path}: directory without a first cluster`);
      if (!isDirectory && size > 0 && firstCluster === 0) throw fatError('ERR_FAT_CHAIN', `${path}: ${size} bytes without a first cluster`);
      const entry: FatEntry = { name, shortName: stored, path, isDirectory, size, firstCluster };
      entries.push(entry);
      if (!aliases.has(stored.toLowerCase())) aliases.set(stored.toLowerCase(), entry);
    }
    // the first entry of a name wins, as a scan in directory order finds it; then the 8.3 aliases
    const exact = new Map<string, FatEntry>();
    const folded = new Map<string, FatEntry>();
    for (const e of entries) {
      if (!exact.has(e.name)) exact.set(e.name, e);
      const lower = e.name.toLowerCase();
      if (!folded.has(lower)) folded.set(lower, e);
    }
    for (const [alias, e] of aliases) if (!folded.has(alias)) folded.set(alias, e);
    const loaded: Directory = { entries, exact, folded, label };
    this.#directoryCache.set(dir.firstCluster, loaded);
    return loaded;
  }

  /** Adds a long-name entry to the name being gathered; a piece out of order drops it (the 8.3 name is used). */
  #longNamePiece(raw: Uint8Array, long: LongName | undefined): LongName | undefined {
    const order = raw[0] ?? 0;
    const sequence = order & 0x1f;
    const checksum = raw[13] ?? 0;
    if (sequence < 1 || sequence > 20 || raw[12] !== 0 || raw[26] !== 0 || raw[27] !== 0) return undefined;
    const { units } = lfnUnits(raw);
    if ((order & 0x40) !== 0) {
      return { checksum, next: sequence - 1, pieces: new Map([[sequence, units]]) };
    }
    if (long === undefined || long.next !== sequence || long.checksum !== checksum) return undefined;
    long.pieces.set(sequence, units);
    long.next = sequence - 1;
    return long;
  }
}

function assemble(long: LongName): string | undefined {
  const units: number[] = [];
  for (let s = 1; s <= long.pieces.size; s++) units.push(...(long.pieces.get(s) ?? []));
  const name = decodeUtf16(units);
  // Linux drops trailing spaces and dots of a long name
  const trimmed = name.replace(/[ .]+$/u, '');
  return trimmed === '' ? undefined : trimmed;
}

/** Identifies a file's bytes by its first cluster and size, so a budget counts names sharing them once. */
export function fatKey(entry: FatEntry): string {
  return `fat:${entry.firstCluster}+${entry.size}`;
}

/** The label of a FAT file system (root label entry, else boot sector), for device discovery. Undefined when not FAT. */
export async function readFatLabel(source: ByteSource): Promise<string | undefined> {
  const boot = await source.read(0, BOOT_SECTOR);
  if (!looksLikeFat(boot)) return undefined;
  const image = await FatImage.open(source);
  return image.info.label;
}
