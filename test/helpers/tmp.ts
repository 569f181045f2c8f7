// Temporary directories for tests, removed after each test file (also those made inside a test:
// a hook registered while a test runs would never run, so one hook, registered when this module
// is imported, removes them all).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made = new Set<string>();

afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
  made.clear();
});

export async function tempDir(prefix = 'vmctx-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}
