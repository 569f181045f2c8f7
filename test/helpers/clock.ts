// A clock the test drives: now() moves only when the code under test sleeps, every sleep is
// recorded, and a hook can change the world at a given moment (a device appears after 1 s).
import type { Clock } from '../../src/host/clock.js';

export class TestClock implements Clock {
  readonly start: number;
  readonly sleeps: number[] = [];
  #now: number;
  /** Called after each sleep with the clock's elapsed time (ms since start). */
  onSleep: ((elapsedMs: number) => void | Promise<void>) | undefined;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.start = start;
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Milliseconds slept since the start. */
  get elapsed(): number {
    return this.#now - this.start;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.#now += Math.max(0, ms);
    await this.onSleep?.(this.elapsed);
    // yield to I/O callbacks, as a real timer would
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
