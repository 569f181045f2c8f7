// Reading a context medium (an ISO image/device or a directory): context.sh and, for
// StratusLab, configuration.sh, parsed without executing anything; other files exposed lazily.
import { parseContextSh } from '../../formats/contextsh.js';
import { IsoImage } from '../../formats/iso9660/reader.js';
import { DirectoryRoot } from '../../host/root.js';
import { VmctxError, isVmctxError } from '../../shared/errors.js';
import type { ContextWarning, MediumFiles, RawContext, SourceInfo } from '../context/context.js';

/** The largest variables file vmctx reads (OpenNebula embeds base64 scripts in context.sh). */
export const MAX_CONTEXT_BYTES = 32 * 1024 * 1024;
const VARIABLE_FILES = ['configuration.sh', 'context.sh'] as const;
const SAFE_NAME = /^[^/\0]{1,255}$/u;

export function isoMedium(image: IsoImage, names: readonly string[]): MediumFiles {
  return {
    names,
    async read(name, maxBytes) {
      if (!SAFE_NAME.test(name) || name === '.' || name === '..') return undefined;
      const entry = await image.stat(name);
      if (entry === undefined || entry.isDirectory || entry.symlinkTarget !== undefined) return undefined;
      return image.readFile(entry, { maxBytes });
    },
  };
}

export async function directoryMedium(dir: string): Promise<MediumFiles> {
  const root = new DirectoryRoot(dir);
  const names = (await root.readdir('/')) ?? [];
  return {
    names,
    async read(name, maxBytes) {
      if (!SAFE_NAME.test(name) || name === '.' || name === '..') return undefined;
      const entry = await root.lstat(`/${name}`);
      if (entry?.type !== 'file') return undefined;
      return root.readFile(`/${name}`, { maxBytes });
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
      if (isVmctxError(error, 'ERR_ISO_FILE_TOO_LARGE') || isVmctxError(error, 'ERR_UNSAFE_FILE')) {
        throw new VmctxError('ERR_CONTEXT_TOO_LARGE', `${wanted} on ${source.path}: ${error.message}`, { cause: error });
      }
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
