// The drop directory the udev rule leaves trigger files in: heard of through inotify, each file
// taken exactly once (also by two drains at once), removed with its owner.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeDropDir, takeDropped, watchDropDir } from '../../src/host/dropdir.js';
import { tempDir } from '../helpers/tmp.js';

describe('drop directory', () => {
  it('a file dropped in is heard of (no polling)', async () => {
    const dir = join(await tempDir(), 'triggers');
    await mkdir(dir);
    let heard = (): void => undefined;
    const changed = new Promise<void>((resolve) => { heard = resolve; });
    const watch = watchDropDir(dir, () => { heard(); }, (error) => { throw error; });
    try {
      await writeFile(join(dir, 'media'), '');
      await changed;
    } finally {
      watch.close();
    }
  });

  it('takes each file once, also with two drains at once, and leaves the directory empty', async () => {
    const dir = join(await tempDir(), 'triggers');
    await mkdir(dir);
    const names = Array.from({ length: 50 }, (_, i) => `t${i}`);
    for (const n of names) await writeFile(join(dir, n), '');
    const taken: string[] = [];
    await Promise.all([takeDropped(dir, (n) => taken.push(n)), takeDropped(dir, (n) => taken.push(n))]);
    expect(taken.sort()).toEqual([...names].sort());
    expect(await readdir(dir)).toEqual([]);
    // a directory that is not there has nothing to take
    await takeDropped(join(dir, 'missing'), () => { throw new Error('nothing to take'); });
  });

  it('is removed with whatever is still in it', async () => {
    const dir = join(await tempDir(), 'triggers');
    await mkdir(dir);
    await writeFile(join(dir, 'net'), '');
    await removeDropDir(dir);
    expect(existsSync(dir)).toBe(false);
    await removeDropDir(dir);
  });
});
