// The decompressed-bytes budget of one user-data document: every gzip layer, decoded MIME part
// and write_files content takes from it, so a small document cannot inflate into a large memory. Pure.
import { gunzipSync } from 'node:zlib';

const MIB = 1024 * 1024;
/** One file of user data (a gzip layer's output, a write_files content) is at most this. */
export const MAX_USER_DATA_FILE = 16 * MIB;

/** A size as said in warnings: bytes under 1 MiB, MiB (two decimals) from there. */
export const mib = (n: number): string => (n < MIB ? `${n} bytes` : `${Number((n / MIB).toFixed(2))} MiB`);

/**
 * Decompressed bytes one user-data document may produce in all: every gzip layer, every decoded
 * MIME part and every write_files content (each time an alias repeats one) takes from it.
 */
export const USER_DATA_BUDGET = 64 * MIB;

/** What is left of USER_DATA_BUDGET for one user-data document. */
export class DecodeBudget {
  #left: number;

  constructor(readonly total: number = USER_DATA_BUDGET) {
    this.#left = total;
  }

  get left(): number {
    return this.#left;
  }

  /** Takes n bytes if that many are left (true), else nothing (false). */
  take(n: number): boolean {
    if (n > this.#left) return false;
    this.#left -= n;
    return true;
  }

  /** Says the budget is spent, for a warning. */
  spent(): string {
    return `the ${mib(this.total)} decompressed-bytes budget of this user data is spent (${mib(this.#left)} left)`;
  }
}

/**
 * gunzip that never inflates past `limit` nor past what is left of `budget` (zlib's
 * maxOutputLength stops it there), and takes what it made from the budget. The reason otherwise.
 */
export function boundedGunzip(data: Buffer, limit: number, budget: DecodeBudget): { data: Buffer } | { reason: string } {
  const cap = Math.min(limit, budget.left);
  if (cap < 1) return { reason: budget.spent() };
  try {
    const out = gunzipSync(data, { maxOutputLength: cap });
    budget.take(out.length);
    return { data: out };
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      return { reason: cap < limit ? `it would inflate past what is left of the ${mib(budget.total)} decompressed-bytes budget of this user data (${mib(budget.left)})` : `it inflates to over ${mib(limit)}` };
    }
    return { reason: `it does not decompress (${(error as Error).message.slice(0, 80)})` };
  }
}
