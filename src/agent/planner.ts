// The planner: from a module's frequency and its stored record, decide whether it runs now.
import type { Module } from './modules/module.js';
import type { ModuleRecord } from './state.js';

export interface Decision {
  readonly run: boolean;
  readonly reason: string;
  /** The last run was interrupted (a crash between "started" and "done"). */
  readonly interrupted: boolean;
}

export interface RunIdentity {
  readonly instanceId: string;
  readonly bootId: string;
  readonly inputHash: string;
}

export function decide(module: Pick<Module, 'frequency' | 'onInterrupted'>, record: ModuleRecord | undefined, now: RunIdentity): Decision {
  if (record === undefined) return { run: true, reason: 'first run', interrupted: false };
  const newInstance = record.instanceId !== now.instanceId;
  if (record.status === 'started' || record.status === 'interrupted') {
    if (newInstance) return { run: true, reason: 'new instance', interrupted: record.status === 'started' };
    if (record.status === 'interrupted') return { run: false, reason: 'interrupted earlier on this instance; not re-run (not re-runnable)', interrupted: false };
    return module.onInterrupted === 'rerun'
      ? { run: true, reason: 'the last run was interrupted; running again (idempotent)', interrupted: true }
      : { run: false, reason: 'the last run was interrupted; not running it twice', interrupted: true };
  }
  if (record.status === 'failed') return { run: true, reason: 'failed last time', interrupted: false };
  switch (module.frequency) {
    case 'per-boot':
      return record.bootId === now.bootId ? { run: false, reason: 'already ran this boot', interrupted: false } : { run: true, reason: 'new boot', interrupted: false };
    case 'per-instance':
      return newInstance ? { run: true, reason: 'new instance', interrupted: false } : { run: false, reason: 'already ran for this instance', interrupted: false };
    case 'once':
      return { run: false, reason: 'already ran once', interrupted: false };
    case 'on-change':
      if (newInstance) return { run: true, reason: 'new instance', interrupted: false };
      return record.inputHash === now.inputHash ? { run: false, reason: 'inputs unchanged', interrupted: false } : { run: true, reason: 'inputs changed', interrupted: false };
  }
}
