// The byte source an ISO is read from: a regular file, a block device, or a buffer in tests.
// The reader only needs positioned reads; the size is optional (block devices report 0 to fstat).

import { VmctxError, type ErrorCode } from '../../shared/errors.js';

export interface ByteSource {
  /** Size in bytes when known; undefined for a device whose size could not be learnt. */
  readonly size: number | undefined;
  /** Reads up to `length` bytes at `offset`; fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bufferSource(data: Uint8Array): ByteSource {
  return {
    size: data.length,
    read(offset, length) {
      const start = Math.min(Math.max(offset, 0), data.length);
      return Promise.resolve(data.subarray(start, Math.min(start + length, data.length)));
    },
  };
}

/**
 * A medium file read whole (ISO and FAT readers alike): refused with the reader's own code when it
 * is over maxBytes, else one buffer of the final size filled from its chunks (never the chunks
 * and their concatenation at once).
 */
export async function readWhole(entry: { readonly path: string; readonly size: number }, maxBytes: number, tooLarge: ErrorCode, chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  if (entry.size > maxBytes) {
    throw new VmctxError(tooLarge, `${entry.path}: ${entry.size} bytes is over the limit of ${maxBytes}`, { details: { path: entry.path, size: entry.size, limit: maxBytes } });
  }
  const out = Buffer.alloc(entry.size);
  let done = 0;
  for await (const chunk of chunks) {
    out.set(chunk, done);
    done += chunk.length;
  }
  return out;
}
