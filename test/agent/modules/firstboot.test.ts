import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/agent/config.js';
import { deviceCandidates, growFsModule, growTargets, machineIdModule, parseMountInfo } from '../../../src/agent/modules/firstboot.js';
import type { Target } from '../../../src/agent/modules/module.js';
import type { Exec } from '../../../src/host/exec.js';
import type { Machine } from '../../../src/host/machine.js';
import { runAgent } from '../../../src/agent/run.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { HostScriptRunner } from '../../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger(undefined);

async function runWith(root: string, src: string, vars: Record<string, string>, extra: Partial<Parameters<typeof runAgent>[0]> = {}) {
  await writeFile(join(src, 'context.sh'), renderContextSh(vars));
  return runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'all', dryRun: false, exec: new HostExec(), logger: log, console: new ConsoleLines(false), version: 'test', ...extra });
}

describe('machine-id module', () => {
  it('writes one when the image has none; keeps it on reboot; a clone (new instance, same id) gets a new one', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/machine-id'), '');
    await mkdir(join(root, 'var/lib/dbus'), { recursive: true });
    await writeFile(join(root, 'var/lib/dbus/machine-id'), 'old\n');
    const src = await tempDir();
    const id = async (): Promise<string> => (await readFile(join(root, 'etc/machine-id'), 'utf8')).trim();
    await runWith(root, src, { VMID: '1' }, { modules: [machineIdModule] });
    const first = await id();
    expect(first).toMatch(/^[0-9a-f]{32}$/u);
    expect((await stat(join(root, 'etc/machine-id'))).mode & 0o777).toBe(0o444);
    expect((await readFile(join(root, 'var/lib/dbus/machine-id'), 'utf8')).trim()).toBe(first);
    await runWith(root, src, { VMID: '1' }, { modules: [machineIdModule] });
    expect(await id()).toBe(first);
    await runWith(root, src, { VMID: '2' }, { modules: [machineIdModule] });
    const clone = await id();
    expect(clone).toMatch(/^[0-9a-f]{32}$/u);
    expect(clone).not.toBe(first);
  });

  it('keeps a machine id the system made itself after the first instance was recorded', async () => {
    const root = await scratchRoot();
    const own = 'a'.repeat(32);
    await writeFile(join(root, 'etc/machine-id'), `${own}\n`);
    const src = await tempDir();
    await runWith(root, src, { VMID: '1' }, { modules: [machineIdModule] });
    expect((await readFile(join(root, 'etc/machine-id'), 'utf8')).trim()).toBe(own);
  });
});

describe('grow-fs and ephemeral helpers', () => {
  it('grows / unless GROW_ROOTFS=NO, plus GROW_FS mount points (absolute, no ..)', () => {
    expect(growTargets({})).toEqual(['/']);
    expect(growTargets({ GROW_ROOTFS: 'NO', GROW_FS: '/data /srv/ ../etc relative /a/../b' })).toEqual(['/data', '/srv']);
  });

  it('reads mountinfo (escaped spaces, /dev/root by major:minor)', () => {
    const m = parseMountInfo('22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/root rw\n30 22 254:16 / /mnt/with\\040space rw - ext4 /dev/vdb rw\n');
    expect(m).toEqual([
      { majorMinor: '254:0', mountPoint: '/', fsType: 'ext4', source: '/dev/root' },
      { majorMinor: '254:16', mountPoint: '/mnt/with space', fsType: 'ext4', source: '/dev/vdb' },
    ]);
  });

  it('translates metadata device names to the names a guest may really have', () => {
    expect(deviceCandidates('sda2')).toEqual(['sda2', 'xvda2', 'vda2']);
    expect(deviceCandidates('xvdb')).toEqual(['xvdb', 'vdb', 'sdb']);
    expect(deviceCandidates('nvme0n1')).toEqual(['nvme0n1']);
  });
});

describe('grow-fs module: the device is read through the Target machine', () => {
  const BLOCKS = 262_144; // 1 GiB of 4 KiB blocks
  /** An ext4 superblock (first 2 KiB of the device) saying the file system has `blocks` 4 KiB blocks. */
  const superblock = (blocks: number): Uint8Array => {
    const b = Buffer.alloc(2048);
    b.writeUInt32LE(blocks, 1024 + 4);
    b.writeUInt32LE(2, 1024 + 24);
    b.writeUInt16LE(0xef53, 1024 + 0x38);
    return b;
  };
  /** A live scratch root: / is ext4 on vda (254:0), a whole disk of 1 GiB. */
  async function liveRoot(head: Uint8Array | undefined): Promise<{ target: Target; calls: string[]; asked: string[]; root: string }> {
    const root = await scratchRoot();
    await mkdir(join(root, 'proc/self'), { recursive: true });
    await writeFile(join(root, 'proc/self/mountinfo'), '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n');
    await mkdir(join(root, 'sys/dev/block'), { recursive: true });
    await symlink('../../devices/virtual/block/vda', join(root, 'sys/dev/block/254:0'));
    await mkdir(join(root, 'sys/class/block/vda'), { recursive: true });
    await writeFile(join(root, 'sys/class/block/vda/size'), `${(BLOCKS * 4096) / 512}\n`);
    const calls: string[] = [];
    const asked: string[] = [];
    const exec: Exec = {
      which: (name) => Promise.resolve(`/usr/sbin/${name}`),
      run: (file, args) => {
        calls.push([file, ...args].join(' '));
        return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
      },
    };
    const machine: Machine = {
      hostname: () => 'test',
      readHead: (path, length) => {
        asked.push(`${path} ${length}`);
        return Promise.resolve(head);
      },
    };
    return { target: { root: new DirectoryRoot(root), exec, live: true, machine }, calls, asked, root };
  }

  it('a file system that already fills its device starts no program; the superblock came from the machine', async () => {
    const { target, calls, asked, root } = await liveRoot(superblock(BLOCKS));
    const out = await growFsModule.apply(await contextOf({}), target, log);
    expect(asked).toEqual([`${root}/dev/vda 2048`]);
    expect(calls).toEqual([]);
    expect(out.actions).toEqual([]);
  });

  it('a smaller file system, or a device the machine cannot read, is grown with resize2fs', async () => {
    const smaller = await liveRoot(superblock(BLOCKS / 2));
    expect((await growFsModule.apply(await contextOf({}), smaller.target, log)).actions).toEqual(['resize2fs /dev/vda']);
    expect(smaller.calls).toEqual(['/usr/sbin/resize2fs /dev/vda']);
    const unreadable = await liveRoot(undefined);
    expect((await growFsModule.apply(await contextOf({}), unreadable.target, log)).actions).toEqual(['resize2fs /dev/vda']);
    expect(unreadable.asked).toHaveLength(1);
    // a Target without a machine reads no device at all: it cannot tell, so it grows
    const bare: Target = { root: unreadable.target.root, exec: unreadable.target.exec, live: true };
    expect((await growFsModule.apply(await contextOf({}), bare, log)).actions).toEqual(['resize2fs /dev/vda']);
  });
});

describe('/etc/vmctx/config', () => {
  it('parses known settings, warns about unknown keys and bad values, never executes anything', () => {
    const { config, warnings } = parseConfig('METADATA_URL=http://127.0.0.1:9/\nMETADATA_BUDGET_MS=500\nMETADATA_IMDSV1=deny\nINIT_SCRIPTS_FREQUENCY=per-boot\nDATASOURCES="seeds metadata"\nBOGUS=1\nMEDIUM_WAIT_MS=forever\n');
    expect(config).toMatchObject({ metadataUrl: 'http://127.0.0.1:9/', metadataBudgetMs: 500, allowImdsv1: false, initScriptsFrequency: 'per-boot', datasources: ['seeds', 'metadata'], mediumWaitMs: 3000 });
    expect(warnings).toHaveLength(2);
    expect(parseConfig('METADATA_URL=https://x/\n').warnings[0]).toMatch(/http:\/\//);
    expect(parseConfig('X=$(reboot)\n').warnings[0]).toMatch(/using the defaults/);
  });

  it('INIT_SCRIPTS_FREQUENCY=per-boot: the provider init script runs every boot, START_SCRIPT still once', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/vmctx'), { recursive: true });
    await writeFile(join(root, 'etc/vmctx/config'), 'INIT_SCRIPTS_FREQUENCY=per-boot\n');
    const src = await tempDir();
    await writeFile(join(src, 'init.sh'), 'echo init\n');
    const scripts = new HostScriptRunner(await tempDir());
    const ran = (r: Awaited<ReturnType<typeof runWith>>, id: string) => r.modules.find((m) => m.id === id)?.status;
    const first = await runWith(root, src, { VMID: '1', START_SCRIPT: 'echo start' }, { scripts, stage: 'final' });
    expect([ran(first, 'init-scripts'), ran(first, 'scripts')]).toEqual(['applied', 'applied']);
    // a new boot (scratch roots have no kernel boot id: every run is a new boot)
    const second = await runWith(root, src, { VMID: '1', START_SCRIPT: 'echo start' }, { scripts, stage: 'final' });
    expect([ran(second, 'init-scripts'), ran(second, 'scripts')]).toEqual(['applied', 'skipped']);
  });
});
