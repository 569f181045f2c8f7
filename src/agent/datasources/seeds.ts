// Local seeds, no network needed: NoCloud (label cidata: meta-data, user-data, network-config)
// and the OpenStack config drive (label config-2: openstack/latest/meta_data.json, user_data,
// network_data.json), read from ISO 9660 with our own reader (or a directory, for --source).
// Both map to context variables through mapping.ts, like the HTTP metadata; the network document
// is handed over as it is (RawContext.networkDocument), mapped with its lines in normaliseContext.
import { parseYamlValue } from '../../formats/yamldoc.js';
import { describeError } from '../../shared/errors.js';
import type { ContextWarning, RawContext, SourceInfo } from '../context/context.js';
import { documentWarnings } from '../context/documents.js';
import { EMPTY_MEDIUM, MAX_USER_DATA, parseJson } from './metadata.js';
import { noCloudNetwork } from '../../network/fromdocument.js';
import { NETWORK_DATA_FILE, checkInstanceId, isObject, mapOpenStack, setKeys, setUserData } from './mapping.js';

export const SEED_LABELS = ['CIDATA', 'CONFIG-2'];
const MAX_DOC = 4 * 1024 * 1024;

/** Reads a file of the seed by its path ("openstack/latest/meta_data.json"); undefined when absent. */
export type SeedReader = (path: string, maxBytes: number) => Promise<Buffer | undefined>;


function yamlDoc(b: Buffer | undefined, what: string, warnings: ContextWarning[]): unknown {
  if (b === undefined) return undefined;
  try {
    return parseYamlValue(b.toString('utf8'), what);
  } catch (error) {
    warnings.push({ variable: what, message: `is not YAML (${describeError(error).message.split('\n')[0]?.slice(0, 100) ?? ''}); ignored` });
    return undefined;
  }
}

/** Which seed layout the file names show, if any. */
export function seedLayout(names: readonly string[]): 'nocloud' | 'config-drive' | undefined {
  const lower = new Set(names.map((n) => n.toLowerCase()));
  if (lower.has('meta-data') && lower.has('user-data')) return 'nocloud';
  if (lower.has('openstack')) return 'config-drive';
  return undefined;
}

export async function readNoCloud(read: SeedReader, source: Omit<SourceInfo, 'variableFiles' | 'kind'>): Promise<RawContext> {
  const warnings: ContextWarning[] = [];
  const variables: Record<string, string> = {};
  const metaData = await read('meta-data', MAX_DOC);
  const meta = yamlDoc(metaData, 'meta-data', warnings);
  for (const w of documentWarnings('meta-data', metaData)) warnings.push(w);
  const metaObj = isObject(meta) ? meta : {};
  const instanceId = checkInstanceId(metaObj['instance-id'], 'meta-data instance-id', warnings);
  const host = metaObj['local-hostname'] ?? metaObj['hostname'];
  if (typeof host === 'string') variables['SET_HOSTNAME'] = host;
  const keys = metaObj['public-keys'] ?? metaObj['public_keys'];
  if (Array.isArray(keys)) setKeys(variables, keys.filter((k): k is string => typeof k === 'string'));
  else if (isObject(keys)) setKeys(variables, Object.values(keys).filter((k): k is string => typeof k === 'string'));
  else if (typeof keys === 'string') setKeys(variables, [keys]);
  setUserData(variables, await read('user-data', MAX_USER_DATA));
  const net = await read('network-config', MAX_DOC);
  // one network document applies (cloud-init's precedence); the others are named, not dropped
  const chosen = noCloudNetwork({
    networkConfig: net?.toString('utf8'),
    metaData: metaData === undefined || !isObject(meta) ? undefined : { text: metaData.toString('utf8'), networkInterfaces: meta['network-interfaces'] !== undefined, networkConfig: meta['network-config'] !== undefined },
  });
  for (const message of chosen.notApplied) warnings.push({ message });
  if (instanceId !== undefined) variables['EC2_INSTANCE_ID'] = instanceId;
  const files = ['meta-data', 'user-data', ...(net === undefined ? [] : ['network-config'])];
  return { source: { ...source, kind: 'nocloud', variableFiles: files }, variables, lines: {}, warnings, medium: EMPTY_MEDIUM, instanceId, networkDocument: chosen.document };
}

export async function readConfigDrive(read: SeedReader, source: Omit<SourceInfo, 'variableFiles' | 'kind'>): Promise<RawContext> {
  const warnings: ContextWarning[] = [];
  const os = 'openstack/latest';
  const metaData = await read(`${os}/meta_data.json`, MAX_DOC);
  const meta = parseJson(metaData, 'meta_data.json', warnings);
  for (const w of documentWarnings('openstack-meta-data', metaData)) warnings.push(w);
  const network = await read(`${os}/network_data.json`, MAX_DOC);
  const userData = await read(`${os}/user_data`, MAX_USER_DATA);
  const mapped = mapOpenStack(meta ?? {}, userData, undefined);
  return {
    source: { ...source, kind: 'config-drive', variableFiles: ['openstack/latest/meta_data.json'] },
    variables: mapped.variables,
    lines: {},
    warnings: [...warnings, ...mapped.warnings],
    medium: EMPTY_MEDIUM,
    instanceId: mapped.instanceId,
    networkDocument: network === undefined ? undefined : { format: 'network_data.json', file: NETWORK_DATA_FILE, text: network.toString('utf8') },
  };
}

/** Reads a seed of the given layout. */
export async function readSeed(layout: 'nocloud' | 'config-drive', read: SeedReader, source: Omit<SourceInfo, 'variableFiles' | 'kind'>): Promise<RawContext> {
  return layout === 'nocloud' ? readNoCloud(read, source) : readConfigDrive(read, source);
}
