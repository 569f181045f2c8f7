// The machine reads device discovery and --source use (src/host/devices.ts), the directory
// medium's plain-file opener (src/host/medium.ts) and the liveness check (src/host/process.ts).
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listNames, pathExists, pathKind } from '../../src/host/devices.js';
import { openPlainFile, readNames, readWholeFile } from '../../src/host/medium.js';
import { processAlive } from '../../src/host/process.js';
import { tempDir } from '../helpers/tmp.js';

async function collect(chunks: AsyncGenerator<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

describe('host/devices', () => {
  it('listNames: the names, or none for a missing directory; pathExists follows links; pathKind says what a path is', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'file'), 'x');
    await symlink('gone', join(dir, 'dangling'));
    expect((await listNames(dir)).sort()).toEqual(['dangling', 'file', 'sub']);
    expect(await listNames(join(dir, 'missing'))).toEqual([]);
    expect(await pathExists(join(dir, 'file'))).toBe(true);
    expect(await pathExists(join(dir, 'dangling'))).toBe(false);
    expect(await pathKind(dir)).toBe('directory');
    expect(await pathKind(join(dir, 'file'))).toBe('file');
    expect(await pathKind('/dev/null')).toBe('other');
    await expect(pathKind(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('host/medium', () => {
  it('openPlainFile: a file with its size and identity; a link named as a link; a FIFO or directory as absent', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a'), 'hello');
    await symlink('/etc/shadow', join(dir, 'l'));
    await mkdir(join(dir, 'd'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const a = await openPlainFile(dir, 'a', '/a');
    expect(a.kind).toBe('file');
    if (a.kind !== 'file') return;
    expect(a.file.size).toBe(5);
    expect(a.file.key).toMatch(/^\d+:\d+$/u);
    expect((await collect(a.file.chunks())).toString()).toBe('hello');
    await a.file.close();
    expect(await openPlainFile(dir, 'l', '/l')).toEqual({ kind: 'link', target: '/etc/shadow' });
    expect(await openPlainFile(dir, 'd', '/d')).toEqual({ kind: 'absent' });
    expect(await openPlainFile(dir, 'fifo', '/fifo')).toEqual({ kind: 'absent' });
    expect(await openPlainFile(dir, 'missing', '/missing')).toEqual({ kind: 'absent' });
  });

  it('a file that grew after it was opened: ERR_PATH_CHANGED, never more bytes than its size', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a'), 'hello');
    const a = await openPlainFile(dir, 'a', '/a');
    if (a.kind !== 'file') throw new Error('not a file');
    await appendFile(join(dir, 'a'), ' world');
    await expect(collect(a.file.chunks())).rejects.toMatchObject({ code: 'ERR_PATH_CHANGED' });
    await a.file.close();
  });

  it('readWholeFile and readNames read what a person names (errors are the system\'s)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'f'), 'data');
    expect((await readWholeFile(join(dir, 'f'))).toString()).toBe('data');
    expect(await readNames(dir)).toEqual(['f']);
    await expect(readNames(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('host/process', () => {
  it('processAlive: this process is, a pid past the kernel\'s maximum is not', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 22 + 1)).toBe(false);
  });
});
