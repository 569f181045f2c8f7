// A block device's size and loop backing file come from sysfs by device number (/sys/dev/block/M:m),
// so any name of the device works — /dev/disk/by-label/X links included, whose basename is no device
// name. A fake sysfs at the unit layer; a real loop device reached through a by-label-style link.
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blockDeviceBytes, deviceNumbers, loopBackingFile, openByteSource, partitionOf } from '../../src/host/bytesource.js';
import { tempDir } from '../helpers/tmp.js';

/** glibc's makedev. */
const makedev = (major: number, minor: number): number => (minor & 0xff) + (major & 0xfff) * 256 + (minor >>> 8) * 2 ** 20 + (major >>> 12) * 2 ** 44;

describe('device numbers and sysfs', () => {
  it('major and minor from st_rdev, small and large (the glibc encoding)', () => {
    expect(deviceNumbers(makedev(7, 3))).toEqual({ major: 7, minor: 3 });
    expect(deviceNumbers(makedev(259, 65_537))).toEqual({ major: 259, minor: 65_537 });
    expect(deviceNumbers(makedev(4097, 300))).toEqual({ major: 4097, minor: 300 });
  });

  it('size and loop backing file by device number (fake sysfs); none where sysfs says nothing', async () => {
    const sys = await tempDir();
    await mkdir(join(sys, 'dev/block/7:3/loop'), { recursive: true });
    await writeFile(join(sys, 'dev/block/7:3/size'), '2048\n');
    await writeFile(join(sys, 'dev/block/7:3/loop/backing_file'), '/var/lib/images/disk.img\n');
    // a partition of the loop device: its directory sits inside the disk's
    await mkdir(join(sys, 'dev/block/7:3/loop3p1'), { recursive: true });
    await symlink(join(sys, 'dev/block/7:3/loop3p1'), join(sys, 'dev/block/259:0'));
    await writeFile(join(sys, 'dev/block/259:0/size'), '1024\n');
    await writeFile(join(sys, 'dev/block/259:0/partition'), '1\n');
    expect(blockDeviceBytes(makedev(7, 3), sys)).toBe(2048 * 512);
    expect(blockDeviceBytes(makedev(259, 0), sys)).toBe(1024 * 512);
    expect(loopBackingFile(makedev(7, 3), sys)).toBe('/var/lib/images/disk.img');
    expect(loopBackingFile(makedev(259, 0), sys)).toBe('/var/lib/images/disk.img');
    expect(blockDeviceBytes(makedev(8, 0), sys)).toBeUndefined();
    expect(loopBackingFile(makedev(8, 0), sys)).toBeUndefined();
    await mkdir(join(sys, 'dev/block/7:4/loop'), { recursive: true });
    await writeFile(join(sys, 'dev/block/7:4/loop/backing_file'), '/tmp/gone.img (deleted)\n');
    expect(loopBackingFile(makedev(7, 4), sys)).toBeUndefined();
  });

  it('a partition and its disk are told apart either way round (a partition\'s directory is inside its disk\'s); unrelated devices are not', async () => {
    const sys = await tempDir();
    // the kernel's layout: /sys/dev/block/M:m are links into /sys/devices
    for (const d of ['devices/virtual/block/loop0/loop0p1', 'devices/virtual/block/loop1', 'dev/block']) await mkdir(join(sys, d), { recursive: true });
    await symlink('../../devices/virtual/block/loop0', join(sys, 'dev/block/7:0'));
    await symlink('../../devices/virtual/block/loop0/loop0p1', join(sys, 'dev/block/259:0'));
    await symlink('../../devices/virtual/block/loop1', join(sys, 'dev/block/7:1'));
    expect(partitionOf(makedev(259, 0), makedev(7, 0), sys)).toBe('a in b');
    expect(partitionOf(makedev(7, 0), makedev(259, 0), sys)).toBe('b in a');
    expect(partitionOf(makedev(259, 0), makedev(7, 1), sys)).toBeUndefined();
    expect(partitionOf(makedev(7, 0), makedev(8, 0), sys)).toBeUndefined();
  });
});

describe('openByteSource on a block device named by a link', () => {
  const attached: string[] = [];
  afterEach(() => {
    for (const dev of attached.splice(0)) execFileSync('losetup', ['-d', dev]);
  });

  it('/dev/disk/by-label/X style: the size is the device\'s (so the readers can check truncation)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'medium.raw');
    await writeFile(file, Buffer.alloc(3 * 1024 * 1024, 0x5a));
    const dev = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
    attached.push(dev);
    await mkdir(join(dir, 'by-label'));
    await symlink(dev, join(dir, 'by-label', 'CONTEXT'));
    for (const path of [dev, join(dir, 'by-label', 'CONTEXT')]) {
      const src = await openByteSource(path);
      try {
        expect(src.size, path).toBe(3 * 1024 * 1024);
        expect(Buffer.from(await src.read(3 * 1024 * 1024 - 4, 4))).toEqual(Buffer.alloc(4, 0x5a));
      } finally {
        await src.close();
      }
    }
  });
});
