// The reconfiguration daemon: after boot it waits for something that can change the context — a
// swapped context CD or a NIC plugged in or out (udev runs `vmctx daemon --notify …`, which
// writes one word to the daemon's socket), SIGHUP, or, when the context comes from the metadata
// service, a poll timer — and then re-applies the on-change modules whose inputs changed. It never
// wakes up on its own otherwise: no polling loop for the CD or the NICs.
//
// Bursts are debounced (a NIC flapping ten times a second is one run), runs never overlap (a
// trigger during a run schedules one more run after it: no lost update), and the run lock keeps it
// out of the way of the boot units and manual runs.
import { posix } from 'node:path';
import type { Root } from '../host/root.js';
import { describeError } from '../shared/errors.js';
import type { ConsoleLines, Logger } from '../shared/logger.js';
import { ensureOwnDir } from '../host/owndir.js';
import { removeDropDir, takeDropped, watchDropDir, type DropWatch } from '../host/dropdir.js';
import { listenForLines, removeSocket, sendLine, socketAnswers, type LineListener } from '../host/unixsocket.js';

export const DAEMON_SOCKET = '/run/vmctx/daemon.sock';
/**
 * udev drops an empty file named after the trigger here (`: > /run/vmctx/triggers/media`): udev
 * runs its programs with MemoryDenyWriteExecute, under which Node (a JIT) cannot start, so the rule
 * uses /bin/sh, and the daemon hears of it through inotify (no polling). Root-only (0700); exists
 * only while the daemon runs, which is what the rule tests for.
 */
export const TRIGGER_DIR = '/run/vmctx/triggers';
/** What a trigger may be called: one short word (udev passes "media" or "net"). */
export const REASON = /^[a-z][a-z0-9-]{0,31}$/u;
const MAX_LINE = 64;

export interface CheckOutcome {
  /** Whether a run happened (false: nothing changed, nothing was run). */
  readonly ran: boolean;
  /** What the run changed or reported, one short line. */
  readonly summary: string;
  /** Whether the context comes from the metadata service (then it is polled). */
  readonly remote: boolean;
}

/** A timer handle of a DaemonClock (opaque to the daemon). */
export type TimerHandle = object | number;

/** The time the daemon schedules by: the real one unless a test gives it another. */
export interface DaemonClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** The process's clock and timers (looked up when called). */
export const realClock: DaemonClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout); },
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => { clearInterval(handle as NodeJS.Timeout); },
};

export interface DaemonOptions {
  readonly root: Root;
  /** One check: re-applies what changed; the reasons are what woke the daemon. */
  readonly check: (reasons: readonly string[]) => Promise<CheckOutcome>;
  readonly logger: Logger;
  readonly console: ConsoleLines;
  /** Quiet time after the last trigger before a run (default 500 ms). */
  readonly debounceMs?: number;
  /** Longest a trigger waits while more keep coming (default 5 s). */
  readonly maxDelayMs?: number;
  /** Metadata poll interval while the context is remote (default 60 s; 0 = never). */
  readonly pollMs?: number;
  /** Debounce, poll and durations go by this clock (default: the real one). */
  readonly clock?: DaemonClock;
}

export class Daemon {
  private readonly pending = new Set<string>();
  private firstPendingAt = 0;
  private timer: TimerHandle | undefined;
  private pollTimer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private listener: LineListener | undefined;
  private watcher: DropWatch | undefined;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  /** How many checks ran (for tests and the log). */
  checks = 0;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly pollMs: number;
  private readonly clock: DaemonClock;

  constructor(private readonly options: DaemonOptions) {
    this.debounceMs = options.debounceMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.pollMs = options.pollMs ?? 60_000;
    this.clock = options.clock ?? realClock;
  }

  get socketPath(): string {
    return posix.join(this.options.root.path, DAEMON_SOCKET);
  }

  /** Listens on the socket (taking over a dead daemon's, refusing a live one's) and runs a first check. */
  async start(): Promise<void> {
    const path = this.socketPath;
    // repair /run/vmctx first: a socket in a directory another user could have made is asked nothing
    for (const repaired of await ensureOwnDir(this.options.root, '/run/vmctx', 0o755)) this.options.logger.warn({ repaired }, 'own directory repaired');
    if (await socketAnswers(path)) throw new Error(`another vmctx daemon is listening on ${path}`);
    await removeSocket(path);
    // root only: the socket is created 0600 and the directory is root's
    this.listener = await listenForLines(path, (line) => this.answer(line), {
      maxLine: MAX_LINE,
      idleMs: 2000,
      maxConnections: 16,
      onError: (error) => { this.options.logger.error({ err: describeError(error) }, 'daemon socket error'); },
    });
    for (const repaired of await ensureOwnDir(this.options.root, TRIGGER_DIR, 0o700)) this.options.logger.warn({ repaired }, 'own directory repaired');
    this.watcher = watchDropDir(this.triggerDir, () => void this.drainTriggers(), (error) => { this.options.logger.error({ err: describeError(error) }, 'daemon trigger directory error'); });
    await this.drainTriggers();
    this.options.logger.info({ socket: path }, 'daemon started');
    this.options.console.line(`daemon: listening on ${path}`);
    this.trigger('start');
  }

  get triggerDir(): string {
    return posix.join(this.options.root.path, TRIGGER_DIR);
  }

  /** Takes every trigger file out of the directory (each names a reason) and triggers for it. */
  private async drainTriggers(): Promise<void> {
    await takeDropped(this.triggerDir, (name) => {
      if (REASON.test(name)) this.trigger(name);
      else this.options.logger.warn({ length: name.length }, 'daemon: malformed trigger file ignored');
    });
  }

  /** One line from a socket client: a trigger name, answered ok, or anything else, refused. */
  private answer(reason: string): string {
    if (!REASON.test(reason)) {
      this.options.logger.warn({ length: reason.length }, 'daemon: malformed trigger ignored');
      return 'error: malformed';
    }
    this.trigger(reason);
    return 'ok';
  }

  /** Something may have changed: a check runs once things have been quiet for a moment. */
  trigger(reason: string): void {
    if (this.stopped) return;
    this.options.logger.info({ reason }, 'daemon: trigger');
    if (this.pending.size === 0) this.firstPendingAt = this.clock.now();
    this.pending.add(reason);
    if (this.running !== undefined) return; // picked up when the current check ends
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    const waited = this.clock.now() - this.firstPendingAt;
    const delay = Math.max(0, Math.min(this.debounceMs, this.maxDelayMs - waited));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.fire().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0 && !this.stopped) this.schedule();
        this.wakeIdleWaiters();
      });
    }, delay);
  }

  private async fire(): Promise<void> {
    const reasons = [...this.pending].sort();
    this.pending.clear();
    this.checks += 1;
    const t0 = this.clock.now();
    try {
      const outcome = await this.options.check(reasons);
      if (outcome.ran) {
        this.options.logger.info({ reasons, summary: outcome.summary, durationMs: this.clock.now() - t0 }, 'daemon: reconfigured');
        this.options.console.line(`daemon: ${reasons.join(', ')}: ${outcome.summary}`);
      } else {
        // info, not debug: every check leaves one line in the log, whatever it found
        this.options.logger.info({ reasons, summary: outcome.summary }, 'daemon: nothing changed');
      }
      this.setPolling(outcome.remote);
    } catch (error) {
      // the daemon outlives a bad check (a CD pulled out while read, a service gone away)
      const described = describeError(error);
      this.options.logger.error({ reasons, err: described }, 'daemon: check failed');
      this.options.console.line(`daemon: ${reasons.join(', ')}: check failed: ${described.message}`);
    }
  }

  private setPolling(remote: boolean): void {
    if (!remote || this.pollMs <= 0) {
      if (this.pollTimer !== undefined) this.clock.clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      return;
    }
    if (this.pollTimer !== undefined) return;
    this.pollTimer = this.clock.setInterval(() => { this.trigger('metadata-poll'); }, this.pollMs);
  }

  /** Waits for the check in progress (if any); pending triggers are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    if (this.pollTimer !== undefined) this.clock.clearInterval(this.pollTimer);
    this.watcher?.close();
    this.watcher = undefined;
    await removeDropDir(this.triggerDir);
    const listener = this.listener;
    this.listener = undefined;
    if (listener !== undefined) await listener.close();
    else await removeSocket(this.socketPath);
    await this.running;
    this.wakeIdleWaiters();
  }

  private get busy(): boolean {
    return this.running !== undefined || this.timer !== undefined || this.pending.size > 0;
  }

  private wakeIdleWaiters(): void {
    if (this.busy) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Resolves when no check runs and none is pending (for tests and --once). It waits for the
   * daemon's clock: with a test's clock, the test moves time on while it waits.
   */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => { this.idleWaiters.push(resolve); });
  }
}

/**
 * Tells a running daemon that something changed (what udev runs). Resolves to false when no
 * daemon listens — not an error: on a system without the daemon the next boot applies changes.
 */
export function notifyDaemon(socketPath: string, reason: string, timeoutMs = 2000): Promise<boolean> {
  if (!REASON.test(reason)) return Promise.reject(new Error(`not a trigger name: ${JSON.stringify(reason.slice(0, 40))}`));
  return sendLine(socketPath, reason, timeoutMs).then((reply) => reply?.startsWith('ok') === true);
}
