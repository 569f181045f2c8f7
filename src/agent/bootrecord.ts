// The record of this boot: every stage that ran (local, network, final, or all), each with its
// result, modules and times relative to the boot, kept in /run/vmctx/boot.json (per boot: /run is
// a tmpfs), and what `vmctx status [--wait]` makes of it: is the boot done, and with what result.
import type { Root } from '../host/root.js';
import type { Stage } from './modules/module.js';
import type { ModuleReport, RunReport, RunResult } from './report.js';

export const BOOT_RECORD_PATH = '/run/vmctx/boot.json';

export type StageName = Stage | 'all';
/** The order stages run in a boot (and are shown in). */
export const STAGE_ORDER: readonly StageName[] = ['local', 'network', 'final', 'all'];

export interface StageModule {
  readonly id: string;
  readonly status: ModuleReport['status'];
  readonly durationMs: number;
  readonly reason: string;
  readonly changed: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
}

export interface StageRecord {
  readonly stage: StageName;
  readonly result: RunResult;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Seconds after the kernel started (when the boot time is known). */
  readonly startSec?: number;
  readonly endSec?: number;
  readonly source?: string;
  readonly instanceId?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly degraded?: string;
  readonly modules: readonly StageModule[];
}

export interface BootRecord {
  readonly bootId: string;
  /** When the kernel started (ISO time), and where vmctx learned it. */
  readonly bootAt?: string;
  readonly bootClock?: 'uptime' | 'btime';
  readonly stages: readonly StageRecord[];
}

/**
 * When the system the root belongs to booted, read through the root: `/proc/uptime` (now minus the
 * uptime, sub-second) or else `/proc/stat`'s `btime` (whole seconds). A scratch root has neither
 * unless a test puts one there; then the times are shown without a boot reference.
 */
export async function readBootClock(root: Root, nowMs: number): Promise<{ bootAtMs: number; clock: 'uptime' | 'btime' } | undefined> {
  const uptime = Number((await root.readText('/proc/uptime', { maxBytes: 256 }).catch(() => undefined))?.trim().split(/\s+/u)[0]);
  if (Number.isFinite(uptime) && uptime > 0) return { bootAtMs: Math.round(nowMs - uptime * 1000), clock: 'uptime' };
  const stat = await root.readText('/proc/stat', { maxBytes: 1024 * 1024 }).catch(() => undefined);
  const btime = Number(/^btime\s+(\d+)\s*$/mu.exec(stat ?? '')?.[1]);
  if (Number.isInteger(btime) && btime > 0) return { bootAtMs: btime * 1000, clock: 'btime' };
  return undefined;
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** The stage record of one run's report, its times relative to the boot when that is known. */
export function stageRecord(report: RunReport, bootAtMs?: number): StageRecord {
  const start = Date.parse(report.startedAt);
  const end = Date.parse(report.finishedAt);
  return {
    stage: report.stage,
    result: report.result,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: report.durationMs,
    ...(bootAtMs === undefined ? {} : { startSec: seconds(start - bootAtMs), endSec: seconds(end - bootAtMs) }),
    ...(report.source === undefined ? {} : { source: `${report.source.path} (${report.source.foundBy})` }),
    ...(report.instanceId === undefined ? {} : { instanceId: report.instanceId }),
    ...(report.error === undefined ? {} : { error: report.error }),
    ...(report.degraded === undefined ? {} : { degraded: report.degraded }),
    modules: report.modules.map((m) => ({ id: m.id, status: m.status, durationMs: m.durationMs, reason: m.reason, changed: m.changed, ...(m.error === undefined ? {} : { error: m.error }) })),
  };
}

/**
 * Adds a stage to the boot's record: a stage that ran again replaces its earlier entry; a record
 * of another boot (a /run that outlived its boot on the running system) is started afresh.
 */
export function withStage(previous: BootRecord | undefined, stage: StageRecord, boot: { bootId: string; bootAtMs?: number | undefined; clock?: 'uptime' | 'btime' | undefined; live: boolean }): BootRecord {
  const same = previous !== undefined && (!boot.live || previous.bootId === boot.bootId);
  const kept = same ? previous.stages.filter((s) => s.stage !== stage.stage) : [];
  const stages = [...kept, stage].sort((a, b) => STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage));
  const bootAt = same && previous.bootAt !== undefined ? { bootAt: previous.bootAt, ...(previous.bootClock === undefined ? {} : { bootClock: previous.bootClock }) } : boot.bootAtMs === undefined ? {} : { bootAt: new Date(boot.bootAtMs).toISOString(), ...(boot.clock === undefined ? {} : { bootClock: boot.clock }) };
  return { bootId: same ? previous.bootId : boot.bootId, ...bootAt, stages };
}

export async function readBootRecord(root: Root): Promise<BootRecord | undefined> {
  const text = await root.readText(BOOT_RECORD_PATH, { maxBytes: 16 * 1024 * 1024 }).catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<BootRecord>;
    return typeof parsed.bootId === 'string' && Array.isArray(parsed.stages) ? (parsed as BootRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Adds this run's stage to `/run/vmctx/boot.json` (atomically, through the root). */
export async function recordStage(root: Root, report: RunReport, bootId: string, nowMs: number): Promise<void> {
  const previous = await readBootRecord(root);
  const keptBoot = previous !== undefined && (!root.isLive || previous.bootId === bootId) && previous.bootAt !== undefined ? Date.parse(previous.bootAt) : undefined;
  const clock = keptBoot === undefined ? await readBootClock(root, nowMs) : undefined;
  const bootAtMs = keptBoot ?? clock?.bootAtMs;
  const record = withStage(previous, stageRecord(report, bootAtMs), { bootId, bootAtMs, clock: clock?.clock, live: root.isLive });
  await root.writeFile(BOOT_RECORD_PATH, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
}

/** The boot's overall result: the worst of its stages; a stage without context does not count when another had one. */
export function bootResult(stages: readonly StageRecord[]): RunResult {
  const results = stages.map((s) => s.result);
  for (const r of ['invalid-context', 'module-failed', 'metadata-incomplete'] as const) if (results.includes(r)) return r;
  if (results.includes('ok')) return 'ok';
  if (results.includes('no-context')) return 'no-context';
  return results.includes('busy') ? 'busy' : 'ok';
}

/** What the status command knows besides the record: the stage markers the units look at, and the run lock. */
export interface BootMarkers {
  /** /run/vmctx/need-network: the network stage is to run. */
  readonly needNetwork: boolean;
  /** /run/vmctx/final-idle: the final stage is skipped this boot. */
  readonly finalIdle: boolean;
  /** A live run holds /run/vmctx/run.lock. */
  readonly running: boolean;
  /** The final unit as systemd sees it, when systemd runs the boot: failed (the boot gave up) or skipped. */
  readonly finalUnit?: 'failed' | 'skipped' | 'done' | 'pending' | undefined;
}

export interface BootProgress {
  readonly state: 'done' | 'running' | 'not-started';
  /** Set once done. */
  readonly result?: RunResult | 'gave-up';
  /** What the boot still waits for, or why it is done. */
  readonly why: string;
}

/** Whether the boot's vmctx work is over (the final stage ran, or will not run) and its result. */
export function bootProgress(record: BootRecord | undefined, markers: BootMarkers): BootProgress {
  const stages = new Map((record?.stages ?? []).map((s) => [s.stage, s]));
  const result = bootResult(record?.stages ?? []);
  if (markers.running) return { state: 'running', why: 'a vmctx run is in progress' };
  if (stages.has('all')) return { state: 'done', result, why: 'all stages ran in one run' };
  if (stages.has('final')) return { state: 'done', result, why: 'the final stage ran' };
  if (markers.finalUnit === 'failed') return { state: 'done', result: 'gave-up', why: 'vmctx-final.service failed' };
  const early = stages.get('local') ?? stages.get('network');
  if (early === undefined) return { state: 'not-started', why: 'no stage has run yet this boot' };
  if (markers.needNetwork && !stages.has('network')) return { state: 'running', why: 'waiting for the network stage (the local stage found no local context)' };
  if (markers.finalIdle || markers.finalUnit === 'skipped') return { state: 'done', result, why: 'no final-stage work this boot (the final stage is skipped)' };
  return { state: 'running', why: 'waiting for the final stage' };
}

export interface WaitOptions {
  /** Milliseconds from now; undefined waits for good. */
  readonly timeoutMs?: number | undefined;
  readonly intervalMs?: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** Polls until the boot is done; 'timeout' when the deadline passed first (the last progress seen with it). */
export async function waitForBoot(read: () => Promise<BootProgress>, options: WaitOptions): Promise<{ progress: BootProgress; timedOut: boolean }> {
  const deadline = options.timeoutMs === undefined ? undefined : options.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 500;
  for (;;) {
    const progress = await read();
    if (progress.state === 'done') return { progress, timedOut: false };
    const left = deadline === undefined ? interval : deadline - options.now();
    if (left <= 0) return { progress, timedOut: true };
    await options.sleep(Math.min(interval, left));
  }
}
