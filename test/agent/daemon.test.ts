// The reconfiguration daemon: its scheduler (debounce, no overlap, no lost update, survives a
// failing check), its socket, and the whole `vmctx daemon` process on a scratch root — a changed
// context medium, NICs plugged in and out, metadata polled from a real server on 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lchown, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_SOCKET, Daemon, TRIGGER_DIR, notifyDaemon, type CheckOutcome, type DaemonClock, type TimerHandle } from '../../src/agent/daemon.js';
import { MODULES } from '../../src/agent/modules/index.js';
import { runAgent } from '../../src/agent/run.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import type { MetadataServer } from '../../src/provider/server.js';
import { treeFromDescription } from '../../src/provider/tree.js';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { description, startServer } from '../helpers/metadata.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = { logger: createLogger(undefined), console: new ConsoleLines(false) };

async function until(what: string, test: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const daemons: Daemon[] = [];
const children: ChildProcess[] = [];
const servers: MetadataServer[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of servers.splice(0)) await s.close();
});

/**
 * The daemon's clock in the scheduler tests: time moves only when the test moves it, and every
 * timer due on the way fires in order, with the promises it starts settled before the next one.
 */
class ManualClock implements DaemonClock {
  private current = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; fn: () => void; every?: number }>();

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { due: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { due: this.current + ms, fn, every: ms });
    return id;
  }

  clearInterval(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** A promise that resolves when the clock has moved `ms` on (what a check "takes"). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => { this.setTimeout(resolve, ms); });
  }

  /** Moves time on by `ms`, firing each timer due on the way at its own time. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (;;) {
      const next = [...this.timers.entries()].filter(([, t]) => t.due <= end).sort(([ia, a], [ib, b]) => a.due - b.due || ia - ib)[0];
      if (next === undefined) break;
      const [id, timer] = next;
      this.current = timer.due;
      if (timer.every === undefined) this.timers.delete(id);
      else timer.due += timer.every;
      timer.fn();
      await settle();
    }
    this.current = end;
  }
}

/** Lets every promise that can settle now settle (one turn of the event loop; no time passes on any clock). */
const settle = (): Promise<void> => new Promise((r) => { setImmediate(r); });

async function daemonWith(check: (reasons: readonly string[]) => Promise<CheckOutcome>, options: { debounceMs?: number; maxDelayMs?: number; pollMs?: number; clock?: DaemonClock } = {}): Promise<{ daemon: Daemon; root: string }> {
  const root = await tempDir('vmctx-d-');
  const daemon = new Daemon({ root: new DirectoryRoot(root), check, ...quiet, ...options });
  daemons.push(daemon);
  return { daemon, root };
}

/** Moves the clock on in 10 ms steps until the daemon is idle (no check running or pending); at most `limitMs`. */
async function untilIdle(daemon: Daemon, clock: ManualClock, limitMs = 60_000): Promise<void> {
  const state = { idle: false };
  void daemon.idle().then(() => { state.idle = true; });
  for (let waited = 0; ; waited += 10) {
    await settle();
    if (state.idle) return;
    if (waited >= limitMs) throw new Error(`the daemon was still busy after ${limitMs} ms of its clock`);
    await clock.advance(10);
  }
}

describe('daemon scheduler (on a clock the test moves)', () => {
  it('a NIC flapping ten times a second for 3 s is a handful of checks, and the last event is never lost', async () => {
    const clock = new ManualClock();
    const seen: string[][] = [];
    const { daemon } = await daemonWith(async (reasons) => {
      seen.push([...reasons]);
      await clock.sleep(30);
      return { ran: true, summary: 'x', remote: false };
    }, { debounceMs: 300, maxDelayMs: 1000, clock });
    for (let i = 0; i < 30; i++) {
      daemon.trigger(i === 29 ? 'last' : 'net');
      await clock.advance(100);
    }
    await untilIdle(daemon, clock);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThanOrEqual(5);
    expect(seen.at(-1)).toContain('last');
  });

  it('never runs two checks at once; a trigger during a check runs one more check after it', async () => {
    const clock = new ManualClock();
    let running = 0;
    let overlap = false;
    const seen: string[][] = [];
    const { daemon } = await daemonWith(async (reasons) => {
      running += 1;
      if (running > 1) overlap = true;
      seen.push([...reasons]);
      await clock.sleep(300);
      running -= 1;
      return { ran: true, summary: 'x', remote: false };
    }, { debounceMs: 10, clock });
    daemon.trigger('media');
    await clock.advance(10);
    // the first check is running (it takes 300 ms of the clock)
    expect(seen).toEqual([['media']]);
    expect(running).toBe(1);
    daemon.trigger('net');
    daemon.trigger('net');
    await untilIdle(daemon, clock);
    expect(overlap).toBe(false);
    expect(seen).toEqual([['media'], ['net']]);
  });

  it('outlives a check that throws', async () => {
    const clock = new ManualClock();
    let n = 0;
    const { daemon } = await daemonWith(() => {
      n += 1;
      if (n === 1) return Promise.reject(new Error('the CD went away while being read'));
      return Promise.resolve({ ran: true, summary: 'x', remote: false });
    }, { debounceMs: 10, clock });
    daemon.trigger('media');
    await untilIdle(daemon, clock);
    daemon.trigger('media');
    await untilIdle(daemon, clock);
    expect(n).toBe(2);
  });

  it('polls only while the context is remote', async () => {
    const clock = new ManualClock();
    let remote = true;
    const seen: string[][] = [];
    const { daemon } = await daemonWith((reasons) => {
      seen.push([...reasons]);
      return Promise.resolve({ ran: false, summary: 'x', remote });
    }, { debounceMs: 10, pollMs: 100, clock });
    daemon.trigger('start');
    await untilIdle(daemon, clock);
    for (let i = 0; i < 3; i++) {
      await clock.advance(100);
      await untilIdle(daemon, clock);
    }
    expect(seen.filter((r) => r.includes('metadata-poll')).length).toBeGreaterThanOrEqual(3);
    remote = false;
    await untilIdle(daemon, clock);
    const count = seen.length;
    await clock.advance(400);
    await untilIdle(daemon, clock);
    expect(seen.length - count).toBeLessThanOrEqual(1);
  });

  it('the debounce waits for quiet, but no longer than the longest delay; nothing runs before', async () => {
    const clock = new ManualClock();
    const seen: Array<{ at: number; reasons: string[] }> = [];
    const { daemon } = await daemonWith((reasons) => {
      seen.push({ at: clock.now(), reasons: [...reasons] });
      return Promise.resolve({ ran: true, summary: 'x', remote: false });
    }, { debounceMs: 300, maxDelayMs: 1000, clock });
    daemon.trigger('net');
    await clock.advance(299);
    expect(seen).toEqual([]);
    await clock.advance(1);
    expect(seen).toEqual([{ at: 300, reasons: ['net'] }]);
    // a trigger every 200 ms never leaves 300 ms of quiet: the check runs at the longest delay
    for (let t = 0; t < 6; t++) {
      daemon.trigger(t % 2 === 0 ? 'media' : 'net');
      await clock.advance(200);
    }
    expect(seen[1]).toEqual({ at: 1300, reasons: ['media', 'net'] });
    await untilIdle(daemon, clock);
    expect(daemon.checks).toBe(3);
  });
});

/** A started daemon whose checks only record their reasons (the first one: "start"). */
async function startedRecordingDaemon(): Promise<{ daemon: Daemon; root: string; seen: string[][] }> {
  const seen: string[][] = [];
  const { daemon, root } = await daemonWith((reasons) => {
    seen.push([...reasons]);
    return Promise.resolve({ ran: true, summary: 'x', remote: false });
  }, { debounceMs: 10 });
  await daemon.start();
  await daemon.idle();
  return { daemon, root, seen };
}

describe('daemon socket', () => {
  it('takes triggers from `--notify` clients, refuses malformed ones and a second daemon, and takes over a dead one\'s socket', async () => {
    const { daemon, root, seen } = await startedRecordingDaemon();
    expect(seen).toEqual([['start']]);
    expect((await stat(join(root, DAEMON_SOCKET))).mode & 0o777).toBe(0o600);
    expect(await notifyDaemon(join(root, DAEMON_SOCKET), 'media')).toBe(true);
    await daemon.idle();
    expect(seen.at(-1)).toEqual(['media']);
    await expect(notifyDaemon(join(root, DAEMON_SOCKET), 'rm -rf /')).rejects.toThrow(/not a trigger name/);
    // a raw client sending junk gets an error and triggers nothing
    const { createConnection } = await import('node:net');
    const reply = await new Promise<string>((resolve) => {
      const s = createConnection(join(root, DAEMON_SOCKET));
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('close', () => { resolve(text); });
      s.write(`${'A'.repeat(100)}\n`);
    });
    expect(reply).toMatch(/^error/);
    const second = new Daemon({ root: new DirectoryRoot(root), check: () => Promise.resolve({ ran: false, summary: '', remote: false }), ...quiet });
    await expect(second.start()).rejects.toThrow(/another vmctx daemon/);
    const before = seen.length;
    await daemon.stop();
    expect(existsSync(join(root, DAEMON_SOCKET))).toBe(false);
    expect(await notifyDaemon(join(root, DAEMON_SOCKET), 'media')).toBe(false);
    expect(seen.length).toBe(before);
    // a socket file left by a killed daemon is taken over
    const { createServer } = await import('node:net');
    const stale = createServer();
    await new Promise<void>((r) => stale.listen(join(root, DAEMON_SOCKET), () => { r(); }));
    await new Promise<void>((r) => stale.close(() => { r(); }));
    await writeFile(join(root, 'marker'), '');
    const third = new Daemon({ root: new DirectoryRoot(root), check: () => Promise.resolve({ ran: false, summary: '', remote: false }), ...quiet });
    daemons.push(third);
    await third.start();
    expect(await notifyDaemon(join(root, DAEMON_SOCKET), 'net')).toBe(true);
  });
});

describe('daemon start order', () => {
  it('/run/vmctx made by uid 1000 (0777) with her listener on daemon.sock: the directory is repaired first, her socket is not taken for a daemon, the daemon starts', async () => {
    const { daemon, root } = await daemonWith(() => Promise.resolve({ ran: false, summary: '', remote: false }));
    const run = join(root, 'run/vmctx');
    await mkdir(run, { recursive: true });
    await chown(run, 1000, 1000);
    await chmod(run, 0o777);
    const { createServer } = await import('node:net');
    const hers = createServer((s) => { s.end('ok\n'); });
    await new Promise<void>((r) => hers.listen(join(run, 'daemon.sock'), () => { r(); }));
    try {
      await lchown(join(run, 'daemon.sock'), 1000, 1000);
      await daemon.start();
      const st = await stat(run);
      expect([st.uid, st.mode & 0o022]).toEqual([0, 0]);
      expect((await stat(join(root, DAEMON_SOCKET))).uid).toBe(0);
    } finally {
      await new Promise<void>((r) => hers.close(() => { r(); }));
    }
  });
});

describe('daemon trigger files (what the udev rule drops: udev cannot start Node)', () => {
  it('an empty file named after the event triggers a check (inotify, no polling); junk names are dropped; the directory goes with the daemon', async () => {
    const { daemon, root, seen } = await startedRecordingDaemon();
    const dir = join(root, TRIGGER_DIR);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    // exactly what the rule runs
    const rule = await readFile('packaging/90-vmctx.rules', 'utf8');
    const command = /RUN\+="\/bin\/sh -c '(: > \/run\/vmctx\/triggers\/media)'"/u.exec(rule)?.[1];
    expect(command).toBeDefined();
    spawnSync('/bin/sh', ['-c', (command ?? '').replace('/run/vmctx', join(root, 'run/vmctx'))]);
    await until('the media check', () => seen.some((r) => r.includes('media')));
    await writeFile(join(dir, 'BAD NAME;rm'), '');
    await writeFile(join(dir, 'net'), '');
    await until('the net check', () => seen.some((r) => r.includes('net')));
    await daemon.idle();
    expect(seen.flat()).not.toContain('BAD NAME;rm');
    expect(await readdir(dir)).toEqual([]);
    await daemon.stop();
    expect(existsSync(dir)).toBe(false);
  });
});

/** Starts `vmctx daemon` on a scratch root and returns when it listens. */
async function startDaemonProcess(args: readonly string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [BUNDLE, 'daemon', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  await until('the daemon to listen', () => text.includes('listening on') || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`the daemon exited: ${text}`);
  return { child, output: () => text };
}

/** The daemon's checks as its log records them, oldest first (one line each: reconfigured, nothing changed, or failed). */
async function loggedChecks(root: string): Promise<Array<{ msg: string; reasons?: string[] }>> {
  const text = await readFile(join(root, 'var/log/vmctx.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string; reasons?: string[] })
    .filter((entry) => ['daemon: reconfigured', 'daemon: nothing changed', 'daemon: check failed'].includes(entry.msg));
}

async function writeContext(dir: string, vars: Record<string, string>): Promise<void> {
  // replaced whole, as a swapped medium is
  const temp = join(dir, '.context.sh.new');
  await writeFile(temp, Object.entries(vars).map(([k, v]) => `${k}='${v}'\n`).join(''));
  await rename(temp, join(dir, 'context.sh'));
}

describe('vmctx daemon (the process, on a scratch root)', () => {
  it('a changed medium: only the changed modules run; a password the user changed and per-instance work are left alone; SIGTERM stops it cleanly', async () => {
    const root = await scratchRoot();
    const medium = await tempDir('vmctx-medium-');
    const key1 = fakeKey('ssh-ed25519', 'first@host');
    const key2 = fakeKey('ssh-ed25519', 'second@host');
    const base = { VMID: '301', SET_HOSTNAME: 'web-1', SSH_PUBLIC_KEY: key1, PASSWORD: 'first-boot-pw', START_SCRIPT: 'touch /tmp/never-here' };
    await writeContext(medium, base);
    const boot = vmctx(['run', '--root', root, '--source', medium, '--quiet']);
    expect(boot.code, boot.stderr).toBe(0);
    // the user changes the password after the first boot
    const shadow = (await readFile(join(root, 'etc/shadow'), 'utf8')).replace(/^root:[^:]*:/mu, 'root:$6$userchosen$abc:');
    await writeFile(join(root, 'etc/shadow'), shadow);
    const state0 = JSON.parse(await readFile(join(root, 'var/lib/vmctx/state.json'), 'utf8')) as { modules: Record<string, { finishedAt?: string }> };

    const { child, output } = await startDaemonProcess(['--root', root, '--source', medium, '--debounce', '50']);
    await until('the first check', () => /daemon: start:/u.test(output()));
    expect(output()).toMatch(/daemon: start: nothing to change/u);

    await writeContext(medium, { ...base, SSH_PUBLIC_KEY: `${key1}\n${key2}`, SET_HOSTNAME: 'web-2' });
    expect(vmctx(['daemon', '--root', root, '--notify', 'media']).code).toBe(0);
    await until('the new key', async () => (await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).includes(key2));
    await until('the log line', () => /daemon: media: applied/u.test(output()));
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('web-2\n');
    expect(output()).toMatch(/hostname/u);
    expect(output()).not.toMatch(/network \(|users \(|password \(/u);
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe(shadow);
    const state1 = JSON.parse(await readFile(join(root, 'var/lib/vmctx/state.json'), 'utf8')) as { modules: Record<string, { finishedAt?: string }> };
    for (const id of ['scripts', 'ssh-host-keys', 'machine-id', 'write-files']) expect(state1.modules[id]).toEqual(state0.modules[id]);

    // the same medium again: nothing runs (the check is seen done in the log, not guessed by a sleep)
    const checked = (await loggedChecks(root)).length;
    expect(vmctx(['daemon', '--root', root, '--notify', 'media']).code).toBe(0);
    await until('the check of the same medium', async () => (await loggedChecks(root)).length > checked);
    expect((await loggedChecks(root)).at(-1)).toMatchObject({ msg: 'daemon: nothing changed', reasons: ['media'] });
    expect(output().match(/daemon: media:/gu)?.length).toBe(1);

    // a key removed from the context is removed from authorized_keys
    await writeContext(medium, { ...base, SSH_PUBLIC_KEY: key2, SET_HOSTNAME: 'web-2' });
    expect(vmctx(['daemon', '--root', root, '--notify', 'media']).code).toBe(0);
    await until('the old key to go', async () => !(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).includes(key1));

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(existsSync(join(root, DAEMON_SOCKET))).toBe(false);
    expect(existsSync(join(root, 'run/vmctx/run.lock'))).toBe(false);
  });

  it('metadata: keys added and removed are applied within one poll interval; the service going away is survived', async () => {
    const root = await scratchRoot();
    const key1 = fakeKey('ssh-ed25519', 'one@host');
    const key2 = fakeKey('ssh-ed25519', 'two@host');
    const { server, url } = await startServer(description({}, [key1]));
    servers.push(server);
    // not spawnSync: the server runs in this process
    const boot = await new Promise<number | null>((resolve) => spawn(process.execPath, [BUNDLE, 'run', '--root', root, '--source', 'metadata', '--metadata-url', url, '--quiet'], { stdio: 'ignore' }).on('exit', resolve));
    expect(boot).toBe(0);
    const { child, output } = await startDaemonProcess(['--root', root, '--source', 'metadata', '--metadata-url', url, '--poll-interval', '1', '--debounce', '50']);
    await until('the first check', () => /daemon: start:/u.test(output()));
    server.setTree(treeFromDescription(description({}, [key1, key2])));
    await until('the added key', async () => (await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).includes(key2), 5000);
    server.setTree(treeFromDescription(description({}, [key2])));
    await until('the removed key', async () => !(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).includes(key1), 5000);
    await until('the removal applied', () => output().match(/daemon: metadata-poll: applied/gu)?.length === 2);
    const polls = server.requests.length;
    const checked = (await loggedChecks(root)).length;
    await until('two more polls', async () => (await loggedChecks(root)).length >= checked + 2);
    // unchanged metadata: polled, nothing re-applied
    expect(server.requests.length).toBeGreaterThan(polls);
    expect((await loggedChecks(root)).slice(checked)).toEqual(Array(2).fill(expect.objectContaining({ msg: 'daemon: nothing changed', reasons: ['metadata-poll'] })) as unknown[]);
    expect(output().match(/daemon: metadata-poll: applied/gu)?.length).toBe(2);
    await server.close();
    servers.splice(0);
    // two checks after the service went away (the first may have begun before): the second surely asked it in vain
    const gone = (await loggedChecks(root)).length;
    await until('two checks without the service', async () => (await loggedChecks(root)).length >= gone + 2, 20_000);
    expect(child.exitCode).toBeNull();
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toContain(key2);
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => child.on('exit', r))).toBe(0);
  }, 60_000);

  it('--once: one check, exit code of the run; --notify without a daemon is quiet and exits 0', async () => {
    const root = await scratchRoot();
    const medium = await tempDir('vmctx-medium-');
    await writeContext(medium, { VMID: '7', SET_HOSTNAME: 'once-1' });
    expect(vmctx(['run', '--root', root, '--source', medium, '--quiet']).code).toBe(0);
    await writeContext(medium, { VMID: '7', SET_HOSTNAME: 'once-2' });
    const once = vmctx(['daemon', '--once', '--root', root, '--source', medium]);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stderr).toMatch(/applied hostname/u);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('once-2\n');
    const none = vmctx(['daemon', '--root', root, '--notify', 'net']);
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(vmctx(['daemon', '--root', root, '--notify', '$(id)']).code).toBe(2);
  });
});

describe('NIC hot-plug (networkd, MAC-matched files, the daemon\'s settled NIC list)', () => {
  it('a NIC plugged in gets its configuration, a NIC removed loses vmctx\'s file', async () => {
    const root = await scratchRoot({ network: 'none' });
    await mkdir(join(root, 'usr/lib/systemd/system'), { recursive: true });
    await writeFile(join(root, 'usr/lib/systemd/system/systemd-networkd.service'), '[Unit]\n');
    const medium = await tempDir('vmctx-medium-');
    await writeContext(medium, { VMID: '9', ETH0_MAC: '02:00:00:00:00:01', ETH0_IP: '10.0.0.2', ETH0_MASK: '255.255.255.0', ETH1_MAC: '02:00:00:00:00:02', ETH1_IP: '10.1.0.2', ETH1_MASK: '255.255.255.0' });
    let nics = [{ name: 'eth0', mac: '02:00:00:00:00:01' }];
    const run = () =>
      runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: medium, stage: 'all', dryRun: false,
        exec: new HostExec(), ...quiet, version: 'test', modules: MODULES.filter((m) => m.frequency === 'on-change'), nicsSettled: true,
        listNics: () => Promise.resolve(nics),
      });
    const files = async (): Promise<string[]> => {
      const { readdir } = await import('node:fs/promises');
      return (await readdir(join(root, 'etc/systemd/network'))).filter((n) => n.includes('vmctx')).sort();
    };
    let report = await run();
    expect(report.modules.find((m) => m.id === 'network')?.status).toBe('applied');
    const one = await files();
    expect(one).toHaveLength(1);
    nics = [...nics, { name: 'eth1', mac: '02:00:00:00:00:02' }];
    report = await run();
    expect(report.modules.find((m) => m.id === 'network')?.reason).toBe('inputs changed');
    const two = await files();
    expect(two).toHaveLength(2);
    expect(await readFile(join(root, 'etc/systemd/network', two.find((n) => !one.includes(n)) ?? ''), 'utf8')).toContain('10.1.0.2');
    // an unrelated NIC changes nothing
    nics = [...nics, { name: 'eth9', mac: '02:00:00:00:00:99' }];
    report = await run();
    expect(report.modules.find((m) => m.id === 'network')?.status).toBe('skipped');
    nics = nics.filter((n) => n.name !== 'eth1');
    report = await run();
    expect(await files()).toEqual(one);
  });

  it('a NIC named by position only (ETH0 without ETH0_MAC) is anchored by the MAC of the NIC that appears: the same model and module path', async () => {
    const root = await scratchRoot({ network: 'none' });
    await mkdir(join(root, 'usr/lib/systemd/system'), { recursive: true });
    await writeFile(join(root, 'usr/lib/systemd/system/systemd-networkd.service'), '[Unit]\n');
    const medium = await tempDir('vmctx-medium-');
    await writeContext(medium, { VMID: '10', ETH0_IP: '10.0.0.2', ETH0_MASK: '255.255.255.0' });
    let nics: { name: string; mac: string; physical?: boolean }[] = [];
    const run = () =>
      runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: medium, stage: 'all', dryRun: false,
        exec: new HostExec(), ...quiet, version: 'test', modules: MODULES.filter((m) => m.frequency === 'on-change'), nicsSettled: true,
        listNics: () => Promise.resolve(nics),
      });
    await run();
    const file = join(root, 'etc/systemd/network/10-vmctx-01-eth0.network');
    expect(await readFile(file, 'utf8')).toContain('\nName=eth0\n');
    nics = [{ name: 'ens3', mac: '02:00:00:00:00:07', physical: true }];
    const report = await run();
    expect(report.modules.find((m) => m.id === 'network')?.reason).toBe('inputs changed');
    expect(await readFile(file, 'utf8')).toContain('\nPermanentMACAddress=02:00:00:00:00:07\n');
  });
});
