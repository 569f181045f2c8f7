// The module contract: one concern each; gets the Context and a Target, never node:fs directly.
import type { Exec } from '../../host/exec.js';
import type { Machine } from '../../host/machine.js';
import type { ScriptRunner } from '../../host/scripts.js';
import type { Root } from '../../host/root.js';
import type { Logger } from '../../shared/logger.js';
import type { Context } from '../context/context.js';
import type { MetadataItem } from '../datasources/metadata.js';
import type { Clock } from '../../host/clock.js';
import type { GuestNic } from '../../network/resolvenet.js';

export type Stage = 'local' | 'network' | 'final';
export const STAGES: readonly Stage[] = ['local', 'network', 'final'];

/**
 * per-boot: once each boot; per-instance: once per instance id; once: once ever;
 * on-change: whenever the module's inputs (or the instance) changed.
 */
export type Frequency = 'per-boot' | 'per-instance' | 'once' | 'on-change';

export interface Target {
  readonly root: Root;
  readonly exec: Exec;
  /** True when the root is the running system: live actions (hostname, reloads) are allowed. */
  readonly live: boolean;
  /**
   * A dry run: the root is an overlay that plans every change, and the Exec runs the programs that
   * change files under the root (useradd -R, chpasswd -R, ssh-keygen -A) on a scratch copy, so
   * modules take the same path as in the run; other programs are recorded, not run.
   */
  readonly dryRun?: boolean;
  /** The running machine (its host name, a device's first bytes), when live. */
  readonly machine?: Machine;
  /** The running system's NICs (name, MAC), when live. */
  readonly listNics?: () => Promise<GuestNic[]>;
  /** Runs scripts on the running system; absent for offline roots and dry runs. */
  readonly scripts?: ScriptRunner;
  readonly scriptTimeoutMs?: number;
  /**
   * The NIC list is complete (the daemon, after boot, after udev settled): a NIC the context names
   * that is not there was removed, and its files go, even for formats that match by MAC.
   */
  readonly nicsSettled?: boolean;
  /** Where vmctx keeps its state (the module records' directory; '' is the state root itself): a module's own record beside them. */
  readonly state?: { readonly root: Root; readonly dir: string };
  /** The clock live waits (the network's rollback check) use; the system's when absent. */
  readonly clock?: Clock;
  /** Aborted when the run is to end early (the daemon stops): long waits end there. */
  readonly signal?: AbortSignal;
}

export interface ModuleOutcome {
  /** Guest paths the module changed (empty when everything already was as wanted). */
  readonly changed: readonly string[];
  readonly warnings: readonly string[];
  /** Live actions taken, as short descriptions ("hostnamectl set-hostname web-1"). */
  readonly actions: readonly string[];
  /** Module-specific facts for the report (no secrets). */
  readonly details?: unknown;
}

export interface Module {
  readonly id: string;
  readonly stage: Stage;
  readonly frequency: Frequency;
  /** After a crash between "started" and "done": run again (idempotent) or leave it. */
  readonly onInterrupted: 'rerun' | 'skip';
  readonly description: string;
  /** Metadata items it needs: when one did not arrive (the budget ran out), the module waits for a later run. */
  readonly needs?: readonly MetadataItem[];
  /** Runs only where target.scripts is available (the running system); skipped, unrecorded, elsewhere. */
  readonly liveOnly?: boolean;
  isRelevant(ctx: Context): boolean;
  /** For modules whose work is on the target (hooks, templates): false when there is none there. */
  hasWork?(ctx: Context, target: Target): Promise<boolean>;
  /** The inputs that decide whether an on-change module runs again (hashed; never logged). */
  inputs(ctx: Context): unknown;
  /** Facts of the running system that are inputs too (live runs only), e.g. which NICs are there. */
  liveInputs?(ctx: Context, target: Target): Promise<unknown>;
  apply(ctx: Context, target: Target, log: Logger): Promise<ModuleOutcome>;
}

/** Collects an outcome while a module works. */
export class OutcomeBuilder {
  readonly changed: string[] = [];
  readonly warnings: string[] = [];
  readonly actions: string[] = [];
  details: unknown;

  changedIf(path: string, changed: boolean): void {
    if (changed && !this.changed.includes(path)) this.changed.push(path);
  }

  build(): ModuleOutcome {
    return { changed: this.changed, warnings: this.warnings, actions: this.actions, ...(this.details === undefined ? {} : { details: this.details }) };
  }
}
