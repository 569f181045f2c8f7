import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passwordModule, usersModule } from '../../../src/agent/modules/users.js';
import { sshKeysModule } from '../../../src/agent/modules/sshkeys.js';
import { writeFilesModule } from '../../../src/agent/modules/writefiles.js';
import type { Module } from '../../../src/agent/modules/module.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { fakeKey, scratchRoot } from '../../helpers/scratch.js';
import { cryptMatches } from '../../helpers/tools.js';

const log = createLogger(undefined);
const userData = (yaml: string): Record<string, string> => ({ USER_DATA: `#cloud-config\n${yaml}` });

async function applyAll(root: string, vars: Record<string, string>, modules: readonly Module[]) {
  const ctx = await contextOf(vars);
  const target = { root: new DirectoryRoot(root), exec: new HostExec(), live: false };
  const outcomes = [];
  for (const m of modules) outcomes.push(await m.apply(ctx, target, log));
  return { ctx, outcomes };
}

describe('cloud-config in the modules', () => {
  it('users get created with sudo and their own keys; chpasswd sets passwords; hostname and keys apply to the default user', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/sudoers.d'));
    const k1 = fakeKey('ssh-ed25519', 'root-key');
    const k2 = fakeKey('ssh-ed25519', 'dev-key');
    const { ctx } = await applyAll(root, userData(`hostname: cc-host
ssh_authorized_keys: ["${k1}"]
users:
  - name: dev
    sudo: true
    ssh_authorized_keys: ["${k2}", "garbage"]
chpasswd:
  list: |
    dev:dev-Passw0rd
`), [usersModule, passwordModule, sshKeysModule]);
    expect(ctx.hostname).toBe('cc-host');
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toContain(k1);
    const devLine = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith('dev:')) ?? '';
    const uid = Number(devLine.split(':')[2]);
    const devKeys = join(root, 'home/dev/.ssh/authorized_keys');
    expect(await readFile(devKeys, 'utf8')).toContain(k2);
    expect((await stat(devKeys)).uid).toBe(uid);
    expect(await readFile(join(root, 'etc/sudoers.d/90-vmctx-users'), 'utf8')).toContain('dev ALL=(ALL:ALL) NOPASSWD:ALL');
    const devHash = (await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((l) => l.startsWith('dev:'))?.split(':')[1] ?? '';
    expect(cryptMatches(devHash, 'dev-Passw0rd')).toBe(true);
  });

  it('write_files: owner and mode, b64, append; through a symlink out of the root it lands inside; /proc is refused', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/existing'), 'line1\n');
    await symlink('/tmp', join(root, 'etc/tmplink'));
    const { outcomes } = await applyAll(root, userData(`write_files:
  - path: /etc/app.conf
    content: "listen=8080\\n"
    permissions: '0640'
    owner: alice:alice
  - path: /etc/existing
    content: "line2\\n"
    append: true
  - path: /etc/b64.bin
    encoding: b64
    content: ${Buffer.from([0, 1, 2, 255]).toString('base64')}
  - path: /etc/tmplink/escaped
    content: inside
  - path: /proc/sys/kernel/hostname
    content: evil
  - path: /etc/nobody-owns
    content: x
    owner: ghost
`), [writeFilesModule]);
    const app = await stat(join(root, 'etc/app.conf'));
    expect([app.mode & 0o777, app.uid, app.gid]).toEqual([0o640, 1000, 1000]);
    expect(await readFile(join(root, 'etc/existing'), 'utf8')).toBe('line1\nline2\n');
    expect([...(await readFile(join(root, 'etc/b64.bin')))]).toEqual([0, 1, 2, 255]);
    expect(await readFile(join(root, 'tmp/escaped'), 'utf8')).toBe('inside');
    expect(outcomes[0]?.warnings.map((w) => w.split(':')[0])).toEqual(['/proc/sys/kernel/hostname', '/etc/nobody-owns']);
  });

  it('write_files into a user\'s home never follows a link the user planted', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/shadow-copy'), 'precious\n');
    await symlink('/etc/shadow-copy', join(root, 'home/alice/notes.txt'));
    const { outcomes } = await applyAll(root, userData('write_files:\n  - path: /home/alice/notes.txt\n    content: hello\n    owner: alice\n'), [writeFilesModule]);
    expect(await readFile(join(root, 'etc/shadow-copy'), 'utf8')).toBe('precious\n');
    expect((await stat(join(root, 'home/alice/notes.txt'))).uid).toBe(1000);
    expect(outcomes[0]?.warnings).toEqual([]);
  });
});
