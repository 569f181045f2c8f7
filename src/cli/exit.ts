// Exit codes of the vmctx commands (stable: init scripts and tests rely on them).
import type { RunResult } from '../agent/report.js';

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  noContext: 3,
  invalidContext: 4,
  moduleFailed: 5,
  /** The metadata budget ran out: the run used a cached or partial context, or had none. */
  metadataIncomplete: 6,
  /** `bake --check` found a failing item. */
  checkFailed: 7,
  /** Another run held the lock for the whole wait. */
  busy: 8,
  /** `bake --run/--install`: a command in the image failed or timed out. */
  runFailed: 9,
} as const;

/** What each exit code means, for --help and the man page (every code above, in order). */
export const EXIT_MEANINGS: ReadonlyArray<readonly [number, string]> = [
  [EXIT.ok, 'everything applied (status --wait: the boot is done and ok)'],
  [EXIT.internal, 'internal error'],
  [EXIT.usage, 'usage error (a bad option or argument), or run without the rights it needs (not root)'],
  [EXIT.noContext, 'no context found (or the metadata service is disabled); status: no run recorded'],
  [EXIT.invalidContext, 'the context is invalid; nothing was applied'],
  [EXIT.moduleFailed, 'a module failed (the others still ran)'],
  [EXIT.metadataIncomplete, 'the metadata budget ran out (a cached or partial context, or none)'],
  [EXIT.checkFailed, 'bake --check: an item failed'],
  [EXIT.busy, 'another run held the run lock for the whole wait (60 s); status --wait: the boot was not done within --timeout'],
  [EXIT.runFailed, 'bake --run/--install: a command in the image failed or timed out'],
];

/** The "Exit codes" block at the end of --help. */
export function exitCodesHelp(): string {
  return `\nExit codes:\n${EXIT_MEANINGS.map(([code, meaning]) => `  ${code}  ${meaning}`).join('\n')}\n`;
}

export function exitCodeFor(result: RunResult): number {
  switch (result) {
    case 'ok':
      return EXIT.ok;
    case 'no-context':
      return EXIT.noContext;
    case 'invalid-context':
      return EXIT.invalidContext;
    case 'module-failed':
      return EXIT.moduleFailed;
    case 'metadata-incomplete':
      return EXIT.metadataIncomplete;
    case 'busy':
      return EXIT.busy;
  }
}
