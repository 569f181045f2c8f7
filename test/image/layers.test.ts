// The image builder's layer rules, read from its sources: it never imports the agent, and starts processes only through host/.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../src/image');

async function sources(): Promise<Array<{ file: string; imports: string[] }>> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(10);
  return Promise.all(files.map(async (file) => {
    const text = await readFile(join(DIR, file), 'utf8');
    const imports = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gu)].map((m) => m[1] ?? m[2] ?? '');
    return { file, imports };
  }));
}

describe('src/image layers', () => {
  it('imports nothing from src/agent (guest layout comes from shared/layout.ts)', async () => {
    const bad = (await sources()).flatMap(({ file, imports }) => imports.filter((i) => i.includes('/agent/')).map((i) => `${file}: ${i}`));
    expect(bad).toEqual([]);
  });

  it('starts no process itself: no node:child_process (host/exec.ts runs them, with a deadline)', async () => {
    const all = await sources();
    expect(all.some(({ imports }) => imports.includes('../host/exec.js'))).toBe(true);
    const bad = all.flatMap(({ file, imports }) => imports.filter((i) => i === 'node:child_process' || i === 'child_process').map((i) => `${file}: ${i}`));
    expect(bad).toEqual([]);
  });
});
