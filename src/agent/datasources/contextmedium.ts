// Datasource: the context medium. Found by label (CONTEXT, _STRATUSLAB, CDROM), then by the
// conventional device names (hdc, sr0, cdrom), then by an ISO 9660 signature on any block
// device. Waits for a late device only while the system says one is still coming (udev queue
// busy, or a CD drive known to the kernel without its /dev node yet), up to a deadline.
import { readdir, stat } from 'node:fs/promises';
import { IsoImage, readVolumeLabel } from '../../formats/iso9660/reader.js';
import { openByteSource, type OpenedSource } from '../../host/bytesource.js';
import { VmctxError, describeError, errnoCode } from '../../shared/errors.js';
import type { RawContext, SourceInfo } from '../context/context.js';
import { directoryMedium, isoMedium, readRawContext } from './medium.js';

export const MEDIUM_LABELS = ['CONTEXT', '_STRATUSLAB', 'CDROM'];
export const DEVICE_NAMES = ['hdc', 'sr0', 'cdrom'];
const MAX_SIGNATURE_SCAN = 64;

export interface Probe {
  readonly devDir: string;
  readonly sysDir: string;
  readonly runDir: string;
  /** How long to wait for a medium that the system says is still coming. */
  readonly waitMs: number;
  readonly pollMs: number;
  /** Names of all block devices (sr0, vda, …); defaults to systeminformation's list. */
  readonly listBlockDevices: () => Promise<string[]>;
}

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

export interface SourceAttempt {
  readonly path: string;
  readonly result: string;
}

export interface OpenedContext {
  readonly raw: RawContext;
  /** What was looked at and why it was not used (for the report). */
  readonly attempts: readonly SourceAttempt[];
  close(): Promise<void>;
}

/** Decodes udev's by-label escapes ("\x20" for a space). */
function decodeUdevLabel(name: string): string {
  return name.replace(/\\x([0-9a-fA-F]{2})/gu, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

interface Candidate {
  readonly path: string;
  readonly foundBy: string;
}

async function openIso(path: string, foundBy: string, kind: SourceInfo['kind'], sysDir: string): Promise<OpenedContext> {
  const source: OpenedSource = await openByteSource(path, sysDir);
  try {
    const image = await IsoImage.open(source);
    const names = (await image.list('/')).map((e) => e.name);
    const raw = await readRawContext(isoMedium(image, names), {
      kind,
      path,
      label: image.info.volumeId,
      scheme: image.info.scheme,
      foundBy,
    });
    return { raw, attempts: [], close: () => source.close() };
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** Opens what --source names: an ISO file, a block device, or a directory holding context.sh. */
export async function openExplicitSource(path: string, sysDir = '/sys'): Promise<OpenedContext> {
  let st;
  try {
    st = await stat(path);
  } catch (error) {
    throw new VmctxError('ERR_NO_CONTEXT', `--source ${path}: ${describeError(error).message}`, { cause: error });
  }
  if (st.isDirectory()) {
    const raw = await readRawContext(await directoryMedium(path), { kind: 'directory', path, foundBy: '--source' });
    return { raw, attempts: [], close: () => Promise.resolve() };
  }
  if (st.isFile() || st.isBlockDevice()) return openIso(path, '--source', st.isFile() ? 'iso-file' : 'block-device', sysDir);
  throw new VmctxError('ERR_SOURCE', `--source ${path}: not a file, block device or directory`);
}

async function labelCandidates(probe: Probe): Promise<Candidate[]> {
  const dir = `${probe.devDir}/disk/by-label`;
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: Candidate[] = [];
  for (const wanted of MEDIUM_LABELS) {
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
    if (await exists(path)) out.push({ path, foundBy: `device name ${name}` });
  }
  return out;
}

/** True while the system says a device may still appear. */
async function devicesPending(probe: Probe): Promise<boolean> {
  if (await exists(`${probe.runDir}/udev/queue`)) return true;
  const blocks = await readdir(`${probe.sysDir}/class/block`).catch(() => [] as string[]);
  for (const name of blocks) {
    if (/^(sr\d+|hd[a-z])$/u.test(name) && !(await exists(`${probe.devDir}/${name}`))) return true;
  }
  return false;
}

/** Tries candidates in order; the first ISO with a context.sh wins. */
async function tryCandidates(candidates: readonly Candidate[], probe: Probe, attempts: SourceAttempt[], seen: Set<string>): Promise<OpenedContext | undefined> {
  for (const c of candidates) {
    if (seen.has(c.path)) continue;
    seen.add(c.path);
    try {
      const opened = await openIso(c.path, c.foundBy, 'block-device', probe.sysDir);
      return { ...opened, attempts: [...attempts] };
    } catch (error) {
      const code = errnoCode(error);
      // a medium that is not (yet) there is not an error, just not this candidate
      if (code === 'ENOMEDIUM' || code === 'ENXIO' || code === 'ENOENT') seen.delete(c.path);
      attempts.push({ path: c.path, result: describeError(error).message });
      // a medium whose context.sh is invalid is the context, and it is invalid: say so, never skip it
      if (error instanceof VmctxError && error.code.startsWith('ERR_CONTEXT')) throw error;
    }
  }
  return undefined;
}

/** Finds the context medium; undefined when there is none (after waiting only if one is coming). */
export async function discoverMedium(probe: Probe = defaultProbe): Promise<OpenedContext | undefined> {
  const attempts: SourceAttempt[] = [];
  const seen = new Set<string>();
  const deadline = Date.now() + probe.waitMs;
  for (;;) {
    // "pending" is read before the scan: a device that appears after this check is still seen by
    // the scan, or by the next one (checked the other way round, it could fall between the two)
    const pending = await devicesPending(probe);
    const found = await tryCandidates([...(await labelCandidates(probe)), ...(await nameCandidates(probe))], probe, attempts, seen);
    if (found !== undefined) return found;
    if (!pending || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, probe.pollMs));
  }
  // Last resort: any block device carrying an ISO 9660 signature and a context.sh.
  const names = (await probe.listBlockDevices().catch(() => [] as string[])).slice(0, MAX_SIGNATURE_SCAN);
  const signed: Candidate[] = [];
  for (const name of names) {
    const path = `${probe.devDir}/${name}`;
    if (seen.has(path)) continue;
    const src = await openByteSource(path, probe.sysDir).catch(() => undefined);
    if (src === undefined) continue;
    const label = await readVolumeLabel(src).catch(() => undefined);
    await src.close();
    if (label !== undefined) signed.push({ path, foundBy: `iso9660 signature (label ${JSON.stringify(label)})` });
  }
  const found = await tryCandidates(signed, probe, attempts, seen);
  if (found !== undefined) return found;
  return undefined;
}
