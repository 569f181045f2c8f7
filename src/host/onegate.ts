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
export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<PortOutcome> {
  // node:net loads only when a port is waited for (createRequire: an image's Node may be 18)
  const net = createRequire('/')('node:net') as typeof import('node:net');
  return new Promise((resolve) => {
    let settled = false;
    const socket: Socket = net.connect({ host, port });
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
