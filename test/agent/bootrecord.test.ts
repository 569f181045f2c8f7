// The boot record (/run/vmctx/boot.json): every stage of a boot kept, times after the boot, and
// the rules by which `status --wait` decides that the boot is done.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOOT_RECORD_PATH, bootProgress, bootResult, readBootClock, readBootRecord, recordStage, stageRecord, waitForBoot, withStage, type BootMarkers, type BootProgress, type BootRecord, type StageRecord } from '../../src/agent/bootrecord.js';
import type { RunReport, RunResult } from '../../src/agent/report.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { tempDir } from '../helpers/tmp.js';

const BOOT = Date.parse('2026-12-01T00:00:00.000Z');

function report(stage: RunReport['stage'], result: RunResult, startMs: number, durationMs: number): RunReport {
  return {
    vmctx: 'test',
    startedAt: new Date(BOOT + startMs).toISOString(),
    finishedAt: new Date(BOOT + startMs + durationMs).toISOString(),
    durationMs,
    stage,
    dryRun: false,
    root: '/scratch',
    result,
    source: { kind: 'directory', path: '/media/ctx', foundBy: '--source', variableFiles: ['context.sh'] },
    sourceAttempts: [],
    instanceId: 'vmid-7',
    warnings: [],
    modules: [
      { id: 'hostname', stage: 'local', frequency: 'on-change', status: 'applied', reason: 'first run', durationMs: 3.5, changed: ['/etc/hostname'], actions: [], warnings: [], details: { big: 'not kept' } },
      { id: 'dns', stage: 'local', frequency: 'on-change', status: 'not-relevant', reason: 'nothing for it in the context', durationMs: 0.1, changed: [], actions: [], warnings: [] },
    ],
  };
}

const stage = (name: StageRecord['stage'], result: RunResult = 'ok'): StageRecord => stageRecord(report(name, result, 1000, 100), BOOT);
const record = (...stages: StageRecord[]): BootRecord => ({ bootId: 'b1', stages });
const markers = (m: Partial<BootMarkers> = {}): BootMarkers => ({ needNetwork: false, finalIdle: false, running: false, ...m });

describe('the stage record', () => {
  it('keeps result, source, instance and each module (without its details), with times in seconds after the boot', () => {
    const s = stageRecord(report('local', 'ok', 3210, 590), BOOT);
    expect(s).toEqual({
      stage: 'local',
      result: 'ok',
      startedAt: '2026-12-01T00:00:03.210Z',
      finishedAt: '2026-12-01T00:00:03.800Z',
      durationMs: 590,
      startSec: 3.21,
      endSec: 3.8,
      source: '/media/ctx (--source)',
      instanceId: 'vmid-7',
      modules: [
        { id: 'hostname', status: 'applied', durationMs: 3.5, reason: 'first run', changed: ['/etc/hostname'] },
        { id: 'dns', status: 'not-relevant', durationMs: 0.1, reason: 'nothing for it in the context', changed: [] },
      ],
    });
    // without a boot time there are no relative times, never made-up ones
    expect(stageRecord(report('local', 'ok', 0, 1))).not.toHaveProperty('startSec');
  });

  it('adds stages in boot order, replaces a stage that ran again, and starts afresh for another boot on the running system only', () => {
    const local = stage('local');
    const final = stage('final');
    let r = withStage(undefined, final, { bootId: 'b1', bootAtMs: BOOT, clock: 'uptime', live: true });
    r = withStage(r, local, { bootId: 'b1', bootAtMs: BOOT + 5, clock: 'uptime', live: true });
    expect(r.stages.map((s) => s.stage)).toEqual(['local', 'final']);
    // the boot time of the first stage is kept (the second reading differs by a few ms)
    expect(r.bootAt).toBe('2026-12-01T00:00:00.000Z');
    const again = withStage(r, stage('local', 'module-failed'), { bootId: 'b1', live: true });
    expect(again.stages.map((s) => `${s.stage}:${s.result}`)).toEqual(['local:module-failed', 'final:ok']);
    expect(withStage(r, stage('local'), { bootId: 'b2', live: true }).stages.map((s) => s.stage)).toEqual(['local']);
    // a scratch root's boot id is new on every run: its /run is the only thing that says "this boot"
    expect(withStage(r, stage('network'), { bootId: 'b2', live: false }).stages.map((s) => s.stage)).toEqual(['local', 'network', 'final']);
  });
});

describe('the boot clock and the file', () => {
  it('reads the boot time through the root: /proc/uptime (now minus uptime), else /proc/stat btime, else none', async () => {
    const dir = await tempDir();
    const root = new DirectoryRoot(dir);
    expect(await readBootClock(root, BOOT + 60_000)).toBeUndefined();
    await mkdir(join(dir, 'proc'));
    await writeFile(join(dir, 'proc/stat'), `cpu  1 2 3\nbtime ${BOOT / 1000}\nprocesses 9\n`);
    expect(await readBootClock(root, BOOT + 60_000)).toEqual({ bootAtMs: BOOT, clock: 'btime' });
    await writeFile(join(dir, 'proc/uptime'), '12.34 20.00\n');
    expect(await readBootClock(root, BOOT + 60_000)).toEqual({ bootAtMs: BOOT + 60_000 - 12_340, clock: 'uptime' });
  });

  it('recordStage writes /run/vmctx/boot.json atomically through the root and keeps every stage of the boot', async () => {
    const dir = await tempDir();
    const root = new DirectoryRoot(dir);
    await mkdir(join(dir, 'proc'));
    await writeFile(join(dir, 'proc/stat'), `btime ${BOOT / 1000}\n`);
    await recordStage(root, report('local', 'ok', 3000, 200), 'boot-1', BOOT + 3200);
    await recordStage(root, report('final', 'module-failed', 9000, 400), 'boot-2', BOOT + 9400);
    const saved = JSON.parse(await readFile(join(dir, BOOT_RECORD_PATH), 'utf8')) as BootRecord;
    expect(saved.bootAt).toBe('2026-12-01T00:00:00.000Z');
    expect(saved.bootClock).toBe('btime');
    expect(saved.stages.map((s) => [s.stage, s.result, s.startSec, s.endSec])).toEqual([['local', 'ok', 3, 3.2], ['final', 'module-failed', 9, 9.4]]);
    expect(await readBootRecord(root)).toEqual(saved);
    // no temporary file left beside it
    expect(await readdir(join(dir, 'run/vmctx'))).toEqual(['boot.json']);
    await writeFile(join(dir, BOOT_RECORD_PATH), '{ damaged');
    expect(await readBootRecord(root)).toBeUndefined();
  });
});

describe('is the boot done (status --wait)', () => {
  it('done once the final stage ran, or one run did all stages; its result is the worst stage', () => {
    expect(bootProgress(record(stage('local'), stage('final', 'module-failed')), markers())).toMatchObject({ state: 'done', result: 'module-failed' });
    expect(bootProgress(record(stage('all')), markers())).toMatchObject({ state: 'done', result: 'ok' });
    // a local stage without context and a network stage that found the metadata: the boot is ok
    expect(bootResult([stage('local', 'no-context'), stage('network', 'ok'), stage('final', 'ok')])).toBe('ok');
    expect(bootResult([stage('local', 'no-context'), stage('network', 'metadata-incomplete'), stage('final', 'no-context')])).toBe('metadata-incomplete');
    expect(bootResult([stage('local', 'no-context'), stage('final', 'no-context')])).toBe('no-context');
    expect(bootResult([stage('local', 'invalid-context'), stage('final', 'module-failed')])).toBe('invalid-context');
  });

  it('waits for the final stage, for the network stage the local one asked for, and while a run holds the lock', () => {
    expect(bootProgress(undefined, markers())).toMatchObject({ state: 'not-started' });
    expect(bootProgress(record(stage('local')), markers())).toEqual({ state: 'running', why: 'waiting for the final stage' });
    expect(bootProgress(record(stage('local', 'no-context')), markers({ needNetwork: true, finalIdle: true }))).toMatchObject({ state: 'running', why: expect.stringMatching(/network stage/u) as unknown });
    expect(bootProgress(record(stage('local'), stage('final')), markers({ running: true }))).toMatchObject({ state: 'running' });
  });

  it('done without a final stage when none will run (final-idle, or systemd skipped it), or the boot gave up (the unit failed)', () => {
    expect(bootProgress(record(stage('local')), markers({ finalIdle: true }))).toMatchObject({ state: 'done', result: 'ok' });
    expect(bootProgress(record(stage('local', 'no-context'), stage('network')), markers({ needNetwork: true, finalIdle: true }))).toMatchObject({ state: 'done', result: 'ok' });
    expect(bootProgress(record(stage('local')), markers({ finalUnit: 'skipped' }))).toMatchObject({ state: 'done' });
    expect(bootProgress(record(stage('local')), markers({ finalUnit: 'failed' }))).toMatchObject({ state: 'done', result: 'gave-up' });
  });

  it('polls until done, sleeping between polls, with an injected clock', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const answers: BootProgress[] = [{ state: 'not-started', why: 'a' }, { state: 'running', why: 'b' }, { state: 'done', result: 'ok', why: 'c' }];
    let polls = 0;
    const waited = await waitForBoot(() => Promise.resolve(answers[Math.min(polls++, 2)] as BootProgress), {
      timeoutMs: 10_000,
      intervalMs: 500,
      now: () => now,
      sleep: (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    });
    expect(waited).toEqual({ progress: { state: 'done', result: 'ok', why: 'c' }, timedOut: false });
    expect(sleeps).toEqual([500, 500]);
  });

  it('gives up at the deadline (the last sleep cut to what is left) and says so', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const waited = await waitForBoot(() => Promise.resolve<BootProgress>({ state: 'running', why: 'waiting for the final stage' }), {
      timeoutMs: 1200,
      intervalMs: 500,
      now: () => now,
      sleep: (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    });
    expect(waited).toEqual({ progress: { state: 'running', why: 'waiting for the final stage' }, timedOut: true });
    expect(sleeps).toEqual([500, 500, 200]);
  });
});
