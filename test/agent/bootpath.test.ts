// What keeps the boot short: the local stage says when the final stage has nothing to do (so
// vmctx-final.service does not start a runtime for nothing), and on a new instance with systemd
// the slow RSA host key is left to vmctx-hostkeys.service, after the boot.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFERRED_KEYS_MARKER, hostKeysModule } from '../../src/agent/modules/hygiene.js';
import { defaultRouteIn } from '../../src/agent/modules/network.js';
import { fileSystemBytes } from '../../src/agent/modules/firstboot.js';
import { FINAL_IDLE_PATH, runAgent } from '../../src/agent/run.js';
import { type RunReport } from '../../src/agent/report.js';
import type { Stage } from '../../src/agent/modules/module.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { HostExec, type Exec, type ExecOptions, type ExecResult } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { HostScriptRunner } from '../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { contextOf } from '../helpers/context.js';
import { scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const exists = async (path: string): Promise<boolean> => readdir(join(path, '..')).then((names) => names.includes(basename(path)), () => false);

describe('the final stage is skipped when it has nothing to do', () => {
  it('the local stage leaves final-idle when no final module would run, and not when one would', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    const work = await tempDir();
    const idle = join(root, FINAL_IDLE_PATH);
    const run = async (stage: Stage, vars: Record<string, string>): Promise<RunReport> => {
      await writeFile(join(src, 'context.sh'), renderContextSh(vars));
      return runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage, dryRun: false,
        exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
        scripts: new HostScriptRunner(work), scriptTimeoutMs: 20_000,
      });
    };
    expect((await run('local', { VMID: '1', SET_HOSTNAME: 'quiet' })).result).toBe('ok');
    expect(await exists(idle)).toBe(true);
    // a START_SCRIPT that has not run for this instance: the final stage has work
    const withScript = { VMID: '1', SET_HOSTNAME: 'quiet', START_SCRIPT: 'echo ran >> "$0.out"' };
    await run('local', withScript);
    expect(await exists(idle)).toBe(false);
    const final = await run('final', withScript);
    expect(final.modules.find((m) => m.id === 'scripts')?.status).toBe('applied');
    // it ran: the next local stage of the same boot and instance finds nothing left for the final stage
    await run('local', withScript);
    expect(await exists(idle)).toBe(true);
    // a clone (new instance) runs it again
    await run('local', { ...withScript, VMID: '2' });
    expect(await exists(idle)).toBe(false);
    // a dry run leaves the marker alone
    await rm(idle, { force: true });
    await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '3' }));
    await runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'local', dryRun: true, exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test' });
    expect(await exists(idle)).toBe(false);
  });
});

/** Runs ssh-keygen for real and records (without running) anything else: systemctl must not reach this host's services. */
class KeygenOnlyExec implements Exec {
  readonly calls: string[] = [];
  readonly #host = new HostExec();
  async run(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    this.calls.push([basename(file), ...args].join(' '));
    if (basename(file) === 'ssh-keygen') return this.#host.run(file, args, options);
    return { code: 0, signal: null, stdout: '', stderr: '' };
  }
  async which(name: string): Promise<string | undefined> {
    return name === 'ssh-keygen' ? this.#host.which(name) : `/usr/bin/${name}`;
  }
}

describe('ssh-host-keys on a running system', () => {
  async function systemRoot(withUnit: boolean): Promise<string> {
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/ssh'), { recursive: true });
    await writeFile(join(root, 'etc/ssh/sshd_config'), '');
    execFileSync('ssh-keygen', ['-A', '-f', root]);
    await mkdir(join(root, 'run/systemd/system'), { recursive: true });
    if (withUnit) {
      await mkdir(join(root, 'usr/lib/systemd/system'), { recursive: true });
      await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
      await writeFile(join(root, 'usr/lib/systemd/system/vmctx-hostkeys.service'), '[Unit]\n');
      execFileSync('ln', ['-s', '/usr/lib/systemd/system/vmctx-hostkeys.service', join(root, 'etc/systemd/system/multi-user.target.wants/vmctx-hostkeys.service')]);
    }
    return root;
  }
  const keys = async (root: string): Promise<string[]> => (await readdir(join(root, 'etc/ssh'))).filter((n) => n.startsWith('ssh_host_')).sort();

  it('with systemd and vmctx-hostkeys.service: Ed25519 and ECDSA now, RSA left to the unit (marker), sshd try-restarted', async () => {
    const root = await systemRoot(true);
    const exec = new KeygenOnlyExec();
    const out = await hostKeysModule.apply(await contextOf({}), { root: new DirectoryRoot(root), exec, live: true }, createLogger(undefined));
    expect(await keys(root)).toEqual(['ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    expect(await exists(join(root, DEFERRED_KEYS_MARKER))).toBe(true);
    expect(out.actions).toContain('rsa host key left to vmctx-hostkeys.service (after the boot, at idle priority)');
    expect(exec.calls.filter((c) => c.startsWith('ssh-keygen')).map((c) => c.split(' ')[3]).sort()).toEqual(['ecdsa', 'ed25519']);
    expect(exec.calls).toContain('systemctl --no-block try-restart ssh.service sshd.service');
  });

  it('without the unit (or without systemd) every type is made before sshd starts', async () => {
    const root = await systemRoot(false);
    const exec = new KeygenOnlyExec();
    await hostKeysModule.apply(await contextOf({}), { root: new DirectoryRoot(root), exec, live: true }, createLogger(undefined));
    expect(await keys(root)).toEqual(['ssh_host_ecdsa_key', 'ssh_host_ecdsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'ssh_host_rsa_key', 'ssh_host_rsa_key.pub']);
    expect(await exists(join(root, DEFERRED_KEYS_MARKER))).toBe(false);
  });
});

describe('the default route, read from /proc (no program started)', () => {
  const V4_HEAD = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
  const LO6 = '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n';
  it('sees an IPv4 or IPv6 default route, not a subnet route nor the kernel\'s unreachable default on lo', () => {
    expect(defaultRouteIn(`${V4_HEAD}eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`, LO6)).toBe(true);
    expect(defaultRouteIn(`${V4_HEAD}eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`, LO6)).toBe(false);
    expect(defaultRouteIn(V4_HEAD, `${LO6}00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n`)).toBe(true);
    expect(defaultRouteIn(V4_HEAD, 'fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n')).toBe(false);
    expect(defaultRouteIn('', '')).toBe(false);
  });
});

describe('grow-fs reads the file system size from its superblock', () => {
  it('ext3 made by mke2fs (and an XFS superblock): block count × block size; anything else: unknown', async () => {
    const dir = await tempDir();
    const image = join(dir, 'fs.img');
    execFileSync('truncate', ['-s', '24M', image]);
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext3', '-b', '4096', image, '5000']);
    const head = (await readFile(image)).subarray(0, 2048);
    expect(fileSystemBytes('ext3', head)).toBe(5000 * 4096);
    expect(fileSystemBytes('xfs', head)).toBeUndefined();
    expect(fileSystemBytes('ext4', Buffer.alloc(2048))).toBeUndefined();
    const xfs = Buffer.alloc(2048);
    xfs.write('XFSB', 0, 'latin1');
    xfs.writeUInt32BE(4096, 4);
    xfs.writeBigUInt64BE(262144n, 8);
    expect(fileSystemBytes('xfs', xfs)).toBe(262144 * 4096);
  });
});
