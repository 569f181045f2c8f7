// Exec: runs programs with an argv array only (never a shell), with a deadline, a bounded
// output capture and secrets passed on stdin.
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { posix } from 'node:path';
import { VmctxError } from '../shared/errors.js';

export interface ExecOptions {
  readonly stdin?: string | Buffer;
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Bytes of stdout/stderr kept each (the rest is dropped); default 1 MiB. */
  readonly maxOutput?: number;
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
        env: options.env ?? { PATH: SYSTEM_PATH.join(':'), LANG: 'C' },
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
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new VmctxError('ERR_EXEC', `${file}: could not start (${error.message})`, { cause: error }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
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
