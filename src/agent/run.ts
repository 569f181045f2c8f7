// The pipeline: find and read the context, work out the instance, run each module of the stage
// when its frequency says so (a failing module is recorded and the others still run), keep state,
// and write the report.
import type { Clock } from '../host/clock.js';
import type { Exec } from '../host/exec.js';
import { DryRunRoot, RecordingExec } from '../host/dryrun.js';
import type { Root } from '../host/root.js';
import { VmctxError, describeError } from '../shared/errors.js';
import type { ConsoleLines, Logger } from '../shared/logger.js';
import { formatWarning, type Context, type ContextWarning } from './context/context.js';
import { defaultProbe } from './datasources/contextmedium.js';
import type { Probe, SourceAttempt } from './datasources/datasource.js';
import { loadContext, type LoadedContext } from './datasources/registry.js';
import { loadConfig, type AgentConfig } from './config.js';
import { bootIdentity } from './identity.js';
import { BOOT_RECORD_PATH, recordStage } from './bootrecord.js';
import { acquireLock } from './lock.js';
import { MODULES } from './modules/index.js';
import type { Module, Stage, Target } from './modules/module.js';
import { classify, guestPathMessage, writeReport, type ModuleReport, type RunReport } from './report.js';
import type { ScriptRunner } from '../host/scripts.js';
import { ensureOwnDir } from '../host/owndir.js';
import { hostMachine } from '../host/machine.js';
import { decide } from './planner.js';
import { StateStore, hashInputs } from './state.js';
import { sweepStaleTemps } from './sweep.js';
import type { GuestNic } from '../network/resolvenet.js';

/** Left by a local stage that found no local context: the network stage is needed. */
export const NEED_NETWORK_PATH = '/run/vmctx/need-network';
/** Left by a local or network stage after which no final-stage module would run this boot. */
export const FINAL_IDLE_PATH = '/run/vmctx/final-idle';
/** Where the loader keeps its V8 code cache (packaging/load.js). */
const CODE_CACHE_DIR = '/var/cache/vmctx';

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
  /** The agent settings; read from <root>/etc/vmctx/config when not given. */
  readonly config?: AgentConfig;
  readonly metadataUrl?: string | undefined;
  readonly metadataBudgetMs?: number | undefined;
  readonly modules?: readonly Module[];
  readonly version: string;
  /** Lists the running system's NICs (live runs only). */
  readonly listNics?: () => Promise<GuestNic[]>;
  /** The NIC list is complete (the daemon runs after boot): a NIC that is not there was removed. */
  readonly nicsSettled?: boolean;
  /** Runs scripts; given for live runs (and by tests on scratch roots). */
  readonly scripts?: ScriptRunner;
  readonly scriptTimeoutMs?: number;
  /** Aborted when the run is to end early (the daemon stops); given to the modules' Target. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the context once it is loaded (the daemon remembers what it applied). */
  readonly onContext?: (ctx: Context) => void;
  /** How long to wait for another run's lock (default 60 s). */
  readonly lockWaitMs?: number;
  /** Time for the lock's wait and the datasources' budgets (default: the system clock). */
  readonly clock?: Clock;
  /** false for the daemon's checks after the boot: not a stage of the boot, so not in its record (report.json has them). */
  readonly recordBoot?: boolean;
}

/** Repairs vmctx's own directories before anything is read or written there; what was repaired, as warnings. */
async function ownDirs(options: RunOptions): Promise<ContextWarning[]> {
  const repaired: ContextWarning[] = [];
  const dirs: [Root, string, number][] = [[options.root, '/run/vmctx', 0o755], ...(options.stateDir === '' ? [] : [[options.stateRoot, options.stateDir, 0o700] as [Root, string, number]])];
  // the loader's code cache (made at install, when it was): repaired where it is, never created
  if ((await options.root.lstat(CODE_CACHE_DIR).catch(() => undefined)) !== undefined) dirs.push([options.root, CODE_CACHE_DIR, 0o700]);
  for (const [root, dir, mode] of dirs) {
    try {
      for (const message of await ensureOwnDir(root, dir, mode)) repaired.push({ message: `repaired: ${message}` });
    } catch (error) {
      repaired.push({ message: `vmctx's own directory ${dir} is unusable: ${describeError(error).message}` });
    }
  }
  for (const w of repaired) {
    options.logger.warn({ warning: w }, 'own directory');
    options.console.line(`warning: ${w.message}`);
  }
  return repaired;
}

export async function runAgent(given: RunOptions): Promise<RunReport> {
  // a dry run writes nothing whoever calls it: its roots are overlays and its programs run on scratch copies
  let options = given;
  if (given.dryRun && !(given.root instanceof DryRunRoot)) {
    const root = new DryRunRoot(given.root);
    options = { ...given, root, stateRoot: given.stateRoot instanceof DryRunRoot ? given.stateRoot : new DryRunRoot(given.stateRoot), exec: given.exec instanceof RecordingExec ? given.exec : new RecordingExec(given.exec, root) };
  }
  let release: (() => Promise<void>) | undefined;
  const repaired = options.dryRun ? [] : await ownDirs(options);
  if (!options.dryRun) {
    try {
      release = await acquireLock(options.root, options.lockWaitMs ?? 60_000, options.console, options.clock === undefined ? {} : { clock: options.clock });
    } catch (error) {
      const described = describeError(error);
      options.logger.error({ err: described }, 'another run holds the lock');
      options.console.line(`not run: ${described.message}`);
      const now = new Date().toISOString();
      return { vmctx: options.version, startedAt: now, finishedAt: now, durationMs: 0, stage: options.stage, dryRun: false, root: options.root.path, result: 'busy', error: described, sourceAttempts: [], warnings: repaired, modules: [] };
    }
  }
  try {
    return await runLocked(options, repaired);
  } finally {
    await release?.();
  }
}

async function runLocked(options: RunOptions, repaired: readonly ContextWarning[]): Promise<RunReport> {
  const started = new Date();
  // performance.now() counts from the process's start
  const runAt = performance.now();
  let contextMs: number | undefined;
  const { root, logger, console } = options;
  const bootId = await bootIdentity(root);
  const base = { vmctx: options.version, startedAt: started.toISOString(), stage: options.stage, dryRun: options.dryRun, root: root.path };
  const finish = async (fields: Omit<RunReport, keyof typeof base | 'finishedAt' | 'durationMs'>): Promise<RunReport> => {
    const finished = new Date();
    const timings = { processToRunMs: Math.round(runAt), ...(contextMs === undefined ? {} : { contextMs }) };
    const report: RunReport = { ...base, finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime(), timings, ...fields, warnings: [...repaired, ...fields.warnings] };
    if (!options.dryRun) {
      await writeReport(root, report, logger, console);
      // this boot's record keeps every stage (report.json holds the last run only)
      if (options.recordBoot !== false) {
        try {
          await recordStage(root, report, bootId, Date.now());
        } catch (error) {
          logger.error({ err: describeError(error) }, 'cannot write the boot record');
          console.line(`cannot write ${BOOT_RECORD_PATH}: ${guestPathMessage(describeError(error).message, BOOT_RECORD_PATH)}`);
        }
      }
    }
    logger.info({ result: report.result, durationMs: report.durationMs }, 'run finished');
    return report;
  };

  let config = options.config;
  if (config === undefined) {
    const loadedConfig = await loadConfig(root);
    for (const w of loadedConfig.warnings) {
      logger.warn({ warning: w }, 'configuration');
      console.line(`warning: ${w}`);
    }
    config = loadedConfig.config;
  }
  let loaded: LoadedContext;
  try {
    loaded = await loadContext({
      source: options.source,
      root,
      probe: options.probe ?? { ...defaultProbe, waitMs: options.stage === 'network' || options.stage === 'final' ? 0 : config.mediumWaitMs },
      config,
      stage: options.stage,
      cache: { root: options.stateRoot, dir: options.stateDir, write: !options.dryRun },
      bootId,
      metadataUrl: options.metadataUrl,
      metadataBudgetMs: options.metadataBudgetMs,
      clock: options.clock,
    });
  } catch (error) {
    const result = classify(error);
    const described = describeError(error);
    const attempts = error instanceof VmctxError && Array.isArray(error.details['attempts']) ? (error.details['attempts'] as SourceAttempt[]) : [];
    // tells vmctx-network.service (ConditionPathExists) that the metadata service is this boot's only hope
    // (or a NoCloud seed named by the SMBIOS serial or the kernel command line waits for it)
    const waits = error instanceof VmctxError && error.details['waitsForNetwork'] === true;
    if (result === 'no-context' && options.stage === 'local' && (config.datasources.includes('metadata') || waits) && !options.dryRun) {
      await root.writeFile(NEED_NETWORK_PATH, '', { mode: 0o644, noFollow: true }).catch((e: unknown) => { logger.warn({ err: describeError(e) }, 'cannot write the network-stage marker'); });
    }
    logger.error({ err: described }, 'no usable context');
    console.line(result === 'no-context' ? `no context: ${described.message}` : result === 'metadata-incomplete' ? `no context in time: ${described.message}` : `invalid context, nothing applied: ${described.message}`);
    return finish({ result, error: described, sourceAttempts: attempts, warnings: [], modules: [] });
  }

  try {
    const ctx = loaded.context;
    contextMs = Math.round(performance.now() - runAt);
    options.onContext?.(ctx);
    // the local stage's modules run in the network stage when the context could only come over the network
    const remote = ctx.source.kind === 'metadata' || ctx.source.kind === 'metadata-cache';
    // and so do the ones that need the user data when its #include URLs could only be fetched now
    // (when a fetch failed they are listed too, skipped as waiting: the report says why)
    const included = ctx.userDataIncludes !== undefined;
    const modules = (options.modules ?? MODULES).filter((m) => options.stage === 'all' || m.stage === options.stage || (options.stage === 'network' && m.stage === 'local' && (remote || (included && (m.needs ?? []).includes('user-data')))));
    // user data with #include URLs: the local stage does not wait for the network, so it asks for the network stage
    if (options.stage === 'local' && ctx.userDataIncludes === 'pending' && !options.dryRun) {
      logger.info('the user data has #include URLs: the modules that need it wait for the network stage, which fetches them');
      await root.writeFile(NEED_NETWORK_PATH, '', { mode: 0o644, noFollow: true }).catch((e: unknown) => { logger.warn({ err: describeError(e) }, 'cannot write the network-stage marker'); });
    }
    if (loaded.degraded !== undefined) {
      logger.warn({ degraded: loaded.degraded }, 'metadata incomplete');
      console.line(`warning: ${loaded.degraded}`);
    }
    console.line(`context from ${ctx.source.path} (${ctx.source.foundBy}), instance ${ctx.instanceId}`);
    logger.info({ source: ctx.source, instanceId: ctx.instanceId, instanceIdSource: ctx.instanceIdSource }, 'context loaded');
    for (const w of ctx.warnings) {
      logger.warn({ warning: w }, 'context warning');
      console.line(formatWarning(w));
    }
    const state = new StateStore(options.stateRoot, options.stateDir);
    await state.load();
    if (state.problem !== undefined) {
      logger.warn({ problem: state.problem }, 'state');
      console.line(`warning: ${state.problem}`);
    }
    let interrupted: { startedAt: string; stage: string } | undefined;
    if (!options.dryRun) {
      let marker;
      try {
        marker = await state.beginRun({ startedAt: started.toISOString(), instanceId: ctx.instanceId, bootId, stage: options.stage });
      } catch (error) {
        // without a record of what ran, a per-instance step could run twice: nothing is applied
        const described = describeError(error);
        logger.error({ err: described }, 'cannot record the run state; nothing applied');
        console.line(`cannot record the run state, so nothing is applied (nothing may run twice): ${guestPathMessage(described.message, `${options.stateDir}/state.json`)}`);
        return await finish({ result: 'module-failed', error: described, source: ctx.source, sourceAttempts: loaded.attempts, instanceId: ctx.instanceId, instanceIdSource: ctx.instanceIdSource, bootId, warnings: ctx.warnings, modules: [] });
      }
      if (marker !== undefined) {
        interrupted = { startedAt: marker.startedAt, stage: marker.stage };
        logger.warn({ previousRun: interrupted }, 'the previous run was interrupted');
        console.line(`warning: the previous run (started ${marker.startedAt}) never finished; its idempotent modules are re-applied`);
        const swept = await sweepStaleTemps(root, options.stateDir);
        if (swept.length > 0) logger.info({ removed: swept }, 'temporary files of the interrupted run removed');
      }
    }
    const live = root.isLive && !options.dryRun;
    const target: Target = {
      root,
      exec: options.exec,
      live,
      dryRun: options.dryRun,
      ...(live ? { machine: hostMachine } : {}),
      // the CLI gives the host's NICs only for the running system; tests give a scratch root's
      ...(!options.dryRun && options.listNics !== undefined ? { listNics: options.listNics } : {}),
      ...(options.nicsSettled === true ? { nicsSettled: true } : {}),
      // (a dry run's module records go to its overlay of the target, at the state directory's path)
      state: options.dryRun && options.stateDir !== '' ? { root, dir: options.stateDir } : { root: options.stateRoot, dir: options.stateDir },
      ...(!options.dryRun && options.scripts !== undefined ? { scripts: options.scripts } : {}),
      ...(options.scriptTimeoutMs === undefined ? {} : { scriptTimeoutMs: options.scriptTimeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    const reports: ModuleReport[] = [];
    for (const module of modules) reports.push(await runModule(module, ctx, target, state, bootId, options));
    if (!options.dryRun) await state.endRun(ctx.instanceId, bootId);
    if (!options.dryRun && (options.stage === 'local' || options.stage === 'network')) await noteFinalStage(options.modules ?? MODULES, ctx, target, state, bootId, logger);
    const failed = reports.some((r) => r.status === 'failed');
    return await finish({
      result: failed ? 'module-failed' : loaded.degraded !== undefined ? 'metadata-incomplete' : 'ok',
      ...(loaded.degraded === undefined ? {} : { degraded: loaded.degraded }),
      source: ctx.source,
      sourceAttempts: loaded.attempts,
      instanceId: ctx.instanceId,
      instanceIdSource: ctx.instanceIdSource,
      bootId,
      ...(interrupted === undefined ? {} : { previousRunInterrupted: interrupted }),
      warnings: ctx.warnings,
      ...(ctx.unused.length === 0 ? {} : { unused: ctx.unused }),
      modules: reports,
    });
  } finally {
    await loaded.close();
  }
}

type Plan =
  | { readonly kind: 'skipped' | 'not-relevant'; readonly reason: string }
  | { readonly kind: 'decided'; readonly decision: ReturnType<typeof decide>; readonly inputHash: string };

/** What the planner makes of a module in this run, before anything is applied. */
async function plan(module: Module, ctx: Context, target: Target, state: StateStore, bootId: string): Promise<Plan> {
  // An input that did not arrive in time: a module that acts once waits for a complete run; an
  // on-change module applies what there is on an instance's first run (it re-applies when the
  // rest arrives), but never on later runs, where a missing input would look like a removal.
  const missing = (module.needs ?? []).filter((item) => ctx.missing.includes(item));
  const previous = state.record(module.id);
  const firstForInstance = previous === undefined || previous.instanceId !== ctx.instanceId;
  // user data whose #include URLs are not fetched (the local stage) or could not be (a failure,
  // not an answer that the document is gone): even an instance's first run waits, or an on-change
  // module would apply part of the cloud-config now and the rest in the network stage
  if (missing.includes('user-data') && ctx.userDataIncludes === 'pending') {
    return { kind: 'skipped', reason: "the user data's #include URLs are not fetched yet (the network stage fetches them; a failed fetch is retried on the next run); not recorded, so the run that has them applies it" };
  }
  if (missing.length > 0 && (module.frequency !== 'on-change' || !firstForInstance)) {
    return { kind: 'skipped', reason: `${missing.join(', ')} did not arrive from the metadata service in time; not recorded, so the next run applies it` };
  }
  if (!module.isRelevant(ctx)) return { kind: 'not-relevant', reason: 'nothing for it in the context' };
  if (module.hasWork !== undefined && !(await module.hasWork(ctx, target))) return { kind: 'not-relevant', reason: 'nothing for it on this system' };
  if (module.liveOnly === true && target.scripts === undefined) return { kind: 'skipped', reason: 'runs only on the running system (not for --root or --dry-run); not recorded' };
  const live = module.liveInputs === undefined ? undefined : await module.liveInputs(ctx, target);
  const inputHash = hashInputs(live === undefined ? module.inputs(ctx) : { inputs: module.inputs(ctx), live });
  return { kind: 'decided', decision: decide(module, state.record(module.id), { instanceId: ctx.instanceId, bootId, inputHash }), inputHash };
}

/**
 * After the local (or network) stage: when no final-stage module would run this boot, says so in
 * FINAL_IDLE_PATH, and vmctx-final.service (ConditionPathExists=!) does not start a runtime just to
 * find nothing to do. Without the file (this stage crashed, say) the final stage runs as always.
 */
async function noteFinalStage(modules: readonly Module[], ctx: Context, target: Target, state: StateStore, bootId: string, logger: Logger): Promise<void> {
  try {
    let idle = true;
    for (const module of modules.filter((m) => m.stage === 'final')) {
      const planned = await plan(module, ctx, target, state, bootId);
      if (planned.kind === 'decided' && planned.decision.run) {
        idle = false;
        break;
      }
    }
    if (idle) await target.root.writeFile(FINAL_IDLE_PATH, '', { mode: 0o644, noFollow: true });
    else await target.root.remove(FINAL_IDLE_PATH);
  } catch (error) {
    logger.warn({ err: describeError(error) }, 'cannot tell whether the final stage has work; it runs');
    await target.root.remove(FINAL_IDLE_PATH).catch(() => undefined);
  }
}

async function runModule(module: Module, ctx: Context, target: Target, state: StateStore, bootId: string, options: RunOptions): Promise<ModuleReport> {
  const t0 = performance.now();
  const base = { id: module.id, stage: module.stage, frequency: module.frequency };
  const log = options.logger.child({ module: module.id });
  const elapsed = (): number => Math.round((performance.now() - t0) * 10) / 10;
  const planned = await plan(module, ctx, target, state, bootId);
  if (planned.kind !== 'decided') return { ...base, status: planned.kind, reason: planned.reason, durationMs: elapsed(), changed: [], actions: [], warnings: [] };
  const { decision, inputHash } = planned;
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
    // "applied" names what it did (files changed, or the actions taken); "unchanged" needs no detail
    const detail = outcome.changed.length > 0 ? `changed ${outcome.changed.join(', ')}; ` : outcome.actions.length > 0 ? `${outcome.actions.join(', ')}; ` : '';
    options.console.line(`${module.id}: ${status} (${detail}${durationMs} ms)${outcome.warnings.length > 0 ? ` — ${outcome.warnings.join('; ')}` : ''}`);
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
