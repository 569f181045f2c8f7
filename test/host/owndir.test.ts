import { chmod, chown, lchown, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureOwnDir } from '../../src/host/owndir.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { HostScriptRunner } from '../../src/host/scripts.js';
import { tempDir } from '../helpers/tmp.js';

async function scratch(): Promise<{ host: string; root: DirectoryRoot }> {
  const host = join(await tempDir(), 'root');
  await mkdir(join(host, 'etc'), { recursive: true });
  await writeFile(join(host, 'etc/shadow'), 'root:*:1::::::\n', { mode: 0o640 });
  return { host, root: new DirectoryRoot(host) };
}

describe("ensureOwnDir: vmctx's own directories are root's and writable by no one else (issue 17 item 3)", () => {
  it('creates a missing one with its mode, root\'s; leaves a good one alone', async () => {
    const { host, root } = await scratch();
    expect(await ensureOwnDir(root, '/var/lib/vmctx', 0o700)).toEqual([]);
    const st = await stat(join(host, 'var/lib/vmctx'));
    expect([st.mode & 0o7777, st.uid]).toEqual([0o700, 0]);
    expect(await ensureOwnDir(root, '/var/lib/vmctx', 0o700)).toEqual([]);
  });

  it("repairs another user's directory: chown root, go-w, and removes what that user planted in it", async () => {
    const { host, root } = await scratch();
    const dir = join(host, 'run/vmctx');
    await mkdir(join(dir, 'triggers'), { recursive: true });
    await chmod(dir, 0o777);
    await chown(dir, 1000, 1000);
    await chown(join(dir, 'triggers'), 1000, 1000);
    await symlink('/etc/shadow', join(dir, 'report.json'));
    await lchown(join(dir, 'report.json'), 1000, 1000);
    await writeFile(join(dir, 'run.lock'), '1\n');
    await chown(join(dir, 'run.lock'), 1000, 1000);
    await writeFile(join(dir, 'kept'), 'root made this\n');
    const repairs = await ensureOwnDir(root, '/run/vmctx', 0o755);
    expect(repairs).toEqual([
      "/run/vmctx was owned by uid 1000 with mode 777; made root's, mode 755",
      '/run/vmctx/report.json (a symlink of uid 1000 pointing to /etc/shadow) removed',
      '/run/vmctx/run.lock (a file of uid 1000) removed',
      "/run/vmctx/triggers was owned by uid 1000 with mode 755; made root's, mode 755",
    ]);
    const st = await stat(dir);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o755, 0, 0]);
    expect((await readdir(dir)).sort()).toEqual(['kept', 'triggers']);
    expect(await readFile(join(host, 'etc/shadow'), 'utf8')).toBe('root:*:1::::::\n');
  });

  it("a root-owned but group/world-writable directory is made go-w", async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'var/log/vmctx'), { recursive: true });
    await chmod(join(host, 'var/log/vmctx'), 0o777);
    expect(await ensureOwnDir(root, '/var/log/vmctx', 0o700)).toEqual(["/var/log/vmctx was root's with mode 777; made root's, mode 700"]);
    expect((await stat(join(host, 'var/log/vmctx'))).mode & 0o7777).toBe(0o700);
  });

  it('refuses a link or a file in its place', async () => {
    const { host, root } = await scratch();
    await mkdir(join(host, 'run'));
    await symlink('/etc', join(host, 'run/vmctx'));
    await expect(ensureOwnDir(root, '/run/vmctx', 0o755)).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    await writeFile(join(host, 'run/other'), '');
    await expect(ensureOwnDir(root, '/run/other', 0o755)).rejects.toMatchObject({ code: 'ERR_PATH_NOT_DIR' });
  });

  it("HostScriptRunner repairs its base before making a work directory there", async () => {
    const base = join(await tempDir(), 'work');
    await mkdir(base);
    await chmod(base, 0o777);
    await chown(base, 1000, 1000);
    const result = await new HostScriptRunner(base).run({ name: 't', body: Buffer.from('exit 0\n'), env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10_000, files: new Map() });
    expect(result.exitCode).toBe(0);
    const st = await lstat(base);
    expect([st.uid, st.mode & 0o022]).toEqual([0, 0]);
  });
});
