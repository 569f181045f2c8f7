// cloud-config accounts: users, chpasswd (and, as the issues add them, groups, password, ssh_pwauth),
// parsed and validated into typed values; every unusable item reported at its line. Pure.
import { classifyPassword, isCryptField } from '../crypt.js';
import { type Issues, type Obj, capped, checkKeys, isObj, keys, str, truthy } from './common.js';

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

/** What this part reads from a cloud-config document. */
export interface CloudAccounts {
  readonly users: readonly CloudUser[];
  readonly chpasswd: readonly CloudPassword[];
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/u;
const SHELL = /^\/[A-Za-z0-9._/-]{1,255}$/u;

/** The keys this part applies: top level and within its mappings. */
export const ACCOUNT_KEYS = {
  top: ['users', 'chpasswd'],
  users: ['name', 'sudo', 'shell', 'ssh_authorized_keys', 'lock_passwd', 'passwd', 'hashed_passwd'],
  chpasswd: ['list'],
} as const;

/** Keys cloud-init documents within these mappings that vmctx does not apply. */
export const ACCOUNT_UNSUPPORTED = {
  users: [
    'create-groups', 'create_groups', 'doas', 'expiredate', 'gecos', 'groups', 'hashed-passwd', 'homedir', 'inactive', 'lock-passwd', 'no-create-home',
    'no-log-init', 'no-user-group', 'no_create_home', 'no_log_init', 'no_user_group', 'plain-text-passwd', 'plain_text_passwd', 'primary-group', 'primary_group',
    'selinux-user', 'selinux_user', 'snapuser', 'ssh-authorized-keys', 'ssh-import-id', 'ssh-redirect-user', 'ssh_import_id', 'ssh_redirect_user', 'system', 'uid',
  ],
  chpasswd: ['expire', 'users'],
} as const;

export function parseAccounts(doc: Obj, issues: Issues): CloudAccounts {
  const users: CloudUser[] = [];
  const rawUsers = doc['users'];
  if (Array.isArray(rawUsers)) {
    capped(rawUsers, 'users', ['users'], issues).forEach((u, i) => {
      if (u === 'default') return;
      const where = `users[${i}]`;
      const path = ['users', i];
      const entry: Obj | undefined = typeof u === 'string' ? { name: u } : isObj(u) ? u : undefined;
      if (entry !== undefined && isObj(u)) checkKeys(entry, ACCOUNT_KEYS.users, ACCOUNT_UNSUPPORTED.users, where, path, issues);
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
    checkKeys(cp, ACCOUNT_KEYS.chpasswd, ACCOUNT_UNSUPPORTED.chpasswd, 'chpasswd', ['chpasswd'], issues);
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
  return { users, chpasswd };
}
