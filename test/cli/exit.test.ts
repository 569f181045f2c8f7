// The one mapping from errors to exit codes: a context that cannot be loaded exits as the run
// would (no context 3, invalid 4, metadata budget spent 6), unhandled errors as usage (2), a failed
// command in an image (9) or internal (1).
import { describe, expect, it } from 'vitest';
import { contextFailureResult, classify } from '../../src/agent/report.js';
import { EXIT, exitCodeForContextFailure, exitCodeForError, isImageInputError } from '../../src/cli/exit.js';
import { VmctxError, type ErrorCode } from '../../src/shared/errors.js';

describe('exit codes for errors', () => {
  it('a context that cannot be loaded', () => {
    const cases: Array<[string, string | undefined, number]> = [
      ['ERR_NO_CONTEXT', 'no-context', EXIT.noContext],
      ['ERR_METADATA_DISABLED', 'no-context', EXIT.noContext],
      ['ERR_METADATA_TIMEOUT', 'metadata-incomplete', EXIT.metadataIncomplete],
      ['ERR_CONTEXT_SYNTAX', 'invalid-context', EXIT.invalidContext],
      ['ERR_ISO_TRUNCATED', 'invalid-context', EXIT.invalidContext],
      ['ERR_METADATA_HTTP', 'invalid-context', EXIT.invalidContext],
      ['ERR_USAGE', undefined, EXIT.internal],
      ['ERR_IO', undefined, EXIT.internal],
    ];
    for (const [code, result, exit] of cases) {
      const error = new VmctxError(code as ErrorCode, 'x');
      expect([code, contextFailureResult(error), exitCodeForContextFailure(error)]).toEqual([code, result, exit]);
    }
    expect(exitCodeForContextFailure(new Error('a bug'))).toBe(EXIT.internal);
    // the run decides with the same function: what it cannot classify it throws on
    expect(classify(new VmctxError('ERR_NO_CONTEXT', 'x'))).toBe('no-context');
    expect(() => classify(new VmctxError('ERR_IO', 'x'))).toThrow('x');
  });

  it('an error no command handled', () => {
    expect(exitCodeForError(new VmctxError('ERR_USAGE', 'x'))).toBe(EXIT.usage);
    expect(exitCodeForError(new VmctxError('ERR_PRIVILEGE', 'x'))).toBe(EXIT.usage);
    expect(exitCodeForError(new VmctxError('ERR_RUN_FAILED', 'x'))).toBe(EXIT.runFailed);
    expect(exitCodeForError(new VmctxError('ERR_NO_CONTEXT', 'x'))).toBe(EXIT.internal);
    expect(exitCodeForError(new TypeError('a bug'))).toBe(EXIT.internal);
  });

  it('an image bake cannot use', () => {
    expect(isImageInputError(new VmctxError('ERR_IMAGE', 'x'))).toBe(true);
    expect(isImageInputError(new VmctxError('ERR_IO', 'x'))).toBe(true);
    expect(isImageInputError(new VmctxError('ERR_USAGE', 'x'))).toBe(false);
    expect(isImageInputError(new Error('x'))).toBe(false);
  });
});
