// OpenNebula's report-ready: with REPORT_READY=YES, tell OneGate the VM is ready once the final
// stage's other modules are done — `PUT $ONEGATE_ENDPOINT/vm` with READY=YES, X-ONEGATE-TOKEN (the
// context's ONEGATE_TOKEN, else the CD's token.txt, as one-apps) and X-ONEGATE-VMID (VMID).
//
// When given, READY_SCRIPT (base64 or plain, as one-apps decodes it) or READY_SCRIPT_PATH runs
// first through the script runner (deadline, output to a 0600 log, no secrets in its environment),
// and only its success reports. VMCTX_READY_PORT=[HOST:]PORT (vmctx's own; one-apps has no such
// variable) holds the report until that TCP port accepts a connection (HOST defaults to 127.0.0.1).
//
// Bounded, never holding the boot: each PUT and each connect has its own timeouts; failures that
// may pass (no answer, 5xx, 429, the port not open yet) are retried with a capped backoff within
// the budget (REPORT_READY_BUDGET_MS in /etc/vmctx/config, default 60 s, counted from the first
// attempt). The boot's final stage spends at most BOOT_WINDOW_MS of it; what is left over is the
// daemon's (vmctx-daemon starts after the final stage and runs this module again while the record
// says "pending": the module is on-change, and the record's phase is one of its inputs). A final
// answer (401 wrong token, 404 no such VM, a redirect, a failing READY_SCRIPT) is not retried.
//
// How often: as one-apps, on every boot (its runtime directory is a tmpfs, so its net-99 script runs
// again at each boot) and again when the context's ready inputs change (one-apps reconfigures);
// never twice in one boot for the same inputs. The record (no token in it) is what `vmctx status`
// shows: reported at, or pending with the last error, or the failure.
import { createHash } from 'node:crypto';
import { decodeStrictBase64 } from '../../formats/base64.js';
import { systemClock, type Clock } from '../../host/clock.js';
import { putReady, tcpAnswers, vmUrl, type PutOutcome } from '../../host/onegate.js';
import type { Root } from '../../host/root.js';
import { ensureOwnDir } from '../../host/owndir.js';
import { Secret } from '../../shared/secret.js';
import { loadConfig } from '../config.js';
import type { Context } from '../context/context.js';
import { bootIdentity } from '../identity.js';
import { hashInputs } from '../state.js';
import { pathProblem, rootOnlyProblem } from './live.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { DEFAULT_SCRIPT_TIMEOUT_MS, executeScript } from './scripts.js';

export const READY_RECORD = 'report-ready.json';
/** vmctx's own variable: report only once this TCP port answers ([HOST:]PORT, HOST 127.0.0.1 by default). */
export const READY_PORT_VARIABLE = 'VMCTX_READY_PORT';
export const DEFAULT_READY_BUDGET_MS = 60_000;
const MAX_TOKEN = 4096;

export interface ReadyTimings {
  /** The most of the budget the boot's final stage spends; the daemon has the rest. */
  readonly bootWindowMs: number;
  readonly connectMs: number;
  readonly requestMs: number;
  /** First wait between attempts; doubled each time up to maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** Overrides REPORT_READY_BUDGET_MS (tests). */
  readonly budgetMs?: number;
}

export const DEFAULT_READY_TIMINGS: ReadyTimings = { bootWindowMs: 10_000, connectMs: 3000, requestMs: 10_000, backoffMs: 1000, maxBackoffMs: 8000 };

export type ReadyStatus = 'reported' | 'pending' | 'failed';

/** What the module keeps beside the module records (no token: it is read from the context each time). */
export interface ReadyRecord {
  readonly instanceId: string;
  readonly bootId: string;
  /** The ready inputs' hash (endpoint, VMID, script, port): other inputs report again. */
  readonly key: string;
  readonly status: ReadyStatus;
  /** ONEGATE_ENDPOINT's /vm URL, without credentials or query. */
  readonly url?: string;
  readonly vmid?: string;
  readonly firstAttemptAt: string;
  /** The budget's end: the daemon retries until then. */
  readonly deadline: string;
  readonly attempts: number;
  readonly reportedAt?: string;
  /** Why it is not reported (yet), with a code: ERR_ONEGATE_MISSING, _REFUSED, _UNREACHABLE, _READY_SCRIPT, _PORT. */
  readonly error?: { readonly code: string; readonly message: string };
  /** When the record was written (the last attempt's end). */
  readonly updatedAt?: string;
  /** READY_SCRIPT / READY_SCRIPT_PATH succeeded for this boot (the daemon does not run it again). */
  readonly gatePassed?: boolean;
}

const yes = (v: string | undefined): boolean => (v ?? '').trim().toUpperCase() === 'YES';

interface ReadyInputs {
  readonly endpoint: string;
  readonly vmid: string;
  readonly script: string;
  readonly port: string;
}

function readyInputs(ctx: Context): ReadyInputs {
  const v = ctx.variables;
  const script = v['READY_SCRIPT_PATH'] ?? v['READY_SCRIPT'];
  return { endpoint: v['ONEGATE_ENDPOINT'] ?? '', vmid: v['VMID'] ?? '', script: script === undefined ? '' : hashInputs(script), port: v[READY_PORT_VARIABLE] ?? '' };
}

/**
 * The ready inputs' key, the token among them (a token fixed in the same boot reports again) as a
 * SHA-256 digest only, never the token: a OneGate token is long and random (OpenNebula makes it
 * from a key and the VM), so its digest cannot be turned back by trying tokens; and the digest is
 * itself only hashed into the key, never stored or logged on its own.
 */
async function readyKey(ctx: Context): Promise<string> {
  const token = await readToken(ctx);
  const digest = token.ok ? createHash('sha256').update('vmctx onegate token\0').update(token.token.reveal()).digest('hex') : '';
  return hashInputs({ ...readyInputs(ctx), token: digest });
}

const recordPath = (dir: string): string => `${dir}/${READY_RECORD}`;

function stateOf(target: Target): { root: Root; dir: string } {
  return target.state ?? { root: target.root, dir: '/var/lib/vmctx' };
}

/** The ready record, or undefined when there is none (or it is unreadable). */
export async function readReadyRecord(root: Root, dir: string): Promise<ReadyRecord | undefined> {
  const text = await root.readText(recordPath(dir), { maxBytes: 64 * 1024 }).catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as ReadyRecord;
    return typeof parsed.status === 'string' && typeof parsed.bootId === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(target: Target, record: ReadyRecord): Promise<void> {
  const { root, dir } = stateOf(target);
  if (dir !== '') await ensureOwnDir(root, dir, 0o700);
  await root.writeFile(recordPath(dir), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, noFollow: true });
}

/**
 * One line for `vmctx status`. With `now` (the current boot's id and the time), a record of another
 * boot is labelled so, and a "pending" whose deadline has passed is not said to be retried.
 */
export function describeReady(record: ReadyRecord, now?: { readonly bootId?: string | undefined; readonly at: number }): string {
  const to = `OneGate ${record.url ?? '?'} (VM ${record.vmid ?? '?'})`;
  const previous = now?.bootId !== undefined && now.bootId !== record.bootId ? ' (a previous boot)' : '';
  if (record.status === 'reported') return `READY=YES reported to ${to} at ${record.reportedAt ?? '?'} (attempt ${record.attempts})${previous}`;
  const why = record.error === undefined ? '' : `${record.error.code}: ${record.error.message}`;
  if (record.status === 'pending') {
    const over = previous !== '' || (now !== undefined && Date.parse(record.deadline) <= now.at);
    if (over) return `READY not reported to ${to}: ${why}; deadline passed (${record.deadline}), no retry${previous}`;
    return `READY not reported yet to ${to}: ${why}; the daemon retries until ${record.deadline}`;
  }
  return `READY NOT reported to ${to}: ${why}${previous}`;
}

type Endpoint = { ok: true; url: URL } | { ok: false; reason: string };

function checkEndpoint(value: string | undefined): Endpoint {
  if (value === undefined || value.trim() === '') return { ok: false, reason: 'ONEGATE_ENDPOINT is not set' };
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { ok: false, reason: 'ONEGATE_ENDPOINT is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `ONEGATE_ENDPOINT must be http:// or https://, not ${url.protocol}` };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'ONEGATE_ENDPOINT must not carry credentials' };
  return { ok: true, url };
}

/** The token: ONEGATE_TOKEN, else the medium's token.txt (one-apps' order), trimmed; never in a message. */
async function readToken(ctx: Context): Promise<{ ok: true; token: Secret } | { ok: false; reason: string }> {
  let text = ctx.variables['ONEGATE_TOKEN'];
  let from = 'ONEGATE_TOKEN';
  if (text === undefined || text.trim() === '') {
    from = 'token.txt';
    const data = ctx.medium.names.includes('token.txt') ? await ctx.medium.read('token.txt', MAX_TOKEN).catch(() => undefined) : undefined;
    if (data === undefined) return { ok: false, reason: 'no OneGate token: neither ONEGATE_TOKEN nor token.txt on the context medium (the VM template needs TOKEN=YES)' };
    text = data.toString('utf8');
  }
  const token = text.trim();
  if (!/^[\x21-\x7e]{1,2048}$/u.test(token)) return { ok: false, reason: `the OneGate token in ${from} is empty or not a printable header value` };
  return { ok: true, token: new Secret(token) };
}

function parsePort(value: string): { host: string; port: number } | undefined {
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):)?(\d{1,5})$/u.exec(value.trim());
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** The READY_SCRIPT to run: a path (its contents read when it runs, after the hooks' checks) or a body (base64-decoded when it is base64, as one-apps). */
function readyScript(ctx: Context): { variable: string; body: Buffer; path?: string } | { problem: string } | undefined {
  const path = ctx.variables['READY_SCRIPT_PATH'];
  if (path !== undefined && path.trim() !== '') {
    if (!path.trim().startsWith('/')) return { problem: `READY_SCRIPT_PATH must be an absolute path, not ${JSON.stringify(path.slice(0, 80))}` };
    return { variable: 'READY_SCRIPT_PATH', body: Buffer.alloc(0), path: path.trim() };
  }
  const script = ctx.variables['READY_SCRIPT'];
  if (script === undefined || script.trim() === '') return undefined;
  // one-apps decodes a value that is base64; a short command can look like base64 too ("true",
  // "pidof dockerd" without its space), so it is decoded only when it has no whitespace but line
  // breaks and decodes to UTF-8 text without control characters other than tab and newline
  return { variable: 'READY_SCRIPT', body: decodeReadyScript(script) ?? Buffer.from(`${script}\n`, 'utf8') };
}

/** READY_SCRIPT's base64 form, or undefined when the value is to be taken as it is. */
export function decodeReadyScript(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/=\r\n]+$/u.test(value)) return undefined;
  const decoded = decodeStrictBase64(value);
  if (decoded === undefined) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(decoded);
  } catch {
    return undefined;
  }
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if ((c < 0x20 && ch !== '\t' && ch !== '\n') || c === 0x7f) return undefined;
  }
  return decoded;
}

/** READY_SCRIPT_PATH's contents, when the hooks' rule holds (a regular file, root's, writable only by root, its directories too). */
async function readScriptPath(root: Root, path: string): Promise<{ body: Buffer } | { problem: string }> {
  const why = (reason: string): { problem: string } => ({ problem: `READY_SCRIPT_PATH ${path} is not run: ${reason}` });
  const way = await pathProblem(root, path, { rootControlled: true, lastMustBeDirectory: false });
  if (way !== undefined) return why(way);
  const st = await root.lstat(path);
  if (st === undefined) return why('it does not exist');
  if (st.type !== 'file') return why(`not a regular file${st.type === 'symlink' ? `: a symlink to ${st.linkTarget ?? '?'}` : ''}`);
  const owner = rootOnlyProblem(st);
  if (owner !== undefined) return why(`${owner}; it must be root's and writable only by root`);
  // what runs is what was read here (its contents, as hooks run), not the path again
  const body = await root.readFile(path, { maxBytes: MAX_SCRIPT_FILE }).catch((error: unknown) => why(error instanceof Error ? error.message : String(error)));
  if (body === undefined) return why('it does not exist');
  return 'problem' in body ? body : { body };
}

const MAX_SCRIPT_FILE = 16 * 1024 * 1024;

export interface ReadyModuleOptions {
  readonly timings?: Partial<ReadyTimings>;
}

export function makeReportReadyModule(options: ReadyModuleOptions = {}): Module {
  const timings: ReadyTimings = { ...DEFAULT_READY_TIMINGS, ...options.timings };
  return {
    id: 'report-ready',
    stage: 'final',
    // per boot, and again when the ready inputs change: the phase of this boot's record is an input
    frequency: 'on-change',
    onInterrupted: 'rerun',
    liveOnly: true,
    description: 'REPORT_READY=YES: tell OneGate the VM is ready (PUT /vm READY=YES), after READY_SCRIPT and VMCTX_READY_PORT, on every boot; last in the final stage',
    isRelevant: (ctx) => yes(ctx.variables['REPORT_READY']),
    inputs: (ctx) => readyInputs(ctx),
    async liveInputs(ctx, target) {
      const bootId = await bootIdentity(target.root);
      const record = await readReadyRecord(stateOf(target).root, stateOf(target).dir);
      const key = await readyKey(ctx);
      const phase = record !== undefined && record.bootId === bootId && record.key === key && record.instanceId === ctx.instanceId ? record.status : 'new';
      return { bootId, phase, key };
    },
    async apply(ctx, target, log) {
      const out = new OutcomeBuilder();
      const clock: Clock = target.clock ?? systemClock;
      const bootId = await bootIdentity(target.root);
      const key = await readyKey(ctx);
      const { root, dir } = stateOf(target);
      const previous = await readReadyRecord(root, dir);
      const mine = previous !== undefined && previous.bootId === bootId && previous.key === key && previous.instanceId === ctx.instanceId ? previous : undefined;
      if (mine !== undefined && mine.status !== 'pending') {
        out.details = { ready: mine };
        return out.build();
      }
      const budgetMs = timings.budgetMs ?? (await loadConfig(target.root)).config.reportReadyBudgetMs;
      const now = clock.now();
      const firstAttemptAt = mine?.firstAttemptAt ?? new Date(now).toISOString();
      const deadline = mine === undefined ? now + budgetMs : Date.parse(mine.deadline);
      // the daemon (after the boot: its NIC list is settled) has the whole budget; the boot's final stage a window of it
      const afterBoot = target.nicsSettled === true;
      const windowEnd = afterBoot ? deadline : Math.min(deadline, now + timings.bootWindowMs);
      let attempts = mine?.attempts ?? 0;
      const endpoint = checkEndpoint(ctx.variables['ONEGATE_ENDPOINT']);
      const base = { instanceId: ctx.instanceId, bootId, key, firstAttemptAt, deadline: new Date(deadline).toISOString(), ...(endpoint.ok ? { url: vmUrl(endpoint.url) } : {}), ...(ctx.variables['VMID'] === undefined ? {} : { vmid: ctx.variables['VMID'].trim().slice(0, 64) }) };
      const settle = async (settled: ReadyRecord): Promise<ReturnType<OutcomeBuilder['build']>> => {
        const record: ReadyRecord = { ...settled, updatedAt: new Date(clock.now()).toISOString() };
        await writeRecord(target, record);
        if (record.status !== 'reported' && record.attempts > (mine?.attempts ?? 0)) out.actions.push(`${record.attempts - (mine?.attempts ?? 0)} attempt(s) to report READY`);
        if (record.status === 'reported') {
          out.actions.push(`reported READY=YES to ${record.url ?? 'OneGate'} for VM ${record.vmid ?? '?'}`);
          log.info({ url: record.url, vmid: record.vmid, attempts: record.attempts }, 'ready reported to OneGate');
        } else {
          out.warnings.push(describeReady(record));
          log.warn({ url: record.url, vmid: record.vmid, attempts: record.attempts, error: record.error, status: record.status }, 'ready not reported');
        }
        out.details = { ready: record };
        return out.build();
      };
      const fail = (code: string, message: string, gatePassed?: boolean): Promise<ReturnType<OutcomeBuilder['build']>> => settle({ ...base, status: 'failed', attempts, error: { code, message }, ...(gatePassed === true ? { gatePassed } : {}) });

      // the missing pieces, each named
      const missing: string[] = [];
      if (!endpoint.ok) missing.push(endpoint.reason);
      const vmid = (ctx.variables['VMID'] ?? '').trim();
      if (vmid === '') missing.push('VMID is not set');
      else if (!/^\d{1,10}$/u.test(vmid)) missing.push('VMID is not a VM number');
      const token = await readToken(ctx);
      if (!token.ok) missing.push(token.reason);
      const portSpec = ctx.variables[READY_PORT_VARIABLE];
      const port = portSpec === undefined || portSpec.trim() === '' ? undefined : parsePort(portSpec);
      if (portSpec !== undefined && portSpec.trim() !== '' && port === undefined) missing.push(`${READY_PORT_VARIABLE} is not [HOST:]PORT (1-65535)`);
      const script = readyScript(ctx);
      if (script !== undefined && 'problem' in script) missing.push(script.problem);
      if (missing.length > 0 || !endpoint.ok || !token.ok) return fail('ERR_ONEGATE_MISSING', `REPORT_READY=YES but ${missing.join('; ')}`);

      // READY_SCRIPT / READY_SCRIPT_PATH first, at each attempt until it succeeds (one-apps retries
      // script and report together); only its success reports. It runs within the window: what is
      // left of it (or the script deadline, when shorter) is its deadline, so the boot never waits longer
      let gatePassed = mine?.gatePassed === true;
      const scriptDeadline = target.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS;
      const runScript = async (remaining: number): Promise<{ code: string; message: string; final?: boolean } | undefined> => {
        if (script === undefined || 'problem' in script || gatePassed) return undefined;
        let body = script.body;
        if (script.path !== undefined) {
          const read = await readScriptPath(target.root, script.path);
          if ('problem' in read) return { code: 'ERR_ONEGATE_READY_SCRIPT', message: `${read.problem}; READY not reported`, final: true };
          body = read.body;
        }
        const timeoutMs = Math.max(1, Math.min(scriptDeadline, remaining));
        const ran = await executeScript(ctx, { ...target, scriptTimeoutMs: timeoutMs }, log, out, { name: 'ready-script', variable: script.variable, body, secrets: false, files: new Map() });
        if (!ran.timedOut && ran.exitCode === 0) {
          gatePassed = true;
          return undefined;
        }
        const why = ran.timedOut ? `did not finish within ${timeoutMs} ms${timeoutMs < scriptDeadline ? ' (the rest of the window)' : ''}` : `exited with ${ran.exitCode ?? `signal ${ran.signal ?? '?'}`}`;
        return { code: 'ERR_ONEGATE_READY_SCRIPT', message: `${script.variable} ${why} (see ${ran.log}); READY not reported` };
      };

      // the script, the port (when asked for), then the PUT; retried while the answer may change, within the window
      let last: { code: string; message: string } = mine?.error ?? { code: 'ERR_ONEGATE_UNREACHABLE', message: 'not tried before the budget ran out' };
      for (let n = 0; ; n++) {
        const remaining = windowEnd - clock.now();
        if (remaining <= 0 || target.signal?.aborted === true) break;
        attempts += 1;
        let outcome: PutOutcome | undefined;
        const refused = await runScript(remaining);
        // READY_SCRIPT_PATH refused by its checks: that does not change by asking again
        if (refused?.final === true) return fail(refused.code, refused.message);
        if (refused !== undefined) last = { code: refused.code, message: refused.message };
        else if (port !== undefined) {
          const answer = await tcpAnswers(port.host, port.port, Math.min(timings.connectMs, Math.max(1, windowEnd - clock.now())));
          if (!answer.ok) last = { code: 'ERR_ONEGATE_PORT', message: `${port.host}:${port.port} does not answer (${answer.reason}), so READY is held back` };
          else outcome = await putReady({ endpoint: endpoint.url, vmid, token: token.token, connectMs: timings.connectMs, requestMs: Math.min(timings.requestMs, Math.max(1, windowEnd - clock.now())), body: 'READY=YES', signal: target.signal });
        } else {
          outcome = await putReady({ endpoint: endpoint.url, vmid, token: token.token, connectMs: timings.connectMs, requestMs: Math.min(timings.requestMs, Math.max(1, windowEnd - clock.now())), body: 'READY=YES', signal: target.signal });
        }
        if (outcome?.ok === true) return settle({ ...base, status: 'reported', attempts, reportedAt: new Date(clock.now()).toISOString(), ...(gatePassed ? { gatePassed } : {}) });
        if (outcome !== undefined) {
          last = { code: outcome.retry ? 'ERR_ONEGATE_UNREACHABLE' : 'ERR_ONEGATE_REFUSED', message: outcome.reason };
          if (!outcome.retry) return fail(last.code, `${last.message}; not retried`, gatePassed);
        }
        log.info({ attempt: attempts, error: last.message }, 'ready report: retrying');
        const wait = Math.min(timings.maxBackoffMs, timings.backoffMs * 2 ** n);
        if (clock.now() + wait >= windowEnd) break;
        if (await sleepUnlessAborted(clock, wait, target.signal)) break;
      }
      if (target.signal?.aborted === true) {
        // the daemon stops (shutdown): what is left is retried by the next daemon in this boot, or by the next boot
        log.info({ attempts }, 'ready report: stopped with the daemon');
        return settle({ ...base, status: 'pending', attempts, error: last, ...(gatePassed ? { gatePassed } : {}) });
      }
      if (windowEnd < deadline) {
        // the boot goes on; the daemon takes the rest of the budget — where one is enabled (sysvinit
        // images have none): else it ends here, said so, never "pending" with nobody to retry
        if (await daemonEnabled(target.root)) return settle({ ...base, status: 'pending', attempts, error: last, ...(gatePassed ? { gatePassed } : {}) });
        return fail(last.code, `${last.message}; gave up after ${attempts} attempt(s) in the boot's ${Math.round(timings.bootWindowMs / 1000)} s window: no vmctx daemon is enabled on this system (${DAEMON_WANTS}) to retry for the rest of the ${Math.round(budgetMs / 1000)} s budget`, gatePassed);
      }
      return fail(last.code, `${last.message}; gave up after ${attempts} attempt(s) in the ${Math.round(budgetMs / 1000)} s budget`, gatePassed);
    },
  };
}

/** Sleeps `ms` by the clock, or less when `signal` aborts first; true when it did. */
async function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal === undefined) {
    await clock.sleep(ms);
    return false;
  }
  if (signal.aborted) return true;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<true>((resolve) => {
    onAbort = () => { resolve(true); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([clock.sleep(ms).then(() => false), aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/** Where install enables the daemon (systemd); sysvinit images have no daemon. */
export const DAEMON_WANTS = '/etc/systemd/system/multi-user.target.wants/vmctx-daemon.service';

async function daemonEnabled(root: Target['root']): Promise<boolean> {
  return (await root.lstat(DAEMON_WANTS).catch(() => undefined)) !== undefined;
}

export const reportReadyModule = makeReportReadyModule();
