// Exit codes of the vmctx commands (stable: init scripts and tests rely on them).
import type { RunResult } from '../agent/run.js';

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
