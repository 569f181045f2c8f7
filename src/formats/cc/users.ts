// cloud-config accounts: users, groups, password, chpasswd and ssh_pwauth, parsed and validated
// into typed values (cloud-init's cc_users_groups and cc_set_passwords keys); every unusable item
// reported at its line. Pure: secrets stay strings here, the Context wraps them as Secret.
import { classifyPassword, isCryptField } from '../crypt.js';
import { type Issues, type Obj, type Path, capped, checkKeys, isObj, keys, str, truthy } from './common.js';

export interface CloudUser {
  readonly name: string;
  /** Line of the entry in the user data (for messages at apply time). */
  readonly line: number | undefined;
  readonly gecos: string | undefined;
  readonly homedir: string | undefined;
  /** no_create_home (or system without homedir): no home directory is made. */
  readonly noCreateHome: boolean;
  readonly primaryGroup: string | undefined;
  readonly groups: readonly string[];
  readonly noUserGroup: boolean;
  readonly noLogInit: boolean;
  readonly system: boolean;
  readonly uid: number | undefined;
  readonly shell: string | undefined;
  /** sudo rules ("ALL=(ALL) NOPASSWD:ALL"), written as "NAME RULE"; empty: none. */
  readonly sudo: readonly string[];
  readonly sshAuthorizedKeys: readonly string[];
  /** lock_passwd: cloud-init's default is true. */
  readonly lockPasswd: boolean;
  /** Where lock_passwd was written (undefined: not written, the default). */
  readonly lockPasswdLine: number | undefined;
  /** The password given: `passwd` (new accounts only, a hash), `hashed_passwd` or `plain_text_passwd`. */
  readonly password: { readonly kind: 'plain' | 'hash'; readonly value: string; readonly key: 'passwd' | 'hashed_passwd' | 'plain_text_passwd' } | undefined;
  readonly expiredate: string | undefined;
  readonly inactive: number | undefined;
  /** create_groups (default true): groups named in `groups` that do not exist are made. */
  readonly createGroups: boolean;
}

export interface CloudGroup {
  readonly name: string;
  readonly members: readonly string[];
  readonly line: number | undefined;
}

export interface CloudPassword {
  readonly user: string;
  readonly kind: 'plain' | 'hash';
  readonly value: string;
  readonly line?: number | undefined;
}

/** What this part reads from a cloud-config document. */
export interface CloudAccounts {
  readonly users: readonly CloudUser[];
  /** `users` lists `default` (the default user: vmctx's context user): where. */
  readonly usersDefault: { readonly line: number | undefined } | undefined;
  readonly groups: readonly CloudGroup[];
  /** Top-level `password`: the default user's password (plain text, or a hash when it reads as one). */
  readonly password: { readonly kind: 'plain' | 'hash'; readonly value: string; readonly line: number | undefined } | undefined;
  readonly chpasswd: readonly CloudPassword[];
  /** chpasswd.expire (cloud-init's default: true); undefined when not given. */
  readonly chpasswdExpire: boolean | undefined;
  /** ssh_pwauth: true/false; undefined when absent or "unchanged". */
  readonly sshPwauth: boolean | undefined;
}

export const NAME = /^[a-z_][a-z0-9_-]{0,31}$/u;
const GROUP = /^[a-z_][a-z0-9_-]{0,31}$/u;
const SHELL = /^\/[A-Za-z0-9._/-]{1,255}$/u;
const HOME = /^\/[A-Za-z0-9._@+/-]{1,255}$/u;
const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/u;

/** The keys this part applies: top level and within its mappings. */
export const ACCOUNT_KEYS = {
  top: ['users', 'chpasswd', 'groups', 'password', 'ssh_pwauth'],
  users: [
    'name', 'sudo', 'shell', 'ssh_authorized_keys', 'lock_passwd', 'passwd', 'hashed_passwd', 'plain_text_passwd', 'gecos', 'homedir', 'no_create_home',
    'primary_group', 'groups', 'no_user_group', 'no_log_init', 'system', 'uid', 'expiredate', 'inactive', 'create_groups',
    // cloud-init's deprecated spellings, read as the underscore form (said)
    'lock-passwd', 'ssh-authorized-keys', 'hashed-passwd', 'plain-text-passwd', 'primary-group', 'no-create-home', 'no-user-group', 'no-log-init', 'create-groups',
  ],
  chpasswd: ['list', 'users', 'expire'],
} as const;

/** Keys cloud-init documents within these mappings that vmctx does not apply. */
export const ACCOUNT_UNSUPPORTED = {
  users: [
    'doas', 'selinux_user', 'snapuser', 'ssh_import_id', 'ssh_redirect_user',
    // deprecated spellings of keys vmctx does not apply either (said as their underscore form)
    'selinux-user', 'ssh-import-id', 'ssh-redirect-user',
  ] as string[],
  chpasswd: [] as string[],
};

/** Why a user's attribute of this kind is not applied (`ssh_import_id` needs a network fetch of keys). */
const UNSUPPORTED_WHY: Record<string, string> = {
  ssh_import_id: 'importing keys from Launchpad/GitHub needs a network fetch vmctx does not make',
  snapuser: 'snap create-user is not run by vmctx',
  doas: 'vmctx writes sudo rules only',
  selinux_user: 'vmctx does not set SELinux users',
  ssh_redirect_user: 'vmctx does not write redirecting key options',
};

/** A text field that goes into /etc/passwd (gecos): no field separator, no line break, no control characters. */
const safeField = (v: string): boolean => !/[:\p{Cc}]/u.test(v);

function bool(v: unknown, where: string, path: Path, issues: Issues, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(yes|true|1|no|false|0)$/iu.test(v.trim())) return truthy(v.trim());
  issues.warn(`${where}: not true or false; ${fallback ? 'true' : 'false'} is used`, path);
  return fallback;
}

/** Group names from a list or a comma-separated string (cloud-init's two forms); bad names reported. */
function groupNames(v: unknown, where: string, path: Path, issues: Issues): string[] {
  if (v === undefined || v === null) return [];
  const raw = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : undefined;
  if (raw === undefined) {
    issues.warn(`${where}: not a list or a comma-separated string of groups; ignored`, path);
    return [];
  }
  const out: string[] = [];
  for (const g of capped(raw, where, path, issues)) {
    const name = str(g)?.trim();
    if (name === undefined || name === '') continue;
    if (!GROUP.test(name)) issues.warn(`${where}: ${JSON.stringify(name.slice(0, 40))} is not a valid group name; skipped`, path);
    else if (!out.includes(name)) out.push(name);
  }
  return out;
}

function sudoRules(v: unknown, where: string, path: Path, issues: Issues): string[] {
  if (v === undefined || v === null || v === false) return [];
  if (v === true) {
    issues.warn(`${where}: true is not one of cloud-init's forms (a rule string or a list of them); read as "ALL=(ALL:ALL) NOPASSWD:ALL"`, path);
    return ['ALL=(ALL:ALL) NOPASSWD:ALL'];
  }
  const raw = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
  if (raw === undefined) {
    issues.warn(`${where}: not a rule string or a list of rule strings; no sudo rules written`, path);
    return [];
  }
  const out: string[] = [];
  for (const [i, r] of capped(raw, where, path, issues).entries()) {
    const rule = typeof r === 'string' ? r.trim() : undefined;
    if (rule === undefined || rule === '') issues.warn(`${where}: an entry is not a rule string; skipped`, Array.isArray(v) ? [...path, i] : path);
    else if (/[\p{Cc}]/u.test(rule.replaceAll('\t', ' '))) issues.warn(`${where}: a rule with a line break or control character; skipped`, Array.isArray(v) ? [...path, i] : path);
    else out.push(rule);
  }
  return out;
}

/**
 * The hyphenated spellings cloud-init still accepts (deprecated) for its users' keys: read as the
 * underscore form, said at their line; when both are given the underscore one wins.
 */
export const HYPHENATED_USER_KEYS = [
  'lock-passwd', 'ssh-authorized-keys', 'hashed-passwd', 'plain-text-passwd', 'primary-group', 'no-create-home', 'no-user-group', 'no-log-init',
  'create-groups', 'ssh-import-id', 'ssh-redirect-user', 'selinux-user',
];

function parseUser(given: Obj, where: string, path: Path, issues: Issues): CloudUser | undefined {
  // the deprecated hyphenated keys read as their underscore form; `spelled` keeps the document's key for the line of a message
  const entry: Obj = {};
  const spelled: Record<string, string> = {};
  // key by key, in the document's order: the keys with a reason of their own are reported here, the others by checkKeys
  for (const [asGiven, value] of Object.entries(given)) {
    let key = asGiven;
    if (HYPHENATED_USER_KEYS.includes(asGiven)) {
      key = asGiven.replace(/-/gu, '_');
      if (Object.hasOwn(given, key)) {
        issues.warn(`${where}: ${asGiven} and ${key} are both given: ${key} is used, ${asGiven} ignored`, [...path, asGiven]);
        continue;
      }
      issues.warn(`${where}: ${asGiven} is a deprecated spelling, read as ${key}`, [...path, asGiven]);
      spelled[key] = asGiven;
    }
    entry[key] = value;
    const why = UNSUPPORTED_WHY[key];
    if (why !== undefined) issues.warn(`${where}: key ${JSON.stringify(spelled[key] ?? key)} is not supported by vmctx (${why}); ignored`, [...path, spelled[key] ?? key]);
    else checkKeys({ [key]: value }, ACCOUNT_KEYS.users, ACCOUNT_UNSUPPORTED.users, where, path, issues);
  }
  const name = str(entry['name']);
  if (name === undefined || !NAME.test(name)) {
    issues.warn(`${where}: no valid name (lower-case letters, digits, _ and -); skipped`, entry['name'] === undefined ? path : [...path, 'name']);
    return undefined;
  }
  const at = (k: string): Path => [...path, spelled[k] ?? k];
  const text = (k: string): string | undefined => {
    const v = entry[k];
    if (v === undefined || v === null) return undefined;
    const s = str(v);
    if (s === undefined) issues.warn(`${where}: ${k} is not a string; ignored`, at(k));
    return s;
  };
  const shellRaw = text('shell');
  const shell = shellRaw !== undefined && SHELL.test(shellRaw) && !shellRaw.split('/').includes('..') ? shellRaw : undefined;
  if (shellRaw !== undefined && shell === undefined) issues.warn(`${where}: shell ${JSON.stringify(shellRaw.slice(0, 40))} is not an absolute path; ignored`, at('shell'));
  const gecosRaw = text('gecos');
  const gecos = gecosRaw !== undefined && safeField(gecosRaw) && gecosRaw.length <= 255 ? gecosRaw : undefined;
  if (gecosRaw !== undefined && gecos === undefined) issues.warn(`${where}: gecos with ":", a line break or a control character (or over 255 characters) would corrupt /etc/passwd; ignored`, at('gecos'));
  const homeRaw = text('homedir');
  const homedir = homeRaw !== undefined && HOME.test(homeRaw) && !homeRaw.split('/').some((p) => p === '..' || p === '.') && homeRaw !== '/' ? homeRaw.replace(/\/+$/u, '').replace(/\/+/gu, '/') : undefined;
  if (homeRaw !== undefined && homedir === undefined) issues.warn(`${where}: homedir ${JSON.stringify(homeRaw.slice(0, 60))} is not a plain absolute path (no "..", ".", or unusual characters); ignored`, at('homedir'));
  const primaryRaw = text('primary_group');
  const primaryGroup = primaryRaw !== undefined && GROUP.test(primaryRaw) ? primaryRaw : undefined;
  if (primaryRaw !== undefined && primaryGroup === undefined) issues.warn(`${where}: primary_group ${JSON.stringify(primaryRaw.slice(0, 40))} is not a valid group name; ignored`, at('primary_group'));
  const uidRaw = entry['uid'];
  let uid: number | undefined;
  if (uidRaw !== undefined && uidRaw !== null) {
    const n = typeof uidRaw === 'number' ? uidRaw : typeof uidRaw === 'string' && /^[0-9]{1,10}$/u.test(uidRaw.trim()) ? Number(uidRaw.trim()) : NaN;
    if (Number.isInteger(n) && n >= 0 && n < 2 ** 31 - 1) uid = n;
    else issues.warn(`${where}: uid is not a number from 0 to 2147483646; ignored`, at('uid'));
  }
  const expRaw = text('expiredate');
  const expiredate = expRaw !== undefined && DATE.test(expRaw.trim()) && !Number.isNaN(Date.parse(`${expRaw.trim()}T00:00:00Z`)) ? expRaw.trim() : undefined;
  if (expRaw !== undefined && expiredate === undefined) issues.warn(`${where}: expiredate is not a YYYY-MM-DD date; ignored`, at('expiredate'));
  const inRaw = text('inactive');
  const inactive = inRaw !== undefined && /^(-1|[0-9]{1,6})$/u.test(inRaw.trim()) ? Number(inRaw.trim()) : undefined;
  if (inRaw !== undefined && inactive === undefined) issues.warn(`${where}: inactive is not a number of days; ignored`, at('inactive'));
  // the password: plain_text_passwd and hashed_passwd (cloud-init applies them to existing accounts too); passwd (a hash, new accounts only)
  let password: CloudUser['password'];
  for (const key of ['passwd', 'hashed_passwd', 'plain_text_passwd'] as const) {
    const v = entry[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v === '') {
      issues.warn(`${where}: ${key} is ${typeof v === 'string' ? 'empty (an empty password is not set by vmctx)' : 'not a string'}; ignored`, at(key));
      continue;
    }
    if (/[\r\n\0]/u.test(v)) {
      issues.warn(`${where}: ${key} contains a line break or NUL, which no password tool can take; ignored`, at(key));
      continue;
    }
    if (key !== 'plain_text_passwd' && !isCryptField(v)) {
      issues.warn(`${where}: ${key} is not a crypt(3) hash; ignored`, at(key));
      continue;
    }
    // cloud-init sets plain_text_passwd, then hashed_passwd: the hash is the one left
    if (password !== undefined && key !== 'plain_text_passwd') issues.warn(`${where}: ${key} given as well as ${password.key}; ${key} is used`, at(key));
    if (password !== undefined && key === 'plain_text_passwd') {
      issues.warn(`${where}: plain_text_passwd given as well as ${password.key}; ${password.key} is used`, at(key));
      continue;
    }
    password = { kind: key === 'plain_text_passwd' ? 'plain' : 'hash', value: v, key };
  }
  const system = bool(entry['system'], `${where}: system`, at('system'), issues, false);
  const noCreateHome = bool(entry['no_create_home'], `${where}: no_create_home`, at('no_create_home'), issues, false) || system;
  const sshAuthorizedKeys = keys(entry['ssh_authorized_keys'], `${where}.ssh_authorized_keys`, at('ssh_authorized_keys'), issues);
  if (sshAuthorizedKeys.length > 0 && noCreateHome && homedir === undefined) issues.warn(`${where}: ssh_authorized_keys for an account without a home (system or no_create_home); installed only if the home exists`, at('ssh_authorized_keys'));
  return {
    name,
    line: issues.at(path).line,
    gecos,
    homedir,
    noCreateHome,
    primaryGroup,
    groups: groupNames(entry['groups'], `${where}: groups`, at('groups'), issues),
    noUserGroup: bool(entry['no_user_group'], `${where}: no_user_group`, at('no_user_group'), issues, false),
    noLogInit: bool(entry['no_log_init'], `${where}: no_log_init`, at('no_log_init'), issues, false),
    system,
    uid,
    shell,
    sudo: sudoRules(entry['sudo'], `${where}: sudo`, at('sudo'), issues),
    sshAuthorizedKeys,
    lockPasswd: bool(entry['lock_passwd'], `${where}: lock_passwd`, at('lock_passwd'), issues, true),
    lockPasswdLine: entry['lock_passwd'] === undefined ? undefined : (issues.at(at('lock_passwd')).line ?? issues.at(path).line),
    password,
    expiredate,
    inactive,
    createGroups: bool(entry['create_groups'], `${where}: create_groups`, at('create_groups'), issues, true),
  };
}

/** Top-level `groups`: names, or `{name: [members]}` / `{name: member}` mappings; a comma string too. */
function parseGroups(v: unknown, issues: Issues): CloudGroup[] {
  if (v === undefined || v === null) return [];
  const items: unknown[] = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : Array.isArray(v) ? v : isObj(v) ? [v] : [];
  if (typeof v !== 'string' && !Array.isArray(v) && !isObj(v)) {
    issues.warn('groups: not a list of groups; ignored', ['groups']);
    return [];
  }
  const out: CloudGroup[] = [];
  const add = (name: string, members: unknown, path: Path): void => {
    if (!GROUP.test(name)) {
      issues.warn(`groups: ${JSON.stringify(name.slice(0, 40))} is not a valid group name; skipped`, path);
      return;
    }
    const list = members === undefined || members === null ? [] : typeof members === 'string' ? [members] : Array.isArray(members) ? members : undefined;
    if (list === undefined) {
      issues.warn(`groups: the members of ${name} are not a list of user names; the group is made without them`, path);
      add(name, [], path);
  return;
    }
    const names: string[] = [];
    for (const m of list) {
      const member = str(m)?.trim();
      if (member === undefined || !NAME.test(member)) issues.warn(`groups: member ${JSON.stringify(String(m).slice(0, 40))} of ${name} is not a valid user name; skipped`, path);
      else if (!names.includes(member)) names.push(member);
    }
    const before = out.find((g) => g.name === name);
    if (before === undefined) out.push({ name, members: names, line: issues.at(path).line });
    else out[out.indexOf(before)] = { ...before, members: [...new Set([...before.members, ...names])] };
  };
  for (const [i, item] of capped(items, 'groups', ['groups'], issues).entries()) {
    const path: Path = typeof v === 'string' ? ['groups'] : isObj(v) ? ['groups'] : ['groups', i];
    if (typeof item === 'string') {
      if (item !== '') add(item.trim(), [], path);
    } else if (isObj(item)) for (const [name, members] of Object.entries(item)) add(name, members, isObj(v) ? ['groups', name] : [...path, name]);
    else issues.warn('groups: an entry is not a group name or a {name: [members]} mapping; skipped', path);
  }
  return out;
}

function parseChpasswd(cp: Obj, issues: Issues): CloudPassword[] {
  checkKeys(cp, ACCOUNT_KEYS.chpasswd, ACCOUNT_UNSUPPORTED.chpasswd, 'chpasswd', ['chpasswd'], issues);
  const out: CloudPassword[] = [];
  const users = cp['users'];
  if (Array.isArray(users)) {
    capped(users, 'chpasswd.users', ['chpasswd', 'users'], issues).forEach((u, i) => {
      const path: Path = ['chpasswd', 'users', i];
      const where = `chpasswd.users[${i}]`;
      if (!isObj(u)) {
        issues.warn(`${where}: not a mapping with name, password and type; skipped`, path);
        return;
      }
      for (const k of Object.keys(u)) if (!['name', 'password', 'type'].includes(k)) issues.warn(`${where}: unknown key ${JSON.stringify(k.slice(0, 40))}; ignored`, [...path, k]);
      const name = str(u['name']);
      if (name === undefined || !NAME.test(name)) {
        issues.warn(`${where}: no valid name; skipped`, path);
        return;
      }
      const type = u['type'] === undefined ? 'hash' : str(u['type']);
      const value = u['password'];
      if (type === 'RANDOM' || value === undefined) {
        // cloud-init makes one up and prints it on the console; vmctx never writes a secret anywhere but /etc/shadow
        issues.warn(`${where}: a RANDOM password for ${name} is not supported (cloud-init prints it on the console; vmctx never shows a secret); skipped`, path);
        return;
      }
      if (type !== 'hash' && type !== 'text') {
        issues.warn(`${where}: type must be hash, text or RANDOM; skipped`, [...path, 'type']);
        return;
      }
      if (typeof value !== 'string' || value === '' || /[\r\n\0]/u.test(value)) {
        issues.warn(`${where}: password is not a one-line string; skipped`, [...path, 'password']);
        return;
      }
      if (type === 'hash' && !isCryptField(value)) {
        issues.warn(`${where}: type is hash but the password is not a crypt(3) hash; skipped`, [...path, 'password']);
        return;
      }
      out.push({ user: name, kind: type === 'hash' ? 'hash' : 'plain', value, line: issues.at(path).line });
    });
  } else if (users !== undefined && users !== null) issues.warn('chpasswd.users: not a list; ignored', ['chpasswd', 'users']);
  const list = cp['list'];
  if (list !== undefined && list !== null) {
    const lines = typeof list === 'string' ? list.split('\n') : Array.isArray(list) ? list.filter((l): l is string => typeof l === 'string') : [];
    if (typeof list !== 'string' && !Array.isArray(list)) issues.warn('chpasswd.list: not a list or a multi-line string; ignored', ['chpasswd', 'list']);
    for (const line of capped(lines.map((l) => l.trim()).filter((l) => l !== ''), 'chpasswd.list', ['chpasswd', 'list'], issues)) {
      const colon = line.indexOf(':');
      const user = line.slice(0, colon);
      const value = line.slice(colon + 1);
      if (colon < 1 || !NAME.test(user) || value === '' || /[\r\n\0]/u.test(value)) {
        issues.warn(`chpasswd: a line is not "user:password"; skipped`, ['chpasswd', 'list']);
        continue;
      }
      if (/^R(ANDOM)?$/u.test(value)) {
        issues.warn(`chpasswd: a RANDOM password for ${user} is not supported (cloud-init prints it on the console; vmctx never shows a secret); skipped`, ['chpasswd', 'list']);
        continue;
      }
      const read = classifyPassword(value);
      if (read.kind === 'invalid') issues.warn(`chpasswd: the value for ${user} ${read.reason}; skipped`, ['chpasswd', 'list']);
      else out.push({ user, kind: read.kind, value, line: issues.at(['chpasswd', 'list']).line });
    }
  }
  return out;
}

export function parseAccounts(doc: Obj, issues: Issues): CloudAccounts {
  const users: CloudUser[] = [];
  let usersDefault: CloudAccounts['usersDefault'];
  let rawUsers = doc['users'];
  // cloud-init's older forms (deprecated, still read): "a, b" and {name: true | {settings}}
  if (typeof rawUsers === 'string') rawUsers = [rawUsers];
  else if (isObj(rawUsers)) {
    const asList: unknown[] = [];
    for (const [name, v] of Object.entries(rawUsers)) {
      if (isObj(v)) asList.push({ ...v, name });
      else if (v === true || truthy(v)) asList.push(name);
      else if (v !== false && !(typeof v === 'string' && /^(no|false|0)$/iu.test(v))) issues.warn(`users: ${JSON.stringify(name.slice(0, 40))}: not true, false or a mapping; skipped`, ['users', name]);
    }
    rawUsers = asList;
  }
  if (Array.isArray(rawUsers)) {
    capped(rawUsers, 'users', ['users'], issues).forEach((u, i) => {
      if (u === 'default') {
        usersDefault = { line: issues.at(['users', i]).line };
        return;
      }
      const where = `users[${i}]`;
      const path = ['users', i];
      if (typeof u === 'string') {
        // cloud-init: a string names one user or several, comma-separated
        for (const n of u.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
          if (n === 'default') usersDefault = { line: issues.at(path).line };
          else {
            const parsed = parseUser({ name: n }, where, path, issues);
            if (parsed !== undefined) users.push(parsed);
          }
        }
        return;
      }
      if (!isObj(u)) {
        issues.warn(`${where}: not a user name or a mapping; skipped`, path);
        return;
      }
      const parsed = parseUser(u, where, path, issues);
      if (parsed === undefined) return;
      // cloud-init merges entries of the same name: the later one's keys win
      const before = users.findIndex((x) => x.name === parsed.name);
      if (before >= 0) {
        issues.warn(`${where}: ${parsed.name} is listed twice; this entry replaces the earlier one`, path);
        users.splice(before, 1);
      }
      users.push(parsed);
    });
  } else if (rawUsers !== undefined && rawUsers !== null) issues.warn('users: not a list, a mapping or a string of names; ignored', ['users']);

  let password: CloudAccounts['password'];
  const pw = doc['password'];
  if (pw !== undefined && pw !== null) {
    const value = str(pw);
    if (value === undefined || value === '' || /[\r\n\0]/u.test(value)) issues.warn('password: not a one-line string; ignored', ['password']);
    else if (/^R(ANDOM)?$/u.test(value)) issues.warn('password: a RANDOM password is not supported (cloud-init prints it on the console; vmctx never shows a secret); ignored', ['password']);
    else {
      const read = classifyPassword(value);
      if (read.kind === 'invalid') issues.warn(`password: ${read.reason}; ignored`, ['password']);
      else password = { kind: read.kind, value, line: issues.at(['password']).line };
    }
  }

  let chpasswd: CloudPassword[] = [];
  let chpasswdExpire: boolean | undefined;
  const cp = doc['chpasswd'];
  if (isObj(cp)) {
    chpasswd = parseChpasswd(cp, issues);
    if (cp['expire'] !== undefined) chpasswdExpire = bool(cp['expire'], 'chpasswd: expire', ['chpasswd', 'expire'], issues, true);
  } else if (cp !== undefined && cp !== null) issues.warn('chpasswd: not a mapping; ignored', ['chpasswd']);
  // cloud-init: the top-level password is used only when chpasswd gives no users and no list
  if (password !== undefined && chpasswd.length > 0) {
    issues.warn('password: ignored because chpasswd gives passwords (as cloud-init does)', ['password']);
    password = undefined;
  }

  let sshPwauth: boolean | undefined;
  const pa = doc['ssh_pwauth'];
  if (pa !== undefined && pa !== null) {
    if (typeof pa === 'string' && pa.trim().toLowerCase() === 'unchanged') sshPwauth = undefined;
    else if (typeof pa === 'boolean') sshPwauth = pa;
    else if (typeof pa === 'string' && /^(yes|true|1|on|no|false|0|off)$/iu.test(pa.trim())) sshPwauth = /^(yes|true|1|on)$/iu.test(pa.trim());
    else issues.warn('ssh_pwauth: not true, false or "unchanged"; sshd\'s PasswordAuthentication is left unchanged', ['ssh_pwauth']);
  }
  return { users, usersDefault, groups: parseGroups(doc['groups'], issues), password, chpasswd, chpasswdExpire, sshPwauth };
}
