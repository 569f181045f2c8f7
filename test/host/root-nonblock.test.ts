// Root opens existing files with O_NONBLOCK: a FIFO swapped in between its lstat and its open
// (simulated by a hook on open) is refused at once instead of blocking the run forever.
import { execFileSync } from 'node:child_process';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DirectoryRoot } from '../../src/host/root.js';
import { tempDir } from '../helpers/tmp.js';

const hook: { swap?: string } = {};

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    open: async (path: string, flags?: number, mode?: number) => {
      // the race: the name becomes a FIFO right after Root's lstat saw a regular file
      if (hook.swap !== undefined && typeof path === 'string' && path.endsWith(`/${hook.swap}`)) {
        const swap = hook.swap;
        delete hook.swap;
        const { readlinkSync } = await import('node:fs');
        const dir = readlinkSync(path.slice(0, path.length - swap.length - 1));
        await real.unlink(join(dir, swap));
        execFileSync('mkfifo', ['-m', '0666', join(dir, swap)]);
      }
      return real.open(path, flags, mode);
    },
  };
});

describe('DirectoryRoot: a FIFO swapped in after the lstat cannot block (O_NONBLOCK, then fstat)', () => {
  beforeEach(() => { delete hook.swap; });

  it('readFile: refused as a FIFO, promptly', async () => {
    const host = await tempDir();
    await mkdir(join(host, 'etc'));
    await writeFile(join(host, 'etc/conf'), 'x');
    hook.swap = 'conf';
    await expect(new DirectoryRoot(host).readFile('/etc/conf')).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
    expect(hook.swap).toBeUndefined();
  }, 5000);

  it('openAppend: refused (a FIFO nobody reads), promptly', async () => {
    const host = await tempDir();
    await mkdir(join(host, 'var/log'), { recursive: true });
    await writeFile(join(host, 'var/log/vmctx.log'), '', { mode: 0o600 });
    hook.swap = 'vmctx.log';
    await expect(new DirectoryRoot(host).openAppend('/var/log/vmctx.log', 0o600)).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE' });
    expect(hook.swap).toBeUndefined();
    await unlink(join(host, 'var/log/vmctx.log'));
  }, 5000);
});
