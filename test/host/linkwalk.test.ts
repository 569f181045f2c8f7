// host/linkwalk.ts: the shared link rule on a plain in-memory tree (links resolved inside it, at most 40 per walk, absolute targets from its root).
import { describe, expect, it } from 'vitest';
import { MAX_SYMLINKS, followFinal, linkTarget, walkAll, walkParents, type EntryKind, type LinkWalkOps } from '../../src/host/linkwalk.js';

/** A tree of directories ("dir"), files ("file") and links ({ to: target }) by resolved path. */
function tree(entries: Record<string, 'dir' | 'file' | { to: string }>, made: string[] = []): LinkWalkOps {
  return {
    kind: (path): Promise<EntryKind> => {
      const e = entries[path];
      return Promise.resolve(e === undefined ? 'missing' : e === 'dir' ? 'directory' : e === 'file' ? 'other' : 'symlink');
    },
    readlink: (path) => {
      const e = entries[path];
      if (e === undefined || typeof e === 'string') throw new Error(`${path}: not a link`);
      return Promise.resolve(e.to);
    },
    missing: (path) => {
      made.push(path);
      return Promise.resolve(false);
    },
  };
}

describe('linkTarget / followFinal', () => {
  it('absolute targets restart at the root; relative ones continue from the link', () => {
    expect(linkTarget('/etc/./x//y')).toEqual({ fromRoot: true, parts: ['etc', 'x', 'y'] });
    expect(linkTarget('../a')).toEqual({ fromRoot: false, parts: ['..', 'a'] });
    expect(followFinal('/etc', '../../../../x')).toBe('/x');
    expect(followFinal('/etc', '/usr/lib/../bin')).toBe('/usr/bin');
  });
});

describe('walkParents', () => {
  it('follows links on the way inside the tree and never above its root', async () => {
    const ops = tree({ '/etc': 'dir', '/data': 'dir', '/etc/conf': { to: '../../../data' }, '/abs': { to: '/etc' } });
    expect(await walkParents('/etc/conf/file', ops)).toEqual({ path: '/data/file', parent: '/data', name: 'file' });
    expect(await walkParents('/abs/conf/x', ops)).toEqual({ path: '/data/x', parent: '/data', name: 'x' });
  });

  it('a missing directory stops the walk unless it is made', async () => {
    const made: string[] = [];
    expect(await walkParents('/nope/x', tree({}, made))).toBeUndefined();
    expect(made).toEqual(['/nope']);
  });

  it('a file on the way is ERR_PATH_NOT_DIR; relative, NUL and root paths are ERR_PATH_INVALID', async () => {
    const ops = tree({ '/f': 'file' });
    await expect(walkParents('/f/x', ops)).rejects.toMatchObject({ code: 'ERR_PATH_NOT_DIR' });
    for (const bad of ['etc/x', '/a\0b', '/', '/a/..']) await expect(walkParents(bad, ops)).rejects.toMatchObject({ code: 'ERR_PATH_INVALID' });
  });

  it('a refused link stops the walk with the refusal', async () => {
    const ops: LinkWalkOps = { ...tree({ '/l': { to: '/' } }), beforeFollow: (p) => { throw new Error(`refused ${p}`); } };
    await expect(walkParents('/l/x', ops)).rejects.toThrow('refused /l');
  });

  it(`follows ${MAX_SYMLINKS} links and refuses the next (ERR_PATH_LOOP)`, async () => {
    const chain = (n: number): Record<string, { to: string } | 'dir'> => {
      const entries: Record<string, { to: string } | 'dir'> = { '/end': 'dir' };
      for (let i = 0; i < n; i++) entries[`/l${i}`] = { to: i === n - 1 ? '/end' : `/l${i + 1}` };
      return entries;
    };
    expect(await walkParents('/l0/x', tree(chain(MAX_SYMLINKS)))).toEqual({ path: '/end/x', parent: '/end', name: 'x' });
    await expect(walkParents('/l0/x', tree(chain(MAX_SYMLINKS + 1)))).rejects.toMatchObject({ code: 'ERR_PATH_LOOP' });
  });
});

describe('walkAll', () => {
  it('follows the final link too, inside the tree', async () => {
    const ops = tree({ '/etc': 'dir', '/etc/a': { to: 'b' }, '/etc/b': { to: '/../../real' }, '/real': 'file' });
    expect(await walkAll('/etc/a', ops)).toBe('/real');
  });

  it(`follows ${MAX_SYMLINKS} final links and refuses the next; a loop is ERR_PATH_LOOP`, async () => {
    const chain = (n: number): Record<string, { to: string } | 'file'> => {
      const entries: Record<string, { to: string } | 'file'> = { '/end': 'file' };
      for (let i = 0; i < n; i++) entries[`/l${i}`] = { to: i === n - 1 ? '/end' : `/l${i + 1}` };
      return entries;
    };
    expect(await walkAll('/l0', tree(chain(MAX_SYMLINKS)))).toBe('/end');
    await expect(walkAll('/l0', tree(chain(MAX_SYMLINKS + 1)))).rejects.toMatchObject({ code: 'ERR_PATH_LOOP' });
    await expect(walkAll('/a', tree({ '/a': { to: 'b' }, '/b': { to: 'a' } }))).rejects.toMatchObject({ code: 'ERR_PATH_LOOP' });
  });
});
