// Progress on a terminal: step lines, one redrawn bar with bytes and rate, and waiting notices; silent unless stderr is a TTY.
import type { ProgressSink } from '../image/progress.js';

/** The part of a stream the renderer uses (process.stderr, or a fake in tests). */
export interface ProgressStream {
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
  write(text: string): unknown;
}

export interface Clock {
  now(): number;
}

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

/** `label [#####.....]  42%  108.0/256.0 MiB  21.3 MiB/s` (no bar when the total is unknown). */
export function barLine(label: string, done: number, total: number | undefined, bytesPerSecond: number | undefined, width = 24): string {
  const rate = bytesPerSecond === undefined ? '' : `  ${mib(bytesPerSecond)} MiB/s`;
  if (total === undefined || total <= 0) return `${label}  ${mib(done)} MiB${rate}`;
  const f = Math.min(1, done / total);
  const n = Math.round(f * width);
  return `${label} [${'#'.repeat(n)}${'.'.repeat(width - n)}] ${String(Math.floor(f * 100)).padStart(3)}%  ${mib(done)}/${mib(total)} MiB${rate}`;
}

export interface TerminalProgressOptions {
  /** Least time between two redraws of the bar (the last one, at 100%, is always drawn). */
  readonly intervalMs?: number;
}

/** Renders a ProgressSink on a terminal: steps as lines, the current bar redrawn in place. */
export class TerminalProgress implements ProgressSink {
  readonly #stream: ProgressStream;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  #bar: { label: string; startedAt: number; lastDraw: number; open: boolean } | undefined;

  constructor(stream: ProgressStream, clock: Clock, options: TerminalProgressOptions = {}) {
    this.#stream = stream;
    this.#clock = clock;
    this.#intervalMs = options.intervalMs ?? 100;
  }

  step(text: string): void {
    this.#closeBar();
    this.#stream.write(`${text}\n`);
  }

  bytes(label: string, done: number, total?: number): void {
    const now = this.#clock.now();
    if (this.#bar?.label !== label) {
      this.#closeBar();
      this.#bar = { label, startedAt: now, lastDraw: Number.NEGATIVE_INFINITY, open: false };
    }
    const bar = this.#bar;
    const finished = total !== undefined && done >= total;
    if (!finished && now - bar.lastDraw < this.#intervalMs) return;
    bar.lastDraw = now;
    const elapsed = (now - bar.startedAt) / 1000;
    const rate = elapsed > 0 ? done / elapsed : undefined;
    // a terminal without a size (0) counts as 80 columns; a narrow one gets a shorter bar, then a cut line
    const columns = this.#stream.columns !== undefined && this.#stream.columns > 0 ? this.#stream.columns : 80;
    const room = columns - 1 - barLine(label, done, total, rate, 0).length;
    const line = barLine(label, done, total, rate, Math.max(8, Math.min(24, room)));
    this.#stream.write(`\r\x1b[K${line.slice(0, Math.max(20, columns - 1))}`);
    bar.open = true;
    if (finished) this.#closeBar();
  }

  /** A one-line notice of a wait that may take a while. */
  waiting(text: string): void {
    this.step(text);
  }

  /** Ends the bar line (call before printing anything else, and at the end). */
  finish(): void {
    this.#closeBar();
  }

  #closeBar(): void {
    if (this.#bar?.open === true) this.#stream.write('\n');
    this.#bar = undefined;
  }
}

/** A renderer on `stream` when it is a terminal and nothing asked for quiet or JSON output; else undefined. */
export function terminalProgress(stream: ProgressStream, flags: { json?: boolean | undefined; quiet?: boolean | undefined }, clock: Clock = Date): TerminalProgress | undefined {
  if (stream.isTTY !== true || flags.json === true || flags.quiet === true) return undefined;
  return new TerminalProgress(stream, clock);
}

/** The metadata waiting line: "waiting for the metadata service at URL (budget 10 s)…". */
export function metadataWaitingLine(url: string, budgetMs: number): string {
  return `waiting for the metadata service at ${url} (budget ${Math.round(budgetMs / 100) / 10} s)…`;
}
