import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, snapshot } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** Byte-for-byte equality in one call: vitest's toEqual walks a Buffer element by element (about 4 s a 1.5 MB bundle). */
async function sameBytes(actual: string, expected: string | Buffer): Promise<void> {
  const [a, b] = [await readFile(actual), typeof expected === 'string' ? await readFile(expected) : expected];
  expect(a.equals(b), `${actual}: ${a.length} bytes, not the ${b.length} expected byte for byte`).toBe(true);
}

async function installed(): Promise<string> {
  const root = await tempDir('vmctx-install-');
  await mkdir(join(root, 'usr/lib/systemd'), { recursive: true });
  await writeFile(join(root, 'usr/lib/systemd/systemd'), '');
  execFileSync(process.execPath, [BUNDLE, 'install', '--root', root, '--no-node'], { stdio: 'ignore' });
  return root;
}

describe('vmctx install', () => {
  it('installs bundle, loader, launcher and enabled units; a second install changes nothing', async () => {
    const root = await installed();
    expect(await readFile(join(root, 'usr/sbin/vmctx'), 'utf8')).toBe('#!/bin/sh\n# vmctx launcher, written by vmctx install\nexec /usr/bin/node /usr/lib/vmctx/load.js "$@"\n');
    expect((await stat(join(root, 'usr/sbin/vmctx'))).mode & 0o777).toBe(0o755);
    await sameBytes(join(root, 'usr/lib/vmctx/vmctx.js'), BUNDLE);
    expect(await readlink(join(root, 'etc/systemd/system/sysinit.target.wants/vmctx-local.service'))).toBe('/usr/lib/systemd/system/vmctx-local.service');
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/vmctx-final.service'))).toBe('/usr/lib/systemd/system/vmctx-final.service');
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/vmctx-network.service'))).toBe('/usr/lib/systemd/system/vmctx-network.service');
    const again = execFileSync(process.execPath, [BUNDLE, 'install', '--root', root, '--no-node'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(again).toBe('');
  });

  it('the loader writes a V8 code cache once (0600 in a 0700 dir), reuses it, and survives a corrupt one', async () => {
    const root = await installed();
    const cacheDir = join(root, 'var/cache/vmctx');
    const env = { ...process.env, VMCTX_CACHE_DIR: cacheDir };
    const run = (): string => execFileSync(process.execPath, [join(root, 'usr/lib/vmctx/load.js'), '--version'], { env, encoding: 'utf8' }).trim();
    expect(run()).toMatch(/^\d+\.\d+\.\d+$/u);
    const cache = join(cacheDir, 'vmctx.js.v8cache');
    const first = await stat(cache);
    expect([first.mode & 0o777, (await stat(cacheDir)).mode & 0o777]).toEqual([0o600, 0o700]);
    run();
    expect((await stat(cache)).mtimeMs).toBe(first.mtimeMs);
    await writeFile(cache, 'not a cache');
    expect(run()).toMatch(/^\d+\.\d+\.\d+$/u);
    expect((await stat(cache)).size).toBeGreaterThan(1000);
  });

  it('an install that ships this Node ships the code cache too, and the first run of the guest uses it as it is', async () => {
    const root = await tempDir('vmctx-install-');
    await mkdir(join(root, 'usr/lib/systemd'), { recursive: true });
    await writeFile(join(root, 'usr/lib/systemd/systemd'), '');
    execFileSync(process.execPath, [BUNDLE, 'install', '--root', root, '--node', process.execPath], { stdio: 'ignore' });
    const cacheDir = join(root, 'var/cache/vmctx');
    const cache = join(cacheDir, 'vmctx.js.v8cache');
    const baked = await readFile(cache);
    expect([(await stat(cache)).mode & 0o777, (await stat(cacheDir)).mode & 0o777]).toEqual([0o600, 0o700]);
    // the shipped runtime with the shipped loader: V8 takes the cache (a rejected one is rewritten)
    const out = execFileSync(join(root, 'usr/lib/vmctx/node'), [join(root, 'usr/lib/vmctx/load.js'), '--version'], { env: { ...process.env, VMCTX_CACHE_DIR: cacheDir }, encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+$/u);
    await sameBytes(cache, baked);
    // the image's own Node: no cache can be made for it here
    const system = await installed();
    expect(await stat(join(system, 'var/cache/vmctx/vmctx.js.v8cache')).catch(() => undefined)).toBeUndefined();
  });

  it('a --bundle or --node that cannot be read is a usage error naming the option, worded as make-iso words it', async () => {
    const root = await tempDir('vmctx-install-');
    const missing = join(root, 'missing.js');
    const r = spawnSync(process.execPath, [BUNDLE, 'install', '--root', root, '--bundle', missing, '--no-node'], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([2, `vmctx: ERR_USAGE: --bundle ${missing}: no such file or directory\n`]);
    const n = spawnSync(process.execPath, [BUNDLE, 'install', '--root', root, '--node', root], { encoding: 'utf8' });
    expect([n.status, n.stderr]).toEqual([2, `vmctx: ERR_USAGE: --node ${root}: is a directory\n`]);
  });

  it('install run through the loader installs the bundle, not the loader', async () => {
    const root = await installed();
    const other = await tempDir('vmctx-install-');
    execFileSync(process.execPath, [join(root, 'usr/lib/vmctx/load.js'), 'install', '--root', other, '--no-node'], { env: { ...process.env, VMCTX_CACHE_DIR: join(other, 'c') }, stdio: 'ignore' });
    await sameBytes(join(other, 'usr/lib/vmctx/vmctx.js'), BUNDLE);
  });
});

describe('vmctx uninstall', () => {
  it('removes exactly what install put in; state, logs and config stay; a second uninstall changes nothing', async () => {
    const root = await tempDir('vmctx-uninstall-');
    await mkdir(join(root, 'usr/lib/systemd'), { recursive: true });
    await writeFile(join(root, 'usr/lib/systemd/systemd'), '');
    await mkdir(join(root, 'etc/vmctx'), { recursive: true });
    await writeFile(join(root, 'etc/vmctx/config'), 'METADATA_BUDGET_MS=2000\n');
    await mkdir(join(root, 'var/lib/vmctx'), { recursive: true });
    await writeFile(join(root, 'var/lib/vmctx/state.json'), '{}');
    const before = await snapshot(root);
    execFileSync(process.execPath, [BUNDLE, 'install', '--root', root, '--no-node'], { stdio: 'ignore' });
    expect(await snapshot(root)).not.toEqual(before);
    const out = execFileSync(process.execPath, [BUNDLE, 'uninstall', '--root', root], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
    // the directories install created may stay empty; every file and link it wrote is gone
    const after = Object.fromEntries(Object.entries(await snapshot(root)).filter(([k]) => !k.endsWith('/')));
    expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([k]) => !k.endsWith('/'))));
    const again = spawnSync(process.execPath, [BUNDLE, 'uninstall', '--root', root], { encoding: 'utf8' });
    expect(again.stderr).toMatch(/nothing was installed/u);
  });

  it('leaves a launcher that is not its own', async () => {
    const root = await tempDir('vmctx-uninstall-');
    await mkdir(join(root, 'usr/sbin'), { recursive: true });
    await writeFile(join(root, 'usr/sbin/vmctx'), '#!/bin/sh\necho somebody else\n');
    execFileSync(process.execPath, [BUNDLE, 'uninstall', '--root', root], { stdio: 'ignore' });
    expect(await readFile(join(root, 'usr/sbin/vmctx'), 'utf8')).toContain('somebody else');
  });
});

describe('vmctx install --root: how vmctx starts there', () => {
  const install = (root: string): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [BUNDLE, 'install', '--root', root, '--no-node'], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  };

  it('a root with systemd: the units are enabled, and it says so', async () => {
    const root = await tempDir('vmctx-install-');
    await mkdir(join(root, 'usr/lib/systemd'), { recursive: true });
    await writeFile(join(root, 'usr/lib/systemd/systemd'), '');
    const r = install(root);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('vmctx: at boot: systemd starts it: the vmctx units are enabled\n');
  });

  it('a root with /etc/init.d but no systemd: the init scripts are there, not enabled, and it says how to enable them', async () => {
    const root = await tempDir('vmctx-install-');
    await mkdir(join(root, 'etc/init.d'), { recursive: true });
    const r = install(root);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/vmctx: at boot: no systemd: nothing starts vmctx at boot yet\. The init scripts \/etc\/init\.d\/vmctx-local and \/etc\/init\.d\/vmctx-final are in place but not enabled: enable them .*update-rc\.d vmctx-local defaults/u);
  });

  it('a root with neither (and one whose rc.local already runs vmctx): it says nothing will start it, or that rc.local does', async () => {
    const root = await tempDir('vmctx-install-');
    const r = install(root);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('vmctx: at boot: no systemd and no /etc/init.d: nothing starts vmctx at boot. Run "/usr/sbin/vmctx run --stage all" from that system\'s boot scripts');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/rc.local'), '#!/bin/sh\n/usr/sbin/vmctx run --stage all || true\nexit 0\n');
    expect(install(root).stderr).toContain('vmctx: at boot: no systemd: /etc/rc.local starts it (/usr/sbin/vmctx run)');
  });
});
