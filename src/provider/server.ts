// `vmctx serve-metadata`: an EC2/OpenStack-compatible metadata service on node:http, with IMDSv2
// tokens and a fault mode for tests (delays, 503 with or without Retry-After, 401 after N
// requests, 403 on the token, dropped or hung connections, slow-drip, garbage and huge bodies,
// redirects). With `onegate`, it is also a OneGate for the ready report: `PUT /vm` (and `GET /vm`)
// checked against the VM's token and id as OneGate checks them (401 "Not authorized" otherwise),
// each request kept and shown (never the token).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { VmctxError } from '../shared/errors.js';
import { lookup, type MetadataTree } from './tree.js';

export const TOKEN_PATH = '/latest/api/token';
export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const MAX_TTL = 21600;

export type FaultKind = 'delay' | 'status' | 'drop' | 'hang' | 'drip' | 'garbage' | 'huge' | 'redirect';

export interface Fault {
  readonly kind: FaultKind;
  /** delay: ms; status: HTTP code; drip: bytes per second; huge: body bytes; redirect: location. */
  readonly arg?: string;
  /** Only requests whose path starts with this. */
  readonly path?: string;
  readonly method?: string;
  /** Applies from the (after+1)-th matching request on. */
  readonly after?: number;
  /** Applies to this many matching requests, then no more. */
  readonly times?: number;
  /** status: the Retry-After header to send (seconds). */
  readonly retryAfter?: string;
}

const KINDS = new Set<FaultKind>(['delay', 'status', 'drop', 'hang', 'drip', 'garbage', 'huge', 'redirect']);

function sizeArg(text: string): number {
  const m = /^(\d+)([KMG]?)$/iu.exec(text);
  if (m === null) throw new VmctxError('ERR_USAGE', `--fault: "${text}" is not a size (like 2G, 10M, 512)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** Parses "kind[:arg][,path=/x][,method=PUT][,after=N][,times=N][,retry-after=S]". */
export function parseFault(spec: string): Fault {
  const [head = '', ...opts] = spec.split(',');
  const colon = head.indexOf(':');
  const kind = (colon === -1 ? head : head.slice(0, colon)) as FaultKind;
  if (!KINDS.has(kind)) throw new VmctxError('ERR_USAGE', `--fault: unknown kind "${kind}" (one of ${[...KINDS].join(', ')})`);
  const arg = colon === -1 ? undefined : head.slice(colon + 1);
  const fault: { -readonly [K in keyof Fault]: Fault[K] } = { kind };
  if (arg !== undefined) fault.arg = arg;
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = opt.slice(0, eq);
    const value = opt.slice(eq + 1);
    const int = (): number => {
      if (!/^\d{1,9}$/u.test(value)) throw new VmctxError('ERR_USAGE', `--fault: ${key} wants a number`);
      return Number(value);
    };
    if (key === 'path') fault.path = value;
    else if (key === 'method') fault.method = value.toUpperCase();
    else if (key === 'after') fault.after = int();
    else if (key === 'times') fault.times = int();
    else if (key === 'retry-after') fault.retryAfter = value;
    else throw new VmctxError('ERR_USAGE', `--fault: unknown option "${opt}"`);
  }
  if (kind === 'huge') sizeArg(fault.arg ?? '');
  return fault;
}

/**
 * What the server keeps, bounded: any client may ask for tokens and requests, so nothing it keeps
 * grows with their number.
 */
export interface MetadataServerLimits {
  /** Live IMDSv2 tokens of one client (by remote address); a new one evicts that client's oldest. */
  readonly tokensPerClient: number;
  /** Live tokens of all clients together; a new one evicts the oldest of all. */
  readonly tokens: number;
  /** Requests kept in `requests` (the most recent ones). */
  readonly requestLog: number;
  /** How often expired tokens are swept out (they are also dropped when met). */
  readonly sweepMs: number;
}

export const DEFAULT_LIMITS: MetadataServerLimits = { tokensPerClient: 64, tokens: 16_384, requestLog: 1000, sweepMs: 60_000 };

export interface MetadataServerOptions {
  readonly tree: MetadataTree;
  readonly imdsv2: 'required' | 'optional';
  readonly faults?: readonly Fault[];
  /** Called for each request (method, path, status); tokens are never passed. */
  readonly log?: (line: string) => void;
  readonly limits?: Partial<MetadataServerLimits>;
  /** The clock token expiry is measured with (ms since the epoch); tests inject one. */
  readonly now?: () => number;
  /** Serve OneGate's /vm for this VM: the token its token.txt holds and its VMID. */
  readonly onegate?: { readonly token: string; readonly vmid: string };
}

/** One request to the OneGate endpoint, as the server saw it (the token only as right or wrong). */
export interface OneGateRequest {
  readonly method: string;
  readonly path: string;
  /** X-ONEGATE-VMID as sent (undefined when absent). */
  readonly vmid: string | undefined;
  readonly token: 'ok' | 'wrong' | 'missing';
  readonly contentType: string | undefined;
  /** The body (the first 4 KiB), e.g. READY=YES. */
  readonly body: string;
  readonly status: number;
  /** When it arrived (the server's clock, ms since the epoch). */
  readonly at: number;
}

const ONEGATE_BODY_MAX = 64 * 1024;

interface TokenRecord {
  readonly expires: number;
  readonly client: string;
}

interface ActiveFault {
  readonly fault: Fault;
  seen: number;
}

export class MetadataServer {
  readonly #server: Server;
  /** Live tokens, oldest first (a Map keeps insertion order). */
  readonly #tokens = new Map<string, TokenRecord>();
  /** Each client's live tokens, oldest first. */
  readonly #byClient = new Map<string, string[]>();
  readonly #sockets = new Set<Socket>();
  #faults: ActiveFault[] = [];
  #tree: MetadataTree;
  readonly #imdsv2: 'required' | 'optional';
  readonly #log: (line: string) => void;
  readonly #limits: MetadataServerLimits;
  readonly #now: () => number;
  #sweeper: NodeJS.Timeout | undefined;
  #lastFullSweep = -Infinity;
  /** The request log: a ring of the last `limits.requestLog` requests. */
  readonly #ring: string[] = [];
  #ringNext = 0;
  /** Requests seen since the start (the log keeps only the most recent). */
  requestCount = 0;
  readonly #onegate: { readonly token: Buffer; readonly vmid: string } | undefined;
  /** The OneGate requests (the most recent `limits.requestLog`), oldest first. */
  readonly onegateRequests: OneGateRequest[] = [];
  /** The VM's user template as OneGate would hold it after the PUTs (KEY=VALUE lines). */
  readonly onegateTemplate = new Map<string, string>();

  constructor(options: MetadataServerOptions) {
    this.#tree = options.tree;
    this.#imdsv2 = options.imdsv2;
    this.#log = options.log ?? (() => undefined);
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!Number.isInteger(value) || value < 1) throw new VmctxError('ERR_USAGE', `metadata server limit ${name} must be a positive whole number, not ${String(value)}`);
    }
    this.#now = options.now ?? Date.now;
    if (options.onegate !== undefined) {
      if (!/^[\x21-\x7e]{1,2048}$/u.test(options.onegate.token)) throw new VmctxError('ERR_USAGE', 'the OneGate token must be printable (no spaces), 1-2048 characters');
      if (!/^\d{1,10}$/u.test(options.onegate.vmid)) throw new VmctxError('ERR_USAGE', `the OneGate VMID must be a number, not ${JSON.stringify(options.onegate.vmid.slice(0, 20))}`);
      this.#onegate = { token: Buffer.from(options.onegate.token), vmid: options.onegate.vmid };
    }
    this.setFaults(options.faults ?? []);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  setFaults(faults: readonly Fault[]): void {
    this.#faults = faults.map((fault) => ({ fault, seen: 0 }));
  }

  /** The live IMDSv2 tokens (for secret-hygiene checks: none may show up anywhere). */
  issuedTokens(): string[] {
    return [...this.#tokens.keys()];
  }

  /** The most recent requests, oldest first, as "METHOD path" (at most `limits.requestLog`). */
  get requests(): string[] {
    return [...this.#ring.slice(this.#ringNext), ...this.#ring.slice(0, this.#ringNext)];
  }

  /** How many live tokens there are, in all and for the busiest client (for tests and bounds checks). */
  tokenStats(): { tokens: number; clients: number; mostForOneClient: number } {
    let most = 0;
    for (const list of this.#byClient.values()) most = Math.max(most, list.length);
    return { tokens: this.#tokens.size, clients: this.#byClient.size, mostForOneClient: most };
  }

  /** Drops every expired token (also done on a timer while listening, and when a token is met). */
  sweepExpired(): number {
    const now = this.#now();
    let dropped = 0;
    for (const [token, record] of this.#tokens) {
      if (record.expires <= now) {
        this.#forget(token, record);
        dropped += 1;
      }
    }
    this.#lastFullSweep = now;
    return dropped;
  }

  #forget(token: string, record: TokenRecord): void {
    this.#tokens.delete(token);
    const list = this.#byClient.get(record.client);
    if (list === undefined) return;
    const at = list.indexOf(token);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) this.#byClient.delete(record.client);
  }

  /** A new token for a client: its own expired tokens go first, then its oldest over the limit, then the oldest of all. */
  #issue(client: string, ttlSeconds: number): string {
    const now = this.#now();
    const own = this.#byClient.get(client) ?? [];
    for (const token of [...own]) {
      const record = this.#tokens.get(token);
      if (record !== undefined && (record.expires <= now || own.length >= this.#limits.tokensPerClient)) this.#forget(token, record);
    }
    if (this.#tokens.size >= this.#limits.tokens) {
      // a full sweep at most once a second of the clock; otherwise the oldest live token goes
      if (now - this.#lastFullSweep >= 1000) this.sweepExpired();
      while (this.#tokens.size >= this.#limits.tokens) {
        const oldest = this.#tokens.entries().next().value;
        if (oldest === undefined) break;
        this.#forget(oldest[0], oldest[1]);
      }
    }
    const token = randomBytes(32).toString('base64url');
    this.#tokens.set(token, { expires: now + ttlSeconds * 1000, client });
    const list = this.#byClient.get(client);
    if (list === undefined) this.#byClient.set(client, [token]);
    else list.push(token);
    return token;
  }

  #record(line: string): void {
    this.requestCount += 1;
    if (this.#ring.length < this.#limits.requestLog) {
      this.#ring.push(line);
      return;
    }
    this.#ring[this.#ringNext] = line;
    this.#ringNext = (this.#ringNext + 1) % this.#limits.requestLog;
  }

  setTree(tree: MetadataTree): void {
    this.#tree = tree;
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => { resolve(); });
    });
    this.#sweeper ??= setInterval(() => { this.sweepExpired(); }, this.#limits.sweepMs).unref();
    const addr = this.#server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { host: addr.address, port: addr.port, url: `http://${h}:${addr.port}` };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }

  #matchFault(method: string, path: string): Fault | undefined {
    for (const active of this.#faults) {
      const f = active.fault;
      if (f.path !== undefined && !path.startsWith(f.path)) continue;
      if (f.method !== undefined && f.method !== method) continue;
      active.seen += 1;
      if (f.after !== undefined && active.seen <= f.after) continue;
      if (f.times !== undefined && active.seen - (f.after ?? 0) > f.times) continue;
      return f;
    }
    return undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    this.#record(`${method} ${path}`);
    const done = (status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
      this.#log(`${method} ${path} ${status}`);
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };
    const fault = this.#matchFault(method, path);
    if (fault !== undefined) {
      switch (fault.kind) {
        case 'delay':
          await new Promise((resolve) => setTimeout(resolve, Number(fault.arg ?? '1000')));
          break;
        case 'status':
          done(Number(fault.arg ?? '503'), 'fault\n', fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter });
          return;
        case 'drop':
          this.#log(`${method} ${path} dropped`);
          req.socket.destroy();
          return;
        case 'hang':
          this.#log(`${method} ${path} hung`);
          return; // never answers; close() destroys the socket
        case 'redirect':
          done(302, '', { location: fault.arg ?? 'http://192.0.2.1/' });
          return;
        case 'garbage': {
          const body = randomBytes(4096);
          done(200, body, { 'content-type': 'application/json' });
          return;
        }
        case 'huge':
          this.#huge(res, sizeArg(fault.arg ?? '2G'), `${method} ${path}`);
          return;
        case 'drip':
          break; // handled when the body is sent
      }
    }
    if (this.#onegate !== undefined && path === '/vm') {
      await this.#onegateVm(req, method, path, done);
      return;
    }
    if (path === TOKEN_PATH) {
      if (method !== 'PUT') {
        done(405, 'method not allowed\n', { allow: 'PUT' });
        return;
      }
      const ttl = Number(req.headers[TOKEN_TTL_HEADER]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
        done(400, 'missing or invalid token TTL\n');
        return;
      }
      const token = this.#issue(req.socket.remoteAddress ?? 'unknown', ttl);
      done(200, token, { [TOKEN_TTL_HEADER]: String(ttl) });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      done(405, 'method not allowed\n', { allow: 'GET' });
      return;
    }
    const tokenHeader = req.headers[TOKEN_HEADER];
    if (tokenHeader !== undefined) {
      const record = typeof tokenHeader === 'string' ? this.#tokens.get(tokenHeader) : undefined;
      if (record !== undefined && record.expires <= this.#now()) this.#forget(tokenHeader as string, record);
      if (record === undefined || record.expires <= this.#now()) {
        done(401, 'unauthorized\n');
        return;
      }
    } else if (this.#imdsv2 === 'required' && path.startsWith('/latest')) {
      done(401, 'unauthorized\n');
      return;
    }
    const body = lookup(this.#tree, path);
    if (body === undefined) {
      done(404, 'not found\n');
      return;
    }
    if (fault?.kind === 'drip') {
      this.#drip(res, body, Math.max(1, Number(fault.arg ?? '10')), `${method} ${path}`);
      return;
    }
    done(200, method === 'HEAD' ? '' : body, path.endsWith('.json') ? { 'content-type': 'application/json' } : {});
  }

  /** OneGate's /vm: the token and VMID checked (401 as OneGate), a PUT's KEY=VALUE lines kept. */
  async #onegateVm(req: IncomingMessage, method: string, path: string, done: (status: number, body: string, headers?: Record<string, string>) => void): Promise<void> {
    const gate = this.#onegate;
    if (gate === undefined) return;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > ONEGATE_BODY_MAX) {
        done(413, 'body too large\n');
        return;
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const header = req.headers['x-onegate-token'];
    const sent = typeof header === 'string' ? Buffer.from(header) : undefined;
    const token = sent === undefined ? 'missing' : sent.length === gate.token.length && timingSafeEqual(sent, gate.token) ? 'ok' : 'wrong';
    const vmidHeader = req.headers['x-onegate-vmid'];
    const vmid = typeof vmidHeader === 'string' ? vmidHeader : undefined;
    let status: number;
    let answer = '';
    if (token !== 'ok' || vmid !== gate.vmid) {
      // OneGate's token is made from the VM's id: a wrong token or another VM's id fails alike
      status = 401;
      answer = 'Not authorized';
    } else if (method === 'PUT') {
      status = 200;
      for (const line of body.split(/\r?\n/u)) {
        const eq = line.indexOf('=');
        if (eq > 0) this.onegateTemplate.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
      }
    } else if (method === 'GET') {
      status = 200;
      answer = JSON.stringify({ VM: { ID: gate.vmid, USER_TEMPLATE: Object.fromEntries(this.onegateTemplate), TEMPLATE: { NIC: [] } } });
    } else {
      status = 405;
      answer = 'method not allowed';
    }
    const entry: OneGateRequest = { method, path, vmid, token, contentType: req.headers['content-type'], body: body.slice(0, 4096), status, at: this.#now() };
    if (this.onegateRequests.length >= this.#limits.requestLog) this.onegateRequests.shift();
    this.onegateRequests.push(entry);
    const shown = body.replace(/[^\x20-\x7e]+/gu, ' ').trim().slice(0, 200);
    this.#log(`onegate: ${method} ${path} VMID=${vmid === undefined ? '(none)' : JSON.stringify(vmid.slice(0, 20))} token ${token}${shown === '' ? '' : ` body ${JSON.stringify(shown)}`} -> ${status}`);
    done(status, answer, { 'content-type': 'application/json' });
  }

  #huge(res: ServerResponse, size: number, what: string): void {
    this.#log(`${what} 200 (huge, ${size} bytes)`);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => (left = 0));
    pump();
  }

  #drip(res: ServerResponse, body: Buffer, perSecond: number, what: string): void {
    this.#log(`${what} 200 (drip, ${perSecond} B/s)`);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
    let offset = 0;
    const timer = setInterval(() => {
      const n = Math.max(1, Math.floor(perSecond / 10));
      res.write(body.subarray(offset, offset + n));
      offset += n;
      if (offset >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    res.on('close', () => { clearInterval(timer); });
  }
}
