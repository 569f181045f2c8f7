// Reading a context CD from a real block device (a read-only loop device over an ISO made by
// genisoimage), and finding it through the real systeminformation block-device list.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defaultProbe, discoverMedium, openExplicitSource } from '../../../src/agent/datasources/contextmedium.js';
import { tempDir } from '../../helpers/tmp.js';

const attached: string[] = [];
function detachAll(): void {
  for (const dev of attached.splice(0)) execFileSync('losetup', ['-d', dev]);
}
afterEach(detachAll);
afterAll(detachAll);

async function loopIso(label: string, context: string): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src/context.sh'), context);
  const iso = join(dir, 'ctx.iso');
  execFileSync('genisoimage', ['-quiet', '-J', '-R', '-V', label, '-o', iso, join(dir, 'src')]);
  const dev = execFileSync('losetup', ['--find', '--show', '--read-only', iso], { encoding: 'utf8' }).trim();
  attached.push(dev);
  return dev;
}

describe('block devices', () => {
  it('reads a context CD from a block device given with --source', async () => {
    const dev = await loopIso('CONTEXT', "SET_HOSTNAME='from-a-device'\n");
    const opened = await openExplicitSource(dev);
    expect(opened.raw.source).toMatchObject({ kind: 'block-device', path: dev, label: 'CONTEXT' });
    expect(opened.raw.variables).toEqual({ SET_HOSTNAME: 'from-a-device' });
    await opened.close();
  });

  it('finds a device by its ISO 9660 signature in the systeminformation block-device list', async () => {
    const dev = await loopIso('SOMECD', "SET_HOSTNAME='found-by-signature'\n");
    const found = await discoverMedium({ ...defaultProbe, waitMs: 0 });
    expect(found?.raw.source.path).toBe(dev);
    expect(found?.raw.source.foundBy).toBe('iso9660 signature (label "SOMECD")');
    expect(found?.raw.variables['SET_HOSTNAME']).toBe('found-by-signature');
    await found?.close();
  });
});
