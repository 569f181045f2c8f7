// The machine's clock and timer behind one small interface, so code that waits (device discovery,
// the metadata budget, the run lock) is tested with a clock the test drives instead of real time.

export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /** Resolves after `ms` milliseconds (at once for 0 or less). */
  sleep(ms: number): Promise<void>;
}

/** The real clock: Date.now() and setTimeout. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()),
};
