// The local control channel: one line in, one line out, over a real Unix socket (0600); a probe
// that tells a live listener from a dead socket file; a client that never hangs.
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listenForLines, removeSocket, sendLine, socketAnswers } from '../../src/host/unixsocket.js';
import { tempDir } from '../helpers/tmp.js';

const options = { maxLine: 16, idleMs: 2000, maxConnections: 4, onError: () => undefined };

function rawExchange(path: string, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let reply = '';
    s.on('data', (d: Buffer) => (reply += d.toString()));
    s.on('close', () => { resolve(reply); });
    s.write(text);
  });
}

describe('listenForLines / sendLine / socketAnswers', () => {
  it('answers each line, refuses an over-long one, is 0600, and is gone when closed', async () => {
    const path = join(await tempDir(), 'ctl.sock');
    const heard: string[] = [];
    const listener = await listenForLines(path, (line) => {
      heard.push(line);
      return line === 'ping' ? 'pong' : 'error: unknown';
    }, options);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await socketAnswers(path)).toBe(true);
    expect(await sendLine(path, 'ping', 2000)).toBe('pong\n');
    expect(await sendLine(path, '  ping  ', 2000)).toBe('pong\n');
    expect(await sendLine(path, 'what', 2000)).toBe('error: unknown\n');
    expect(await rawExchange(path, `${'A'.repeat(40)}\n`)).toBe('error: too long\n');
    expect(heard).toEqual(['ping', 'ping', 'what']);
    await listener.close();
    expect(existsSync(path)).toBe(false);
    expect(await socketAnswers(path)).toBe(false);
    expect(await sendLine(path, 'ping', 2000)).toBeUndefined();
  });

  it('a listen that fails (in a directory that is not there, on a path taken) rejects and leaves the process umask as it was', async () => {
    const dir = await tempDir();
    const old = process.umask(0o022);
    try {
      await expect(listenForLines(join(dir, 'missing', 'ctl.sock'), () => 'ok', options)).rejects.toMatchObject({ syscall: 'listen' });
      expect(process.umask(0o022)).toBe(0o022);
      const path = join(dir, 'ctl.sock');
      const first = await listenForLines(path, () => 'ok', options);
      await expect(listenForLines(path, () => 'ok', options)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(process.umask(0o022)).toBe(0o022);
      await first.close();
    } finally {
      process.umask(old);
    }
  });

  it('the socket file of a killed listener does not answer, and is removed', async () => {
    const path = join(await tempDir(), 'dead.sock');
    // a process killed while it listens leaves its socket file behind
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect((await stat(path)).isSocket()).toBe(true);
    expect(await socketAnswers(path)).toBe(false);
    expect(await sendLine(path, 'ping', 2000)).toBeUndefined();
    await removeSocket(path);
    await removeSocket(path);
    expect(existsSync(path)).toBe(false);
  });
});
