// Datasource: the context medium. Found by label (CONTEXT, _STRATUSLAB, CDROM), then by the
// conventional device names (hdc, sr0, cdrom), then by an ISO 9660 signature on any block
// device. Waits for a late device only while the system says one is still coming (udev queue
// busy, or a CD drive known to the kernel without its /dev node yet), up to a deadline.
// A medium is ISO 9660 or FAT (vfat seeds and config drives), told apart by signature, and read
// without mounting either way.
import { IsoImage, extentKey, readVolumeLabel } from '../../formats/iso9660/reader.js';
import { FatImage, fatKey, looksLikeFat, readFatLabel } from '../../formats/fat/reader.js';
import type { ByteSource } from '../../formats/iso9660/source.js';
import { openByteSource, sourceIdentity, type OpenedSource } from '../../host/bytesource.js';
import { VmctxError, describeError, errnoCode } from '../../shared/errors.js';
import type { MediumFiles, RawContext, SourceInfo } from '../context/context.js';
import { DEFAULT_MEDIUM_MAX_BYTES, MediumBudget, directoryMedium, fatMedium, isoMedium, readRawContext } from './medium.js';
import { SEED_LABELS, readSeed, seedLayout, type SeedReader } from './seeds.js';
import { DirectoryRoot } from '../../host/root.js';
import { systemClock } from '../../host/clock.js';
import { listNames, pathExists, pathKind } from '../../host/devices.js';
import type { Datasource, OpenedContext, Probe, SourceAttempt } from './datasource.js';

export const MEDIUM_LABELS = ['CONTEXT', '_STRATUSLAB', 'CDROM'];
export const DEVICE_NAMES = ['hdc', 'sr0', 'cdrom'];
const MAX_SIGNATURE_SCAN = 64;

export const defaultProbe: Probe = {
  devDir: '/dev',
  sysDir: '/sys',
  runDir: '/run',
  waitMs: 3000,
  pollMs: 50,
  async listBlockDevices() {
    const si = await import('systeminformation');
    return (await si.blockDevices()).map((d) => d.name).filter((n) => /^[A-Za-z0-9._-]+$/u.test(n));
  },
};

/** Decodes udev's by-label escapes ("\x20" for a space). */
function decodeUdevLabel(name: string): string {
  return name.replace(/\\x([0-9a-fA-F]{2})/gu, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

interface Candidate {
  readonly path: string;
  readonly foundBy: string;
}

/**
 * A seed's files through the same budget as a context medium's: the seed reader names paths below
 * the top ("openstack/latest/user_data"); a link is not followed (absent, as before).
 */
function isoSeedReader(image: IsoImage, budget: MediumBudget): SeedReader {
  return async (p, maxBytes) => {
    const entry = await image.stat(p);
    if (entry === undefined || entry.isDirectory || entry.symlinkTarget !== undefined) return undefined;
    if (entry.size > maxBytes) return image.readFile(entry, { maxBytes }); // refused with ERR_ISO_FILE_TOO_LARGE
    budget.charge(extentKey(entry), entry.size, entry.path);
    return image.readFile(entry, { maxBytes });
  };
}

/** A FAT seed's files through the medium's budget, keyed by first cluster and size (FAT has no links). */
function fatSeedReader(image: FatImage, budget: MediumBudget): SeedReader {
  return async (p, maxBytes) => {
    const entry = await image.stat(p);
    if (entry === undefined || entry.isDirectory) return undefined;
    if (entry.size > maxBytes) return image.readFile(entry, { maxBytes }); // refused with ERR_FAT_FILE_TOO_LARGE
    budget.charge(fatKey(entry), entry.size, entry.path);
    return image.readFile(entry, { maxBytes });
  };
}

/** An ISO 9660 or FAT image opened for reading, whichever its signature says. */
export interface MediumImage {
  readonly format: 'iso9660' | 'fat';
  readonly label: string;
  /** How names were read: rockridge, joliet, iso9660, or the FAT type (fat12, fat16, fat32). */
  readonly scheme: string;
  /** The names at the top of the medium. */
  readonly names: readonly string[];
  /** The top-level files, for a context medium. */
  files(budget: MediumBudget): MediumFiles;
  /** Files by their path below the top, for a seed. */
  seedReader(budget: MediumBudget): SeedReader;
  /** A plain file by its path below the top, outside any budget (validate); undefined when absent or not a plain file. */
  readPath(path: string, maxBytes: number): Promise<Buffer | undefined>;
}

const ISO_MAGIC_OFFSET = 16 * 2048 + 1;

/**
 * Opens a medium as ISO 9660 when it has CD001 at 32 KiB, else as FAT when its first sector is a
 * boot sector (0x55AA and a BPB in range). Anything else gets the ISO reader's error, or the FAT
 * reader's when the first sector carries the boot signature.
 */
export async function openMediumImage(source: ByteSource): Promise<MediumImage> {
  const magic = Buffer.from(await source.read(ISO_MAGIC_OFFSET, 5)).toString('latin1');
  const boot = await source.read(0, 512);
  if (magic !== 'CD001' && boot.length === 512 && boot[510] === 0x55 && boot[511] === 0xaa) {
    let image: FatImage;
    try {
      image = await FatImage.open(source);
    } catch (error) {
      if (looksLikeFat(boot) || !(error instanceof VmctxError)) throw error;
      throw new VmctxError(error.code, `neither ISO 9660 (no CD001 at byte ${ISO_MAGIC_OFFSET}) nor FAT (${error.message})`, { cause: error });
    }
    const names = (await image.list('/')).map((e) => e.name);
    return {
      format: 'fat',
      label: image.info.label,
      scheme: image.info.type,
      names,
      files: (budget) => fatMedium(image, names, budget),
      seedReader: (budget) => fatSeedReader(image, budget),
      async readPath(p, maxBytes) {
        const entry = await image.stat(p);
        return entry === undefined || entry.isDirectory ? undefined : image.readFile(entry, { maxBytes });
      },
    };
  }
  const image = await IsoImage.open(source);
  const names = (await image.list('/')).map((e) => e.name);
  return {
    format: 'iso9660',
    label: image.info.volumeId,
    scheme: image.info.scheme,
    names,
    files: (budget) => isoMedium(image, names, budget),
    seedReader: (budget) => isoSeedReader(image, budget),
    async readPath(p, maxBytes) {
      const entry = await image.stat(p);
      if (entry === undefined || entry.isDirectory || entry.symlinkTarget !== undefined) return undefined;
      return image.readFile(entry, { maxBytes });
    },
  };
}

/** Opens a file or device as a medium image (ISO 9660 or FAT); the caller closes it. */
export async function openMediumFile(path: string, sysDir = '/sys'): Promise<MediumImage & { close(): Promise<void> }> {
  const source: OpenedSource = await openByteSource(path, sysDir);
  try {
    return { ...(await openMediumImage(source)), close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}

async function openImage(path: string, foundBy: string, kind: SourceInfo['kind'], sysDir: string, maxBytes: number): Promise<OpenedContext> {
  const image = await openMediumFile(path, sysDir);
  try {
    const info = { path, label: image.label, scheme: image.scheme, foundBy };
    const budget = new MediumBudget(maxBytes, path);
    const layout = image.names.some((n) => n.toLowerCase() === 'context.sh') ? undefined : seedLayout(image.names);
    let raw: RawContext;
    // a FAT image file given as --source is named as such (kind is the caller's guess before the sniff)
    const what: SourceInfo['kind'] = kind === 'iso-file' && image.format === 'fat' ? 'fat-file' : kind;
    if (layout === undefined) raw = await readRawContext(image.files(budget), { kind: what, ...info });
    else raw = await readSeed(layout, image.seedReader(budget), info);
    return { raw, attempts: [], close: () => image.close() };
  } catch (error) {
    await image.close();
    throw error;
  }
}

/** A directory holding context.sh, or a NoCloud / config-drive seed laid out as files. */
async function openDirectory(path: string, maxBytes: number): Promise<OpenedContext> {
  const root = new DirectoryRoot(path);
  const names = (await root.readdir('/')) ?? [];
  const layout = names.some((n) => n.toLowerCase() === 'context.sh') ? undefined : seedLayout(names);
  const info = { path, foundBy: '--source' };
  const budget = new MediumBudget(maxBytes, path);
  let raw: RawContext;
  if (layout === undefined) raw = await readRawContext(await directoryMedium(path, budget), { kind: 'directory', ...info });
  else {
    const read: SeedReader = async (p, limit) => {
      const entry = await root.lstat(`/${p}`);
      if (entry?.type !== 'file') return undefined;
      // charged with its size before the read (a larger file is refused by the read's own limit)
      if (entry.size <= limit) budget.charge(`/${p}`, entry.size, `/${p}`);
      return root.readFile(`/${p}`, { maxBytes: Math.min(limit, Math.max(entry.size, 0)) });
    };
    raw = await readSeed(layout, read, info);
  }
  return { raw, attempts: [], close: () => Promise.resolve() };
}

/** Opens what --source names: an ISO or FAT image file, a block device, or a directory holding context.sh or a seed. */
export async function openExplicitSource(path: string, sysDir = '/sys', options: { mediumMaxBytes?: number | undefined } = {}): Promise<OpenedContext> {
  let kind;
  try {
    kind = await pathKind(path);
  } catch (error) {
    throw new VmctxError('ERR_NO_CONTEXT', `--source ${path}: ${describeError(error).message}`, { cause: error });
  }
  const maxBytes = options.mediumMaxBytes ?? DEFAULT_MEDIUM_MAX_BYTES;
  if (kind === 'directory') return openDirectory(path, maxBytes);
  if (kind === 'file' || kind === 'block-device') return openImage(path, '--source', kind === 'file' ? 'iso-file' : 'block-device', sysDir, maxBytes);
  throw new VmctxError('ERR_SOURCE', `--source ${path}: not a file, block device or directory`);
}

async function labelCandidates(probe: Probe, labels: readonly string[]): Promise<Candidate[]> {
  const dir = `${probe.devDir}/disk/by-label`;
  const names = await listNames(dir);
  const out: Candidate[] = [];
  for (const wanted of labels) {
    for (const name of names) {
      if (decodeUdevLabel(name).toUpperCase() === wanted) out.push({ path: `${dir}/${name}`, foundBy: `label ${decodeUdevLabel(name)}` });
    }
  }
  return out;
}

async function nameCandidates(probe: Probe): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const name of DEVICE_NAMES) {
    const path = `${probe.devDir}/${name}`;
    if (await pathExists(path)) out.push({ path, foundBy: `device name ${name}` });
  }
  return out;
}

/** True while the system says a device may still appear. */
async function devicesPending(probe: Probe): Promise<boolean> {
  if (await pathExists(`${probe.runDir}/udev/queue`)) return true;
  const blocks = await listNames(`${probe.sysDir}/class/block`);
  for (const name of blocks) {
    if (/^(sr\d+|hd[a-z])$/u.test(name) && !(await pathExists(`${probe.devDir}/${name}`))) return true;
  }
  return false;
}

/**
 * Tries candidates in order; the first ISO with a context.sh wins. A local seed (NoCloud, config
 * drive) found on the way is kept in `seeds` and used only when no context medium answers.
 */
async function tryCandidates(candidates: readonly Candidate[], probe: Probe, attempts: SourceAttempt[], seen: Set<string>, seeds: OpenedContext[]): Promise<OpenedContext | undefined> {
  for (const c of candidates) {
    if (seen.has(c.path)) continue;
    seen.add(c.path);
    try {
      const opened = await openImage(c.path, c.foundBy, 'block-device', probe.sysDir, probe.mediumMaxBytes ?? DEFAULT_MEDIUM_MAX_BYTES);
      if (opened.raw.source.kind === 'nocloud' || opened.raw.source.kind === 'config-drive') {
        seeds.push(opened);
        attempts.push({ path: c.path, result: `a ${opened.raw.source.kind} seed (used only when no context medium is found)` });
        continue;
      }
      return { ...opened, attempts: [...attempts] };
    } catch (error) {
      const code = errnoCode(error);
      // a medium that is not (yet) there is not an error, just not this candidate
      if (code === 'ENOMEDIUM' || code === 'ENXIO' || code === 'ENOENT') seen.delete(c.path);
      attempts.push({ path: c.path, result: describeError(error).message });
      // a medium whose context.sh is invalid is the context, and it is invalid: say so, never skip it
      if (error instanceof VmctxError && error.code.startsWith('ERR_CONTEXT')) {
        for (const seed of seeds) await seed.close();
        throw error;
      }
    }
  }
  return undefined;
}

/**
 * Finds the context medium, else a local seed; undefined when there is neither (after waiting
 * only while one is still coming). The attempts say what was looked at and why it was not used.
 */
export async function discoverMedium(probe: Probe = defaultProbe, attemptsOut: SourceAttempt[] = []): Promise<OpenedContext | undefined> {
  const attempts = attemptsOut;
  const seen = new Set<string>();
  const seeds: OpenedContext[] = [];
  const clock = probe.clock ?? systemClock;
  const deadline = clock.now() + probe.waitMs;
  const pick = async (found: OpenedContext | undefined): Promise<OpenedContext | undefined> => {
    const chosen = found ?? seeds[0];
    for (const seed of seeds) if (seed !== chosen) await seed.close();
    return chosen === undefined ? undefined : { ...chosen, attempts: [...attempts] };
  };
  for (;;) {
    // "pending" is read before the scan: a device that appears after this check is still seen by
    // the scan, or by the next one (checked the other way round, it could fall between the two)
    const pending = await devicesPending(probe);
    const candidates = [...(await labelCandidates(probe, MEDIUM_LABELS)), ...(await nameCandidates(probe)), ...(await labelCandidates(probe, SEED_LABELS))];
    const found = await tryCandidates(candidates, probe, attempts, seen, seeds);
    if (found !== undefined) return pick(found);
    if (!pending || clock.now() >= deadline) break;
    await clock.sleep(probe.pollMs);
  }
  // Last resort: any block device carrying an ISO 9660 signature, or a FAT file system labelled
  // as a medium or a seed (an unlabelled FAT, such as an EFI system partition, is left alone).
  const names = (await probe.listBlockDevices().catch(() => [] as string[])).slice(0, MAX_SIGNATURE_SCAN);
  const signed: Candidate[] = [];
  const fatLabels = new Set([...MEDIUM_LABELS, ...SEED_LABELS]);
  // a device already read under another name (its by-label link) is not read again
  const seenIds = new Set<string>();
  for (const p of seen) {
    const id = await sourceIdentity(p);
    if (id !== undefined) seenIds.add(id);
  }
  for (const name of names) {
    const path = `${probe.devDir}/${name}`;
    if (seen.has(path)) continue;
    const id = await sourceIdentity(path);
    if (id !== undefined && seenIds.has(id)) continue;
    const src = await openByteSource(path, probe.sysDir).catch(() => undefined);
    if (src === undefined) continue;
    const label = await readVolumeLabel(src).catch(() => undefined);
    const fat = label === undefined ? await readFatLabel(src).catch(() => undefined) : undefined;
    await src.close();
    if (label !== undefined) signed.push({ path, foundBy: `iso9660 signature (label ${JSON.stringify(label)})` });
    else if (fat !== undefined && fatLabels.has(fat.toUpperCase())) signed.push({ path, foundBy: `vfat signature (label ${JSON.stringify(fat)})` });
  }
  return pick(await tryCandidates(signed, probe, attempts, seen, seeds));
}

/** The context medium and the local seeds: one scan finds either, and a context medium wins over a seed. */
export const localMedia: Datasource = {
  id: 'local-media',
  names: ['medium', 'seeds'],
  looksFor: ['context medium (labels CONTEXT/_STRATUSLAB/CDROM, /dev/hdc, /dev/sr0, /dev/cdrom, ISO 9660 block devices; ISO 9660 or vfat, as are seeds)', 'seeds (labels cidata, config-2)'],
  inStage: () => ({ asked: true }),
  async open(request, attempts) {
    const opened = await discoverMedium(request.probe, attempts);
    if (opened === undefined) return undefined;
    const isSeed = opened.raw.source.kind === 'nocloud' || opened.raw.source.kind === 'config-drive';
    return { ...opened, name: isSeed ? 'seeds' : 'medium' };
  },
};
