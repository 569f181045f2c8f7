// The terminal progress renderer (injected clock, fake TTY stream) and what a person sees on a real
// pseudo-terminal: bake's bars with bytes and rate, show's metadata waiting line against a closed
// 127.0.0.1 port; nothing of it without a terminal, with --json or with -q.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { barLine, metadataWaitingLine, terminalProgress, TerminalProgress, type ProgressStream } from '../../src/cli/progress.js';
import { fetchMetadata } from '../../src/agent/datasources/metadata.js';
import { BUNDLE } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const MIB = 1024 * 1024;

class FakeTty implements ProgressStream {
  readonly isTTY = true;
  readonly columns = 120;
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
  /** The screen as a terminal would show it: each \r\x1b[K starts the line over. */
  get screen(): string[] {
    return this.text.split('\n').map((line) => line.split('\r\x1b[K').at(-1) ?? '');
  }
}

class FakeClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

/** Runs argv on a pseudo-terminal (python's pty, argv only): what the terminal showed, and the exit status. */
function onTerminal(argv: readonly string[]): { screen: string; status: number | null } {
  const script = 'import os, pty, sys\nstatus = pty.spawn(sys.argv[1:])\nsys.exit(os.waitstatus_to_exitcode(status))';
  const r = spawnSync('python3', ['-c', script, ...argv], { encoding: 'utf8', timeout: 120_000 });
  return { screen: r.stdout, status: r.status };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('TerminalProgress (fake TTY, injected clock)', () => {
  it('draws one bar in place with bytes, percent and rate, at most every 100 ms, and closes it at 100%', () => {
    const tty = new FakeTty();
    const clock = new FakeClock();
    const p = new TerminalProgress(tty, clock);
    p.step('decompressing (bz2)');
    p.bytes('decompressing (bz2)', 0, 256 * MIB);
    clock.t += 50;
    p.bytes('decompressing (bz2)', 8 * MIB, 256 * MIB);
    clock.t += 950;
    p.bytes('decompressing (bz2)', 64 * MIB, 256 * MIB);
    clock.t += 3000;
    p.bytes('decompressing (bz2)', 256 * MIB, 256 * MIB);
    p.step('installing vmctx');
    expect(tty.text.split('\r\x1b[K')).toHaveLength(4);
    expect(tty.screen).toEqual([
      'decompressing (bz2)',
      `decompressing (bz2) [${'#'.repeat(24)}] 100%  256.0/256.0 MiB  64.0 MiB/s`,
      'installing vmctx',
      '',
    ]);
    expect(tty.text).toContain(`\r\x1b[Kdecompressing (bz2) [${'#'.repeat(6)}${'.'.repeat(18)}]  25%  64.0/256.0 MiB  64.0 MiB/s`);
  });

  it('an unknown total shows bytes and rate without a bar; a new label closes the previous bar line', () => {
    const tty = new FakeTty();
    const clock = new FakeClock();
    const p = new TerminalProgress(tty, clock);
    p.bytes('copying', 0, undefined);
    clock.t += 2000;
    p.bytes('copying', 10 * MIB, undefined);
    clock.t += 1000;
    p.bytes('zeroing free blocks', 1 * MIB, 4 * MIB);
    p.finish();
    expect(tty.screen).toEqual(['copying  10.0 MiB  5.0 MiB/s', 'zeroing free blocks [######..................]  25%  1.0/4.0 MiB', '']);
    expect(barLine('x', 1, 4, undefined, 8)).toBe('x [##......]  25%  0.0/0.0 MiB');
  });

  it('a narrow terminal (or one without a size) gets a shorter bar, the numbers kept', () => {
    const narrow = { isTTY: true, columns: 60, text: '', write(t: string): boolean { this.text += t; return true; } };
    const p = new TerminalProgress(narrow, new FakeClock());
    p.bytes('compressing (gz)', 2 * MIB, 4 * MIB);
    const line = narrow.text.split('\r\x1b[K').at(-1) ?? '';
    expect(line).toMatch(/^compressing \(gz\) \[(#+)(\.+)\] {2}50% {2}2\.0\/4\.0 MiB$/u);
    const bar = /\[([#.]+)\]/u.exec(line)?.[1] ?? '';
    expect(bar.length).toBeLessThan(24);
    expect(line.length).toBe(59);
  });

  it('is there only for a terminal, and never with --json or -q', () => {
    const tty = new FakeTty();
    expect(terminalProgress(tty, {})).toBeInstanceOf(TerminalProgress);
    expect(terminalProgress(tty, { json: true })).toBeUndefined();
    expect(terminalProgress(tty, { quiet: true })).toBeUndefined();
    expect(terminalProgress({ isTTY: false, write: () => true }, {})).toBeUndefined();
    expect(terminalProgress({ write: () => true }, {})).toBeUndefined();
  });

  it('the metadata waiting line names the URL and the budget, before the first request (a closed 127.0.0.1 port)', async () => {
    const port = await closedPort();
    const tty = new FakeTty();
    const p = new TerminalProgress(tty, new FakeClock());
    const url = `http://127.0.0.1:${port}`;
    const calls: Array<[string, number]> = [];
    await expect(fetchMetadata({ url, deadline: Date.now() + 2000, connectMs: 200, requestMs: 500, allowImdsv1: true, onWaiting: (u, ms) => {
      calls.push([u, ms]);
      p.waiting(metadataWaitingLine(u, ms));
    } })).rejects.toMatchObject({ code: 'ERR_METADATA_TIMEOUT' });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[0]).toBe(url);
    expect(calls[0]?.[1]).toBeGreaterThan(1900);
    expect(tty.text).toBe(`waiting for the metadata service at ${url} (budget 2 s)…\n`);
    expect(metadataWaitingLine(url, 10_000)).toBe(`waiting for the metadata service at ${url} (budget 10 s)…`);
  }, 30_000);
});

describe('on a real terminal (pty)', () => {
  it('show against a closed metadata port says it is waiting, with the budget; not with --json, not without a terminal', async () => {
    const port = await closedPort();
    const root = await tempDir();
    const args = [process.execPath, BUNDLE, 'show', '--root', root, '--source', 'metadata', '--metadata-url', `http://127.0.0.1:${port}`, '--metadata-budget', '1500'];
    const tty = onTerminal(args);
    expect(tty.status).toBe(6);
    expect(tty.screen).toContain(`waiting for the metadata service at http://127.0.0.1:${port} (budget 1.5 s)…`);
    expect(onTerminal([...args, '--json']).screen).not.toContain('waiting for');
    const piped = spawnSync(args[0] ?? '', args.slice(1), { encoding: 'utf8' });
    expect(piped.stderr).not.toContain('waiting for');
  }, 60_000);

  it('bake of a .gz on a terminal shows bars with bytes and rate for decompressing, zeroing and compressing; -q and a pipe show none', async () => {
    const dir = await tempDir();
    const tree = await tempDir();
    run('mkdir', ['-p', join(tree, 'etc'), join(tree, 'lib/x86_64-linux-gnu')]);
    const img = join(dir, 'disk.img');
    run('mke2fs', ['-F', '-q', '-t', 'ext3', '-d', tree, img, '32M']);
    run('gzip', [img]);
    const args = [process.execPath, BUNDLE, 'bake', `${img}.gz`, '--node', 'system', '--bundle', BUNDLE];
    const tty = onTerminal(args);
    expect(tty.status, tty.screen).toBe(0);
    for (const label of ['decompressing (gz)', 'zeroing free blocks', 'compressing (gz)']) {
      expect(tty.screen, label).toMatch(new RegExp(`${label.replace(/[()]/gu, '\\$&')} \\[#+\\] 100%  [\\d.]+/[\\d.]+ MiB  [\\d.]+ MiB/s`, 'u'));
    }
    const quiet = onTerminal([...args, '-q', '-o', join(dir, 'q.img.gz')]);
    expect(quiet.status).toBe(0);
    expect(quiet.screen).not.toMatch(/MiB\/s|decompressing/u);
    const piped = spawnSync(args[0] ?? '', [...args.slice(1), '-o', join(dir, 'p.img.gz')], { encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stderr).not.toMatch(/MiB\/s|decompressing/u);
    expect((await readFile(join(dir, 'p.img.gz'))).length).toBeGreaterThan(0);
  }, 120_000);
});
