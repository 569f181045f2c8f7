// A datasource's network document (NetworkDocument: NoCloud network-config or meta-data keys,
// ENI text, OpenStack network_data.json, the EC2 NIC tree) → the NetModel, by its format; and the
// rules shared by the datasources and the context: which of NoCloud's network documents applies,
// and which notes are problems (warnings) rather than bookkeeping. Pure.
import { isScalar, Scalar } from 'yaml';
import { parseNetworkDoc, sortNotes, type NetworkNote } from './docreader.js';
import { mapEc2Network } from './fromec2.js';
import { mapEni } from './fromeni.js';
import { mapNetworkConfig, mapNetworkConfigAt } from './fromnetworkconfig.js';
import { mapNetworkData } from './fromnetworkdata.js';
import type { MappedNetwork, NetModel } from './netmodel.js';
import type { NetworkDocument } from './plan.js';

const EMPTY: NetModel = { devices: [], routes: [], nameservers: { addresses: [], search: [] } };

const invalid = (doc: NetworkDocument, message: string, line?: number): MappedNetwork => ({
  model: EMPTY,
  notes: [{ path: doc.key ?? '', file: doc.file, line, what: 'invalid', message }],
});

/** ENI text held by a key of a YAML document (meta-data's network-interfaces), lines counted in the document. */
function mapEniAt(doc: NetworkDocument & { key: string }): MappedNetwork {
  const parsed = parseNetworkDoc(doc.text, doc.file);
  if (!parsed.ok) return { model: EMPTY, notes: parsed.notes };
  const value = parsed.root.isMap() ? parsed.root.map()?.get(doc.key) : undefined;
  if (value === undefined) return invalid(doc, `${doc.file} has no ${doc.key}; nothing configured`);
  const text = value.isScalar() ? value.peek() : undefined;
  if (text === undefined) return invalid(doc, `is ${value.shown()}, not /etc/network/interfaces text; nothing configured`, value.where.line);
  // a block scalar (`network-interfaces: |`) starts on the line after its indicator: its lines
  // are the document's; a quoted or plain one has no lines of its own, its notes get the key's line
  const node = value.node;
  const block = isScalar(node) && (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED);
  const start = block ? parsed.tracker.lineOf(node) : undefined;
  const mapped = mapEni(text, doc.file);
  const at = (line: number | undefined): number | undefined => (start !== undefined && line !== undefined ? start + line : value.where.line);
  return { model: mapped.model, notes: sortNotes(mapped.notes.map((n) => ({ ...n, path: `${doc.key}: ${n.path}`, line: at(n.line) }))) };
}

/** The EC2 NIC tree as JSON (`{interfaces: {macs: {MAC: {key: value}}}}`). */
function mapEc2Text(doc: NetworkDocument): MappedNetwork {
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc.text) as unknown;
  } catch {
    return invalid(doc, 'is not JSON; nothing configured');
  }
  return mapEc2Network(parsed, doc.file);
}

/** Maps a network document by its format; every note names `doc.file`. */
export function mapNetworkDocument(doc: NetworkDocument): MappedNetwork {
  switch (doc.format) {
    case 'network-config':
      return doc.key === undefined ? mapNetworkConfig(doc.text, doc.file) : mapNetworkConfigAt(doc.text, doc.file, doc.key);
    case 'eni':
      return doc.key === undefined ? mapEni(doc.text, doc.file) : mapEniAt({ ...doc, key: doc.key });
    case 'network_data.json':
      return mapNetworkData(doc.text, doc.file);
    case 'ec2':
      return mapEc2Text(doc);
  }
}

/** NoCloud's network documents, in cloud-init's order of precedence. */
export interface NoCloudNetworks {
  /** The seed's network-config file (its text), when present. */
  readonly networkConfig?: string | undefined;
  /** meta-data's text, and which of the network keys it has. */
  readonly metaData?: { readonly text: string; readonly networkInterfaces: boolean; readonly networkConfig: boolean } | undefined;
}

/**
 * Which NoCloud network document applies — the network-config file, else meta-data's
 * network-interfaces (ENI), else meta-data's network-config key (cloud-init's precedence: the newer
 * format wins over the legacy ENI) — and the ones that lose, named.
 */
export function noCloudNetwork(n: NoCloudNetworks): { readonly document: NetworkDocument | undefined; readonly notApplied: readonly string[] } {
  const candidates: Array<{ name: string; doc: NetworkDocument }> = [];
  const said: string[] = [];
  // an empty network-config (blank or comments only) is no document, as cloud-init reads it (YAML null)
  const empty = n.networkConfig !== undefined && n.networkConfig.split('\n').every((l) => /^\s*(#.*)?$/u.test(l));
  if (empty) said.push('network-config is empty (no network configuration in it); not used');
  else if (n.networkConfig !== undefined) candidates.push({ name: 'network-config', doc: { format: 'network-config', file: 'network-config', text: n.networkConfig } });
  const md = n.metaData;
  if (md?.networkInterfaces === true) candidates.push({ name: 'meta-data network-interfaces', doc: { format: 'eni', file: 'meta-data', text: md.text, key: 'network-interfaces' } });
  if (md?.networkConfig === true) candidates.push({ name: 'meta-data network-config', doc: { format: 'network-config', file: 'meta-data', text: md.text, key: 'network-config' } });
  const [winner, ...losers] = candidates;
  return { document: winner?.doc, notApplied: [...said, ...losers.map((l) => `${l.name} not applied: ${winner?.name ?? ''} wins (cloud-init's precedence)`)] };
}

/**
 * Notes that are bookkeeping, not problems: an informational id with nothing to apply
 * (network_data.json's network_id, vif_id), an ENI `auto` line with nothing to configure, EC2's
 * informational NIC keys. They stay in the plan (validate and show list them), not as warnings.
 */
export function isBookkeepingNote(n: NetworkNote): boolean {
  return n.what === 'unused' && /(; nothing to apply|; nothing to configure|is informational \(not network configuration of the guest\); not used)$/u.test(n.message);
}

/** A note of a whole document not used (it did not parse, is not a mapping, has no version): an error, not a warning. */
export function isDocumentError(n: NetworkNote): boolean {
  return n.what === 'invalid' && /(nothing (applied|configured)|; skipped|; refused)$/u.test(n.message) && !/[.[:]/u.test(n.path);
}
