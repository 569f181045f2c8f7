import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Module } from '../../src/agent/modules/module.js';
import { OutcomeBuilder } from '../../src/agent/modules/module.js';
import { runAgent } from '../../src/agent/run.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { writeIso } from '../../src/formats/iso9660/writer.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { BUNDLE } from '../helpers/cli.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { TestClock } from '../helpers/clock.js';
import { tempDir } from '../helpers/tmp.js';
import { buildScriptDriver } from '../helpers/driver.js';

function counting(id: string, onInterrupted: 'rerun' | 'skip', calls: string[]): Module {
  return {
    id,
    stage: 'local',
    frequency: 'per-instance',
    onInterrupted,
    description: id,
    isRelevant: () => true,
    inputs: () => null,
    apply: (_ctx, target) => {
      calls.push(id);
      const out = new OutcomeBuilder();
      return target.root.writeFile(`/etc/${id}`, 'done\n', { mode: 0o644 }).then((r) => {
        out.changedIf(`/etc/${id}`, r.changed);
        return out.build();
      });
    },
  };
}

async function agent(root: string, source: string, modules: readonly Module[]) {
  const lines: string[] = [];
  const report = await runAgent({
    root: new DirectoryRoot(root),
    stateRoot: new DirectoryRoot(root),
    stateDir: '/var/lib/vmctx',
    source,
    stage: 'all',
    dryRun: false,
    exec: new HostExec(),
    logger: createLogger(undefined),
    console: new ConsoleLines(true, (l) => lines.push(l)),
    modules,
    version: 'test',
  });
  return { report, lines };
}

describe('runAgent: interrupted runs', () => {
  it('reports an interrupted run; re-runs idempotent modules, never runs a non-re-runnable one twice', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), "VMID='7'\n");
    const calls: string[] = [];
    const modules = [counting('idem', 'rerun', calls), counting('once-only', 'skip', calls)];
    await agent(root, src, modules);
    expect(calls).toEqual(['idem', 'once-only']);
    // simulate a crash of a later run: the in-progress marker is left, and the non-re-runnable
    // module's record says "started" (it was killed while running)
    const statePath = join(root, 'var/lib/vmctx/state.json');
    const state = JSON.parse(await readFile(statePath, 'utf8')) as { run?: unknown; modules: Record<string, Record<string, unknown>> };
    state.run = { startedAt: '2026-01-01T00:00:00.000Z', instanceId: 'vmid-7', bootId: 'b', stage: 'all' };
    state.modules['once-only'] = { ...state.modules['once-only'], status: 'started' };
    delete state.modules['idem'];
    await writeFile(statePath, JSON.stringify(state));
    calls.length = 0;
    const { report, lines } = await agent(root, src, modules);
    expect(report.previousRunInterrupted).toEqual({ startedAt: '2026-01-01T00:00:00.000Z', stage: 'all' });
    expect(lines.join('')).toMatch(/never finished/);
    expect(calls).toEqual(['idem']);
    expect(report.modules.find((m) => m.id === 'once-only')).toMatchObject({ status: 'skipped', reason: 'the last run was interrupted; not running it twice' });
    // the next run does not report it again, and still does not run it
    calls.length = 0;
    const third = await agent(root, src, modules);
    expect(third.report.previousRunInterrupted).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('regression (crash injection, trial 138): after an interrupted run, temporary files its killed writes left are swept, even for files not written again', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), "VMID='7'\n");
    await agent(root, src, [counting('idem', 'rerun', [])]);
    await mkdir(join(root, 'var/log/vmctx/scripts'), { recursive: true });
    const stale = join(root, 'var/log/vmctx/scripts/.START_SCRIPT.log.vmctx-db1d158e3415');
    await writeFile(stale, 'half a log');
    await writeFile(join(root, 'home/alice/.ssh.keep'), '');
    await mkdir(join(root, 'home/alice/.ssh'), { recursive: true });
    await writeFile(join(root, 'home/alice/.ssh/.authorized_keys.vmctx-0123456789ab'), 'half');
    await writeFile(join(root, 'etc/.not-ours.vmctx-x'), 'kept');
    const statePath = join(root, 'var/lib/vmctx/state.json');
    const state = JSON.parse(await readFile(statePath, 'utf8')) as { run?: unknown };
    state.run = { startedAt: '2026-01-01T00:00:00.000Z', instanceId: 'vmid-7', bootId: 'b', stage: 'all' };
    await writeFile(statePath, JSON.stringify(state));
    await agent(root, src, [counting('idem', 'rerun', [])]);
    expect(await readdir(join(root, 'var/log/vmctx/scripts'))).toEqual([]);
    expect(await readdir(join(root, 'home/alice/.ssh'))).toEqual([]);
    expect(await readdir(join(root, 'etc'))).toContain('.not-ours.vmctx-x');
  });

  it('one run at a time: a live holder of the run lock makes the run wait, then give up (exit "busy"); a dead holder\'s lock is taken over', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), "VMID='7'\n");
    await mkdir(join(root, 'run/vmctx'), { recursive: true });
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    const clock = new TestClock();
    try {
      await writeFile(join(root, 'run/vmctx/run.lock'), `${String(holder.pid)}\n`);
      const calls: string[] = [];
      const busy = await runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'all', dryRun: false,
        exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), modules: [counting('idem', 'rerun', calls)], version: 'test', lockWaitMs: 300, clock,
      });
      expect(busy.result).toBe('busy');
      // it polled the live holder every 100 ms until the 300 ms wait was spent
      expect(clock.sleeps).toEqual([100, 100, 100]);
      expect(busy.error?.code).toBe('ERR_BUSY');
      expect(calls).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
    }
    await exited;
    const calls: string[] = [];
    const { report } = await agent(root, src, [counting('idem', 'rerun', calls)]);
    expect(report.result).toBe('ok');
    expect(calls).toEqual(['idem']);
    expect(await readdir(join(root, 'run/vmctx'))).not.toContain('run.lock');
  });

  it('two runs started together (the unit and a manual run): one waits for the other, the per-instance script runs once', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const driver = await buildScriptDriver();
    const root = await scratchRoot();
    const src = await tempDir();
    const marker = join(dir, 'runs.log');
    await writeFile(join(src, 'context.sh'), `VMID='8'\nSTART_SCRIPT='echo ran >> ${marker}; sleep 1'\n`);
    const start = (): Promise<number | null> => new Promise((resolve) => spawn(process.execPath, [driver, root, src, join(dir, 'work')], { stdio: 'ignore' }).on('close', resolve));
    expect(await Promise.all([start(), start()])).toEqual([0, 0]);
    expect(await readFile(marker, 'utf8')).toBe('ran\n');
  });

  it('a damaged state file is reported and treated as empty', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), "VMID='7'\n");
    const calls: string[] = [];
    await agent(root, src, [counting('idem', 'rerun', calls)]);
    await writeFile(join(root, 'var/lib/vmctx/state.json'), '{"version":1,"modules":');
    const { lines } = await agent(root, src, [counting('idem', 'rerun', calls)]);
    expect(lines.join('')).toMatch(/state file is damaged/);
    expect(calls).toEqual(['idem', 'idem']);
  });
});

describe('vmctx run killed at random points (SIGKILL), then run again', () => {
  it('every managed file is old or new, never empty or partial; the rerun converges', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const keys = [fakeKey('ssh-ed25519', 'one'), fakeKey('ssh-ed25519', 'two')];
    const iso = join(dir, 'ctx.iso');
    await writeFile(iso, writeIso([{ path: 'context.sh', data: Buffer.from(renderContextSh({ VMID: '9', SET_HOSTNAME: 'crash-test', DNS: '10.9.9.9', SSH_PUBLIC_KEY: keys.join('\n') })) }]));
    const oldFiles: Record<string, string> = {
      'etc/hostname': 'old-name\n',
      'etc/resolv.conf': 'nameserver 192.0.2.53\noptions edns0\n',
      'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    };
    const trials = 24;
    let killedMidway = 0;
    for (let i = 0; i < trials; i++) {
      const root = await scratchRoot();
      await writeFile(join(root, 'etc/hostname'), oldFiles['etc/hostname']!);
      const child = spawn(process.execPath, [BUNDLE, 'run', '--source', iso, '--root', root, '-q'], { stdio: 'ignore' });
      const closed = new Promise<number | null>((r) => child.on('close', (c) => { r(c); }));
      const delay = 40 + ((i * 37) % 120);
      await new Promise((r) => setTimeout(r, delay));
      const killed = child.kill('SIGKILL');
      const code = await closed;
      if (killed && code === null) killedMidway++;
      for (const [path, old] of Object.entries(oldFiles)) {
        const now = await readFile(join(root, path), 'utf8');
        if (now !== old) expect(now, `${path} after a kill at ${delay} ms`).toMatch(path === 'etc/hostname' ? /^crash-test\n$/u : /10\.9\.9\.9|crash-test/u);
      }
      const again = spawn(process.execPath, [BUNDLE, 'run', '--source', iso, '--root', root, '-q'], { stdio: 'ignore' });
      expect(await new Promise((r) => again.on('close', r))).toBe(0);
      expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('crash-test\n');
      const ak = await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8');
      for (const k of keys) expect(ak.split(k)).toHaveLength(2);
    }
    // the kill must actually land mid-run in a good share of the trials for this test to mean anything
    expect(killedMidway).toBeGreaterThan(trials / 4);
  });
});
