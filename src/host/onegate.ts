// The guest's side of OpenNebula's OneGate for the ready report: one `PUT <endpoint>/vm` with the
// body READY=YES and the X-ONEGATE-TOKEN / X-ONEGATE-VMID headers (as one-apps' onegate client
// sends it), bounded by a connect timeout and a request timeout, no redirects followed, the answer
// read up to a small cap; and one TCP connect to a port (the "report only once this port answers"
// wait). Neither throws: the answer says what happened, never with the token in it.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { loadGot } from './metadatahttp.js';
import { errnoCode } from '../shared/errors.js';
import { REDACTED, type Secret } from '../shared/secret.js';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void;
/** A `lookup` for node:net / node:http (and got's dnsLookup). */
export type BoundedLookup = (hostname: string, options: { family?: number | string; all?: boolean } | number, callback: LookupCallback) => void;

/** The names /etc/hosts gives (c-ares' queries do not read it; getaddrinfo did). */
function hostsFile(hostname: string): Array<{ address: string; family: number }> {
  const fs = createRequire('/')('node:fs') as typeof import('node:fs');
  let text = '';
  try {
    text = fs.readFileSync('/etc/hosts', 'utf8').slice(0, 1024 * 1024);
  } catch {
    return [];
  }
  const found: Array<{ address: string; family: number }> = [];
  const name = hostname.toLowerCase();
  for (const line of text.split('\n')) {
    const [address, ...names] = (line.split('#')[0] ?? '').trim().split(/\s+/u);
    if (address === undefined || !names.some((n) => n.toLowerCase() === name)) continue;
    const family = netModule().isIP(address);
    if (family !== 0) found.push({ address, family });
  }
  return found;
}

const netModule = (): typeof import('node:net') => createRequire('/')('node:net') as typeof import('node:net');

/**
 * A name lookup that ends within `timeoutMs`, leaving nothing behind: /etc/hosts first, then DNS
 * through c-ares (a Resolver, one try, cancelled at the deadline) — never getaddrinfo, whose
 * lookups run on libuv's 4 threads, cannot be cancelled and keep the process alive ~10 s each
 * when the name server does not answer. An IP address is not looked up. `servers`: tests.
 */
export function boundedLookup(timeoutMs: number, servers?: readonly string[]): BoundedLookup {
  return (hostname, options, callback) => {
    const opts = typeof options === 'number' ? { family: options } : options;
    const want = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
    const answer = (list: Array<{ address: string; family: number }>): void => {
      const fitting = list.filter((a) => want === 0 || a.family === want);
      if (fitting.length === 0) {
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }) as NodeJS.ErrnoException;
        callback(error, opts.all === true ? [] : '', 0);
      } else if (opts.all === true) callback(null, fitting);
      else callback(null, fitting[0]?.address ?? '', fitting[0]?.family ?? 4);
    };
    const family = netModule().isIP(hostname);
    if (family !== 0) {
      answer([{ address: hostname, family }]);
      return;
    }
    const local = hostsFile(hostname);
    if (local.length > 0) {
      answer(local);
      return;
    }
    const dns = createRequire('/')('node:dns') as typeof import('node:dns');
    const resolver = new dns.promises.Resolver({ timeout: Math.max(1, Math.round(timeoutMs)), tries: 1 });
    if (servers !== undefined) resolver.setServers([...servers]);
    const timer = setTimeout(() => { resolver.cancel(); }, Math.max(1, timeoutMs));
    const v4 = want === 6 ? Promise.resolve([]) : resolver.resolve4(hostname);
    const v6 = want === 4 ? Promise.resolve([]) : resolver.resolve6(hostname);
    void Promise.allSettled([v4, v6]).then(([a, b]) => {
      clearTimeout(timer);
      const list = [
        ...(a.status === 'fulfilled' ? a.value.map((address) => ({ address, family: 4 })) : []),
        ...(b.status === 'fulfilled' ? b.value.map((address) => ({ address, family: 6 })) : []),
      ];
      if (list.length > 0 || (a.status === 'fulfilled' && b.status === 'fulfilled')) {
        answer(list);
        return;
      }
      const failed = a.status === 'rejected' ? a.reason as NodeJS.ErrnoException : b.status === 'rejected' ? b.reason as NodeJS.ErrnoException : undefined;
      const code = failed?.code === 'ECANCELLED' || failed?.code === 'ETIMEOUT' ? 'EAI_AGAIN' : failed?.code ?? 'ENOTFOUND';
      const error = Object.assign(new Error(`DNS lookup of ${hostname}: ${code === 'EAI_AGAIN' ? `no answer within ${timeoutMs} ms` : code}`), { code, hostname }) as NodeJS.ErrnoException;
      callback(error, opts.all === true ? [] : '', 0);
    });
  };
}

/** Statuses worth asking again (OneGate or its proxy not ready yet); any other answer is final. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const MAX_ANSWER = 16 * 1024;

export interface ReadyPut {
  /** ONEGATE_ENDPOINT, checked by the caller (http or https, no credentials). */
  readonly endpoint: URL;
  readonly vmid: string;
  readonly token: Secret;
  readonly connectMs: number;
  readonly requestMs: number;
  /** The body (one-apps sends READY=YES). */
  readonly body: string;
  /** Ends the request early (the daemon stops). */
  readonly signal?: AbortSignal | undefined;
  /** Name servers (tests); the system's by default. */
  readonly dnsServers?: readonly string[] | undefined;
}

export type PutOutcome =
  | { readonly ok: true; readonly status: number }
  /** `retry`: no answer, or an answer that may change (5xx, 429); false: OneGate said no (401, 403, 404, 400…). */
  | { readonly ok: false; readonly retry: boolean; readonly reason: string; readonly status?: number };

/** The URL of `/vm` under the endpoint (its path kept: a proxy may serve OneGate under a prefix). */
export function vmUrl(endpoint: URL): string {
  const base = new URL(endpoint.toString());
  base.search = '';
  base.hash = '';
  base.pathname = `${base.pathname.replace(/\/+$/u, '')}/vm`;
  return base.toString();
}

/** One answer's first line, printable and short, for a message (OneGate says why in its body); the token, should a proxy echo it, redacted. */
export function excerpt(body: Buffer, token: Secret): string {
  const line = body.toString('utf8').split(/\r?\n/u).find((l) => l.trim() !== '') ?? '';
  const secret = token.reveal();
  const clean = (secret === '' ? line : line.split(secret).join(REDACTED)).replace(/[^\x20-\x7e]/gu, '?').trim().slice(0, 120);
  return clean === '' ? '' : `: ${clean}`;
}

/**
 * Whether a PUT that got no answer (this error code) is worth trying again: a TLS certificate the
 * guest cannot verify will not verify on the next try either — but for one "not yet valid": the
 * guest's clock may not be synced yet this early in the boot.
 */
export function retryableError(code: string | undefined): boolean {
  if (code === 'CERT_NOT_YET_VALID') return true;
  return code === undefined || !/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/u.test(code);
}

/** One PUT, no retries. */
export async function putReady(request: ReadyPut): Promise<PutOutcome> {
  const got = await loadGot();
  const requestMs = Math.max(1, request.requestMs);
  const stream = got.stream(vmUrl(request.endpoint), {
    method: 'PUT',
    body: request.body,
    headers: {
      'user-agent': 'vmctx',
      'content-type': 'application/x-www-form-urlencoded',
      'x-onegate-token': request.token.reveal(),
      'x-onegate-vmid': request.vmid,
    },
    timeout: { connect: Math.min(request.connectMs, requestMs), request: requestMs },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    // the name lookup ends with the request's time (never getaddrinfo's: see boundedLookup)
    dnsLookup: boundedLookup(Math.min(request.connectMs, requestMs), request.dnsServers) as never,
  });
  return new Promise<PutOutcome>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let status = 0;
    let settled = false;
    const done = (outcome: PutOutcome): void => {
      if (settled) return;
      settled = true;
      stream.destroy();
      resolve(outcome);
    };
    const answered = (): void => {
      const body = Buffer.concat(chunks);
      if (status >= 200 && status < 300) done({ ok: true, status });
      else if (status >= 300 && status < 400) done({ ok: false, retry: false, status, reason: `OneGate answered a redirect (HTTP ${status}); redirects are not followed` });
      else done({ ok: false, retry: RETRYABLE_STATUS.has(status), status, reason: `OneGate answered HTTP ${status}${excerpt(body, request.token)}` });
    };
    stream.on('response', (res: { statusCode: number }) => { status = res.statusCode; });
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_ANSWER) chunks.push(chunk);
      else answered();
    });
    stream.on('error', (error: Error) => {
      const code = errnoCode(error);
      const reason = code === 'ETIMEDOUT'
        ? `no answer within ${requestMs} ms`
        : `${code ?? 'error'}: ${(error.message.split('\n')[0] ?? '').replace(/https?:\/\/\S+/gu, '(the endpoint)').slice(0, 120)}`;
      done({ ok: false, retry: retryableError(code), reason });
    });
    stream.on('end', answered);
  });
}

export type PortOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** One TCP connect to host:port within `timeoutMs`: answers (accepted) or not, and why. */
export function tcpAnswers(host: string, port: number, timeoutMs: number, dnsServers?: readonly string[]): Promise<PortOutcome> {
  // node:net loads only when a port is waited for (createRequire: an image's Node may be 18)
  const net = netModule();
  return new Promise((resolve) => {
    let settled = false;
    const socket: Socket = net.connect({ host, port, lookup: boundedLookup(timeoutMs, dnsServers) as never });
    const done = (outcome: PortOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => { done({ ok: false, reason: `no answer within ${timeoutMs} ms` }); }, Math.max(1, timeoutMs));
    socket.once('connect', () => { done({ ok: true }); });
    socket.once('error', (error) => { done({ ok: false, reason: errnoCode(error) ?? error.message.slice(0, 80) }); });
  });
}
