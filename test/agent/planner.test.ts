import { describe, expect, it } from 'vitest';
import type { Frequency } from '../../src/agent/modules/module.js';
import { decide } from '../../src/agent/planner.js';
import type { ModuleRecord } from '../../src/agent/state.js';

const now = { instanceId: 'i-1', bootId: 'b-1', inputHash: 'h-1' };
const done = (over: Partial<ModuleRecord> = {}): ModuleRecord => ({ status: 'done', instanceId: 'i-1', bootId: 'b-1', inputHash: 'h-1', startedAt: 'x', ...over });
const m = (frequency: Frequency, onInterrupted: 'rerun' | 'skip' = 'rerun') => ({ frequency, onInterrupted });

describe('planner', () => {
  const table: Array<[string, Frequency, ModuleRecord | undefined, boolean]> = [
    ['first run', 'once', undefined, true],
    ['per-boot, same boot', 'per-boot', done(), false],
    ['per-boot, new boot', 'per-boot', done({ bootId: 'b-0' }), true],
    ['per-instance, same instance, new boot', 'per-instance', done({ bootId: 'b-0' }), false],
    ['per-instance, clone', 'per-instance', done({ instanceId: 'i-0' }), true],
    ['once, clone', 'once', done({ instanceId: 'i-0' }), false],
    ['on-change, same inputs, new boot', 'on-change', done({ bootId: 'b-0' }), false],
    ['on-change, inputs changed', 'on-change', done({ inputHash: 'h-0' }), true],
    ['on-change, clone', 'on-change', done({ instanceId: 'i-0' }), true],
    ['failed last time', 'per-instance', done({ status: 'failed' }), true],
  ];
  for (const [name, frequency, record, run] of table) {
    it(name, () => { expect(decide(m(frequency), record, now).run).toBe(run); });
  }

  it('a crash between started and done: idempotent modules run again, others do not', () => {
    const crashed = done({ status: 'started' });
    expect(decide(m('per-instance', 'rerun'), crashed, now)).toMatchObject({ run: true, interrupted: true });
    expect(decide(m('per-instance', 'skip'), crashed, now)).toMatchObject({ run: false, interrupted: true });
    expect(decide(m('per-instance', 'skip'), done({ status: 'interrupted' }), now)).toMatchObject({ run: false, interrupted: false });
    expect(decide(m('per-instance', 'skip'), done({ status: 'interrupted', instanceId: 'i-0' }), now).run).toBe(true);
  });
});
