// writeFileAtomic: a file replaced through a temp file beside it — readers see old or new, never a
// part; the final mode from creation on; nothing left behind when a step fails (a real full disk).
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/host/atomicfile.js';
import { tempDir } from '../helpers/tmp.js';

describe('writeFileAtomic', () => {
  it('creates the file with its final mode whatever the umask', async () => {
    const dir = await tempDir();
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'a'), Buffer.from('one'), { mode: 0o644 });
    } finally {
      process.umask(old);
    }
    expect((await stat(join(dir, 'a'))).mode & 0o7777).toBe(0o644);
    await writeFileAtomic(join(dir, 'b'), Buffer.from('two'), { mode: 0o600 });
    expect((await stat(join(dir, 'b'))).mode & 0o7777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['a', 'b']);
  });

  it('replaces an existing file by rename: a reader meanwhile sees the old content or the new, never a part', async () => {
    const dir = await tempDir();
    const path = join(dir, 'out.iso');
    const before = Buffer.alloc(4 * 1024 * 1024, 1);
    const after = Buffer.alloc(16 * 1024 * 1024, 2);
    await writeFile(path, before, { mode: 0o644 });
    const inode = (await stat(path)).ino;
    let done = false;
    const writing = writeFileAtomic(path, after, { mode: 0o600 }).finally(() => { done = true; });
    const seen: string[] = [];
    while (!done) {
      const data = await readFile(path);
      seen.push(data.equals(before) ? 'old' : data.equals(after) ? 'new' : `a part (${data.length} bytes)`);
    }
    await writing;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s !== 'old' && s !== 'new')).toEqual([]);
    expect((await readFile(path)).equals(after)).toBe(true);
    // a new file renamed over the old one, not the old one rewritten
    const st = await stat(path);
    expect(st.ino).not.toBe(inode);
    expect(st.mode & 0o7777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['out.iso']);
  });

  it('a rename that fails (a directory is at the path) leaves the directory as it was and no temp file', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'taken'));
    await writeFile(join(dir, 'taken', 'inside'), 'x');
    await expect(writeFileAtomic(join(dir, 'taken'), Buffer.from('new'), { mode: 0o600 })).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await readdir(dir)).toEqual(['taken']);
    expect(await readdir(join(dir, 'taken'))).toEqual(['inside']);
  });

  it('a directory that is not there: ENOENT, nothing created', async () => {
    const dir = await tempDir();
    await expect(writeFileAtomic(join(dir, 'missing', 'x'), Buffer.from('new'), { mode: 0o600 })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('a disk that fills up half way (a real 64 KiB tmpfs): the old file is intact and no temp file is left', async () => {
    const dir = await tempDir();
    const small = join(dir, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    try {
      const path = join(small, 'x.iso');
      await writeFile(path, 'the old medium');
      await expect(writeFileAtomic(path, Buffer.alloc(256 * 1024, 7), { mode: 0o600 })).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(await readFile(path, 'utf8')).toBe('the old medium');
      expect(await readdir(small)).toEqual(['x.iso']);
    } finally {
      execFileSync('umount', [small]);
    }
  });
});
