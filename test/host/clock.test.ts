// The system clock behind the Clock interface, checked with fake timers (no real waiting).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/host/clock.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock', () => {
  it('now() is Date.now(); sleep(ms) resolves when the timer has run ms, not before; sleep(0) at once', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    expect(systemClock.now()).toBe(Date.UTC(2026, 0, 1));
    let done = false;
    const slept = systemClock.sleep(100).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
    expect(systemClock.now()).toBe(Date.UTC(2026, 0, 1) + 100);
    await systemClock.sleep(0);
  });
});
