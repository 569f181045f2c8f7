// Running system programs from modules (argv only): tool() for the ones a module needs (with -R
// for an offline root, secrets on stdin and scrubbed from errors), runLive() for live-only actions
// whose failure is a warning, not a crash.
import { VmctxError, describeError } from '../../shared/errors.js';
import { REDACTED, type Secret } from '../../shared/secret.js';
import type { Exec, ExecResult } from '../../host/exec.js';
import type { OutcomeBuilder, Target } from './module.js';
import type { Root } from '../../host/root.js';

/** Runs the first of `programs` that exists; returns true when it succeeded. */
export async function runLive(target: Target, out: OutcomeBuilder, programs: ReadonlyArray<readonly [string, readonly string[]]>, timeoutMs = 15_000): Promise<boolean> {
  if (!target.live) return false;
  const failures: string[] = [];
  for (const [name, args] of programs) {
    const path = await target.exec.which(name);
    if (path === undefined) continue;
    try {
      const result = await target.exec.run(path, args, { timeoutMs });
      if (result.code === 0) {
        out.actions.push([name, ...args].join(' '));
        return true;
      }
      failures.push(`${name} exited with ${result.code ?? result.signal ?? '?'}: ${result.stderr.trim().split('\n')[0]?.slice(0, 200) ?? ''}`);
    } catch (error) {
      failures.push(`${name}: ${describeError(error).message}`);
    }
  }
  out.warnings.push(failures.length === 0 ? `none of ${programs.map(([n]) => n).join(', ')} is installed; the change applies at the next boot` : failures.join('; '));
  return false;
}

/** Runs a system tool with the root's -R when offline; the secret (if any) is scrubbed from its stderr. */
export async function tool(target: Target, program: string, args: readonly string[], options: { stdin?: string; secret?: Secret; rootFlag?: boolean; okCodes?: readonly number[]; timeoutMs?: number } = {}): Promise<ExecResult> {
  const path = await target.exec.which(program);
  if (path === undefined) throw new VmctxError('ERR_MODULE', `${program} is not installed`);
  const rootArgs = options.rootFlag === false || target.live ? [] : ['-R', target.root.path];
  const result = await runScrubbed(target.exec, path, [...rootArgs, ...args], options.stdin, options.secret, options.timeoutMs);
  if (result.code === null || !(options.okCodes ?? [0]).includes(result.code)) throw new VmctxError('ERR_MODULE', `${program} exited with ${result.code ?? result.signal ?? '?'}: ${result.stderr.trim().split('\n')[0]?.slice(0, 300) ?? ''}`);
  return result;
}

async function runScrubbed(exec: Exec, path: string, args: readonly string[], stdin: string | undefined, secret: Secret | undefined, timeoutMs = 30_000): Promise<ExecResult> {
  const r = await exec.run(path, args, { timeoutMs, ...(stdin === undefined ? {} : { stdin }) });
  if (secret === undefined || secret.length === 0) return r;
  // stderr ends up in error messages and logs; stdout is the tool's answer (a hash), never logged
  return { ...r, stderr: r.stderr.split(secret.reveal()).join(REDACTED) };
}

/** Where packages put systemd units. */
const UNIT_DIRS = ['/usr/lib/systemd/system', '/lib/systemd/system'];

/** The guest path of a unit a package installed, if any. */
export async function unitFile(root: Root, unit: string): Promise<string | undefined> {
  for (const dir of UNIT_DIRS) if ((await root.lstat(`${dir}/${unit}`)) !== undefined) return `${dir}/${unit}`;
  return undefined;
}

/** Whether systemd is the running init (its runtime directory exists). */
export async function systemdRunning(target: Target): Promise<boolean> {
  return (await target.root.lstat('/run/systemd/system')) !== undefined;
}

/**
 * A service that runs already must pick up what a module changed (sshd and new host keys). With
 * systemd: `try-restart --no-block` (a unit still waiting to start — ordered after vmctx at boot —
 * just starts later, and the boot never waits on it). Without systemd (sysvinit, the rc.local hook
 * runs after the services): the init script's `restart`, which also starts a service that failed
 * to start for want of what the module just made.
 */
export async function restartIfRunning(target: Target, out: OutcomeBuilder, units: readonly string[], initScripts: readonly string[]): Promise<void> {
  if (!target.live || target.dryRun === true) return;
  if (await systemdRunning(target)) {
    await runLive(target, out, [['systemctl', ['--no-block', 'try-restart', ...units]]]);
    return;
  }
  for (const name of initScripts) {
    if ((await target.root.lstat(`/etc/init.d/${name}`))?.type !== 'file') continue;
    await runLive(target, out, [['invoke-rc.d', [name, 'restart']], ['service', [name, 'restart']]], 30_000);
    return;
  }
}

/**
 * A file vmctx owns that is a symlink (to /etc/shadow, say, in a careless or hostile image) is
 * replaced by a file of its own, never written through: the link goes, with a warning.
 */
export async function unlinkIfSymlink(root: Root, path: string, out: OutcomeBuilder): Promise<void> {
  const st = await root.lstat(path);
  if (st?.type !== 'symlink') return;
  await root.remove(path);
  out.warnings.push(`${path} was a symlink to ${st.linkTarget ?? '?'}; replaced by a file (never written through)`);
}

/** A file the boot runs or renders as root must be root's and writable by nobody else. */
export function rootOnlyProblem(st: { uid: number; mode: number }): string | undefined {
  if (st.uid === 0 && (st.mode & 0o022) === 0) return undefined;
  return `owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)}`;
}

/**
 * The first problem on the way to `path` (a guest path), walking its existing components: a
 * symlink, or a component before the last that is not a directory (with `lastMustBeDirectory`, the
 * last one too). With `rootControlled`, every directory on the way must be one only root can change
 * (root's; writable by others only with the sticky bit), and a last component in such a shared
 * directory must be root's (there its owner could rename it and put a link in its place), so what
 * a tool is given later is what was checked here. Undefined: nothing in the way.
 */
export async function pathProblem(root: Root, path: string, options: { rootControlled: boolean; lastMustBeDirectory: boolean }): Promise<string | undefined> {
  const parts = path.split('/').filter((p) => p !== '');
  let at = '';
  let shared = false;
  for (const [i, part] of parts.entries()) {
    const parent = at === '' ? '/' : at;
    at += `/${part}`;
    const st = await root.lstat(at);
    if (st === undefined) return undefined;
    if (st.type === 'symlink') return `${at} is a symlink (to ${st.linkTarget ?? '?'})`;
    const last = i === parts.length - 1;
    if (last && options.rootControlled && shared && st.uid !== 0) return `${at} is owned by uid ${st.uid} in ${parent}, which others can write (its owner could put a link in its place)`;
    if (last && !options.lastMustBeDirectory) break;
    if (st.type !== 'directory') return `${at} is not a directory`;
    if (last || !options.rootControlled) continue;
    if (st.uid !== 0 || ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)) return `${at} is owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)} (another user could put a link there)`;
    shared = (st.mode & 0o022) !== 0;
  }
  return undefined;
}
