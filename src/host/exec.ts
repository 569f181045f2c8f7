// Exec: runs programs with an argv array only (never a shell), with a deadline, a bounded
// output capture and secrets passed on stdin; streamProcess does the same for programs whose
// input or output is a stream (decompressors, a chroot's output). Every start has a deadline.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VmctxError } from '../shared/errors.js';
import { killProcessGroup } from './procgroup.js';

export interface ExecOptions {
  readonly stdin?: string | Buffer;
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Bytes of stdout/stderr kept each (the rest is dropped); default 1 MiB. */
  readonly maxOutput?: number;
  /** Aborted: the program's process group is killed at once (the call resolves with the signal). */
  readonly signal?: AbortSignal;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Exec {
  /** Runs `file` with `args`; resolves with its exit status (rejects only when it cannot start or times out). */
  run(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Absolute path of a program on the standard system PATH, or undefined. */
  which(name: string): Promise<string | undefined>;
}

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
/** The environment programs get unless a caller gives one: the system PATH and the C locale. */
const CLEAN_ENV: Readonly<Record<string, string>> = { PATH: SYSTEM_PATH.join(':'), LANG: 'C' };

export class HostExec implements Exec {
  async which(name: string): Promise<string | undefined> {
    if (name.includes('/')) return undefined;
    for (const dir of SYSTEM_PATH) {
      const candidate = posix.join(dir, name);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
    return undefined;
  }

  run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const maxOutput = options.maxOutput ?? 1024 * 1024;
    return new Promise((resolve, reject) => {
      const child = spawn(file, [...args], {
        shell: false,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: options.env ?? CLEAN_ENV,
        cwd: options.cwd,
        detached: true,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      child.stdout.on('data', (d: Buffer) => {
        if (outBytes < maxOutput) out.push(d.subarray(0, maxOutput - outBytes));
        outBytes += d.length;
      });
      child.stderr.on('data', (d: Buffer) => {
        if (errBytes < maxOutput) err.push(d.subarray(0, maxOutput - errBytes));
        errBytes += d.length;
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // the whole process group: a program's children must not outlive its deadline
        killProcessGroup(child);
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new VmctxError('ERR_EXEC', `${file}: could not start (${error.message})`, { cause: error }));
      });
      const onAbort = (): void => {
        killProcessGroup(child);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (timedOut) {
          reject(new VmctxError('ERR_EXEC_TIMEOUT', `${file}: no answer within ${timeoutMs} ms; killed`, { details: { program: file } }));
          return;
        }
        resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin ?? '');
    });
  }
}

export interface StreamOptions {
  /** The deadline: past it the process (its group, when it has one of its own) is killed and the call rejects with ERR_EXEC_TIMEOUT. */
  readonly timeoutMs: number;
  /** What the program reads: a stream piped in; "hold": a pipe never written to, which closes when vmctx ends however it ends; default: none (closed at once). */
  readonly stdin?: Readable | 'hold';
  /** Where its stdout goes: a stream (a refusal by it stops the program and is what the call rejects with) or a callback; default: dropped. */
  readonly stdout?: Writable | ((chunk: Buffer) => void);
  /** Where its stderr goes; default: the last 2000 characters are kept for the result. */
  readonly stderr?: (chunk: Buffer) => void;
  readonly env?: Readonly<Record<string, string>>;
  /** Start it in a process group of its own (killed as one at the deadline); default true. */
  readonly ownGroup?: boolean;
  /** Aborting it kills the program (its group) at once, as the deadline does. */
  readonly signal?: AbortSignal;
}

export interface StreamResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The end of its stderr (when no stderr callback was given). */
  readonly stderr: string;
}

/**
 * Runs a program (argv only) with streamed input and output and a deadline. Resolves with its exit
 * status once it has exited and its output has been consumed; rejects when it cannot start, when
 * the deadline passes (ERR_EXEC_TIMEOUT), or with the output stream's own error when that stream
 * refused what it was given (the program is killed then, not waited for).
 */
export async function streamProcess(file: string, args: readonly string[], options: StreamOptions): Promise<StreamResult> {
  const ownGroup = options.ownGroup ?? true;
  const child = spawn(file, [...args], { shell: false, stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? CLEAN_ENV, detached: ownGroup });
  let stderr = '';
  child.stderr.on('data', options.stderr ?? ((d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  }));
  // set by the timer (an object: the compiler does not see closures assign)
  const deadline = { passed: false };
  const kill = (): void => {
    if (ownGroup) killProcessGroup(child);
    else child.kill('SIGKILL');
  };
  const timer = setTimeout(() => {
    deadline.passed = true;
    kill();
  }, options.timeoutMs);
  const onAbort = (): void => {
    kill();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (error) => {
      reject(new VmctxError('ERR_EXEC', `${file}: could not start (${error.message})`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      resolve({ code, signal });
    });
  });
  // handled where it is awaited; this keeps an early failure to start from being "unhandled" meanwhile
  exited.catch(() => undefined);
  const input = options.stdin;
  child.stdin.on('error', () => undefined);
  if (input === undefined) child.stdin.end();
  else if (input !== 'hold') void pipeline(input, child.stdin).catch(() => undefined);
  try {
    const output = options.stdout;
    if (output === undefined) child.stdout.resume();
    else if (typeof output === 'function') child.stdout.on('data', output);
    else {
      try {
        await pipeline(child.stdout, output);
      } catch (error) {
        // the sink refused (or the program could not start): the program is stopped, not waited for
        kill();
        if (input !== undefined && input !== 'hold') input.destroy();
        await exited.catch(() => undefined);
        throw error;
      }
    }
    const status = await exited;
    if (deadline.passed) throw new VmctxError('ERR_EXEC_TIMEOUT', `${file}: did not finish within ${options.timeoutMs / 1000} s; killed`, { details: { program: file } });
    return { ...status, stderr };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    if (input === 'hold') child.stdin.destroy();
  }
}
