// Local seeds, no network needed: NoCloud (label cidata: meta-data, user-data, network-config)
// and the OpenStack config drive (label config-2: openstack/latest/meta_data.json, user_data,
// network_data.json), read from ISO 9660 with our own reader (or a directory, for --source).
// Both map to context variables through mapping.ts, like the HTTP metadata.
import { parseYamlValue } from '../../formats/yamldoc.js';
import { describeError } from '../../shared/errors.js';
import type { ContextWarning, RawContext, SourceInfo } from '../context/context.js';
import { documentWarnings } from '../context/documents.js';
import { EMPTY_MEDIUM, MAX_USER_DATA, parseJson } from './metadata.js';
import { checkInstanceId, isObject, mapOpenStack, setKeys, setUserData } from './mapping.js';

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

function cidr(address: string): { ip: string; prefix?: string } {
  const [ip = '', prefix] = address.split('/');
  return prefix === undefined ? { ip } : { ip, prefix };
}

/** cloud-init network-config version 1 or 2 → ETHn_* variables (ethernets matched by MAC). */
export function networkConfigToVariables(doc: unknown, warnings: ContextWarning[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(doc)) return out;
  const root = isObject(doc['network']) ? doc['network'] : doc;
  let n = 0;
  const dnsAll: string[] = [];
  const searchAll: string[] = [];
  const set = (key: string, value: unknown): void => {
    if (typeof value === 'string' || typeof value === 'number') out[key] = String(value);
  };
  if (root['version'] === 2 && isObject(root['ethernets'])) {
    for (const [id, eth] of Object.entries(root['ethernets'])) {
      if (!isObject(eth) || n >= 64) continue;
      const match = isObject(eth['match']) ? eth['match'] : {};
      if (typeof match['macaddress'] !== 'string') {
        warnings.push({ variable: 'network-config', message: `ethernet ${id.slice(0, 40)} has no match.macaddress; not configured (vmctx matches NICs by MAC)` });
        continue;
      }
      const p = `ETH${n}_`;
      n += 1;
      out[`${p}MAC`] = match['macaddress'];
      set(`${p}MTU`, eth['mtu']);
      const addrs = Array.isArray(eth['addresses']) ? eth['addresses'].filter((a): a is string => typeof a === 'string') : [];
      const v4 = addrs.find((a) => !a.includes(':'));
      const v6 = addrs.find((a) => a.includes(':'));
      if (eth['dhcp4'] === true) out[`${p}METHOD`] = 'dhcp';
      else if (v4 !== undefined) {
        const c = cidr(v4);
        out[`${p}IP`] = c.ip;
        if (c.prefix !== undefined) out[`${p}MASK`] = c.prefix;
      } else out[`${p}METHOD`] = 'skip';
      if (eth['dhcp6'] === true) out[`${p}IP6_METHOD`] = 'dhcp';
      else if (v6 !== undefined) {
        const c = cidr(v6);
        out[`${p}IP6`] = c.ip;
        if (c.prefix !== undefined) out[`${p}IP6_PREFIX_LENGTH`] = c.prefix;
      }
      set(`${p}GATEWAY`, eth['gateway4']);
      set(`${p}IP6_GATEWAY`, eth['gateway6']);
      if (Array.isArray(eth['routes'])) {
        for (const r of eth['routes']) {
          if (!isObject(r) || typeof r['via'] !== 'string') continue;
          if (r['to'] === 'default' || r['to'] === '0.0.0.0/0') out[`${p}GATEWAY`] = r['via'];
          if (r['to'] === '::/0') out[`${p}IP6_GATEWAY`] = r['via'];
        }
      }
      const ns = isObject(eth['nameservers']) ? eth['nameservers'] : {};
      if (Array.isArray(ns['addresses'])) out[`${p}DNS`] = ns['addresses'].filter((a) => typeof a === 'string').join(' ');
      if (Array.isArray(ns['search'])) out[`${p}SEARCH_DOMAIN`] = ns['search'].filter((a) => typeof a === 'string').join(' ');
    }
  } else if (root['version'] === 1 && Array.isArray(root['config'])) {
    for (const item of root['config']) {
      if (!isObject(item)) continue;
      if (item['type'] === 'nameserver') {
        if (Array.isArray(item['address'])) for (const a of item['address']) if (typeof a === 'string') dnsAll.push(a);
        if (Array.isArray(item['search'])) for (const a of item['search']) if (typeof a === 'string') searchAll.push(a);
        continue;
      }
      if (item['type'] !== 'physical' || typeof item['mac_address'] !== 'string' || n >= 64) continue;
      const p = `ETH${n}_`;
      n += 1;
      out[`${p}MAC`] = item['mac_address'];
      set(`${p}MTU`, item['mtu']);
      const subnets = Array.isArray(item['subnets']) ? item['subnets'].filter(isObject) : [];
      const v4 = subnets.find((s) => s['type'] === 'static' && typeof s['address'] === 'string' && !s['address'].includes(':'));
      const v6 = subnets.find((s) => (s['type'] === 'static' || s['type'] === 'static6') && typeof s['address'] === 'string' && s['address'].includes(':'));
      if (subnets.some((s) => s['type'] === 'dhcp' || s['type'] === 'dhcp4')) out[`${p}METHOD`] = 'dhcp';
      else if (v4 !== undefined) {
        const c = cidr(String(v4['address']));
        out[`${p}IP`] = c.ip;
        if (c.prefix !== undefined) out[`${p}MASK`] = c.prefix;
        set(`${p}MASK`, v4['netmask']);
        set(`${p}GATEWAY`, v4['gateway']);
        if (Array.isArray(v4['dns_nameservers'])) out[`${p}DNS`] = v4['dns_nameservers'].filter((a) => typeof a === 'string').join(' ');
      } else out[`${p}METHOD`] = 'skip';
      if (v6 !== undefined) {
        const c = cidr(String(v6['address']));
        out[`${p}IP6`] = c.ip;
        if (c.prefix !== undefined) out[`${p}IP6_PREFIX_LENGTH`] = c.prefix;
        set(`${p}IP6_GATEWAY`, v6['gateway']);
      }
    }
  } else {
    warnings.push({ variable: 'network-config', message: 'is neither version 1 nor version 2 network config; ignored' });
  }
  if (dnsAll.length > 0) out['DNS'] = dnsAll.join(' ');
  if (searchAll.length > 0) out['SEARCH_DOMAIN'] = searchAll.join(' ');
  return out;
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
  for (const w of documentWarnings('network-config', net)) warnings.push(w);
  if (net !== undefined) Object.assign(variables, networkConfigToVariables(yamlDoc(net, 'network-config', warnings), warnings));
  else if (isObject(metaObj['network-config'])) Object.assign(variables, networkConfigToVariables(metaObj['network-config'], warnings));
  if (instanceId !== undefined) variables['EC2_INSTANCE_ID'] = instanceId;
  const files = ['meta-data', 'user-data', ...(net === undefined ? [] : ['network-config'])];
  return { source: { ...source, kind: 'nocloud', variableFiles: files }, variables, lines: {}, warnings, medium: EMPTY_MEDIUM, instanceId };
}

export async function readConfigDrive(read: SeedReader, source: Omit<SourceInfo, 'variableFiles' | 'kind'>): Promise<RawContext> {
  const warnings: ContextWarning[] = [];
  const os = 'openstack/latest';
  const json = async (name: string): Promise<unknown> => parseJson(await read(`${os}/${name}`, MAX_DOC), name, warnings);
  const metaData = await read(`${os}/meta_data.json`, MAX_DOC);
  const meta = parseJson(metaData, 'meta_data.json', warnings);
  for (const w of documentWarnings('openstack-meta-data', metaData)) warnings.push(w);
  const network = await json('network_data.json');
  const userData = await read(`${os}/user_data`, MAX_USER_DATA);
  const mapped = mapOpenStack(meta ?? {}, network, userData, undefined);
  return {
    source: { ...source, kind: 'config-drive', variableFiles: ['openstack/latest/meta_data.json'] },
    variables: mapped.variables,
    lines: {},
    warnings: [...warnings, ...mapped.warnings],
    medium: EMPTY_MEDIUM,
    instanceId: mapped.instanceId,
  };
}

/** Reads a seed of the given layout. */
export async function readSeed(layout: 'nocloud' | 'config-drive', read: SeedReader, source: Omit<SourceInfo, 'variableFiles' | 'kind'>): Promise<RawContext> {
  return layout === 'nocloud' ? readNoCloud(read, source) : readConfigDrive(read, source);
}
