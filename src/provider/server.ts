// `vmctx serve-metadata`: an EC2/OpenStack-compatible metadata service on node:http, with IMDSv2
// tokens and a fault mode for tests (delays, 503 with or without Retry-After, 401 after N
// requests, 403 on the token, dropped or hung connections, slow-drip, garbage and huge bodies,
// redirects).
import { randomBytes } from 'node:crypto';
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

export interface MetadataServerOptions {
  readonly tree: MetadataTree;
  readonly imdsv2: 'required' | 'optional';
  readonly faults?: readonly Fault[];
  /** Called for each request (method, path, status); tokens are never passed. */
  readonly log?: (line: string) => void;
}

interface ActiveFault {
  readonly fault: Fault;
  seen: number;
}

export class MetadataServer {
  readonly #server: Server;
  readonly #tokens = new Map<string, number>();
  readonly #sockets = new Set<Socket>();
  #faults: ActiveFault[] = [];
  #tree: MetadataTree;
  readonly #imdsv2: 'required' | 'optional';
  readonly #log: (line: string) => void;
  /** Requests seen, by "METHOD path" (for tests). */
  readonly requests: string[] = [];

  constructor(options: MetadataServerOptions) {
    this.#tree = options.tree;
    this.#imdsv2 = options.imdsv2;
    this.#log = options.log ?? (() => undefined);
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

  /** The IMDSv2 tokens handed out so far (for secret-hygiene checks: none may show up anywhere). */
  issuedTokens(): string[] {
    return [...this.#tokens.keys()];
  }

  setTree(tree: MetadataTree): void {
    this.#tree = tree;
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number; url: string }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => { resolve(); });
    });
    const addr = this.#server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { host: addr.address, port: addr.port, url: `http://${h}:${addr.port}` };
  }

  async close(): Promise<void> {
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
    this.requests.push(`${method} ${path}`);
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
      const token = randomBytes(32).toString('base64url');
      this.#tokens.set(token, Date.now() + ttl * 1000);
      done(200, token, { [TOKEN_TTL_HEADER]: String(ttl) });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      done(405, 'method not allowed\n', { allow: 'GET' });
      return;
    }
    const tokenHeader = req.headers[TOKEN_HEADER];
    if (tokenHeader !== undefined) {
      const expiry = typeof tokenHeader === 'string' ? this.#tokens.get(tokenHeader) : undefined;
      if (expiry === undefined || expiry < Date.now()) {
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
