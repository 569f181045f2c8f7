// Users and first-boot passwords, with the distro's own tools (useradd, usermod, chpasswd; -R for
// an offline root), argv only. Secrets go to the tools on stdin and nowhere else.
import { parseCryptHash } from '../../formats/crypt.js';
import { parsePasswd, type PasswdEntry } from '../../formats/passwd.js';
import { fixedPasswordAccounts } from '../../formats/logins.js';
import { VmctxError } from '../../shared/errors.js';
import type { Secret } from '../../shared/secret.js';
import { secretFingerprint } from '../context/users.js';
import { tool } from './live.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';

export const SUDOERS_FILE = '/etc/sudoers.d/90-vmctx-users';

async function readPasswd(root: Target['root']): Promise<string> {
  return (await root.readText('/etc/passwd', { maxBytes: 16 * 1024 * 1024 })) ?? '';
}

async function passwdEntries(target: Pick<Target, 'root'>): Promise<PasswdEntry[]> {
  return parsePasswd(await readPasswd(target.root));
}

export const usersModule: Module = {
  id: 'users',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'USERNAME created when missing (shell, home in /home), sudo from USERNAME_SUDO/GRANT_SUDO',
  isRelevant: () => true,
  inputs: (ctx) => ({ name: ctx.user.name, shell: ctx.user.shell ?? null, sudo: ctx.user.sudo ?? null, extra: ctx.extraUsers }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const spec = ctx.user;
    const ensureUser = async (name: string, wantedShell: string | undefined, what: string): Promise<boolean> => {
      const existing = (await passwdEntries(target)).find((e) => e.name === name);
      const shell = wantedShell ?? ((await root.lstat('/bin/bash')) === undefined ? '/bin/sh' : '/bin/bash');
      if (wantedShell !== undefined && (await root.lstat(wantedShell)) === undefined) out.warnings.push(`${what} shell ${wantedShell} does not exist in this system`);
      if (existing === undefined) {
        const home = `/home/${name}`;
        const homeEntry = await root.lstat(home);
        if (homeEntry?.type === 'symlink') throw new VmctxError('ERR_MODULE', `${home} is a symlink (to ${homeEntry.linkTarget ?? '?'}); refusing to create ${name} with it as home`);
        await tool(target, 'useradd', ['--create-home', '--home-dir', home, '--shell', shell, '--user-group', '--comment', 'created by vmctx', '--', name]);
        out.changedIf('/etc/passwd', true);
        out.actions.push(`useradd ${name}`);
        return true;
      }
      if (wantedShell !== undefined && existing.shell !== wantedShell) {
        await tool(target, 'usermod', ['--shell', wantedShell, '--', name]);
        out.changedIf('/etc/passwd', true);
      }
      return false;
    };
    if (spec.name !== 'root') await ensureUser(spec.name, spec.shell, 'USERNAME_SHELL:');
    // cloud-config users: created, their password hash set or the password locked (cloud-init's default)
    for (const user of ctx.extraUsers) {
      await ensureUser(user.name, user.shell, `users[${user.name}]:`);
      if (user.passwdHash !== undefined) await tool(target, 'chpasswd', ['--encrypted'], { stdin: `${user.name}:${user.passwdHash}\n` });
      else if (user.lockPasswd) await tool(target, 'usermod', ['--lock', '--', user.name]);
    }
    const sudoers = [...(spec.sudo === true && spec.name !== 'root' ? [spec.name] : []), ...ctx.extraUsers.filter((u) => u.sudo).map((u) => u.name)];
    if (sudoers.length > 0) {
      const content = `# Managed by vmctx: sudo for the context's users (USERNAME_SUDO/GRANT_SUDO, cloud-config users).\n${sudoers.map((n) => `${n} ALL=(ALL:ALL) NOPASSWD:ALL`).join('\n')}\n`;
      const visudo = await target.exec.which('visudo');
      if (visudo !== undefined) {
        const check = await target.exec.run(visudo, ['-c', '-q', '-f', '-'], { stdin: content, timeoutMs: 10_000 });
        if (check.code !== 0) throw new VmctxError('ERR_MODULE', `visudo rejected the sudoers entry: ${check.stderr.trim().slice(0, 200)}`);
      }
      if ((await root.lstat('/etc/sudoers.d')) === undefined) out.warnings.push('sudo does not seem to be installed (/etc/sudoers.d is missing); the entry is written anyway');
      out.changedIf(SUDOERS_FILE, (await root.writeFile(SUDOERS_FILE, content, { mode: 0o440 })).changed);
    } else if (await root.remove(SUDOERS_FILE)) {
      out.changedIf(SUDOERS_FILE, true);
    }
    log.info({ user: spec.name, sudo: spec.sudo ?? null }, 'users');
    return out.build();
  },
};

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
  description: 'first-boot password (per instance, again when the context\'s password changes); locks fixed image passwords',
  isRelevant: () => true,
  inputs: (ctx) => ({
    user: ctx.user.name,
    lock: ctx.user.lockPassword,
    expire: ctx.user.expirePassword,
    source: ctx.password?.source ?? null,
    fingerprint: ctx.password === undefined ? null : secretFingerprint(ctx.password.secret, ctx.instanceId),
    extra: ctx.extraPasswords.map((p) => [p.user, secretFingerprint(p.secret, ctx.instanceId)]),
  }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const user = ctx.user.name;
    if (!(await passwdEntries(target)).some((e) => e.name === user)) throw new VmctxError('ERR_MODULE', `user ${user} does not exist`);
    const password = ctx.password;
    if (ctx.user.lockPassword) {
      await tool(target, 'usermod', ['--lock', '--', user]);
      out.changedIf('/etc/shadow', true);
      out.actions.push(`password of ${user} locked (USERNAME_PASSWORD_RESET)`);
    } else if (password !== undefined) {
      await setPassword(target, user, password.kind, password.secret);
      if (ctx.user.expirePassword) await tool(target, 'chage', ['--lastday', '0', '--', user]);
      out.changedIf('/etc/shadow', true);
    } else if (ctx.extraPasswords.length === 0) {
      for (const name of await accountsWithFixedPasswords(target)) {
        await tool(target, 'usermod', ['--lock', '--', name]);
        out.changedIf('/etc/shadow', true);
        out.warnings.push(`${name} had a fixed password from the image and the context gives none: locked (log in with a key)`);
      }
    }
    // cloud-config chpasswd
    const existing = new Set((await passwdEntries(target)).map((e) => e.name));
    for (const extra of ctx.extraPasswords) {
      if (!existing.has(extra.user)) {
        out.warnings.push(`chpasswd: user ${extra.user} does not exist; skipped`);
        continue;
      }
      await setPassword(target, extra.user, extra.kind, extra.secret);
      out.changedIf('/etc/shadow', true);
    }
    log.info({ user, source: password?.source ?? null, locked: ctx.user.lockPassword, cloudConfigUsers: ctx.extraPasswords.length }, 'password');
    return out.build();
  },
};
