// The crash-point seam (src/shared/crashpoint.ts): inert unless armed; armed, Root and the state
// store pass their points in order, at the moments the names say; the CLI bundle cannot arm it.
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../src/agent/state.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { armCrashPoints, crashPoint } from '../../src/shared/crashpoint.js';
import { tempDir } from '../helpers/tmp.js';

afterEach(() => {
  armCrashPoints(undefined);
});

/** What the directory holds at a crash point: the file's content and the temporary files next to it. */
function look(dir: string, name: string): { file: string | undefined; temps: string[] } {
  let file: string | undefined;
  try {
    file = readFileSync(join(dir, name), 'utf8');
  } catch {
    file = undefined;
  }
  const temps = readdirSync(dir).filter((n) => n.startsWith(`.${name}.vmctx-`)).map((n) => readFileSync(join(dir, n), 'utf8'));
  return { file, temps };
}

describe('crash points', () => {
  it('unarmed, a crash point does nothing and a write is a write', async () => {
    crashPoint('write:before-rename', '/etc/x');
    const host = await tempDir();
    await new DirectoryRoot(host).writeFile('/etc/hostname', 'web1\n', { mode: 0o644 });
    expect(await readFile(join(host, 'etc/hostname'), 'utf8')).toBe('web1\n');
  });

  it('a write passes temp-created (old file, empty temp), before-rename (old file, full temp), before-dir-sync (new file, no temp)', async () => {
    const host = await tempDir();
    const root = new DirectoryRoot(host);
    await root.writeFile('/etc/hostname', 'old\n', { mode: 0o644 });
    const seen: Array<{ name: string; detail: string; file: string | undefined; temps: string[] }> = [];
    armCrashPoints((name, detail) => {
      seen.push({ name, detail, ...look(join(host, 'etc'), 'hostname') });
    });
    await root.writeFile('/etc/hostname', 'new\n', { mode: 0o644 });
    expect(seen).toEqual([
      { name: 'write:temp-created', detail: '/etc/hostname', file: 'old\n', temps: [''] },
      { name: 'write:before-rename', detail: '/etc/hostname', file: 'old\n', temps: ['new\n'] },
      { name: 'write:before-dir-sync', detail: '/etc/hostname', file: 'new\n', temps: [] },
    ]);
  });

  it('a write that changes nothing passes no crash point', async () => {
    const host = await tempDir();
    const root = new DirectoryRoot(host);
    await root.writeFile('/etc/hostname', 'same\n', { mode: 0o644 });
    const names: string[] = [];
    armCrashPoints((name) => {
      names.push(name);
    });
    expect((await root.writeFile('/etc/hostname', 'same\n', { mode: 0o644 })).changed).toBe(false);
    expect(names).toEqual([]);
  });

  it('the state store passes state:save before it writes its file (the old state still there)', async () => {
    const host = await tempDir();
    const root = new DirectoryRoot(host);
    const state = new StateStore(root, '/var/lib/vmctx');
    await state.beginRun({ startedAt: '2026-01-01T00:00:00.000Z', instanceId: 'i-1', bootId: 'b-1', stage: 'all' });
    const seen: Array<{ name: string; detail: string; run: unknown }> = [];
    armCrashPoints((name, detail) => {
      const text = look(join(host, 'var/lib/vmctx'), 'state.json').file ?? '{}';
      seen.push({ name, detail, run: (JSON.parse(text) as { run?: unknown }).run });
    });
    await state.endRun('i-1', 'b-1');
    expect(seen.map((s) => s.name)).toEqual(['state:save', 'write:temp-created', 'write:before-rename', 'write:before-dir-sync']);
    expect(seen.every((s) => s.detail === '/var/lib/vmctx/state.json')).toBe(true);
    // until the rename the file on disk still says the run is in progress
    expect(seen.slice(0, 3).every((s) => s.run !== undefined)).toBe(true);
    expect(seen[3]?.run).toBeUndefined();
  });

  it('a hook that throws stops the write there (the old file stays), and disarming makes it inert again', async () => {
    const host = await tempDir();
    const root = new DirectoryRoot(host);
    await writeFile(join(host, 'motd'), 'old\n');
    armCrashPoints((name) => {
      if (name === 'write:before-rename') throw new Error('crash here');
    });
    await expect(root.writeFile('/motd', 'new\n', { mode: 0o644 })).rejects.toThrow('crash here');
    expect(await readFile(join(host, 'motd'), 'utf8')).toBe('old\n');
    armCrashPoints(undefined);
    await root.writeFile('/motd', 'new\n', { mode: 0o644 });
    expect(await readFile(join(host, 'motd'), 'utf8')).toBe('new\n');
  });

  it('the CLI bundle cannot arm them: no arming function, no environment variable in dist/vmctx.js', async () => {
    const bundle = await readFile('dist/vmctx.js', 'utf8');
    expect(bundle).toContain('write:before-rename');
    expect(bundle).not.toContain('armCrashPoints');
    expect(bundle).not.toContain('VMCTX_CRASHPOINT');
  });
});
