// The run lock on a scratch root, with the liveness check and the clock injected: the wait for a
// live holder is counted in polls on the test's clock, never measured.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_PATH, acquireLock, lockHolder } from '../../src/agent/lock.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { ConsoleLines } from '../../src/shared/logger.js';
import { TestClock } from '../helpers/clock.js';
import { tempDir } from '../helpers/tmp.js';

async function lockRoot(content?: string): Promise<{ dir: string; root: DirectoryRoot }> {
  const dir = await tempDir();
  await mkdir(join(dir, 'run/vmctx'), { recursive: true });
  if (content !== undefined) await writeFile(join(dir, LOCK_PATH), content);
  return { dir, root: new DirectoryRoot(dir) };
}

describe('run lock', () => {
  it('free: taken at once with our pid, released by the returned function', async () => {
    const { dir, root } = await lockRoot();
    const clock = new TestClock();
    const release = await acquireLock(root, 1000, new ConsoleLines(false), { pid: 4242, clock, alive: () => true });
    expect(await readFile(join(dir, LOCK_PATH), 'utf8')).toBe('4242\n');
    expect(await lockHolder(root, (pid) => pid === 4242)).toBe(4242);
    await release();
    expect(await lockHolder(root, () => true)).toBeUndefined();
    expect(clock.sleeps).toEqual([]);
  });

  it('held by a live run: polls every 100 ms until the wait is spent, then ERR_BUSY naming the holder', async () => {
    const { root } = await lockRoot('777\n');
    const clock = new TestClock();
    await expect(acquireLock(root, 1000, new ConsoleLines(false), { pid: 1, clock, alive: (pid) => pid === 777 })).rejects.toMatchObject({ code: 'ERR_BUSY', message: expect.stringContaining('pid 777') as unknown });
    expect(clock.sleeps).toEqual(Array<number>(10).fill(100));
  });

  it('the holder finishes while we wait: taken then', async () => {
    const { dir, root } = await lockRoot('777\n');
    const clock = new TestClock();
    let holderAlive = true;
    clock.onSleep = (elapsed) => {
      if (elapsed === 300) holderAlive = false;
    };
    const release = await acquireLock(root, 60_000, new ConsoleLines(false), { pid: 5, clock, alive: (pid) => pid === 777 && holderAlive });
    expect(await readFile(join(dir, LOCK_PATH), 'utf8')).toBe('5\n');
    expect(clock.elapsed).toBe(300);
    await release();
  });

  it('a dead holder or garbage in the lock: taken over without waiting', async () => {
    for (const content of ['999999\n', 'not a pid\n', '-3\n']) {
      const { dir, root } = await lockRoot(content);
      const clock = new TestClock();
      await acquireLock(root, 1000, new ConsoleLines(false), { pid: 8, clock, alive: () => false });
      expect(await readFile(join(dir, LOCK_PATH), 'utf8')).toBe('8\n');
      expect(clock.sleeps).toEqual([]);
    }
  });

  it('lockHolder asks the kernel by default: this process is alive', async () => {
    const { root } = await lockRoot(`${process.pid}\n`);
    expect(await lockHolder(root)).toBe(process.pid);
  });
});
