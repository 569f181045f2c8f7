// Accounts from cloud-config applied as cloud-init would (cc_users_groups, cc_set_passwords), with
// the real useradd/groupadd/usermod/chpasswd/chage -R on a temp root.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passwordModule, SSHD_DROPIN, SUDOERS_FILE, usersModule } from '../../../src/agent/modules/users.js';
import { sshKeysModule } from '../../../src/agent/modules/sshkeys.js';
import type { Module, ModuleOutcome } from '../../../src/agent/modules/module.js';
import { formatWarning, type Context } from '../../../src/agent/context/context.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { debianRoot, fakeKey } from '../../helpers/scratch.js';
import { cryptMatches } from '../../helpers/tools.js';

const log = createLogger(undefined);
const hashOf = (password: string, salt: string): string => execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n` }).toString().trim();

async function applyAll(root: string, vars: Record<string, string>, modules: readonly Module[] = [usersModule, passwordModule, sshKeysModule]): Promise<{ ctx: Context; outcomes: ModuleOutcome[]; warnings: string[] }> {
  const ctx = await contextOf(vars);
  const target = { root: new DirectoryRoot(root), exec: new HostExec(), live: false };
  const outcomes: ModuleOutcome[] = [];
  for (const m of modules) outcomes.push(await m.apply(ctx, target, log));
  return { ctx, outcomes, warnings: outcomes.flatMap((o) => o.warnings) };
}
const cc = (yaml: string, vars: Record<string, string> = {}): Record<string, string> => ({ ...vars, USER_DATA: `#cloud-config\n${yaml}` });
const lines = async (root: string, file: string): Promise<string[]> => (await readFile(join(root, file), 'utf8')).split('\n').filter((l) => l !== '');
const entry = async (root: string, file: string, name: string): Promise<string[]> => (await lines(root, file)).find((l) => l.startsWith(`${name}:`))?.split(':') ?? [];
const days = (date: string): string => String(Date.parse(`${date}T00:00:00Z`) / 86_400_000);

/** debianRoot plus what an Ubuntu image has that the example refers to: the sys account and the users group. */
async function ubuntuishRoot(): Promise<string> {
  const root = await debianRoot();
  const add = async (file: string, line: string): Promise<void> => writeFile(join(root, file), `${await readFile(join(root, file), 'utf8')}${line}\n`);
  await add('etc/passwd', 'sys:x:3:3:sys:/dev:/usr/sbin/nologin');
  await add('etc/shadow', 'sys:*:19000:0:99999:7:::');
  await add('etc/group', 'sys:x:3:\nusers:x:100:');
  await add('etc/gshadow', 'sys:*::\nusers:*::');
  await writeFile(join(root, 'etc/login.defs'), 'UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nSYS_UID_MIN 100\nSYS_UID_MAX 999\nSYS_GID_MIN 100\nSYS_GID_MAX 999\nUSERGROUPS_ENAB yes\nENCRYPT_METHOD SHA512\n');
  return root;
}

describe('cloud-init\'s users and groups example (our own document of its shape)', () => {
  it('groups, users with gecos, primary group, groups, expiry, given hash, sudo rules, homedir, system account, keys; the unsupported keys named at their lines', async () => {
    const root = await ubuntuishRoot();
    const hash = hashOf('quux-secret', 'Qx7salt1');
    const k1 = fakeKey('ssh-ed25519', 'corge@example');
    const k2 = fakeKey('ssh-ed25519', 'garply@example');
    const doc = `groups:
  - opsgroup: [root, sys]
  - web-users
users:
  - default
  - name: quux
    gecos: Quux Q. Example
    primary_group: quux
    groups: users
    selinux_user: staff_u
    expiredate: '2031-01-15'
    ssh_import_id:
      - gh:someone
    lock_passwd: false
    passwd: ${hash}
  - name: corge
    gecos: Corge C. Example
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    groups: users, admin
    lock_passwd: true
    ssh_authorized_keys:
      - ${k1}
  - name: grault
    gecos: Mr. Grault
    homedir: /srv/graultdir
    uid: 2345
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
  - name: daemonish
    gecos: Some App Daemon
    inactive: '5'
    system: true
  - name: garply
    shell: /bin/bash
    ssh_authorized_keys:
      - ${k2}
  - snapuser: joe@example.org
  - name: waldo
    ssh_redirect_user: true
`;
    const { ctx, warnings } = await applyAll(root, cc(doc));
    // every key not applied is named at its line (the user data starts at line 2: "#cloud-config" is line 1)
    const named = ctx.warnings.map(formatWarning);
    expect(named).toEqual(expect.arrayContaining([
      expect.stringMatching(/^USER_DATA:11:\d+: warning: users\[1\]: key "selinux_user" is not supported by vmctx/u),
      expect.stringMatching(/^USER_DATA:13:\d+: warning: users\[1\]: key "ssh_import_id" is not supported by vmctx \(importing keys/u),
      expect.stringMatching(/^USER_DATA:37:\d+: warning: users\[6\]: key "snapuser" is not supported/u),
      expect.stringMatching(/^USER_DATA:37:\d+: warning: users\[6\]: no valid name/u),
      expect.stringMatching(/^USER_DATA:39:\d+: warning: users\[7\]: key "ssh_redirect_user" is not supported/u),
      expect.stringMatching(/^USER_DATA:6: warning: users: "default" is the distro's default user in cloud-init; vmctx's default user is the context's USERNAME, and none is given: root/u),
    ]));
    expect(warnings).toEqual([]);

    const group = (name: string) => entry(root, 'etc/group', name);
    expect((await group('opsgroup'))[3]).toBe('root,sys');
    expect((await group('web-users'))[3]).toBe('');
    expect((await group('users'))[3]).toBe('quux,corge');
    expect((await group('admin'))[3]).toBe('corge');
    expect((await entry(root, 'etc/gshadow', 'users'))[3]).toBe('quux,corge');
    expect((await entry(root, 'etc/gshadow', 'opsgroup'))[3]).toBe('root,sys');

    const quux = await entry(root, 'etc/passwd', 'quux');
    expect(quux.slice(3, 6)).toEqual([(await group('quux'))[2], 'Quux Q. Example', '/home/quux']);
    const quuxShadow = await entry(root, 'etc/shadow', 'quux');
    // the given hash, not locked (lock_passwd: false), and the expiry date in days
    expect(quuxShadow[1]).toBe(hash);
    expect(quuxShadow[7]).toBe(days('2031-01-15'));
    expect((await stat(join(root, 'home/quux'))).uid).toBe(Number(quux[2]));

    const corge = await entry(root, 'etc/passwd', 'corge');
    expect(corge.slice(4, 6)).toEqual(['Corge C. Example', '/home/corge']);
    expect((await entry(root, 'etc/shadow', 'corge'))[1]).toBe('!');
    const corgeKeys = join(root, 'home/corge/.ssh/authorized_keys');
    expect(await readFile(corgeKeys, 'utf8')).toContain(k1);
    expect((await stat(corgeKeys)).uid).toBe(Number(corge[2]));

    const grault = await entry(root, 'etc/passwd', 'grault');
    expect([grault[2], ...grault.slice(4, 6)]).toEqual(['2345', 'Mr. Grault', '/srv/graultdir']);
    expect((await stat(join(root, 'srv/graultdir'))).uid).toBe(Number(grault[2]));

    const daemonish = await entry(root, 'etc/passwd', 'daemonish');
    expect(Number(daemonish[2])).toBeLessThan(1000);
    expect(daemonish[4]).toBe('Some App Daemon');
    expect(await readdir(join(root, 'home'))).not.toContain('daemonish');
    // useradd --system gives no password aging: --inactive is dropped, as it is under cloud-init (the same useradd call)
    expect((await entry(root, 'etc/shadow', 'daemonish'))[6]).toBe('');

    expect((await entry(root, 'etc/passwd', 'garply'))[6]).toBe('/bin/bash');
    expect(await readFile(join(root, 'home/garply/.ssh/authorized_keys'), 'utf8')).toContain(k2);
    expect((await entry(root, 'etc/shadow', 'waldo'))[1]).toBe('!');

    const sudoers = await readFile(join(root, SUDOERS_FILE), 'utf8');
    expect(sudoers.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual(['corge ALL=(ALL) NOPASSWD:ALL', 'grault ALL=(ALL) NOPASSWD:ALL']);
    expect(sudoers).toContain('# User rules for corge\n');
    expect((await stat(join(root, SUDOERS_FILE))).mode & 0o777).toBe(0o440);
    expect(execFileSync('visudo', ['-c', '-q', '-f', join(root, SUDOERS_FILE)]).toString()).toBe('');
    // gecos becomes no "created by vmctx" for any of them
    expect((await readFile(join(root, 'etc/passwd'), 'utf8'))).not.toContain('created by vmctx');
    // a second run (the inputs changed, say) finds every account as it left it: nothing to say, nothing different
    const files = async () => Promise.all(['etc/passwd', 'etc/shadow', 'etc/group', 'etc/gshadow', SUDOERS_FILE].map((f) => readFile(join(root, f), 'utf8')));
    const first = await files();
    expect((await applyAll(root, cc(doc))).warnings).toEqual([]);
    expect(await files()).toEqual(first);
  });
});

describe('passwords: given ones never locked; chpasswd, password, expire', () => {
  it('users[foobar] with passwd and lock_passwd false keeps the hash usable, even with an image password locked beside it', async () => {
    const root = await ubuntuishRoot();
    const hash = hashOf('foobar-pw', 'F00barSa');
    const fixed = hashOf('image-default', 'ImAgEsLt');
    await writeFile(join(root, 'etc/shadow'), (await readFile(join(root, 'etc/shadow'), 'utf8')).replace(/^root:\*:/mu, `root:${fixed}:`));
    const { warnings } = await applyAll(root, cc(`users:\n  - name: foobar\n    passwd: "${hash}"\n    lock_passwd: false\n`));
    expect((await entry(root, 'etc/shadow', 'foobar'))[1]).toBe(hash);
    expect((await entry(root, 'etc/shadow', 'root'))[1]).toBe(`!${fixed}`);
    expect(warnings).toEqual(['root had a fixed password from the image and the context gives none: locked (log in with a key)']);
  });

  it('a context PASSWORD for USERNAME does not keep another account\'s image password: only the given one stays usable', async () => {
    const root = await ubuntuishRoot();
    const fixed = hashOf('image-default', 'ImAgEsLt');
    await writeFile(join(root, 'etc/shadow'), (await readFile(join(root, 'etc/shadow'), 'utf8')).replace(/^root:\*:/mu, `root:${fixed}:`));
    await applyAll(root, { USERNAME: 'alice', PASSWORD: 'alice-pw' });
    expect(cryptMatches((await entry(root, 'etc/shadow', 'alice'))[1] ?? '', 'alice-pw')).toBe(true);
    expect((await entry(root, 'etc/shadow', 'root'))[1]).toBe(`!${fixed}`);
  });

  it('chpasswd.users: hash and text, expire true (lastchg 0) and false; RANDOM named as not supported; a missing user said', async () => {
    const hash = hashOf('bob-pw', 'BobSalt1');
    const users = `users: [bob, carol]\nchpasswd:\n  users:\n    - {name: bob, password: "${hash}"}\n    - {name: carol, password: carol-pw, type: text}\n    - {name: dave, type: RANDOM}\n    - {name: ghost, password: x, type: text}\n`;
    for (const expire of [true, false]) {
      const root = await ubuntuishRoot();
      const { ctx, warnings } = await applyAll(root, cc(`${users}  expire: ${expire}\n`));
      expect(ctx.warnings.map(formatWarning)).toContainEqual(expect.stringMatching(/^USER_DATA:7:\d+: warning: chpasswd\.users\[2\]: a RANDOM password for dave is not supported/u));
      expect(warnings).toContainEqual(expect.stringMatching(/^chpasswd ghost \(line 8\): user ghost does not exist; skipped$/u));
      // bob and carol get their passwords from chpasswd: nothing is said about a lock or a missing password
      expect(warnings.filter((w) => /lock|no password/u.test(w))).toEqual([]);
      const bob = await entry(root, 'etc/shadow', 'bob');
      const carol = await entry(root, 'etc/shadow', 'carol');
      expect(bob[1]).toBe(hash);
      expect(cryptMatches(carol[1] ?? '', 'carol-pw')).toBe(true);
      expect([bob[2] === '0', carol[2] === '0']).toEqual([expire, expire]);
    }
  });

  it('top-level password: the context\'s USERNAME (expired by default); never root without USERNAME (an explicit chpasswd for root applies); the context\'s PASSWORD wins', async () => {
    let root = await ubuntuishRoot();
    let r = await applyAll(root, cc('password: top-Secret1\n', { USERNAME: 'alice' }));
    let alice = await entry(root, 'etc/shadow', 'alice');
    expect(cryptMatches(alice[1] ?? '', 'top-Secret1')).toBe(true);
    expect(alice[2]).toBe('0');
    expect(r.ctx.warnings.map(formatWarning)).toContainEqual(expect.stringMatching(/^USER_DATA:2: warning: password: set for alice, vmctx's default user \(the context's USERNAME\); expired/u));

    root = await ubuntuishRoot();
    const rootBefore = await entry(root, 'etc/shadow', 'root');
    r = await applyAll(root, cc('password: top-Secret2\nchpasswd: {expire: false}\n'));
    expect(await entry(root, 'etc/shadow', 'root')).toEqual(rootBefore);
    expect(r.ctx.warnings.map(formatWarning)).toContain('USER_DATA:2: warning: password: not applied: no default user (USERNAME is not set); cloud-init sets none either');
    // an explicit chpasswd entry for root is applied
    root = await ubuntuishRoot();
    r = await applyAll(root, cc('password: top-Secret2\nchpasswd: {expire: false, users: [{name: root, password: root-Secret4, type: text}]}\n'));
    expect(cryptMatches((await entry(root, 'etc/shadow', 'root'))[1] ?? '', 'root-Secret4')).toBe(true);

    root = await ubuntuishRoot();
    r = await applyAll(root, cc('password: top-Secret3\n', { USERNAME: 'alice', PASSWORD: 'from-context' }));
    alice = await entry(root, 'etc/shadow', 'alice');
    expect(cryptMatches(alice[1] ?? '', 'from-context')).toBe(true);
    expect(alice[2]).not.toBe('0');
    expect(r.ctx.warnings.map((w) => w.message)).toContain('password: not applied: the context\'s PASSWORD gives the password of alice, vmctx\'s default user');
  });

  it('the password module re-applies when a chpasswd password changes (a fingerprint, never the secret, in its inputs)', async () => {
    const a = await contextOf(cc('chpasswd:\n  users: [{name: alice, password: one-Secret, type: text}]\n'));
    const b = await contextOf(cc('chpasswd:\n  users: [{name: alice, password: two-Secret, type: text}]\n'));
    const ia = JSON.stringify(passwordModule.inputs(a));
    expect(ia).not.toBe(JSON.stringify(passwordModule.inputs(b)));
    expect(ia).not.toContain('one-Secret');
    const ua = JSON.stringify(usersModule.inputs(await contextOf(cc('users: [{name: bob, plain_text_passwd: p-Secret}]\n'))));
    expect(ua).not.toContain('p-Secret');
    expect(ua).not.toBe(JSON.stringify(usersModule.inputs(await contextOf(cc('users: [{name: bob, plain_text_passwd: q-Secret}]\n')))));
  });
});

describe('secrets on stdin only', () => {
  it('no password or hash of users, chpasswd or password: reaches an argv', async () => {
    const root = await ubuntuishRoot();
    const hash = hashOf('hashed-one', 'HaShSalt');
    const secrets = ['Plain-Text-1x', hash, 'Chpasswd-Text-2y', 'Top-Level-3z'];
    const ctx = await contextOf(cc(`users:\n  - {name: p1, plain_text_passwd: ${secrets[0]}, lock_passwd: false}\n  - {name: p2, hashed_passwd: "${hash}"}\nchpasswd:\n  users: [{name: p2, password: ${secrets[2]}, type: text}]\n`, { USERNAME: 'alice' }));
    const top = await contextOf(cc(`password: ${secrets[3]}\n`, { USERNAME: 'alice' }));
    const argvs: string[][] = [];
    const host = new HostExec();
    const target = { root: new DirectoryRoot(root), live: false, exec: { which: (n: string) => host.which(n), run: (p: string, a: readonly string[], o: Parameters<HostExec['run']>[2]) => (argvs.push([p, ...a]), host.run(p, a, o)) } };
    for (const m of [usersModule, passwordModule]) await m.apply(ctx, target, log);
    expect(cryptMatches((await entry(root, 'etc/shadow', 'p1'))[1] ?? '', secrets[0] ?? '')).toBe(true);
    for (const m of [usersModule, passwordModule]) await m.apply(top, target, log);
    expect(argvs.some((a) => a[0]?.endsWith('chpasswd') === true)).toBe(true);
    for (const secret of secrets) expect(argvs.filter((a) => a.join(' ').includes(secret))).toEqual([]);
    expect(cryptMatches((await entry(root, 'etc/shadow', 'alice'))[1] ?? '', secrets[3] ?? '')).toBe(true);
  });
});

describe('ssh_pwauth', () => {
  it('true with sshd_config including sshd_config.d: a drop-in; unchanged later removes it', async () => {
    const root = await ubuntuishRoot();
    await mkdir(join(root, 'etc/ssh/sshd_config.d'));
    const before = await readFile(join(root, 'etc/ssh/sshd_config'), 'utf8');
    await applyAll(root, cc('ssh_pwauth: true\n'), [passwordModule]);
    expect(await readFile(join(root, SSHD_DROPIN), 'utf8')).toMatch(/^PasswordAuthentication yes$/mu);
    expect((await stat(join(root, SSHD_DROPIN))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(root, 'etc/ssh/sshd_config'), 'utf8')).toBe(before);
    await applyAll(root, cc('ssh_pwauth: unchanged\n'), [passwordModule]);
    expect(await readdir(join(root, 'etc/ssh/sshd_config.d'))).toEqual([]);
  });

  it('a drop-in read before vmctx\'s that sets PasswordAuthentication is named', async () => {
    const root = await ubuntuishRoot();
    await mkdir(join(root, 'etc/ssh/sshd_config.d'));
    await writeFile(join(root, 'etc/ssh/sshd_config.d/10-image.conf'), 'PasswordAuthentication no\n');
    const { warnings } = await applyAll(root, cc('ssh_pwauth: yes\n'), [passwordModule]);
    expect(warnings).toEqual([expect.stringMatching(/^ssh_pwauth: \/etc\/ssh\/sshd_config\.d\/10-image\.conf sets PasswordAuthentication before/u)]);
  });

  it('false without an Include: sshd_config\'s own line changed in place (not those in a Match block); none there: added before the first Match', async () => {
    const root = await ubuntuishRoot();
    await writeFile(join(root, 'etc/ssh/sshd_config'), 'Port 22\n#PasswordAuthentication yes\nPasswordAuthentication yes\nMatch User backup\n  PasswordAuthentication yes\n');
    await chmod(join(root, 'etc/ssh/sshd_config'), 0o640);
    await applyAll(root, cc('ssh_pwauth: false\n'), [passwordModule]);
    expect(await readFile(join(root, 'etc/ssh/sshd_config'), 'utf8')).toBe('Port 22\n#PasswordAuthentication yes\nPasswordAuthentication no\nMatch User backup\n  PasswordAuthentication yes\n');
    expect((await stat(join(root, 'etc/ssh/sshd_config'))).mode & 0o777).toBe(0o640);
    await writeFile(join(root, 'etc/ssh/sshd_config'), 'Port 22\nMatch User backup\n  X11Forwarding no\n');
    await applyAll(root, cc('ssh_pwauth: true\n'), [passwordModule]);
    expect(await readFile(join(root, 'etc/ssh/sshd_config'), 'utf8')).toBe('Port 22\nPasswordAuthentication yes\nMatch User backup\n  X11Forwarding no\n');
    await applyAll(root, cc('ssh_pwauth: unchanged\n'), [passwordModule]);
    expect(await readFile(join(root, 'etc/ssh/sshd_config'), 'utf8')).toBe('Port 22\nPasswordAuthentication yes\nMatch User backup\n  X11Forwarding no\n');
  });
});

describe('existing accounts, groups, system accounts and hostile input', () => {
  it('an existing account: hashed_passwd and sudo and keys apply, gecos/groups/homedir do not (said), passwd is ignored (said), the lock stays cloud-init\'s default', async () => {
    const root = await ubuntuishRoot();
    const hash = hashOf('alice-new', 'AliceSlt');
    const key = fakeKey('ssh-ed25519', 'alice@example');
    const { warnings } = await applyAll(root, cc(`users:\n  - name: alice\n    gecos: Someone Else\n    homedir: /srv/alice\n    groups: [sudo]\n    hashed_passwd: "${hash}"\n    lock_passwd: false\n    sudo: "ALL=(ALL) ALL"\n    ssh_authorized_keys: ["${key}"]\n  - name: root\n    passwd: "${hash}"\n`));
    expect(await entry(root, 'etc/passwd', 'alice')).toEqual(['alice', 'x', '1000', '1000', 'Alice', '/home/alice', '/bin/bash']);
    expect((await entry(root, 'etc/shadow', 'alice'))[1]).toBe(hash);
    expect((await entry(root, 'etc/group', 'sudo'))[3]).toBe('');
    expect(await readFile(join(root, SUDOERS_FILE), 'utf8')).toContain('alice ALL=(ALL) ALL\n');
    expect(await readFile(join(root, 'home/alice/.ssh/authorized_keys'), 'utf8')).toContain(key);
    // root first: with no USERNAME it is vmctx's default user
    expect(warnings).toEqual([
      'users[root] (line 11): passwd not set: root exists already, and cloud-init sets passwd on a new account only (hashed_passwd or plain_text_passwd apply to an existing one)',
      'users[alice] (line 3): alice exists already: gecos, homedir, groups (sudo) not changed (cloud-init changes only the password, its lock, sudo and keys of an existing account)',
    ]);
    // root: the given passwd is not applied; its password is locked, as cloud-init's lock_passwd default does
    expect((await entry(root, 'etc/shadow', 'root'))[1]).toBe('!*');
  });

  it('sudo rules in a system whose /etc/sudoers does not read sudoers.d: said', async () => {
    const root = await ubuntuishRoot();
    await writeFile(join(root, 'etc/sudoers'), 'root ALL=(ALL:ALL) ALL\n', { mode: 0o440 });
    const doc = cc('users: [{name: ops, sudo: "ALL=(ALL) ALL"}]\n');
    expect((await applyAll(root, doc, [usersModule])).warnings).toEqual(['/etc/sudoers does not include /etc/sudoers.d: the rules in /etc/sudoers.d/90-vmctx-users are not in effect']);
    await writeFile(join(root, 'etc/sudoers'), 'root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n');
    expect((await applyAll(root, doc, [usersModule])).warnings).toEqual([]);
  });

  it('groups with members; a member that does not exist is said; a member made by users is added', async () => {
    const root = await ubuntuishRoot();
    const { warnings } = await applyAll(root, cc('groups:\n  - devs: [alice, nobody-here, newbie]\n  - {empty: []}\nusers: [newbie]\n'), [usersModule]);
    expect((await entry(root, 'etc/group', 'devs'))[3]).toBe('alice,newbie');
    expect((await entry(root, 'etc/group', 'empty'))[3]).toBe('');
    expect(warnings).toEqual(['groups[devs] (line 3): member nobody-here does not exist; not added']);
  });

  it('a homedir through a symlink out of the root is refused (the account is not made); a gecos with ":" or a newline and a sudo rule with a newline are refused; ".." in homedir too', async () => {
    const root = await ubuntuishRoot();
    const outside = join(root, '..', 'outside');
    await mkdir(outside);
    await symlink(outside, join(root, 'srv'));
    const { ctx, warnings } = await applyAll(root, cc(`users:
  - name: linked
    homedir: /srv/linked
  - name: colon
    gecos: "a:b:0:0"
  - name: newline
    gecos: "x\\nroot2::0:0::/root:/bin/sh"
    sudo: "ALL=(ALL) ALL\\nnewline ALL=(ALL) NOPASSWD: ALL"
  - name: dotdot
    homedir: /home/../etc
`), [usersModule]);
    expect(warnings).toEqual([expect.stringMatching(/^users\[linked\] \(line 3\): \/srv is a symlink \(to .*outside\); refusing to create linked with \/srv\/linked as home; skipped$/u)]);
    expect(await readdir(outside)).toEqual([]);
    const passwd = await lines(root, 'etc/passwd');
    expect(passwd.some((l) => l.startsWith('linked:'))).toBe(false);
    expect(passwd.every((l) => l.split(':').length === 7)).toBe(true);
    expect(passwd.some((l) => l.startsWith('root2'))).toBe(false);
    expect((await entry(root, 'etc/passwd', 'colon'))[4]).toBe('');
    expect((await entry(root, 'etc/passwd', 'dotdot'))[5]).toBe('/home/dotdot');
    expect(await readdir(join(root, 'etc/sudoers.d'))).toEqual([]);
    const messages = ctx.warnings.map(formatWarning);
    expect(messages).toEqual(expect.arrayContaining([
      expect.stringMatching(/^USER_DATA:6:\d+: warning: users\[1\]: gecos with ":"/u),
      expect.stringMatching(/^USER_DATA:8:\d+: warning: users\[2\]: gecos with ":"/u),
      expect.stringMatching(/^USER_DATA:9:\d+: warning: users\[2\]: sudo: a rule with a line break/u),
      expect.stringMatching(/^USER_DATA:11:\d+: warning: users\[3\]: homedir "\/home\/\.\.\/etc" is not a plain absolute path/u),
    ]));
  });

  it('USERNAME without USERNAME_SHELL in a root without /bin/bash: /bin/sh, said', async () => {
    const root = await ubuntuishRoot();
    execFileSync('rm', ['-f', join(root, 'usr/bin/bash')]);
    const { warnings } = await applyAll(root, { USERNAME: 'zed' }, [usersModule]);
    expect((await entry(root, 'etc/passwd', 'zed'))[6]).toBe('/bin/sh');
    expect(warnings).toEqual(['zed: no USERNAME_SHELL and no /bin/bash in this system: the shell is /bin/sh']);
  });
});

describe('reruns, the default user, homes, sudo for skipped accounts and duplicates (review of issue 19)', () => {
  const boot1 = 'users: [{name: alice}, {name: bob, lock_passwd: false}]\nchpasswd:\n  users: [{name: bob, password: temp-pass, type: text}]\n';
  const ctxVars = { USERNAME: 'alice', PASSWORD: 'first-boot' };
  /** A password the user chose after the first boot (as passwd would write it). */
  const userChanges = async (root: string, name: string, password: string): Promise<string> => {
    const hash = hashOf(password, `${name}salt1`);
    const text = (await lines(root, 'etc/shadow')).map((l) => (l.startsWith(`${name}:`) ? [name, hash, '20000', ...l.split(':').slice(3)].join(':') : l)).join('\n');
    await writeFile(join(root, 'etc/shadow'), `${text}\n`);
    return hash;
  };

  it('a users rerun (another account added; the password module\'s inputs are unchanged) does not lock the password the context gave; the new account is made', async () => {
    const root = await ubuntuishRoot();
    await applyAll(root, cc(boot1, ctxVars));
    expect(cryptMatches((await entry(root, 'etc/shadow', 'alice'))[1] ?? '', 'first-boot')).toBe(true);
    await applyAll(root, cc(boot1.replace('{name: bob, lock_passwd: false}]', '{name: bob, lock_passwd: false}, {name: carl}]'), ctxVars), [usersModule]);
    const alice = (await entry(root, 'etc/shadow', 'alice'))[1] ?? '';
    expect(alice.startsWith('!')).toBe(false);
    expect(cryptMatches(alice, 'first-boot')).toBe(true);
    expect((await entry(root, 'etc/passwd', 'carl')).length).toBe(7);
    expect((await entry(root, 'etc/shadow', 'carl'))[1]?.startsWith('!')).toBe(true);
  });

  it('a password rerun for ssh_pwauth leaves passwords users changed since alone; a changed chpasswd entry re-applies that account only', async () => {
    const root = await ubuntuishRoot();
    await applyAll(root, cc(boot1, ctxVars));
    const bobHash = await userChanges(root, 'bob', 'bobs-own');
    const aliceHash = await userChanges(root, 'alice', 'alices-own');
    await applyAll(root, cc(`${boot1}ssh_pwauth: false\n`, ctxVars));
    expect((await entry(root, 'etc/shadow', 'bob')).slice(1, 3)).toEqual([bobHash, '20000']);
    expect((await entry(root, 'etc/shadow', 'alice')).slice(1, 3)).toEqual([aliceHash, '20000']);
    // bob's own spec changes: his is set (and expired) again; alice's stays
    await applyAll(root, cc(`${boot1.replace('temp-pass', 'temp-pass2')}ssh_pwauth: false\n`, ctxVars));
    const bob = await entry(root, 'etc/shadow', 'bob');
    expect(cryptMatches(bob[1] ?? '', 'temp-pass2')).toBe(true);
    expect(bob[2]).toBe('0');
    expect((await entry(root, 'etc/shadow', 'alice'))[1]).toBe(aliceHash);
    // the applied state holds fingerprints only
    const state = await readFile(join(root, 'var/lib/vmctx/accounts.applied'), 'utf8');
    for (const secret of ['first-boot', 'temp-pass', 'temp-pass2']) expect(state).not.toContain(secret);
    expect((await stat(join(root, 'var/lib/vmctx/accounts.applied'))).mode & 0o777).toBe(0o600);
  });

  it('a new instance applies them again', async () => {
    const root = await ubuntuishRoot();
    await applyAll(root, cc(boot1, ctxVars));
    await userChanges(root, 'bob', 'bobs-own');
    const state = join(root, 'var/lib/vmctx/accounts.applied');
    await writeFile(state, (await readFile(state, 'utf8')).replace('"test-instance"', '"an-earlier-instance"'));
    await applyAll(root, cc(boot1, ctxVars));
    expect(cryptMatches((await entry(root, 'etc/shadow', 'bob'))[1] ?? '', 'temp-pass')).toBe(true);
  });

  it('an existing homedir another user owns, or one inside a world-writable directory, is refused; no sudo rules for a skipped account', async () => {
    const root = await ubuntuishRoot();
    await mkdir(join(root, 'var/tmp/svc'), { recursive: true });
    await chmod(join(root, 'var/tmp'), 0o1777);
    execFileSync('chown', ['4321:4321', join(root, 'var/tmp/svc')]);
    await mkdir(join(root, 'srv/owned'), { recursive: true });
    execFileSync('chown', ['4321:4321', join(root, 'srv/owned')]);
    const { warnings } = await applyAll(root, cc(`users:
  - name: svc
    homedir: /var/tmp/svc
    sudo: ALL=(ALL) NOPASSWD:ALL
  - name: owned
    homedir: /srv/owned
  - name: fine
    homedir: /srv/fine
    sudo: ALL=(ALL) NOPASSWD:ALL
`), [usersModule]);
    expect(warnings).toEqual([
      'users[svc] (line 3): /var/tmp can be written by others than root (mode 1777, owner 0); refusing to create svc with /var/tmp/svc as home; skipped',
      'users[owned] (line 6): /srv/owned exists and belongs to uid 4321, not root or the account; refusing to create owned with /srv/owned as home; skipped',
    ]);
    expect(await entry(root, 'etc/passwd', 'svc')).toEqual([]);
    expect(await entry(root, 'etc/passwd', 'owned')).toEqual([]);
    expect((await entry(root, 'etc/passwd', 'fine'))[5]).toBe('/srv/fine');
    const sudoers = await readFile(join(root, SUDOERS_FILE), 'utf8');
    expect(sudoers).toContain('fine ALL=(ALL) NOPASSWD:ALL');
    expect(sudoers).not.toContain('svc');
  });

  it('a deprecated hyphenated key is applied: lock-passwd false with plain-text-passwd leaves the password usable', async () => {
    const root = await ubuntuishRoot();
    const { ctx } = await applyAll(root, cc('users:\n  - name: hy\n    lock-passwd: false\n    plain-text-passwd: hy-Secret\n'), [usersModule]);
    expect(cryptMatches((await entry(root, 'etc/shadow', 'hy'))[1] ?? '', 'hy-Secret')).toBe(true);
    expect(ctx.warnings.map(formatWarning)).toContainEqual(expect.stringMatching(/^USER_DATA:4:\d+: warning: users\[0\]: lock-passwd is a deprecated spelling, read as lock_passwd$/u));
  });

  it('an explicit lock_passwd: true on an account the context gives a password is not applied, and said at its line; the default true is not', async () => {
    const root = await ubuntuishRoot();
    const doc = 'users:\n  - name: lk\n    lock_passwd: true\n  - name: dflt\nchpasswd:\n  expire: false\n  users:\n    - {name: lk, password: lk-Secret-1, type: text}\n    - {name: dflt, password: df-Secret-1, type: text}\n';
    const { ctx } = await applyAll(root, cc(doc));
    const named = ctx.warnings.map(formatWarning).filter((w) => w.includes('lock_passwd: true not applied'));
    expect(named).toEqual([expect.stringMatching(/^USER_DATA:4: warning: users\[lk\]: lock_passwd: true not applied: the context gives lk a password \(chpasswd\)/u)]);
    expect(cryptMatches((await entry(root, 'etc/shadow', 'lk'))[1] ?? '', 'lk-Secret-1')).toBe(true);
    expect(cryptMatches((await entry(root, 'etc/shadow', 'dflt'))[1] ?? '', 'df-Secret-1')).toBe(true);
  });

  it('a user listed in two documents: one account, the later entry whole, said', async () => {
    const root = await ubuntuishRoot();
    const doc = `Content-Type: multipart/mixed; boundary="XX"
MIME-Version: 1.0

--XX
Content-Type: text/cloud-config

users:
  - name: dup
    lock_passwd: true
    sudo: ALL=(ALL) ALL
--XX
Content-Type: text/cloud-config

users:
  - name: dup
    gecos: Second
--XX--
`;
    const { ctx } = await applyAll(root, { USER_DATA: doc }, [usersModule]);
    expect(ctx.accounts.users.filter((a) => a.name === 'dup').map((a) => [a.gecos, a.sudo])).toEqual([['Second', []]]);
    expect(ctx.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/^users\[dup\]: dup is listed again.*the later entry replaces the earlier one whole/u));
    expect((await entry(root, 'etc/passwd', 'dup'))[4]).toBe('Second');
    expect(await readdir(join(root, 'etc/sudoers.d'))).toEqual([]);
  });
});
