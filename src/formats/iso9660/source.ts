// The byte source an ISO is read from: a regular file, a block device, or a buffer in tests.
// The reader only needs positioned reads; the size is optional (block devices report 0 to fstat).

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
