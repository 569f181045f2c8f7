// What a run reports: the RunReport and ModuleReport shapes written to /run/vmctx/report.json,
// how a context error becomes a run result, and error messages that name guest paths.
import type { Root } from '../host/root.js';
import { VmctxError, describeError } from '../shared/errors.js';
import type { ConsoleLines, Logger } from '../shared/logger.js';
import type { ContextWarning, SourceInfo } from './context/context.js';
import type { SourceAttempt } from './datasources/datasource.js';
import type { Frequency, Stage } from './modules/module.js';

export const REPORT_PATH = '/run/vmctx/report.json';

export type RunResult = 'ok' | 'no-context' | 'invalid-context' | 'module-failed' | 'metadata-incomplete' | 'busy';

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
  /** Where a boot's time went: the runtime starting up before the run, and finding and reading the context. */
  readonly timings?: { readonly processToRunMs: number; readonly contextMs?: number };
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
  /** Variables carried but not applied (informational names, the scripts' own): no warning. */
  readonly unused?: readonly string[];
  readonly modules: readonly ModuleReport[];
  /** Why the context is a cached or partial one (the metadata budget ran out). */
  readonly degraded?: string;
}

/**
 * Root works through directory descriptors, so a system error names `/proc/self/fd/N/NAME`; this
 * names the guest path instead (the component of `guestPath` called NAME, or guestPath itself for
 * its temporary file), which is what a person can look at.
 */
export function guestPathMessage(message: string, guestPath: string): string {
  const parts = guestPath.split('/').filter((p) => p !== '');
  return message.replace(/'?\/proc\/self\/fd\/\d+\/([^'\s]*)'?/gu, (_all, name: string) => {
    const at = parts.indexOf(name);
    if (at >= 0) return `'/${parts.slice(0, at + 1).join('/')}'`;
    const last = parts.at(-1);
    if (last !== undefined && name.startsWith(`.${last}.`)) return `'${guestPath}'`;
    return `'${name}' (on the way to ${guestPath})`;
  });
}

/**
 * The run result a failure to find or read the context stands for (no context, the metadata
 * budget spent, an invalid context), or undefined for any other error. `run` and `show` both
 * decide with this, so they exit alike on the same context.
 */
export function contextFailureResult(error: unknown): RunResult | undefined {
  if (!(error instanceof VmctxError)) return undefined;
  if (error.code === 'ERR_NO_CONTEXT' || error.code === 'ERR_METADATA_DISABLED') return 'no-context';
  if (error.code === 'ERR_METADATA_TIMEOUT') return 'metadata-incomplete';
  if (error.code.startsWith('ERR_CONTEXT') || error.code.startsWith('ERR_ISO') || error.code.startsWith('ERR_FAT') || error.code.startsWith('ERR_METADATA')) return 'invalid-context';
  return undefined;
}

/** The run result of an error met while finding or reading the context; any other error is thrown on. */
export function classify(error: unknown): RunResult {
  const result = contextFailureResult(error);
  if (result === undefined) throw error;
  return result;
}

/** Writes report.json; a failure is logged and said on the console, never thrown (the run's result stands). */
export async function writeReport(root: Root, report: RunReport, logger: Logger, console: ConsoleLines): Promise<void> {
  try {
    await root.writeFile(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644, noFollow: true });
  } catch (error) {
    logger.error({ err: describeError(error) }, 'cannot write the report');
    console.line(`cannot write ${REPORT_PATH}: ${guestPathMessage(describeError(error).message, REPORT_PATH)}`);
  }
}
