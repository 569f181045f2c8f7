// What long image work reports while it runs (steps, byte counts); the CLI renders it, image/ does no terminal I/O.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export interface ProgressSink {
  /** A step starts: one line of its own. */
  step(text: string): void;
  /** Bytes done of a long step (decompressing, copying, compressing, zeroing); total when known. */
  bytes(label: string, done: number, total?: number): void;
}

/** A sink that drops everything (no terminal, --json, -q). */
export const SILENT: ProgressSink = { step: () => undefined, bytes: () => undefined };

/** Reads a file as a stream, reporting how much of it has been read. */
export function meteredRead(path: string, total: number, label: string, progress: ProgressSink | undefined): Readable {
  const stream = createReadStream(path);
  if (progress === undefined) return stream;
  let done = 0;
  stream.on('data', (chunk: Buffer | string) => {
    done += chunk.length;
    progress.bytes(label, done, total);
  });
  return stream;
}
