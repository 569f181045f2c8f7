// `vmctx validate`: checks context.sh, user data, meta-data and network-config files (or a whole
// medium / seed) without applying anything, and says where each problem is (file:line:col). The
// per-name and per-value checks are the run's own (normaliseContext, parseUserData); this adds
// the positions and the checks of documents the run maps without looking at every key.
import { basename, dirname, join } from 'node:path';
import { parseContextSh } from '../formats/contextsh.js';
import { parseUserData } from '../formats/userdata.js';
import { includeNotFetched } from './context/scripts.js';
import { pathKind } from '../host/devices.js';
import { readNames, readWholeFile } from '../host/medium.js';
import { describeError, isVmctxError } from '../shared/errors.js';
import { normaliseContext, type ContextWarning, type RawContext } from './context/context.js';
import { classifyVariable } from './context/checks.js';
import { SEED_DOCUMENT_FILES, checkMetadataDocument, networkNoteDiagnostic, type Diagnostic } from './context/documents.js';
import { openExplicitSource, openMediumFile } from './datasources/contextmedium.js';
import { directoryMedium } from './datasources/medium.js';

export type { Diagnostic, DiagnosticSeverity } from './context/documents.js';

const MAX_DOC = 32 * 1024 * 1024;

export type DocumentKind = 'context' | 'user-data' | 'meta-data' | 'openstack-meta-data' | 'network-config' | 'openstack-network-data';

/** What a file is, by its name, then by its first bytes. */
export function documentKind(name: string, data: Buffer): DocumentKind {
  const n = basename(name).toLowerCase();
  if (n === 'context.sh' || n === 'configuration.sh') return 'context';
  if (n === 'user-data' || n === 'user_data' || n === 'vendor-data' || n === 'vendor_data') return 'user-data';
  if (n === 'meta_data.json') return 'openstack-meta-data';
  if (n === 'meta-data') return 'meta-data';
  if (n === 'network_data.json') return 'openstack-network-data';
  if (n === 'network-config') return 'network-config';
  const head = data.subarray(0, 256).toString('latin1');
  if ((data[0] === 0x1f && data[1] === 0x8b) || /^(#!|#cloud-|#include|#part-handler|## template)/u.test(head) || /^(content-type|mime-version):/imu.test(head)) return 'user-data';
  if (/^\s*(network:|version:\s*[12]\b)/mu.test(head)) return 'network-config';
  if (/^\s*(instance-id|local-hostname)\s*:/mu.test(head)) return 'meta-data';
  return 'context';
}

/** Line and column of `NAME=` on its line of a context.sh (1 when it cannot be found). */
function assignmentColumn(lines: readonly string[], line: number, name: string): number {
  const text = lines[line - 1] ?? '';
  const m = new RegExp(`(^|[\\s;])(${name})=`, 'u').exec(text);
  return m === null ? 1 : m.index + (m[1] ?? '').length + 1;
}

/** The checks of one document that has no variables: positions and keys. */
function checkDocument(kind: Exclude<DocumentKind, 'context'>, file: string, data: Buffer, out: Diagnostic[]): void {
  if (kind === 'user-data') {
    const parts = parseUserData(data);
    for (const i of parts.located) out.push({ file, line: i.line, col: i.col, severity: i.severity, message: i.message });
    // validate never fetches: each #include URL is named (the run's own words)
    for (const include of parts.includes) out.push({ file, severity: 'info', message: includeNotFetched(include) });
    return;
  }
  for (const d of checkMetadataDocument(kind, file, data)) out.push(d);
}

/** Where the positioned checks put a variable: the file and line it was assigned on. */
interface VariableSites {
  readonly file: string;
  readonly lines: Readonly<Record<string, number>>;
  readonly cols: Readonly<Record<string, number>>;
}

/** A context.sh on its own: syntax (an invalid file is one error) and each name's column. */
function checkContextText(file: string, data: Buffer, out: Diagnostic[]): VariableSites | undefined {
  try {
    const parsed = parseContextSh(data);
    const textLines = data.toString('latin1').split('\n');
    const cols: Record<string, number> = {};
    for (const [name, line] of Object.entries(parsed.lines)) cols[name] = assignmentColumn(textLines, line, name);
    for (const w of parsed.warnings) out.push({ file, line: w.line, col: 1, severity: 'warning', message: w.message });
    return { file, lines: parsed.lines, cols };
  } catch (error) {
    const d = describeError(error);
    const details = isVmctxError(error) ? (error.details as { line?: unknown } | undefined) : undefined;
    const line = typeof details?.line === 'number' ? details.line : undefined;
    out.push({ file, ...(line === undefined ? {} : { line, col: 1 }), severity: 'error', message: `${d.message.replace(/^line \d+: /u, '')} (nothing from this file is applied)` });
    return undefined;
  }
}

/** The shared context warnings (the run's own checks) as diagnostics, placed where they can be. */
function fromContextWarnings(warnings: readonly ContextWarning[], sites: VariableSites | undefined, fallbackFile: string, userDataFile: string | undefined, out: Diagnostic[]): void {
  for (const w of warnings) {
    const variable = w.variable;
    const message = variable === undefined || variable === w.file ? w.message : `${variable}: ${w.message}`;
    let d: Diagnostic;
    const note = w.network;
    if (note !== undefined) {
      // a network plan's note: at its line of its document (the context.sh, or the seed's file)
      const inContext = sites !== undefined && note.file === basename(sites.file);
      const placed = networkNoteDiagnostic(note, inContext ? sites.file : `${fallbackFile}/${note.file}`);
      d = inContext && placed.line !== undefined && sites.lines[note.path] === placed.line ? { ...placed, col: sites.cols[note.path] } : placed;
    } else if (sites !== undefined && w.file === basename(sites.file)) {
      // name and value problems point at the assignment; user-data problems at their own line
      const named = variable === undefined ? undefined : sites.lines[variable];
      const line = w.line ?? named;
      d = { file: sites.file, line, col: w.col ?? (line !== undefined && line === named && variable !== undefined ? sites.cols[variable] : undefined), severity: w.severity ?? 'warning', message };
    } else if (w.file !== undefined && (SEED_DOCUMENT_FILES as readonly string[]).includes(w.file) && w.line !== undefined) {
      d = { file: `${fallbackFile}/${w.file}`, line: w.line, col: w.col, severity: w.severity ?? 'warning', message: w.message };
    } else if (w.file === 'user-data' || w.file === 'openstack/latest/user_data') {
      d = { file: userDataFile ?? w.file, line: w.line, col: w.col, severity: w.severity ?? 'warning', message: w.message };
    } else if (w.file !== undefined && w.line !== undefined && (w.file === 'USER_DATA' || w.file === 'USERDATA')) {
      d = { file: `${sites?.file ?? fallbackFile} (${w.file}, decoded)`, line: w.line, col: w.col, severity: w.severity ?? 'warning', message: w.message };
    } else {
      const doc = variable !== undefined && /^(meta-data|network-config|meta_data\.json|network_data\.json)/u.test(variable) ? variable.split(' ')[0] : undefined;
      d = { file: doc === undefined ? fallbackFile : `${fallbackFile}/${doc}`, severity: w.severity ?? 'warning', message };
    }
    // the positioned checks of the same document may have said it already (a document the
    // positioned check found unreadable has its error there, with the line)
    const said =
      out.some((o) => o.file === d.file && ((o.line === d.line && (o.message === d.message || o.message === w.message)) || (d.line === undefined && o.severity === 'error' && /is not (YAML|JSON)/u.test(d.message)))) ||
      // an #include URL the user-data file's own check named already
      (userDataFile !== undefined && out.some((o) => o.file === userDataFile && o.line === undefined && o.message === w.message));
    if (!said) out.push(d);
  }
}

async function rawFor(variables: Readonly<Record<string, string>>, lines: Readonly<Record<string, number>>, file: string): Promise<RawContext> {
  return {
    source: { kind: 'directory', path: dirname(file), foundBy: 'validate', variableFiles: [basename(file)] },
    variables,
    lines,
    warnings: [],
    // the files beside it are its medium (init.sh, key files), as on a context CD
    medium: await directoryMedium(dirname(file)),
  };
}

function unusedMessage(name: string): string {
  return `${name}: ${classifyVariable(name).kind === 'informational' ? 'known, not used by vmctx' : 'not used by vmctx (scripts and templates see it)'}`;
}

const IDENTITY = { id: 'validate', source: 'context-hash' as const };

/** Checks one file (its kind from its name or its first bytes). */
export async function validateFile(path: string): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  let data: Buffer;
  try {
    data = await readWholeFile(path);
  } catch (error) {
    return [{ file: path, severity: 'error', message: `cannot read: ${describeError(error).message}` }];
  }
  if (data.length > MAX_DOC) return [{ file: path, severity: 'error', message: 'over 32 MiB; not checked' }];
  const kind = documentKind(path, data);
  if (kind !== 'context') {
    checkDocument(kind, path, data, out);
    return sortDiagnostics(out);
  }
  const sites = checkContextText(path, data, out);
  if (sites === undefined) return out;
  const parsed = parseContextSh(data);
  const ctx = await normaliseContext(await rawFor(parsed.variables, parsed.lines, path), IDENTITY);
  fromContextWarnings(ctx.warnings, sites, path, undefined, out);
  if (ctx.userDataIncludes === 'pending') {
    const variable = ['USER_DATA', 'USERDATA'].find((n) => sites.lines[n] !== undefined) ?? 'USER_DATA';
    out.push({ file: path, line: sites.lines[variable], col: sites.cols[variable], severity: 'info', message: `${variable}: #include URLs: not fetched here (vmctx validate and the local stage do not fetch; the run fetches them in the network stage)` });
  }
  for (const name of ctx.unused) out.push({ file: path, line: sites.lines[name], col: sites.cols[name], severity: 'info', message: unusedMessage(name) });
  return sortDiagnostics(out);
}

/** Reads files of a medium: a directory, or an ISO or FAT image (file or device). */
async function mediumReader(path: string): Promise<{ names: string[]; read(p: string): Promise<Buffer | undefined>; close(): Promise<void> }> {
  if ((await pathKind(path)) === 'directory') {
    return {
      names: await readNames(path),
      read: (p) => readWholeFile(join(path, p)).catch(() => undefined),
      close: () => Promise.resolve(),
    };
  }
  // an ISO 9660 or FAT image (file or device), by its signature
  const image = await openMediumFile(path);
  return { names: [...image.names], read: (p) => image.readPath(p, MAX_DOC), close: () => image.close() };
}

const SEED_FILES = ['user-data', 'meta-data', 'network-config', 'vendor-data', 'openstack/latest/meta_data.json', 'openstack/latest/network_data.json', 'openstack/latest/user_data'];

/** Checks a whole medium or seed (directory or ISO) the way the run reads it, plus each file's positions. */
export async function validateSource(path: string): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  let reader;
  try {
    reader = await mediumReader(path);
  } catch (error) {
    return [{ file: path, severity: 'error', message: `cannot read the medium: ${describeError(error).message}` }];
  }
  let sites: VariableSites | undefined;
  let userDataFile: string | undefined;
  try {
    const lower = new Map(reader.names.map((n) => [n.toLowerCase(), n]));
    for (const wanted of ['configuration.sh', 'context.sh']) {
      const name = lower.get(wanted);
      const data = name === undefined ? undefined : await reader.read(name);
      if (data !== undefined) sites = checkContextText(`${path}/${wanted}`, data, out) ?? sites;
    }
    if (lower.has('context.sh') && sites === undefined) return out;
    if (!lower.has('context.sh')) {
      for (const file of SEED_FILES) {
        const data = await reader.read(file);
        if (data === undefined) continue;
        const kind = documentKind(file, data);
        if (kind === 'context') continue;
        if (kind === 'user-data') userDataFile = `${path}/${file}`;
        checkDocument(kind, `${path}/${file}`, data, out);
      }
    }
  } finally {
    await reader.close();
  }
  // then the run's own reading and checks of the same source
  try {
    const opened = await openExplicitSource(path);
    try {
      const ctx = await normaliseContext(opened.raw, IDENTITY);
      fromContextWarnings(ctx.warnings, sites, path, userDataFile, out);
      // (a seed's variables are vmctx's own mapping: only a context.sh's names are the user's)
      if (sites !== undefined) for (const name of ctx.unused) out.push({ file: sites.file, line: sites.lines[name], col: sites.cols[name], severity: 'info', message: unusedMessage(name) });
    } finally {
      await opened.close();
    }
  } catch (error) {
    const d = describeError(error);
    if (!out.some((o) => o.severity === 'error')) out.push({ file: path, severity: 'error', message: `${d.code}: ${d.message}` });
  }
  return sortDiagnostics(out);
}

/** "file:line:col: severity: message" (the parts it has), as compilers and cloud-init print them. */
export function formatDiagnostic(d: Diagnostic): string {
  const at = `${d.file}${d.line === undefined ? '' : `:${d.line}${d.col === undefined ? '' : `:${d.col}`}`}`;
  return `${at}: ${d.severity}: ${d.message}`;
}

/** Problems (errors and warnings) first by file and line; informational lines only when asked. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) : a.file < b.file ? -1 : 1));
}
