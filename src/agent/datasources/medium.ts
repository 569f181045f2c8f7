// Reading a context medium (an ISO or FAT image/device, or a directory): context.sh and, for
// StratusLab, configuration.sh, parsed without executing anything; other files exposed lazily,
// within one byte budget per medium (names sharing their bytes counted once).
import { parseContextSh } from '../../formats/contextsh.js';
import { extentKey, type IsoEntry, type IsoImage } from '../../formats/iso9660/reader.js';
import { fatKey, type FatEntry, type FatImage } from '../../formats/fat/reader.js';
import { openPlainFile, type PlainFile } from '../../host/medium.js';
import { DirectoryRoot } from '../../host/root.js';
import { VmctxError, isVmctxError } from '../../shared/errors.js';
import type { ContextWarning, MediumFile, MediumFiles, RawContext, SourceInfo } from '../context/context.js';

/** The largest variables file vmctx reads (OpenNebula embeds base64 scripts in context.sh). */
export const MAX_CONTEXT_BYTES = 32 * 1024 * 1024;
/** The bytes vmctx takes from one medium, all files together (MEDIUM_MAX_BYTES in /etc/vmctx/config). */
export const DEFAULT_MEDIUM_MAX_BYTES = 64 * 1024 * 1024;
const VARIABLE_FILES = ['configuration.sh', 'context.sh'] as const;
const SAFE_NAME = /^[^/\0]{1,255}$/u;
const CHUNK = 1024 * 1024;

/**
 * The byte budget of one medium. Every file vmctx reads or copies from the medium is charged once
 * by the key of its bytes (ISO extents, FAT first cluster and size, or device and inode), however many names it has and
 * however often it is read; a file that would pass the budget is refused with ERR_MEDIUM_BUDGET.
 */
export class MediumBudget {
  readonly limit: number;
  readonly where: string;
  readonly #charged = new Set<string>();
  #used = 0;

  constructor(limit: number, where: string) {
    this.limit = limit;
    this.where = where;
  }

  get used(): number {
    return this.#used;
  }

  /** Charges a file's bytes, once per key; throws ERR_MEDIUM_BUDGET naming the file when they do not fit. */
  charge(key: string, size: number, file: string): void {
    if (this.#charged.has(key)) return;
    if (this.#used + size > this.limit) {
      throw new VmctxError(
        'ERR_MEDIUM_BUDGET',
        `${file} on ${this.where} (${size} bytes) would pass the medium's budget of ${this.limit} bytes (MEDIUM_MAX_BYTES; ${this.#used} bytes already taken); not read`,
        { details: { medium: this.where, file, size, limit: this.limit, used: this.#used } },
      );
    }
    this.#charged.add(key);
    this.#used += size;
  }
}

/** The error for a name on the medium that is a symbolic link: vmctx reads only plain files there. */
function linkError(where: string, name: string, target: string | undefined): VmctxError {
  return new VmctxError('ERR_PATH_SYMLINK', `${name} on ${where} is a symbolic link${target === undefined ? '' : ` (to ${JSON.stringify(target.slice(0, 200))})`}; vmctx reads only plain files from a medium, so it is refused`, {
    details: { medium: where, file: name, ...(target === undefined ? {} : { target: target.slice(0, 200) }) },
  });
}

/**
 * Whole reads share one buffer per key while any holder keeps it (an INIT_SCRIPTS list naming one
 * file many times holds it once), so what read() hands out is bounded by the budget too.
 */
class ReadCache {
  readonly #buffers = new Map<string, WeakRef<Buffer>>();

  async get(key: string, load: () => Promise<Buffer>): Promise<Buffer> {
    const kept = this.#buffers.get(key)?.deref();
    if (kept !== undefined) return kept;
    const data = await load();
    this.#buffers.set(key, new WeakRef(data));
    return data;
  }
}

function tooLarge(path: string, size: number, limit: number, code: 'ERR_ISO_FILE_TOO_LARGE' | 'ERR_FAT_FILE_TOO_LARGE' = 'ERR_ISO_FILE_TOO_LARGE'): VmctxError {
  return new VmctxError(code, `${path}: ${size} bytes is over the limit of ${limit}`, { details: { path, size, limit } });
}

export function isoMedium(image: IsoImage, names: readonly string[], budget: MediumBudget = new MediumBudget(DEFAULT_MEDIUM_MAX_BYTES, 'medium')): MediumFiles {
  const cache = new ReadCache();
  const plain = async (name: string): Promise<IsoEntry | undefined> => {
    if (!SAFE_NAME.test(name) || name === '.' || name === '..') return undefined;
    const entry = await image.stat(name);
    if (entry === undefined || entry.isDirectory) return undefined;
    if (entry.symlinkTarget !== undefined) throw linkError(budget.where, entry.path, entry.symlinkTarget);
    return entry;
  };
  return {
    names,
    async read(name, maxBytes) {
      const entry = await plain(name);
      if (entry === undefined) return undefined;
      if (entry.size > maxBytes) throw tooLarge(entry.path, entry.size, maxBytes);
      const key = extentKey(entry);
      budget.charge(key, entry.size, entry.path);
      return cache.get(key, () => image.readFile(entry, { maxBytes }));
    },
    async open(name) {
      const entry = await plain(name);
      if (entry === undefined) return undefined;
      const key = extentKey(entry);
      budget.charge(key, entry.size, entry.path);
      return { size: entry.size, key, chunks: () => image.stream(entry, CHUNK) };
    },
  };
}

/**
 * A FAT medium's top-level files (vfat has no links; names are looked up case-insensitively),
 * charged to the budget by their first cluster and size.
 */
export function fatMedium(image: FatImage, names: readonly string[], budget: MediumBudget = new MediumBudget(DEFAULT_MEDIUM_MAX_BYTES, 'medium')): MediumFiles {
  const cache = new ReadCache();
  const plain = async (name: string): Promise<FatEntry | undefined> => {
    if (!SAFE_NAME.test(name) || name === '.' || name === '..') return undefined;
    const entry = await image.stat(name);
    return entry === undefined || entry.isDirectory ? undefined : entry;
  };
  return {
    names,
    async read(name, maxBytes) {
      const entry = await plain(name);
      if (entry === undefined) return undefined;
      if (entry.size > maxBytes) throw tooLarge(entry.path, entry.size, maxBytes, 'ERR_FAT_FILE_TOO_LARGE');
      const key = fatKey(entry);
      budget.charge(key, entry.size, entry.path);
      return cache.get(key, () => image.readFile(entry, { maxBytes }));
    },
    async open(name) {
      const entry = await plain(name);
      if (entry === undefined) return undefined;
      const key = fatKey(entry);
      budget.charge(key, entry.size, entry.path);
      return { size: entry.size, key, chunks: () => image.stream(entry, CHUNK) };
    },
  };
}

/** A plain file of a directory medium (a link is refused naming its target; anything else not a file is absent). */
async function openPlain(dir: string, name: string, where: string): Promise<PlainFile | undefined> {
  const opened = await openPlainFile(dir, name, `/${name}`);
  if (opened.kind === 'link') throw linkError(where, `/${name}`, opened.target);
  return opened.kind === 'file' ? opened.file : undefined;
}

export async function directoryMedium(dir: string, budget: MediumBudget = new MediumBudget(DEFAULT_MEDIUM_MAX_BYTES, dir)): Promise<MediumFiles> {
  const root = new DirectoryRoot(dir);
  const names = (await root.readdir('/')) ?? [];
  const cache = new ReadCache();
  const ok = (name: string): boolean => SAFE_NAME.test(name) && name !== '.' && name !== '..';
  return {
    names,
    async read(name, maxBytes) {
      if (!ok(name)) return undefined;
      const file = await openPlain(dir, name, budget.where);
      if (file === undefined) return undefined;
      try {
        if (file.size > maxBytes) throw tooLarge(`/${name}`, file.size, maxBytes);
        budget.charge(file.key, file.size, `/${name}`);
        return await cache.get(file.key, async () => {
          const out = Buffer.alloc(file.size);
          let done = 0;
          for await (const chunk of file.chunks()) {
            out.set(chunk, done);
            done += chunk.length;
          }
          return out;
        });
      } finally {
        await file.close();
      }
    },
    async open(name) {
      if (!ok(name)) return undefined;
      const file = await openPlain(dir, name, budget.where);
      if (file === undefined) return undefined;
      await file.close();
      budget.charge(file.key, file.size, `/${name}`);
      return {
        size: file.size,
        key: file.key,
        // opened again when copied: the same file (device and inode) or an error, never more bytes than were charged
        async *chunks(): AsyncGenerator<Uint8Array> {
          const again = await openPlain(dir, name, budget.where);
          if (again === undefined || again.key !== file.key) {
            await again?.close();
            throw new VmctxError('ERR_PATH_CHANGED', `${budget.where}: /${name} was replaced while the medium was in use`);
          }
          try {
            yield* again.chunks(file.size);
          } finally {
            await again.close();
          }
        },
      } satisfies MediumFile;
    },
  };
}

/**
 * Parses the variable files of a medium: configuration.sh first (StratusLab), then context.sh,
 * whose values win. An invalid file rejects the whole context (nothing is applied from it).
 */
export async function readRawContext(medium: MediumFiles, source: Omit<SourceInfo, 'variableFiles'>): Promise<RawContext> {
  const variables: Record<string, string> = {};
  const lines: Record<string, number> = {};
  const warnings: ContextWarning[] = [];
  const variableFiles: string[] = [];
  const lower = new Map(medium.names.map((n) => [n.toLowerCase(), n]));
  for (const wanted of VARIABLE_FILES) {
    const name = lower.get(wanted);
    if (name === undefined) continue;
    let data: Buffer | undefined;
    try {
      data = await medium.read(name, MAX_CONTEXT_BYTES);
    } catch (error) {
      if (isVmctxError(error, 'ERR_ISO_FILE_TOO_LARGE') || isVmctxError(error, 'ERR_FAT_FILE_TOO_LARGE') || isVmctxError(error, 'ERR_UNSAFE_FILE')) {
        throw new VmctxError('ERR_CONTEXT_TOO_LARGE', `${wanted} on ${source.path}: ${error.message}`, { cause: error });
      }
      // these name the file and the medium themselves
      if (isVmctxError(error, 'ERR_MEDIUM_BUDGET')) throw new VmctxError('ERR_CONTEXT_TOO_LARGE', error.message, { cause: error, details: error.details });
      if (isVmctxError(error, 'ERR_PATH_SYMLINK')) throw new VmctxError('ERR_CONTEXT_INVALID', error.message, { cause: error, details: error.details });
      throw error;
    }
    if (data === undefined) continue;
    let parsed;
    try {
      parsed = parseContextSh(data);
    } catch (error) {
      if (error instanceof VmctxError) {
        throw new VmctxError(error.code, `${wanted} on ${source.path}, ${error.message}`, { cause: error, details: { ...error.details, file: wanted } });
      }
      throw error;
    }
    variableFiles.push(wanted);
    Object.assign(variables, parsed.variables);
    for (const [k, line] of Object.entries(parsed.lines)) lines[k] = line;
    for (const w of parsed.warnings) warnings.push({ file: wanted, line: w.line, message: w.message });
  }
  if (!variableFiles.includes('context.sh')) {
    throw new VmctxError('ERR_NO_CONTEXT', `${source.path}: no context.sh on the medium (found: ${medium.names.slice(0, 20).join(', ') || 'nothing'})`);
  }
  return { source: { ...source, variableFiles }, variables, lines, warnings, medium };
}
