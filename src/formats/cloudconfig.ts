// #cloud-config (a subset): one document's keys parsed and validated into typed values, every
// unusable item reported and skipped, unknown keys reported, never fatal. Pure. The user-data
// container around it (gzip, MIME multipart, #! scripts) is userdata.ts.
import { LineCounter, isMap, isNode, isScalar, isSeq, visit, type Document } from 'yaml';
import { MAX_YAML_TEXT, MAX_YAML_TOKENS, parseYamlBounded, yamlTokens } from './yamldoc.js';
import { shown } from '../shared/errors.js';
import { classifyPassword, isCryptField } from './crypt.js';
import { didYouMean } from './didyoumean.js';
import { normaliseGuestPath } from './guestpath.js';
import { DecodeBudget, MAX_USER_DATA_FILE as MAX_FILE, boundedGunzip, mib } from './decodebudget.js';

export interface CloudUser {
  readonly name: string;
  readonly sudo: boolean;
  readonly shell: string | undefined;
  readonly sshAuthorizedKeys: readonly string[];
  readonly lockPasswd: boolean;
  /** A crypt(3) hash (cloud-init's `passwd` is always a hash). */
  readonly passwdHash: string | undefined;
}

export interface CloudPassword {
  readonly user: string;
  readonly kind: 'plain' | 'hash';
  readonly value: string;
}

export interface CloudFile {
  readonly path: string;
  readonly content: Buffer;
  readonly owner: string;
  readonly mode: number;
  readonly append: boolean;
}

export interface CloudConfig {
  readonly hostname: string | undefined;
  readonly sshAuthorizedKeys: readonly string[];
  readonly users: readonly CloudUser[];
  readonly chpasswd: readonly CloudPassword[];
  readonly writeFiles: readonly CloudFile[];
  /** Commands: a string runs through sh -c, a list is an argv. */
  readonly runcmd: ReadonlyArray<string | readonly string[]>;
  readonly bootcmd: ReadonlyArray<string | readonly string[]>;
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/u;
const SHELL = /^\/[A-Za-z0-9._/-]{1,255}$/u;

/** A cloud-config text longer than this is refused before YAML parsing (which costs ~460 bytes a byte). */
export const MAX_CLOUD_CONFIG_TEXT = MAX_YAML_TEXT;
/** YAML tokens (keys, items, scalars, indicators) one document may have: its parse memory grows with them. */
export { MAX_YAML_TOKENS };
/** Entries taken from each list (runcmd, bootcmd, write_files, users, chpasswd list, keys); the rest are reported. */
export const MAX_ENTRIES = 1000;
/** Words in one list command (an argv). */
export const MAX_ARGV = 1000;
/** Alias uses per document (yaml's maxAliasCount): aliases repeat data without costing text. */
export const MAX_ALIASES = 32;

/** The cloud-config keys vmctx applies, per level. */
export const APPLIED_KEYS = {
  top: ['hostname', 'fqdn', 'ssh_authorized_keys', 'users', 'chpasswd', 'write_files', 'runcmd', 'bootcmd'],
  users: ['name', 'sudo', 'shell', 'ssh_authorized_keys', 'lock_passwd', 'passwd', 'hashed_passwd'],
  chpasswd: ['list'],
  write_files: ['path', 'content', 'encoding', 'permissions', 'owner', 'append'],
} as const;

/**
 * Keys cloud-init documents (its config modules' schema) that vmctx does not apply: they get a
 * "not supported" warning, never "unknown", and are never mistaken for typos of each other.
 */
export const UNSUPPORTED_KEYS = {
  top: [
    'allow_public_ssh_keys', 'ansible', 'apk_repos', 'apt', 'apt_pipelining', 'apt_reboot_if_required', 'apt_update', 'apt_upgrade', 'authkey_hash', 'autoinstall',
    'byobu_by_default', 'ca-certs', 'ca_certs', 'chef', 'cloud_config_modules', 'cloud_final_modules', 'cloud_init_modules', 'create_hostname_file', 'device_aliases',
    'disable_ec2_metadata', 'disable_root', 'disable_root_opts', 'disk_setup', 'drivers', 'fan', 'final_message', 'fs_setup', 'groups', 'growpart', 'grub-dpkg',
    'grub_dpkg', 'keyboard', 'landscape', 'launch-index', 'locale', 'locale_configfile', 'lxd', 'manage_etc_hosts', 'manage_resolv_conf', 'mcollective', 'merge_how',
    'merge_type', 'mount_default_fields', 'mounts', 'no_ssh_fingerprints', 'ntp', 'output', 'package_reboot_if_required', 'package_update', 'package_upgrade',
    'packages', 'password', 'phone_home', 'power_state', 'prefer_fqdn_over_hostname', 'preserve_hostname', 'puppet', 'random_seed', 'reporting', 'resize_rootfs',
    'resolv_conf', 'rh_subscription', 'rpi', 'rsyslog', 'salt_minion', 'snap', 'spacewalk', 'ssh', 'ssh_deletekeys', 'ssh_fp_console_blacklist', 'ssh_genkeytypes',
    'ssh_import_id', 'ssh_key_console_blacklist', 'ssh_keys', 'ssh_publish_hostkeys', 'ssh_pwauth', 'ssh_quiet_keygen', 'swap', 'system_info', 'timezone',
    'ubuntu_advantage', 'ubuntu_pro', 'updates', 'user', 'vendor_data', 'wireguard', 'yum_repo_dir', 'yum_repos', 'zypper',
  ],
  users: [
    'create-groups', 'create_groups', 'doas', 'expiredate', 'gecos', 'groups', 'hashed-passwd', 'homedir', 'inactive', 'lock-passwd', 'no-create-home',
    'no-log-init', 'no-user-group', 'no_create_home', 'no_log_init', 'no_user_group', 'plain-text-passwd', 'plain_text_passwd', 'primary-group', 'primary_group',
    'selinux-user', 'selinux_user', 'snapuser', 'ssh-authorized-keys', 'ssh-import-id', 'ssh-redirect-user', 'ssh_import_id', 'ssh_redirect_user', 'system', 'uid',
  ],
  chpasswd: ['expire', 'users'],
  write_files: ['defer', 'source'],
} as const;

export type Severity = 'error' | 'warning';

/** A problem found in a cloud-config document, at the key (or list item) it is about. */
export interface CloudConfigIssue {
  readonly severity: Severity;
  readonly message: string;
  /** 1-based, in the file the document came from (a MIME part's lines are the whole body's). */
  readonly line?: number | undefined;
  readonly col?: number | undefined;
}

type Obj = Record<string, unknown>;
type Path = ReadonlyArray<string | number>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(yes|true|1)$/iu.test(v));
const quoted = (key: string): string => JSON.stringify(key.slice(0, 40));

/** Where keys and list items are in the YAML text: every issue names its line and column. */
class Issues {
  readonly list: CloudConfigIssue[] = [];
  #doc: Document | undefined;
  readonly #counter: LineCounter;
  readonly #lineOffset: number;

  constructor(counter: LineCounter, lineOffset: number) {
    this.#counter = counter;
    this.#lineOffset = lineOffset;
  }

  set doc(doc: Document) {
    this.#doc = doc;
  }

  /** Line and column of the key (a mapping entry) or the item (a list entry) at path. */
  at(path: Path): { line?: number; col?: number } {
    let node: unknown = this.#doc?.contents;
    let offset = isNode(node) ? node.range?.[0] : undefined;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(step));
        if (pair === undefined) break;
        offset = isNode(pair.key) ? pair.key.range?.[0] : offset;
        node = pair.value;
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step];
        if (!isNode(item)) break;
        offset = item.range?.[0];
        node = item;
      } else break;
    }
    return offset === undefined ? {} : this.pos(offset);
  }

  pos(offset: number): { line: number; col: number } {
    const p = this.#counter.linePos(offset);
    return { line: p.line + this.#lineOffset, col: p.col };
  }

  warn(message: string, path: Path = []): void {
    this.list.push({ severity: 'warning', message, ...this.at(path) });
  }

  error(message: string, where: { line?: number; col?: number } = {}): void {
    this.list.push({ severity: 'error', message, ...where });
  }
}

/**
 * Checks the keys of one mapping against what vmctx applies and what cloud-init documents:
 * unknown keys get a did-you-mean, documented ones we do not apply "not supported". Returns the
 * misspellings (unknown key → the applied key it looks like).
 */
function checkKeys(entry: Obj, applied: readonly string[], unsupported: readonly string[], where: string, path: Path, issues: Issues): Map<string, string> {
  const typos = new Map<string, string>();
  for (const key of Object.keys(entry)) {
    if (applied.includes(key)) continue;
    const prefix = where === '' ? 'cloud-config key' : `${where}: key`;
    if (unsupported.includes(key)) {
      // cloud-init's old spellings with "-" of keys vmctx reads with "_"
      const modern = key.replaceAll('-', '_');
      const hint = modern !== key && applied.includes(modern) ? ` (vmctx reads ${quoted(modern)})` : '';
      issues.warn(`${prefix} ${quoted(key)} is not supported by vmctx${hint}; ignored`, [...path, key]);
      continue;
    }
    const guess = didYouMean(key, [...applied, ...unsupported]);
    if (guess !== undefined && applied.includes(guess)) typos.set(key, guess);
    issues.warn(`${where === '' ? 'unknown cloud-config key' : `${where}: unknown key`} ${quoted(key)}${guess === undefined ? '' : ` (did you mean ${quoted(guess)}?)`}; ignored`, [...path, key]);
  }
  return typos;
}

/** The first MAX_ENTRIES of a list; the rest reported (key and count) at the first one left out. */
function capped<T>(list: readonly T[], where: string, path: Path, issues: Issues): readonly T[] {
  if (list.length <= MAX_ENTRIES) return list;
  issues.warn(`${where}: ${list.length} entries, over the limit of ${MAX_ENTRIES}; the ${list.length - MAX_ENTRIES} after the first ${MAX_ENTRIES} are ignored`, [...path, MAX_ENTRIES]);
  return list.slice(0, MAX_ENTRIES);
}

function commands(value: unknown, key: string, issues: Issues): Array<string | string[]> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.warn(`${key}: not a list; ignored`, [key]);
    return [];
  }
  const out: Array<string | string[]> = [];
  capped(value, key, [key], issues).forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else if (Array.isArray(item) && item.length > MAX_ARGV) issues.warn(`${key}[${i}]: a command of ${item.length} words, over the limit of ${MAX_ARGV}; skipped`, [key, i]);
    else if (Array.isArray(item) && item.length > 0 && item.every((a) => typeof a === 'string' || typeof a === 'number')) out.push(item.map(String));
    else issues.warn(`${key}[${i}]: not a command (a string or a list of strings); skipped`, [key, i]);
  });
  return out;
}

function keys(value: unknown, where: string, path: Path, issues: Issues): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.warn(`${where}: not a list of keys; ignored`, path);
    return [];
  }
  return capped(value, where, path, issues).filter((k, i): k is string => {
    if (typeof k === 'string') return true;
    issues.warn(`${where}: an entry is not a string; skipped`, [...path, i]);
    return false;
  });
}

function permissions(value: unknown): number | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  if (!/^0?[0-7]{3,4}$/u.test(s)) return undefined;
  return parseInt(s, 8) & 0o7777;
}

function fileContent(entry: Obj, issues: Issues, where: string, path: Path, budget: DecodeBudget): Buffer | undefined {
  const raw = entry['content'] ?? '';
  if (typeof raw !== 'string') {
    issues.warn(`${where}: content is not a string; skipped`, [...path, 'content']);
    return undefined;
  }
  const encoding = (str(entry['encoding']) ?? 'text/plain').toLowerCase();
  try {
    let data: Buffer;
    const gz = ['gz', 'gzip'].includes(encoding) ? 'latin1' : ['gz+b64', 'gz+base64', 'gzip+b64', 'gzip+base64'].includes(encoding) ? 'base64' : undefined;
    if (gz !== undefined) {
      // inflated only as far as the 16 MiB file limit and what is left of the user data's budget
      const inflated = boundedGunzip(Buffer.from(raw, gz), MAX_FILE, budget);
      if ('reason' in inflated) {
        issues.warn(`${where}: ${encoding} content skipped: ${inflated.reason}`, [...path, 'content']);
        return undefined;
      }
      return inflated.data;
    }
    if (['b64', 'base64'].includes(encoding)) data = Buffer.from(raw, 'base64');
    else if (encoding === 'text/plain') data = Buffer.from(raw, 'utf8');
    else {
      issues.warn(`${where}: unknown encoding ${JSON.stringify(encoding.slice(0, 20))}; skipped`, [...path, 'encoding']);
      return undefined;
    }
    if (data.length > MAX_FILE) {
      issues.warn(`${where}: content over 16 MiB; skipped`, [...path, 'content']);
      return undefined;
    }
    // an alias can repeat one content in many entries: each copy takes from the budget
    if (!budget.take(data.length)) {
      issues.warn(`${where}: content skipped: its ${mib(data.length)} would pass what is left of the ${mib(budget.total)} decompressed-bytes budget of this user data (${mib(budget.left)})`, [...path, 'content']);
      return undefined;
    }
    return data;
  } catch (error) {
    issues.warn(`${where}: content does not decode as ${encoding} (${(error as Error).message.slice(0, 80)}); skipped`, [...path, 'content']);
    return undefined;
  }
}

/** The first line of a YAML library message, without its own " at line …" suffix. */
function yamlMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/u, '').slice(0, 200);
}

/**
 * Parses and checks one cloud-config document. Every issue carries its line and column (counted
 * from `lineOffset`, for a document that starts further down a file). `config` is undefined when
 * the text is not YAML or not a mapping (an error), never otherwise.
 */
export function checkCloudConfig(text: string, lineOffset = 0, budget: DecodeBudget = new DecodeBudget()): { config: CloudConfig | undefined; issues: CloudConfigIssue[] } {
  const counter = new LineCounter();
  const issues = new Issues(counter, lineOffset);
  // refused before parsing: a parse costs hundreds of bytes of memory per byte of text
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_CLOUD_CONFIG_TEXT) {
    issues.error(`cloud-config of ${mib(size)} is over the ${mib(MAX_CLOUD_CONFIG_TEXT)} limit for one document; refused (nothing from it is applied)`, { line: 1 + lineOffset, col: 1 });
    return { config: undefined, issues: issues.list };
  }
  if (yamlTokens(text, MAX_YAML_TOKENS) > MAX_YAML_TOKENS) {
    issues.error(`cloud-config has over ${MAX_YAML_TOKENS} YAML tokens, the limit for one document; refused (nothing from it is applied)`, { line: 1 + lineOffset, col: 1 });
    return { config: undefined, issues: issues.list };
  }
  let doc: unknown;
  try {
    // logLevel error: the library would print its warnings (with bits of the document) on the console
    const { doc: parsed, duplicate } = parseYamlBounded(text, { schema: 'core', prettyErrors: false, logLevel: 'error', lineCounter: counter });
    issues.doc = parsed;
    if (parsed.errors.length > 0) {
      // the first error only: the ones after it mostly follow from it
      const e = parsed.errors[0];
      if (e !== undefined) issues.error(`cloud-config is not YAML: ${yamlMessage(e)}`, issues.pos(e.pos[0]));
      return { config: undefined, issues: issues.list };
    }
    if (duplicate !== undefined) {
      issues.error(`cloud-config is not YAML: the key ${JSON.stringify(duplicate.key.slice(0, 60))} appears twice in one mapping`, duplicate.offset === undefined ? { line: 1 + lineOffset, col: 1 } : issues.pos(duplicate.offset));
      return { config: undefined, issues: issues.list };
    }
    for (const w of parsed.warnings.slice(0, 10)) issues.list.push({ severity: 'warning', message: `YAML: ${yamlMessage(w)}`, ...issues.pos(w.pos[0]) });
    try {
      // yaml counts the anchor itself as one use: +1 lets exactly MAX_ALIASES aliases through
      doc = parsed.toJS({ maxAliasCount: MAX_ALIASES + 1 });
    } catch (error) {
      if (!(error instanceof ReferenceError) || !/excessive alias count/iu.test(error.message)) throw error;
      // yaml's maxAliasCount: aliases would repeat data past what the text costs
      let at: number | undefined;
      let seen = 0;
      visit(parsed, { Alias: (_key, node) => (++seen > MAX_ALIASES ? ((at = node.range?.[0]), visit.BREAK) : undefined) });
      issues.error(`cloud-config uses aliases (*name) more than the limit of ${MAX_ALIASES} uses; refused (nothing from it is applied)`, at === undefined ? { line: 1 + lineOffset, col: 1 } : issues.pos(at));
      return { config: undefined, issues: issues.list };
    }
  } catch (error) {
    issues.error(`cloud-config is not YAML: ${yamlMessage(error)}`);
    return { config: undefined, issues: issues.list };
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) {
    issues.error('cloud-config is not a mapping; ignored', issues.at([]));
    return { config: undefined, issues: issues.list };
  }
  checkKeys(doc, APPLIED_KEYS.top, UNSUPPORTED_KEYS.top, '', [], issues);
  const hostname = str(doc['fqdn']) ?? str(doc['hostname']);
  const users: CloudUser[] = [];
  const rawUsers = doc['users'];
  if (Array.isArray(rawUsers)) {
    capped(rawUsers, 'users', ['users'], issues).forEach((u, i) => {
      if (u === 'default') return;
      const where = `users[${i}]`;
      const path = ['users', i];
      const entry: Obj | undefined = typeof u === 'string' ? { name: u } : isObj(u) ? u : undefined;
      if (entry !== undefined && isObj(u)) checkKeys(entry, APPLIED_KEYS.users, UNSUPPORTED_KEYS.users, where, path, issues);
      const name = entry === undefined ? undefined : str(entry['name']);
      if (entry === undefined || name === undefined || !NAME.test(name)) {
        issues.warn(`${where}: no valid name (lower-case letters, digits, _ and -); skipped`, path);
        return;
      }
      const shell = str(entry['shell']);
      if (shell !== undefined && !SHELL.test(shell)) issues.warn(`${where}: shell ${JSON.stringify(shell.slice(0, 40))} is not an absolute path; ignored`, [...path, 'shell']);
      const passwd = str(entry['passwd']) ?? str(entry['hashed_passwd']);
      if (passwd !== undefined && !isCryptField(passwd)) issues.warn(`${where}: passwd is not a crypt(3) hash; ignored`, [...path, entry['passwd'] === undefined ? 'hashed_passwd' : 'passwd']);
      const sudo = entry['sudo'];
      users.push({
        name,
        sudo: sudo === true || (typeof sudo === 'string' && sudo.trim() !== '' && !/^(false|no)$/iu.test(sudo)) || (Array.isArray(sudo) && sudo.length > 0),
        shell: shell !== undefined && SHELL.test(shell) ? shell : undefined,
        sshAuthorizedKeys: keys(entry['ssh_authorized_keys'], `${where}.ssh_authorized_keys`, [...path, 'ssh_authorized_keys'], issues),
        lockPasswd: entry['lock_passwd'] === undefined ? true : truthy(entry['lock_passwd']),
        passwdHash: passwd !== undefined && isCryptField(passwd) ? passwd : undefined,
      });
    });
  } else if (rawUsers !== undefined) issues.warn('users: not a list; ignored', ['users']);
  const chpasswd: CloudPassword[] = [];
  const cp = doc['chpasswd'];
  if (isObj(cp)) {
    checkKeys(cp, APPLIED_KEYS.chpasswd, UNSUPPORTED_KEYS.chpasswd, 'chpasswd', ['chpasswd'], issues);
    const list = cp['list'];
    const lines = typeof list === 'string' ? list.split('\n') : Array.isArray(list) ? list.filter((l): l is string => typeof l === 'string') : [];
    for (const line of capped(lines.map((l) => l.trim()).filter((l) => l !== ''), 'chpasswd.list', ['chpasswd', 'list'], issues)) {
      const colon = line.indexOf(':');
      const user = line.slice(0, colon);
      const value = line.slice(colon + 1);
      if (colon < 1 || !NAME.test(user) || value === '' || /[\r\n\0]/u.test(value)) {
        issues.warn(`chpasswd: a line is not "user:password"; skipped`, ['chpasswd', 'list']);
        continue;
      }
      if (/^R(ANDOM)?$/iu.test(value)) {
        issues.warn(`chpasswd: random passwords for ${user} are not supported; skipped`, ['chpasswd', 'list']);
        continue;
      }
      const read = classifyPassword(value);
      if (read.kind === 'invalid') issues.warn(`chpasswd: the value for ${user} ${read.reason}; skipped`, ['chpasswd']);
      else chpasswd.push({ user, kind: read.kind, value });
    }
  } else if (cp !== undefined) issues.warn('chpasswd: not a mapping; ignored', ['chpasswd']);
  const writeFiles: CloudFile[] = [];
  const wf = doc['write_files'];
  if (Array.isArray(wf)) {
    capped(wf, 'write_files', ['write_files'], issues).forEach((f, i) => {
      const where = `write_files[${i}]`;
      const path = ['write_files', i];
      if (!isObj(f)) {
        issues.warn(`${where}: not a mapping; skipped`, path);
        return;
      }
      const typos = checkKeys(f, APPLIED_KEYS.write_files, UNSUPPORTED_KEYS.write_files, where, path, issues);
      const given = str(f['path']);
      const normal = given === undefined ? undefined : normaliseGuestPath(given);
      if (normal?.ok !== true || normal.path === '/') {
        issues.warn(`${where}: path must be absolute without ".."; skipped`, [...path, 'path']);
        return;
      }
      const filePath = normal.path;
      // an entry without content is an empty file on purpose, unless the content is plainly
      // there under a misspelled key or a source vmctx cannot fetch: then writing an empty file
      // would truncate what the user meant to fill, so the entry is skipped (and says why)
      if (f['content'] === undefined) {
        const misspelt = [...typos].find(([, guess]) => guess === 'content')?.[0];
        if (misspelt !== undefined) {
          // one line for the one mistake: the unknown-key warning becomes the skip warning
          const at = issues.list.findIndex((i) => i.message.startsWith(`${where}: unknown key ${quoted(misspelt)}`));
          if (at >= 0) issues.list.splice(at, 1);
          issues.warn(`${where}: unknown key ${quoted(misspelt)} (did you mean "content"?); the entry has no content, so ${filePath.slice(0, 80)} is not written (not even empty)`, [...path, misspelt]);
          return;
        }
        if (f['source'] !== undefined) {
          issues.warn(`${where}: content from "source" is not supported; skipped rather than writing an empty ${filePath.slice(0, 80)}`, [...path, 'source']);
          return;
        }
      }
      const content = fileContent(f, issues, where, path, budget);
      if (content === undefined) return;
      const mode = f['permissions'] === undefined ? 0o644 : permissions(f['permissions']);
      if (mode === undefined) {
        issues.warn(`${where}: permissions ${JSON.stringify(shown(f['permissions'], 10))} are not octal; skipped`, [...path, 'permissions']);
        return;
      }
      const owner = str(f['owner']) ?? 'root:root';
      if (!/^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/u.test(owner)) {
        issues.warn(`${where}: owner ${JSON.stringify(owner.slice(0, 40))} is not user[:group]; skipped`, [...path, 'owner']);
        return;
      }
      writeFiles.push({ path: filePath, content, owner, mode, append: truthy(f['append']) });
    });
  } else if (wf !== undefined) issues.warn('write_files: not a list; ignored', ['write_files']);
  const config: CloudConfig = {
    hostname,
    sshAuthorizedKeys: keys(doc['ssh_authorized_keys'], 'ssh_authorized_keys', ['ssh_authorized_keys'], issues),
    users,
    chpasswd,
    writeFiles,
    runcmd: commands(doc['runcmd'], 'runcmd', issues),
    bootcmd: commands(doc['bootcmd'], 'bootcmd', issues),
  };
  return { config, issues: issues.list };
}

/** checkCloudConfig with the issues as plain messages (appended to `issues`). */
export function parseCloudConfig(text: string, issues: string[]): CloudConfig | undefined {
  const checked = checkCloudConfig(text);
  for (const issue of checked.issues) issues.push(issue.message);
  return checked.config;
}
/** Several cloud-config documents (MIME parts) merged: later scalars win, lists concatenate. */
export function mergeCloudConfigs(configs: readonly CloudConfig[]): CloudConfig | undefined {
  if (configs.length === 0) return undefined;
  return configs.reduce((a, b) => ({
    hostname: b.hostname ?? a.hostname,
    sshAuthorizedKeys: [...a.sshAuthorizedKeys, ...b.sshAuthorizedKeys],
    users: [...a.users, ...b.users],
    chpasswd: [...a.chpasswd, ...b.chpasswd],
    writeFiles: [...a.writeFiles, ...b.writeFiles],
    runcmd: [...a.runcmd, ...b.runcmd],
    bootcmd: [...a.bootcmd, ...b.bootcmd],
  }));
}
