import { chown, lchown, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { placeInHomes, resolveGuestPath, resolvedHomes } from '../../src/host/guestresolve.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { tempDir } from '../helpers/tmp.js';

async function scratch(): Promise<{ host: string; root: DirectoryRoot }> {
  const host = join(await tempDir(), 'root');
  await mkdir(join(host, 'home/alice'), { recursive: true });
  await chown(join(host, 'home/alice'), 1000, 1000);
  await mkdir(join(host, 'srv'));
  await mkdir(join(host, 'etc'));
  return { host, root: new DirectoryRoot(host) };
}

describe('resolveGuestPath / placeInHomes: whose home, from the resolved path (issue 17 item 2)', () => {
  it('any spelling of a path in a home lands in that home', async () => {
    const { root } = await scratch();
    const homes = await resolvedHomes(root, [{ uid: 1000, home: '/home/alice/' }, { uid: 0, home: '/root' }]);
    expect(homes).toEqual([{ base: '/home/alice', uid: 1000 }]);
    for (const p of ['/home//alice/.bashrc', '/home/./alice/.bashrc', '//home/alice/.bashrc', '/home/alice/.bashrc']) {
      expect(await placeInHomes(root, p, homes), p).toEqual({ path: '/home/alice/.bashrc', tree: { base: '/home/alice', uid: 1000 } });
    }
  });

  it('a root-made link into a home is followed and the home is found; a link inside the home is left for Root to refuse', async () => {
    const { host, root } = await scratch();
    await symlink('/home/alice', join(host, 'srv/alice'));
    await symlink('/etc', join(host, 'home/alice/conf'));
    await lchown(join(host, 'home/alice/conf'), 1000, 1000);
    const homes = await resolvedHomes(root, [{ uid: 1000, home: '/home/alice' }]);
    expect(await placeInHomes(root, '/srv/alice/x', homes)).toEqual({ path: '/home/alice/x', tree: homes[0] });
    // not /etc/shadow: resolution stops on entering the home
    expect(await placeInHomes(root, '/home/alice/conf/shadow', homes)).toEqual({ path: '/home/alice/conf/shadow', tree: homes[0] });
  });

  it('a home given as a root-made link resolves to its directory', async () => {
    const { host, root } = await scratch();
    await symlink('/home/alice', join(host, 'srv/home-link'));
    expect(await resolvedHomes(root, [{ uid: 1000, home: '/srv/home-link' }])).toEqual([{ base: '/home/alice', uid: 1000 }]);
  });

  it('paths outside every home get no tree; missing components are kept as written', async () => {
    const { root } = await scratch();
    const homes = await resolvedHomes(root, [{ uid: 1000, home: '/home/alice' }]);
    expect(await placeInHomes(root, '/home/alicex/y', homes)).toEqual({ path: '/home/alicex/y', tree: undefined });
    expect(await resolveGuestPath(root, '/etc/new/dir/file')).toBe('/etc/new/dir/file');
    await expect(resolveGuestPath(root, 'relative')).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
  });
});
