import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostKeysModule, timezoneModule } from '../../../src/agent/modules/hygiene.js';
import { runAgent } from '../../../src/agent/run.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger(undefined);
const target = (root: string) => ({ root: new DirectoryRoot(root), exec: new HostExec(), live: false });
const fingerprint = (root: string): string => execFileSync('ssh-keygen', ['-lf', join(root, 'etc/ssh/ssh_host_ed25519_key.pub')], { encoding: 'utf8' });

describe('ssh-host-keys module', () => {
  it('regenerates the image\'s host keys once per instance; a clone gets new ones', async () => {
    const root = await scratchRoot();
    execFileSync('ssh-keygen', ['-A', '-f', root]);
    const imageKey = fingerprint(root);
    const src = await tempDir();
    const run = async (vmid: string) => {
      await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: vmid }));
      return runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'local', dryRun: false, exec: new HostExec(), logger: log, console: new ConsoleLines(false), version: 'test', modules: [hostKeysModule] });
    };
    expect((await run('1')).modules[0]?.status).toBe('applied');
    const first = fingerprint(root);
    expect(first).not.toBe(imageKey);
    expect((await stat(join(root, 'etc/ssh/ssh_host_ed25519_key'))).mode & 0o777).toBe(0o600);
    expect((await run('1')).modules[0]?.status).toBe('skipped');
    expect(fingerprint(root)).toBe(first);
    await run('2');
    expect(fingerprint(root)).not.toBe(first);
  });

  it('does nothing without sshd, and refuses an /etc/ssh that is a symlink out of an offline root', async () => {
    const bare = await scratchRoot();
    await rm(join(bare, 'etc/ssh'), { recursive: true });
    expect((await hostKeysModule.apply(await contextOf({}), target(bare), log)).changed).toEqual([]);
    // a link to a host path resolves inside the root (no sshd_config there): nothing happens outside
    const root = await scratchRoot();
    const outside = await tempDir();
    await writeFile(join(outside, 'sshd_config'), '');
    await rm(join(root, 'etc/ssh'), { recursive: true });
    await symlink(outside, join(root, 'etc/ssh'));
    expect((await hostKeysModule.apply(await contextOf({}), target(root), log)).changed).toEqual([]);
    // a link that does lead to an sshd_config (inside the root) is refused: ssh-keygen -f would follow it on the host
    await rm(join(root, 'etc/ssh'));
    await mkdir(join(root, 'etc/ssh-real'));
    await writeFile(join(root, 'etc/ssh-real/sshd_config'), '');
    await symlink('ssh-real', join(root, 'etc/ssh'));
    await expect(hostKeysModule.apply(await contextOf({}), target(root), log)).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    expect(await readdir(join(root, 'etc/ssh-real'))).toEqual(['sshd_config']);
    expect(await readdir(outside)).toEqual(['sshd_config']);
  });
});

describe('timezone module', () => {
  async function zoneRoot(): Promise<string> {
    const root = await scratchRoot();
    await mkdir(join(root, 'usr/share/zoneinfo/Europe'), { recursive: true });
    await writeFile(join(root, 'usr/share/zoneinfo/Europe/Madrid'), 'TZif');
    await writeFile(join(root, 'etc/timezone'), 'Etc/UTC\n');
    await mkdir(join(root, 'etc/sysconfig'), { recursive: true });
    await writeFile(join(root, 'etc/sysconfig/clock'), 'ZONE="UTC"\nUTC=true\n');
    return root;
  }

  it('points /etc/localtime at the zone and updates /etc/timezone and the old RHEL clock file', async () => {
    const root = await zoneRoot();
    await timezoneModule.apply(await contextOf({ TIMEZONE: 'Europe/Madrid' }), target(root), log);
    expect(await readlink(join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Madrid');
    expect(await readFile(join(root, 'etc/timezone'), 'utf8')).toBe('Europe/Madrid\n');
    expect(await readFile(join(root, 'etc/sysconfig/clock'), 'utf8')).toBe('UTC=true\nZONE="Europe/Madrid"\n');
    expect((await timezoneModule.apply(await contextOf({ TIMEZONE: 'Europe/Madrid' }), target(root), log)).changed).toEqual([]);
  });

  it('refuses a zone that is not a name or not installed, changing nothing', async () => {
    const root = await zoneRoot();
    for (const zone of ['../../etc/shadow', 'Europe/Atlantis', 'a b']) {
      await expect(timezoneModule.apply(await contextOf({ TIMEZONE: zone }), target(root), log)).rejects.toMatchObject({ code: 'ERR_MODULE' });
    }
    expect(await readFile(join(root, 'etc/timezone'), 'utf8')).toBe('Etc/UTC\n');
  });
});
