// Datasource: a NoCloud seed named by a line, as cloud-init's NoCloud reads it: `ds=nocloud;s=URL`
// (also `ds=nocloud-net`, `seedfrom=`, and the `h=` local-hostname and `i=` instance-id overrides,
// `;` separated) in the SMBIOS system serial (/sys/class/dmi/id/product_serial) or on the kernel
// command line (/proc/cmdline). Where both say something the SMBIOS serial's key wins (cloud-init
// reads it first and keeps the first value of a key); the line's h= and i= win over the seed's
// meta-data. A file:// (or /path) seed is read at once through the root (a NoCloud directory: no
// link followed); an http(s):// seed is fetched only in the network stage, with the metadata
// service's rules: one budget, no redirects, size limits, the last good copy kept (0600) and used
// when the server does not answer, the context then degraded. A seed URL's user:password is a
// secret: never shown (***), never cached.
import { createHash } from 'node:crypto';
import { systemClock } from '../../host/clock.js';
import { readKernelFile } from '../../host/sysfile.js';
import { BudgetExhausted, MetadataHttp } from '../../host/metadatahttp.js';
import { normaliseGuestPath } from '../../formats/guestpath.js';
import { VmctxError, describeError, isVmctxError } from '../../shared/errors.js';
import type { ContextWarning, RawContext } from '../context/context.js';
import type { Datasource, DatasourceRequest, FoundContext, Probe, SourceAttempt } from './datasource.js';
import { checkInstanceId } from './mapping.js';
import { MediumBudget } from './medium.js';
import { MAX_USER_DATA, rawFromCache, readCache, writeCache, type MetadataItem } from './metadata.js';
import { metadataBudgetMs } from './metadatasource.js';
import { readNoCloud, type SeedReader } from './seeds.js';

/** The DATASOURCES name of this source. */
export const NOCLOUD_NET = 'nocloud-net';
/** Its last good copy, beside the metadata service's (state dir, 0600). */
export const SEED_CACHE_FILE = 'nocloud-net-cache.json';
/** The bytes read of the serial and of the command line (the kernel's own limit is 2 KiB to 64 KiB). */
export const MAX_LINE_BYTES = 64 * 1024;
/** Notes said about one line; past that, how many more (a hostile line must not flood the report). */
export const MAX_LINE_NOTES = 20;
/** One value of the line (a URL, a hostname): longer is refused. */
export const MAX_LINE_VALUE = 2048;
const MAX_DOC = 4 * 1024 * 1024;
const SEED_FILES = ['meta-data', 'user-data', 'network-config', 'vendor-data'] as const;
type SeedFile = (typeof SEED_FILES)[number];

export type LineOrigin = 'smbios' | 'cmdline';
const ORIGIN_TEXT: Record<LineOrigin, string> = { smbios: 'the SMBIOS serial', cmdline: 'the kernel command line' };
/** cloud-init's short keys. */
const SHORT_KEYS: Readonly<Record<string, string>> = { s: 'seedfrom', h: 'local-hostname', i: 'instance-id' };
const USED_KEYS = new Set(['seedfrom', 'local-hostname', 'instance-id']);

/** What one line (a serial, a command line) says: whether it names NoCloud, its keys, and what was wrong. */
export interface LineConfig {
  /** `ds=nocloud` or `ds=nocloud-net` is there. */
  readonly found: boolean;
  /** Long keys (seedfrom, local-hostname, instance-id, others as given) to their values. */
  readonly values: Readonly<Record<string, string>>;
  /** What was not used, and why (for the report). */
  readonly notes: readonly string[];
}

/** Shown instead of a value: printable, short, with any user:password@ hidden (hidden first, then shortened). */
export function shown(value: string, max = 80): string {
  return JSON.stringify(shorten(redactUserinfo(value), max));
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * `scheme://user:password@host` → `scheme://***@host` (the userinfo is a secret; up to the last `@`
 * of the authority, as a URL parser reads it). An authority with no `@` whose `:` is not followed by
 * a port (digits) may be a user:password whose `@` is missing: all of it is hidden (`scheme://***`).
 */
export function redactUserinfo(text: string): string {
  return text
    .replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#\\\s]*@/gu, '$1***@')
    .replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#\\\s@[]*:[^/?#\\\s@]*)(?=[/?#\\\s]|$)/gu, (all, scheme: string, authority: string) => (/^[^:]*:\d*$/u.test(authority) ? all : `${scheme}***`));
}

/**
 * Parses one line the way cloud-init does: the whitespace-separated token `ds=nocloud` or
 * `ds=nocloud-net` (the last one when there are several), then its `;`-separated `key=value`
 * pairs, `s`/`h`/`i` standing for seedfrom/local-hostname/instance-id. A token in double quotes
 * (a kernel parameter quoted for GRUB) counts as it. Values with control characters or over
 * MAX_LINE_VALUE are refused; keys vmctx does not use are named.
 */
export function parseLineConfig(text: string): LineConfig {
  const notes: string[] = [];
  const tokens = text.split(/\s+/u).map((t) => (t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t)).filter((t) => t !== '');
  const ours = tokens.filter((t) => /^ds=nocloud(-net)?(;|$)/u.test(t));
  if (ours.length === 0) {
    const other = tokens.find((t) => t.startsWith('ds='));
    if (other !== undefined) notes.push(`${shown(other.split(';')[0] ?? other, 40)} names another datasource than nocloud; nothing for this source`);
    return { found: false, values: {}, notes };
  }
  if (ours.length > 1) notes.push(`ds=nocloud is given ${ours.length} times; the last one is used, as in cloud-init`);
  const token = ours[ours.length - 1] ?? '';
  const values: Record<string, string> = {};
  for (const item of token.split(';').slice(1)) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const short = eq < 0 ? item : item.slice(0, eq);
    const key = SHORT_KEYS[short] ?? short;
    if (eq < 0) {
      notes.push(`${shown(short, 40)} has no value (KEY=VALUE); ignored`);
      continue;
    }
    const value = item.slice(eq + 1);
    if (!/^[A-Za-z0-9_.-]{1,64}$/u.test(key)) {
      notes.push(`${shown(short, 40)} is not a key; ignored`);
      continue;
    }
    if (value.length > MAX_LINE_VALUE) {
      notes.push(`${key}: ${value.length} characters, over the limit of ${MAX_LINE_VALUE}; ignored`);
      continue;
    }
    // (the kernel and QEMU pass bytes: anything not printable ASCII is not a URL, name or id)
    if (!/^[\x21-\x7e]*$/u.test(value)) {
      notes.push(`${key}: ${shown(value, 40)} holds control, space or non-ASCII characters; ignored`);
      continue;
    }
    if (!USED_KEYS.has(key)) {
      notes.push(`${key}=${shown(value, 40)} is not used by vmctx (it uses s/seedfrom, h/local-hostname, i/instance-id); ignored`);
      continue;
    }
    if (values[key] !== undefined && values[key] !== value) notes.push(`${key} is given twice; the last one is used, as in cloud-init`);
    values[key] = value;
  }
  return { found: true, values, notes: capNotes(notes) };
}

function capNotes(notes: string[]): string[] {
  if (notes.length <= MAX_LINE_NOTES) return notes;
  return [...notes.slice(0, MAX_LINE_NOTES), `and ${notes.length - MAX_LINE_NOTES} more notes about this line, not listed`];
}

/** A key of the merged line, with where it came from. */
export interface LineValue {
  readonly value: string;
  readonly origin: LineOrigin;
}

/**
 * The SMBIOS serial's and the command line's keys together: cloud-init reads the serial first and
 * keeps the first value of a key, so the serial's wins; the command line's other keys still apply.
 */
export function mergeLines(smbios: LineConfig | undefined, cmdline: LineConfig | undefined): { values: Map<string, LineValue>; notes: string[] } {
  const values = new Map<string, LineValue>();
  const notes: string[] = [];
  for (const [origin, line] of [['smbios', smbios], ['cmdline', cmdline]] as const) {
    if (line?.found !== true) continue;
    for (const [key, value] of Object.entries(line.values)) {
      const earlier = values.get(key);
      if (earlier === undefined) values.set(key, { value, origin });
      else if (earlier.value !== value) notes.push(`${key} ${shown(value)} in ${ORIGIN_TEXT[origin]} is not used: ${ORIGIN_TEXT[earlier.origin]}'s ${shown(earlier.value)} wins, as in cloud-init`);
    }
  }
  return { values, notes };
}

/** Where the seed is: files under a directory of the root, an http(s) server, or refused (why). */
export type SeedLocation =
  | { readonly kind: 'file'; readonly display: string; readonly dir: string }
  | { readonly kind: 'http'; readonly display: string; readonly base: string; readonly paths: Readonly<Record<SeedFile, string>>; readonly secrets: readonly string[]; /** sha256 of the full URL: what the cached copy is keyed on (the password never stored). */ readonly key: string }
  | { readonly kind: 'refused'; readonly display: string; readonly why: string };

/** DMI names a seed URL may use as `__dmi.NAME__` (cloud-init's list) and their sysfs files. */
export const DMI_VARIABLES: Readonly<Record<string, string>> = {
  'baseboard-asset-tag': 'board_asset_tag', 'baseboard-manufacturer': 'board_vendor', 'baseboard-product-name': 'board_name',
  'baseboard-serial-number': 'board_serial', 'baseboard-version': 'board_version', 'bios-release-date': 'bios_date',
  'bios-vendor': 'bios_vendor', 'bios-version': 'bios_version', 'chassis-asset-tag': 'chassis_asset_tag',
  'chassis-manufacturer': 'chassis_vendor', 'chassis-serial-number': 'chassis_serial', 'chassis-version': 'chassis_version',
  'system-manufacturer': 'sys_vendor', 'system-product-name': 'product_name', 'system-serial-number': 'product_serial',
  'system-uuid': 'product_uuid', 'system-version': 'product_version',
};

/**
 * The seed's four URLs as cloud-init's read_seeded makes them: `%s` in the URL stands for the file
 * name; else a `/` is added when the URL has neither one at its end nor a query, and the name is
 * appended. Each is split into the origin (with any user:password, for the request only) and the
 * path the HTTP client asks for.
 */
export function classifySeed(seedfrom: string): SeedLocation {
  const display = shorten(redactUserinfo(seedfrom), 200);
  // (a URL parser resolves "..": it is refused as written, %-escaped or not)
  if (/(^|\/)(\.|%2e){2}(\/|$|\?)/iu.test(seedfrom.replace(/^[a-z]+:\/\/[^/]*/iu, ''))) return { kind: 'refused', display, why: 'the path must not contain ".."' };
  if (seedfrom.startsWith('/')) return fileSeed(seedfrom, display);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/u.exec(seedfrom)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'refused', display, why: 'is neither a URL (http, https, file) nor an absolute path' };
  if (scheme === 'ftp' || scheme === 'ftps') return { kind: 'refused', display, why: `${scheme} seeds are not supported by vmctx (http, https and file only)` };
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'file') return { kind: 'refused', display, why: `a ${scheme}: URL is not a seed (http, https and file only)` };
  let url: URL;
  try {
    url = new URL(seedfrom.replace(/%s/gu, 'meta-data'));
  } catch {
    return { kind: 'refused', display, why: 'is not a URL' };
  }
  if (url.hash !== '' || seedfrom.includes('#')) return { kind: 'refused', display, why: 'has a #fragment, which the file names would be appended to; not a seed URL' };
  if (scheme === 'file') {
    if (url.hostname !== '' && url.hostname !== 'localhost') return { kind: 'refused', display, why: `names the host ${shown(url.hostname, 40)}: a file:// seed is on this machine (file:///path/)` };
    if (url.search !== '') return { kind: 'refused', display, why: 'a file:// seed has no query' };
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return { kind: 'refused', display, why: 'has a bad %-escape' };
    }
    return fileSeed(path, display);
  }
  if (url.hostname === '') return { kind: 'refused', display, why: 'names no host' };
  // only the password is scrubbed from messages: a user name ("user") is too common a word, and the
  // URL pattern already hides user@ wherever the URL itself is shown
  const secrets = [...new Set([url.password, safeDecode(url.password)])].filter((s) => s.length >= 3);
  const paths = {} as Record<SeedFile, string>;
  for (const name of SEED_FILES) {
    let text: string;
    if (seedfrom.includes('%s')) text = seedfrom.replace(/%s/gu, name);
    else text = `${seedfrom}${seedfrom.endsWith('/') || new URL(seedfrom).search !== '' ? '' : '/'}${name}`;
    const u = new URL(text);
    // relative to the origin ("./", so a ":" in the first segment is never read as a scheme)
    paths[name] = `./${u.pathname.replace(/^\/+/u, '')}${u.search}`;
  }
  const userinfo = url.username === '' && url.password === '' ? '' : `${url.username}${url.password === '' ? '' : `:${url.password}`}@`;
  return { kind: 'http', display: scrub(display, secrets), base: `${url.protocol}//${userinfo}${url.host}`, paths, secrets, key: createHash('sha256').update(seedfrom).digest('hex') };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function fileSeed(path: string, display: string): SeedLocation {
  const guest = normaliseGuestPath(path);
  if (!guest.ok) return { kind: 'refused', display, why: `the path ${guest.reason}` };
  if (guest.path === '/') return { kind: 'refused', display, why: 'names the root directory, not a seed directory' };
  return { kind: 'file', display, dir: guest.path };
}

/** The files the lines are read from: the probe's sysDir, and its procDir (by default /proc with the system's /sys only). */
export function linePaths(probe: Pick<Probe, 'sysDir' | 'procDir'>): Record<LineOrigin, string | undefined> {
  const procDir = probe.procDir ?? (probe.sysDir === '/sys' ? '/proc' : undefined);
  return { smbios: `${probe.sysDir}/class/dmi/id/product_serial`, cmdline: procDir === undefined ? undefined : `${procDir}/cmdline` };
}

/** What the lines say, merged, with what was not used (each note with the file it is about). */
export interface LineReading {
  readonly values: ReadonlyMap<string, LineValue>;
  readonly found: boolean;
  /** The files that say ds=nocloud. */
  readonly foundIn: readonly string[];
  readonly attempts: SourceAttempt[];
  readonly paths: Record<LineOrigin, string | undefined>;
}

export async function readLines(probe: Pick<Probe, 'sysDir' | 'procDir'>): Promise<LineReading> {
  const paths = linePaths(probe);
  const attempts: SourceAttempt[] = [];
  const parsed: Partial<Record<LineOrigin, LineConfig>> = {};
  for (const origin of ['smbios', 'cmdline'] as const) {
    const path = paths[origin];
    if (path === undefined) continue;
    let got;
    try {
      got = await readKernelFile(path, MAX_LINE_BYTES);
    } catch (error) {
      attempts.push({ path, result: `could not be read (${describeError(error).message.slice(0, 120)}); a NoCloud seed named there is not seen` });
      continue;
    }
    if (got === undefined) continue;
    if (got.over) {
      attempts.push({ path, result: `over ${MAX_LINE_BYTES} bytes; not read` });
      continue;
    }
    const line = parseLineConfig(got.text);
    parsed[origin] = line;
    for (const note of line.notes) attempts.push({ path, result: note });
  }
  const merged = mergeLines(parsed.smbios, parsed.cmdline);
  const firstPath = (parsed.smbios?.found === true ? paths.smbios : paths.cmdline) ?? '';
  for (const note of merged.notes) attempts.push({ path: firstPath, result: note });
  const foundIn = (['smbios', 'cmdline'] as const).filter((o) => parsed[o]?.found === true).map((o) => paths[o] ?? '');
  return { values: merged.values, found: foundIn.length > 0, foundIn, attempts, paths };
}

/** `__dmi.NAME__` in a seed URL, replaced by the machine's DMI value (cloud-init's list); unknown or empty names are said. */
async function substituteDmi(seedfrom: string, sysDir: string, notes: string[]): Promise<string> {
  let out = seedfrom;
  for (const m of seedfrom.matchAll(/__dmi\.([^_]+)__/gu)) {
    const name = m[1] ?? '';
    const file = DMI_VARIABLES[name];
    if (file === undefined) {
      notes.push(`__dmi.${shown(name, 40).slice(1, -1)}__ is not a DMI name vmctx knows; left as it is`);
      continue;
    }
    const got = await readKernelFile(`${sysDir}/class/dmi/id/${file}`, 256).catch(() => undefined);
    const value = got === undefined || got.over ? '' : got.text;
    if (value === '') notes.push(`__dmi.${name}__: ${sysDir}/class/dmi/id/${file} is absent or empty; replaced by nothing`);
    out = out.replaceAll(`__dmi.${name}__`, encodeURIComponent(value));
  }
  return out;
}

const noClose = (): Promise<void> => Promise.resolve();

/** Hides the seed URL's password in a message (a secret); the URL pattern hides any user:password@. */
function scrub(text: string, secrets: readonly string[]): string {
  let out = redactUserinfo(text);
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

/** The line's h= and i=, over the seed's meta-data (cloud-init: "values in the command line override those from the seed"). */
function applyLine(raw: RawContext, line: ReadonlyMap<string, LineValue>): RawContext {
  const variables = { ...raw.variables };
  const warnings: ContextWarning[] = [...raw.warnings];
  let instanceId = raw.instanceId;
  const host = line.get('local-hostname');
  if (host !== undefined) {
    if (variables['SET_HOSTNAME'] !== undefined && variables['SET_HOSTNAME'] !== host.value) warnings.push({ variable: 'meta-data local-hostname', message: `${shown(variables['SET_HOSTNAME'], 60)} is replaced by h=${shown(host.value, 60)} from ${ORIGIN_TEXT[host.origin]} (the line wins over the seed, as in cloud-init)` });
    variables['SET_HOSTNAME'] = host.value;
  }
  const iid = line.get('instance-id');
  if (iid !== undefined) {
    const checked = checkInstanceId(iid.value, `i= (instance-id) in ${ORIGIN_TEXT[iid.origin]}`, warnings);
    if (checked !== undefined) {
      if (instanceId !== undefined && instanceId !== checked) warnings.push({ variable: 'meta-data instance-id', message: `${shown(instanceId, 60)} is replaced by i=${shown(checked, 60)} from ${ORIGIN_TEXT[iid.origin]} (the line wins over the seed, as in cloud-init)` });
      instanceId = checked;
      variables['EC2_INSTANCE_ID'] = checked;
    }
  }
  return { ...raw, variables, warnings, instanceId };
}

/** A seed directory through the root: meta-data and user-data must be files (a link is not followed). */
async function openFileSeed(dir: string, display: string, foundBy: string, request: DatasourceRequest, attempts: SourceAttempt[]): Promise<RawContext | undefined> {
  const { root } = request;
  const budget = new MediumBudget(request.config.mediumMaxBytes, display);
  const links: string[] = [];
  const read: SeedReader = async (name, limit) => {
    const path = `${dir}/${name}`;
    const entry = await root.lstat(path);
    if (entry?.type === 'symlink') links.push(path);
    if (entry?.type !== 'file') return undefined;
    if (entry.size <= limit) budget.charge(path, entry.size, path);
    return root.readFile(path, { maxBytes: Math.min(limit, Math.max(entry.size, 0)) });
  };
  try {
    // the seed directory itself, and each directory on the way, must not be a link (not followed)
    const parts = dir.split('/').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) {
      const at = `/${parts.slice(0, i).join('/')}`;
      const entry = await root.lstat(at);
      if (entry?.type === 'symlink') {
        attempts.push({ path: display, result: `not used: ${at} is a symbolic link, not followed (a seed directory is read through the root only)` });
        return undefined;
      }
      if (entry === undefined) break;
    }
    const kinds = await Promise.all(['meta-data', 'user-data'].map(async (n) => (await root.lstat(`${dir}/${n}`))?.type));
    if (kinds.some((k) => k !== 'file')) {
      attempts.push({ path: display, result: `not used: a NoCloud seed needs the files meta-data and user-data in ${dir} (${kinds.map((k, i) => `${i === 0 ? 'meta-data' : 'user-data'}: ${k === undefined ? 'absent' : k === 'symlink' ? 'a symbolic link, not followed' : k === 'file' ? 'there' : `a ${k}`}`).join(', ')})` });
      return undefined;
    }
    const raw = await readNoCloud(read, { path: display, foundBy });
    const warnings = [...raw.warnings, ...links.map((p) => ({ variable: p, message: 'is a symbolic link; not followed' }))];
    return { ...raw, warnings };
  } catch (error) {
    // a path that leaves the root or crosses a link: named, the seed not used
    if (isVmctxError(error) && error.code.startsWith('ERR_PATH')) {
      attempts.push({ path: display, result: `not used: ${describeError(error).message.slice(0, 200)}` });
      return undefined;
    }
    throw error;
  }
}

type Fetched = { readonly body: Buffer | undefined } | { readonly error: unknown };

/** An http(s) seed within the metadata budget; the cached copy when the server does not answer. */
async function fetchHttpSeed(location: Extract<SeedLocation, { kind: 'http' }>, foundBy: string, line: ReadonlyMap<string, LineValue>, request: DatasourceRequest, attempts: SourceAttempt[]): Promise<FoundContext | undefined> {
  const { config, display } = { config: request.config, display: location.display };
  const cached = request.cache === undefined ? undefined : await readCache(request.cache.root, request.cache.dir, SEED_CACHE_FILE);
  // keyed on a hash of the full URL (two URLs may look alike once shortened and hidden); the copy is
  // the seed's own meta-data, so the line's h=/i= of this boot are applied over it like over a fetch
  const cache = cached?.key === location.key ? cached : undefined;
  const fromCache = (why: string, by: string): RawContext => {
    const raw = rawFromCache(cache as NonNullable<typeof cache>, why);
    const iid = line.get('instance-id');
    const warnings = [...raw.warnings];
    if (iid !== undefined && cache?.instanceId !== '' && cache?.instanceId !== iid.value) warnings.push({ variable: 'i= (instance-id)', message: `the cached copy's instance id ${shown(cache?.instanceId ?? '', 60)} is not the line's i=${shown(iid.value, 60)}; the line's is used (once-per-instance steps follow it)` });
    return applyLine({ ...raw, warnings, source: { ...raw.source, foundBy: by } }, line);
  };
  if (cache !== undefined && request.stage === 'final' && request.bootId !== undefined && cache.bootId === request.bootId) {
    return { raw: fromCache('fetched earlier in this boot', `${foundBy}, the copy the network stage fetched in this boot`), attempts, close: noClose, name: NOCLOUD_NET };
  }
  const budget = metadataBudgetMs(config, cache, request.metadataBudgetMs);
  const clock = request.clock ?? systemClock;
  const trace: string[] = [];
  const http = new MetadataHttp({ baseUrls: [location.base], deadline: clock.now() + budget, clock, connectMs: config.metadataConnectMs, requestMs: config.metadataRequestMs, allowImdsv1: true, imdsTokens: false, trace: (l) => trace.push(l) });
  const secret = (text: string): string => scrub(text, location.secrets);
  const get = async (name: SeedFile, max: number): Promise<Fetched> => {
    try {
      return { body: await http.get(location.paths[name], max) };
    } catch (error) {
      return { error };
    }
  };
  request.onMetadataWait?.(display, budget);
  try {
    const meta = await get('meta-data', MAX_DOC);
    for (const l of trace.splice(0)) attempts.push({ path: display, result: secret(l) });
    if ('error' in meta) {
      const message = secret(describeError(meta.error).message);
      attempts.push({ path: display, result: `meta-data: ${message}` });
      const timedOut = meta.error instanceof BudgetExhausted || isVmctxError(meta.error, 'ERR_METADATA_TIMEOUT') || isVmctxError(meta.error, 'ERR_METADATA_UNREACHABLE');
      if (timedOut && cache !== undefined) {
        const raw = fromCache(`the NoCloud seed did not answer within ${budget} ms`, `${foundBy}, the copy cached ${cache.fetchedAt}`);
        return { raw, attempts, close: noClose, name: NOCLOUD_NET, degraded: `the NoCloud seed at ${display} did not answer within ${budget} ms; used the copy cached ${cache.fetchedAt}` };
      }
      if (timedOut) throw new VmctxError('ERR_METADATA_TIMEOUT', `the NoCloud seed at ${display} (${foundBy}) did not answer within ${budget} ms (${message})`);
      const code = isVmctxError(meta.error) ? meta.error.code : 'ERR_METADATA_INVALID';
      throw new VmctxError(code, `the NoCloud seed at ${display}: ${message}`);
    }
    if (meta.body === undefined) {
      attempts.push({ path: display, result: 'not used: no meta-data there (HTTP 404); a NoCloud seed has meta-data and user-data' });
      return undefined;
    }
    // the user data, the network config and the vendor data, queued on the one connection
    const [user, network, vendor] = await Promise.all([get('user-data', MAX_USER_DATA), get('network-config', MAX_DOC), get('vendor-data', MAX_USER_DATA)]);
    for (const l of trace.splice(0)) attempts.push({ path: display, result: secret(l) });
    if ('body' in user && user.body === undefined) {
      attempts.push({ path: display, result: 'not used: no user-data there (HTTP 404); a NoCloud seed has meta-data and user-data (an empty file is fine)' });
      return undefined;
    }
    const missing: MetadataItem[] = [];
    const problems: ContextWarning[] = [];
    const take = (name: SeedFile, got: Fetched, item: MetadataItem | undefined): Buffer | undefined => {
      if ('body' in got) return got.body;
      problems.push({ variable: name, message: `${secret(describeError(got.error).message)}${item === undefined ? '; not read' : '; the modules that need it wait for the next run'}` });
      if (item !== undefined) missing.push(item);
      return undefined;
    };
    const bodies: Partial<Record<SeedFile, Buffer>> = { 'meta-data': meta.body };
    const u = take('user-data', user, 'user-data');
    const n = take('network-config', network, 'network');
    const v = take('vendor-data', vendor, undefined);
    if (u !== undefined) bodies['user-data'] = u;
    if (n !== undefined) bodies['network-config'] = n;
    if (v !== undefined) bodies['vendor-data'] = v;
    const read: SeedReader = (name) => Promise.resolve(bodies[name as SeedFile]);
    const seed = await readNoCloud(read, { path: display, foundBy });
    const fetched: RawContext = { ...seed, source: { ...seed.source, kind: 'metadata' }, warnings: [...seed.warnings, ...problems], missing };
    const raw = applyLine(fetched, line);
    if (missing.length === 0 && request.cache?.write === true && request.bootId !== undefined) {
      // a cache that cannot be written costs only the fallback on a later boot: said in the attempts
      // (the seed's own values are kept, without the line's h=/i=, which are applied on every read)
      await writeCache(request.cache.root, request.cache.dir, fetched, request.bootId, SEED_CACHE_FILE, location.key).catch((error: unknown) => { attempts.push({ path: display, result: `its copy could not be kept (${describeError(error).message.slice(0, 120)})` }); });
    }
    const degraded = missing.length === 0 ? undefined : `the NoCloud seed at ${display}: ${missing.join(', ')} did not arrive in the budget (${budget} ms); the modules that need them wait for the next run`;
    return { raw, attempts, close: noClose, name: NOCLOUD_NET, degraded };
  } finally {
    http.close();
  }
}

/** What the lines name, checked: the seed and how it was found, or why there is none (said in the attempts). */
async function lineSeed(probe: Probe, attempts: SourceAttempt[]): Promise<{ location: SeedLocation; foundBy: string; values: ReadonlyMap<string, LineValue>; path: string } | undefined> {
  const reading = await readLines(probe);
  attempts.push(...reading.attempts);
  if (!reading.found) return undefined;
  const seedfrom = reading.values.get('seedfrom');
  if (seedfrom === undefined) {
    const where = reading.foundIn.join(' and ');
    const overrides = [...reading.values.keys()].filter((k) => k !== 'seedfrom');
    attempts.push({ path: where, result: `ds=nocloud without a seed URL (s=): nothing to fetch (a cidata seed disk is the seeds source's)${overrides.length === 0 ? '' : `; ${overrides.join(', ')} not used (vmctx applies them to a seed named by s=)`}` });
    return undefined;
  }
  const path = reading.paths[seedfrom.origin] ?? '';
  const notes: string[] = [];
  const location = classifySeed(await substituteDmi(seedfrom.value, probe.sysDir, notes));
  for (const note of notes) attempts.push({ path, result: note });
  return { location, foundBy: `${NOCLOUD_NET}: ds=nocloud;s=… in ${ORIGIN_TEXT[seedfrom.origin]}`, values: reading.values, path };
}

/** The NoCloud seed a line names: file seeds in every stage, http(s) seeds in the network stage. */
export const noCloudNet: Datasource = {
  id: NOCLOUD_NET,
  names: [NOCLOUD_NET],
  looksFor: ['a NoCloud seed URL (ds=nocloud;s=… in the SMBIOS serial or on the kernel command line)'],
  inStage: () => ({ asked: true }),
  async open(request, attempts) {
    const seed = await lineSeed(request.probe, attempts);
    if (seed === undefined) return undefined;
    const { location, foundBy } = seed;
    if (location.kind === 'refused') {
      attempts.push({ path: seed.path, result: `not used: the seed ${JSON.stringify(location.display)} ${location.why}` });
      return undefined;
    }
    if (location.kind === 'file') {
      const raw = await openFileSeed(location.dir, location.display, foundBy, request, attempts);
      if (raw === undefined) return undefined;
      return { raw: applyLine(raw, seed.values), attempts, close: noClose, name: NOCLOUD_NET };
    }
    if (request.stage === 'local') {
      attempts.push({ path: location.display, result: `waits for the network stage: an http(s) NoCloud seed (${foundBy}) is fetched only there`, waitsForNetwork: true });
      return undefined;
    }
    return fetchHttpSeed(location, foundBy, seed.values, request, attempts);
  },
  async peek(request) {
    const seed = await lineSeed(request.probe, []).catch(() => undefined);
    if (seed === undefined || seed.location.kind === 'refused') return undefined;
    return { path: seed.location.display, what: `the NoCloud seed named by ${seed.foundBy.replace(/^[^:]*: /u, '')}` };
  },
};
