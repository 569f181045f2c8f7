// report-ready against a real OneGate on 127.0.0.1 (`vmctx serve-metadata --onegate`'s server):
// one PUT /vm with READY=YES, the token and the VMID; a wrong token (401) is not retried; a hang
// and a refused connection end at the budget (the boot's window, then the daemon's rest); a 500
// is retried; READY_SCRIPT gates the report; VMCTX_READY_PORT holds it until the port answers;
// missing pieces are named; the token is in no file, log line or console line. Time is a TestClock
// (the waits between attempts); only the I/O timeouts are real, and short.
import { createHash, randomUUID } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAEMON_MODULES } from '../../../src/agent/daemonpolicy.js';
import { MODULES } from '../../../src/agent/modules/index.js';
import type { Target } from '../../../src/agent/modules/module.js';
import { DAEMON_WANTS, decodeReadyScript, describeReady, makeReportReadyModule, readReadyRecord, type ReadyRecord, type ReadyTimings } from '../../../src/agent/modules/reportready.js';
import { runAgent } from '../../../src/agent/run.js';
import { checkVariables, classifyVariable } from '../../../src/agent/context/checks.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { systemClock } from '../../../src/host/clock.js';
import { HostExec } from '../../../src/host/exec.js';
import { putReady, retryableError, tcpAnswers } from '../../../src/host/onegate.js';
import { Secret } from '../../../src/shared/secret.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { HostScriptRunner } from '../../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { isSecretName } from '../../../src/shared/secret.js';
import { MetadataServer, parseFault, type Fault } from '../../../src/provider/server.js';
import { TestClock } from '../../helpers/clock.js';
import { contextOf } from '../../helpers/context.js';
import { debianRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const TOKEN = 'yCxieDUS7kra7Vn9ILA0+g==-secret-9f1e';
const VMID = '42';
const FAST: Partial<ReadyTimings> = { bootWindowMs: 1000, connectMs: 300, requestMs: 250, backoffMs: 100, maxBackoffMs: 400, budgetMs: 3000 };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function oneGate(faults: readonly Fault[] = [], token = TOKEN): Promise<{ server: MetadataServer; url: string; lines: string[] }> {
  const lines: string[] = [];
  const server = new MetadataServer({ tree: new Map(), imdsv2: 'optional', faults, onegate: { token, vmid: VMID }, log: (l) => lines.push(l) });
  const { url } = await server.listen('127.0.0.1', 0);
  closers.push(() => server.close());
  return { server, url, lines };
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => { r(); }));
  return port;
}

interface Guest {
  root: string;
  target: (clock: TestClock, afterBoot?: boolean) => Target;
  setBoot: (id: string) => Promise<void>;
  record: () => Promise<ReadyRecord | undefined>;
}

async function guest(options: { daemon?: boolean } = {}): Promise<Guest> {
  const root = await debianRoot();
  if (options.daemon !== false) {
    // what install does on a systemd image: the daemon takes the rest of the budget after the boot
    await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    await symlink('/lib/systemd/system/vmctx-daemon.service', join(root, DAEMON_WANTS.slice(1)));
  }
  const work = await tempDir();
  const setBoot = async (id: string): Promise<void> => {
    await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
    await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${id}\n`);
  };
  await setBoot(randomUUID());
  const r = new DirectoryRoot(root);
  return {
    root,
    setBoot,
    target: (clock, afterBoot = false) => ({ root: r, exec: new HostExec(), live: false, scripts: new HostScriptRunner(work), scriptTimeoutMs: 10_000, state: { root: r, dir: '/var/lib/vmctx' }, clock, ...(afterBoot ? { nicsSettled: true } : {}) }),
    record: () => readReadyRecord(r, '/var/lib/vmctx'),
  };
}

const vars = (url: string, more: Record<string, string> = {}): Record<string, string> => ({ REPORT_READY: 'YES', ONEGATE_ENDPOINT: url, VMID, ...more });

describe('report-ready module', () => {
  it('PUTs READY=YES to $ONEGATE_ENDPOINT/vm once, with token.txt and VMID; the record says when; status shows it', async () => {
    const { server, url, lines } = await oneGate();
    const g = await guest();
    const clock = new TestClock();
    const module = makeReportReadyModule({ timings: FAST });
    const ctx = await contextOf(vars(url), { 'token.txt': `${TOKEN}\n` });
    const out = await module.apply(ctx, g.target(clock), createLogger(undefined));
    expect(server.onegateRequests).toMatchObject([{ method: 'PUT', path: '/vm', vmid: VMID, token: 'ok', contentType: 'application/x-www-form-urlencoded', body: 'READY=YES', status: 200 }]);
    expect(server.onegateTemplate.get('READY')).toBe('YES');
    expect(out.actions).toEqual([`reported READY=YES to ${url}/vm for VM ${VMID}`]);
    expect(out.warnings).toEqual([]);
    const record = await g.record();
    expect(record).toMatchObject({ status: 'reported', attempts: 1, vmid: VMID, url: `${url}/vm`, reportedAt: new Date(clock.start).toISOString() });
    expect(describeReady(record as ReadyRecord)).toContain('READY=YES reported to OneGate');
    expect(clock.sleeps).toEqual([]);
    // the server shows what it got, never the token
    expect(lines.join('\n')).toContain(`onegate: PUT /vm VMID="${VMID}" token ok body "READY=YES" -> 200`);
    expect(lines.join('\n')).not.toContain(TOKEN);
    // the same boot again: nothing sent; the daemon's liveInputs see it settled
    expect(await module.liveInputs?.(ctx, g.target(clock))).toMatchObject({ phase: 'reported' });
    await module.apply(ctx, g.target(clock), createLogger(undefined));
    expect(server.onegateRequests).toHaveLength(1);
    // a new boot: reported again (one-apps reports on every boot)
    await g.setBoot(randomUUID());
    expect(await module.liveInputs?.(ctx, g.target(clock))).toMatchObject({ phase: 'new' });
    await module.apply(ctx, g.target(clock), createLogger(undefined));
    expect(server.onegateRequests).toHaveLength(2);
  });

  it('ONEGATE_TOKEN wins over token.txt (one-apps\' order); an endpoint path prefix is kept', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const ctx = await contextOf(vars(url, { ONEGATE_TOKEN: TOKEN }), { 'token.txt': 'stale-token\n' });
    await makeReportReadyModule({ timings: FAST }).apply(ctx, g.target(new TestClock()), createLogger(undefined));
    expect(server.onegateRequests).toMatchObject([{ token: 'ok', status: 200 }]);
    const prefixed = await contextOf(vars(`${url}/onegate/`), { 'token.txt': TOKEN });
    const g2 = await guest();
    const out = await makeReportReadyModule({ timings: FAST }).apply(prefixed, g2.target(new TestClock()), createLogger(undefined));
    expect(server.requests.at(-1)).toBe('PUT /onegate/vm');
    expect((await g2.record())?.status).toBe('failed');
    expect(out.warnings.join()).toContain('OneGate answered HTTP 405');
  });

  it('a wrong token gets OneGate\'s 401 and is not retried; the failure is named', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const clock = new TestClock();
    const ctx = await contextOf(vars(url), { 'token.txt': 'not-the-token' });
    const out = await makeReportReadyModule({ timings: FAST }).apply(ctx, g.target(clock), createLogger(undefined));
    expect(server.onegateRequests).toMatchObject([{ token: 'wrong', status: 401 }]);
    expect(clock.sleeps).toEqual([]);
    expect(await g.record()).toMatchObject({ status: 'failed', error: { code: 'ERR_ONEGATE_REFUSED', message: expect.stringContaining('HTTP 401: Not authorized; not retried') as unknown } });
    expect(out.warnings.join()).toContain('READY NOT reported');
  });

  it('a hung OneGate: each PUT is cut at its request timeout; the boot\'s window ends pending, the daemon ends at the budget', async () => {
    const { server, url } = await oneGate([parseFault('hang,path=/vm')]);
    const g = await guest();
    const clock = new TestClock();
    const module = makeReportReadyModule({ timings: FAST });
    const ctx = await contextOf(vars(url), { 'token.txt': TOKEN });
    const t0 = performance.now();
    await module.apply(ctx, g.target(clock), createLogger(undefined));
    const pending = await g.record();
    expect(pending).toMatchObject({ status: 'pending', error: { code: 'ERR_ONEGATE_UNREACHABLE', message: 'no answer within 250 ms' } });
    // within the window (1 s of the clock): backoff 100, 200, 400 (the next one would pass it)
    expect(clock.sleeps).toEqual([100, 200, 400]);
    expect(clock.elapsed).toBeLessThanOrEqual(1000);
    expect(pending?.attempts).toBe(4);
    expect(describeReady(pending as ReadyRecord)).toContain('the daemon retries until 2026-01-01T00:00:03.000Z');
    // the daemon (after the boot) sees a new phase and takes the rest of the budget
    expect(await module.liveInputs?.(ctx, g.target(clock, true))).toMatchObject({ phase: 'pending' });
    await module.apply(ctx, g.target(clock, true), createLogger(undefined));
    const failed = await g.record();
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'ERR_ONEGATE_UNREACHABLE', message: expect.stringMatching(/^no answer within \d+ ms; gave up after \d+ attempt\(s\) in the 3 s budget$/u) as unknown } });
    expect(clock.elapsed).toBeLessThanOrEqual(3000);
    expect(server.onegateRequests.length + server.requests.filter((r) => r === 'PUT /vm').length).toBeGreaterThan(4);
    // real time: only the cut requests (250 ms each), not the budget's waits
    expect(performance.now() - t0).toBeLessThan(2 * 250 * (failed?.attempts ?? 0) + 2000);
  });

  it('HTTP 500 then success: retried after the backoff, reported on the second attempt', async () => {
    const { server, url } = await oneGate([parseFault('status:500,path=/vm,times=1')]);
    const g = await guest();
    const clock = new TestClock();
    await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url), { 'token.txt': TOKEN }), g.target(clock), createLogger(undefined));
    expect(server.requests).toEqual(['PUT /vm', 'PUT /vm']);
    expect(clock.sleeps).toEqual([100]);
    expect(await g.record()).toMatchObject({ status: 'reported', attempts: 2 });
  });

  it('no daemon enabled (a sysvinit image): the boot\'s window ends the attempt as failed, said so, never "pending" with nobody to retry', async () => {
    const { server, url } = await oneGate([parseFault('hang,path=/vm')]);
    const g = await guest({ daemon: false });
    const clock = new TestClock();
    const ctx = await contextOf(vars(url), { 'token.txt': TOKEN });
    await makeReportReadyModule({ timings: FAST }).apply(ctx, g.target(clock), createLogger(undefined));
    const record = await g.record();
    expect(record).toMatchObject({ status: 'failed', error: { code: 'ERR_ONEGATE_UNREACHABLE' } });
    expect(record?.error?.message).toMatch(/no vmctx daemon is enabled on this system \(\/etc\/systemd\/system\/multi-user\.target\.wants\/vmctx-daemon\.service\) to retry for the rest of the 3 s budget$/u);
    expect(describeReady(record as ReadyRecord)).not.toContain('the daemon retries');
    expect(server.onegateRequests.length + server.requests.filter((r) => r === 'PUT /vm').length).toBeGreaterThan(0);
  });

  it('connection refused: retried within the window, then pending with ECONNREFUSED named', async () => {
    const port = await closedPort();
    const g = await guest();
    const clock = new TestClock();
    const out = await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(`http://127.0.0.1:${port}`), { 'token.txt': TOKEN }), g.target(clock), createLogger(undefined));
    expect(await g.record()).toMatchObject({ status: 'pending', attempts: 4, error: { code: 'ERR_ONEGATE_UNREACHABLE', message: expect.stringContaining('ECONNREFUSED') as unknown } });
    expect(out.warnings.join()).toContain('READY not reported yet');
    expect(clock.elapsed).toBeLessThanOrEqual(1000);
    // a daemon that comes only after the budget: no attempt, the failure keeps the last error
    await clock.sleep(5000);
    const ctx = await contextOf(vars(`http://127.0.0.1:${port}`), { 'token.txt': TOKEN });
    await makeReportReadyModule({ timings: FAST }).apply(ctx, g.target(clock, true), createLogger(undefined));
    const late = await g.record();
    expect(late).toMatchObject({ status: 'failed', attempts: 4 });
    expect(late?.error?.message).toMatch(/^ECONNREFUSED: .*; gave up after 4 attempt\(s\) in the 3 s budget$/u);
  });

  it('READY_SCRIPT gates the report: failing, it is run again at each attempt and nothing is sent; then the daemon ends it; base64 and succeeding, it reports', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const module = makeReportReadyModule({ timings: FAST });
    const clock = new TestClock();
    const failing = await contextOf(vars(url, { READY_SCRIPT: 'echo not yet; exit 3' }), { 'token.txt': TOKEN });
    const out = await module.apply(failing, g.target(clock), createLogger(undefined));
    expect(server.onegateRequests).toEqual([]);
    // retried like the PUT (one-apps retries script and report together): 4 runs in the 1 s window
    expect(clock.sleeps).toEqual([100, 200, 400]);
    expect(await g.record()).toMatchObject({ status: 'pending', attempts: 4, error: { code: 'ERR_ONEGATE_READY_SCRIPT', message: expect.stringContaining('READY_SCRIPT exited with 3') as unknown } });
    expect((await g.record())?.gatePassed).toBeUndefined();
    expect(out.actions.filter((a) => a === 'ran ready-script')).toHaveLength(4);
    expect(await readFile(join(g.root, 'var/log/vmctx/scripts/ready-script.log'), 'utf8')).toContain('not yet');
    await module.apply(failing, g.target(clock, true), createLogger(undefined));
    expect(await g.record()).toMatchObject({ status: 'failed', error: { code: 'ERR_ONEGATE_READY_SCRIPT', message: expect.stringMatching(/READY_SCRIPT exited with 3 .*; gave up after \d+ attempt\(s\) in the 3 s budget$/u) as unknown } });
    expect(server.onegateRequests).toEqual([]);

    const g2 = await guest();
    await module.apply(await contextOf(vars(url, { READY_SCRIPT: Buffer.from('#!/bin/sh\ntest -n "$VMID"\n').toString('base64') }), { 'token.txt': TOKEN }), g2.target(new TestClock()), createLogger(undefined));
    expect(server.onegateRequests).toHaveLength(1);
    expect(await g2.record()).toMatchObject({ status: 'reported', gatePassed: true });

    const g3 = await guest();
    await module.apply(await contextOf(vars(url, { READY_SCRIPT_PATH: '/opt/app/ready.sh' }), { 'token.txt': TOKEN }), g3.target(new TestClock()), createLogger(undefined));
    expect(server.onegateRequests).toHaveLength(1);
    expect(await g3.record()).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('READY_SCRIPT_PATH /opt/app/ready.sh is not run: it does not exist') as unknown } });
  });

  it('a READY_SCRIPT that fails once (the service not up yet) is run again and the report follows', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const clock = new TestClock();
    const flag = join(await tempDir(), 'up');
    await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url, { READY_SCRIPT: `test -e ${flag} || { touch ${flag}; exit 1; }` }), { 'token.txt': TOKEN }), g.target(clock), createLogger(undefined));
    expect(clock.sleeps).toEqual([100]);
    expect(server.onegateRequests).toHaveLength(1);
    expect(await g.record()).toMatchObject({ status: 'reported', attempts: 2, gatePassed: true });
  });

  it('READY_SCRIPT runs within the boot\'s window (real time): a script longer than the window is cut there and the daemon takes it on', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const t0 = performance.now();
    // the system clock: a real 1 s window, a script that would sleep 20 s, the script deadline 10 s (before: 10 s)
    const target = { ...g.target(new TestClock()), clock: systemClock };
    await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url, { READY_SCRIPT: 'sleep 20' }), { 'token.txt': TOKEN }), target, createLogger(undefined));
    const ms = performance.now() - t0;
    // generous (two busy cores): the window is 1 s, the script deadline 10 s
    expect(ms).toBeLessThan(6000);
    expect(await g.record()).toMatchObject({ status: 'pending', error: { code: 'ERR_ONEGATE_READY_SCRIPT', message: expect.stringMatching(/^READY_SCRIPT did not finish within \d+ ms \(the rest of the window\)/u) as unknown } });
    expect(server.onegateRequests).toEqual([]);
  });

  it('READY_SCRIPT_PATH runs only under the hooks\' rule (a regular root file writable only by root, its directories too), its contents as read', async () => {
    const { server, url } = await oneGate();
    const ran = join(await tempDir(), 'ran');
    const cases: Array<{ setup: (root: string) => Promise<void>; why: RegExp | undefined }> = [
      { setup: async (root) => { await writeFile(join(root, 'opt/app/real.sh'), `#!/bin/sh\nid -u > ${ran}\n`, { mode: 0o755 }); await symlink('/opt/app/real.sh', join(root, 'opt/app/ready.sh')); }, why: /is not run: \/opt\/app\/ready\.sh is a symlink/u },
      { setup: async (root) => { await writeFile(join(root, 'opt/app/ready.sh'), `#!/bin/sh\nid -u > ${ran}\n`); await chmod(join(root, 'opt/app/ready.sh'), 0o777); }, why: /is not run: owned by uid 0 with mode 777; it must be root's and writable only by root/u },
      { setup: async (root) => { await writeFile(join(root, 'opt/app/ready.sh'), `#!/bin/sh\nid -u > ${ran}\n`, { mode: 0o755 }); await chown(join(root, 'opt/app/ready.sh'), 65534, 65534); }, why: /is not run: owned by uid 65534/u },
      { setup: async (root) => { await writeFile(join(root, 'opt/app/ready.sh'), `#!/bin/sh\nid -u > ${ran}\n`, { mode: 0o755 }); await chmod(join(root, 'opt/app'), 0o777); }, why: /is not run: \/opt\/app is owned by uid 0 with mode 777/u },
      { setup: async (root) => { await writeFile(join(root, 'opt/app/ready.sh'), `#!/bin/sh\nid -u > ${ran}\n`, { mode: 0o644 }); }, why: undefined },
    ];
    for (const c of cases) {
      const g = await guest();
      await mkdir(join(g.root, 'opt/app'), { recursive: true, mode: 0o755 });
      await c.setup(g.root);
      await rm(ran, { force: true });
      await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url, { READY_SCRIPT_PATH: '/opt/app/ready.sh' }), { 'token.txt': TOKEN }), g.target(new TestClock()), createLogger(undefined));
      const record = await g.record();
      if (c.why === undefined) {
        expect(record).toMatchObject({ status: 'reported', gatePassed: true });
        expect((await readFile(ran, 'utf8')).trim()).toBe(String(process.getuid?.()));
      } else {
        expect(record).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'ERR_ONEGATE_READY_SCRIPT', message: expect.stringMatching(c.why) as unknown } });
        await expect(readFile(ran, 'utf8')).rejects.toThrow();
      }
    }
    expect(server.onegateRequests).toHaveLength(1);
  });

  it('READY_SCRIPT is decoded from base64 only when it is base64 of text: short commands stay commands', () => {
    for (const plain of ['true', 'pidof dockerd', 'echo', 'curl localhost', 'pgrep nginx x', 'abcd efgh']) expect(decodeReadyScript(plain)).toBeUndefined();
    const body = '#!/bin/sh\ncurl -fs http://127.0.0.1/health\n';
    const b64 = Buffer.from(body).toString('base64');
    expect(decodeReadyScript(b64)?.toString('utf8')).toBe(body);
    expect(decodeReadyScript(`${b64.slice(0, 8)}\n${b64.slice(8)}`)?.toString('utf8')).toBe(body);
    expect(decodeReadyScript(Buffer.from([0x65, 0x01, 0x0a]).toString('base64'))).toBeUndefined();
  });

  it('a token fixed in the same boot reports again (its digest is among the inputs, never the token)', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const clock = new TestClock();
    const module = makeReportReadyModule({ timings: FAST });
    const bad = await contextOf(vars(url, { ONEGATE_TOKEN: 'wrong-token' }));
    await module.apply(bad, g.target(clock), createLogger(undefined));
    expect(await g.record()).toMatchObject({ status: 'failed', error: { code: 'ERR_ONEGATE_REFUSED' } });
    expect(await module.liveInputs?.(bad, g.target(clock))).toMatchObject({ phase: 'failed' });
    const good = await contextOf(vars(url, { ONEGATE_TOKEN: TOKEN }));
    const live = await module.liveInputs?.(good, g.target(clock));
    expect(live).toMatchObject({ phase: 'new' });
    expect(JSON.stringify(live)).not.toContain(TOKEN);
    await module.apply(good, g.target(clock), createLogger(undefined));
    expect(server.onegateRequests.map((r) => `${r.token}->${r.status}`)).toEqual(['wrong->401', 'ok->200']);
    const record = JSON.stringify(await g.record());
    expect(record).toContain('"status":"reported"');
    expect(record).not.toContain(TOKEN);
    expect(record).not.toContain(createHash('sha256').update(TOKEN).digest('hex'));
  });

  it('VMCTX_READY_PORT holds the report until the port answers (a bounded connect loop)', async () => {
    const { server, url } = await oneGate();
    const g = await guest();
    const port = await closedPort();
    const clock = new TestClock();
    let app: Server | undefined;
    // the application comes up after the second wait
    clock.onSleep = async (elapsed) => {
      if (elapsed >= 300 && app === undefined) {
        app = createServer((s) => s.end());
        await new Promise<void>((r) => app?.listen(port, '127.0.0.1', r));
        closers.push(() => new Promise((r) => app?.close(() => { r(); })));
      }
    };
    await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url, { VMCTX_READY_PORT: `127.0.0.1:${port}` }), { 'token.txt': TOKEN }), g.target(clock), createLogger(undefined));
    expect(clock.sleeps).toEqual([100, 200]);
    expect(server.onegateRequests).toHaveLength(1);
    expect(await g.record()).toMatchObject({ status: 'reported', attempts: 3 });

    // never answering: pending, naming the port
    const g2 = await guest();
    const other = await closedPort();
    await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url, { VMCTX_READY_PORT: String(other) }), { 'token.txt': TOKEN }), g2.target(new TestClock()), createLogger(undefined));
    expect(server.onegateRequests).toHaveLength(1);
    expect(await g2.record()).toMatchObject({ status: 'pending', error: { code: 'ERR_ONEGATE_PORT', message: expect.stringContaining(`127.0.0.1:${other} does not answer (ECONNREFUSED)`) as unknown } });
  });

  it('missing pieces are named, nothing is sent: no token, no VMID, an endpoint that is not http(s), a bad port', async () => {
    const { server } = await oneGate();
    const g = await guest();
    const ctx = await contextOf({ REPORT_READY: 'YES', ONEGATE_ENDPOINT: 'ftp://10.0.0.1/', VMCTX_READY_PORT: 'x:99999' });
    const out = await makeReportReadyModule({ timings: FAST }).apply(ctx, g.target(new TestClock()), createLogger(undefined));
    const message = (await g.record())?.error?.message ?? '';
    expect(message).toContain('ONEGATE_ENDPOINT must be http:// or https://, not ftp:');
    expect(message).toContain('VMID is not set');
    expect(message).toContain('no OneGate token: neither ONEGATE_TOKEN nor token.txt');
    expect(message).toContain('VMCTX_READY_PORT is not [HOST:]PORT');
    expect(out.warnings.join()).toContain('ERR_ONEGATE_MISSING');
    const g2 = await guest();
    await makeReportReadyModule({ timings: FAST }).apply(await contextOf({ REPORT_READY: 'YES', VMID }, { 'token.txt': TOKEN }), g2.target(new TestClock()), createLogger(undefined));
    expect((await g2.record())?.error?.message).toBe('REPORT_READY=YES but ONEGATE_ENDPOINT is not set');
    expect(server.onegateRequests).toEqual([]);
    expect(server.requests).toEqual([]);
  });

  it('an answer that echoes the token (a proxy\'s error page) is stored and logged with the token redacted', async () => {
    const { createServer: httpServer } = await import('node:http');
    const echo = httpServer((req, res) => { res.statusCode = 400; res.end(`bad request: token ${String(req.headers['x-onegate-token'])} refused\n`); });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => echo.close(() => { r(); })));
    const url = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
    const g = await guest();
    const out = await makeReportReadyModule({ timings: FAST }).apply(await contextOf(vars(url, { ONEGATE_TOKEN: TOKEN })), g.target(new TestClock()), createLogger(undefined));
    const record = await g.record();
    expect(record?.error?.message).toContain('OneGate answered HTTP 400: bad request: token <redacted> refused');
    expect(JSON.stringify(record)).not.toContain(TOKEN);
    expect(JSON.stringify(out)).not.toContain(TOKEN);
  });

  it('TLS: a certificate not valid yet (the guest clock not synced) is retried; one that cannot be verified is not', () => {
    expect(retryableError('CERT_NOT_YET_VALID')).toBe(true);
    for (const code of ['CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID']) expect(retryableError(code)).toBe(false);
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', undefined]) expect(retryableError(code)).toBe(true);
  });

  it('the daemon stopping in the middle of its retries ends them at once (its signal): pending, not waiting out the backoff or a hung PUT', async () => {
    for (const fault of ['status:500,path=/vm', 'hang,path=/vm']) {
      const { server, url } = await oneGate([parseFault(fault)]);
      const g = await guest();
      // a clock whose waits last as long as the test wants: one that never ends by itself
      const sleeps: number[] = [];
      const clock = { now: () => Date.parse('2026-01-01T00:00:00Z'), sleep: (ms: number): Promise<void> => { sleeps.push(ms); return new Promise<void>(() => undefined); } };
      const stopping = new AbortController();
      const target: Target = { ...g.target(new TestClock(), true), clock, signal: stopping.signal };
      const timings = { ...FAST, requestMs: 60_000, budgetMs: 120_000 };
      const applied = makeReportReadyModule({ timings }).apply(await contextOf(vars(url), { 'token.txt': TOKEN }), target, createLogger(undefined));
      // the first PUT was sent (answered 500, or hanging): then the daemon stops
      for (let i = 0; i < 200 && server.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.requests).toEqual(['PUT /vm']);
      const t0 = performance.now();
      stopping.abort();
      await applied;
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(await g.record()).toMatchObject({ status: 'pending', attempts: 1 });
      expect(sleeps.length).toBeLessThanOrEqual(1);
    }
  });

  it('a name server that never answers: the PUT and the port wait end at their timeouts and leave no lookup running (c-ares, cancelled; never getaddrinfo)', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => sink.close(() => { r(); })));
    const servers = [`127.0.0.1:${sink.address().port}`];
    const t0 = performance.now();
    const put = await putReady({ endpoint: new URL('http://onegate.example:5030'), vmid: '1', token: new Secret('t'), connectMs: 300, requestMs: 500, body: 'READY=YES', dnsServers: servers });
    const port = await tcpAnswers('app.example', 80, 300, servers);
    const ms = performance.now() - t0;
    expect(put).toMatchObject({ ok: false, retry: true });
    expect(port).toMatchObject({ ok: false });
    expect(ms).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 50));
    const active = process.getActiveResourcesInfo();
    expect(active).not.toContain('GetAddrInfoReqWrap');
    expect(active).not.toContain('QueryReqWrap');
    // names in /etc/hosts still resolve (c-ares' queries do not read it): localhost
    const listening = createServer((c) => c.end());
    await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => listening.close(() => { r(); })));
    expect(await tcpAnswers('localhost', (listening.address() as { port: number }).port, 1000, servers)).toEqual({ ok: true });
  });

  it('READY_SCRIPT is a secret name (as START_SCRIPT), READY_SCRIPT_PATH is not', () => {
    expect(isSecretName('READY_SCRIPT')).toBe(true);
    expect(isSecretName('READY_SCRIPT_BASE64')).toBe(true);
    expect(isSecretName('READY_SCRIPT_PATH')).toBe(false);
  });

  it('the ready variables without REPORT_READY=YES are named as not used; READY_SCRIPT beside READY_SCRIPT_PATH is named as not used', () => {
    const off = checkVariables({ READY_SCRIPT: 'true', READY_SCRIPT_PATH: '/opt/r.sh', VMCTX_READY_PORT: '80', ONEGATE_TOKEN: TOKEN, ONEGATE_ENDPOINT: 'http://10.0.0.1:5030' }, (name) => ({ file: 'context.sh', line: name.length }));
    expect(off.warnings.map((w) => w.variable)).toEqual(['READY_SCRIPT', 'READY_SCRIPT_PATH', 'VMCTX_READY_PORT', 'ONEGATE_TOKEN']);
    expect(off.warnings[0]).toMatchObject({ file: 'context.sh', line: 12, message: expect.stringContaining('REPORT_READY is not YES; not used by vmctx') as unknown });
    expect(JSON.stringify(off)).not.toContain(TOKEN);
    const both = checkVariables({ REPORT_READY: 'YES', READY_SCRIPT: 'true', READY_SCRIPT_PATH: '/opt/r.sh' });
    expect(both.warnings).toEqual([{ variable: 'READY_SCRIPT', message: 'READY_SCRIPT_PATH is set too and is the one run; READY_SCRIPT is not used' }]);
    expect(checkVariables({ REPORT_READY: 'yes', READY_SCRIPT: 'true', ONEGATE_TOKEN: TOKEN }).warnings).toEqual([]);
  });

  it('the variables are applied now, not "not supported"', () => {
    for (const name of ['REPORT_READY', 'READY_SCRIPT', 'READY_SCRIPT_PATH', 'ONEGATE_ENDPOINT', 'ONEGATE_TOKEN', 'VMCTX_READY_PORT']) expect(classifyVariable(name)).toEqual({ kind: 'applied' });
  });
});

describe('report-ready in a run', () => {
  it('is the last module of the final stage, runs in the daemon only while pending, and the token reaches no file, log or console line', async () => {
    const { server, url } = await oneGate();
    const root = await debianRoot();
    await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
    await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${randomUUID()}\n`);
    const medium = await tempDir();
    // the token both in context.sh (ONEGATE_TOKEN, which wins) and token.txt; READY_SCRIPT prints its whole environment
    await writeFile(join(medium, 'context.sh'), renderContextSh({ ...vars(url), ONEGATE_TOKEN: TOKEN, SET_HOSTNAME: 'ready-host', START_SCRIPT: 'echo started', READY_SCRIPT: 'env; echo ready-env-dumped' }));
    await writeFile(join(medium, 'token.txt'), `${TOKEN}\n`);
    const logDir = await tempDir();
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(join(logDir, 'vmctx.log'), 'w');
    const consoleText: string[] = [];
    const scriptWork = await tempDir();
    const run = (stage: 'final' | 'all', modules = MODULES, afterBoot = false): ReturnType<typeof runAgent> => runAgent({
      root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: medium, stage, dryRun: false,
      exec: new HostExec(), logger: createLogger(fd), console: new ConsoleLines(true, (l) => consoleText.push(l)), version: 'test',
      scripts: new HostScriptRunner(scriptWork), scriptTimeoutMs: 20_000, modules, ...(afterBoot ? { nicsSettled: true } : {}),
    });
    const report = await run('final');
    const ids = report.modules.map((m) => m.id);
    expect(ids.at(-1)).toBe('report-ready');
    expect(report.modules.find((m) => m.id === 'scripts')?.status).toBe('applied');
    expect(report.modules.at(-1)).toMatchObject({ status: 'applied', actions: ['ran ready-script', `reported READY=YES to ${url}/vm for VM ${VMID}`] });
    expect(server.onegateRequests).toHaveLength(1);
    // the daemon after the boot: nothing to report again
    expect(DAEMON_MODULES.map((m) => m.id)).toContain('report-ready');
    const daemonRun = await run('all', DAEMON_MODULES, true);
    expect(daemonRun.modules.find((m) => m.id === 'report-ready')?.status).toMatch(/skipped|unchanged/u);
    expect(server.onegateRequests).toHaveLength(1);
    closeSync(fd);
    // READY_SCRIPT ran and its log (the environment) holds neither the token nor READY_SCRIPT itself (a secret name)
    const envLog = await readFile(join(root, 'var/log/vmctx/scripts/ready-script.log'), 'utf8');
    expect(envLog).toContain('ready-env-dumped');
    expect(envLog).toContain('VMID=42');
    expect(envLog).not.toMatch(/ONEGATE_TOKEN=|READY_SCRIPT=/u);
    // no file of the root (report, state, record, logs), no log line, no console line holds the token
    const leaks: string[] = [];
    const walk = async (dir: string, rel = ''): Promise<void> => {
      for (const name of await readdir(join(dir, rel))) {
        const p = join(rel, name);
        const st = await lstat(join(dir, p));
        if (st.isDirectory()) await walk(dir, p);
        else if (st.isFile() && (await readFile(join(dir, p), 'latin1')).includes(TOKEN)) leaks.push(p);
      }
    };
    await walk(root);
    if ((await readFile(join(logDir, 'vmctx.log'), 'latin1')).includes(TOKEN)) leaks.push('log');
    if (consoleText.join('').includes(TOKEN)) leaks.push('console');
    if (JSON.stringify(report).includes(TOKEN)) leaks.push('report');
    expect(leaks).toEqual([]);
    expect(consoleText.join('\n')).toMatch(/report-ready: applied \(changed \/var\/log\/vmctx\/scripts\/ready-script\.log/u);
  });
});
