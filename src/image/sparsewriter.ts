// The sparse writer: a decompressed image written with its all-zero blocks left as holes, checked from its first bytes and cut at its declared end.
import { closeSync, ftruncateSync, openSync, statfsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { VmctxError } from '../shared/errors.js';
import { NOT_AN_IMAGE, declaredImageSize } from './extimage.js';

const ZERO_BLOCK = Buffer.alloc(64 * 1024);
/** How much of a decompressed stream is looked at before anything is written. */
export const HEAD_BYTES = 64 * 1024;
/** Room left on the output's disk, whatever the image needs. */
export const FREE_MARGIN = 1024 * 1024;

/** Thrown by the writer when the stream goes on past the image's declared end (it stops reading there). */
export class ReachedDeclaredEnd extends Error {}

/** Bytes an unprivileged writer may still put on the file system holding `dir`. */
export function freeBytesAt(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

/** The image does not fit where it is to be written: said before (or instead of) filling the disk. */
export function noRoom(dir: string, free: number): VmctxError {
  return new VmctxError('ERR_IO', `not enough free space in ${dir} for the image (${Math.floor(free / 1048576)} MiB free); make room or write elsewhere with -o — nothing was written`, { details: { dir, free } });
}

/**
 * A writable that keeps all-zero blocks as holes, so a decompressed image stays sparse. It looks
 * at the first 64 KiB before writing anything: no ext superblock and no partition table there is
 * an error at once (a bomb of repeated bytes is never inflated), and the stream is cut at the size
 * the image declares and stopped when it would fill the output's disk.
 */
export interface SparseWriterOptions {
  /**
   * Write into an existing file from this byte on (a partition's place in a disk), the stream taken
   * as it is: no look at its first bytes, no declared end, the file's size left alone.
   */
  readonly at?: number | undefined;
}

export class SparseWriter extends Writable {
  readonly #fd: number;
  readonly #at: number;
  readonly #raw: boolean;
  readonly #dir: string;
  readonly #free: number;
  readonly #report: ((done: number, total: number | undefined) => void) | undefined;
  #head: Buffer[] = [];
  #headLength = 0;
  #limit: number | undefined;
  #pos = 0;
  #allocated = 0;
  constructor(path: string, report?: (done: number, total: number | undefined) => void, options: SparseWriterOptions = {}) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.#dir = dirname(path);
    this.#free = freeBytesAt(this.#dir);
    this.#report = report;
    this.#at = options.at ?? 0;
    this.#raw = options.at !== undefined;
    this.#fd = this.#raw ? openSync(path, 'r+') : openSync(path, 'w', 0o600);
  }
  /** Bytes the stream produced that were kept (holes included). */
  get written(): number {
    return this.#pos;
  }
  #inspect(): void {
    const head = Buffer.concat(this.#head);
    const declared = declaredImageSize(head);
    if (declared === undefined) throw new VmctxError('ERR_IMAGE', `${NOT_AN_IMAGE} (in the first ${Math.round(head.length / 1024)} KiB; nothing more was read)`);
    this.#limit = declared.bytes;
    this.#head = [];
    this.#emit(head);
  }
  #emit(data: Buffer): void {
    const limit = this.#limit ?? Number.POSITIVE_INFINITY;
    const chunk = this.#pos + data.length > limit ? data.subarray(0, Math.max(0, limit - this.#pos)) : data;
    const block = 64 * 1024;
    for (let off = 0; off < chunk.length; off += block) {
      const part = chunk.subarray(off, Math.min(off + block, chunk.length));
      if (!part.equals(ZERO_BLOCK.subarray(0, part.length))) {
        if (this.#allocated + part.length > this.#free - FREE_MARGIN) throw noRoom(this.#dir, this.#free);
        let done = 0;
        while (done < part.length) done += writeSync(this.#fd, part, done, part.length - done, this.#at + this.#pos + done);
        this.#allocated += part.length;
      }
      this.#pos += part.length;
    }
    this.#report?.(this.#pos, this.#limit);
    if (chunk.length < data.length) {
      ftruncateSync(this.#fd, this.#pos);
      throw new ReachedDeclaredEnd();
    }
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    try {
      if (this.#limit !== undefined || this.#raw) this.#emit(chunk);
      else {
        this.#head.push(chunk);
        this.#headLength += chunk.length;
        if (this.#headLength >= HEAD_BYTES) this.#inspect();
      }
      cb();
    } catch (error) {
      cb(error as Error);
    }
  }
  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    try {
      closeSync(this.#fd);
    } catch {
      // closed by _final already
    }
    cb(error);
  }
  override _final(cb: (error?: Error | null) => void): void {
    try {
      if (!this.#raw) {
        if (this.#limit === undefined) this.#inspect();
        ftruncateSync(this.#fd, this.#pos);
      }
      cb();
    } catch (error) {
      cb(error as Error);
    }
  }
}
