// A small ISO 9660 writer: level-1 names, Rock Ridge (SP/ER/NM/PX) and Joliet (UCS-2), path
// tables, one extent per file. Enough for context CDs and for test fixtures; pure (returns bytes).
import { VmctxError } from '../../shared/errors.js';
import { SECTOR } from './reader.js';

export interface IsoFileInput {
  /** '/'-separated path inside the image, e.g. "context.sh" or "scripts/init.sh". */
  readonly path: string;
  readonly data: Uint8Array;
  /** POSIX permission bits for Rock Ridge (default 0o644). */
  readonly mode?: number;
}

export interface IsoWriteOptions {
  readonly volumeId?: string;
  readonly rockRidge?: boolean;
  readonly joliet?: boolean;
  /** Timestamp for every record (default: now). Fixed values give reproducible images. */
  readonly date?: Date;
}

interface Node {
  name: string;
  isDirectory: boolean;
  data: Uint8Array;
  mode: number;
  children: Node[];
  parent: Node | undefined;
  isoName: string;
  dataLba: number;
  dirLba: number;
  dirSize: number;
  jDirLba: number;
  jDirSize: number;
  number: number;
}

const MAX_FILE = 0xffffffff;
const JOLIET_MAX_NAME = 64;

function newNode(name: string, isDirectory: boolean, parent: Node | undefined, data: Uint8Array = new Uint8Array(0), mode = 0o644): Node {
  return { name, isDirectory, data, mode, children: [], parent, isoName: '', dataLba: 0, dirLba: 0, dirSize: 0, jDirLba: 0, jDirSize: 0, number: 0 };
}

function writeError(message: string): VmctxError {
  return new VmctxError('ERR_ISO_WRITE', message);
}

function both16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset);
  buf.writeUInt16BE(value, offset + 2);
}

function both32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

function padAscii(buf: Buffer, offset: number, length: number, text: string): void {
  buf.fill(0x20, offset, offset + length);
  buf.write(text.slice(0, length), offset, 'latin1');
}

function padUcs2(buf: Buffer, offset: number, length: number, text: string): void {
  for (let i = 0; i + 1 < length; i += 2) buf.writeUInt16BE(0x20, offset + i);
  const chars = text.slice(0, Math.floor(length / 2));
  for (let i = 0; i < chars.length; i++) buf.writeUInt16BE(chars.charCodeAt(i), offset + i * 2);
}

function recordDate(date: Date): Buffer {
  const b = Buffer.alloc(7);
  b[0] = date.getUTCFullYear() - 1900;
  b[1] = date.getUTCMonth() + 1;
  b[2] = date.getUTCDate();
  b[3] = date.getUTCHours();
  b[4] = date.getUTCMinutes();
  b[5] = date.getUTCSeconds();
  b[6] = 0;
  return b;
}

function volumeDate(date: Date | undefined): string {
  if (date === undefined) return '0000000000000000';
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}00`;
}

function sectorsFor(bytes: number): number {
  return Math.ceil(bytes / SECTOR);
}

/** Level-1 identifier: 8.3, upper case d-characters, unique within its directory. */
function assignIsoNames(dir: Node): void {
  const used = new Set<string>();
  for (const child of dir.children) {
    const clean = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9_]/gu, '_');
    const dot = child.isDirectory ? -1 : child.name.lastIndexOf('.');
    const base = clean(dot > 0 ? child.name.slice(0, dot) : child.name).slice(0, 8) || '_';
    const ext = dot > 0 ? clean(child.name.slice(dot + 1)).slice(0, 3) : '';
    let candidate = base;
    for (let n = 1; used.has(candidate + '.' + ext); n++) {
      const suffix = String(n);
      candidate = base.slice(0, 8 - suffix.length) + suffix;
    }
    used.add(candidate + '.' + ext);
    child.isoName = child.isDirectory ? candidate : `${candidate}.${ext};1`;
  }
  dir.children.sort((a, b) => (a.isoName < b.isoName ? -1 : a.isoName > b.isoName ? 1 : 0));
  for (const child of dir.children) if (child.isDirectory) assignIsoNames(child);
}

function suspFor(node: Node, isDot: boolean, isRoot: boolean): Buffer {
  const parts: Buffer[] = [];
  if (isDot && isRoot) {
    parts.push(Buffer.from([0x53, 0x50, 7, 1, 0xbe, 0xef, 0])); // SP
    const id = Buffer.from('RRIP_1991A', 'latin1');
    const desc = Buffer.from('ROCK RIDGE 1.09', 'latin1');
    const src = Buffer.from('VMCTX', 'latin1');
    const er = Buffer.alloc(8 + id.length + desc.length + src.length);
    er.write('ER', 0, 'latin1');
    er[2] = er.length;
    er[3] = 1;
    er[4] = id.length;
    er[5] = desc.length;
    er[6] = src.length;
    er[7] = 1;
    id.copy(er, 8);
    desc.copy(er, 8 + id.length);
    src.copy(er, 8 + id.length + desc.length);
    parts.push(er);
  }
  const px = Buffer.alloc(36);
  px.write('PX', 0, 'latin1');
  px[2] = 36;
  px[3] = 1;
  both32(px, 4, (node.isDirectory ? 0o040000 : 0o100000) | (node.mode & 0o7777));
  both32(px, 12, node.isDirectory ? 2 : 1);
  both32(px, 20, 0);
  both32(px, 28, 0);
  parts.push(px);
  if (!isDot) {
    const name = Buffer.from(node.name, 'utf8');
    const nm = Buffer.alloc(5 + name.length);
    nm.write('NM', 0, 'latin1');
    nm[2] = nm.length;
    nm[3] = 1;
    nm[4] = 0;
    name.copy(nm, 5);
    parts.push(nm);
  }
  return Buffer.concat(parts);
}

interface RecordArgs {
  lba: number;
  size: number;
  isDirectory: boolean;
  name: Buffer;
  systemUse: Buffer;
  date: Buffer;
}

function directoryRecord(args: RecordArgs): Buffer {
  const nameLength = args.name.length;
  const pad = nameLength % 2 === 0 ? 1 : 0;
  const length = 33 + nameLength + pad + args.systemUse.length;
  const total = length + (length % 2);
  if (total > 255) throw writeError(`directory record of ${total} bytes: a name is too long`);
  const rec = Buffer.alloc(total);
  rec[0] = total;
  both32(rec, 2, args.lba);
  both32(rec, 10, args.size);
  args.date.copy(rec, 18);
  rec[25] = args.isDirectory ? 0x02 : 0x00;
  both16(rec, 28, 1);
  rec[32] = nameLength;
  args.name.copy(rec, 33);
  args.systemUse.copy(rec, 33 + nameLength + pad);
  return rec;
}

function packRecords(records: Buffer[]): Buffer {
  const sectors: Buffer[] = [];
  let current = Buffer.alloc(SECTOR);
  let used = 0;
  for (const rec of records) {
    if (used + rec.length > SECTOR) {
      sectors.push(current);
      current = Buffer.alloc(SECTOR);
      used = 0;
    }
    rec.copy(current, used);
    used += rec.length;
  }
  sectors.push(current);
  return Buffer.concat(sectors);
}

function ucs2Name(name: string): Buffer {
  const b = Buffer.alloc(name.length * 2);
  for (let i = 0; i < name.length; i++) b.writeUInt16BE(name.charCodeAt(i), i * 2);
  return b;
}

/** Builds the tree from file paths, rejecting unusable names. */
function buildTree(files: readonly IsoFileInput[]): Node {
  const root = newNode('', true, undefined, new Uint8Array(0), 0o755);
  for (const file of files) {
    const parts = file.path.split('/').filter((p) => p !== '');
    if (parts.length === 0) throw writeError(`empty path ${JSON.stringify(file.path)}`);
    let dir = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      if (part === '.' || part === '..' || part.includes('\0') || part.length > 255) {
        throw writeError(`${JSON.stringify(file.path)}: "${part}" is not a usable file name`);
      }
      const last = i === parts.length - 1;
      const existing = dir.children.find((c) => c.name === part);
      if (last) {
        if (existing !== undefined) throw writeError(`${file.path}: given twice`);
        if (file.data.length > MAX_FILE) throw writeError(`${file.path}: ${file.data.length} bytes is over the 4 GiB single-extent limit`);
        dir.children.push(newNode(part, false, dir, file.data, file.mode ?? 0o644));
      } else if (existing === undefined) {
        const sub = newNode(part, true, dir, new Uint8Array(0), 0o755);
        dir.children.push(sub);
        dir = sub;
      } else if (!existing.isDirectory) {
        throw writeError(`${file.path}: ${part} is a file`);
      } else {
        dir = existing;
      }
    }
  }
  return root;
}

function directoriesBreadthFirst(root: Node): Node[] {
  const out: Node[] = [root];
  for (let i = 0; i < out.length; i++) {
    const dir = out[i];
    if (dir !== undefined) for (const child of dir.children) if (child.isDirectory) out.push(child);
  }
  return out;
}

function pathTable(dirs: Node[], joliet: boolean, bigEndian: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const dir of dirs) {
    const name = dir.parent === undefined ? Buffer.from([0]) : joliet ? ucs2Name(dir.name) : Buffer.from(dir.isoName, 'latin1');
    const entry = Buffer.alloc(8 + name.length + (name.length % 2));
    entry[0] = name.length;
    const lba = joliet ? dir.jDirLba : dir.dirLba;
    const parentNumber = dir.parent?.number ?? 1;
    if (bigEndian) {
      entry.writeUInt32BE(lba, 2);
      entry.writeUInt16BE(parentNumber, 6);
    } else {
      entry.writeUInt32LE(lba, 2);
      entry.writeUInt16LE(parentNumber, 6);
    }
    name.copy(entry, 8);
    parts.push(entry);
  }
  return Buffer.concat(parts);
}

/** Writes an ISO 9660 image holding `files`; returns the whole image. */
export function writeIso(files: readonly IsoFileInput[], options: IsoWriteOptions = {}): Buffer {
  const rockRidge = options.rockRidge ?? true;
  const joliet = options.joliet ?? true;
  const date = options.date ?? new Date();
  const recDate = recordDate(date);
  const volumeId = (options.volumeId ?? 'CONTEXT').slice(0, 32);
  const root = buildTree(files);
  assignIsoNames(root);
  const dirs = directoriesBreadthFirst(root);
  // Joliet path tables order directories by parent and then by name; keep the same BFS order
  // but with UCS-2 name sorting inside each directory (done when building records).
  dirs.forEach((d, i) => (d.number = i + 1));
  if (joliet) {
    for (const d of dirs) {
      for (const c of d.children) {
        if (c.name.length > JOLIET_MAX_NAME) throw writeError(`${c.name}: Joliet names are limited to ${JOLIET_MAX_NAME} characters`);
      }
    }
  }

  // Sizes of directory extents (records depend on names only, not on LBAs).
  const dirRecords = (dir: Node, forJoliet: boolean, resolve: boolean): Buffer[] => {
    const lbaOf = (n: Node): number => (forJoliet ? n.jDirLba : n.dirLba);
    const sizeOf = (n: Node): number => (forJoliet ? n.jDirSize : n.dirSize);
    const withRock = rockRidge && !forJoliet;
    const parent = dir.parent ?? dir;
    const out: Buffer[] = [
      directoryRecord({ lba: resolve ? lbaOf(dir) : 0, size: resolve ? sizeOf(dir) : 0, isDirectory: true, name: Buffer.from([0]), systemUse: withRock ? suspFor(dir, true, dir.parent === undefined) : Buffer.alloc(0), date: recDate }),
      directoryRecord({ lba: resolve ? lbaOf(parent) : 0, size: resolve ? sizeOf(parent) : 0, isDirectory: true, name: Buffer.from([1]), systemUse: withRock ? suspFor(parent, true, false) : Buffer.alloc(0), date: recDate }),
    ];
    const children = forJoliet ? [...dir.children].sort((a, b) => Buffer.compare(ucs2Name(a.name), ucs2Name(b.name))) : dir.children;
    for (const child of children) {
      out.push(
        directoryRecord({
          lba: resolve ? (child.isDirectory ? lbaOf(child) : child.data.length === 0 ? 0 : child.dataLba) : 0,
          size: resolve ? (child.isDirectory ? sizeOf(child) : child.data.length) : 0,
          isDirectory: child.isDirectory,
          name: forJoliet ? ucs2Name(child.name) : Buffer.from(child.isoName, 'latin1'),
          systemUse: withRock ? suspFor(child, false, false) : Buffer.alloc(0),
          date: recDate,
        }),
      );
    }
    return out;
  };
  for (const d of dirs) {
    d.dirSize = packRecords(dirRecords(d, false, false)).length;
    if (joliet) d.jDirSize = packRecords(dirRecords(d, true, false)).length;
  }

  // Layout: 16 system sectors, PVD, [SVD], terminator, path tables, directories, file data.
  let lba = 16;
  const pvdLba = lba++;
  const svdLba = joliet ? lba++ : 0;
  const termLba = lba++;
  const ptSize = pathTable(dirs, false, false).length;
  const lPtLba = lba;
  lba += sectorsFor(ptSize);
  const mPtLba = lba;
  lba += sectorsFor(ptSize);
  const jptSize = joliet ? pathTable(dirs, true, false).length : 0;
  const jlPtLba = lba;
  const jmPtLba = joliet ? lba + sectorsFor(jptSize) : 0;
  if (joliet) lba += 2 * sectorsFor(jptSize);
  for (const d of dirs) {
    d.dirLba = lba;
    lba += sectorsFor(d.dirSize);
  }
  if (joliet) {
    for (const d of dirs) {
      d.jDirLba = lba;
      lba += sectorsFor(d.jDirSize);
    }
  }
  const fileNodes: Node[] = [];
  for (const d of dirs) for (const c of d.children) if (!c.isDirectory) fileNodes.push(c);
  for (const f of fileNodes) {
    if (f.data.length === 0) continue;
    f.dataLba = lba;
    lba += sectorsFor(f.data.length);
  }
  const totalSectors = lba;
  if (totalSectors * SECTOR > Number.MAX_SAFE_INTEGER) throw writeError('image too large');

  const image = Buffer.alloc(totalSectors * SECTOR);
  const descriptor = (type: number, isJoliet: boolean): Buffer => {
    const d = Buffer.alloc(SECTOR);
    d[0] = type;
    d.write('CD001', 1, 'latin1');
    d[6] = 1;
    const text = isJoliet ? padUcs2 : padAscii;
    text(d, 8, 32, 'LINUX');
    text(d, 40, 32, volumeId);
    both32(d, 80, totalSectors);
    if (isJoliet) d.write('%/E', 88, 'latin1');
    both16(d, 120, 1);
    both16(d, 124, 1);
    both16(d, 128, SECTOR);
    both32(d, 132, isJoliet ? jptSize : ptSize);
    d.writeUInt32LE(isJoliet ? jlPtLba : lPtLba, 140);
    d.writeUInt32BE(isJoliet ? jmPtLba : mPtLba, 148);
    const rootRec = directoryRecord({ lba: isJoliet ? root.jDirLba : root.dirLba, size: isJoliet ? root.jDirSize : root.dirSize, isDirectory: true, name: Buffer.from([0]), systemUse: Buffer.alloc(0), date: recDate });
    rootRec.copy(d, 156);
    for (const [offset, length] of [[190, 128], [318, 128], [446, 128], [574, 128], [702, 37], [739, 37], [776, 37]] as const) text(d, offset, length, '');
    text(d, 574, 128, 'VMCTX');
    d.write(volumeDate(date), 813, 'latin1');
    d.write(volumeDate(date), 830, 'latin1');
    d.write(volumeDate(undefined), 847, 'latin1');
    d.write(volumeDate(undefined), 864, 'latin1');
    d[881] = 1;
    return d;
  };
  descriptor(1, false).copy(image, pvdLba * SECTOR);
  if (joliet) descriptor(2, true).copy(image, svdLba * SECTOR);
  const term = Buffer.alloc(SECTOR);
  term[0] = 255;
  term.write('CD001', 1, 'latin1');
  term[6] = 1;
  term.copy(image, termLba * SECTOR);
  pathTable(dirs, false, false).copy(image, lPtLba * SECTOR);
  pathTable(dirs, false, true).copy(image, mPtLba * SECTOR);
  if (joliet) {
    pathTable(dirs, true, false).copy(image, jlPtLba * SECTOR);
    pathTable(dirs, true, true).copy(image, jmPtLba * SECTOR);
  }
  for (const d of dirs) {
    packRecords(dirRecords(d, false, true)).copy(image, d.dirLba * SECTOR);
    if (joliet) packRecords(dirRecords(d, true, true)).copy(image, d.jDirLba * SECTOR);
  }
  for (const f of fileNodes) if (f.data.length > 0) image.set(f.data, f.dataLba * SECTOR);
  return image;
}
