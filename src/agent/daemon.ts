// The reconfiguration daemon: after boot it waits for something that can change the context — a
// swapped context CD or a NIC plugged in or out (udev runs `vmctx daemon --notify …`, which
// writes one word to the daemon's socket), SIGHUP, or, when the context comes from the metadata
// service, a poll timer — and then re-applies the on-change modules whose inputs changed. It never
// wakes up on its own otherwise: no polling loop for the CD or the NICs.
//
// Bursts are debounced (a NIC flapping ten times a second is one run), runs never overlap (a
// trigger during a run schedules one more run after it: no lost update), and the run lock keeps it
// out of the way of the boot units and manual runs.
import { watch, type FSWatcher } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { readdir, rm, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Root } from '../host/root.js';
import { describeError } from '../shared/errors.js';
import type { ConsoleLines, Logger } from '../shared/logger.js';
import { ensureOwnDir } from '../host/owndir.js';

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
}

export class Daemon {
  private readonly pending = new Set<string>();
  private firstPendingAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private server: Server | undefined;
  private watcher: FSWatcher | undefined;
  private stopped = false;
  /** How many checks ran (for tests and the log). */
  checks = 0;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly pollMs: number;

  constructor(private readonly options: DaemonOptions) {
    this.debounceMs = options.debounceMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.pollMs = options.pollMs ?? 60_000;
  }

  get socketPath(): string {
    return posix.join(this.options.root.path, DAEMON_SOCKET);
  }

  /** Listens on the socket (taking over a dead daemon's, refusing a live one's) and runs a first check. */
  async start(): Promise<void> {
    const path = this.socketPath;
    // repair /run/vmctx first: a socket in a directory another user could have made is asked nothing
    for (const repaired of await ensureOwnDir(this.options.root, '/run/vmctx', 0o755)) this.options.logger.warn({ repaired }, 'own directory repaired');
    if (await answers(path)) throw new Error(`another vmctx daemon is listening on ${path}`);
    await unlink(path).catch(() => undefined);
    const server = createServer((socket) => { this.accept(socket); });
    server.maxConnections = 16;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // root only: the socket is created 0600 (umask) and the directory is root's
      const old = process.umask(0o177);
      try {
        server.listen(path, () => { resolve(); });
      } finally {
        process.umask(old);
      }
    });
    server.on('error', (error) => { this.options.logger.error({ err: describeError(error) }, 'daemon socket error'); });
    this.server = server;
    for (const repaired of await ensureOwnDir(this.options.root, TRIGGER_DIR, 0o700)) this.options.logger.warn({ repaired }, 'own directory repaired');
    this.watcher = watch(this.triggerDir, () => void this.drainTriggers());
    this.watcher.on('error', (error) => { this.options.logger.error({ err: describeError(error) }, 'daemon trigger directory error'); });
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
    const names = await readdir(this.triggerDir).catch(() => [] as string[]);
    for (const name of names) {
      if (!(await unlink(posix.join(this.triggerDir, name)).then(() => true, () => false))) continue; // taken by a concurrent drain
      if (REASON.test(name)) this.trigger(name);
      else this.options.logger.warn({ length: name.length }, 'daemon: malformed trigger file ignored');
    }
  }

  private accept(socket: Socket): void {
    let buffer = '';
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      if (buffer.length > MAX_LINE) {
        socket.end('error: too long\n');
        return;
      }
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const reason = buffer.slice(0, nl).trim();
      if (!REASON.test(reason)) {
        this.options.logger.warn({ length: reason.length }, 'daemon: malformed trigger ignored');
        socket.end('error: malformed\n');
        return;
      }
      this.trigger(reason);
      socket.end('ok\n');
    });
  }

  /** Something may have changed: a check runs once things have been quiet for a moment. */
  trigger(reason: string): void {
    if (this.stopped) return;
    this.options.logger.info({ reason }, 'daemon: trigger');
    if (this.pending.size === 0) this.firstPendingAt = Date.now();
    this.pending.add(reason);
    if (this.running !== undefined) return; // picked up when the current check ends
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const waited = Date.now() - this.firstPendingAt;
    const delay = Math.max(0, Math.min(this.debounceMs, this.maxDelayMs - waited));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.fire().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0 && !this.stopped) this.schedule();
      });
    }, delay);
  }

  private async fire(): Promise<void> {
    const reasons = [...this.pending].sort();
    this.pending.clear();
    this.checks += 1;
    const t0 = Date.now();
    try {
      const outcome = await this.options.check(reasons);
      if (outcome.ran) {
        this.options.logger.info({ reasons, summary: outcome.summary, durationMs: Date.now() - t0 }, 'daemon: reconfigured');
        this.options.console.line(`daemon: ${reasons.join(', ')}: ${outcome.summary}`);
      } else {
        this.options.logger.debug({ reasons }, 'daemon: nothing changed');
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
      if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      return;
    }
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => { this.trigger('metadata-poll'); }, this.pollMs);
  }

  /** Waits for the check in progress (if any); pending triggers are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.watcher?.close();
    this.watcher = undefined;
    await rm(this.triggerDir, { recursive: true, force: true });
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    await unlink(this.socketPath).catch(() => undefined);
    await this.running;
  }

  /** Resolves when no check runs and none is pending (for tests and --once). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.timer !== undefined || this.pending.size > 0) {
      if (this.running !== undefined) await this.running;
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** True when something listens on the socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => { done(false); });
    socket.once('connect', () => { done(true); });
    socket.once('error', () => { done(false); });
  });
}

/**
 * Tells a running daemon that something changed (what udev runs). Resolves to false when no
 * daemon listens — not an error: on a system without the daemon the next boot applies changes.
 */
export function notifyDaemon(socketPath: string, reason: string, timeoutMs = 2000): Promise<boolean> {
  if (!REASON.test(reason)) return Promise.reject(new Error(`not a trigger name: ${JSON.stringify(reason.slice(0, 40))}`));
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    let reply = '';
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => { done(false); });
    socket.once('connect', () => socket.write(`${reason}\n`));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\n')) done(reply.startsWith('ok'));
    });
    socket.once('error', () => { done(false); });
    socket.once('end', () => { done(reply.startsWith('ok')); });
  });
}
