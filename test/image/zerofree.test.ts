// image/zerofree.ts and compression.ts's tool runner: free ranges punched in batches, and a hanging tool killed at its deadline.
import { chmod, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toolStream } from '../../src/image/compression.js';
import { punchHoles } from '../../src/image/zerofree.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

async function dataFile(dir: string, size: number): Promise<string> {
  const path = join(dir, 'image.raw');
  const handle = await open(path, 'w');
  await handle.write(Buffer.alloc(size, 0xa5), 0, size, 0);
  await handle.close();
  return path;
}

/** A tool that never finishes (`sleep 100`, whatever it is asked). */
async function hangingTool(dir: string): Promise<string> {
  const path = join(dir, 'hang');
  await writeFile(path, '#!/bin/sh\nexec sleep 100\n');
  await chmod(path, 0o755);
  return path;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('punchHoles', () => {
  it('punches every range with one process start per batch: the file keeps its size and loses the blocks', async () => {
    const dir = await tempDir();
    const path = await dataFile(dir, 8 * MiB);
    const before = (await stat(path)).blocks * 512;
    const ranges: Array<[number, number]> = [];
    for (let i = 0; i < 8; i += 2) ranges.push([i * MiB, MiB]);
    const done: number[] = [];
    const failed = await punchHoles(path, ranges, { fallocate: '/usr/bin/fallocate', progress: (d) => done.push(d) });
    expect(failed).toEqual([]);
    expect(done).toEqual([4 * MiB]);
    const after = await stat(path);
    expect(after.size).toBe(8 * MiB);
    expect(before - after.blocks * 512).toBe(4 * MiB);
    const handle = await open(path, 'r');
    const probe = Buffer.alloc(16);
    await handle.read(probe, 0, 16, 2 * MiB + 100);
    await handle.close();
    expect(probe.equals(Buffer.alloc(16))).toBe(true);
  });

  it('a range the tool refuses comes back for zeroing; the others are punched', async () => {
    const dir = await tempDir();
    const path = await dataFile(dir, 2 * MiB);
    // fallocate refuses a negative length
    const failed = await punchHoles(path, [[0, MiB], [MiB, -1]], { fallocate: '/usr/bin/fallocate' });
    expect(failed).toEqual([[MiB, -1]]);
  });

  it('only whole, non-negative byte counts reach the tool argv; any other range comes back for zeroing unrun', async () => {
    const dir = await tempDir();
    const log = join(dir, 'argv');
    const tool = join(dir, 'fallocate');
    // records its argv; refuses offset 8192 (as a real one refuses a range it cannot punch)
    await writeFile(tool, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n[ "$4" != 8192 ]\n`);
    await chmod(tool, 0o755);
    const failed = await punchHoles(join(dir, 'x'), [[0, 4096], [1.5, 4096], [Number.NaN, 1], [8192, 4096], [8192, 1e21], [-4096, 4096], [4096, 0]], { fallocate: tool });
    expect(failed).toEqual([[1.5, 4096], [Number.NaN, 1], [8192, 1e21], [-4096, 4096], [4096, 0], [8192, 4096]]);
    const x = join(dir, 'x');
    expect(await readFile(log, 'utf8')).toBe(`--punch-hole --keep-size --offset 0 --length 4096 ${x}\n--punch-hole --keep-size --offset 8192 --length 4096 ${x}\n`);
  });

  it('no fallocate: every range comes back', async () => {
    expect(await punchHoles('/nonexistent', [[0, 1], [5, 2]], {})).toEqual([[0, 1], [5, 2]]);
  });

  it('a hanging fallocate is killed at the deadline and its batch comes back for zeroing', async () => {
    const dir = await tempDir();
    const tool = await hangingTool(dir);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const ran = punchHoles(join(dir, 'x'), [[0, 4096], [8192, 4096]], { fallocate: tool, timeoutMs: 3000 });
    await vi.advanceTimersByTimeAsync(3000);
    expect(await ran).toEqual([[0, 4096], [8192, 4096]]);
  });
});

describe('toolStream', () => {
  it('a hanging decompressor is killed at its deadline with a clear error', async () => {
    const dir = await tempDir();
    const tool = await hangingTool(dir);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const ran = toolStream(tool, ['-dc'], new Writable({ write: (_c, _e, cb) => { cb(); } }), undefined, 7000);
    const settled = ran.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(7000);
    expect(await settled).toMatchObject({ code: 'ERR_EXEC_TIMEOUT', message: `${tool}: did not finish within 7 s; killed` });
  });

  it('a tool that fails is ERR_IMAGE with its exit status and stderr', async () => {
    await expect(toolStream('/bin/sh', ['-c', 'echo broken >&2; exit 2'], new Writable({ write: (_c, _e, cb) => { cb(); } }))).rejects.toMatchObject({ code: 'ERR_IMAGE', message: 'sh -c echo broken >&2; exit 2 exited with 2: broken' });
  });
});
