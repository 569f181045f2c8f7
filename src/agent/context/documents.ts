// Checks of the metadata documents a seed carries (NoCloud meta-data, network-config v1/v2,
// OpenStack meta_data.json): every key is one vmctx maps, one it does not support, one it only
// carries, or a typo (with a did-you-mean), each at its line and column. Shared by the seed reader
// (so run and show warn) and `vmctx validate`. Pure.
import { LineCounter, isMap, isScalar, isSeq, type Document } from 'yaml';
import { parseYamlBounded, yamlOverLimits } from '../../formats/yamldoc.js';
import { didYouMean } from '../../formats/didyoumean.js';
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

  length(path: ReadonlyArray<string | number>): number {
    const node = this.doc.getIn(path, true);
    return isSeq(node) ? node.items.length : 0;
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
  applied: ['instance-id', 'local-hostname', 'hostname', 'public-keys', 'public_keys', 'network-config'],
  unsupported: ['network-interfaces', 'seedfrom'],
  informational: ['dsmode', 'availability-zone', 'availability_zone', 'cloud-name', 'region', 'platform', 'local-ipv4', 'public-ipv4', 'instance-type', 'launch-index'],
  open: true,
};
const OPENSTACK_META: KeyTable = {
  applied: ['uuid', 'hostname', 'name', 'public_keys', 'keys', 'availability_zone', 'admin_pass'],
  unsupported: ['files'],
  informational: ['launch_index', 'project_id', 'meta', 'devices', 'random_seed', 'dedicated_cpus', 'network_config'],
  open: true,
};
const NET_V2: KeyTable = { applied: ['version', 'ethernets'], unsupported: ['bonds', 'bridges', 'vlans', 'wifis', 'tunnels', 'vrfs', 'modems', 'renderer', 'dummy-devices', 'virtual-ethernets'] };
const NET_V2_ETH: KeyTable = {
  applied: ['match', 'dhcp4', 'dhcp6', 'addresses', 'gateway4', 'gateway6', 'routes', 'nameservers', 'mtu'],
  unsupported: ['set-name', 'wakeonlan', 'dhcp4-overrides', 'dhcp6-overrides', 'accept-ra', 'link-local', 'optional', 'macaddress', 'routing-policy', 'critical', 'dhcp-identifier', 'ipv6-privacy', 'renderer'],
};
const NET_V2_MATCH: KeyTable = { applied: ['macaddress'], unsupported: ['name', 'driver'] };
const NET_V1: KeyTable = { applied: ['version', 'config'] };
const NET_V1_ITEM: KeyTable = { applied: ['type', 'mac_address', 'mtu', 'subnets', 'address', 'search'], informational: ['name'], unsupported: ['params', 'bond_interfaces', 'bridge_interfaces', 'vlan_link', 'vlan_id', 'interface', 'accept-ra', 'keep_configuration', 'destination', 'gateway', 'metric'] };
const NET_V1_SUBNET: KeyTable = { applied: ['type', 'address', 'netmask', 'gateway', 'dns_nameservers'], unsupported: ['routes', 'dns_search', 'control', 'ipv4', 'ipv6', 'metric'] };
const NET_V1_TYPES = ['physical', 'nameserver'];
const NET_V1_UNSUPPORTED_TYPES = ['bond', 'bridge', 'vlan', 'route'];

function checkNetworkConfig(y: YamlFile, file: string, out: Diagnostic[], root: ReadonlyArray<string | number> = []): void {
  const top = y.entries(root);
  const base: Array<string | number> = top.some((e) => e.key === 'network') && top.length === 1 ? [...root, 'network'] : [...root];
  const version = y.entries(base).find((e) => e.key === 'version');
  if (version?.value === 2) {
    checkKeys(y, base, NET_V2, '', file, out);
    for (const { key } of y.entries([...base, 'ethernets'])) {
      checkKeys(y, [...base, 'ethernets', key], NET_V2_ETH, `ethernets.${key}`, file, out);
      checkKeys(y, [...base, 'ethernets', key, 'match'], NET_V2_MATCH, `ethernets.${key}.match`, file, out);
    }
  } else if (version?.value === 1) {
    checkKeys(y, base, NET_V1, '', file, out);
    for (let i = 0; i < y.length([...base, 'config']); i++) {
      const item = y.entries([...base, 'config', i]);
      const type = item.find((e) => e.key === 'type');
      if (type !== undefined && NET_V1_UNSUPPORTED_TYPES.includes(String(type.value))) {
        out.push({ file, ...type.at, severity: 'warning', message: `config[${i}]: type ${JSON.stringify(type.value)} is not supported by vmctx; ignored` });
        continue;
      }
      if (type !== undefined && !NET_V1_TYPES.includes(String(type.value))) {
        const guess = didYouMean(String(type.value), [...NET_V1_TYPES, ...NET_V1_UNSUPPORTED_TYPES]);
        out.push({ file, ...type.at, severity: 'warning', message: `config[${i}]: unknown type ${JSON.stringify(type.value)}${guess === undefined ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}; ignored` });
        continue;
      }
      checkKeys(y, [...base, 'config', i], NET_V1_ITEM, `config[${i}]`, file, out);
      for (let j = 0; j < y.length([...base, 'config', i, 'subnets']); j++) checkKeys(y, [...base, 'config', i, 'subnets', j], NET_V1_SUBNET, `config[${i}].subnets[${j}]`, file, out);
    }
  } else out.push({ file, ...(version?.at ?? { line: 1, col: 1 }), severity: 'error', message: 'network-config: neither version 1 nor version 2; ignored' });
}

/** The positioned checks of one metadata document (YAML or JSON). */
export function checkMetadataDocument(kind: 'meta-data' | 'openstack-meta-data' | 'network-config', file: string, data: Buffer): Diagnostic[] {
  const out: Diagnostic[] = [];
  const y = new YamlFile(data.toString('utf8'), file.split('/').at(-1) ?? file);
  if (yamlErrors(y, file, file.split('/').at(-1) ?? file, out)) return out;
  if (kind === 'meta-data') {
    checkKeys(y, [], META_DATA, '', file, out);
    const net = y.entries([]).find((e) => e.key === 'network-config');
    if (net !== undefined && typeof net.value === 'object') checkNetworkConfig(y, file, out, ['network-config']);
  } else if (kind === 'openstack-meta-data') checkKeys(y, [], OPENSTACK_META, '', file, out);
  else checkNetworkConfig(y, file, out);
  return out;
}

/** The key warnings of a seed document, for the run (its YAML errors the reader reports itself). */
export function documentWarnings(kind: 'meta-data' | 'network-config' | 'openstack-meta-data', data: Buffer | undefined): ContextWarning[] {
  if (data === undefined) return [];
  const file = kind === 'openstack-meta-data' ? SEED_DOCUMENT_FILES[0] : kind;
  return checkMetadataDocument(kind, file, data)
    .filter((d) => d.severity === 'warning')
    .map((d) => ({ variable: file, file, ...(d.line === undefined ? {} : { line: d.line }), col: d.col, message: d.message }));
}

/** The files whose warnings carry positions (the names documentWarnings gives them). */
export const SEED_DOCUMENT_FILES = ['openstack/latest/meta_data.json', 'meta-data', 'network-config'] as const;
