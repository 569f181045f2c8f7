// Arms the agent's crash points in a test program from its environment (imported for that effect):
// VMCTX_CRASHPOINT=list logs every crash point passed; NAME:N dies by SIGKILL the Nth time NAME
// is passed, after logging it. VMCTX_CRASHPOINT_LOG names the file (JSON lines) both write to.
import { appendFileSync } from 'node:fs';
import { armCrashPoints } from '../../src/shared/crashpoint.js';

/** One line of the crash-point log. */
export interface CrashPointEvent {
  readonly event: 'pass' | 'crash';
  readonly name: string;
  /** How many times this name has been passed, this one included. */
  readonly n: number;
  readonly detail: string;
}

const spec = process.env['VMCTX_CRASHPOINT'];
const log = process.env['VMCTX_CRASHPOINT_LOG'];
if (spec !== undefined && spec !== '') {
  if (log === undefined || log === '') throw new Error('VMCTX_CRASHPOINT needs VMCTX_CRASHPOINT_LOG');
  const at = /^(.+):([1-9][0-9]*)$/u.exec(spec);
  if (spec !== 'list' && at === null) throw new Error(`VMCTX_CRASHPOINT is "list" or NAME:N, not "${spec}"`);
  const counts = new Map<string, number>();
  const write = (event: CrashPointEvent): void => {
    appendFileSync(log, `${JSON.stringify(event)}\n`);
  };
  armCrashPoints((name, detail) => {
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    if (at === null) {
      write({ event: 'pass', name, n, detail });
    } else if (name === at[1] && n === Number(at[2])) {
      // written (synchronously) before the kill, so the test knows where the process died
      write({ event: 'crash', name, n, detail });
      process.kill(process.pid, 'SIGKILL');
    }
  });
}
