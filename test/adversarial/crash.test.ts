// Crash injection: the agent (all stages, with the real script runner, real useradd/chpasswd -R)
// runs once on a scratch root listing every crash point it passes (temp file created, temp file
// written before its rename, renamed before the directory's fsync, state store save); then, for
// each of them in turn, a fresh run dies by SIGKILL exactly there (the test build's hook logs the
// point first, so the test knows where it died), and runs again. Every file it manages is the old
// or the new content at the kill — never empty, never partial — the second run converges to what
// an uninterrupted run makes, and the per-instance script never runs twice. No timers: the kill
// points are the agent's own. Then the same agent against a full file system (a tiny tmpfs) and a
// read-only one.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';
import { buildScriptDriver } from '../helpers/driver.js';
import type { CrashPointEvent } from '../helpers/crashpoints.js';
import { vmctx } from '../helpers/cli.js';

const PARALLEL = 2;
/**
 * A killed agent's own children (ssh-keygen making a host key) outlive it for a moment and may
 * still be writing into the scratch root while it is removed (ENOTEMPTY): try again, briefly.
 */
const SCRATCH_RM = { recursive: true, force: true, maxRetries: 20, retryDelay: 100 } as const;
const PASSWORD = 'Crash-Test-Passw0rd';
/** Files the run manages whose content is deterministic (shadow is checked by shape: salts are random). */
const MANAGED = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/network/interfaces.d/50-vmctx', '/home/alice/.ssh/authorized_keys', '/etc/sudoers.d/90-vmctx-users', '/etc/app.conf', '/etc/passwd', '/etc/group'];
const STATE = '/var/lib/vmctx/state.json';
const TEMP_NAME = /\.vmctx-[0-9a-f]{12}$/u;
/** The crash points root.ts and state.ts pass (src/shared/crashpoint.ts): every one must be hit. */
const POINTS = ['write:temp-created', 'write:before-rename', 'write:before-dir-sync', 'state:save'];

let driver: string;
let template: string;
let referenceFiles: Record<string, string | undefined>;
let referenceStatuses: Record<string, string>;
/** Every crash point an uninterrupted run passes, in order. */
let passes: CrashPointEvent[];
const key = fakeKey('ssh-ed25519', 'crash');

function contextFor(marker: string): string {
  return renderContextSh({
    VMID: '4242',
    SET_HOSTNAME: 'crash-host.example',
    DNS: '192.0.2.53',
    SEARCH_DOMAIN: 'example',
    ETH0_MAC: '52:54:00:aa:bb:01',
    ETH0_IP: '192.0.2.10',
    ETH0_MASK: '255.255.255.0',
    ETH0_GATEWAY: '192.0.2.1',
    SSH_PUBLIC_KEY: key,
    USERNAME: 'alice',
    USERNAME_SUDO: 'YES',
    PASSWORD,
    MARKER: marker,
    START_SCRIPT: 'echo ran >> "$MARKER"\n',
    USER_DATA: '#cloud-config\nwrite_files:\n  - path: /etc/app.conf\n    content: "listen=8080\\n"\n',
  });
}

async function read(root: string, path: string): Promise<string | undefined> {
  return readFile(join(root, path), 'utf8').catch(() => undefined);
}

async function snapshot(root: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const p of MANAGED) out[p] = await read(root, p);
  return out;
}

/** Temporary files an interrupted atomic write could leave (they must be gone after a full run). */
async function temps(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 6) return;
    for (const e of await readdir(join(root, dir), { withFileTypes: true }).catch(() => [])) {
      const p = `${dir}/${e.name}`;
      if (TEMP_NAME.test(e.name)) found.push(p);
      if (e.isDirectory()) await walk(p, depth + 1);
    }
  };
  await walk('', 0);
  return found;
}

function shadowShapeOk(text: string | undefined): boolean {
  if (text === undefined || text === '') return false;
  const lines = text.split('\n').filter((l) => l !== '');
  if (!lines.some((l) => l.startsWith('root:'))) return false;
  for (const l of lines) {
    if (l.split(':').length !== 9) return false;
    if (l.startsWith('alice:') && !/^alice:(!|!?\$[a-z0-9]+\$[^:]{8,}):/u.test(l)) return false;
  }
  return true;
}

function killScripts(work: string): void {
  const r = spawnSync('pgrep', ['-f', work], { encoding: 'utf8' });
  for (const pid of r.stdout.trim().split('\n').filter((p) => p !== '')) {
    try {
      process.kill(-Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

interface DriverRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What the crash-point hook logged (empty when it was not armed). */
  readonly events: CrashPointEvent[];
}

/** Runs the agent; `crashAt` arms the test build's hook ("list", or NAME:N to die there). */
async function runDriver(root: string, src: string, work: string, crashAt?: string): Promise<DriverRun> {
  const log = join(dirname(work), `crashpoints-${String(crashAt).replace(/[^a-z0-9-]/giu, '_')}.jsonl`);
  const env = { ...process.env, ...(crashAt === undefined ? {} : { VMCTX_CRASHPOINT: crashAt, VMCTX_CRASHPOINT_LOG: log }) };
  const child = spawn(process.execPath, [driver, root, src, work, 'all'], { stdio: 'ignore', env });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('close', (c, s) => {
      resolve([c, s]);
    });
  });
  killScripts(work);
  const text = crashAt === undefined ? '' : await readFile(log, 'utf8').catch(() => '');
  const events = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as CrashPointEvent);
  return { code, signal, events };
}

async function prepare(): Promise<{ dir: string; root: string; src: string; marker: string }> {
  const dir = await tempDir();
  const root = join(dir, 'root');
  await cp(template, root, { recursive: true });
  const src = join(dir, 'src');
  await mkdir(src);
  const marker = join(dir, 'marker');
  await writeFile(join(src, 'context.sh'), contextFor(marker));
  return { dir, root, src, marker };
}

beforeAll(async () => {
  driver = await buildScriptDriver();
  template = await scratchRoot();
  await mkdir(join(template, 'etc/sudoers.d'), { recursive: true });
  // the reference: one uninterrupted run, listing the crash points it passes
  const { dir, root, src, marker } = await prepare();
  const r = await runDriver(root, src, join(dir, 'work'), 'list');
  expect(r.code).toBe(0);
  passes = r.events;
  expect(passes.every((e) => e.event === 'pass')).toBe(true);
  referenceFiles = await snapshot(root);
  for (const p of MANAGED) expect(referenceFiles[p], p).toBeDefined();
  const state = JSON.parse((await read(root, STATE)) ?? '{}') as { modules: Record<string, { status: string }> };
  referenceStatuses = Object.fromEntries(Object.entries(state.modules).map(([k, v]) => [k, v.status]));
  expect(await readFile(marker, 'utf8')).toBe('ran\n');
}, 120_000);

describe('crash injection (SIGKILL at every crash point the agent passes, then a second run)', () => {
  it('the run passes every kind of crash point, for the files it manages and for its state', () => {
    expect(new Set(passes.map((e) => e.name))).toEqual(new Set(POINTS));
    const written = new Set(passes.map((e) => e.detail));
    for (const p of [...MANAGED.filter((m) => m !== '/etc/passwd' && m !== '/etc/group'), STATE]) expect(written, p).toContain(p);
  });

  it('at each point: it died there, old or new content at the kill, convergence after, the script at most once', { timeout: 60 * 60_000 }, async () => {
    const template0 = await snapshot(template);
    const failures: string[] = [];
    const trial = async (point: CrashPointEvent): Promise<void> => {
      const at = `${point.name}:${point.n}`;
      const where = `${at} (${point.detail})`;
      const { dir, root, src, marker } = await prepare();
      const first = await runDriver(root, src, join(dir, 'work'), at);
      // it died exactly where it was told to, and nowhere else: the kill provably landed mid-run
      if (first.signal !== 'SIGKILL') failures.push(`${where}: the first run was not killed at its crash point (exit ${String(first.code)}, signal ${String(first.signal)})`);
      const crash = first.events.at(-1);
      if (first.events.length !== 1 || crash?.event !== 'crash' || crash.name !== point.name || crash.n !== point.n || crash.detail !== point.detail) {
        failures.push(`${where}: the hook logged ${JSON.stringify(first.events)}, not this point`);
      }
      const atKill = await snapshot(root);
      for (const p of MANAGED) {
        const v = atKill[p];
        if (v !== template0[p] && v !== referenceFiles[p]) failures.push(`${where}: ${p} is neither old nor new: ${JSON.stringify(v?.slice(0, 80))}`);
      }
      if (!shadowShapeOk(await read(root, '/etc/shadow'))) failures.push(`${where}: /etc/shadow malformed at the kill`);
      const stateAtKill = await read(root, STATE);
      if (stateAtKill !== undefined) {
        try {
          JSON.parse(stateAtKill);
        } catch {
          failures.push(`${where}: the state file is not whole at the kill: ${JSON.stringify(stateAtKill.slice(0, 80))}`);
        }
      }
      // before the rename the temporary file is there, next to the file it replaces: mid-write
      const leftAtKill = await temps(root);
      const tempOf = (p: string): boolean => leftAtKill.some((t) => dirname(t) === dirname(p) && t.slice(dirname(p).length + 1).startsWith(`.${p.slice(dirname(p).length + 1)}.vmctx-`));
      if ((point.name === 'write:temp-created' || point.name === 'write:before-rename') && !tempOf(point.detail)) failures.push(`${where}: no temporary file for ${point.detail} at the kill (${leftAtKill.join(', ')})`);
      const second = await runDriver(root, src, join(dir, 'work'));
      if (second.code !== 0 && second.code !== 5) failures.push(`${where}: the second run exited ${String(second.code)} (signal ${String(second.signal)})`);
      const after = await snapshot(root);
      for (const p of MANAGED) if (after[p] !== referenceFiles[p]) failures.push(`${where}: ${p} did not converge: ${JSON.stringify(after[p]?.slice(0, 80))}`);
      if (!shadowShapeOk(await read(root, '/etc/shadow'))) failures.push(`${where}: /etc/shadow malformed after the second run`);
      const runs = ((await readFile(marker, 'utf8').catch(() => '')).match(/ran/gu) ?? []).length;
      if (runs > 1) failures.push(`${where}: START_SCRIPT ran ${runs} times`);
      const state = JSON.parse((await read(root, STATE)) ?? '{}') as { modules?: Record<string, { status: string }> };
      for (const [id, status] of Object.entries(referenceStatuses)) {
        const got = state.modules?.[id]?.status;
        // a script interrupted mid-way is recorded as such and not run again: the only allowed difference
        if (got !== status && !(id === 'scripts' && got === 'interrupted')) failures.push(`${where}: module ${id} is ${String(got)}, not ${status}`);
      }
      const left = await temps(root);
      if (left.length > 0) failures.push(`${where}: temporary files left after the second run: ${left.join(', ')}`);
      await rm(dir, SCRATCH_RM);
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        for (let i = next++; i < passes.length; i = next++) await trial(passes[i]!);
      }),
    );
    expect(failures.slice(0, 20)).toEqual([]);
  });
});
describe('a full file system and a read-only one (a real tmpfs)', () => {
  const mountTmpfs = (dir: string, size: string): void => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  };

  it('ENOSPC: the run reports which module could not write, every existing file is intact, no temporary file is left', async () => {
    const dir = await tempDir();
    const root = join(dir, 'root');
    await mkdir(root);
    mountTmpfs(root, '2m');
    try {
      await cp(template, root, { recursive: true });
      const before = await snapshot(root);
      // fill the file system, leaving room for the small files but not for a 256 KiB one
      const avail = Number(execFileSync('df', ['--output=avail', '-k', root], { encoding: 'utf8' }).split('\n')[1]);
      spawnSync('dd', ['if=/dev/zero', `of=${join(root, 'filler')}`, 'bs=1k', `count=${avail - 160}`], { stdio: 'ignore' });
      const src = join(dir, 'src');
      await mkdir(src);
      await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '1', SET_HOSTNAME: 'full-host', SSH_PUBLIC_KEY: key, USER_DATA: `#cloud-config\nwrite_files:\n  - path: /etc/big.conf\n    content: "${'x'.repeat(256 * 1024)}"\n` }));
      const r = vmctx(['run', '--source', src, '--root', root, '--json', '-q']);
      expect([0, 5]).toContain(r.code);
      const report = JSON.parse(r.stdout) as { modules: Array<{ id: string; status: string; error?: { message: string } }> };
      const failed = report.modules.filter((m) => m.status === 'failed');
      expect(failed.length, JSON.stringify(report).slice(0, 3000)).toBeGreaterThan(0);
      for (const m of failed) expect(m.error?.message).toMatch(/ENOSPC|no space/iu);
      const after = await snapshot(root);
      for (const p of MANAGED) {
        if (after[p] !== before[p]) expect(after[p], p).not.toBe('');
      }
      expect(await read(root, '/etc/big.conf')).toBeUndefined();
      expect(await temps(root)).toEqual([]);
    } finally {
      execFileSync('umount', [root]);
    }
  });

  it('a read-only target: nothing is applied (no state could be kept), nothing changes, the exit status and the console say why', async () => {
    const dir = await tempDir();
    const root = join(dir, 'root');
    await mkdir(root);
    mountTmpfs(root, '16m');
    try {
      await cp(template, root, { recursive: true });
      const before = await snapshot(root);
      execFileSync('mount', ['-o', 'remount,ro', root]);
      const src = join(dir, 'src');
      await mkdir(src);
      await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '1', SET_HOSTNAME: 'ro-host', SSH_PUBLIC_KEY: key }));
      const r = vmctx(['run', '--source', src, '--root', root, '--json']);
      expect(r.code).toBe(5);
      const report = JSON.parse(r.stdout) as { error?: { code: string; message: string }; modules: unknown[] };
      expect(report.error?.code).toBe('ERR_STATE');
      expect(report.error?.message).toMatch(/EROFS|read-only/iu);
      expect(report.modules).toEqual([]);
      expect(r.stderr).toMatch(/cannot record the run state, so nothing is applied/u);
      expect(r.stderr).toMatch(/cannot write \/run\/vmctx\/report.json/u);
      expect(await snapshot(root)).toEqual(before);
    } finally {
      execFileSync('umount', [root]);
    }
  });
});
