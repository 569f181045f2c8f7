// The Context: typed, normalised, immutable view of what the provider asked for. Datasources
// produce raw variables; normaliseContext() turns them into this. Later issues add network,
// users, passwords and scripts as further optional parts.
import { formatNameserver, parseNameserver } from '../../formats/dns.js';
import { sanitiseHostname } from '../../formats/hostname.js';
import { checkAuthorizedKey } from '../../formats/sshkeys.js';
import { nicIndexes } from '../../network/fromcontext.js';
import { formatNote } from '../../network/docreader.js';
import { isBookkeepingNote, isDocumentError, mapNetworkDocument } from '../../network/fromdocument.js';
import { mapOpenNebula } from '../../network/fromopennebula.js';
import type { NetModel } from '../../network/netmodel.js';
import type { NetworkPlan } from '../../network/plan.js';
import { passwordFromContext, userFromContext } from './users.js';
import { accountsFromContext } from './accounts.js';
import { scriptsFromContext, type IncludeFetcher } from './scripts.js';
import { checkVariables } from './checks.js';
import type { Context, ContextWarning, Dns, HostnameSpec, RawContext, SourceKind, SshKeys } from './types.js';
import type { CloudConfig } from '../../formats/cloudconfig.js';

export type { Context, ContextWarning, Dns, EtcHostsMode, HostnameSpec, MediumFile, MediumFiles, RawContext, SourceInfo, SourceKind, SshKeys } from './types.js';


export const SSH_KEY_VARIABLES = ['SSH_PUBLIC_KEY', 'SSH_KEY', 'EC2_PUBLIC_KEY', 'PUBLIC_KEY', 'STRATUSLAB_REMOTE_KEY'] as const;
/** Variables naming key files on the medium (older OpenNebula / StratusLab). */
export const SSH_KEY_FILE_VARIABLES = ['ROOT_PUBKEY', 'USER_PUBKEY'] as const;
const MAX_KEY_FILE = 1024 * 1024;
/** The file the user data came from, per source kind (a context.sh's USER_DATA has none). */
const USER_DATA_FILES: Partial<Record<SourceKind, string>> = { nocloud: 'user-data', 'config-drive': 'openstack/latest/user_data', metadata: 'user-data', 'metadata-cache': 'user-data' };
const SAFE_MEDIUM_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/u;

function words(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/u).filter((w) => w !== '');
}

function normaliseDns(v: Readonly<Record<string, string>>, warnings: ContextWarning[]): Dns {
  const nameservers: string[] = [];
  const search: string[] = [];
  const nics = nicIndexes(v);
  const addServers = (variable: string): void => {
    for (const w of words(v[variable])) {
      const r = parseNameserver(w);
      if (!r.ok) warnings.push({ variable, message: `"${w.slice(0, 64)}" ${r.reason}; skipped` });
      else if (!nameservers.includes(formatNameserver(r.server))) nameservers.push(formatNameserver(r.server));
    }
  };
  const addSearch = (variable: string): void => {
    for (const w of words(v[variable])) {
      const s = sanitiseHostname(w);
      if (s.name === undefined || s.changed || /^[0-9]+$/u.test(s.name.split('.').at(-1) ?? '')) warnings.push({ variable, message: `"${w.slice(0, 64)}" is not a valid search domain; skipped` });
      else if (!search.includes(s.name)) search.push(s.name);
    }
  };
  addServers('DNS');
  for (const i of nics) addServers(`ETH${i}_DNS`);
  addSearch('SEARCH_DOMAIN');
  for (const i of nics) addSearch(`ETH${i}_SEARCH_DOMAIN`);
  return { nameservers, search };
}

/** The resolver settings of a mapped document: the global servers and domains, then each device's (as DNS, then ETHx_DNS). */
function mergeDns(fromVariables: Dns, model: NetModel | undefined): Dns {
  if (model === undefined) return fromVariables;
  const nameservers = [...fromVariables.nameservers];
  const search = [...fromVariables.search];
  const add = (into: string[], values: readonly string[]): void => {
    for (const x of values) if (!into.includes(x)) into.push(x);
  };
  add(nameservers, model.nameservers.addresses);
  for (const d of model.devices) add(nameservers, d.nameservers.addresses);
  add(search, model.nameservers.search);
  for (const d of model.devices) add(search, d.nameservers.search);
  return { nameservers, search };
}

/** The context's network: its document mapped (origin: the document's file), else the OpenNebula variables. */
function networkPlan(raw: RawContext, file: string | undefined): NetworkPlan {
  const doc = raw.networkDocument;
  if (doc !== undefined) {
    const mapped = mapNetworkDocument(doc);
    return { model: mapped.model, notes: mapped.notes, origin: doc.key === undefined ? doc.file : `${doc.file} ${doc.key}` };
  }
  const onNet = mapOpenNebula(raw.variables, file ?? 'context', (name) => raw.lines[name]);
  return { model: onNet.model, notes: onNet.notes, ...(onNet.backend === undefined ? {} : { backend: onNet.backend }), origin: file ?? 'context' };
}

/** What the SET_HOSTNAME variable was made from, for sources that map their metadata onto it. */
const HOSTNAME_ORIGIN: Partial<Record<SourceKind, string>> = {
  nocloud: "the meta-data's local-hostname",
  'config-drive': "meta_data.json's hostname",
  metadata: "the metadata service's local-hostname",
  'metadata-cache': "the metadata service's local-hostname",
};

const firstLabel = (name: string): string => name.split('.')[0] ?? name;

/**
 * The host name, as cloud-init decides it: cloud-config's `fqdn` / `hostname` win over the
 * context's SET_HOSTNAME, then HOSTNAME (which for seeds and metadata services hold their
 * local-hostname), with a warning naming the value set aside. `fqdn` gives the short name by its
 * first label unless `hostname` gives one; a `hostname` with a dot is an fqdn; a short `hostname`
 * takes the context's name as its fqdn when that has a dot (cloud-init's "the FQDN of the cloud").
 * The name set: the fqdn with prefer_fqdn_over_hostname: true, the short name with false; unset,
 * cloud-config names set the short name (cloud-init's default outside the RHEL family) and the
 * context's names are set as given (vmctx's behaviour for OpenNebula). /etc/hosts: vmctx keeps its
 * 127.0.1.1 line unless manage_etc_hosts says otherwise (cloud-init's default is to leave the file
 * alone; one-context and vmctx always kept the line, so a name resolves), and leaves it alone under
 * preserve_hostname unless manage_etc_hosts asks.
 */
/** A warning's place in the user data, when the line is known. */
function userDataLine(line: number | undefined): { file?: string; line?: number } {
  return line === undefined ? {} : { file: 'USER_DATA', line };
}

function normaliseHostname(v: Readonly<Record<string, string>>, cc: CloudConfig | undefined, kind: SourceKind, warnings: ContextWarning[]): HostnameSpec | undefined {
  let fromVariables: { variable: string; name: string } | undefined;
  for (const variable of ['SET_HOSTNAME', 'HOSTNAME']) {
    const raw = v[variable];
    if (raw === undefined || raw.trim() === '') continue;
    const s = sanitiseHostname(raw);
    if (s.name === undefined) {
      warnings.push({ variable, message: 'no usable characters in the hostname; ignored' });
      continue;
    }
    if (s.changed) warnings.push({ variable, message: `hostname sanitised to "${s.name}"` });
    fromVariables = { variable, name: s.name };
    break;
  }
  let named: { name: string; short: string; fqdn: string | undefined; source: string } | undefined;
  const ccFqdn = cc?.fqdn;
  const ccHost = cc?.hostname;
  if (ccFqdn !== undefined || ccHost !== undefined) {
    const source = ccFqdn === undefined ? 'USER_DATA hostname' : 'USER_DATA fqdn';
    let short: string;
    let fqdn: string | undefined;
    if (ccFqdn !== undefined) [short, fqdn] = [ccHost === undefined ? firstLabel(ccFqdn) : firstLabel(ccHost), ccFqdn];
    else if (ccHost?.includes('.') === true) [short, fqdn] = [firstLabel(ccHost), ccHost];
    else [short, fqdn] = [ccHost ?? '', fromVariables?.name.includes('.') === true ? fromVariables.name : undefined];
    named = { name: short, short, fqdn, source };
    if (fromVariables !== undefined && ![short, ccFqdn, ccHost].includes(fromVariables.name)) {
      const origin = fromVariables.variable === 'SET_HOSTNAME' ? HOSTNAME_ORIGIN[kind] : undefined;
      const key = ccFqdn === undefined ? `hostname "${ccHost ?? ''}"` : `fqdn "${ccFqdn}"`;
      const line = ccFqdn === undefined ? cc?.hostnameLine : cc?.fqdnLine;
      warnings.push({ variable: source, message: `cloud-config ${key} is used, not ${fromVariables.variable} "${fromVariables.name}"${origin === undefined ? '' : ` (${origin})`}: the user data's name wins, as in cloud-init`, ...userDataLine(line) });
    }
  } else if (fromVariables !== undefined) {
    const given = fromVariables.name;
    named = { name: given, short: firstLabel(given), fqdn: given.includes('.') ? given : undefined, source: fromVariables.variable };
  }
  const manage = cc?.manageEtcHosts;
  if (named === undefined) {
    if (manage !== undefined && manage !== false) warnings.push({ variable: 'USER_DATA manage_etc_hosts', message: 'the context gives no host name (hostname, fqdn, SET_HOSTNAME); /etc/hosts is left as it is' });
    return undefined;
  }
  const prefer = cc?.preferFqdnOverHostname;
  const name = prefer === true ? (named.fqdn ?? named.short) : prefer === false ? named.short : named.name;
  const preserve = cc?.preserveHostname === true;
  if (preserve) warnings.push({ variable: 'USER_DATA preserve_hostname', message: `true: the image's host name is kept; "${name}" (${named.source}) is not set`, ...userDataLine(cc.preserveHostnameLine) });
  const etcHosts = manage === 'template' ? 'template' : manage === 'localhost' ? 'localhost' : manage === false || preserve ? 'off' : 'localhost';
  return { name, short: named.short, fqdn: named.fqdn, source: named.source, preserve, createFile: cc?.createHostnameFile !== false, etcHosts };
}

/** Keys from the key variables, the key files they name on the medium, and cloud-config's list. */
async function normaliseKeys(raw: RawContext, cloudConfigKeys: readonly string[], warnings: ContextWarning[]): Promise<SshKeys> {
  const keys: string[] = [];
  const sources: string[] = [];
  const add = (text: string, origin: string): void => {
    let used = false;
    for (const [index, line] of text.split(/\r?\n/u).entries()) {
      if (line.trim() === '' || line.trim().startsWith('#')) continue;
      const check = checkAuthorizedKey(line);
      if (!check.ok) {
        warnings.push({ variable: origin, message: `key line ${index + 1} skipped: ${check.reason}` });
        continue;
      }
      used = true;
      if (!keys.includes(check.line)) keys.push(check.line);
    }
    if (used) sources.push(origin);
  };
  for (const variable of SSH_KEY_VARIABLES) {
    const value = raw.variables[variable];
    if (value !== undefined) add(value, variable);
  }
  if (cloudConfigKeys.length > 0) add(cloudConfigKeys.join('\n'), 'USER_DATA ssh_authorized_keys');
  for (const variable of SSH_KEY_FILE_VARIABLES) {
    const name = raw.variables[variable]?.trim();
    if (name === undefined || name === '') continue;
    if (!SAFE_MEDIUM_NAME.test(name)) {
      warnings.push({ variable, message: 'not a plain file name on the medium; ignored' });
      continue;
    }
    const data = await raw.medium.read(name, MAX_KEY_FILE).catch(() => undefined);
    if (data === undefined) warnings.push({ variable, message: `${name} is not on the medium (or over 1 MiB)` });
    else add(data.toString('utf8'), `${variable}:${name}`);
  }
  return { keys, sources };
}

/** Builds the immutable Context from a datasource's raw variables and the instance identity. */
export async function normaliseContext(raw: RawContext, identity: { id: string; source: Context['instanceIdSource'] }, settings: { initScriptsFrequency?: Context['initScriptsFrequency']; include?: IncludeFetcher | undefined } = {}): Promise<Context> {
  const v = raw.variables;
  // the same per-name checks as `vmctx validate`: typos and unsupported settings are warnings
  const file = raw.source.variableFiles.at(-1);
  const checks = checkVariables(v, (name) => (raw.lines[name] === undefined ? {} : { ...(file === undefined ? {} : { file }), line: raw.lines[name] }));
  const warnings: ContextWarning[] = [...raw.warnings, ...checks.warnings];
  const user = userFromContext(v, warnings);
  const username = user.name;
  const password = passwordFromContext(v, warnings);
  const userData = await scriptsFromContext(v, raw.medium, warnings, { include: settings.include });
  const accounts = accountsFromContext(user, password, userData.cloudConfig, warnings);
  // positions in the user data name its file where the source had one
  // (a seed's or the metadata's user-data file; or, for a plain USER_DATA in context.sh, the
  // lines of context.sh the value spans: its first line is on the variable's own line)
  const userDataFile = USER_DATA_FILES[raw.source.kind];
  for (const [i, w] of warnings.entries()) {
    if (w.variable === undefined || w.file !== w.variable || w.line === undefined || !['USER_DATA', 'USERDATA'].includes(w.variable)) continue;
    const start = raw.lines[w.variable];
    const plain = (v[`${w.variable}_ENCODING`] ?? '').toLowerCase() !== 'base64';
    if (userDataFile !== undefined) warnings[i] = { ...w, file: userDataFile };
    else if (start !== undefined && plain && file !== undefined) warnings[i] = { ...w, file, line: start + w.line - 1, col: w.line > 1 ? w.col : undefined };
  }
  const cloudConfig = userData.cloudConfig;
  const net = networkPlan(raw, file);
  // the plan's notes are the context's warnings, with file:line (bookkeeping notes stay in the plan)
  for (const n of net.notes) {
    // DNS and search values of the variables are checked (and reported) with the resolver settings
    if (raw.networkDocument === undefined && /(^|_)(DNS|SEARCH_DOMAIN)$/u.test(n.path)) continue;
    if (!isBookkeepingNote(n)) warnings.push({ message: formatNote(n), network: n, ...(isDocumentError(n) ? { severity: 'error' as const } : {}) });
  }
  const host = normaliseHostname(v, cloudConfig, raw.source.kind, warnings);
  const dns = mergeDns(normaliseDns(v, warnings), raw.networkDocument === undefined ? undefined : net.model);
  const sshKeys = await normaliseKeys(raw, cloudConfig?.sshAuthorizedKeys ?? [], warnings);
  // a value problem names the line of its variable, like the name checks
  for (const [i, w] of warnings.entries()) {
    const line = w.variable === undefined || w.file !== undefined ? undefined : raw.lines[w.variable];
    if (line !== undefined) warnings[i] = { ...w, ...(file === undefined ? {} : { file }), line };
  }
  const context: Context = {
    source: raw.source,
    instanceId: identity.id,
    instanceIdSource: identity.source,
    variables: Object.freeze({ ...v }),
    hostname: host === undefined || host.preserve ? undefined : host.name,
    host,
    dns,
    sshKeys,
    net,
    username,
    user,
    password,
    scripts: userData.scripts,
    cloudConfig,
    accounts,
    warnings,
    unused: checks.unused,
    medium: raw.medium,
    // user data with #include URLs not fetched yet (the local stage) or not fetched at all (a failure that
    // is not a 404/410) is not complete: its modules wait
    missing: userData.includes === 'pending' && !(raw.missing ?? []).includes('user-data') ? [...(raw.missing ?? []), 'user-data'] : raw.missing ?? [],
    initScriptsFrequency: settings.initScriptsFrequency ?? 'per-instance',
    ...(raw.seedFiles === undefined ? {} : { seedFiles: raw.seedFiles }),
    ...(userData.includes === undefined ? {} : { userDataIncludes: userData.includes }),
  };
  return Object.freeze(context);
}

/** One warning as a line: "file:line:col: warning|error: VARIABLE: message" (the parts it has). */
export function formatWarning(w: ContextWarning): string {
  const at = w.file === undefined ? '' : `${w.file}${w.line === undefined ? '' : `:${w.line}${w.col === undefined ? '' : `:${w.col}`}`}: `;
  const variable = w.variable === undefined || w.variable === w.file ? '' : `${w.variable}: `;
  return `${at}${w.severity ?? 'warning'}: ${variable}${w.message}`;
}
