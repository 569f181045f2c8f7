// cloud-config machine settings: mounts (fstab entries), swap (a swap file), locale and NTP
// (added by issue 19), parsed and validated; every unusable value reported at its line. Pure: what
// needs the system (which device a name means, free space, which NTP client is installed) is the
// machine module's.
import { parseByteSize } from '../bytesize.js';
import { type Issues, type Obj, type Path, isObj, quoted, str, truthy } from './common.js';

/** fstab entries taken from `mounts`; the rest are reported. */
export const MAX_MOUNTS = 64;
/** Longest fstab field (a device spec or a mount point) accepted. */
export const MAX_FIELD = 1024;
/** NTP servers, pools, peers and allow entries taken, each. */
export const MAX_NTP_HOSTS = 32;

/** One `mounts` entry, its six fstab fields filled from the defaults. */
export interface CloudMount {
  /** As given: a device path, LABEL=/UUID=…, a host:/share, or a name (sdb, ephemeral0, swap) the module resolves. */
  readonly device: string;
  readonly mountPoint: string;
  readonly type: string;
  /** undefined: the default options (which depend on the system: systemd or not) */
  readonly options: string | undefined;
  readonly freq: string;
  readonly passno: string;
  /** "mounts[2] (line 7)": where the module's warnings point. */
  readonly where: string;
}

export interface CloudMounts {
  readonly entries: readonly CloudMount[];
  /** Devices whose entry a null (or empty) mount point removes: also cloud-init's old fstab lines for them. */
  readonly removed: readonly string[];
}

export interface CloudSwap {
  readonly filename: string;
  /** Bytes, or 'auto' (cloud-init's size from memory and free space). */
  readonly size: number | 'auto';
  readonly maxsize: number | undefined;
  readonly where: string;
}

export interface CloudLocale {
  readonly name: string;
  /** Where LANG= goes; undefined: the system's usual file (/etc/default/locale or /etc/locale.conf). */
  readonly configFile: string | undefined;
  readonly where: string;
}

export const NTP_CLIENTS = ['auto', 'chrony', 'systemd-timesyncd', 'ntp', 'ntpdate', 'openntpd'] as const;
export type NtpClient = (typeof NTP_CLIENTS)[number];

export interface CloudNtp {
  readonly enabled: boolean;
  readonly client: NtpClient;
  readonly servers: readonly string[];
  readonly pools: readonly string[];
  readonly peers: readonly string[];
  readonly allow: readonly string[];
  readonly where: string;
}

/** What this part reads from a cloud-config document. */
export interface CloudMachine {
  readonly mounts?: CloudMounts | undefined;
  readonly swap?: CloudSwap | undefined;
  readonly locale?: CloudLocale | undefined;
  readonly ntp?: CloudNtp | undefined;
}

/** The keys this part applies, at the top level. */
export const MACHINE_KEYS = {
  top: ['mounts', 'mount_default_fields', 'swap', 'locale', 'locale_configfile', 'ntp'],
  swap: ['filename', 'size', 'maxsize'],
  ntp: ['enabled', 'ntp_client', 'servers', 'pools', 'peers', 'allow'],
} as const;
/** ntp keys cloud-init documents that vmctx does not apply (config: its own template and paths for a client). */
const NTP_UNSUPPORTED = ['config'];

/** `mounts`' fields when an entry leaves them out: cloud-init's, with vmctx's unit in place of cloud-init's. */
export const SYSTEMD_MOUNT_OPTIONS = 'defaults,nofail,x-systemd.after=vmctx-local.service,_netdev';
export const PLAIN_MOUNT_OPTIONS = 'defaults,nofail';

/** "ntp.servers[3]": a key's name in messages (the issue itself carries the line). */
const label = (path: Path): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
/** "mounts[2] (line 7)": the name with its line, for the module's warnings (which have no position of their own). */
const at = (issues: Issues, path: Path): string => {
  const { line } = issues.at(path);
  return line === undefined ? label(path) : `${label(path)} (line ${line})`;
};

/** A value that may go into an fstab field: no blanks, no comment sign, no control characters, no backslash escapes. */
const FIELD = /^[^\s#\\\p{Cc}]+$/u;
/** An absolute path in plain components (no ".", "..", or doubled slashes). */
function plainAbsolute(path: string): boolean {
  if (!path.startsWith('/') || path.length > MAX_FIELD) return false;
  if (path === '/') return true;
  return path.slice(1).split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

/** 1024-based sizes as cloud-init reads them: 123, "123", "1.5G", "512M", "64k", "2T", "100B". */
export function humanBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  return typeof value === 'string' ? parseByteSize(value) : undefined;
}

/** A value as a warning shows it: its text, or its kind. */
const shown = (value: unknown): string => str(value) ?? (typeof value === 'boolean' ? String(value) : value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value);

function field(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'string' ? value : undefined;
}

function defaultFields(doc: Obj, issues: Issues): Array<string | undefined> {
  const value = doc['mount_default_fields'];
  const fallback = [undefined, undefined, 'auto', undefined, '0', '2'];
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 6) {
    issues.warn('mount_default_fields: not a list of 6 fields (device, mount point, type, options, dump, pass); cloud-init\'s defaults are used', ['mount_default_fields']);
    return fallback;
  }
  return value.map((v, i) => {
    const f = field(v);
    // cloud-init's documented example writes None (a string in YAML) for "no default"
    if (f === undefined || f === '' || f === 'None') return fallback[i];
    if (!FIELD.test(f) || f.length > MAX_FIELD) {
      issues.warn(`mount_default_fields[${i}]: ${quoted(f)} has blanks, "#", a backslash or control characters; the default is used`, ['mount_default_fields', i]);
      return fallback[i];
    }
    return f;
  });
}

function parseMounts(doc: Obj, issues: Issues): CloudMounts | undefined {
  const value = doc['mounts'];
  if (value === undefined || value === null) {
    if (doc['mount_default_fields'] !== undefined) issues.warn('mount_default_fields: no mounts to fill; unused', ['mount_default_fields']);
    return undefined;
  }
  if (!Array.isArray(value)) {
    issues.warn('mounts: not a list of fstab entries (lists of up to 6 fields); ignored', ['mounts']);
    return undefined;
  }
  const defaults = defaultFields(doc, issues);
  let list: readonly unknown[] = value;
  if (list.length > MAX_MOUNTS) {
    issues.warn(`mounts: ${list.length} entries, over the limit of ${MAX_MOUNTS}; the ${list.length - MAX_MOUNTS} after the first ${MAX_MOUNTS} are ignored`, ['mounts', MAX_MOUNTS]);
    list = list.slice(0, MAX_MOUNTS);
  }
  const entries: CloudMount[] = [];
  const removed: string[] = [];
  list.forEach((item, i) => {
    const path = ['mounts', i];
    const where = at(issues, path);
    if (!Array.isArray(item) || item.length === 0) {
      issues.warn(`${label(path)}: not a list of fstab fields; skipped`, path);
      return;
    }
    if (item.length > 6) {
      issues.warn(`${label(path)}: ${item.length} fields, an fstab entry has 6 (device, mount point, type, options, dump, pass); skipped`, path);
      return;
    }
    const fields = item.map(field);
    const bad = fields.findIndex((f, j) => (f === undefined ? item[j] !== null && item[j] !== undefined : f !== '' && (!FIELD.test(f) || f.length > MAX_FIELD)));
    if (bad >= 0) {
      const f = fields[bad];
      issues.warn(`${label(path)}: field ${bad + 1} ${f === undefined ? 'is not a string' : `${quoted(f)} has blanks, "#", a backslash or control characters, or is too long`}; the entry is skipped`, [...path, bad]);
      return;
    }
    const device = fields[0];
    if (device === undefined || device === '') {
      issues.warn(`${label(path)}: no device (the first field); skipped`, path);
      return;
    }
    const mountPoint = fields[1] === '' ? undefined : (fields[1] ?? defaults[1]);
    if (mountPoint === undefined) {
      // cloud-init: a null mount point drops the device's entries (the defaults' too), earlier ones included
      removed.push(device);
      for (let k = entries.length - 1; k >= 0; k--) if (entries[k]?.device === device) entries.splice(k, 1);
      return;
    }
    const filled = [device, mountPoint, ...[2, 3, 4, 5].map((j) => (fields[j] === undefined || fields[j] === '' ? defaults[j] : fields[j]))];
    const type = filled[2] ?? 'auto';
    const swap = type === 'swap';
    if (!(swap && mountPoint === 'none') && !plainAbsolute(mountPoint)) {
      issues.warn(`${label(path)}: mount point ${quoted(mountPoint)} is not an absolute path in plain components (no ".", ".."); skipped`, [...path, 1]);
      return;
    }
    if (!swap && (mountPoint === '/' || ['/proc', '/sys', '/dev'].some((v) => mountPoint === v || mountPoint.startsWith(`${v}/`)))) {
      issues.warn(`${label(path)}: mounting on ${mountPoint} (the root file system, /proc, /sys or /dev) is refused; skipped`, [...path, 1]);
      return;
    }
    if (!/^\d+$/u.test(filled[4] ?? '0') || !/^\d+$/u.test(filled[5] ?? '0')) {
      issues.warn(`${label(path)}: the dump and pass fields must be numbers; skipped`, path);
      return;
    }
    let options = filled[3];
    if (options !== undefined && !swap && !options.split(',').includes('nofail')) {
      issues.warn(`${label(path)}: options ${quoted(options)} have no "nofail"; added, so that a missing device cannot stop the boot`, [...path, 3]);
      options = `${options},nofail`;
    }
    entries.push({ device, mountPoint, type, options, freq: filled[4] ?? '0', passno: filled[5] ?? '0', where });
  });
  return { entries, removed };
}

function parseSwap(doc: Obj, issues: Issues): CloudSwap | undefined {
  const value = doc['swap'];
  if (value === undefined || value === null) return undefined;
  const where = at(issues, ['swap']);
  if (!isObj(value)) {
    issues.warn(`swap: not a mapping (filename, size, maxsize); ignored`, ['swap']);
    return undefined;
  }
  unknownKeys(value, MACHINE_KEYS.swap, [], 'swap', issues);
  const filename = value['filename'] === undefined || value['filename'] === null ? '/swap.img' : str(value['filename']);
  if (filename === undefined || !plainAbsolute(filename) || filename === '/' || !FIELD.test(filename)) {
    issues.warn(`swap: filename ${quoted(shown(value['filename']))} is not an absolute path in plain components without blanks; no swap file`, ['swap', 'filename']);
    return undefined;
  }
  const rawSize = value['size'];
  if (rawSize === undefined || rawSize === null || rawSize === 0 || rawSize === '0') return undefined; // cloud-init: no size, no swap
  const size = typeof rawSize === 'string' && rawSize.toLowerCase() === 'auto' ? 'auto' : humanBytes(rawSize);
  if (size === undefined || size === 0) {
    issues.warn(`swap: size ${quoted(shown(rawSize))} is not a size (bytes, "512M", "2G" or "auto"); no swap file`, ['swap', 'size']);
    return undefined;
  }
  let maxsize: number | undefined;
  if (value['maxsize'] !== undefined && value['maxsize'] !== null) {
    maxsize = humanBytes(value['maxsize']);
    if (maxsize === undefined) issues.warn(`swap: maxsize ${quoted(shown(value['maxsize']))} is not a size; ignored`, ['swap', 'maxsize']);
    else if (size !== 'auto') issues.warn(`swap: maxsize only bounds size "auto" (as in cloud-init); ignored`, ['swap', 'maxsize']);
  }
  return { filename, size, maxsize, where };
}

/** A locale name: C, POSIX, or language[_territory][.codeset][@modifier]. */
const LOCALE = /^(?:C|POSIX|[A-Za-z]{2,8}(?:_[A-Za-z0-9]{2,8})?)(?:\.[A-Za-z0-9-]{1,32})?(?:@[A-Za-z0-9_-]{1,32})?$/u;

function parseLocale(doc: Obj, issues: Issues): CloudLocale | undefined {
  const value = doc['locale'];
  const file = doc['locale_configfile'];
  let configFile: string | undefined;
  if (file !== undefined && file !== null) {
    const f = str(file);
    if (f === undefined || !plainAbsolute(f) || !f.startsWith('/etc/') || !FIELD.test(f)) {
      issues.warn(`locale_configfile: ${quoted(shown(file))} is not a plain absolute path under /etc; the system's usual file is used`, ['locale_configfile']);
    } else if (!/locale|i18n|language/iu.test(f.slice(f.lastIndexOf('/')))) {
      // LANG= is never written into another file (/etc/shadow, /etc/sudoers)
      issues.warn(`locale_configfile: ${quoted(f)} is not a locale file (its name has no "locale", "i18n" or "language"); the system's usual file is used`, ['locale_configfile']);
    } else configFile = f;
  }
  if (value === undefined || value === null) {
    // cloud-init then writes the system's current locale again: nothing changes
    if (file !== undefined) issues.warn('locale_configfile: no locale is given; ignored', ['locale_configfile']);
    return undefined;
  }
  if (value === false || (typeof value === 'string' && /^(false|off|no|0)$/iu.test(value))) return undefined; // "false": leave the locale alone
  const name = str(value);
  if (name === undefined || !LOCALE.test(name)) {
    issues.warn(`locale: ${quoted(name ?? typeof value)} is not a locale name like en_US.UTF-8; ignored`, ['locale']);
    return undefined;
  }
  return { name, configFile, where: at(issues, ['locale']) };
}

/** A host name or an IP address (v4 or v6): no blanks, newlines or option text. */
const NTP_HOST = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/u;
/** A chrony allow subnet: an address, optionally /bits, or "all". */
const NTP_SUBNET = /^(?:all|[0-9A-Fa-f:.]+(?:\/\d{1,3})?)$/u;

function hostList(value: unknown, key: string, pattern: RegExp, issues: Issues): string[] {
  const path = ['ntp', key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.warn(`${label(path)}: not a list; ignored`, path);
    return [];
  }
  if (value.length > MAX_NTP_HOSTS) issues.warn(`${label(path)}: ${value.length} entries, over the limit of ${MAX_NTP_HOSTS}; the rest are ignored`, [...path, MAX_NTP_HOSTS]);
  const out: string[] = [];
  value.slice(0, MAX_NTP_HOSTS).forEach((v, i) => {
    const s = str(v);
    if (s !== undefined && pattern.test(s)) out.push(s);
    else issues.warn(`${label([...path, i])}: ${quoted(s ?? typeof v)} is not ${key === 'allow' ? 'an address or subnet' : 'a host name or an IP address'}; skipped`, [...path, i]);
  });
  return out;
}

function parseNtp(doc: Obj, issues: Issues): CloudNtp | undefined {
  if (!('ntp' in doc)) return undefined;
  const value = doc['ntp'] ?? {};
  const where = at(issues, ['ntp']);
  if (!isObj(value)) {
    issues.warn(`ntp: not a mapping; ignored`, ['ntp']);
    return undefined;
  }
  unknownKeys(value, MACHINE_KEYS.ntp, NTP_UNSUPPORTED, 'ntp', issues);
  const enabled = value['enabled'] === undefined || value['enabled'] === null || truthy(value['enabled']);
  const rawClient = value['ntp_client'] ?? 'auto';
  let client: NtpClient = 'auto';
  if ((NTP_CLIENTS as readonly unknown[]).includes(rawClient)) client = rawClient as NtpClient;
  else issues.warn(`ntp: ntp_client ${quoted(shown(rawClient))} is not one of ${NTP_CLIENTS.join(', ')}; "auto" is used`, ['ntp', 'ntp_client']);
  return {
    enabled,
    client,
    servers: hostList(value['servers'], 'servers', NTP_HOST, issues),
    pools: hostList(value['pools'], 'pools', NTP_HOST, issues),
    peers: hostList(value['peers'], 'peers', NTP_HOST, issues),
    allow: hostList(value['allow'], 'allow', NTP_SUBNET, issues),
    where,
  };
}

function unknownKeys(entry: Obj, applied: readonly string[], unsupported: readonly string[], where: string, issues: Issues): void {
  for (const key of Object.keys(entry)) {
    if (applied.includes(key)) continue;
    if (unsupported.includes(key)) issues.warn(`${where}: key ${quoted(key)} is not supported by vmctx; ignored`, [where, key]);
    else issues.warn(`${where}: unknown key ${quoted(key)}; ignored`, [where, key]);
  }
}

export function parseMachine(doc: Obj, issues: Issues): CloudMachine {
  return { mounts: parseMounts(doc, issues), swap: parseSwap(doc, issues), locale: parseLocale(doc, issues), ntp: parseNtp(doc, issues) };
}
