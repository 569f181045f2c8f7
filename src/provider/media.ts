// The files of a local seed medium, as clouds lay them out: a NoCloud seed (label cidata:
// user-data, meta-data, optional network-config; what cloud-localds makes) and an OpenStack config
// drive (label config-2: openstack/{2012-08-10,latest}/meta_data.json, user_data,
// openstack/latest/network_data.json, ec2/latest/meta-data.json). Pure: documents in, files out.
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { VmctxError } from '../shared/errors.js';
import type { IsoFileInput } from '../formats/iso9660/writer.js';

export type SeedKind = 'nocloud' | 'config-drive';

/** The volume label each kind needs (cloud-init and vmctx find the seed by it). */
export const SEED_LABEL: Readonly<Record<SeedKind, string>> = { nocloud: 'cidata', 'config-drive': 'config-2' };

/** cloud-localds's instance id when none is given. */
export const DEFAULT_NOCLOUD_INSTANCE_ID = 'iid-local01';

/** The OpenStack metadata versions a config drive carries (the first and the moving one). */
export const CONFIG_DRIVE_VERSIONS = ['2012-08-10', 'latest'] as const;

const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/u;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/u;

/** One input document: its bytes and where it came from (for messages). */
export interface SeedDocument {
  readonly data: Buffer;
  readonly from: string;
}

export interface SeedInput {
  readonly userData?: SeedDocument | undefined;
  /** NoCloud: YAML; config drive: meta_data.json. Exclusive with instanceId/hostname. */
  readonly metaData?: SeedDocument | undefined;
  /** NoCloud: network-config v1/v2 YAML; config drive: network_data.json. */
  readonly networkConfig?: SeedDocument | undefined;
  readonly instanceId?: string | undefined;
  readonly hostname?: string | undefined;
}

export interface SeedFiles {
  readonly files: IsoFileInput[];
  readonly instanceId: string;
}

function usage(message: string, cause?: unknown): VmctxError {
  return new VmctxError('ERR_USAGE', message, cause === undefined ? {} : { cause });
}

function yamlMapping(doc: SeedDocument, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(doc.data.toString('utf8'), { maxAliasCount: 100 });
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    throw usage(`${what} ${doc.from}: not YAML (${first})`, error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usage(`${what} ${doc.from}: expected a YAML mapping`);
  return parsed as Record<string, unknown>;
}

function jsonObject(doc: SeedDocument, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc.data.toString('utf8'));
  } catch (error) {
    throw usage(`${what} ${doc.from}: not JSON (${error instanceof Error ? error.message : String(error)})`, error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usage(`${what} ${doc.from}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

function checkIdentity(input: SeedInput): void {
  if (input.metaData !== undefined && (input.instanceId !== undefined || input.hostname !== undefined)) {
    throw usage(`--meta-data ${input.metaData.from} and --instance-id/--hostname: give the meta-data file or the values to generate it from, not both`);
  }
  if (input.instanceId !== undefined && !INSTANCE_ID.test(input.instanceId)) throw usage(`--instance-id ${JSON.stringify(input.instanceId.slice(0, 40))}: letters, digits, ".", "_", ":", "-" (at most 128)`);
  if (input.hostname !== undefined && !HOSTNAME.test(input.hostname)) throw usage(`--hostname ${JSON.stringify(input.hostname.slice(0, 64))}: not a host name`);
}

function file(path: string, data: Buffer | string): IsoFileInput {
  return { path, data: typeof data === 'string' ? Buffer.from(data, 'utf8') : data, mode: 0o644 };
}

/** A NoCloud seed: user-data (empty when none: NoCloud needs the file), meta-data, network-config. */
export function noCloudFiles(input: SeedInput): SeedFiles {
  checkIdentity(input);
  let metaData: Buffer;
  let instanceId: string;
  if (input.metaData !== undefined) {
    const meta = yamlMapping(input.metaData, '--meta-data');
    const id = meta['instance-id'];
    if (typeof id !== 'string' || !INSTANCE_ID.test(id)) throw usage(`--meta-data ${input.metaData.from}: needs an instance-id (letters, digits, ".", "_", ":", "-")`);
    instanceId = id;
    metaData = input.metaData.data;
  } else {
    instanceId = input.instanceId ?? DEFAULT_NOCLOUD_INSTANCE_ID;
    // both values are checked against plain patterns above: no YAML quoting is needed
    metaData = Buffer.from(`instance-id: ${instanceId}\n${input.hostname === undefined ? '' : `local-hostname: ${input.hostname}\n`}`);
  }
  const files = [file('meta-data', metaData), file('user-data', input.userData?.data ?? Buffer.alloc(0))];
  if (input.networkConfig !== undefined) {
    const net = yamlMapping(input.networkConfig, '--network-config');
    const root = typeof net['network'] === 'object' && net['network'] !== null ? (net['network'] as Record<string, unknown>) : net;
    if (root['version'] !== 1 && root['version'] !== 2) throw usage(`--network-config ${input.networkConfig.from}: a NoCloud seed takes network config version 1 or 2 (YAML)`);
    files.push(file('network-config', input.networkConfig.data));
  }
  return { files, instanceId };
}

/** An OpenStack config drive (version 2 layout), with the EC2-style copy nova adds. */
export function configDriveFiles(input: SeedInput): SeedFiles {
  checkIdentity(input);
  let meta: Record<string, unknown>;
  if (input.metaData !== undefined) {
    meta = jsonObject(input.metaData, '--meta-data');
    if (typeof meta['uuid'] !== 'string' || !INSTANCE_ID.test(meta['uuid'])) throw usage(`--meta-data ${input.metaData.from}: needs a "uuid" (the instance id)`);
  } else {
    const name = input.hostname;
    meta = { uuid: input.instanceId ?? randomUUID(), ...(name === undefined ? {} : { hostname: name, name }) };
  }
  const instanceId = meta['uuid'] as string;
  const network = input.networkConfig === undefined ? undefined : jsonObject(input.networkConfig, '--network-config');
  if (network !== undefined && !Array.isArray(network['links']) && !Array.isArray(network['networks'])) {
    throw usage(`--network-config ${input.networkConfig?.from ?? ''}: a config drive takes OpenStack network_data.json (links, networks, services)`);
  }
  const metaJson = input.metaData?.data ?? Buffer.from(JSON.stringify(meta));
  const files: IsoFileInput[] = [];
  for (const version of CONFIG_DRIVE_VERSIONS) {
    files.push(file(`openstack/${version}/meta_data.json`, metaJson));
    if (input.userData !== undefined) files.push(file(`openstack/${version}/user_data`, input.userData.data));
  }
  // network_data.json exists from the 2015-10-15 metadata version on: only "latest" has it here
  if (input.networkConfig !== undefined) files.push(file('openstack/latest/network_data.json', input.networkConfig.data));
  const hostname = typeof meta['hostname'] === 'string' ? meta['hostname'] : undefined;
  const ec2 = { 'instance-id': instanceId, ...(hostname === undefined ? {} : { hostname, 'local-hostname': hostname }) };
  files.push(file('ec2/latest/meta-data.json', JSON.stringify(ec2)));
  if (input.userData !== undefined) files.push(file('ec2/latest/user-data', input.userData.data));
  return { files, instanceId };
}

/** The seed kind a volume label asks for (cidata, config-2, any case), if any. */
export function seedKindForLabel(label: string): SeedKind | undefined {
  const upper = label.toUpperCase();
  if (upper === 'CIDATA') return 'nocloud';
  if (upper === 'CONFIG-2') return 'config-drive';
  return undefined;
}
