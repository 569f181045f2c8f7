// serve-metadata keeps nothing a client can grow without bound: expired tokens are dropped, each
// client holds a few live tokens at most, all clients together a bounded number, and the request
// log is a ring. A real server on 127.0.0.1; the clock is injected where expiry matters.
import { request } from 'node:http';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { MetadataServer, type MetadataServerLimits } from '../../src/provider/server.js';
import { treeFromDescription } from '../../src/provider/tree.js';
import { description } from '../helpers/metadata.js';

const servers: MetadataServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(limits: Partial<MetadataServerLimits> = {}, now?: () => number): Promise<{ server: MetadataServer; port: number }> {
  const server = new MetadataServer({ tree: treeFromDescription(description()), imdsv2: 'required', limits, ...(now === undefined ? {} : { now }) });
  servers.push(server);
  const { port } = await server.listen('127.0.0.1', 0);
  return { server, port };
}

/** One request from a chosen loopback address (Linux routes all of 127/8 to lo). */
function call(port: number, method: string, path: string, headers: Record<string, string>, from = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, localAddress: from, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }); });
    });
    req.on('error', reject);
    req.end();
  });
}

const token = async (port: number, from?: string, ttl = '21600'): Promise<string> => {
  const r = await call(port, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': ttl }, from);
  expect(r.status).toBe(200);
  return r.body;
};
const get = async (port: number, t: string, from?: string): Promise<number> => (await call(port, 'GET', '/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': t }, from)).status;

/**
 * Sends `count` token requests pipelined over `sockets` kept-alive connections and counts the
 * answers by status (the bodies, the tokens, are not kept).
 */
async function pipelinedTokens(port: number, count: number, sockets: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const one = Buffer.from('PUT /latest/api/token HTTP/1.1\r\nHost: 127.0.0.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n');
  const perSocket = Math.ceil(count / sockets);
  await Promise.all(
    Array.from({ length: sockets }, (_, i) => {
      const n = Math.min(perSocket, count - i * perSocket);
      return new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let seen = 0;
        let tail = '';
        socket.on('data', (chunk: Buffer) => {
          const text = tail + chunk.toString('latin1');
          const re = /HTTP\/1\.1 (\d{3}) /gu;
          let m: RegExpExecArray | null;
          let last = 0;
          while ((m = re.exec(text)) !== null) {
            const code = Number(m[1]);
            statuses.set(code, (statuses.get(code) ?? 0) + 1);
            seen += 1;
            last = re.lastIndex;
          }
          tail = text.slice(Math.max(last, text.length - 16));
          if (seen >= n) {
            socket.end();
            resolve();
          }
        });
        socket.on('error', reject);
        // written in batches of 500, minding back-pressure
        let sent = 0;
        const pump = (): void => {
          while (sent < n) {
            const batch = Math.min(500, n - sent);
            sent += batch;
            if (!socket.write(Buffer.concat(Array.from({ length: batch }, () => one)))) {
              socket.once('drain', pump);
              return;
            }
          }
        };
        socket.on('connect', pump);
      });
    }),
  );
  return statuses;
}

/** Heap in use after a full, forced collection (twice: finalisers of the first free more). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('serve-metadata bounds', () => {
  it('expired tokens are dropped (when met, on insert, and by a sweep); an expired token is 401', async () => {
    let clock = 1_000_000;
    const { server, port } = await start({}, () => clock);
    const short = await token(port, undefined, '10');
    const long = await token(port);
    expect(await get(port, short)).toBe(200);
    clock += 10_000;
    expect(await get(port, short)).toBe(401);
    // met and expired: gone from the map
    expect(server.issuedTokens()).toEqual([long]);
    const a = await token(port, undefined, '5');
    await token(port, '127.0.0.2', '5');
    clock += 5_000;
    expect(server.tokenStats().tokens).toBe(3);
    expect(server.sweepExpired()).toBe(2);
    expect(server.issuedTokens()).toEqual([long]);
    expect(server.tokenStats().clients).toBe(1);
    expect(await get(port, a)).toBe(401);
    // a client's own expired tokens go when it asks for a new one
    await token(port, '127.0.0.3', '1');
    clock += 1_000;
    await token(port, '127.0.0.3');
    expect(server.tokenStats()).toEqual({ tokens: 2, clients: 2, mostForOneClient: 1 });
    expect(await get(port, long)).toBe(200);
  });

  it('while listening, a timer sweeps expired tokens out even when no client comes back', async () => {
    let clock = 5_000_000;
    const { server, port } = await start({ sweepMs: 20 }, () => clock);
    for (let i = 2; i <= 5; i += 1) await token(port, `127.0.0.${i}`, '30');
    expect(server.tokenStats().tokens).toBe(4);
    clock += 30_000;
    await expect.poll(() => server.tokenStats(), { timeout: 5000, interval: 20 }).toEqual({ tokens: 0, clients: 0, mostForOneClient: 0 });
  });

  it('each client (remote address) holds at most tokensPerClient live tokens: a new one evicts its own oldest, never another client\'s', async () => {
    const { server, port } = await start({ tokensPerClient: 3 });
    const other = await token(port, '127.0.0.2');
    const mine = [];
    for (let i = 0; i < 5; i += 1) mine.push(await token(port, '127.0.0.1'));
    expect(server.tokenStats()).toEqual({ tokens: 4, clients: 2, mostForOneClient: 3 });
    // the two oldest were evicted: 401, after which an IMDSv2 client asks for a new token
    expect(await get(port, mine[0] ?? '')).toBe(401);
    expect(await get(port, mine[1] ?? '')).toBe(401);
    for (const t of mine.slice(2)) expect(await get(port, t)).toBe(200);
    expect(await get(port, other, '127.0.0.2')).toBe(200);
  });

  it('all clients together hold at most `tokens` live tokens: the oldest of all goes', async () => {
    const { server, port } = await start({ tokens: 4, tokensPerClient: 10 });
    const made: string[] = [];
    for (let i = 2; i <= 7; i += 1) made.push(await token(port, `127.0.0.${i}`));
    expect(server.tokenStats().tokens).toBe(4);
    expect(server.tokenStats().clients).toBe(4);
    expect(await get(port, made[0] ?? '')).toBe(401);
    expect(await get(port, made[5] ?? '')).toBe(200);
  });

  it('the request log is a ring of the most recent requests; the count goes on', async () => {
    const { server, port } = await start({ requestLog: 3 });
    for (const p of ['/a', '/b', '/c', '/d', '/e']) await call(port, 'GET', p, {});
    expect(server.requests).toEqual(['GET /c', 'GET /d', 'GET /e']);
    expect(server.requestCount).toBe(5);
  });

  it('refuses limits that are not positive whole numbers', () => {
    expect(() => new MetadataServer({ tree: new Map(), imdsv2: 'optional', limits: { tokens: 0 } })).toThrow(/limit tokens must be a positive whole number/u);
  });

  it('100 000 token requests leave memory flat (default limits): heap after forced GC, token map and log sizes', { timeout: 300_000 }, async () => {
    const { server, port } = await start();
    // warm up: code paths compiled, sockets and buffers of the first requests allocated
    await pipelinedTokens(port, 2000, 8);
    const before = heapAfterGc();
    const started = performance.now();
    const statuses = await pipelinedTokens(port, 100_000, 8);
    const seconds = (performance.now() - started) / 1000;
    const after = heapAfterGc();
    const growth = after - before;
    console.log(`100000 token requests in ${seconds.toFixed(2)} s (${Math.round(100_000 / seconds)}/s); heap after GC ${(before / 2 ** 20).toFixed(1)} MiB -> ${(after / 2 ** 20).toFixed(1)} MiB (${(growth / 2 ** 20).toFixed(2)} MiB); live tokens ${server.issuedTokens().length}; log ${server.requests.length}`);
    expect(statuses.get(200)).toBe(100_000);
    // memory: unbounded, 100 000 tokens and log lines hold well over 15 MiB; bounded, well under 4
    expect(growth).toBeLessThan(4 * 2 ** 20);
    // structure: bounded by the limits, not by the number of requests
    expect(server.issuedTokens().length).toBeLessThanOrEqual(64);
    expect(server.requests.length).toBe(1000);
    expect(server.tokenStats().mostForOneClient).toBeLessThanOrEqual(64);
    expect(server.requestCount).toBe(102_000);
  });
});
