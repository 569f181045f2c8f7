// The run lock: one run at a time (boot units, a manual run, the daemon), held for the whole run;
// a dead holder's lock is taken over, a live one is waited for up to a limit.
import { systemClock, type Clock } from '../host/clock.js';
import { ownPid, processAlive } from '../host/process.js';
import type { Root } from '../host/root.js';
import { VmctxError, describeError } from '../shared/errors.js';
import type { ConsoleLines } from '../shared/logger.js';
import { guestPathMessage } from './report.js';

export const LOCK_PATH = '/run/vmctx/run.lock';
const POLL_MS = 100;

/** The pid of the live run holding the lock, if one does. */
export async function lockHolder(root: Root, alive: (pid: number) => boolean = processAlive): Promise<number | undefined> {
  const pid = Number((await root.readText(LOCK_PATH, { maxBytes: 64 }).catch(() => undefined))?.trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

export interface LockOptions {
  /** Whether a pid is a live process (default: asks the kernel). */
  readonly alive?: (pid: number) => boolean;
  readonly pid?: number;
  readonly clock?: Clock;
}

/** Takes the run lock, waiting while another live run holds it; a dead holder's lock is taken over. Returns its release. */
export async function acquireLock(root: Root, waitMs: number, console: ConsoleLines, options: LockOptions = {}): Promise<() => Promise<void>> {
  const alive = options.alive ?? processAlive;
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + waitMs;
  let said = false;
  for (;;) {
    let created: boolean;
    try {
      created = await root.createExclusive(LOCK_PATH, `${options.pid ?? ownPid()}\n`, 0o644);
    } catch (error) {
      // a read-only or full /run: nothing can be applied there anyway, and the state says so next
      console.line(`warning: cannot take the run lock ${LOCK_PATH}: ${guestPathMessage(describeError(error).message, LOCK_PATH)}`);
      return () => Promise.resolve();
    }
    if (created) {
      return async () => {
        await root.remove(LOCK_PATH).catch(() => undefined);
      };
    }
    const held = (await root.readText(LOCK_PATH, { maxBytes: 64 }).catch(() => undefined))?.trim() ?? '';
    const pid = Number(held);
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
      // a crashed run's lock (or garbage): take it over, unless it changed meanwhile
      const again = (await root.readText(LOCK_PATH, { maxBytes: 64 }).catch(() => undefined))?.trim() ?? '';
      if (again === held) await root.remove(LOCK_PATH).catch(() => undefined);
      continue;
    }
    if (clock.now() >= deadline) throw new VmctxError('ERR_BUSY', `another vmctx run (pid ${pid}) holds ${LOCK_PATH}; gave up after ${Math.round(waitMs / 1000)} s`);
    if (!said) {
      console.line(`waiting for the vmctx run with pid ${pid} to finish`);
      said = true;
    }
    await clock.sleep(POLL_MS);
  }
}
