import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Module, Target } from '../../../src/agent/modules/module.js';
import { passwordModule, SUDOERS_FILE, usersModule } from '../../../src/agent/modules/users.js';
import { runAgent } from '../../../src/agent/run.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { BUNDLE } from '../../helpers/cli.js';
import { contextOf } from '../../helpers/context.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';
import { cryptMatches } from '../../helpers/tools.js';

const log = createLogger(undefined);
const target = (root: string): Target => ({ root: new DirectoryRoot(root), exec: new HostExec(), live: false });
const apply = async (module: Module, root: string, vars: Record<string, string>) => module.apply(await contextOf(vars), target(root), log);
const shadowOf = async (root: string, user: string): Promise<string> => (await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((l) => l.startsWith(`${user}:`))?.split(':')[1] ?? '';

const matches = cryptMatches;

describe('users module (real useradd -R)', () => {
  it('creates USERNAME with a home in /home, the given shell, and sudo as a 0440 drop-in; revokes sudo later', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/sudoers.d'));
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await writeFile(join(root, 'usr/bin/zsh'), '');
    const out = await apply(usersModule, root, { USERNAME: 'bob', USERNAME_SHELL: '/usr/bin/zsh', USERNAME_SUDO: 'YES' });
    expect(out.changed).toEqual(['/etc/passwd', SUDOERS_FILE]);
    const line = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith('bob:'));
    expect(line).toMatch(/^bob:x:(\d+):\1:created by vmctx:\/home\/bob:\/usr\/bin\/zsh$/u);
    const uid = Number(line?.split(':')[2]);
    expect((await stat(join(root, 'home/bob'))).uid).toBe(uid);
    expect(await readFile(join(root, SUDOERS_FILE), 'utf8')).toContain('bob ALL=(ALL:ALL) NOPASSWD:ALL\n');
    expect((await stat(join(root, SUDOERS_FILE))).mode & 0o777).toBe(0o440);
    // the module had the entry checked by visudo before writing it; visudo agrees with the result
    expect(execFileSync('visudo', ['-c', '-q', '-f', join(root, SUDOERS_FILE)]).toString()).toBe('');
    const calls: string[] = [];
    const host = new HostExec();
    const recording: Target = { root: new DirectoryRoot(root), live: false, exec: { which: (n) => host.which(n), run: (p, a, o) => (calls.push(`${p} ${a.join(' ')}`), host.run(p, a, o)) } };
    await usersModule.apply(await contextOf({ USERNAME: 'bob', USERNAME_SUDO: 'YES' }), recording, log);
    expect(calls.some((c) => /visudo -c -q -f -$/u.test(c))).toBe(true);
    expect((await apply(usersModule, root, { USERNAME: 'bob', USERNAME_SHELL: '/usr/bin/zsh', USERNAME_SUDO: 'YES' })).changed).toEqual([]);
    await apply(usersModule, root, { USERNAME: 'bob' });
    expect(await readdir(join(root, 'etc/sudoers.d'))).toEqual([]);
  });

  it('refuses hostile names and falls back to root: ../../etc, root;id', async () => {
    const root = await scratchRoot();
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    for (const name of ['../../etc', 'root;id', '-o', 'A']) {
      const ctx = await contextOf({ USERNAME: name });
      expect(ctx.username).toBe('root');
      expect(ctx.warnings[0]?.variable).toBe('USERNAME');
      await usersModule.apply(ctx, target(root), log);
    }
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toBe(passwd);
  });

  it('refuses to create a user whose home would be a symlink to /', async () => {
    const root = await scratchRoot();
    await symlink('/', join(root, 'home/carol'));
    await expect(apply(usersModule, root, { USERNAME: 'carol' })).rejects.toThrow(/symlink.*refusing/);
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).not.toContain('carol');
  });
});

describe('password module (real chpasswd -R, hashing on the host)', () => {
  it('sets a plain password (quote, colon, unicode) as a SHA-512 hash in /etc/shadow', async () => {
    const root = await scratchRoot();
    const password = "it's: pässwörd ✓";
    await apply(passwordModule, root, { USERNAME: 'alice', PASSWORD: password });
    const hash = await shadowOf(root, 'alice');
    expect(hash).toMatch(/^\$6\$/u);
    expect(matches(hash, password)).toBe(true);
  });

  it('takes the highest-priority usable variable; bad base64, not-a-hash and newlines are reported and skipped', async () => {
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: 'from-hash\n' }).toString().trim();
    let ctx = await contextOf({ CRYPTED_PASSWORD_BASE64: Buffer.from(hash).toString('base64'), PASSWORD_BASE64: Buffer.from('b64').toString('base64'), CRYPTED_PASSWORD: '$6$x', PASSWORD: 'plain' });
    expect(ctx.password?.source).toBe('CRYPTED_PASSWORD_BASE64');
    ctx = await contextOf({ PASSWORD_BASE64: 'not base64!', CRYPTED_PASSWORD: 'not-a-hash', PASSWORD: 'line\nbreak' });
    expect(ctx.password).toBeUndefined();
    expect(ctx.warnings.map((w) => w.variable)).toEqual(['PASSWORD_BASE64', 'CRYPTED_PASSWORD', 'PASSWORD']);
    const root = await scratchRoot();
    await apply(passwordModule, root, { CRYPTED_PASSWORD: hash });
    expect(await shadowOf(root, 'root')).toBe(hash);
  });

  it('USERNAME_PASSWORD_EXPIRE=YES makes the user change the first-boot password at first login', async () => {
    const root = await scratchRoot();
    await apply(passwordModule, root, { USERNAME: 'alice', PASSWORD: 'temporary', USERNAME_PASSWORD_EXPIRE: 'YES' });
    const fields = (await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((l) => l.startsWith('alice:'))?.split(':') ?? [];
    expect(fields[2]).toBe('0');
  });

  it('USERNAME_PASSWORD_RESET=YES locks the account\'s password', async () => {
    const root = await scratchRoot();
    await apply(passwordModule, root, { USERNAME: 'alice', PASSWORD: 'x' });
    await apply(passwordModule, root, { USERNAME: 'alice', USERNAME_PASSWORD_RESET: 'YES' });
    expect(await shadowOf(root, 'alice')).toMatch(/^!\$6\$/u);
  });

  it('locks a fixed password baked into the image when the context gives none, and says so', async () => {
    const root = await scratchRoot();
    const fixed = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: 'image-default\n' }).toString().trim();
    await writeFile(join(root, 'etc/shadow'), `root:${fixed}:19000:0:99999:7:::\nalice:!:19000:0:99999:7:::\n`, { mode: 0o640 });
    const out = await apply(passwordModule, root, {});
    expect(out.warnings).toEqual(['root had a fixed password from the image and the context gives none: locked (log in with a key)']);
    expect(await shadowOf(root, 'root')).toBe(`!${fixed}`);
  });

  it('second boot of the instance leaves a password the user changed; a clone sets it again', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    const run = async (vmid: string) => {
      await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: vmid, USERNAME: 'alice', PASSWORD: 'first-boot' }));
      return runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'all', dryRun: false, exec: new HostExec(), logger: log, console: new ConsoleLines(false), version: 'test' });
    };
    await run('1');
    expect(matches(await shadowOf(root, 'alice'), 'first-boot')).toBe(true);
    const userChosen = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: 'users-own\n' }).toString().trim();
    execFileSync('chpasswd', ['-e', '-R', root], { input: `alice:${userChosen}\n` });
    const second = await run('1');
    expect(second.modules.find((m) => m.id === 'password')?.status).toBe('skipped');
    expect(await shadowOf(root, 'alice')).toBe(userChosen);
    const clone = await run('2');
    expect(clone.modules.find((m) => m.id === 'password')?.status).toBe('applied');
    expect(matches(await shadowOf(root, 'alice'), 'first-boot')).toBe(true);
  });
});

describe('secret hygiene of a whole run', () => {
  it('the password and its hash reach no argv (every execve traced), no log, report or state: only /etc/shadow', async () => {
    const dir = await tempDir();
    const root = await scratchRoot();
    const password = 'Tr4ced-S3cret-Value';
    await mkdir(join(dir, 'ctx'));
    await writeFile(join(dir, 'ctx/context.sh'), renderContextSh({ VMID: '5', USERNAME: 'alice', PASSWORD: password }));
    const trace = join(dir, 'exec.trace');
    const r = spawnSync('strace', ['-f', '-qq', '-s', '65535', '-e', 'trace=execve', '-o', trace, process.execPath, BUNDLE, 'run', '--source', join(dir, 'ctx'), '--root', root, '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const traced = await readFile(trace, 'utf8');
    expect(traced).toMatch(/execve\("[^"]*chpasswd"/u);
    expect(traced).toMatch(/execve\("[^"]*openssl"/u);
    const hash = await shadowOf(root, 'alice');
    expect(matches(hash, password)).toBe(true);
    for (const secret of [password, hash]) {
      expect(traced.includes(secret)).toBe(false);
      expect(r.stdout.includes(secret) || r.stderr.includes(secret)).toBe(false);
    }
    const found = execFileSync('grep', ['-rlF', '-e', password, '-e', hash, root], { encoding: 'utf8' }).trim().split('\n');
    expect(found.map((p) => p.slice(root.length))).toEqual(['/etc/shadow']);
  });
});
