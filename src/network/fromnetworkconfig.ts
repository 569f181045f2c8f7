// A cloud-init network-config document (NoCloud's network-config file, or the network-config
// in meta-data) of version 1 or 2 → NetModel and a note for every key not applied. Pure.
import { parseNetworkDoc, sortNotes, type DocTracker, type Value } from './docreader.js';
import { readNetplan, NETPLAN_DEVICE_KEYS, NETPLAN_TOP_KEYS } from './fromnetplan.js';
import { readV1, V1_ITEM_KEYS, V1_SUBNET_KEYS } from './fromv1.js';
import { ModelBuilder, type MappedNetwork } from './netmodel.js';

const EMPTY: MappedNetwork['model'] = { devices: [], routes: [], nameservers: { addresses: [], search: [] } };

/** The known keys at a path, for "did you mean" on an unknown one. */
function knownAt(path: string): readonly string[] {
  if (/^(network\.)?config\[\d+\]\.subnets\[\d+\]$/u.test(path)) return V1_SUBNET_KEYS;
  if (/^(network\.)?config\[\d+\]$/u.test(path)) return V1_ITEM_KEYS;
  if (/^(network\.)?(ethernets|bonds|bridges|vlans)\.[^.]+$/u.test(path) || /^(network\.)?(ethernets|bonds|bridges|vlans)\["/u.test(path)) return NETPLAN_DEVICE_KEYS;
  if (path === '' || path === 'network') return [...NETPLAN_TOP_KEYS, 'config', 'network'];
  return [];
}

/** Maps one network-config document; `file` names it in the notes ("network-config"). */
export function mapNetworkConfig(text: string, file: string): MappedNetwork {
  const parsed = parseNetworkDoc(text, file);
  if (!parsed.ok) return { model: EMPTY, notes: parsed.notes };
  return mapParsed(parsed.root, parsed.tracker, file, knownAt);
}

/**
 * Maps the network-config held by one top-level key of a YAML document (NoCloud meta-data's
 * `network-config`): notes name `file`, their paths start with the key, lines are the document's.
 */
export function mapNetworkConfigAt(text: string, file: string, key: string): MappedNetwork {
  const parsed = parseNetworkDoc(text, file);
  if (!parsed.ok) return { model: EMPTY, notes: parsed.notes };
  const value = parsed.root.isMap() ? parsed.root.map()?.get(key) : undefined;
  if (value === undefined) return { model: EMPTY, notes: [{ path: key, file, line: undefined, what: 'invalid', message: `${file} has no ${key}; nothing configured` }] };
  const prefix = `${value.path}.`;
  // the other keys of the document are not network config: only notes inside the key are kept
  const inside = (path: string): boolean => path === value.path || path.startsWith(prefix) || path.startsWith(`${value.path}[`);
  const mapped = mapParsed(value, parsed.tracker, file, (path) => knownAt(path === value.path ? '' : path.startsWith(prefix) ? path.slice(prefix.length) : path));
  return { model: mapped.model, notes: mapped.notes.filter((n) => inside(n.path)) };
}

function mapParsed(root: Value, tracker: DocTracker, file: string, known: (path: string) => readonly string[]): MappedNetwork {
  const b = new ModelBuilder(file);
  const top = root.map('a mapping (network: version: …)');
  if (top === undefined) return { model: EMPTY, notes: tracker.notes };
  // the document may or may not have the `network:` wrapper
  const inner = top.has('network') ? top.get('network')?.map() : top;
  if (inner === undefined) return { model: EMPTY, notes: tracker.notes };
  // `network: {config: disabled}`: cloud-init's way to say "configure no network" — applied as that
  if (!inner.has('version') && inner.get('config')?.peek() === 'disabled') {
    tracker.finish(root, known);
    return { model: EMPTY, notes: sortNotes(tracker.notes) };
  }
  const versionV = inner.get('version');
  const version = versionV?.int(1, 2, 'a network-config version');
  if (version === undefined) {
    if (versionV === undefined) b.note(inner.where, 'invalid', 'has no version (1 or 2); nothing configured');
    tracker.cover(inner.node);
  } else if (version === 1) readV1(inner, b);
  else readNetplan(inner, b);
  tracker.finish(root, known);
  const built = b.build();
  return { model: built.model, notes: sortNotes([...tracker.notes, ...built.notes]) };
}
