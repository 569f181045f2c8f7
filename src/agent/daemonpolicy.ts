// What the daemon does when woken: which modules it re-applies (the on-change ones, never
// once-only work), when a trigger finds nothing to do (the context is the one last applied), and
// the daemon's life as one call (--once, or serve until told to stop).
import type { Context } from './context/context.js';
import { loadConfig } from './config.js';
import { defaultProbe } from './datasources/contextmedium.js';
import { Daemon, type CheckOutcome, type DaemonClock } from './daemon.js';
import { MODULES } from './modules/index.js';
import { runAgent } from './run.js';
import { loadContext } from './datasources/registry.js';
import type { RunResult } from './report.js';
import { hashInputs } from './state.js';
import { HostExec } from '../host/exec.js';
import { listGuestNics } from '../host/nics.js';
import type { DirectoryRoot, Root } from '../host/root.js';
import { HostScriptRunner } from '../host/scripts.js';
import { isVmctxError } from '../shared/errors.js';
import { ConsoleLines, type Logger } from '../shared/logger.js';

/** What the daemon re-applies: the modules that follow their inputs, never once-only work. */
export const DAEMON_MODULES = MODULES.filter((m) => m.frequency === 'on-change');
/** Triggers after which an unchanged context means there is nothing to do. */
export const CONTEXT_ONLY: ReadonlySet<string> = new Set(['media', 'metadata-poll']);

/**
 * What identifies a context the daemon applied: its instance, its variables, its network (a source's
 * network document is not among the variables) and what was missing.
 */
export function contextFingerprint(ctx: Context): string {
  // the network model too: a network document (network-config, network_data.json) changes it with no variable changing
  return hashInputs({ instanceId: ctx.instanceId, variables: ctx.variables, missing: ctx.missing, net: { model: ctx.net.model, backend: ctx.net.backend ?? null } });
}

export interface ReconfigureOptions {
  /** The system kept configured (the running one, or a scratch root in tests). */
  readonly root: DirectoryRoot;
  readonly stateRoot: Root;
  readonly stateDir: string;
  /** "auto", "metadata", or a path. */
  readonly source: string;
  readonly metadataUrl?: string | undefined;
  readonly logger: Logger;
  readonly version: string;
  /** Aborted when the daemon stops: a check in progress ends its waits (report-ready's retries). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * One daemon check after another: remembers the context it last applied, so a medium swapped for
 * the same one or an unchanged metadata poll runs nothing; any other trigger (a NIC, SIGHUP, the
 * start) re-runs the on-change modules, whose planner skips what did not change.
 */
export class Reconfigurer {
  private applied: string | undefined;
  /** The result of the last run (ok until one ran). */
  lastResult: RunResult = 'ok';

  constructor(private readonly options: ReconfigureOptions) {}

  async check(reasons: readonly string[]): Promise<CheckOutcome> {
    const { root, stateRoot, stateDir, source, metadataUrl } = this.options;
    const { config } = await loadConfig(root);
    const probe = { ...defaultProbe, waitMs: 0 };
    if (this.applied !== undefined && reasons.every((r) => CONTEXT_ONLY.has(r))) {
      let loaded;
      try {
        loaded = await loadContext({ source, root, probe, config, stage: 'all', cache: { root: stateRoot, dir: stateDir, write: false }, metadataUrl });
      } catch (error) {
        if (isVmctxError(error, 'ERR_NO_CONTEXT') || isVmctxError(error, 'ERR_METADATA_DISABLED')) return { ran: false, summary: 'no context now; what was applied stays', remote: false };
        throw error;
      }
      const remote = loaded.context.source.kind === 'metadata' || loaded.context.source.kind === 'metadata-cache';
      const same = contextFingerprint(loaded.context) === this.applied;
      await loaded.close();
      if (same) return { ran: false, summary: 'context unchanged', remote };
    }
    let ctx: Context | undefined;
    const report = await runAgent({
      root,
      stateRoot,
      stateDir,
      source,
      stage: 'all',
      dryRun: false,
      exec: new HostExec(),
      logger: this.options.logger,
      console: new ConsoleLines(false),
      probe,
      config,
      metadataUrl,
      modules: DAEMON_MODULES,
      nicsSettled: true,
      recordBoot: false,
      version: this.options.version,
      onContext: (c) => (ctx = c),
      ...(this.options.signal === undefined ? {} : { signal: this.options.signal }),
      ...(root.isLive ? { listNics: listGuestNics, scripts: new HostScriptRunner() } : {}),
    });
    this.lastResult = report.result;
    const loadedCtx = ctx;
    if (loadedCtx !== undefined && report.result !== 'module-failed') this.applied = contextFingerprint(loadedCtx);
    const remote = report.source?.kind === 'metadata' || report.source?.kind === 'metadata-cache';
    const changed = report.modules.filter((m) => m.status === 'applied').map((m) => `${m.id} (${m.changed.join(', ') || m.actions.join(', ')})`);
    const failed = report.modules.filter((m) => m.status === 'failed').map((m) => `${m.id}: ${m.error?.message ?? 'failed'}`);
    if (report.result === 'no-context') return { ran: false, summary: 'no context; nothing applied', remote: false };
    const summary = [changed.length > 0 ? `applied ${changed.join('; ')}` : 'nothing to change', ...failed.map((f) => `FAILED ${f}`), ...(report.error === undefined ? [] : [report.error.message])].join('; ');
    return { ran: true, summary, remote };
  }
}

/** `--once`: one check. The result is the run's, or ok when nothing had to run. */
export async function reconfigureOnce(options: ReconfigureOptions & { readonly console: ConsoleLines }): Promise<RunResult> {
  const reconfigurer = new Reconfigurer(options);
  const outcome = await reconfigurer.check(['once']);
  options.console.line(`daemon --once: ${outcome.summary}`);
  return outcome.ran ? reconfigurer.lastResult : 'ok';
}

/** How the process tells the daemon to stop or to look again (the CLI maps signals to these). */
export interface DaemonControl {
  /** Resolves when the daemon is to stop (SIGTERM, SIGINT). */
  readonly stopped: Promise<void>;
  /** Registers what a request to look again (SIGHUP) does. */
  onHangup(look: () => void): void;
}

export interface ServeOptions extends ReconfigureOptions {
  readonly console: ConsoleLines;
  /** Metadata poll interval while the context is remote (ms). */
  readonly pollMs?: number | undefined;
  /** Quiet time after a trigger before a check (ms). */
  readonly debounceMs?: number | undefined;
  readonly clock?: DaemonClock | undefined;
}

/** The daemon: listens for triggers and re-applies what changed, until `control.stopped`. */
export async function serveDaemon(options: ServeOptions, control: DaemonControl): Promise<void> {
  const stopping = new AbortController();
  const reconfigurer = new Reconfigurer({ ...options, signal: stopping.signal });
  const daemon = new Daemon({
    root: options.root,
    check: (reasons) => reconfigurer.check(reasons),
    logger: options.logger,
    console: options.console,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  await daemon.start();
  control.onHangup(() => { daemon.trigger('sighup'); });
  await control.stopped;
  options.console.line('daemon: stopping');
  // a check in the middle of its waits ends them (report-ready records "pending"), so stop is prompt
  stopping.abort();
  await daemon.stop();
  options.logger.info({ checks: daemon.checks }, 'daemon stopped');
}
