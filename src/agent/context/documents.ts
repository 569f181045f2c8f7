// Checks of the metadata documents a seed carries (NoCloud meta-data, OpenStack meta_data.json):
// every key is one vmctx maps, one it does not support, one it only carries, or a typo (with a
// did-you-mean), each at its line and column; network documents (network-config v1/v2, ENI,
// network_data.json) are checked by their mappers, every note at its line. Shared by the seed reader
// (so run and show warn) and `vmctx validate`. Pure.
import { LineCounter, isMap, isScalar, type Document } from 'yaml';
import { parseYamlBounded, yamlOverLimits } from '../../formats/yamldoc.js';
import { didYouMean } from '../../formats/didyoumean.js';
import type { NetworkNote } from '../../network/docreader.js';
import { isBookkeepingNote, isDocumentError, mapNetworkDocument } from '../../network/fromdocument.js';
import type { NetworkDocument } from '../../network/plan.js';
import type { ContextWarning } from './types.js';

export type DiagnosticSeverity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  readonly file: string;
  readonly line?: number | undefined;
  readonly col?: number | undefined;
  readonly severity: DiagnosticSeverity;
  readonly message: string;
}

/** A YAML (or JSON) document with a way to find where its keys are. */
class YamlFile {
  readonly doc: Document;
  readonly #counter: LineCounter;

  /** Why the text was not parsed at all (over the size or token limit), or a duplicate key. */
  readonly refused: { readonly message: string; readonly offset?: number | undefined } | undefined;

  constructor(text: string, what: string) {
    this.#counter = new LineCounter();
    const over = yamlOverLimits(text, what);
    const parsed = parseYamlBounded(over === undefined ? text : '', { schema: 'core', prettyErrors: false, logLevel: 'error', lineCounter: this.#counter });
    this.doc = parsed.doc;
    this.refused = over !== undefined ? { message: over } : parsed.duplicate === undefined ? undefined : { message: `${what} is not YAML: the key ${JSON.stringify(parsed.duplicate.key.slice(0, 60))} appears twice in one mapping`, offset: parsed.duplicate.offset };
  }

  pos(offset: number | undefined): { line?: number; col?: number } {
    if (offset === undefined) return {};
    const p = this.#counter.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /** The entries of the mapping at path: key, value (plain) and the key's position. */
  entries(path: ReadonlyArray<string | number>): Array<{ key: string; value: unknown; at: { line?: number; col?: number } }> {
    const node = path.length === 0 ? this.doc.contents : this.doc.getIn(path, true);
    if (!isMap(node)) return [];
    return node.items.map((p) => ({
      key: String(isScalar(p.key) ? p.key.value : p.key),
      value: isScalar(p.value) ? p.value.value : (p.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? p.value,
      at: this.pos(isScalar(p.key) ? p.key.range?.[0] : undefined),
    }));
  }
}

interface KeyTable {
  readonly applied: readonly string[];
  readonly unsupported?: readonly string[];
  readonly informational?: readonly string[];
  /** Unknown keys not close to a known one: a warning (a closed schema) or informational. */
  readonly open?: boolean;
}

/** The keys of one mapping against a table: did-you-mean for typos, "not supported", unknown. */
function checkKeys(y: YamlFile, path: ReadonlyArray<string | number>, table: KeyTable, where: string, file: string, out: Diagnostic[]): void {
  const known = [...table.applied, ...(table.unsupported ?? []), ...(table.informational ?? [])];
  for (const { key, at } of y.entries(path)) {
    if (table.applied.includes(key)) continue;
    const prefix = where === '' ? '' : `${where}: `;
    if (table.unsupported?.includes(key) === true) out.push({ file, ...at, severity: 'warning', message: `${prefix}key ${JSON.stringify(key)} is not supported by vmctx; ignored` });
    else if (table.informational?.includes(key) === true) out.push({ file, ...at, severity: 'info', message: `${prefix}key ${JSON.stringify(key)} is not used by vmctx` });
    else {
      const guess = didYouMean(key, known);
      if (guess === undefined && table.open === true) out.push({ file, ...at, severity: 'info', message: `${prefix}key ${JSON.stringify(key)} is not used by vmctx` });
      else out.push({ file, ...at, severity: 'warning', message: `${prefix}unknown key ${JSON.stringify(key)}${guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}; ignored` });
    }
  }
}

function yamlErrors(y: YamlFile, file: string, what: string, out: Diagnostic[]): boolean {
  if (y.refused !== undefined) {
    out.push({ file, ...(y.refused.offset === undefined ? { line: 1, col: 1 } : y.pos(y.refused.offset)), severity: 'error', message: y.refused.message });
    return true;
  }
  const e = y.doc.errors[0];
  if (e === undefined) return false;
  out.push({ file, ...y.pos(e.pos[0]), severity: 'error', message: `${what} is not ${what.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e.message.split('\n')[0] ?? '').slice(0, 200)}` });
  return true;
}

// NoCloud meta-data: what readNoCloud maps, and what cloud-init's NoCloud/EC2 meta-data carries besides
const META_DATA: KeyTable = {
  applied: ['instance-id', 'local-hostname', 'hostname', 'public-keys', 'public_keys', 'network-config', 'network-interfaces'],
  unsupported: ['seedfrom'],
  informational: ['dsmode', 'availability-zone', 'availability_zone', 'cloud-name', 'region', 'platform', 'local-ipv4', 'public-ipv4', 'instance-type', 'launch-index'],
  open: true,
};
const OPENSTACK_META: KeyTable = {
  // files: written by the config-drive-files module (from a drive; the HTTP service's are named by metadata.ts)
  applied: ['uuid', 'hostname', 'name', 'public_keys', 'keys', 'availability_zone', 'admin_pass', 'files'],
  informational: ['launch_index', 'project_id', 'meta', 'devices', 'random_seed', 'dedicated_cpus', 'network_config'],
  open: true,
};
/** A network plan's note as a diagnostic of `file`: bookkeeping is info, a whole document not used an error. */
export function networkNoteDiagnostic(n: NetworkNote, file: string): Diagnostic {
  const severity: DiagnosticSeverity = isBookkeepingNote(n) ? 'info' : isDocumentError(n) ? 'error' : 'warning';
  return { file, ...(n.line === undefined ? {} : { line: n.line }), severity, message: `${n.what}: ${n.path === '' ? '(document)' : n.path}: ${n.message}` };
}

/** The network mapper's notes on a document (or a key of one), as diagnostics of `file`. */
function networkDiagnostics(doc: NetworkDocument, file: string, out: Diagnostic[]): void {
  for (const n of mapNetworkDocument(doc).notes) out.push(networkNoteDiagnostic(n, file));
}

/**
 * The positioned checks of one metadata document (YAML or JSON). A network document (network-config,
 * network_data.json, meta-data's network-config and network-interfaces) is checked by its mapper,
 * every note at its line; `network: false` leaves those out (the run reports them from the plan).
 */
export function checkMetadataDocument(kind: 'meta-data' | 'openstack-meta-data' | 'network-config' | 'openstack-network-data', file: string, data: Buffer, options: { network?: boolean } = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const name = file.split('/').at(-1) ?? file;
  const text = data.toString('utf8');
  if (kind === 'network-config' || kind === 'openstack-network-data') {
    if (options.network !== false) networkDiagnostics({ format: kind === 'network-config' ? 'network-config' : 'network_data.json', file: name, text }, file, out);
    return out;
  }
  const y = new YamlFile(text, name);
  if (yamlErrors(y, file, name, out)) return out;
  if (kind === 'meta-data') {
    checkKeys(y, [], META_DATA, '', file, out);
    if (options.network === false) return out;
    const keys = y.entries([]).map((e) => e.key);
    if (keys.includes('network-interfaces')) networkDiagnostics({ format: 'eni', file: name, text, key: 'network-interfaces' }, file, out);
    if (keys.includes('network-config')) networkDiagnostics({ format: 'network-config', file: name, text, key: 'network-config' }, file, out);
  } else checkKeys(y, [], OPENSTACK_META, '', file, out);
  return out;
}

/** The key warnings of a seed document, for the run (its YAML errors the reader reports itself). */
export function documentWarnings(kind: 'meta-data' | 'openstack-meta-data', data: Buffer | undefined): ContextWarning[] {
  if (data === undefined) return [];
  const file = kind === 'openstack-meta-data' ? SEED_DOCUMENT_FILES[0] : kind;
  // the network documents' notes come from the context's network plan
  return checkMetadataDocument(kind, file, data, { network: false })
    .filter((d) => d.severity === 'warning')
    .map((d) => ({ variable: file, file, ...(d.line === undefined ? {} : { line: d.line }), col: d.col, message: d.message }));
}

/** The files whose warnings carry positions (the names documentWarnings gives them). */
export const SEED_DOCUMENT_FILES = ['openstack/latest/meta_data.json', 'meta-data', 'network-config', 'openstack/latest/network_data.json'] as const;
