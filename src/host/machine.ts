// The running machine as modules see it beyond its files: the kernel's host name and the first
// bytes of a block device. Modules get it on the Target (live runs only), never import it.
import { hostname } from 'node:os';
import { openByteSource } from './bytesource.js';

export interface Machine {
  /** The running kernel's host name. */
  hostname(): string;
  /**
   * Up to `length` bytes from the start of a file or block device (a host path), read-only; undefined
   * when it cannot be opened or read.
   */
  readHead(hostPath: string, length: number): Promise<Uint8Array | undefined>;
}

/** The first `length` bytes of a file or block device; undefined when it cannot be opened or read. */
export async function readHead(hostPath: string, length: number): Promise<Uint8Array | undefined> {
  const source = await openByteSource(hostPath).catch(() => undefined);
  if (source === undefined) return undefined;
  try {
    return await source.read(0, length);
  } catch {
    return undefined;
  } finally {
    await source.close();
  }
}

/** This machine. */
export const hostMachine: Machine = { hostname: () => hostname(), readHead };
