// Runs context scripts on the running system: through their interpreter (so a noexec /tmp does
// not matter), from a private 0700 work directory holding the medium's files (streamed from the
// medium, one copy per distinct file: names sharing their bytes are hard links), with a clean
// environment, a deadline that kills the whole process group, and bounded output. It waits for
// the script to exit, not for its output pipes to close: a script that leaves a daemon behind
// holding stdout does not hold the boot.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureOwnDir } from './owndir.js';
import { killProcessGroup } from './procgroup.js';
import { DirectoryRoot } from './root.js';

export interface ScriptSpec {
  /** Short name for logs and the report ("init.sh", "START_SCRIPT"). */
  readonly name: string;
  readonly body: Buffer;
  /** Run this argv directly (no shell, no script file) instead of the body. */
  readonly argv?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Files to place next to the script in its work directory (the medium's files). */
  readonly files: ReadonlyMap<string, Buffer | StreamedFile>;
}

/** A file copied into the work directory as it is read; files with the same key are the same bytes. */
export interface StreamedFile {
  readonly size: number;
  readonly key: string;
  chunks(): AsyncIterable<Uint8Array>;
}

export interface ScriptResult {
  readonly name: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** The first MAX_OUTPUT bytes of stdout and stderr, interleaved as they came. */
  readonly output: Buffer;
  readonly outputTruncated: boolean;
  readonly interpreter: string;
  /** Files that could not be placed in the work directory, with why (the script ran without them). */
  readonly fileProblems?: readonly string[];
}

export interface ScriptRunner {
  run(spec: ScriptSpec): Promise<ScriptResult>;
}

export const MAX_OUTPUT = 1024 * 1024;
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/u;

/** The interpreter of a script: its shebang (absolute path, at most one argument) or /bin/sh. */
export function interpreterOf(body: Buffer): { program: string; args: string[] } {
  if (body[0] !== 0x23 || body[1] !== 0x21) return { program: '/bin/sh', args: [] };
  const end = body.indexOf(0x0a);
  const line = body.subarray(2, end < 0 ? Math.min(body.length, 256) : Math.min(end, 256)).toString('utf8').trim();
  const m = /^(\/[A-Za-z0-9._/+-]+)(?:\s+(\S+))?\s*$/u.exec(line);
  if (m === null) return { program: '/bin/sh', args: [] };
  return { program: m[1] ?? '/bin/sh', args: m[2] === undefined ? [] : [m[2]] };
}

/** Writes one streamed file, created new (never through a link), holding one chunk at a time. */
async function streamTo(path: string, file: StreamedFile): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    let done = 0;
    for await (const chunk of file.chunks()) {
      if (done + chunk.length > file.size) throw new Error(`gave more than its ${file.size} bytes`);
      await handle.write(chunk, 0, chunk.length, done);
      done += chunk.length;
    }
    if (done !== file.size) throw new Error(`ended after ${done} of its ${file.size} bytes`);
  } finally {
    await handle.close();
  }
}

/**
 * Places the files in the work directory: buffers written, streamed files copied as they are read,
 * once per key (the other names are hard links to that copy). A file that fails is removed and
 * named in the result; the others are still placed.
 */
async function placeFiles(work: string, files: ReadonlyMap<string, Buffer | StreamedFile>): Promise<string[]> {
  const problems: string[] = [];
  const copies = new Map<string, string>();
  for (const [name, data] of files) {
    if (!SAFE_NAME.test(name)) {
      problems.push(`${JSON.stringify(name.slice(0, 60))}: not a plain file name; not placed next to the script`);
      continue;
    }
    const path = join(work, name);
    try {
      if (Buffer.isBuffer(data)) {
        await writeFile(path, data, { mode: 0o600, flag: 'wx' });
        continue;
      }
      const first = copies.get(data.key);
      if (first !== undefined) {
        await link(first, path);
        continue;
      }
      await streamTo(path, data);
      copies.set(data.key, path);
    } catch (error) {
      await unlink(path).catch(() => undefined);
      problems.push(`${name}: not placed next to the script (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  return problems;
}

export class HostScriptRunner implements ScriptRunner {
  readonly #base: string;

  /** @param base directory for work directories (default /run/vmctx: root-only, tmpfs, no exec needed) */
  constructor(base = '/run/vmctx') {
    this.#base = base;
  }

  async run(spec: ScriptSpec): Promise<ScriptResult> {
    // the base must be root's and writable by no one else (repaired if not) before a work dir goes there
    await ensureOwnDir(new DirectoryRoot('/'), this.#base, 0o700);
    const work = join(this.#base, `script-${randomBytes(6).toString('hex')}`);
    await mkdir(work, { mode: 0o700 });
    await chmod(work, 0o700);
    try {
      const fileProblems = await placeFiles(work, spec.files);
      const withProblems = (result: ScriptResult): ScriptResult => (fileProblems.length === 0 ? result : { ...result, fileProblems });
      const [command, ...rest] = spec.argv ?? [];
      if (command !== undefined) return withProblems(await this.#spawn(spec, command, rest, work, 'argv (no shell)'));
      const scriptPath = join(work, `.vmctx-script-${randomBytes(4).toString('hex')}`);
      await writeFile(scriptPath, spec.body, { mode: 0o700 });
      const { program, args } = interpreterOf(spec.body);
      return withProblems(await this.#spawn(spec, program, [...args, scriptPath], work, [program, ...args].join(' ')));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** @param interpreter how the script was run, for its log header */
  #spawn(spec: ScriptSpec, program: string, args: readonly string[], cwd: string, interpreter: string): Promise<ScriptResult> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      let timedOut = false;
      const child = spawn(program, args, { cwd, env: { ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
      const take = (d: Buffer): void => {
        if (kept < MAX_OUTPUT) {
          const part = d.subarray(0, MAX_OUTPUT - kept);
          chunks.push(part);
          kept += part.length;
        }
        if (kept >= MAX_OUTPUT && d.length > 0) truncated = true;
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      const timer = setTimeout(() => {
        timedOut = true;
        killProcessGroup(child);
      }, spec.timeoutMs);
      let finished = false;
      const finish = (code: number | null, signal: string | null, failure?: string): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        // let what is already in the pipes arrive, then stop listening: a daemon may hold them open
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          if (failure !== undefined) chunks.push(Buffer.from(`\nvmctx: ${failure}\n`));
          resolve({
            name: spec.name,
            exitCode: code,
            signal,
            timedOut,
            durationMs: Math.round(performance.now() - t0),
            output: Buffer.concat(chunks),
            outputTruncated: truncated,
            interpreter,
          });
        }, 50);
      };
      child.on('error', (error) => { finish(null, null, `could not start ${program}: ${error.message}`); });
      child.on('exit', (code, signal) => { finish(code, signal); });
    });
  }
}
