import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverMedium, openExplicitSource } from '../../../src/agent/datasources/contextmedium.js';
import type { Probe } from '../../../src/agent/datasources/datasource.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { writeIso } from '../../../src/formats/iso9660/writer.js';
import { TestClock } from '../../helpers/clock.js';
import { tempDir } from '../../helpers/tmp.js';
import { run } from '../../helpers/tools.js';

/**
 * A fake /dev, /sys and /run: device nodes are plain ISO files (the reader does not care). Time is
 * the test's clock: it moves only when discovery polls, so a wait is counted, never measured.
 */
async function fakeSystem(): Promise<{ base: string; probe: Probe; devices: string[]; clock: TestClock }> {
  const base = await tempDir();
  for (const d of ['dev/disk/by-label', 'sys/class/block', 'run/udev']) await mkdir(join(base, d), { recursive: true });
  const devices: string[] = [];
  const clock = new TestClock();
  const probe: Probe = {
    devDir: join(base, 'dev'),
    sysDir: join(base, 'sys'),
    runDir: join(base, 'run'),
    waitMs: 10_000,
    pollMs: 20,
    listBlockDevices: () => Promise.resolve([...devices]),
    clock,
  };
  return { base, probe, devices, clock };
}

/** A device node appears whole (as the kernel makes it), never half-written. */
async function appear(path: string, data: Buffer): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

function contextIso(variables: Record<string, string>, label = 'CONTEXT', extra: Array<{ path: string; data: Buffer }> = []): Buffer {
  return writeIso([{ path: 'context.sh', data: Buffer.from(renderContextSh(variables)) }, ...extra], { volumeId: label });
}

describe('context medium discovery', () => {
  it('finds the medium by label first, case-insensitively', async () => {
    const { base, probe } = await fakeSystem();
    await writeFile(join(base, 'dev/sr0'), contextIso({ A: 'by-name' }, 'OTHER'));
    await writeFile(join(base, 'dev/vdb'), contextIso({ A: 'by-label' }, 'context'));
    await symlink('../../vdb', join(base, 'dev/disk/by-label/context'));
    const found = await discoverMedium(probe);
    expect(found?.raw.variables['A']).toBe('by-label');
    expect(found?.raw.source.foundBy).toBe('label context');
    await found?.close();
  });

  it('finds _STRATUSLAB by label and reads configuration.sh under context.sh', async () => {
    const { base, probe } = await fakeSystem();
    const iso = writeIso(
      [
        { path: 'context.sh', data: Buffer.from('IP_PRIVATE="10.1.1.5"\nHOSTNAME="from-context"\n') },
        { path: 'configuration.sh', data: Buffer.from('HOSTNAME="from-configuration"\nPUBLIC_KEY="k"\n') },
      ],
      { volumeId: '_STRATUSLAB' },
    );
    await writeFile(join(base, 'dev/hdc'), iso);
    await symlink('../../hdc', join(base, 'dev/disk/by-label/_STRATUSLAB'));
    const found = await discoverMedium(probe);
    expect(found?.raw.variables).toEqual({ IP_PRIVATE: '10.1.1.5', HOSTNAME: 'from-context', PUBLIC_KEY: 'k' });
    expect(found?.raw.source.variableFiles).toEqual(['configuration.sh', 'context.sh']);
    await found?.close();
  });

  it('falls back to /dev/hdc, /dev/sr0, /dev/cdrom by name', async () => {
    const { base, probe } = await fakeSystem();
    await writeFile(join(base, 'dev/sr0'), contextIso({ A: 'sr0' }, 'WHATEVER'));
    const found = await discoverMedium(probe);
    expect(found?.raw.source).toMatchObject({ foundBy: 'device name sr0', label: 'WHATEVER' });
    await found?.close();
  });

  it('skips an ISO without context.sh and records why', async () => {
    const { base, probe } = await fakeSystem();
    await writeFile(join(base, 'dev/hdc'), writeIso([{ path: 'install.txt', data: Buffer.from('x') }]));
    await writeFile(join(base, 'dev/sr0'), contextIso({ A: 'sr0' }));
    const found = await discoverMedium({ ...probe, waitMs: 0 });
    expect(found?.raw.variables['A']).toBe('sr0');
    expect(found?.attempts[0]?.result).toMatch(/no context\.sh/);
    await found?.close();
  });

  it('waits for a CD that appears a second later while udev is still busy', async () => {
    const { base, probe, clock } = await fakeSystem();
    await writeFile(join(base, 'run/udev/queue'), '');
    clock.onSleep = async (elapsed) => {
      if (elapsed === 1000) {
        await appear(join(base, 'dev/sr0'), contextIso({ A: 'late' }));
        await rm(join(base, 'run/udev/queue'));
      }
    };
    const found = await discoverMedium(probe);
    expect(found?.raw.variables['A']).toBe('late');
    // it polled every 20 ms until the CD was there (1 s), and not once more
    expect(clock.sleeps).toEqual(Array<number>(50).fill(20));
    await found?.close();
  });

  it('waits while the kernel knows a CD drive whose /dev node is not there yet', async () => {
    const { base, probe, clock } = await fakeSystem();
    await mkdir(join(base, 'sys/class/block/sr0'));
    clock.onSleep = async (elapsed) => {
      if (elapsed === 500) await appear(join(base, 'dev/sr0'), contextIso({ A: 'node-appeared' }));
    };
    const found = await discoverMedium(probe);
    expect(found?.raw.variables['A']).toBe('node-appeared');
    expect(clock.elapsed).toBe(500);
    await found?.close();
  });

  it('does not wait when nothing is coming (the deadline is not spent)', async () => {
    const { probe, clock } = await fakeSystem();
    expect(await discoverMedium(probe)).toBeUndefined();
    // the deadline is 10 s: not one poll happened
    expect(clock.sleeps).toEqual([]);
  });

  it('gives up at the deadline when a device is announced but never comes', async () => {
    const { base, probe, clock } = await fakeSystem();
    await writeFile(join(base, 'run/udev/queue'), '');
    expect(await discoverMedium({ ...probe, waitMs: 1000 })).toBeUndefined();
    expect(clock.elapsed).toBe(1000);
    expect(clock.sleeps.every((ms) => ms === probe.pollMs)).toBe(true);
  });

  it('scans block devices for an ISO 9660 signature as a last resort', async () => {
    const { base, probe, devices } = await fakeSystem();
    await writeFile(join(base, 'dev/vda'), Buffer.alloc(70_000));
    await writeFile(join(base, 'dev/vdc'), contextIso({ A: 'signature' }, 'CFG'));
    devices.push('vda', 'vdc');
    const found = await discoverMedium(probe);
    expect(found?.raw.source.foundBy).toBe('iso9660 signature (label "CFG")');
    await found?.close();
  });

  it('an invalid context.sh on the medium is an error, not "no medium"', async () => {
    const { base, probe } = await fakeSystem();
    await writeFile(join(base, 'dev/sr0'), writeIso([{ path: 'context.sh', data: Buffer.from("A='x'\n$(reboot)\n") }]));
    await expect(discoverMedium(probe)).rejects.toMatchObject({ code: 'ERR_CONTEXT_COMMAND' });
  });

  it('a truncated ISO is reported as an attempt, not a crash', async () => {
    const { base, probe } = await fakeSystem();
    await writeFile(join(base, 'dev/sr0'), contextIso({ A: 'x' }).subarray(0, 35_000));
    const found = await discoverMedium({ ...probe, waitMs: 0 });
    expect(found).toBeUndefined();
  });
});

describe('--source', () => {
  it('reads a directory holding context.sh', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'context.sh'), "SET_HOSTNAME='dir-host'\n");
    const opened = await openExplicitSource(dir);
    expect(opened.raw.variables).toEqual({ SET_HOSTNAME: 'dir-host' });
    expect(opened.raw.source.kind).toBe('directory');
  });

  it('reads ISO level 1 names made by genisoimage without -J/-R', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src/context.sh'), "SET_HOSTNAME='level1'\n");
    run('genisoimage', ['-quiet', '-V', 'CONTEXT', '-o', join(dir, 'l1.iso'), join(dir, 'src')]);
    const opened = await openExplicitSource(join(dir, 'l1.iso'));
    expect(opened.raw.variables).toEqual({ SET_HOSTNAME: 'level1' });
    expect(opened.raw.source.scheme).toBe('iso9660');
    await opened.close();
  });

  it('refuses a 100 MB context.sh with a clear error', async () => {
    const dir = await tempDir();
    const iso = writeIso([{ path: 'context.sh', data: Buffer.alloc(100 * 1024 * 1024, 0x41) }]);
    await writeFile(join(dir, 'big.iso'), iso);
    await expect(openExplicitSource(join(dir, 'big.iso'))).rejects.toMatchObject({ code: 'ERR_CONTEXT_TOO_LARGE' });
  });

  it('a missing path is "no context"', async () => {
    await expect(openExplicitSource('/nonexistent/ctx.iso')).rejects.toMatchObject({ code: 'ERR_NO_CONTEXT' });
  });
});
