// host/exec.ts: every program vmctx starts has a deadline that kills it (and what it started); streamed output and a refusing sink.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HostExec, streamProcess } from '../../src/host/exec.js';

/** The process exists and is not a zombie (a killed orphan may wait a while for init to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('deadlines (fake clock: the deadline passes when the test says so)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('streamProcess: a hanging child is killed at its deadline with ERR_EXEC_TIMEOUT naming it', async () => {
    const ran = streamProcess('/bin/sleep', ['100'], { timeoutMs: 5000 });
    const settled = ran.then(() => 'resolved', (e: unknown) => e);
    await vi.advanceTimersByTimeAsync(4999);
    await vi.advanceTimersByTimeAsync(1);
    const error = await settled;
    expect(error).toMatchObject({ code: 'ERR_EXEC_TIMEOUT', message: '/bin/sleep: did not finish within 5 s; killed' });
  });

  it('streamProcess: nothing is killed before the deadline', async () => {
    const chunks: string[] = [];
    const ran = streamProcess('/bin/sh', ['-c', 'read x; echo "got $x"'], { timeoutMs: 5000, stdin: 'hold', stdout: (c) => chunks.push(c.toString()) });
    let settled = false;
    void ran.finally(() => {
      settled = true;
    }).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(4999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(ran).rejects.toMatchObject({ code: 'ERR_EXEC_TIMEOUT' });
    expect(chunks.join('')).toBe('');
  });

  it('streamProcess: what the child started dies with it (the process group is killed)', async () => {
    let out = '';
    let gotPid: () => void = () => undefined;
    const printed = new Promise<void>((resolve) => {
      gotPid = resolve;
    });
    const ran = streamProcess('/bin/sh', ['-c', 'sleep 100 & echo $!; wait'], {
      timeoutMs: 1000,
      stdout: (c) => {
        out += c.toString();
        if (out.includes('\n')) gotPid();
      },
    });
    const settled = ran.catch((e: unknown) => e);
    await printed;
    const grandchild = Number(out.trim());
    expect(alive(grandchild)).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await settled).toMatchObject({ code: 'ERR_EXEC_TIMEOUT' });
    // the kill was sent before the call settled; a killed process may take a moment to be reaped
    for (let i = 0; i < 1000 && alive(grandchild); i++) await new Promise<void>((r) => setImmediate(r));
    expect(alive(grandchild)).toBe(false);
  });

  it('HostExec.run: a hanging child is killed at its deadline with ERR_EXEC_TIMEOUT', async () => {
    const ran = new HostExec().run('/bin/sleep', ['100'], { timeoutMs: 2000 });
    const settled = ran.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await settled).toMatchObject({ code: 'ERR_EXEC_TIMEOUT', message: '/bin/sleep: no answer within 2000 ms; killed' });
  });

  it('HostExec.run: an abort signal kills the child\'s process group at once (mkdisk\'s tools on SIGINT)', async () => {
    const stop = new AbortController();
    const ran = new HostExec().run('/bin/sh', ['-c', 'sleep 100 & echo $!; wait'], { timeoutMs: 60_000, signal: stop.signal });
    stop.abort();
    const r = await ran;
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it('streamProcess: an abort signal kills the child at once', async () => {
    const stop = new AbortController();
    const ran = streamProcess('/bin/sleep', ['100'], { timeoutMs: 60_000, signal: stop.signal });
    stop.abort();
    const r = await ran;
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL' });
  });
});

describe('streamProcess', () => {
  it('streams stdin through the program into a sink and resolves with its status and stderr', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } });
    const { Readable } = await import('node:stream');
    const r = await streamProcess('/bin/sh', ['-c', 'cat; echo oops >&2; exit 3'], { timeoutMs: 30_000, stdin: Readable.from([Buffer.from('abc')]), stdout: sink });
    expect(Buffer.concat(chunks).toString()).toBe('abc');
    expect(r).toMatchObject({ code: 3, signal: null, stderr: 'oops\n' });
  });

  it('a sink that refuses stops the program and is what the call rejects with', async () => {
    const refusal = new Error('not an image');
    const sink = new Writable({ write: (_c, _e, cb) => { cb(refusal); } });
    await expect(streamProcess('/bin/sh', ['-c', 'while :; do echo y; done'], { timeoutMs: 30_000, stdout: sink })).rejects.toBe(refusal);
  });

  it('a program that cannot start is ERR_EXEC', async () => {
    await expect(streamProcess('/nonexistent/tool', [], { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ERR_EXEC' });
  });

  it('gets a clean environment unless given one', async () => {
    let out = '';
    await streamProcess('/usr/bin/env', [], { timeoutMs: 30_000, stdout: (c) => { out += c.toString(); } });
    expect(out.trim().split('\n').sort()).toEqual(['LANG=C', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });
});
