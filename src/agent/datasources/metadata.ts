// Datasource: the HTTP metadata service (EC2/Eucalyptus layout, OpenStack layout when present).
// Requests run in parallel under one budget. What could not be fetched in time is named in
// `missing`, so the modules that need it wait for a later run instead of acting on a half
// context; a last good copy (0600, without the password) lets a reboot during an outage keep its
// identity.
import { systemClock } from '../../host/clock.js';
import type { Root } from '../../host/root.js';
import { VmctxError, describeError, isVmctxError } from '../../shared/errors.js';
import type { ContextWarning, MediumFiles, RawContext } from '../context/context.js';
import { BudgetExhausted, MetadataHttp, type HttpBudget } from '../../host/metadatahttp.js';
import { EC2_NIC_FILE, EC2_READ_KEYS } from '../../network/fromec2.js';
import type { NetworkDocument } from '../../network/plan.js';
import { NETWORK_DATA_FILE, mapEc2, mapOpenStack, type KeyEntry, type MappedMetadata } from './mapping.js';

/** The EC2-style service's addresses: IP literals, never names to resolve. */
export const DEFAULT_METADATA_URLS = ['http://169.254.169.254', 'http://[fd00:ec2::254]'] as const;
export const MAX_USER_DATA = 16 * 1024 * 1024;
const MAX_SMALL = 64 * 1024;
const MAX_JSON = 4 * 1024 * 1024;
const MAX_KEYS = 100;
/** NICs read from the EC2 NIC tree (a listing line past this is named, not fetched). */
const MAX_NICS = 32;
const MAC_SEGMENT = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/u;
export const CACHE_FILE = 'metadata-cache.json';

/** Inputs a module can miss when the budget ran out (each Module's `needs` says which it waits for). */
export type MetadataItem = 'hostname' | 'public-keys' | 'user-data' | 'password' | 'network';

export const EMPTY_MEDIUM: MediumFiles = { names: [], read: () => Promise.resolve(undefined) };

export interface FetchedMetadata {
  readonly raw: RawContext;
  readonly missing: readonly MetadataItem[];
  /** Request-level notes (retries, mode), for the report. */
  readonly trace: readonly string[];
}

export interface MetadataOptions extends HttpBudget {
  /** One URL, or several tried in turn until one answers. */
  readonly url: string | readonly string[];
  readonly allowImdsv1: boolean;
  /** Told once, before the first request, where and how long it waits (the CLI's waiting line on a terminal). */
  readonly onWaiting?: ((url: string, budgetMs: number) => void) | undefined;
}

function text(b: Buffer | undefined): string | undefined {
  return b?.toString('utf8');
}

/** A JSON document from a source; not JSON is a warning naming it, never an error. */
export function parseJson(b: Buffer | undefined, what: string, warnings: ContextWarning[]): unknown {
  if (b === undefined) return undefined;
  try {
    return JSON.parse(b.toString('utf8')) as unknown;
  } catch (error) {
    warnings.push({ variable: what, message: `is not JSON (${describeError(error).message.slice(0, 80)}); ignored` });
    return undefined;
  }
}

/** Runs optional fetches; an item that fails is recorded as missing (and why), the rest go on. */
export class Collector {
  readonly missing = new Set<MetadataItem>();
  readonly warnings: ContextWarning[] = [];
  budgetRanOut = false;

  async optional<T>(item: MetadataItem, what: string, fetch: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fetch();
    } catch (error) {
      if (error instanceof BudgetExhausted) {
        this.budgetRanOut = true;
        this.missing.add(item);
      } else if (isVmctxError(error, 'ERR_METADATA_UNREACHABLE') || isVmctxError(error, 'ERR_METADATA_HTTP')) {
        this.missing.add(item);
      }
      this.warnings.push({ variable: what, message: describeError(error).message });
      return undefined;
    }
  }
}

async function fetchEc2(http: MetadataHttp, instanceId: string, c: Collector): Promise<MappedMetadata> {
  const md = 'latest/meta-data';
  const small = (p: string): Promise<string | undefined> => http.get(`${md}/${p}`, MAX_SMALL).then(text);
  const keysPromise = c.optional('public-keys', 'meta-data/public-keys', async () => {
    const listing = await small('public-keys/');
    if (listing === undefined) return [];
    const indices = listing
      .split('\n')
      .map((l) => /^(\d{1,4})=/u.exec(l.trim())?.[1])
      .filter((i): i is string => i !== undefined)
      .slice(0, MAX_KEYS);
    const perKey = await Promise.all(
      indices.map(async (i) => {
        const formats = ((await small(`public-keys/${i}/`)) ?? '').split('\n').map((f) => f.trim()).filter((f) => /^[a-z0-9-]{1,64}$/u.test(f));
        const bodies = await Promise.all((formats.length > 0 ? formats : ['openssh-key']).map(async (f) => ({ name: `meta-data/public-keys/${i}/${f}`, data: await small(`public-keys/${i}/${f}`) })));
        return bodies.filter((b): b is KeyEntry => b.data !== undefined);
      }),
    );
    return perKey.flat();
  });
  // small items first (queued on one connection), the user data, the biggest and slowest, last:
  // a slow or hung user data never starves the rest
  const [hostname, localIpv4, publicIpv4, az, ephemeral, keys, password, network] = await Promise.all([
    c.optional('hostname', 'meta-data/local-hostname', async () => (await small('local-hostname')) ?? (await small('hostname'))),
    c.optional('network', 'meta-data/local-ipv4', () => small('local-ipv4')),
    c.optional('network', 'meta-data/public-ipv4', () => small('public-ipv4')),
    c.optional('network', 'meta-data/placement/availability-zone', () => small('placement/availability-zone')),
    c.optional('network', 'meta-data/block-device-mapping/ephemeral0', () => small('block-device-mapping/ephemeral0')),
    keysPromise,
    c.optional('password', 'meta-data/password', () => small('password')),
    fetchEc2Nics(small, c),
  ]);
  const userData = await c.optional('user-data', 'user-data', () => http.get('latest/user-data', MAX_USER_DATA));
  return { ...mapEc2({ instanceId, hostname, localIpv4, publicIpv4, availabilityZone: az, ephemeral, keys: keys ?? [], userData, password }), networkDocument: network };
}

/**
 * The NIC tree (meta-data/network/interfaces/macs/MAC/…) as fromec2.ts reads it: every NIC's keys
 * listed, the ones that are network config fetched (all in parallel), the others carried by name
 * so the mapper names them. A NIC that cannot be fetched is left out and `network` is missing.
 * No tree (an older or non-AWS service): no document.
 */
async function fetchEc2Nics(small: (p: string) => Promise<string | undefined>, c: Collector): Promise<NetworkDocument | undefined> {
  const base = 'network/interfaces/macs';
  const listing = await c.optional('network', `meta-data/${base}/`, () => small(`${base}/`));
  if (listing === undefined) return undefined;
  const entries = listing.split('\n').map((l) => l.trim().replace(/\/$/u, '')).filter((l) => l !== '');
  const macs: Record<string, Record<string, string>> = {};
  const fetched = await Promise.all(
    entries.slice(0, MAX_NICS).map(async (mac) => {
      // a line that is not a MAC is not put in a URL: the mapper names it
      if (!MAC_SEGMENT.test(mac)) return [mac, {}] as const;
      const nic = await c.optional('network', `meta-data/${base}/${mac}/`, async () => {
        const keys = ((await small(`${base}/${mac}/`)) ?? '').split('\n').map((k) => k.trim().replace(/\/$/u, '')).filter((k) => k !== '');
        const values = await Promise.all(keys.map(async (k) => [k, EC2_READ_KEYS.includes(k) ? ((await small(`${base}/${mac}/${k}`)) ?? '') : ''] as const));
        return Object.fromEntries(values);
      });
      return [mac, nic] as const;
    }),
  );
  for (const [mac, nic] of fetched) if (nic !== undefined) macs[mac] = nic;
  for (const mac of entries.slice(MAX_NICS)) c.warnings.push({ variable: `meta-data/${base}/`, message: `more than ${MAX_NICS} NICs: ${JSON.stringify(mac.slice(0, 40))} is not read` });
  return { format: 'ec2', file: EC2_NIC_FILE, text: JSON.stringify({ interfaces: { macs } }) };
}

async function fetchOpenStack(http: MetadataHttp, metaJson: Buffer, c: Collector): Promise<MappedMetadata> {
  const os = 'openstack/latest';
  const meta = parseJson(metaJson, 'meta_data.json', c.warnings);
  // the service's files (openstack/content/…) are not fetched: only a config drive's are written
  if (typeof meta === 'object' && meta !== null && Array.isArray((meta as Record<string, unknown>)['files']) && ((meta as Record<string, unknown>)['files'] as unknown[]).length > 0) {
    c.warnings.push({ variable: 'meta_data.json files', message: 'files from the metadata service are not supported by vmctx (only a config drive\'s are written); not written' });
  }
  const [network, password] = await Promise.all([
    c.optional('network', 'network_data.json', () => http.get(`${os}/network_data.json`, MAX_JSON)),
    c.optional('password', 'openstack password', () => http.get(`${os}/password`, MAX_SMALL)),
  ]);
  const userData = await c.optional('user-data', 'openstack user_data', () => http.get(`${os}/user_data`, MAX_USER_DATA));
  const networkDocument: NetworkDocument | undefined = network === undefined ? undefined : { format: 'network_data.json', file: NETWORK_DATA_FILE, text: network.toString('utf8') };
  return { ...mapOpenStack(meta, userData, text(password)), networkDocument };
}

/**
 * Fetches the metadata. Throws when the service gives no instance id in the budget
 * (ERR_METADATA_TIMEOUT), refuses access (ERR_METADATA_DISABLED) or answers nonsense.
 */
export async function fetchMetadata(options: MetadataOptions): Promise<FetchedMetadata> {
  const trace: string[] = [];
  const urls = typeof options.url === 'string' ? [options.url] : options.url;
  const clock = options.clock ?? systemClock;
  const http = new MetadataHttp({ baseUrls: urls, deadline: options.deadline, clock, connectMs: options.connectMs, requestMs: options.requestMs, allowImdsv1: options.allowImdsv1, trace: (l) => trace.push(l) });
  const c = new Collector();
  options.onWaiting?.(urls.join(' or '), Math.max(0, options.deadline - clock.now()));
  try {
    // the EC2 instance id and the OpenStack document are asked for together
    const [instanceIdBody, osMeta] = await Promise.all([
      http.get('latest/meta-data/instance-id', MAX_SMALL),
      http.get('openstack/latest/meta_data.json', MAX_JSON).catch((error: unknown) => {
        if (error instanceof BudgetExhausted) throw error;
        trace.push(`openstack/latest/meta_data.json: ${describeError(error).message}`);
        return undefined;
      }),
    ]);
    const mapped = osMeta !== undefined ? await fetchOpenStack(http, osMeta, c) : await fetchEc2(http, text(instanceIdBody)?.trim() ?? '', c);
    const warnings = [...mapped.warnings, ...c.warnings];
    let instanceId = mapped.instanceId;
    if (instanceId === undefined && osMeta !== undefined) instanceId = mapEc2({ instanceId: text(instanceIdBody)?.trim(), keys: [] }).instanceId;
    if (instanceId === undefined) throw new VmctxError('ERR_METADATA_INVALID', `metadata at ${http.baseUrl}: no usable instance id${warnings.length > 0 ? ` (${warnings.map((w) => `${w.variable ?? ''} ${w.message}`).join('; ')})` : ''}`);
    trace.push(`mode ${http.mode}, layout ${osMeta !== undefined ? 'openstack' : 'ec2'}`);
    const raw: RawContext = {
      source: { kind: 'metadata', path: http.baseUrl, foundBy: `HTTP metadata (${osMeta !== undefined ? 'OpenStack' : 'EC2'} layout, ${http.mode === 'v2' ? 'IMDSv2' : 'IMDSv1'})`, variableFiles: [] },
      variables: mapped.variables,
      lines: {},
      warnings,
      medium: EMPTY_MEDIUM,
      instanceId,
      missing: [...c.missing],
      networkDocument: mapped.networkDocument,
    };
    return { raw, missing: [...c.missing], trace };
  } finally {
    http.close();
  }
}

/** The last good metadata: variables without the password, the network document, and which boot fetched them. */
export interface MetadataCache {
  readonly version: 1;
  readonly fetchedAt: string;
  readonly bootId: string;
  readonly url: string;
  /** What the copy is keyed on when the shown url is not enough (nocloud-net: sha256 of the full seed URL). */
  readonly key?: string | undefined;
  readonly foundBy: string;
  readonly instanceId: string;
  readonly variables: Record<string, string>;
  /** The source's network document (network_data.json, the EC2 NIC tree), as fetched. */
  readonly networkDocument?: NetworkDocument | undefined;
}

const DOCUMENT_FORMATS: ReadonlyArray<NetworkDocument['format']> = ['network-config', 'eni', 'network_data.json', 'ec2'];

/** A cached network document as it was written, or undefined when it is not one. */
function cachedDocument(value: unknown): NetworkDocument | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d['format'] !== 'string' || !(DOCUMENT_FORMATS as readonly string[]).includes(d['format']) || typeof d['file'] !== 'string' || typeof d['text'] !== 'string') return undefined;
  if (d['key'] !== undefined && typeof d['key'] !== 'string') return undefined;
  return { format: d['format'] as NetworkDocument['format'], file: d['file'], text: d['text'], ...(typeof d['key'] === 'string' ? { key: d['key'] } : {}) };
}

/** The last good copy in the state dir (`file`: the metadata service's, or another HTTP source's own). */
export async function readCache(stateRoot: Root, stateDir: string, file = CACHE_FILE): Promise<MetadataCache | undefined> {
  const textValue = await stateRoot.readText(`${stateDir}/${file}`, { maxBytes: MAX_USER_DATA * 2 }).catch(() => undefined);
  if (textValue === undefined) return undefined;
  try {
    const c = JSON.parse(textValue) as MetadataCache;
    const parsed = c as Partial<MetadataCache>;
    if (parsed.version !== 1 || typeof parsed.instanceId !== 'string' || typeof parsed.variables !== 'object') return undefined;
    return c;
  } catch {
    return undefined;
  }
}

export async function writeCache(stateRoot: Root, stateDir: string, raw: RawContext, bootId: string, file = CACHE_FILE, key?: string): Promise<void> {
  // the password never leaves memory: /etc/shadow is the only place it may land
  const variables = Object.fromEntries(Object.entries(raw.variables).filter(([k]) => k !== 'PASSWORD'));
  const cache: MetadataCache = { version: 1, fetchedAt: new Date().toISOString(), bootId, url: raw.source.path, foundBy: raw.source.foundBy, instanceId: raw.instanceId ?? '', variables, ...(key === undefined ? {} : { key }), ...(raw.networkDocument === undefined ? {} : { networkDocument: raw.networkDocument }) };
  if (stateDir !== '') await stateRoot.ensureDir(stateDir, { mode: 0o700 });
  await stateRoot.writeFile(`${stateDir}/${file}`, `${JSON.stringify(cache)}\n`, { mode: 0o600 });
}

export function rawFromCache(cache: MetadataCache, why: string): RawContext {
  const networkDocument = cachedDocument(cache.networkDocument);
  const warnings: ContextWarning[] = cache.networkDocument !== undefined && networkDocument === undefined ? [{ variable: CACHE_FILE, message: 'its network document is not one vmctx wrote (format, file, text); not applied' }] : [];
  return {
    source: { kind: 'metadata-cache', path: cache.url, foundBy: `cached metadata from ${cache.fetchedAt} (${why})`, variableFiles: [] },
    variables: cache.variables,
    lines: {},
    warnings,
    medium: EMPTY_MEDIUM,
    instanceId: cache.instanceId,
    networkDocument,
  };
}
