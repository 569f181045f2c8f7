import { execFileSync, spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../../src/agent/run.js';
import { type RunReport } from '../../../src/agent/report.js';
import type { ScriptReport } from '../../../src/agent/modules/scripts.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { HostScriptRunner, interpreterOf } from '../../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';
import { buildScriptDriver } from '../../helpers/driver.js';

interface Setup {
  root: string;
  src: string;
  run(vars: Record<string, string>, options?: { timeoutMs?: number }): Promise<RunReport>;
}

async function setup(files: Record<string, string> = {}): Promise<Setup> {
  const root = await scratchRoot();
  const src = await tempDir();
  const work = await tempDir();
  for (const [name, content] of Object.entries(files)) await writeFile(join(src, name), content);
  return {
    root,
    src,
    async run(vars, options = {}) {
      await writeFile(join(src, 'context.sh'), renderContextSh(vars));
      return runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'final', dryRun: false,
        exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
        scripts: new HostScriptRunner(work), scriptTimeoutMs: options.timeoutMs ?? 20_000,
      });
    },
  };
}

const scriptsOf = (report: RunReport): ScriptReport[] => ((report.modules.find((m) => m.id === 'scripts')?.details as { scripts?: ScriptReport[] } | undefined)?.scripts ?? []);
const logOf = (s: Setup, name: string): Promise<string> => readFile(join(s.root, `var/log/vmctx/scripts/${name}.log`), 'utf8');

describe('scripts module', () => {
  it('START_SCRIPT runs once per instance, with the context variables but no secrets and no overridden PATH/LD_PRELOAD', async () => {
    const s = await setup();
    const vars = { VMID: '1', SET_HOSTNAME: 'h1', PASSWORD: 'secret-pw', PATH: '/evil', LD_PRELOAD: '/evil.so', BASH_ENV: '/evil', START_SCRIPT: 'echo "host=$SET_HOSTNAME pw=${PASSWORD:-none} path=$PATH preload=${LD_PRELOAD:-none} bashenv=${BASH_ENV:-none}"\necho marker >> /tmp/vmctx-never-here || true\n' };
    const report = await s.run(vars);
    expect(scriptsOf(report)).toMatchObject([{ name: 'START_SCRIPT', variable: 'START_SCRIPT', exitCode: 0, timedOut: false }]);
    const log = await logOf(s, 'START_SCRIPT');
    expect(log).toContain('host=h1 pw=none path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin preload=none bashenv=none\n');
    expect(log).not.toContain('secret-pw');
    expect((await stat(join(s.root, 'var/log/vmctx/scripts/START_SCRIPT.log'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(s.root, 'var/log/vmctx/scripts'))).mode & 0o777).toBe(0o700);
    const again = await s.run(vars);
    expect(again.modules.find((m) => m.id === 'scripts')).toMatchObject({ status: 'skipped', reason: 'already ran for this instance' });
    const clone = await s.run({ ...vars, VMID: '2' });
    expect(scriptsOf(clone)).toHaveLength(1);
  });

  it('the provider\'s init.sh runs by default, sees secrets and the medium\'s files in its directory', async () => {
    const s = await setup({ 'init.sh': '#!/bin/sh\necho "pw=$PASSWORD"\ncat app.conf\n', 'app.conf': 'listen=8080\n' });
    const report = await s.run({ VMID: '1', PASSWORD: 'provider-may-see' });
    expect(scriptsOf(report).map((r) => [r.name, r.exitCode])).toEqual([['init.sh', 0]]);
    expect(await logOf(s, 'init.sh')).toContain('pw=provider-may-see\nlisten=8080\n');
  });

  it('user scripts see the medium\'s files too, but not the OneGate token or the variable files', async () => {
    const s = await setup({ 'app.conf': 'listen=8080\n', 'token.txt': 'onegate-secret\n' });
    await s.run({ VMID: '1', START_SCRIPT: 'cat app.conf; for f in token.txt context.sh; do test -e $f && echo "$f visible" || echo "no $f"; done\n' });
    expect(await logOf(s, 'START_SCRIPT')).toContain('listen=8080\nno token.txt\nno context.sh\n');
  });

  it('START_SCRIPT_BASE64 wins; the shebang is honoured (bash), sh otherwise; #! user data and cloud-config runcmd run (a list without a shell)', async () => {
    const s = await setup();
    const b64 = Buffer.from('#!/bin/bash\necho "bash=${BASH_VERSION:+yes}"\n').toString('base64');
    const report = await s.run({ VMID: '1', START_SCRIPT_BASE64: b64, START_SCRIPT: 'echo loser', USER_DATA: Buffer.from('#!/bin/sh\necho user-data\nexit 3\n').toString('base64'), USER_DATA_ENCODING: 'base64' });
    expect(scriptsOf(report).map((r) => [r.name, r.variable, r.exitCode])).toEqual([['START_SCRIPT', 'START_SCRIPT_BASE64', 0], ['USER_DATA', 'USER_DATA', 3]]);
    expect(await logOf(s, 'START_SCRIPT')).toContain('bash=yes\n');
    expect(report.modules.find((m) => m.id === 'scripts')?.warnings.join()).toMatch(/USER_DATA exited with 3/);
    const cc = await s.run({ VMID: '9', USER_DATA: '#cloud-config\nruncmd:\n  - echo "runcmd as shell for $SET_HOSTNAME"\n  - [printf, "%s|", argv, "no $shell"]\nunknown_key: 1\n', SET_HOSTNAME: 'cc-host' });
    expect(scriptsOf(cc).map((r) => [r.name, r.exitCode])).toEqual([['runcmd-1', 0], ['runcmd-2', 0]]);
    expect(await logOf(s, 'runcmd-1')).toContain('runcmd as shell for cc-host\n');
    expect(await logOf(s, 'runcmd-2')).toContain('argv|no $shell|');
    expect(cc.warnings.map((w) => w.message)).toContain('unknown cloud-config key "unknown_key"; ignored');
    expect(interpreterOf(Buffer.from('#!/usr/bin/env python3\n'))).toEqual({ program: '/usr/bin/env', args: ['python3'] });
    expect(interpreterOf(Buffer.from('#! bad path; reboot\n'))).toEqual({ program: '/bin/sh', args: [] });
  });

  it('a script that hangs is killed at its deadline; the rest still run', async () => {
    const s = await setup({ 'init.sh': 'sleep 600\n', 'second.sh': 'echo second ran\n' });
    const report = await s.run({ VMID: '1', INIT_SCRIPTS: 'init.sh second.sh' }, { timeoutMs: 1000 });
    expect(scriptsOf(report).map((r) => [r.name, r.timedOut])).toEqual([['init.sh', true], ['second.sh', false]]);
    expect(await logOf(s, 'second.sh')).toContain('second ran');
  });

  it('a script that leaves a daemon holding its output does not hold the run', async () => {
    const s = await setup();
    const marker = `vmctx-daemon-${process.pid}`;
    const report = await s.run({ VMID: '1', START_SCRIPT: `sh -c 'exec -a ${marker} sleep 60' &\necho started\n` });
    const [result] = scriptsOf(report);
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    // the run did not wait for the daemon's 60 s
    expect(result?.durationMs).toBeLessThan(10_000);
    try {
      execFileSync('pkill', ['-f', marker]);
    } catch {
      // gone already
    }
  });

  it('100 MB of output: the log keeps the first 1 MiB and says so', async () => {
    const s = await setup();
    const report = await s.run({ VMID: '1', START_SCRIPT: 'head -c 104857600 /dev/zero | tr "\\0" x\n' });
    expect(scriptsOf(report)[0]?.exitCode).toBe(0);
    const log = await logOf(s, 'START_SCRIPT');
    expect(log).toMatch(/output cut at 1 MiB/);
    expect(log.length).toBeLessThan(1024 * 1024 + 1024);
  });

  it('INIT_SCRIPTS names are plain file names on the medium: ../, absolute paths and leading - are refused', async () => {
    const s = await setup({ 'ok.sh': 'echo ok\n' });
    const report = await s.run({ VMID: '1', INIT_SCRIPTS: '../../etc/passwd /etc/shadow -rf ok.sh missing.sh' });
    expect(scriptsOf(report).map((r) => r.name)).toEqual(['ok.sh']);
    expect(report.warnings.filter((w) => w.variable === 'INIT_SCRIPTS')).toHaveLength(4);
  });

  it('never runs for an offline --root (no runner): skipped and not recorded', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '1', START_SCRIPT: 'touch /tmp/should-not-exist' }));
    const report = await runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'all', dryRun: false, exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test' });
    expect(report.modules.find((m) => m.id === 'scripts')?.reason).toMatch(/runs only on the running system/);
    const state = JSON.parse(await readFile(join(root, 'var/lib/vmctx/state.json'), 'utf8')) as { modules: Record<string, unknown> };
    expect(state.modules['scripts']).toBeUndefined();
  });
});

describe('a crash (SIGKILL) in the middle of a per-instance script', () => {
  it('the next run reports it and does not run the script a second time', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const driver = await buildScriptDriver();
    const root = await scratchRoot();
    const src = await tempDir();
    const marker = join(dir, 'runs.log');
    await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '77', START_SCRIPT: `echo started >> ${marker}\nsleep 30\necho finished >> ${marker}\n` }));
    const child = spawn(process.execPath, [driver, root, src, join(dir, 'work')], { stdio: 'ignore' });
    const closed = new Promise((r) => child.on('close', r));
    for (let i = 0; i < 200 && !(await readFile(marker, 'utf8').catch(() => '')).includes('started'); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await closed;
    // the script is its own process group and outlives the killed agent (at boot, systemd's cgroup
    // takes it down with the unit); end it here so it cannot write "finished" later
    for (const pid of execFileSync('pgrep', ['-f', join(dir, 'work')], { encoding: 'utf8' }).trim().split('\n').filter((p) => p !== '')) {
      try {
        process.kill(-Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const again = execFileSync(process.execPath, [driver, root, src, join(dir, 'work')], { encoding: 'utf8' });
    const report = JSON.parse(again.trim().split('\n').at(-1) ?? '{}') as RunReport;
    expect(report.previousRunInterrupted).toBeDefined();
    expect(report.modules.find((m) => m.id === 'scripts')).toMatchObject({ status: 'skipped', reason: 'the last run was interrupted; not running it twice' });
    expect(await readFile(marker, 'utf8')).toBe('started\n');
  });
});
