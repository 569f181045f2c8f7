// Metadata layouts (EC2/Eucalyptus, OpenStack, NoCloud) → context variables, so that every source
// feeds the same normalisation and the same modules: instance id → the identity, hostname →
// SET_HOSTNAME, keys → SSH_PUBLIC_KEY, user data → USER_DATA (base64, so binary and #! bodies pass
// through the one user-data handler), password → PASSWORD. Network documents are not flattened into
// variables: the datasource hands them over as RawContext.networkDocument.
import { isIP } from 'node:net';
import type { ContextWarning } from '../context/context.js';
import { singleKeyEntry } from '../../formats/sshkeys.js';
import { shown } from '../../shared/errors.js';
import type { NetworkDocument } from '../../network/plan.js';

export interface MappedMetadata {
  readonly instanceId: string | undefined;
  readonly variables: Record<string, string>;
  readonly warnings: ContextWarning[];
  /** The network document the source gave, handed over unmapped (RawContext.networkDocument). */
  readonly networkDocument?: NetworkDocument | undefined;
}

/** Values that end up in variables: one line of printable text, bounded. */
function clean(value: unknown, what: string, warnings: ContextWarning[], max = 4096): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/u.test(v) || v.length > max) {
    warnings.push({ variable: what, message: 'contains control characters (a newline?) or is too long; ignored' });
    return undefined;
  }
  return v;
}

const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/u;

export function checkInstanceId(value: unknown, what: string, warnings: ContextWarning[]): string | undefined {
  const v = clean(value, what, warnings, 128);
  if (v === undefined) return undefined;
  if (!INSTANCE_ID.test(v)) {
    warnings.push({ variable: what, message: 'is not a usable instance id (letters, digits, ".", "_", ":", "-"); ignored' });
    return undefined;
  }
  return v;
}

/** Adds user data (bytes) as USER_DATA in base64 with its encoding flag. */
export function setUserData(variables: Record<string, string>, data: Buffer | undefined): void {
  if (data === undefined || data.length === 0) return;
  variables['USER_DATA'] = data.toString('base64');
  variables['USER_DATA_ENCODING'] = 'base64';
}

export function setPassword(variables: Record<string, string>, value: string | undefined, what: string, warnings: ContextWarning[]): void {
  if (value === undefined) return;
  const v = value.replace(/\r?\n$/u, '');
  if (v === '') {
    warnings.push({ variable: what, message: 'present but empty; no password set' });
    return;
  }
  if (v.includes('\n') || v.includes('\0')) {
    warnings.push({ variable: what, message: 'contains a newline or NUL; not used' });
    return;
  }
  variables['PASSWORD'] = v;
}

/** One key from metadata, with where it came from (for the warnings). */
export interface KeyEntry {
  readonly name: string;
  readonly data: string;
}

/** Key entries, one key each: a second line in an entry is dropped and reported with the entry's name. */
export function keyEntryLines(entries: readonly KeyEntry[], warnings: ContextWarning[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    const { line, dropped } = singleKeyEntry(e.data);
    if (dropped > 0) warnings.push({ variable: e.name, message: `holds ${dropped + 1} lines, but a key entry is one key: only its first line was kept` });
    if (line !== undefined) out.push(line);
  }
  return out;
}

/** Key lines: each becomes one line of SSH_PUBLIC_KEY (checked later like every other key). */
export function setKeys(variables: Record<string, string>, keys: readonly string[]): void {
  const lines = keys.flatMap((k) => k.split(/\r?\n/u)).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length > 0) variables['SSH_PUBLIC_KEY'] = [...new Set(lines)].join('\n');
}

export interface Ec2Fetched {
  readonly instanceId?: string | undefined;
  readonly hostname?: string | undefined;
  readonly localIpv4?: string | undefined;
  readonly publicIpv4?: string | undefined;
  readonly availabilityZone?: string | undefined;
  readonly keys: readonly KeyEntry[];
  readonly userData?: Buffer | undefined;
  readonly password?: string | undefined;
  readonly ephemeral?: string | undefined;
}

export function mapEc2(f: Ec2Fetched): MappedMetadata {
  const warnings: ContextWarning[] = [];
  const variables: Record<string, string> = {};
  const instanceId = checkInstanceId(f.instanceId, 'meta-data/instance-id', warnings);
  const host = clean(f.hostname, 'meta-data/local-hostname', warnings, 255);
  if (host !== undefined) variables['SET_HOSTNAME'] = host;
  for (const [key, value, what] of [
    ['EC2_LOCAL_IPV4', f.localIpv4, 'meta-data/local-ipv4'],
    ['EC2_PUBLIC_IPV4', f.publicIpv4, 'meta-data/public-ipv4'],
  ] as const) {
    const v = clean(value, what, warnings, 64);
    if (v !== undefined && isIP(v) === 4) variables[key] = v;
    else if (v !== undefined) warnings.push({ variable: what, message: 'is not an IPv4 address; ignored' });
  }
  const az = clean(f.availabilityZone, 'meta-data/placement/availability-zone', warnings, 128);
  if (az !== undefined) variables['EC2_AVAILABILITY_ZONE'] = az;
  const eph = clean(f.ephemeral, 'meta-data/block-device-mapping/ephemeral0', warnings, 64);
  if (eph !== undefined) {
    if (/^(\/dev\/)?[a-z][a-z0-9]{1,15}$/u.test(eph)) variables['EPHEMERAL0_DEVICE'] = eph.replace(/^\/dev\//u, '');
    else warnings.push({ variable: 'meta-data/block-device-mapping/ephemeral0', message: 'is not a device name; ignored' });
  }
  if (instanceId !== undefined) variables['EC2_INSTANCE_ID'] = instanceId;
  setKeys(variables, keyEntryLines(f.keys, warnings));
  setUserData(variables, f.userData);
  setPassword(variables, f.password, 'meta-data/password', warnings);
  return { instanceId, variables, warnings };
}

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where OpenStack's network_data.json is, on a config drive and on the metadata service; notes name it so. */
export const NETWORK_DATA_FILE = 'openstack/latest/network_data.json';

/** OpenStack meta_data.json (+ user_data, password); network_data.json is the datasource's network document. */
export function mapOpenStack(meta: unknown, userData: Buffer | undefined, password: string | undefined): MappedMetadata {
  const warnings: ContextWarning[] = [];
  const variables: Record<string, string> = {};
  if (!isObject(meta)) {
    warnings.push({ variable: 'meta_data.json', message: 'is not a JSON object; ignored' });
    return { instanceId: undefined, variables, warnings };
  }
  const instanceId = checkInstanceId(meta['uuid'], 'meta_data.json uuid', warnings);
  const host = clean(meta['hostname'], 'meta_data.json hostname', warnings, 255) ?? clean(meta['name'], 'meta_data.json name', warnings, 255);
  if (host !== undefined) variables['SET_HOSTNAME'] = host;
  const keys: KeyEntry[] = [];
  if (isObject(meta['public_keys'])) {
    for (const [name, k] of Object.entries(meta['public_keys'])) if (typeof k === 'string') keys.push({ name: `meta_data.json public_keys[${JSON.stringify(shown(name, 40))}]`, data: k });
  }
  if (Array.isArray(meta['keys'])) {
    meta['keys'].forEach((k, i) => {
      if (isObject(k) && typeof k['data'] === 'string') keys.push({ name: `meta_data.json keys[${i}].data${typeof k['name'] === 'string' ? ` (${JSON.stringify(shown(k['name'], 40))})` : ''}`, data: k['data'] });
    });
  }
  setKeys(variables, keyEntryLines(keys, warnings));
  const az = clean(meta['availability_zone'], 'meta_data.json availability_zone', warnings, 128);
  if (az !== undefined) variables['EC2_AVAILABILITY_ZONE'] = az;
  if (instanceId !== undefined) variables['EC2_INSTANCE_ID'] = instanceId;
  setUserData(variables, userData);
  const adminPass = typeof meta['admin_pass'] === 'string' ? meta['admin_pass'] : undefined;
  setPassword(variables, password ?? adminPass, password === undefined ? 'meta_data.json admin_pass' : 'openstack password', warnings);
  return { instanceId, variables, warnings };
}
