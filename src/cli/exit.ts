// Exit codes of the vmctx commands (stable: init scripts and tests rely on them).
import { contextFailureResult, type RunResult } from '../agent/report.js';
import { describeError, isVmctxError, type VmctxError } from '../shared/errors.js';

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

/** The exit code of a context that could not be loaded (any other error is internal). */
export function exitCodeForContextFailure(error: unknown): number {
  const result = contextFailureResult(error);
  return result === undefined ? EXIT.internal : exitCodeFor(result);
}

/** What is wrong with an image given to bake (not one, truncated, refused, full) or the room for it: invalid input. */
export function isImageInputError(error: unknown): error is VmctxError {
  return isVmctxError(error, 'ERR_IMAGE') || isVmctxError(error, 'ERR_IO');
}

/** The exit code of an error no command handled: a usage or privilege problem, a failed command in an image, or internal. */
export function exitCodeForError(error: unknown): number {
  const { code } = describeError(error);
  if (code === 'ERR_RUN_FAILED') return EXIT.runFailed;
  return code === 'ERR_USAGE' || code === 'ERR_PRIVILEGE' ? EXIT.usage : EXIT.internal;
}
