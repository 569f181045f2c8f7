// Users and first-boot passwords, with the distro's own tools (useradd, usermod, chpasswd; -R for
// an offline root), argv only. Secrets go to the tools on stdin and nowhere else.
import { parseCryptHash } from '../../formats/crypt.js';
import { parsePasswd, type PasswdEntry } from '../../formats/passwd.js';
import { fixedPasswordAccounts } from '../../formats/logins.js';
import { VmctxError } from '../../shared/errors.js';
import type { Secret } from '../../shared/secret.js';
import { secretFingerprint } from '../context/users.js';
import { accountsWithContextPasswords, accountsWithGivenPasswords } from '../context/accounts.js';
import { createHash } from 'node:crypto';
import { ensureOwnDir } from '../../host/owndir.js';
import { writableOnlyByRoot } from '../../host/root.js';
import { pathProblem, restartIfRunning, tool, unlinkIfSymlink } from './live.js';
import { parseSshdConfig } from '../../formats/sshdconfig.js';
import type { Account } from '../context/accounts.js';
import type { Context } from '../context/context.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';

export const SUDOERS_FILE = '/etc/sudoers.d/90-vmctx-users';

async function readPasswd(root: Target['root']): Promise<string> {
  return (await root.readText('/etc/passwd', { maxBytes: 16 * 1024 * 1024 })) ?? '';
}

async function passwdEntries(target: Pick<Target, 'root'>): Promise<PasswdEntry[]> {
  return parsePasswd(await readPasswd(target.root));
}

/** One line of /etc/passwd or /etc/shadow as its fields, by account name. */
async function fieldsOf(root: Target['root'], file: '/etc/passwd' | '/etc/shadow' | '/etc/group', name: string): Promise<string[] | undefined> {
  const text = (await root.readText(file, { maxBytes: 16 * 1024 * 1024 })) ?? '';
  return text.split('\n').find((l) => l.startsWith(`${name}:`))?.split(':');
}

const groupExists = async (root: Target['root'], name: string): Promise<boolean> => (await fieldsOf(root, '/etc/group', name)) !== undefined;
const memberOf = async (root: Target['root'], group: string, user: string): Promise<boolean> => ((await fieldsOf(root, '/etc/group', group))?.[3] ?? '').split(',').includes(user);

/** The first component of a home's path that is a symlink or not a directory, if any: a home is never made through a link. */
const linkOnPath = (root: Target['root'], path: string): Promise<string | undefined> => pathProblem(root, path, { rootControlled: false, lastMustBeDirectory: true });

/**
 * What the users and password modules applied to each account in this instance, as fingerprints
 * (secretFingerprint, salted with the instance id; never a secret): a password or a lock is
 * applied once per instance, and again only when that account's own spec changes, so a rerun
 * for another reason (a new user, ssh_pwauth) neither re-locks a password nor resets one the
 * user changed since. Root-only, in vmctx's own directory in the guest.
 */
export const APPLIED_NAME = 'accounts.applied';

interface Applied {
  readonly get: (key: string) => string | undefined;
  readonly set: (key: string, fingerprint: string) => void;
  readonly save: (out: OutcomeBuilder) => Promise<void>;
}

async function loadApplied(target: Target, instanceId: string): Promise<Applied> {
  // beside the module records (a fresh --state-dir applies everything again); without one, in the guest's /var/lib/vmctx
  const store = target.state ?? { root: target.root, dir: '/var/lib/vmctx' };
  const file = `${store.dir}/${APPLIED_NAME}`;
  let entries: Record<string, string> = {};
  try {
    const parsed = JSON.parse((await store.root.readText(file, { maxBytes: 4 * 1024 * 1024 })) ?? '{}') as { instanceId?: unknown; applied?: unknown };
    if (parsed.instanceId === instanceId && typeof parsed.applied === 'object' && parsed.applied !== null) {
      entries = Object.fromEntries(Object.entries(parsed.applied as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
    }
  } catch {
    // unreadable or damaged: everything is applied again, as on a new instance
  }
  return {
    get: (key) => entries[key],
    set: (key, fingerprint) => {
      entries[key] = fingerprint;
    },
    save: async (out) => {
      if (store.dir !== '') out.warnings.push(...(await ensureOwnDir(store.root, store.dir, 0o700)).map((r) => `repaired: ${r}`));
      await store.root.writeFile(file, `${JSON.stringify({ instanceId, applied: entries }, null, 2)}\n`, { mode: 0o600, noFollow: true });
    },
  };
}

const fingerprintOf = (spec: unknown): string => createHash('sha256').update(JSON.stringify(spec)).digest('base64');

/** The fingerprint of an account's own password and lock spec (what the users module applies to its shadow entry). */
function accountSpecFingerprint(a: Account, lock: boolean, instanceId: string): string {
  return fingerprintOf({ password: a.password === undefined ? null : { kind: a.password.kind, newOnly: a.password.newOnly, fingerprint: secretFingerprint(a.password.secret, instanceId) }, lock, fromCloudConfig: a.fromCloudConfig });
}

/**
 * Why a new account's home is not safe to adopt or make: a home that exists and someone else owns
 * (another local user made it: the account would live in their tree), or one directly inside a
 * directory others can write (world-writable, sticky or not: anyone can plant it or swap it).
 */
async function unsafeHome(root: Target['root'], home: string, uid: number | undefined): Promise<string | undefined> {
  const parent = home.replace(/\/[^/]+\/?$/u, '') || '/';
  const p = await root.lstat(parent);
  if (p !== undefined && !writableOnlyByRoot(p)) return `${parent} can be written by others than root (mode ${p.mode.toString(8)}, owner ${p.uid})`;
  const st = await root.lstat(home);
  if (st === undefined) return undefined;
  const self = process.geteuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== self && st.uid !== uid) return `${home} exists and belongs to uid ${st.uid}, not root or the account`;
  return undefined;
}

/** Days since the epoch of a YYYY-MM-DD date, as /etc/shadow keeps the expiry date. */
const epochDays = (date: string): number => Math.floor(Date.parse(`${date}T00:00:00Z`) / 86_400_000);

/** Sets an account's given password (before the lock decision); secrets on stdin only. */
async function setAccountPassword(target: Target, account: Account, created: boolean, out: OutcomeBuilder): Promise<boolean> {
  const pw = account.password;
  if (pw === undefined) return false;
  if (pw.newOnly && !created) {
    // a run after the one that made the account (the inputs changed): the hash is there already
    const field = (await fieldsOf(target.root, '/etc/shadow', account.name))?.[1] ?? '';
    if (pw.kind === 'hash' && field.replace(/^!/u, '') === pw.secret.reveal()) return false;
    out.warnings.push(`${account.origin}: passwd not set: ${account.name} exists already, and cloud-init sets passwd on a new account only (hashed_passwd or plain_text_passwd apply to an existing one)`);
    return false;
  }
  await setPassword(target, account.name, pw.kind, pw.secret);
  out.changedIf('/etc/shadow', true);
  return true;
}

/** What cloud-config asks of an account that exists already and cloud-init does not change (it changes only passwords, lock, sudo and keys). */
async function unchangedOfExisting(root: Target['root'], a: Account, entry: PasswdEntry): Promise<string[]> {
  const notes: string[] = [];
  const fields = await fieldsOf(root, '/etc/passwd', a.name);
  if (a.gecos !== undefined && fields?.[4] !== a.gecos) notes.push('gecos');
  if (a.home !== undefined && entry.home !== a.home) notes.push('homedir');
  if (a.uid !== undefined && entry.uid !== a.uid) notes.push('uid');
  if (a.shell !== undefined && !a.shellFromVariable && entry.shell !== a.shell) notes.push('shell');
  if (a.primaryGroup !== undefined && Number((await fieldsOf(root, '/etc/group', a.primaryGroup))?.[2] ?? -1) !== entry.gid) notes.push('primary_group');
  const missing: string[] = [];
  for (const g of a.groups) if (!(await memberOf(root, g, a.name))) missing.push(g);
  if (missing.length > 0) notes.push(`groups (${missing.join(', ')})`);
  const shadow = await fieldsOf(root, '/etc/shadow', a.name);
  if (a.expiredate !== undefined && shadow?.[7] !== String(epochDays(a.expiredate))) notes.push('expiredate');
  // useradd gives a system account no password aging, inactive included
  if (a.inactive !== undefined && !a.system && shadow?.[6] !== String(a.inactive)) notes.push('inactive');
  if (a.system && entry.uid >= 1000) notes.push('system');
  return notes;
}

/** The argv of useradd for a new account (no password: that goes to chpasswd on stdin). */
function useraddArgs(a: Account, shell: string | undefined, home: string | undefined, groups: readonly string[]): string[] {
  const args: string[] = [];
  const gecos = a.gecos ?? (a.fromCloudConfig ? undefined : 'created by vmctx');
  if (gecos !== undefined) args.push('--comment', gecos);
  if (home !== undefined) args.push('--home-dir', home);
  if (a.primaryGroup !== undefined) args.push('--gid', a.primaryGroup);
  if (a.uid !== undefined) args.push('--uid', String(a.uid));
  if (groups.length > 0) args.push('--groups', groups.join(','));
  if (shell !== undefined) args.push('--shell', shell);
  if (a.expiredate !== undefined) args.push('--expiredate', a.expiredate);
  if (a.inactive !== undefined) args.push('--inactive', String(a.inactive));
  if (a.noUserGroup) args.push('--no-user-group');
  else if (!a.fromCloudConfig && a.primaryGroup === undefined) args.push('--user-group');
  if (a.system) args.push('--system');
  if (a.noLogInit) args.push('--no-log-init');
  args.push(a.createHome ? '--create-home' : '--no-create-home', '--', a.name);
  return args;
}

/** The sudoers drop-in: each account's rules as cloud-init writes them ("NAME RULE"), each account's block checked by visudo alone. */
async function sudoersContent(target: Target, accounts: readonly Account[], out: OutcomeBuilder): Promise<string | undefined> {
  const visudo = await target.exec.which('visudo');
  const blocks: string[] = [];
  for (const a of accounts) {
    if (a.sudo.length === 0) continue;
    const block = `# User rules for ${a.name}\n${a.sudo.map((r) => `${a.name} ${r}`).join('\n')}\n`;
    if (visudo !== undefined) {
      const check = await target.exec.run(visudo, ['-c', '-q', '-f', '-'], { stdin: block, timeoutMs: 10_000 });
      if (check.code !== 0) {
        out.warnings.push(`${a.origin}: sudo rules rejected by visudo (${check.stderr.trim().split('\n')[0]?.slice(0, 200) ?? ''}); none written for ${a.name}`);
        continue;
      }
    }
    blocks.push(block);
  }
  if (blocks.length === 0) return undefined;
  return `# Managed by vmctx: sudo for the context's users (USERNAME_SUDO/GRANT_SUDO, cloud-config users).\n\n${blocks.join('\n')}`;
}

export const usersModule: Module = {
  id: 'users',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'accounts: USERNAME and cloud-config users and groups created (useradd, groupadd; argv only), their passwords, locks and sudo rules',
  isRelevant: () => true,
  inputs: (ctx) => ({
    name: ctx.user.name,
    shell: ctx.user.shell ?? null,
    sudo: ctx.user.sudo ?? null,
    users: ctx.accounts.users.map((a) => ({ ...a, origin: undefined, password: a.password === undefined ? null : { kind: a.password.kind, newOnly: a.password.newOnly, fingerprint: secretFingerprint(a.password.secret, ctx.instanceId) } })),
    groups: ctx.accounts.groups.map((g) => [g.name, g.members]),
    contextPasswords: [...accountsWithContextPasswords(ctx.accounts, ctx.password)].sort(),
  }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    // cloud-init: groups first, then users; vmctx adds the groups' members after the users, so a member made by `users` is found
    for (const g of ctx.accounts.groups) {
      if (await groupExists(root, g.name)) continue;
      await tool(target, 'groupadd', ['--', g.name]);
      out.changedIf('/etc/group', true);
      out.actions.push(`groupadd ${g.name}`);
    }
    const made: string[] = [];
    const applied = await loadApplied(target, ctx.instanceId);
    const contextPasswords = accountsWithContextPasswords(ctx.accounts, ctx.password);
    for (const a of ctx.accounts.users) {
      try {
        if (await applyAccount(target, a, out, { ctx, applied, contextPasswords })) made.push(a.name);
      } catch (error) {
        // the default user is what the context is about: its failure fails the module
        if (a.isDefault && !a.fromCloudConfig) throw error;
        out.warnings.push(`${a.origin}: ${error instanceof Error ? error.message : String(error)}; skipped`);
      }
    }
    for (const g of ctx.accounts.groups) {
      for (const member of g.members) {
        if ((await fieldsOf(root, '/etc/passwd', member)) === undefined) {
          out.warnings.push(`${g.origin}: member ${member} does not exist; not added`);
          continue;
        }
        if (await memberOf(root, g.name, member)) continue;
        await tool(target, 'usermod', ['--append', '--groups', g.name, '--', member]);
        out.changedIf('/etc/group', true);
      }
    }
    await applied.save(out);
    // sudo rules only for the accounts that exist (one skipped above gets none)
    const present = new Set((await passwdEntries(target)).map((e) => e.name));
    const content = await sudoersContent(target, ctx.accounts.users.filter((a) => present.has(a.name)), out);
    if (content !== undefined) {
      if ((await root.lstat('/etc/sudoers.d')) === undefined) out.warnings.push('sudo does not seem to be installed (/etc/sudoers.d is missing); the entry is written anyway');
      // cloud-init adds the include itself; vmctx leaves /etc/sudoers to its owner and says when the drop-in is not read
      const sudoers = await root.readText('/etc/sudoers', { maxBytes: 1024 * 1024 }).catch(() => undefined);
      if (sudoers !== undefined && !/^[#@]includedir[ \t]+\/etc\/sudoers\.d\/?[ \t]*$/mu.test(sudoers)) out.warnings.push(`/etc/sudoers does not include /etc/sudoers.d: the rules in ${SUDOERS_FILE} are not in effect`);
      out.changedIf(SUDOERS_FILE, (await root.writeFile(SUDOERS_FILE, content, { mode: 0o440 })).changed);
    } else if (await root.remove(SUDOERS_FILE)) {
      out.changedIf(SUDOERS_FILE, true);
    }
    log.info({ user: ctx.user.name, sudo: ctx.user.sudo ?? null, created: made, accounts: ctx.accounts.users.length, groups: ctx.accounts.groups.length }, 'users');
    return out.build();
  },
};

/** Creates or updates one account as cloud-init does; returns whether it was created. */
async function applyAccount(target: Target, a: Account, out: OutcomeBuilder, run: { ctx: Context; applied: Applied; contextPasswords: ReadonlySet<string> }): Promise<boolean> {
  const { root } = target;
  const existing = (await passwdEntries(target)).find((e) => e.name === a.name);
  let created = false;
  if (existing === undefined) {
    let shell = a.shell;
    if (shell === undefined && !a.fromCloudConfig) {
      shell = (await root.lstat('/bin/bash')) === undefined ? '/bin/sh' : '/bin/bash';
      if (shell === '/bin/sh') out.warnings.push(`${a.name}: no USERNAME_SHELL and no /bin/bash in this system: the shell is /bin/sh`);
    }
    if (a.shell !== undefined && (await root.lstat(a.shell)) === undefined) out.warnings.push(`${a.origin}: shell ${a.shell} does not exist in this system`);
    const home = a.home ?? (a.system ? undefined : `/home/${a.name}`);
    if (home !== undefined) {
      const link = await linkOnPath(root, home);
      if (link !== undefined) throw new VmctxError('ERR_MODULE', `${link}; refusing to create ${a.name} with ${home} as home`);
      const unsafe = await unsafeHome(root, home, a.uid);
      if (unsafe !== undefined) throw new VmctxError('ERR_MODULE', `${unsafe}; refusing to create ${a.name} with ${home} as home`);
    }
    const groups: string[] = [];
    for (const g of [...(a.primaryGroup === undefined ? [] : [a.primaryGroup]), ...a.groups]) {
      if (await groupExists(root, g)) {
        if (g !== a.primaryGroup || a.groups.includes(g)) groups.push(g);
        continue;
      }
      if (!a.createGroups) {
        out.warnings.push(`${a.origin}: group ${g} does not exist and create_groups is false; ${g === a.primaryGroup ? 'primary_group ignored' : 'not added'}`);
        continue;
      }
      await tool(target, 'groupadd', ['--', g]);
      out.changedIf('/etc/group', true);
      out.actions.push(`groupadd ${g}`);
      if (g !== a.primaryGroup || a.groups.includes(g)) groups.push(g);
    }
    const primary = a.primaryGroup !== undefined && (await groupExists(root, a.primaryGroup)) ? a.primaryGroup : undefined;
    await tool(target, 'useradd', useraddArgs({ ...a, primaryGroup: primary }, shell, home, groups.filter((g) => g !== primary)));
    out.changedIf('/etc/passwd', true);
    out.actions.push(`useradd ${a.name}`);
    created = true;
  } else {
    if (a.shellFromVariable && a.shell !== undefined) {
      if ((await root.lstat(a.shell)) === undefined) out.warnings.push(`USERNAME_SHELL: shell ${a.shell} does not exist in this system`);
      if (existing.shell !== a.shell) {
        await tool(target, 'usermod', ['--shell', a.shell, '--', a.name]);
        out.changedIf('/etc/passwd', true);
      }
    }
    if (a.fromCloudConfig) {
      const notes = await unchangedOfExisting(root, a, existing);
      if (notes.length > 0) out.warnings.push(`${a.origin}: ${a.name} exists already: ${notes.join(', ')} not changed (cloud-init changes only the password, its lock, sudo and keys of an existing account)`);
    }
  }
  // a password the context gives (its PASSWORD, chpasswd, password:) is never locked
  const lock = a.lock && !run.contextPasswords.has(a.name);
  // the password and lock: once per instance, again only when this account's own spec changes
  const key = `user:${a.name}`;
  const fingerprint = accountSpecFingerprint(a, lock, run.ctx.instanceId);
  if (!created && run.applied.get(key) === fingerprint) return created;
  const passwordSet = await setAccountPassword(target, a, created, out);
  if (!a.fromCloudConfig) {
    run.applied.set(key, fingerprint);
    return created;
  }
  // cloud-init: lock_passwd (default true) locks; false unlocks when a password is given or the account has one
  if (lock) {
    await tool(target, 'usermod', ['--lock', '--', a.name]);
    out.changedIf('/etc/shadow', true);
  } else if (!passwordSet && !run.contextPasswords.has(a.name)) {
    // (a password chpasswd or password: gives is set by the password module, after this one)
    const field = (await fieldsOf(root, '/etc/shadow', a.name))?.[1] ?? '';
    const usable = field.replace(/^!+/u, '');
    if (usable !== '' && usable !== '*' && field !== usable) {
      await tool(target, 'usermod', ['--unlock', '--', a.name]);
      out.changedIf('/etc/shadow', true);
    } else if (usable === '' || usable === '*') {
      out.warnings.push(`${a.origin}: lock_passwd is false but ${a.name} has no password and none is given: not unlocked`);
    }
  }
  run.applied.set(key, fingerprint);
  return created;
}

/** Accounts that can log in and carry a usable password hash (a fixed password baked in the image). */
async function accountsWithFixedPasswords(target: Pick<Target, 'root'>): Promise<string[]> {
  const shadow = (await target.root.readText('/etc/shadow', { maxBytes: 16 * 1024 * 1024 })) ?? '';
  return fixedPasswordAccounts(await readPasswd(target.root), shadow);
}

/** Sets a password: hashes go to chpasswd -e; plain text to chpasswd (live, PAM) or, offline, is hashed on this host first. Secrets on stdin only. */
async function setPassword(target: Target, user: string, kind: 'plain' | 'hash', secret: Secret): Promise<void> {
  let hash: string;
  if (kind === 'hash') hash = secret.reveal();
  else if (target.live) {
    // chpasswd hashes with the system's own method (PAM, login.defs)
    await tool(target, 'chpasswd', [], { stdin: `${user}:${secret.reveal()}\n`, secret });
    return;
  } else {
    // offline: the root's PAM cannot run here
    const r = await tool(target, 'openssl', ['passwd', '-6', '-stdin'], { stdin: `${secret.reveal()}\n`, secret, rootFlag: false });
    hash = r.stdout.trim();
    if (parseCryptHash(hash) !== 'sha512crypt') throw new VmctxError('ERR_MODULE', 'openssl passwd did not produce a SHA-512 crypt hash');
  }
  await tool(target, 'chpasswd', ['--encrypted'], { stdin: `${user}:${hash}\n`, secret });
}

export const passwordModule: Module = {
  id: 'password',
  needs: ['password', 'user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'first-boot password (per instance, again when the context\'s password changes), cloud-config chpasswd/password and ssh_pwauth; locks fixed image passwords of accounts the context gives none for',
  isRelevant: () => true,
  inputs: (ctx) => ({
    user: ctx.user.name,
    lock: ctx.user.lockPassword,
    expire: ctx.user.expirePassword,
    source: ctx.password?.source ?? null,
    fingerprint: ctx.password === undefined ? null : secretFingerprint(ctx.password.secret, ctx.instanceId),
    extra: ctx.accounts.passwords.map((p) => [p.user, p.kind, p.expire, secretFingerprint(p.secret, ctx.instanceId)]),
    given: [...accountsWithGivenPasswords(ctx.accounts, ctx.password)].sort(),
    sshPwauth: ctx.accounts.sshPwauth ?? null,
  }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const user = ctx.user.name;
    if (!(await passwdEntries(target)).some((e) => e.name === user)) throw new VmctxError('ERR_MODULE', `user ${user} does not exist`);
    const password = ctx.password;
    // each password (and lock) once per instance, again only when that account's own spec changes:
    // a rerun for another input (ssh_pwauth, another account) leaves a password the user changed alone
    const applied = await loadApplied(target, ctx.instanceId);
    const contextKey = `context:${user}`;
    const contextSpec = fingerprintOf({
      lock: ctx.user.lockPassword, expire: ctx.user.expirePassword, source: password?.source ?? null, kind: password?.kind ?? null,
      fingerprint: password === undefined ? null : secretFingerprint(password.secret, ctx.instanceId),
    });
    if (applied.get(contextKey) !== contextSpec) {
      if (ctx.user.lockPassword) {
        await tool(target, 'usermod', ['--lock', '--', user]);
        out.changedIf('/etc/shadow', true);
        out.actions.push(`password of ${user} locked (USERNAME_PASSWORD_RESET)`);
      } else if (password !== undefined) {
        await setPassword(target, user, password.kind, password.secret);
        if (ctx.user.expirePassword) await tool(target, 'chage', ['--lastday', '0', '--', user]);
        out.changedIf('/etc/shadow', true);
      }
      applied.set(contextKey, contextSpec);
    }
    // cloud-config chpasswd and the default user's `password:` (cloud-init's cc_set_passwords)
    const existing = new Set((await passwdEntries(target)).map((e) => e.name));
    const byUser = new Map<string, (typeof ctx.accounts.passwords)[number][]>();
    for (const change of ctx.accounts.passwords) byUser.set(change.user, [...(byUser.get(change.user) ?? []), change]);
    for (const [name, changes] of byUser) {
      if (!existing.has(name)) {
        for (const change of changes) out.warnings.push(`${change.origin}: user ${name} does not exist; skipped`);
        continue;
      }
      const key = `chpasswd:${name}`;
      const spec = fingerprintOf(changes.map((c) => [c.kind, c.expire, secretFingerprint(c.secret, ctx.instanceId)]));
      if (applied.get(key) === spec) continue;
      for (const change of changes) {
        await setPassword(target, name, change.kind, change.secret);
        // cloud-init expires hashed passwords too (since 22.3): the user must change it at the next login
        if (change.expire) await tool(target, 'chage', ['--lastday', '0', '--', name]);
      }
      out.changedIf('/etc/shadow', true);
      applied.set(key, spec);
    }
    // a password baked into the image is locked (once per instance), unless the context gives that account's password (any source) or keeps it (lock_passwd: false)
    if (applied.get('image-passwords') === undefined) {
      const given = accountsWithGivenPasswords(ctx.accounts, password);
      if (ctx.user.lockPassword) given.add(user);
      for (const name of await accountsWithFixedPasswords(target)) {
        if (given.has(name)) continue;
        await tool(target, 'usermod', ['--lock', '--', name]);
        out.changedIf('/etc/shadow', true);
        out.warnings.push(`${name} had a fixed password from the image and the context gives none: locked (log in with a key)`);
      }
      applied.set('image-passwords', 'locked');
    }
    await applied.save(out);
    await applySshPwauth(target, ctx.accounts.sshPwauth, out);
    log.info({ user, source: password?.source ?? null, locked: ctx.user.lockPassword, cloudConfigPasswords: ctx.accounts.passwords.length, sshPwauth: ctx.accounts.sshPwauth ?? null }, 'password');
    return out.build();
  },
};

export const SSHD_CONFIG = '/etc/ssh/sshd_config';
/** vmctx's sshd drop-in for ssh_pwauth (cloud-init's is 50-cloud-init.conf), used when sshd_config includes sshd_config.d. */
export const SSHD_DROPIN = '/etc/ssh/sshd_config.d/50-vmctx.conf';

/**
 * cloud-config ssh_pwauth: PasswordAuthentication yes/no. As cloud-init: a drop-in when
 * sshd_config includes sshd_config.d/*.conf, else sshd_config's own line(s) changed in place (put
 * before any Match block when there is none). `unchanged` (undefined) removes vmctx's drop-in only.
 * A running sshd is restarted (live systems only).
 */
async function applySshPwauth(target: Target, wanted: boolean | undefined, out: OutcomeBuilder): Promise<void> {
  const { root } = target;
  if (wanted === undefined) {
    if (await root.remove(SSHD_DROPIN)) out.changedIf(SSHD_DROPIN, true);
    return;
  }
  const value = wanted ? 'yes' : 'no';
  const config = await root.readText(SSHD_CONFIG, { maxBytes: 1024 * 1024 });
  const dirExists = (await root.lstat('/etc/ssh/sshd_config.d'))?.type === 'directory';
  const includes = config === undefined ? dirExists : config.split('\n').some((l) => /^\s*Include\s+\/etc\/ssh\/sshd_config\.d\/\*\.conf\s*$/iu.test(l));
  let changed: boolean;
  if (includes) {
    if (!dirExists) await root.ensureDir('/etc/ssh/sshd_config.d', { mode: 0o755 });
    // sshd takes the first value it reads: sshd_config's lines before the Include, then the drop-ins in order
    const before: string[] = [];
    const lines = (config ?? '').split('\n');
    const inc = lines.findIndex((l) => /^\s*Include\s/iu.test(l));
    if (parseSshdConfig(lines.slice(0, Math.max(inc, 0)).join('\n')).some((d) => !d.inMatch && d.keyword === 'passwordauthentication')) before.push(SSHD_CONFIG);
    for (const name of ((await root.readdir('/etc/ssh/sshd_config.d')) ?? []).filter((n) => n.endsWith('.conf') && n < '50-vmctx.conf').sort()) {
      const text = await root.readText(`/etc/ssh/sshd_config.d/${name}`, { maxBytes: 1024 * 1024 }).catch(() => undefined);
      if (text !== undefined && parseSshdConfig(text).some((d) => !d.inMatch && d.keyword === 'passwordauthentication')) before.push(`/etc/ssh/sshd_config.d/${name}`);
    }
    if (before.length > 0) out.warnings.push(`ssh_pwauth: ${before.join(', ')} sets PasswordAuthentication before ${SSHD_DROPIN} is read, and sshd uses the first value: PasswordAuthentication ${value} may not take effect`);
    await unlinkIfSymlink(root, SSHD_DROPIN, out);
    changed = (await root.writeFile(SSHD_DROPIN, `# Managed by vmctx: cloud-config ssh_pwauth.\nPasswordAuthentication ${value}\n`, { mode: 0o600 })).changed;
    out.changedIf(SSHD_DROPIN, changed);
  } else {
    if (config === undefined) {
      out.warnings.push(`ssh_pwauth: ${SSHD_CONFIG} does not exist (is sshd installed?); PasswordAuthentication not set`);
      return;
    }
    const st = await root.lstat(SSHD_CONFIG);
    const lines = config.replace(/\n$/u, '').split('\n');
    let inMatch = false;
    let found = false;
    let firstMatch = -1;
    const next: string[] = [];
    for (const [i, line] of lines.entries()) {
      const m = /^(\s*)(\S+?)(\s*=\s*|\s+)(.*)$/u.exec(line);
      const key = m === null || line.trim().startsWith('#') ? '' : (m[2] ?? '').toLowerCase();
      if (key === 'match') {
        inMatch = true;
        if (firstMatch < 0) firstMatch = i;
      }
      if (key !== 'passwordauthentication' || inMatch || m === null) {
        next.push(line);
        continue;
      }
      found = true;
      next.push(`${m[1] ?? ''}${m[2] ?? ''} ${value}`);
    }
    if (!found) next.splice(firstMatch < 0 ? next.length : firstMatch, 0, `PasswordAuthentication ${value}`);
    changed = (await root.writeFile(SSHD_CONFIG, `${next.join('\n')}\n`, { mode: st === undefined ? 0o644 : st.mode & 0o7777 })).changed;
    out.changedIf(SSHD_CONFIG, changed);
  }
  if (changed) await restartIfRunning(target, out, ['ssh.service', 'sshd.service'], ['ssh', 'sshd']);
}
