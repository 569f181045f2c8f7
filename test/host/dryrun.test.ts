// DryRunRoot keeps the directory root's rules: reads go through it (a FIFO is refused, never
// opened), and a write through a directory another user can swap is refused as the live run would.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DryRunRoot } from '../../src/host/dryrun.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { tempDir } from '../helpers/tmp.js';

async function scratch(): Promise<{ host: string; dry: DryRunRoot }> {
  const host = await tempDir();
  await mkdir(join(host, 'etc'));
  await mkdir(join(host, 'tmp'));
  await chmod(join(host, 'tmp'), 0o1777);
  return { host, dry: new DryRunRoot(new DirectoryRoot(host)) };
}

describe('DryRunRoot: the directory root\'s FIFO and squatting rules', () => {
  it('readFile of a FIFO is refused (ERR_UNSAFE_FILE), promptly', async () => {
    const { host, dry } = await scratch();
    execFileSync('mkfifo', ['-m', '0666', join(host, 'tmp/notes')]);
    await expect(dry.readFile('/tmp/notes')).rejects.toMatchObject({ code: 'ERR_UNSAFE_FILE', message: expect.stringContaining('is a FIFO') as unknown });
  }, 5000);

  it('a root file into /tmp/provision made by uid 1000 is refused; into a root-made one, or an owner-bob file into bob\'s, planned', async () => {
    const { host, dry } = await scratch();
    await mkdir(join(host, 'tmp/provision'));
    await chown(join(host, 'tmp/provision'), 1000, 1000);
    await expect(dry.writeFile('/tmp/provision/setup.sh', 'x', { mode: 0o755 })).rejects.toMatchObject({ code: 'ERR_PATH_OWNER', message: expect.stringContaining('owned by uid 1000') as unknown });
    await mkdir(join(host, 'srv/bob'), { recursive: true });
    await chown(join(host, 'srv/bob'), 1001, 1001);
    expect((await dry.writeFile('/srv/bob/app.conf', 'x', { mode: 0o644, owner: { uid: 1001, gid: 1001 } })).changed).toBe(true);
    expect((await dry.writeFile('/tmp/mine/setup.sh', 'x', { mode: 0o755 })).changed).toBe(true);
    expect(dry.changedPaths()).toContain('/srv/bob/app.conf');
    expect(await readdir(join(host, 'srv/bob'))).toEqual([]);
  });
});

describe('DryRunRoot: a file\'s head', () => {
  it('head of a planned write: its first bytes, whatever its size', async () => {
    const { dry } = await scratch();
    const data = Buffer.alloc(4096, 1);
    await dry.writeFile('/etc/planned', data, { mode: 0o644 });
    expect(await dry.readFile('/etc/planned', { head: 16, maxBytes: 100 })).toEqual(data.subarray(0, 16));
    await expect(dry.readFile('/etc/planned', { maxBytes: 100 })).rejects.toThrow(/over the limit/u);
  });
});
