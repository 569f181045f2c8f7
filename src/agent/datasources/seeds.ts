// Local seeds, no network needed: NoCloud (label cidata: meta-data, user-data, network-config)
// and the OpenStack config drive (label config-2: openstack/latest/meta_data.json, user_data,
// network_data.json), read from ISO 9660 with our own reader (or a directory, for --source).
// Both map to context variables through mapping.ts, like the HTTP metadata; the network document
// is handed over as it is (RawContext.networkDocument), mapped with its lines in normaliseContext.
import { parseYamlValue } from '../../formats/yamldoc.js';
import { describeError } from '../../shared/errors.js';
import type { ContextWarning, RawContext, SourceInfo } from '../context/context.js';
import type { SeedFile } from '../context/types.js';
import { normaliseGuestPath } from '../../formats/guestpath.js';
import { documentWarnings } from '../context/documents.js';
import { EMPTY_MEDIUM, MAX_USER_DATA, parseJson } from './metadata.js';
import { noCloudNetwork } from '../../network/fromdocument.js';
import { NETWORK_DATA_FILE, checkInstanceId, isObject, keyEntryLines, mapOpenStack, setKeys, setUserData, type KeyEntry } from './mapping.js';

export const SEED_LABELS = ['CIDATA', 'CONFIG-2'];
const MAX_DOC = 4 * 1024 * 1024;
/** A config drive's `files`: how many, and the bytes of each and of all together. */
const MAX_SEED_FILES = 64;
const MAX_SEED_FILE = 16 * 1024 * 1024;
const MAX_SEED_FILES_TOTAL = 64 * 1024 * 1024;

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

/**
 * NoCloud meta-data public-keys in the forms cloud-init takes: a string (one key a line), a list of
 * keys, a mapping of names to a key or a list of keys, and the EC2 layout (a mapping of indices to
 * {openssh-key: KEY}). Anything else is named, not dropped.
 */
export function noCloudKeys(value: unknown, what: string, warnings: ContextWarning[]): string[] {
  if (value === undefined || value === null) return [];
  const entries: KeyEntry[] = [];
  const skipped = (where: string): void => void warnings.push({ variable: where, message: 'is not a key (a string), a list of keys or {openssh-key: KEY}; ignored' });
  const one = (v: unknown, where: string, nested: boolean): void => {
    if (typeof v === 'string') entries.push({ name: where, data: v });
    else if (Array.isArray(v) && !nested) v.forEach((k, i) => { one(k, `${where}[${i}]`, true); });
    else if (isObject(v) && typeof v['openssh-key'] === 'string') entries.push({ name: `${where}.openssh-key`, data: v['openssh-key'] });
    else skipped(where);
  };
  if (typeof value === 'string') return value.split(/\r?\n/u);
  if (Array.isArray(value)) value.forEach((k, i) => { one(k, `${what}[${i}]`, true); });
  else if (isObject(value)) for (const [name, v] of Object.entries(value)) one(v, `${what}[${JSON.stringify(name.slice(0, 40))}]`, false);
  else skipped(what);
  // a list entry or a mapping's value is one key: a second line in it is named
  return keyEntryLines(entries, warnings);
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
  const keysKey = metaObj['public-keys'] !== undefined ? 'public-keys' : 'public_keys';
  setKeys(variables, noCloudKeys(metaObj[keysKey], `meta-data ${keysKey}`, warnings));
  setUserData(variables, await read('user-data', MAX_USER_DATA));
  const net = await read('network-config', MAX_DOC);
  // one network document applies (cloud-init's precedence); the others are named, not dropped
  const chosen = noCloudNetwork({
    networkConfig: net?.toString('utf8'),
    metaData: metaData === undefined || !isObject(meta) ? undefined : { text: metaData.toString('utf8'), networkInterfaces: meta['network-interfaces'] !== undefined, networkConfig: meta['network-config'] !== undefined },
  });
  for (const message of chosen.notApplied) warnings.push({ message });
  // vendor data (cloud-init's vendor-data) is not something vmctx applies: said, not dropped
  const vendor = await read('vendor-data', MAX_USER_DATA);
  if (vendor !== undefined && vendor.length > 0) warnings.push({ variable: 'vendor-data', message: `present (${vendor.length} bytes), but vmctx applies only the user data; not applied` });
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
  const files = await configDriveFiles(isObject(meta) ? meta['files'] : undefined, read, warnings);
  return {
    source: { ...source, kind: 'config-drive', variableFiles: ['openstack/latest/meta_data.json'] },
    variables: mapped.variables,
    lines: {},
    warnings: [...warnings, ...mapped.warnings],
    medium: EMPTY_MEDIUM,
    instanceId: mapped.instanceId,
    networkDocument: network === undefined ? undefined : { format: 'network_data.json', file: NETWORK_DATA_FILE, text: network.toString('utf8') },
    ...(files.length === 0 ? {} : { seedFiles: files }),
  };
}

/**
 * meta_data.json `files`: [{path, content_path}], each content_path ("/content/0000") a file under
 * openstack/ on the drive. The guest path is normalised (absolute, no ".."); the module writes it
 * through the Root with write_files' confinement. Every entry that cannot be used is named.
 */
async function configDriveFiles(list: unknown, read: SeedReader, warnings: ContextWarning[]): Promise<SeedFile[]> {
  if (list === undefined) return [];
  const what = 'meta_data.json files';
  if (!Array.isArray(list)) {
    warnings.push({ variable: what, message: 'is not a list; no file written' });
    return [];
  }
  if (list.length > MAX_SEED_FILES) warnings.push({ variable: what, message: `${list.length} entries, over the limit of ${MAX_SEED_FILES}; the rest are not written` });
  const out: SeedFile[] = [];
  let total = 0;
  for (const [i, entry] of list.slice(0, MAX_SEED_FILES).entries()) {
    const where = `${what}[${i}]`;
    if (!isObject(entry) || typeof entry['path'] !== 'string' || typeof entry['content_path'] !== 'string') {
      warnings.push({ variable: where, message: 'is not {path, content_path}; not written' });
      continue;
    }
    const guest = normaliseGuestPath(entry['path']);
    if (!guest.ok || guest.path === '/') {
      warnings.push({ variable: where, message: `path ${JSON.stringify(entry['path'].slice(0, 80))} is not an absolute path without ".."; not written` });
      continue;
    }
    const contentPath = entry['content_path'].replace(/^\/+/u, '');
    if (!/^content\/[A-Za-z0-9._-]{1,64}$/u.test(contentPath) || contentPath.includes('..')) {
      warnings.push({ variable: where, message: `content_path ${JSON.stringify(entry['content_path'].slice(0, 80))} is not a file under openstack/content/; ${guest.path} not written` });
      continue;
    }
    const from = `openstack/${contentPath}`;
    let data: Buffer | undefined;
    try {
      data = await read(from, MAX_SEED_FILE);
    } catch (error) {
      warnings.push({ variable: where, message: `${from} could not be read (${describeError(error).message.slice(0, 100)}); ${guest.path} not written` });
      continue;
    }
    if (data === undefined) {
      warnings.push({ variable: where, message: `${from} is not on the drive; ${guest.path} not written` });
      continue;
    }
    if (total + data.length > MAX_SEED_FILES_TOTAL) {
      warnings.push({ variable: where, message: `the files together pass ${MAX_SEED_FILES_TOTAL / 1024 / 1024} MiB; ${guest.path} not written` });
      continue;
    }
    total += data.length;
    out.push({ path: guest.path, content: data, from });
  }
  return out;
}

/** Reads a seed of the given layout. */
export async function readSeed(layout: 'nocloud' | 'config-drive', read: SeedReader, source: Omit<SourceInfo, 'variableFiles' | 'kind'>): Promise<RawContext> {
  return layout === 'nocloud' ? readNoCloud(read, source) : readConfigDrive(read, source);
}
