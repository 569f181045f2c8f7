// The Machine seam modules get on the Target: the kernel's host name and a device's first bytes.
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostMachine, readHead } from '../../src/host/machine.js';
import { tempDir } from '../helpers/tmp.js';

describe('host machine', () => {
  it('reads the first bytes of a file, fewer when it is shorter, and nothing past what was asked', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'disk'), Buffer.from('0123456789'));
    expect(Buffer.from((await readHead(join(dir, 'disk'), 4)) ?? [])).toEqual(Buffer.from('0123'));
    expect(Buffer.from((await hostMachine.readHead(join(dir, 'disk'), 2048)) ?? [])).toEqual(Buffer.from('0123456789'));
  });

  it('answers undefined for a path that is missing or cannot be read (a directory)', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'sub'));
    expect(await readHead(join(dir, 'missing'), 16)).toBeUndefined();
    expect(await readHead(join(dir, 'sub'), 16)).toBeUndefined();
  });

  it("names the kernel's host name", () => {
    expect(hostMachine.hostname()).toBe(hostname());
  });
});
