// ISO 9660 (ECMA-119) reader with Rock Ridge and Joliet names, over any ByteSource.
// Every field read is bounds-checked; malformed input throws VmctxError with an ERR_ISO_* code.
import { VmctxError } from '../../shared/errors.js';
import { ascii, need, u16le, u32le, u8, ucs2be } from './bytes.js';
import { readWhole, type ByteSource } from './source.js';

export const SECTOR = 2048;
const FIRST_DESCRIPTOR_SECTOR = 16;
const MAX_DESCRIPTORS = 64;
const MAX_DEPTH = 32;
const MAX_DIRECTORY_BYTES = 16 * 1024 * 1024;
const MAX_ENTRIES = 200_000;
const MAX_CONTINUATIONS = 32;
const MAX_SYMLINK_COMPONENTS = 256;

export type NameScheme = 'rockridge' | 'joliet' | 'iso9660';

export interface Extent {
  /** Byte offset of the extent in the source. */
  readonly offset: number;
  readonly length: number;
}

export interface IsoEntry {
  readonly name: string;
  /** Path from the root, '/'-separated, starting with '/'. */
  readonly path: string;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly extents: readonly Extent[];
  /** POSIX mode from Rock Ridge PX, when present. */
  readonly mode?: number;
  /** Rock Ridge symlink target, when the entry is a symlink (never followed by the reader). */
  readonly symlinkTarget?: string;
}

export interface VolumeInfo {
  readonly volumeId: string;
  readonly jolietVolumeId: string | undefined;
  readonly blockSize: number;
  readonly volumeBytes: number;
  readonly hasRockRidge: boolean;
  readonly hasJoliet: boolean;
  readonly scheme: NameScheme;
}

interface RawRecord {
  readonly length: number;
  readonly extentLba: number;
  readonly dataLength: number;
  readonly flags: number;
  readonly nameBytes: Uint8Array;
  readonly systemUse: Uint8Array;
}

interface RockInfo {
  name?: string;
  mode?: number;
  symlinkTarget?: string;
  relocatedTo?: number;
  isRelocated?: boolean;
}

interface Directory {
  readonly entries: readonly IsoEntry[];
  readonly exact: ReadonlyMap<string, IsoEntry>;
  readonly folded: ReadonlyMap<string, IsoEntry>;
}

interface Descriptor {
  readonly volumeId: string;
  readonly blockSize: number;
  readonly volumeBlocks: number;
  readonly root: RawRecord;
}

function isoError(code: 'ERR_ISO_TRUNCATED' | 'ERR_ISO_RECORD_OVERFLOW' | 'ERR_ISO_EXTENT_OUT_OF_BOUNDS', message: string): VmctxError {
  return new VmctxError(code, message);
}

/** Reads exactly `length` bytes or throws ERR_ISO_TRUNCATED. */
async function readExact(source: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  const data = await source.read(offset, length);
  if (data.length < length) {
    throw isoError('ERR_ISO_TRUNCATED', `${what}: image ends at byte ${offset + data.length}, expected ${length} bytes at ${offset}`);
  }
  return data;
}

function parseRecord(buf: Uint8Array, offset: number, what: string): RawRecord {
  const code = 'ERR_ISO_RECORD_OVERFLOW';
  const length = u8(buf, offset, code, what);
  if (length < 34) throw isoError(code, `${what}: record length ${length} is below the minimum of 34`);
  need(buf, offset, length, code, `${what}: record of ${length} bytes`);
  const extAttr = u8(buf, offset + 1, code, what);
  const extentLba = u32le(buf, offset + 2, code, what) + extAttr;
  const dataLength = u32le(buf, offset + 10, code, what);
  const flags = u8(buf, offset + 25, code, what);
  const nameLength = u8(buf, offset + 32, code, what);
  if (33 + nameLength > length) throw isoError(code, `${what}: name of ${nameLength} bytes overflows its ${length}-byte record`);
  const nameBytes = buf.subarray(offset + 33, offset + 33 + nameLength);
  const suStart = 33 + nameLength + (nameLength % 2 === 0 ? 1 : 0);
  const systemUse = suStart < length ? buf.subarray(offset + suStart, offset + length) : new Uint8Array(0);
  return { length, extentLba, dataLength, flags, nameBytes, systemUse };
}

function trimPadding(value: string): string {
  return value.replace(/[\s\0]+$/u, '');
}

/** Normalises an ISO 9660 file identifier: `CONTEXT.SH;1` → `context.sh`. */
export function normaliseIsoName(identifier: string, isDirectory: boolean): string {
  let name = identifier;
  const semicolon = name.lastIndexOf(';');
  if (!isDirectory && semicolon >= 0) name = name.slice(0, semicolon);
  if (!isDirectory && name.endsWith('.')) name = name.slice(0, -1);
  return name.toLowerCase();
}

function stripJolietVersion(name: string): string {
  const semicolon = name.lastIndexOf(';');
  return semicolon >= 0 && /^;\d+$/u.test(name.slice(semicolon)) ? name.slice(0, semicolon) : name;
}

export class IsoImage {
  readonly info: VolumeInfo;
  readonly #source: ByteSource;
  readonly #root: RawRecord;
  readonly #suspSkip: number;
  readonly #directoryCache = new Map<number, Directory>();
  #entryBudget = MAX_ENTRIES;

  private constructor(source: ByteSource, info: VolumeInfo, root: RawRecord, suspSkip: number) {
    this.#source = source;
    this.info = info;
    this.#root = root;
    this.#suspSkip = suspSkip;
  }

  /** Opens an image: reads the volume descriptors and decides which name scheme to use. */
  static async open(source: ByteSource, options: { preferJoliet?: boolean } = {}): Promise<IsoImage> {
    let primary: Descriptor | undefined;
    let joliet: Descriptor | undefined;
    let sawTerminator = false;
    for (let i = 0; i < MAX_DESCRIPTORS; i++) {
      const offset = (FIRST_DESCRIPTOR_SECTOR + i) * SECTOR;
      if (source.size !== undefined && offset + SECTOR > source.size) {
        if (i === 0) throw isoError('ERR_ISO_TRUNCATED', `image is ${source.size} bytes, too short for a volume descriptor at ${offset}`);
        break;
      }
      const sector = await source.read(offset, SECTOR);
      if (sector.length < SECTOR) {
        if (i === 0) throw isoError('ERR_ISO_TRUNCATED', `image ends before the first volume descriptor at byte ${offset}`);
        break;
      }
      const magic = ascii(sector, 1, 5, 'ERR_ISO_TRUNCATED', 'descriptor');
      if (magic !== 'CD001') {
        if (i === 0) throw new VmctxError('ERR_ISO_BAD_MAGIC', `no ISO 9660 signature at byte ${offset + 1} (found ${JSON.stringify(magic)})`);
        break;
      }
      const type = sector[0];
      if (type === 255) {
        sawTerminator = true;
        break;
      }
      if (type === 1 && primary === undefined) primary = parseDescriptor(sector, false);
      if (type === 2 && joliet === undefined && isJolietEscape(sector)) joliet = parseDescriptor(sector, true);
    }
    if (primary === undefined) {
      throw new VmctxError('ERR_ISO_NO_PRIMARY', `no primary volume descriptor${sawTerminator ? ' before the terminator' : ''}`);
    }
    const volumeBytes = primary.volumeBlocks * primary.blockSize;
    const probe = new IsoImage(source, provisionalInfo(primary, volumeBytes), primary.root, 0);
    const rock = await probe.#detectRockRidge();
    const useJoliet = joliet !== undefined && (rock === undefined || options.preferJoliet === true);
    const scheme: NameScheme = useJoliet ? 'joliet' : rock !== undefined ? 'rockridge' : 'iso9660';
    const info: VolumeInfo = {
      volumeId: primary.volumeId,
      jolietVolumeId: joliet?.volumeId,
      blockSize: primary.blockSize,
      volumeBytes,
      hasRockRidge: rock !== undefined,
      hasJoliet: joliet !== undefined,
      scheme,
    };
    const root = useJoliet && joliet !== undefined ? joliet.root : primary.root;
    const image = new IsoImage(source, info, root, rock ?? 0);
    image.#checkExtent(root.extentLba, root.dataLength, 'root directory');
    return image;
  }

  /** Lists a directory ('/' for the root). */
  async list(path = '/'): Promise<IsoEntry[]> {
    const entry = await this.stat(path);
    if (entry === undefined) throw new VmctxError('ERR_ISO_NOT_FOUND', `${path}: no such directory on the medium`);
    if (!entry.isDirectory) throw new VmctxError('ERR_ISO_NOT_FOUND', `${path}: not a directory`);
    return this.#readDirectory(entry, splitPath(path).length);
  }

  /** Looks a path up; exact names first, then case-insensitively. Undefined when absent. */
  async stat(path: string): Promise<IsoEntry | undefined> {
    let current: IsoEntry = this.#rootEntry();
    const parts = splitPath(path);
    for (let depth = 0; depth < parts.length; depth++) {
      const part = parts[depth] ?? '';
      if (!current.isDirectory) return undefined;
      // by the directory's name index: a lookup per name, however many names the directory has
      const children = await this.#loadDirectory(current, depth);
      const found = children.exact.get(part) ?? children.folded.get(part.toLowerCase());
      if (found === undefined) return undefined;
      current = rebase(found, current.path);
    }
    return current;
  }

  /** Every entry below the root, depth first, with loop and depth protection. */
  async walk(): Promise<IsoEntry[]> {
    const out: IsoEntry[] = [];
    const visit = async (dir: IsoEntry, depth: number, seen: Set<number>): Promise<void> => {
      for (const child of await this.#readDirectory(dir, depth)) {
        out.push(child);
        if (child.isDirectory) {
          const key = child.extents[0]?.offset ?? -1;
          if (seen.has(key)) throw new VmctxError('ERR_ISO_DIR_LOOP', `${child.path}: directory points back at one of its ancestors`);
          await visit(child, depth + 1, new Set([...seen, key]));
        }
      }
    };
    const root = this.#rootEntry();
    await visit(root, 0, new Set([root.extents[0]?.offset ?? -1]));
    return out;
  }

  /** Reads a whole file, refusing more than maxBytes (ERR_ISO_FILE_TOO_LARGE). */
  async readFile(pathOrEntry: string | IsoEntry, options: { maxBytes: number }): Promise<Buffer> {
    const entry = typeof pathOrEntry === 'string' ? await this.stat(pathOrEntry) : pathOrEntry;
    if (entry === undefined) throw new VmctxError('ERR_ISO_NOT_FOUND', `${typeof pathOrEntry === 'string' ? pathOrEntry : pathOrEntry.path}: no such file on the medium`);
    if (entry.isDirectory) throw new VmctxError('ERR_ISO_NOT_FOUND', `${entry.path}: is a directory`);
    return readWhole(entry, options.maxBytes, 'ERR_ISO_FILE_TOO_LARGE', this.stream(entry));
  }

  /** Streams a file of any size in chunks; never holds more than one chunk. */
  async *stream(entry: IsoEntry, chunkSize = 1024 * 1024): AsyncGenerator<Uint8Array> {
    for (const extent of entry.extents) {
      for (let done = 0; done < extent.length; done += chunkSize) {
        const length = Math.min(chunkSize, extent.length - done);
        yield await readExact(this.#source, extent.offset + done, length, entry.path);
      }
    }
  }

  #rootEntry(): IsoEntry {
    return {
      name: '',
      path: '/',
      isDirectory: true,
      size: this.#root.dataLength,
      extents: [{ offset: this.#root.extentLba * this.info.blockSize, length: this.#root.dataLength }],
    };
  }

  #checkExtent(lba: number, length: number, what: string): void {
    const start = lba * this.info.blockSize;
    const end = start + length;
    const limit = this.#source.size === undefined ? this.info.volumeBytes : Math.min(this.info.volumeBytes, this.#source.size);
    if (length > 0 && end > limit) {
      throw isoError('ERR_ISO_EXTENT_OUT_OF_BOUNDS', `${what}: extent at block ${lba} (${length} bytes) ends at byte ${end}, past the end of the volume (${limit})`);
    }
    if (length > 0 && lba < FIRST_DESCRIPTOR_SECTOR + 1) {
      throw isoError('ERR_ISO_EXTENT_OUT_OF_BOUNDS', `${what}: extent at block ${lba} lies in the system area / descriptors`);
    }
  }

  async #detectRockRidge(): Promise<number | undefined> {
    this.#checkExtent(this.#root.extentLba, this.#root.dataLength, 'root directory');
    const first = await readExact(this.#source, this.#root.extentLba * this.info.blockSize, Math.min(SECTOR, this.#root.dataLength), 'root directory');
    if (first.length === 0) return undefined;
    const dot = parseRecord(first, 0, 'root "." record');
    const su = dot.systemUse;
    // SUSP "SP" entry: 'S' 'P' len=7 ver=1 0xBE 0xEF skip
    if (su.length >= 7 && su[0] === 0x53 && su[1] === 0x50 && su[2] === 7 && su[4] === 0xbe && su[5] === 0xef) {
      return su[6] ?? 0;
    }
    return undefined;
  }

  async #readDirectory(dir: IsoEntry, depth: number): Promise<IsoEntry[]> {
    return (await this.#loadDirectory(dir, depth)).entries.map((e) => rebase(e, dir.path));
  }

  /** A directory's entries (with the paths of the first way it was reached) and its name index, read once. */
  async #loadDirectory(dir: IsoEntry, depth: number): Promise<Directory> {
    if (depth >= MAX_DEPTH) throw new VmctxError('ERR_ISO_TOO_DEEP', `${dir.path}: directories nested deeper than ${MAX_DEPTH}`);
    const extent = dir.extents[0];
    if (extent === undefined) return { entries: [], exact: new Map(), folded: new Map() };
    const cached = this.#directoryCache.get(extent.offset);
    if (cached !== undefined) return cached;
    if (extent.length > MAX_DIRECTORY_BYTES) {
      throw isoError('ERR_ISO_RECORD_OVERFLOW', `${dir.path}: directory of ${extent.length} bytes is over the limit of ${MAX_DIRECTORY_BYTES}`);
    }
    this.#checkExtent(extent.offset / this.info.blockSize, extent.length, dir.path);
    const data = await readExact(this.#source, extent.offset, extent.length, dir.path);
    const entries: IsoEntry[] = [];
    let pending: { name: string; extents: Extent[]; size: number } | undefined;
    let offset = 0;
    let index = 0;
    while (offset < data.length) {
      const length = data[offset] ?? 0;
      if (length === 0) {
        // Records never span sectors: a zero length means "continue at the next sector".
        offset = (Math.floor(offset / SECTOR) + 1) * SECTOR;
        continue;
      }
      if (Math.floor(offset / SECTOR) !== Math.floor((offset + length - 1) / SECTOR)) {
        throw isoError('ERR_ISO_RECORD_OVERFLOW', `${dir.path}: record at byte ${offset} crosses a sector boundary`);
      }
      const record = parseRecord(data, offset, `${dir.path}: record ${index}`);
      offset += record.length;
      index++;
      if (index <= 2 && record.nameBytes.length === 1 && (record.nameBytes[0] === 0 || record.nameBytes[0] === 1)) continue;
      if (--this.#entryBudget < 0) throw isoError('ERR_ISO_RECORD_OVERFLOW', `more than ${MAX_ENTRIES} entries on the medium`);
      const isDirectory = (record.flags & 0x02) !== 0;
      const rock = this.info.scheme === 'rockridge' ? await this.#parseRock(record.systemUse, dir.path) : {};
      if (rock.isRelocated === true) continue;
      const name = this.#entryName(record, isDirectory, rock, dir.path);
      const extentLba = rock.relocatedTo ?? record.extentLba;
      const dataLength = rock.relocatedTo === undefined ? record.dataLength : await this.#relocatedLength(rock.relocatedTo, dir.path);
      this.#checkExtent(extentLba, dataLength, `${dir.path === '/' ? '' : dir.path}/${name}`);
      const piece: Extent = { offset: extentLba * this.info.blockSize, length: dataLength };
      // Multi-extent files: records flagged 0x80 continue in the next record of the same name.
      if (pending !== undefined && pending.name === name) {
        pending.extents.push(piece);
        pending.size += dataLength;
      } else {
        pending = { name, extents: [piece], size: dataLength };
      }
      if ((record.flags & 0x80) !== 0 && !isDirectory) continue;
      const path = `${dir.path === '/' ? '' : dir.path}/${name}`;
      const entry: IsoEntry = {
        name,
        path,
        isDirectory: isDirectory || rock.relocatedTo !== undefined,
        size: pending.size,
        extents: pending.extents,
        ...(rock.mode === undefined ? {} : { mode: rock.mode }),
        ...(rock.symlinkTarget === undefined ? {} : { symlinkTarget: rock.symlinkTarget }),
      };
      pending = undefined;
      entries.push(entry);
    }
    if (pending !== undefined) throw isoError('ERR_ISO_RECORD_OVERFLOW', `${dir.path}: multi-extent file "${pending.name}" has no final record`);
    // the first entry of a name wins, exactly as a scan in directory order would find it
    const exact = new Map<string, IsoEntry>();
    const folded = new Map<string, IsoEntry>();
    for (const e of entries) {
      if (!exact.has(e.name)) exact.set(e.name, e);
      const lower = e.name.toLowerCase();
      if (!folded.has(lower)) folded.set(lower, e);
    }
    const loaded: Directory = { entries, exact, folded };
    this.#directoryCache.set(extent.offset, loaded);
    return loaded;
  }

  async #relocatedLength(lba: number, where: string): Promise<number> {
    this.#checkExtent(lba, SECTOR, `${where}: relocated directory`);
    const sector = await readExact(this.#source, lba * this.info.blockSize, SECTOR, `${where}: relocated directory`);
    return parseRecord(sector, 0, `${where}: relocated "."`).dataLength;
  }

  #entryName(record: RawRecord, isDirectory: boolean, rock: RockInfo, where: string): string {
    let name: string;
    if (this.info.scheme === 'joliet') {
      name = stripJolietVersion(ucs2be(record.nameBytes, 0, record.nameBytes.length, 'ERR_ISO_RECORD_OVERFLOW', where));
    } else if (rock.name !== undefined) {
      name = rock.name;
    } else {
      name = normaliseIsoName(ascii(record.nameBytes, 0, record.nameBytes.length, 'ERR_ISO_RECORD_OVERFLOW', where), isDirectory);
    }
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
      throw isoError('ERR_ISO_RECORD_OVERFLOW', `${where}: entry with an unusable name ${JSON.stringify(name)}`);
    }
    return name;
  }

  async #parseRock(systemUse: Uint8Array, where: string): Promise<RockInfo> {
    const info: RockInfo = {};
    let nameParts: string | undefined;
    let linkParts: string[] | undefined;
    let linkContinues = false;
    let area = systemUse.subarray(Math.min(this.#suspSkip, systemUse.length));
    for (let hops = 0; hops <= MAX_CONTINUATIONS; hops++) {
      let next: { lba: number; offset: number; length: number } | undefined;
      let offset = 0;
      while (offset + 4 <= area.length) {
        const sig = String.fromCharCode(area[offset] ?? 0, area[offset + 1] ?? 0);
        const len = area[offset + 2] ?? 0;
        if (len < 4 || offset + len > area.length) break; // padding or a damaged tail: stop reading this area
        const body = area.subarray(offset + 4, offset + len);
        const code = 'ERR_ISO_RECORD_OVERFLOW';
        switch (sig) {
          case 'NM': {
            const flags = u8(body, 0, code, `${where}: NM`);
            if ((flags & 0x06) === 0) nameParts = (nameParts ?? '') + Buffer.from(body.subarray(1)).toString('utf8');
            break;
          }
          case 'PX':
            info.mode = u32le(body, 0, code, `${where}: PX`);
            break;
          case 'SL': {
            const flags = u8(body, 0, code, `${where}: SL`);
            linkParts ??= [];
            let p = 1;
            while (p + 2 <= body.length) {
              const cflags = body[p] ?? 0;
              const clen = body[p + 1] ?? 0;
              need(body, p + 2, clen, code, `${where}: SL component`);
              const text = Buffer.from(body.subarray(p + 2, p + 2 + clen)).toString('utf8');
              const part = (cflags & 0x02) !== 0 ? '.' : (cflags & 0x04) !== 0 ? '..' : (cflags & 0x08) !== 0 ? '' : text;
              if (linkContinues && linkParts.length > 0) linkParts[linkParts.length - 1] = (linkParts.at(-1) ?? '') + part;
              else linkParts.push(part);
              if (linkParts.length > MAX_SYMLINK_COMPONENTS) throw isoError(code, `${where}: symlink with too many components`);
              linkContinues = (cflags & 0x01) !== 0;
              p += 2 + clen;
            }
            if ((flags & 0x01) === 0) linkContinues = false;
            break;
          }
          case 'CE':
            next = {
              lba: u32le(body, 0, code, `${where}: CE`),
              offset: u32le(body, 8, code, `${where}: CE`),
              length: u32le(body, 16, code, `${where}: CE`),
            };
            break;
          case 'CL':
            info.relocatedTo = u32le(body, 0, code, `${where}: CL`);
            break;
          case 'RE':
            info.isRelocated = true;
            break;
          case 'ST':
            offset = area.length;
            continue;
          default:
            break;
        }
        offset += len;
      }
      if (next === undefined) break;
      if (hops === MAX_CONTINUATIONS) throw isoError('ERR_ISO_RECORD_OVERFLOW', `${where}: more than ${MAX_CONTINUATIONS} continuation areas`);
      if (next.length > SECTOR || next.offset + next.length > this.info.blockSize) {
        throw isoError('ERR_ISO_RECORD_OVERFLOW', `${where}: continuation area of ${next.length} bytes at ${next.offset} overflows its block`);
      }
      this.#checkExtent(next.lba, next.offset + next.length, `${where}: continuation area`);
      area = await readExact(this.#source, next.lba * this.info.blockSize + next.offset, next.length, `${where}: continuation area`);
    }
    if (nameParts !== undefined && nameParts !== '') info.name = nameParts;
    if (linkParts !== undefined) {
      const absolute = linkParts[0] === '';
      info.symlinkTarget = (absolute ? '/' : '') + linkParts.filter((p, i) => !(absolute && i === 0)).join('/');
    }
    return info;
  }
}

/**
 * Identifies a file's bytes: names whose extents are all the same (hard links made by
 * genisoimage -cache-inodes or xorriso -hardlinks) share one key, so a budget counts them once.
 */
export function extentKey(entry: IsoEntry): string {
  return entry.extents.map((e) => `${e.offset}+${e.length}`).join(',');
}

function provisionalInfo(primary: Descriptor, volumeBytes: number): VolumeInfo {
  return {
    volumeId: primary.volumeId,
    jolietVolumeId: undefined,
    blockSize: primary.blockSize,
    volumeBytes,
    hasRockRidge: false,
    hasJoliet: false,
    scheme: 'iso9660',
  };
}

function rebase(entry: IsoEntry, parentPath: string): IsoEntry {
  const path = `${parentPath === '/' ? '' : parentPath}/${entry.name}`;
  return path === entry.path ? entry : { ...entry, path };
}

function isJolietEscape(sector: Uint8Array): boolean {
  return sector[88] === 0x25 && sector[89] === 0x2f && (sector[90] === 0x40 || sector[90] === 0x43 || sector[90] === 0x45);
}

function parseDescriptor(sector: Uint8Array, joliet: boolean): Descriptor {
  const code = 'ERR_ISO_TRUNCATED';
  const volumeId = trimPadding(joliet ? ucs2be(sector, 40, 32, code, 'volume id') : ascii(sector, 40, 32, code, 'volume id'));
  const volumeBlocks = u32le(sector, 80, code, 'volume space size');
  const blockSize = u16le(sector, 128, code, 'logical block size');
  if (blockSize !== 2048 && blockSize !== 1024 && blockSize !== 512) {
    throw new VmctxError('ERR_ISO_BAD_MAGIC', `logical block size ${blockSize} is not 512, 1024 or 2048`);
  }
  const root = parseRecord(sector, 156, 'root directory record');
  if ((root.flags & 0x02) === 0) throw isoError('ERR_ISO_RECORD_OVERFLOW', 'root directory record is not flagged as a directory');
  return { volumeId, blockSize, volumeBlocks, root };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/** Reads only the volume labels (primary and Joliet), for device discovery. Undefined when not ISO 9660. */
export async function readVolumeLabel(source: ByteSource): Promise<string | undefined> {
  const sector = await source.read(FIRST_DESCRIPTOR_SECTOR * SECTOR, SECTOR);
  if (sector.length < SECTOR || ascii(sector, 1, 5, 'ERR_ISO_TRUNCATED', 'descriptor') !== 'CD001') return undefined;
  return trimPadding(ascii(sector, 40, 32, 'ERR_ISO_TRUNCATED', 'volume id'));
}
