// Ending a started program together with every process it made (its process group), whatever state it is in.
import type { ChildProcess } from 'node:child_process';

/**
 * Sends `signal` (SIGKILL by default) to the child's process group — the child was started
 * `detached`, so the group is its own — or, when it has none, to the child alone. A process that
 * is gone already is not an error.
 */
export function killProcessGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    if (child.pid !== undefined) {
      process.kill(-child.pid, signal);
      return;
    }
  } catch {
    // no such group (the child made none, or it is gone): the child itself below
  }
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}
