// Live actions for modules: run a system program (argv only) on the running system, recording
// what was done; a failure is a warning for the module's outcome, not a crash.
import { describeError } from '../../shared/errors.js';
import type { OutcomeBuilder, Target } from './module.js';

/** Runs the first of `programs` that exists; returns true when it succeeded. */
export async function runLive(target: Target, out: OutcomeBuilder, programs: ReadonlyArray<readonly [string, readonly string[]]>, timeoutMs = 15_000): Promise<boolean> {
  if (!target.live) return false;
  const failures: string[] = [];
  for (const [name, args] of programs) {
    const path = await target.exec.which(name);
    if (path === undefined) continue;
    try {
      const result = await target.exec.run(path, args, { timeoutMs });
      if (result.code === 0) {
        out.actions.push([name, ...args].join(' '));
        return true;
      }
      failures.push(`${name} exited with ${result.code ?? result.signal ?? '?'}: ${result.stderr.trim().split('\n')[0]?.slice(0, 200) ?? ''}`);
    } catch (error) {
      failures.push(`${name}: ${describeError(error).message}`);
    }
  }
  out.warnings.push(failures.length === 0 ? `none of ${programs.map(([n]) => n).join(', ')} is installed; the change applies at the next boot` : failures.join('; '));
  return false;
}
