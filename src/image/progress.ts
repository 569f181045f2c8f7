// What long image work reports while it runs (steps, byte counts); the CLI renders it, image/ does no terminal I/O.

export interface ProgressSink {
  /** A step starts: one line of its own. */
  step(text: string): void;
  /** Bytes done of a long step (decompressing, copying, compressing, zeroing); total when known. */
  bytes(label: string, done: number, total?: number): void;
}

/** A sink that drops everything (no terminal, --json, -q). */
export const SILENT: ProgressSink = { step: () => undefined, bytes: () => undefined };
