// One GET of a URL the user data names (#include): http and https only, no redirects followed,
// the body read up to a byte cap, bounded by a connect timeout, a request timeout and a deadline
// shared with the other fetches of the run. Never throws: the answer says what went wrong, naming
// the URL without its query (where tokens live).
import { loadGot } from './metadatahttp.js';
import { systemClock, type Clock } from './clock.js';
import { errnoCode } from '../shared/errors.js';

export interface UrlFetchOptions {
  /** Epoch ms (by `clock`) after which no request starts and a running one is cut. */
  readonly deadline: number;
  readonly clock?: Clock | undefined;
  readonly connectMs: number;
  readonly requestMs: number;
  readonly maxBytes: number;
}

/**
 * `gone`: the server answered that the document does not exist (HTTP 404 or 410), a definitive
 * answer; every other failure (no answer, 5xx, a timeout, the budget, a redirect, a cap) says
 * nothing of the document.
 */
export type UrlFetchResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly reason: string; readonly gone?: boolean };

export async function fetchUrl(url: string, options: UrlFetchOptions): Promise<UrlFetchResult> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { ok: false, reason: `${parsed.protocol} URLs are not fetched (only http and https)` };
  const clock = options.clock ?? systemClock;
  const remaining = options.deadline - clock.now();
  if (remaining <= 0) return { ok: false, reason: 'the time budget for fetching ran out before it was asked for' };
  const requestMs = Math.max(1, Math.min(options.requestMs, remaining));
  const got = await loadGot();
  const stream = got.stream(parsed.toString(), {
    headers: { 'user-agent': 'vmctx' },
    timeout: { connect: Math.min(options.connectMs, requestMs), request: requestMs },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
  });
  return new Promise<UrlFetchResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (result: UrlFetchResult): void => {
      if (settled) return;
      settled = true;
      stream.destroy();
      resolve(result);
    };
    stream.on('response', (res: { statusCode: number; headers: Record<string, string | string[] | undefined> }) => {
      if (res.statusCode >= 300 && res.statusCode < 400) done({ ok: false, reason: `redirect (HTTP ${res.statusCode}); redirects are not followed` });
      else if (res.statusCode === 404 || res.statusCode === 410) done({ ok: false, reason: `HTTP ${res.statusCode}`, gone: true });
      else if (res.statusCode !== 200) done({ ok: false, reason: `HTTP ${res.statusCode}` });
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) done({ ok: false, reason: `the body is ${declared} bytes, over the ${options.maxBytes}-byte limit` });
    });
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBytes) done({ ok: false, reason: `the body is over the ${options.maxBytes}-byte limit` });
      else chunks.push(chunk);
    });
    stream.on('error', (error: Error) => {
      const code = errnoCode(error);
      done({ ok: false, reason: code === 'ETIMEDOUT' ? `no answer within ${requestMs} ms` : `${code ?? 'error'}: ${error.message.split('\n')[0]?.replace(/https?:\/\/\S+/gu, '(the URL)').slice(0, 120) ?? ''}` });
    });
    stream.on('end', () => { done({ ok: true, body: Buffer.concat(chunks) }); });
  });
}
