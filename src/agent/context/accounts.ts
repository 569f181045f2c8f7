// The accounts the context asks for, from every source, in one typed model: the context's user
// (USERNAME and its variables), cloud-config `users`, `groups`, `password`, `chpasswd` and
// `ssh_pwauth`. Secrets only as Secret. The users and password modules apply it.
//
// The default user: cloud-init's `password:`, `users: [default]` and `chpasswd` act on the
// distro's default user (ubuntu, debian, … from cloud.cfg), and without one cloud-init sets no
// `password:` at all ("No default or defined user"). vmctx has no cloud.cfg: its default user is
// the context's account — USERNAME when given, else root (as OpenNebula's PASSWORD sets root's
// password when USERNAME is unset). Which account that is is said in a warning whenever
// cloud-config relies on it. Without USERNAME there is no default user for cloud-config: root is
// not one (`password:` is not applied to it; an explicit chpasswd entry for root still is).
//
// One account per name: when several documents (MIME parts, includes) list the same user, the
// later entry replaces the earlier one whole, as cloud-init's default merge replaces a list (its
// keys are not merged one by one), and a warning names the duplicate.
import type { CloudConfig } from '../../formats/cloudconfig.js';
import type { CloudGroup, CloudUser } from '../../formats/cc/users.js';
import { Secret } from '../../shared/secret.js';
import type { Account, Accounts, ContextWarning, GroupSpec, PasswordChange, PasswordSpec, UserSpec } from './types.js';

export type { Account, AccountPassword, Accounts, GroupSpec, PasswordChange } from './types.js';

export const SUDO_ALL = 'ALL=(ALL:ALL) NOPASSWD:ALL';

const where = (u: CloudUser): string => `users[${u.name}]${u.line === undefined ? '' : ` (line ${u.line})`}`;

function fromCloudUser(u: CloudUser, isDefault: boolean): Account {
  return {
    name: u.name,
    origin: where(u),
    isDefault,
    fromCloudConfig: true,
    gecos: u.gecos,
    home: u.homedir,
    // cloud-init: useradd -M for system accounts and no_create_home (a homedir is recorded, not made)
    createHome: !u.noCreateHome,
    primaryGroup: u.primaryGroup,
    groups: u.groups,
    createGroups: u.createGroups,
    noUserGroup: u.noUserGroup,
    noLogInit: u.noLogInit,
    system: u.system,
    uid: u.uid,
    shell: u.shell,
    shellFromVariable: false,
    sudo: u.sudo,
    lock: u.lockPasswd,
    password: u.password === undefined ? undefined : { kind: u.password.kind, secret: new Secret(u.password.value), origin: `${where(u)} ${u.password.key}`, newOnly: u.password.key === 'passwd' },
    keys: u.sshAuthorizedKeys,
    expiredate: u.expiredate,
    inactive: u.inactive,
  };
}

/** The accounts model from the context's user and password variables and the (merged) cloud-config. */
export function accountsFromContext(user: UserSpec, password: PasswordSpec | undefined, cc: CloudConfig | undefined, warnings: ContextWarning[]): Accounts {
  const variable = 'USER_DATA';
  const warn = (message: string, line?: number): void => {
    warnings.push({ variable, message, ...(line === undefined ? {} : { file: variable, line }) });
  };
  const defaultUser = user.name;
  const users: Account[] = [];
  const ccUsers: CloudUser[] = [];
  for (const u of cc?.users ?? []) {
    const before = ccUsers.findIndex((e) => e.name === u.name);
    if (before < 0) {
      ccUsers.push(u);
      continue;
    }
    const earlier = ccUsers[before];
    warn(`users[${u.name}]: ${u.name} is listed again${earlier?.line === undefined ? '' : ` (first at line ${earlier.line})`}: the later entry replaces the earlier one whole (its keys are not merged)`, u.line);
    ccUsers.splice(before, 1);
    ccUsers.push(u);
  }
  const own = ccUsers.find((u) => u.name === defaultUser);
  if (defaultUser !== 'root') {
    const base: Account = own === undefined
      ? {
          name: defaultUser, origin: 'USERNAME', isDefault: true, fromCloudConfig: false, gecos: undefined, home: undefined, createHome: true, primaryGroup: undefined, groups: [],
          createGroups: true, noUserGroup: false, noLogInit: false, system: false, uid: undefined, shell: undefined, shellFromVariable: false, sudo: [], lock: false,
          password: undefined, keys: [], expiredate: undefined, inactive: undefined,
        }
      : fromCloudUser(own, true);
    // the context's variables win over the cloud-config entry for the same account
    users.push({
      ...base,
      ...(user.shell === undefined ? {} : { shell: user.shell, shellFromVariable: true }),
      ...(user.sudo === undefined ? {} : { sudo: user.sudo ? (base.sudo.length > 0 ? base.sudo : [SUDO_ALL]) : [] }),
    });
    if (own !== undefined && user.sudo === false && own.sudo.length > 0) warn(`users[${own.name}]: sudo rules not written: USERNAME_SUDO/GRANT_SUDO says no for this account`, own.line);
  } else if (own !== undefined) {
    users.push(fromCloudUser(own, true));
  }
  for (const u of ccUsers) if (u.name !== defaultUser) users.push(fromCloudUser(u, false));
  if (cc?.usersDefault !== undefined && defaultUser === 'root') {
    warn('users: "default" is the distro\'s default user in cloud-init; vmctx\'s default user is the context\'s USERNAME, and none is given: root (nothing is created)', cc.usersDefault.line);
  }

  const groups: GroupSpec[] = (cc?.groups ?? []).map((g: CloudGroup) => ({ name: g.name, members: g.members, origin: `groups[${g.name}]${g.line === undefined ? '' : ` (line ${g.line})`}` }));

  const expire = cc?.chpasswdExpire ?? true;
  const passwords: PasswordChange[] = (cc?.chpasswd ?? []).map((p) => ({
    user: p.user, kind: p.kind, secret: new Secret(p.value), expire, origin: `chpasswd ${p.user}${p.line === undefined ? '' : ` (line ${p.line})`}`,
  }));
  const top = cc?.password;
  if (top !== undefined) {
    // cloud-init sets `password:` for the distro's unprivileged default user, and nothing without one: never root's
    if (defaultUser === 'root') warn('password: not applied: no default user (USERNAME is not set); cloud-init sets none either', top.line);
    else if (password !== undefined) warn(`password: not applied: the context's ${password.source} gives the password of ${defaultUser}, vmctx's default user`, top.line);
    else {
      passwords.push({ user: defaultUser, kind: top.kind, secret: new Secret(top.value), expire, origin: `password (line ${top.line ?? '?'})` });
      warn(`password: set for ${defaultUser}, vmctx's default user (${defaultUser === 'root' ? 'the context gives no USERNAME' : 'the context\'s USERNAME'})${expire ? '; expired: it must be changed at the first login (chpasswd.expire)' : ''}`, top.line);
    }
  }
  const accounts: Accounts = { defaultUser, users, groups, passwords, sshPwauth: cc?.sshPwauth };
  // an explicit lock_passwd: true that is not done (the default true is cloud-init's and needs no word)
  const given = accountsWithGivenPasswords(accounts, password);
  for (const u of ccUsers) {
    if (!u.lockPasswd || u.lockPasswdLine === undefined || !given.has(u.name)) continue;
    const from = u.password !== undefined ? `its own ${u.password.key}` : passwords.some((p) => p.user === u.name) ? 'chpasswd' : (password?.source ?? 'the context');
    warn(`users[${u.name}]: lock_passwd: true not applied: the context gives ${u.name} a password (${from}), and vmctx never locks a password the context gives`, u.lockPasswdLine);
  }
  return accounts;
}

/**
 * The accounts whose password the context itself gives: the context's password (PASSWORD, … for
 * its user), chpasswd and `password:`. The users module never locks them (lock_passwd defaults
 * to true for cloud-config users, and the password the context gives must stay usable).
 */
export function accountsWithContextPasswords(accounts: Accounts, contextPassword: PasswordSpec | undefined): Set<string> {
  const names = new Set<string>();
  if (contextPassword !== undefined) names.add(accounts.defaultUser);
  for (const p of accounts.passwords) names.add(p.user);
  return names;
}

/** The names of the accounts the context gives a password for (any source): such a password is never locked. */
export function accountsWithGivenPasswords(accounts: Accounts, contextPassword: PasswordSpec | undefined): Set<string> {
  const names = new Set<string>();
  if (contextPassword !== undefined) names.add(accounts.defaultUser);
  for (const u of accounts.users) if (u.password !== undefined || !u.lock) names.add(u.name);
  for (const p of accounts.passwords) names.add(p.user);
  return names;
}
