// An HTTP client for metadata services, on got: IMDSv2 token first (reused for the run, refreshed
// once on 401), IMDSv1 when the service has no token endpoint and policy allows, 403 on the token
// = metadata disabled. Every request is bounded three ways: connect timeout, per-request timeout,
// and the run's overall budget (a deadline shared by all requests). Bodies are read with a byte
// cap; redirects are never followed. Retries (connection errors, 429/5xx) back off with a cap and
// honour a capped Retry-After, always inside the budget.
import type { Agent } from 'node:http';
import { createRequire } from 'node:module';
import type { Got } from 'got';
import { systemClock, type Clock } from './clock.js';
import { VmctxError, errnoCode } from '../shared/errors.js';
import { Secret } from '../shared/secret.js';

export const TOKEN_TTL_SECONDS = 21600;
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 1000;
const MAX_RETRY_AFTER_MS = 2000;

export interface HttpBudget {
  /** Epoch ms (by `clock`) after which no request is started and running ones are aborted. */
  readonly deadline: number;
  /** Time for the deadline and the waits between retries (default: the system clock). */
  readonly clock?: Clock | undefined;
  readonly connectMs: number;
  readonly requestMs: number;
}

export interface HttpClientOptions extends HttpBudget {
  /** Where the service may be; tried in turn while none answers, then the one that did is kept. */
  readonly baseUrls: readonly string[];
  /** Use IMDSv1 (no token) when the token endpoint is absent. */
  readonly allowImdsv1: boolean;
  /** False: a plain web server (a NoCloud seed), asked without EC2's IMDSv2 token (default true). */
  readonly imdsTokens?: boolean;
  /** Record of what happened, for the report (no secrets). */
  readonly trace?: (line: string) => void;
}

export class BudgetExhausted extends VmctxError {
  constructor(what: string) {
    super('ERR_METADATA_TIMEOUT', `metadata: the time budget ran out (${what})`);
  }
}

let gotModule: Promise<Got> | undefined;
/** got, loaded on first use (the boot's local stage never needs it). */
export const loadGot = async (): Promise<Got> => {
  // (in the bundle got is a lazily evaluated CommonJS copy: its default export may come one level down)
  gotModule ??= import('got').then((m) => {
    const first = m.default as Got | { default: Got };
    return 'stream' in first ? first : first.default;
  });
  return gotModule;
};

interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** Seconds or an HTTP date → milliseconds, capped; undefined when absent or unusable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  let ms: number;
  if (/^\d+$/u.test(v.trim())) ms = Number(v.trim()) * 1000;
  else {
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    ms = t - now;
  }
  return Math.max(0, Math.min(ms, MAX_RETRY_AFTER_MS));
}

export class MetadataHttp {
  readonly #options: HttpClientOptions;
  readonly #clock: Clock;
  // One kept-alive connection, requests queued on it: metadata services throttle concurrent
  // clients (EC2's IMDS does), and a forwarded port (QEMU guestfwd) carries one stream only.
  // node:http loads with the first metadata client: a boot from a context medium never needs it.
  // (createRequire, not process.getBuiltinModule: an image's own Node may be 18; a built-in needs no base path)
  readonly #agent: Agent = new (createRequire('/')('node:http') as typeof import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
  #token: Secret | undefined;
  #mode: 'unknown' | 'v2' | 'v1' = 'unknown';
  #tokenPromise: Promise<void> | undefined;
  #refresh: Promise<void> | undefined;
  #base = 0;
  #pinned = false;

  constructor(options: HttpClientOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  get mode(): string {
    return this.#mode;
  }

  /** The address that answered (or the one being tried). */
  get baseUrl(): string {
    return this.#options.baseUrls[this.#base] ?? '';
  }

  close(): void {
    this.#agent.destroy();
  }

  #remaining(): number {
    return this.#options.deadline - this.#clock.now();
  }

  #trace(line: string): void {
    this.#options.trace?.(line);
  }

  /** One request, no retries: status, headers, body (at most maxBytes, else ERR_METADATA_TOO_LARGE). */
  async #once(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, maxBytes: number): Promise<RawResponse> {
    const remaining = this.#remaining();
    if (remaining <= 0) throw new BudgetExhausted(`${method} ${path} not started`);
    const got = await loadGot();
    const base = this.#options.baseUrls[this.#base] ?? '';
    const url = new URL(path.replace(/^\/+/u, ''), `${base.replace(/\/+$/u, '')}/`).toString();
    const requestMs = Math.max(1, Math.min(this.#options.requestMs, remaining));
    const stream = got.stream(url, {
      method,
      headers: { 'user-agent': 'vmctx', ...headers },
      agent: { http: this.#agent },
      timeout: { connect: Math.min(this.#options.connectMs, requestMs), request: requestMs },
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      decompress: false,
      ...(method === 'PUT' ? { body: '' } : {}),
    });
    return new Promise<RawResponse>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let status = 0;
      let responseHeaders: RawResponse['headers'] = {};
      const fail = (error: Error): void => {
        stream.destroy();
        reject(error);
      };
      stream.on('response', (res: { statusCode: number; headers: RawResponse['headers'] }) => {
        this.#pinned = true;
        status = res.statusCode;
        responseHeaders = res.headers;
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          fail(new VmctxError('ERR_METADATA_TOO_LARGE', `metadata ${path}: the body is ${declared} bytes, over the ${maxBytes}-byte limit`));
        }
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail(new VmctxError('ERR_METADATA_TOO_LARGE', `metadata ${path}: the body is over the ${maxBytes}-byte limit`));
        else chunks.push(chunk);
      });
      stream.on('error', (error: Error) => {
        const code = errnoCode(error);
        if (code === 'ETIMEDOUT') reject(new VmctxError('ERR_METADATA_UNREACHABLE', `metadata ${path}: no answer within ${requestMs} ms`, { details: { errno: code } }));
        else reject(new VmctxError('ERR_METADATA_UNREACHABLE', `metadata ${path}: ${error.message}`, { details: { errno: code } }));
      });
      stream.on('end', () => { resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) }); });
    });
  }

  /** A request with retries on connection errors and 429/5xx, inside the budget. */
  async #request(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, maxBytes: number): Promise<RawResponse> {
    let attempt = 0;
    let last = '';
    for (;;) {
      let wait: number;
      try {
        const res = await this.#once(method, path, headers, maxBytes);
        if (!RETRYABLE_STATUS.has(res.status)) return res;
        last = `HTTP ${res.status}`;
        wait = retryAfterMs(res.headers['retry-after'], this.#clock.now()) ?? Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
      } catch (error) {
        if (error instanceof BudgetExhausted) throw new BudgetExhausted(`${method} ${path}${last === '' ? '' : `, last: ${last}`}`);
        if (!(error instanceof VmctxError) || error.code !== 'ERR_METADATA_UNREACHABLE') throw error;
        last = error.message;
        // nothing answered yet: the next try goes to the next address (169.254.169.254, then [fd00:ec2::254])
        if (!this.#pinned && this.#options.baseUrls.length > 1) this.#base = (this.#base + 1) % this.#options.baseUrls.length;
        wait = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
      }
      attempt += 1;
      this.#trace(`${method} ${path}: ${last}; retry ${attempt} in ${wait} ms`);
      if (this.#remaining() <= wait) throw new BudgetExhausted(`${method} ${path}, last: ${last}`);
      await this.#clock.sleep(wait);
    }
  }

  async #ensureToken(force = false): Promise<void> {
    if (this.#options.imdsTokens === false) return;
    if (this.#mode === 'v1' || (this.#mode === 'v2' && !force)) return;
    if (this.#tokenPromise !== undefined && !force) return this.#tokenPromise;
    this.#tokenPromise = (async () => {
      const res = await this.#request('PUT', 'latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) }, 4096);
      if (res.status === 200) {
        const token = res.body.toString('latin1').trim();
        if (!/^[\x21-\x7e]{1,1024}$/u.test(token)) throw new VmctxError('ERR_METADATA_INVALID', 'metadata: the IMDSv2 token is not a printable header value');
        this.#token = new Secret(token);
        this.#mode = 'v2';
        this.#trace('IMDSv2 token obtained');
        return;
      }
      if (res.status === 403) throw new VmctxError('ERR_METADATA_DISABLED', 'metadata: the service refused a token (403): metadata access is disabled for this instance');
      if ((res.status === 404 || res.status === 405 || res.status === 400) && this.#options.allowImdsv1) {
        this.#mode = 'v1';
        this.#trace(`no IMDSv2 token endpoint (HTTP ${res.status}); using IMDSv1`);
        return;
      }
      if (res.status >= 300 && res.status < 400) throw new VmctxError('ERR_METADATA_REDIRECT', `metadata: the token endpoint redirects (HTTP ${res.status}); redirects are not followed`);
      throw new VmctxError('ERR_METADATA_HTTP', `metadata: the token endpoint answered HTTP ${res.status}${this.#options.allowImdsv1 ? '' : ' (IMDSv1 is not allowed by the configuration)'}`);
    })();
    try {
      await this.#tokenPromise;
    } catch (error) {
      this.#tokenPromise = undefined;
      throw error;
    }
  }

  /**
   * GET a path: the body, or undefined on 404. 401 refreshes the token once; other statuses,
   * redirects and over-long bodies are errors.
   */
  async get(path: string, maxBytes: number): Promise<Buffer | undefined> {
    await this.#ensureToken();
    for (let retried = false; ; retried = true) {
      const token = this.#token;
      const headers: Record<string, string> = token === undefined ? {} : { 'x-aws-ec2-metadata-token': token.reveal() };
      const res = await this.#request('GET', path, headers, maxBytes);
      if (res.status === 200) return res.body;
      if (res.status === 404) return undefined;
      if (res.status === 401 && !retried && this.#mode === 'v2') {
        // one refresh for the whole run: parallel requests that meet the same 401 share it
        if (this.#token === token) {
          this.#refresh ??= (async () => {
            this.#trace(`GET ${path}: 401; refreshing the token once`);
            await this.#ensureToken(true);
          })();
        }
        await this.#refresh;
        continue;
      }
      if (res.status >= 300 && res.status < 400) throw new VmctxError('ERR_METADATA_REDIRECT', `metadata ${path}: redirect (HTTP ${res.status}) not followed`);
      throw new VmctxError('ERR_METADATA_HTTP', `metadata ${path}: HTTP ${res.status}`);
    }
  }
}
