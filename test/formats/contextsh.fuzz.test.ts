// Differential fuzzing of the context.sh parser against dash. Random files are built from
// shell-significant tokens; each is parsed by vmctx and sourced by dash (`set -a; . ./f`) under
// strace, in an empty directory, with PATH pointing nowhere.
//
// Invariants (hard):
//   - every file that makes dash run anything (a fork or exec: a command, a substitution, a
//     pipeline, a subshell; a "not found"; a file created by a redirection) is rejected whole;
//   - every file dash stops on because it assigns a read-only variable ("is read only") is rejected;
//   - where both accept and vmctx kept nothing literally, every variable has dash's value.
// Reported, not failed: files dash sources without running anything that vmctx still rejects
// (conservative), values vmctx kept literally with a warning where dash expanded them, and files
// dash stops on with a syntax error that vmctx reads (lenient). CONTEXTSH_FUZZ_RUNS sets the count.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseContextSh } from '../../src/formats/contextsh.js';
import { isVmctxError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/tmp.js';

const which = (tool: string): string => spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
const STRACE = which('strace');
const DASH = which('dash');
const RUNS = Number(process.env['CONTEXTSH_FUZZ_RUNS'] ?? 2000);
const NAMES = ['A', 'B', 'C_1'];
// no lowercase word can be a dash builtin: command words are made of these
const WORDS = ['xq', 'zz', 'qx1'];
const TOKENS = [
  ...NAMES.map((n) => `${n}=`), ...NAMES.map((n) => `\n${n}=`), 'export ', 'readonly ', '\nreadonly ', 'export -r ', 'unset ', ...NAMES.map((n) => `${n} `), '\n', ' ', '\t', "'", '"', '\\', '$', '`', '(', ')', '{', '}', ';', '&', '|', '<', '>',
  '#', '*', '?', '~', '!', '=', ...WORDS, 'v', '1', '$A', '${B}', '${A:-d}', '$(', '$((1+2))', "'x'", '"y"', 'é', '\\\n', '[', ']', ',',
];

// Lines of readonly / export / plain assignments over few names, so read-only conflicts are common
const VALUES = ['1', "'v'", '"w"', '', '$A'];
const ARG = fc.tuple(fc.constantFrom(...NAMES), fc.option(fc.constantFrom(...VALUES), { nil: undefined })).map(([n, v]) => (v === undefined ? n : `${n}=${v}`));
const ASSIGN = fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...VALUES)).map(([n, v]) => `${n}=${v}`);
const LINE = fc.oneof(
  fc.tuple(fc.constantFrom('readonly', 'export', 'export -r', 'readonly --', 'unset'), fc.array(ARG, { minLength: 1, maxLength: 3 })).map(([cmd, args]) => `${cmd} ${args.join(' ')}`),
  fc.array(ASSIGN, { minLength: 1, maxLength: 2 }).map((a) => a.join(' ')),
  fc.constantFrom(...TOKENS),
);
const READONLY_FILE = fc.array(LINE, { minLength: 1, maxLength: 6 }).map((lines) => lines.join('\n'));
const TOKEN_FILE = fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 14 }).map((tokens) => tokens.join(''));

interface DashOutcome {
  /** dash forked or exec'd something, printed "not found", or a redirection made a file. */
  readonly ranSomething: boolean;
  /** dash stopped with a syntax error (exit status 2). */
  readonly syntaxError: boolean;
  /** dash stopped at an assignment to a read-only variable. */
  readonly readOnlyError: boolean;
  /** Values of the candidate names that are set after sourcing. */
  readonly values: Readonly<Record<string, string>>;
}

function runDash(dir: string, file: Buffer, names: readonly string[]): DashOutcome {
  const work = join(dir, 'w');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  writeFileSync(join(work, 'f'), file);
  // printf is a dash builtin: dumping the values forks nothing; fd 3, as the file may print (`export`)
  const out = join(dir, 'values');
  const dump = names.map((n) => `printf '%s\\0%s\\0' "\${${n}+set}" "$${n}" >&3`).join('; ');
  const script = `exec 3>${out}; PATH=/nonexistent-vmctx-fuzz; set -a; . ./f; ${dump}`;
  const trace = join(dir, 'trace');
  const r = spawnSync(STRACE, ['-f', '-qq', '-e', 'trace=execve,fork,vfork,clone,clone3', '-o', trace, DASH, '-c', script], { cwd: work, env: {}, timeout: 10_000 });
  const events = readFileSync(trace, 'latin1').split('\n').filter((l) => /execve|fork|clone/u.test(l));
  const stderr = r.stderr.toString('latin1');
  const madeFiles = readdirSync(work).filter((n) => n !== 'f');
  // the first event is strace starting dash itself
  const ranSomething = events.length > 1 || /not found/u.test(stderr) || madeFiles.length > 0;
  const fields = readFileSync(out, 'latin1').split('\0');
  const values: Record<string, string> = {};
  names.forEach((n, i) => {
    if (fields[2 * i] === 'set') values[n] = Buffer.from(fields[2 * i + 1] ?? '', 'latin1').toString('utf8');
  });
  return { ranSomething, syntaxError: r.status === 2, readOnlyError: r.status !== 0 && /is read only/u.test(stderr), values };
}

describe('context.sh against dash (differential fuzzing)', () => {
  it(`${RUNS} random files of shell-significant tokens: nothing that runs a command is accepted; accepted values equal dash's`, { timeout: 1_800_000 }, async () => {
    const dir = await tempDir('vmctx-shfuzz-');
    const tally = { cases: 0, agreeAccept: 0, agreeReject: 0, conservative: 0, literal: 0, lenient: 0, readOnly: 0 };
    const unsafe: string[] = [];
    const readOnlyAccepted: string[] = [];
    const mismatch: string[] = [];
    const examples: Record<string, string> = {};
    fc.assert(
      fc.property(fc.oneof({ arbitrary: TOKEN_FILE, weight: 3 }, { arbitrary: READONLY_FILE, weight: 1 }), (text) => {
        const file = Buffer.from(text, 'utf8');
        let ours: Record<string, string> | undefined;
        let literal = false;
        try {
          const parsed = parseContextSh(file);
          ours = { ...parsed.variables };
          literal = parsed.warnings.some((w) => /literally|~/u.test(w.message));
        } catch (error) {
          if (!isVmctxError(error)) throw error;
          ours = undefined;
        }
        const names = [...new Set([...NAMES, ...Object.keys(ours ?? {})])];
        const dash = runDash(dir, file, names);
        tally.cases++;
        if (dash.ranSomething) {
          if (ours === undefined) tally.agreeReject++;
          else unsafe.push(JSON.stringify(text));
          return;
        }
        if (dash.readOnlyError) {
          tally.readOnly++;
          if (ours === undefined) tally.agreeReject++;
          else readOnlyAccepted.push(JSON.stringify(text));
          return;
        }
        if (ours === undefined) {
          if (dash.syntaxError) tally.agreeReject++;
          else {
            tally.conservative++;
            examples['conservative'] ??= text;
          }
          return;
        }
        if (dash.syntaxError) {
          tally.lenient++;
          examples['lenient'] ??= text;
          return;
        }
        const equal = names.every((n) => ours[n] === dash.values[n]);
        if (equal) tally.agreeAccept++;
        else if (literal) {
          tally.literal++;
          examples['literal'] ??= text;
        } else mismatch.push(`${JSON.stringify(text)}: vmctx ${JSON.stringify(ours)} dash ${JSON.stringify(dash.values)}`);
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
    const agree = tally.agreeAccept + tally.agreeReject;
    process.stdout.write(`context.sh vs dash: ${JSON.stringify(tally)}; agreement ${(100 * agree / tally.cases).toFixed(1)}% (${agree}/${tally.cases}); examples ${JSON.stringify(examples)}\n`);
    expect(unsafe, `accepted although dash ran something:\n${unsafe.slice(0, 10).join('\n')}`).toEqual([]);
    expect(readOnlyAccepted, `accepted although dash stops at a read-only variable:\n${readOnlyAccepted.slice(0, 10).join('\n')}`).toEqual([]);
    expect(mismatch, mismatch.slice(0, 10).join('\n')).toEqual([]);
    expect(tally.cases).toBe(RUNS);
  });
});
