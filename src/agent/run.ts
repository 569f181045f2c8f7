// The pipeline: find and read the context, work out the instance, run each module of the stage
// when its frequency says so (a failing module is recorded and the others still run), keep state,
// and write the report.
import type { Exec } from '../host/exec.js';
import type { Root } from '../host/root.js';
import { VmctxError, describeError } from '../shared/errors.js';
import type { ConsoleLines, Logger } from '../shared/logger.js';
import { normaliseContext, type Context, type ContextWarning, type SourceInfo } from './context/context.js';
import { defaultProbe, discoverMedium, openExplicitSource, type OpenedContext, type Probe, type SourceAttempt } from './datasources/contextmedium.js';
import { bootIdentity, instanceIdentity } from './identity.js';
import { MODULES } from './modules/index.js';
import type { Frequency, Module, Stage, Target } from './modules/module.js';
import type { ScriptRunner } from '../host/scripts.js';
import { decide } from './planner.js';
import { StateStore, hashInputs } from './state.js';

export const REPORT_PATH = '/run/vmctx/report.json';

export type RunResult = 'ok' | 'no-context' | 'invalid-context' | 'module-failed';

export interface ModuleReport {
  readonly id: string;
  readonly stage: Stage;
  readonly frequency: Frequency;
  readonly status: 'applied' | 'unchanged' | 'skipped' | 'not-relevant' | 'failed';
  readonly reason: string;
  readonly durationMs: number;
  readonly changed: readonly string[];
  readonly actions: readonly string[];
  readonly warnings: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
  readonly details?: unknown;
}

export interface RunReport {
  readonly vmctx: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly stage: Stage | 'all';
  readonly dryRun: boolean;
  readonly root: string;
  readonly result: RunResult;
  readonly error?: { readonly code: string; readonly message: string };
  readonly source?: SourceInfo;
  readonly sourceAttempts: readonly SourceAttempt[];
  readonly instanceId?: string;
  readonly instanceIdSource?: string;
  readonly bootId?: string;
  /** An earlier run that never finished (a crash or power loss), when there was one. */
  readonly previousRunInterrupted?: { readonly startedAt: string; readonly stage: string };
  readonly warnings: readonly ContextWarning[];
  readonly modules: readonly ModuleReport[];
}

export interface RunOptions {
  readonly root: Root;
  readonly stateRoot: Root;
  readonly stateDir: string;
  readonly source: string;
  readonly stage: Stage | 'all';
  readonly dryRun: boolean;
  readonly exec: Exec;
  readonly logger: Logger;
  readonly console: ConsoleLines;
  readonly probe?: Probe;
  readonly modules?: readonly Module[];
  readonly version: string;
  /** Lists the running system's NICs (live runs only). */
  readonly listNics?: () => Promise<Array<{ name: string; mac: string }>>;
  /** Runs scripts; given for live runs (and by tests on scratch roots). */
  readonly scripts?: ScriptRunner;
  readonly scriptTimeoutMs?: number;
}

export interface LoadedContext {
  readonly context: Context;
  readonly attempts: readonly SourceAttempt[];
  close(): Promise<void>;
}

/** Finds and reads the context (explicit source or discovery) and normalises it. */
export async function loadContext(source: string, root: Root, probe: Probe = defaultProbe): Promise<LoadedContext> {
  let opened: OpenedContext | undefined;
  if (source === 'auto') opened = await discoverMedium(probe);
  else opened = await openExplicitSource(source, probe.sysDir);
  if (opened === undefined) throw new VmctxError('ERR_NO_CONTEXT', 'no context medium found (looked for labels CONTEXT/_STRATUSLAB/CDROM, /dev/hdc, /dev/sr0, /dev/cdrom and ISO 9660 block devices)');
  try {
    const identity = await instanceIdentity(opened.raw.variables, root);
    const context = await normaliseContext(opened.raw, identity);
    const found = opened;
    return { context, attempts: opened.attempts, close: () => found.close() };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

function classify(error: unknown): RunResult {
  if (error instanceof VmctxError) {
    if (error.code === 'ERR_NO_CONTEXT') return 'no-context';
    if (error.code.startsWith('ERR_CONTEXT') || error.code.startsWith('ERR_ISO')) return 'invalid-context';
  }
  throw error;
}

export async function runAgent(options: RunOptions): Promise<RunReport> {
  const started = new Date();
  const { root, logger, console } = options;
  const modules = (options.modules ?? MODULES).filter((m) => options.stage === 'all' || m.stage === options.stage);
  const base = { vmctx: options.version, startedAt: started.toISOString(), stage: options.stage, dryRun: options.dryRun, root: root.path };
  const finish = async (fields: Omit<RunReport, keyof typeof base | 'finishedAt' | 'durationMs'>): Promise<RunReport> => {
    const finished = new Date();
    const report: RunReport = { ...base, finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime(), ...fields };
    if (!options.dryRun) {
      try {
        await root.writeFile(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644 });
      } catch (error) {
        logger.error({ err: describeError(error) }, 'cannot write the report');
        console.line(`cannot write ${REPORT_PATH}: ${describeError(error).message}`);
      }
    }
    logger.info({ result: report.result, durationMs: report.durationMs }, 'run finished');
    return report;
  };

  let loaded: LoadedContext;
  try {
    loaded = await loadContext(options.source, root, options.probe);
  } catch (error) {
    const result = classify(error);
    const described = describeError(error);
    logger.error({ err: described }, 'no usable context');
    console.line(result === 'no-context' ? `no context: ${described.message}` : `invalid context, nothing applied: ${described.message}`);
    return finish({ result, error: described, sourceAttempts: [], warnings: [], modules: [] });
  }

  try {
    const ctx = loaded.context;
    const bootId = await bootIdentity(root);
    console.line(`context from ${ctx.source.path} (${ctx.source.foundBy}), instance ${ctx.instanceId}`);
    logger.info({ source: ctx.source, instanceId: ctx.instanceId, instanceIdSource: ctx.instanceIdSource }, 'context loaded');
    for (const w of ctx.warnings) {
      logger.warn({ warning: w }, 'context warning');
      console.line(`warning: ${w.file === undefined ? '' : `${w.file}:${w.line ?? ''} `}${w.variable === undefined ? '' : `${w.variable}: `}${w.message}`);
    }
    const state = new StateStore(options.stateRoot, options.stateDir);
    await state.load();
    if (state.problem !== undefined) {
      logger.warn({ problem: state.problem }, 'state');
      console.line(`warning: ${state.problem}`);
    }
    let interrupted: { startedAt: string; stage: string } | undefined;
    if (!options.dryRun) {
      const marker = await state.beginRun({ startedAt: started.toISOString(), instanceId: ctx.instanceId, bootId, stage: options.stage });
      if (marker !== undefined) {
        interrupted = { startedAt: marker.startedAt, stage: marker.stage };
        logger.warn({ previousRun: interrupted }, 'the previous run was interrupted');
        console.line(`warning: the previous run (started ${marker.startedAt}) never finished; its idempotent modules are re-applied`);
      }
    }
    const live = root.isLive && !options.dryRun;
    const target: Target = {
      root,
      exec: options.exec,
      live,
      dryRun: options.dryRun,
      ...(live && options.listNics !== undefined ? { listNics: options.listNics } : {}),
      ...(!options.dryRun && options.scripts !== undefined ? { scripts: options.scripts } : {}),
      ...(options.scriptTimeoutMs === undefined ? {} : { scriptTimeoutMs: options.scriptTimeoutMs }),
    };
    const reports: ModuleReport[] = [];
    for (const module of modules) reports.push(await runModule(module, ctx, target, state, bootId, options));
    if (!options.dryRun) await state.endRun(ctx.instanceId, bootId);
    const failed = reports.some((r) => r.status === 'failed');
    return await finish({
      result: failed ? 'module-failed' : 'ok',
      source: ctx.source,
      sourceAttempts: loaded.attempts,
      instanceId: ctx.instanceId,
      instanceIdSource: ctx.instanceIdSource,
      bootId,
      ...(interrupted === undefined ? {} : { previousRunInterrupted: interrupted }),
      warnings: ctx.warnings,
      modules: reports,
    });
  } finally {
    await loaded.close();
  }
}

async function runModule(module: Module, ctx: Context, target: Target, state: StateStore, bootId: string, options: RunOptions): Promise<ModuleReport> {
  const t0 = performance.now();
  const base = { id: module.id, stage: module.stage, frequency: module.frequency };
  const log = options.logger.child({ module: module.id });
  const elapsed = (): number => Math.round((performance.now() - t0) * 10) / 10;
  if (!module.isRelevant(ctx)) {
    return { ...base, status: 'not-relevant', reason: 'nothing for it in the context', durationMs: elapsed(), changed: [], actions: [], warnings: [] };
  }
  if (module.liveOnly === true && target.scripts === undefined) {
    return { ...base, status: 'skipped', reason: 'runs only on the running system (not for --root or --dry-run); not recorded', durationMs: elapsed(), changed: [], actions: [], warnings: [] };
  }
  const inputHash = hashInputs(module.inputs(ctx));
  const decision = decide(module, state.record(module.id), { instanceId: ctx.instanceId, bootId, inputHash });
  if (decision.interrupted) {
    log.warn({ reason: decision.reason }, 'previous run interrupted');
    options.console.line(`${module.id}: ${decision.reason}`);
  }
  if (!decision.run) {
    if (decision.interrupted && !options.dryRun) {
      const previous = state.record(module.id);
      if (previous !== undefined) await state.setModule(module.id, { ...previous, status: 'interrupted' }, true);
    }
    return { ...base, status: 'skipped', reason: decision.reason, durationMs: elapsed(), changed: [], actions: [], warnings: [] };
  }
  const startedAt = new Date().toISOString();
  const record = { instanceId: ctx.instanceId, bootId, inputHash, startedAt };
  // A module that must not run twice has "started" on disk before it begins; an idempotent one is
  // simply applied again after a crash, so its records are saved with the run's end.
  const durable = module.onInterrupted === 'skip';
  if (!options.dryRun && durable) await state.setModule(module.id, { ...record, status: 'started' }, true);
  try {
    const outcome = await module.apply(ctx, target, log);
    const durationMs = elapsed();
    if (!options.dryRun) await state.setModule(module.id, { ...record, status: 'done', finishedAt: new Date().toISOString(), durationMs }, durable);
    for (const w of outcome.warnings) log.warn({ warning: w }, 'module warning');
    const status = outcome.changed.length > 0 || outcome.actions.length > 0 ? 'applied' : 'unchanged';
    const detail = outcome.changed.length > 0 ? `changed ${outcome.changed.join(', ')}` : 'already as wanted';
    options.console.line(`${module.id}: ${status} (${detail}; ${durationMs} ms)${outcome.warnings.length > 0 ? ` — ${outcome.warnings.join('; ')}` : ''}`);
    return { ...base, status, reason: decision.reason, durationMs, changed: outcome.changed, actions: outcome.actions, warnings: outcome.warnings, ...(outcome.details === undefined ? {} : { details: outcome.details }) };
  } catch (error) {
    const durationMs = elapsed();
    const described = describeError(error);
    log.error({ err: described }, 'module failed');
    options.console.line(`${module.id}: FAILED: ${described.message}`);
    if (!options.dryRun) {
      await state.setModule(module.id, { ...record, status: 'failed', finishedAt: new Date().toISOString(), durationMs, error: described }, durable).catch((e: unknown) => {
        log.error({ err: describeError(e) }, 'cannot record the failure');
      });
    }
    return { ...base, status: 'failed', reason: decision.reason, durationMs, changed: [], actions: [], warnings: [], error: described };
  }
}
