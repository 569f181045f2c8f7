// vmctx mkdisk on real ext images made at test time with mke2fs -d (a fake /boot/vmlinuz-* and
// initrd to find), checked with the real tools: sfdisk -J and sgdisk -v for the table, e2fsck -fn
// and debugfs on the root partition cut out of the disk, mdir on the ESP, GRUB's fields read back
// against GRUB's own boot.img and diskboot.img, and SeaBIOS booting the disk as far as GRUB loading
// the kernel named in grub.cfg.
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { link, mkdir, readFile, readdir, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVmctxError } from '../../src/shared/errors.js';
import { BLOCKLIST_START, BOOT_KERNEL_SECTOR, CORE_LOAD_SEGMENT, GRUB_DIRS, bootSector, buildGrubImage, earlyConfig, placeCore } from '../../src/image/grub.js';
import { GRUB_CFG_KEPT, compareVersions, fstabWithRoot, grubConfig, mkdisk, pickKernel, planLayout, sfdiskScript, sparseCopyInto, type MkdiskOptions } from '../../src/image/mkdisk.js';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const MIB = 1024 * 1024;
const readFileOr = (path: string): string => {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
};
const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

/** An ext image of a small root: /boot with two kernels (the newer with an initrd), /etc/fstab. */
async function fsImage(options: { kind?: string; size?: string; boot?: boolean; fstab?: string; grubCfg?: string } = {}): Promise<{ dir: string; image: string; uuid: string }> {
  const dir = await tempDir('vmctx-mkdisk-');
  const root = join(dir, 'root');
  await mkdir(join(root, 'boot'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  if (options.boot !== false) {
    await writeFile(join(root, 'boot/vmlinuz-6.1.0-9-amd64'), 'old kernel\n');
    await writeFile(join(root, 'boot/initrd.img-6.1.0-9-amd64'), 'old initrd\n');
    await writeFile(join(root, 'boot/vmlinuz-6.1.0-10-amd64'), 'new kernel\n');
    await writeFile(join(root, 'boot/initrd.img-6.1.0-10-amd64'), 'new initrd\n');
  }
  await writeFile(join(root, 'etc/fstab'), options.fstab ?? '# /etc/fstab: static file system information.\n/dev/vda1 / ext4 errors=remount-ro 0 1\nproc /proc proc defaults 0 0\n');
  await writeFile(join(root, 'etc/hostname'), 'image\n');
  if (options.grubCfg !== undefined) {
    await mkdir(join(root, 'boot/grub'), { recursive: true });
    await writeFile(join(root, 'boot/grub/grub.cfg'), options.grubCfg);
  }
  const image = join(dir, 'fs.img');
  run('mke2fs', ['-q', '-F', '-t', options.kind ?? 'ext4', '-d', root, image, options.size ?? '48M']);
  const uuid = /UUID:\s+([0-9a-f-]{36})/u.exec(run('dumpe2fs', ['-h', image]).toString())?.[1] ?? '';
  return { dir, image, uuid };
}

function debugfsCat(image: string, path: string): string {
  return spawnSync('debugfs', ['-R', `cat ${path}`, image], { encoding: 'utf8' }).stdout;
}

interface Table {
  label: string;
  partitions: Array<{ start: number; size: number; type: string; bootable?: boolean; uuid?: string }>;
}

function sfdiskJson(disk: string): Table {
  return (JSON.parse(run('sfdisk', ['-J', disk]).toString()) as { partitiontable: Table }).partitiontable;
}

/** Cuts a partition out of the disk (sparse) so e2fsck/debugfs/mtools can read it as a file. */
function extract(disk: string, start: number, size: number, dest: string): string {
  run('dd', [`if=${disk}`, `of=${dest}`, 'bs=512', `skip=${start}`, `count=${size}`, 'conv=sparse', 'status=none']);
  return dest;
}

async function readSectors(disk: string, lba: number, count: number): Promise<Buffer> {
  const all = await readFile(disk);
  return all.subarray(lba * 512, (lba + count) * 512);
}

async function expectError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isVmctxError(error), String(error)).toBe(true);
  if (isVmctxError(error)) {
    expect(error.code).toBe(code);
    if (message !== undefined) expect(error.message).toMatch(message);
  }
}

describe('the layout and the texts', () => {
  it('MBR, both firmwares: ESP then root, 1 MiB aligned, the core in the gap before the first partition', () => {
    const l = planLayout('mbr', 'both', 48 * MIB);
    expect(l.partitions).toEqual([
      { role: 'esp', index: 1, start: 2048, sectors: 32 * 2048 },
      { role: 'root', index: 2, start: 2048 + 32 * 2048, sectors: 48 * 2048 },
    ]);
    expect(l.coreLba).toBe(1);
    expect(l.coreRoom).toBe(2047);
    expect(l.sectors).toBe(2048 + 32 * 2048 + 48 * 2048);
  });

  it('GPT, both: a BIOS boot partition holds the core; 1 MiB kept at the end for the backup table; a file system not a whole MiB is rounded up', () => {
    const l = planLayout('gpt', 'both', 48 * MIB + 4096);
    expect(l.partitions.map((p) => [p.role, p.index, p.start, p.sectors])).toEqual([['bios-boot', 1, 2048, 2048], ['esp', 2, 4096, 65536], ['root', 3, 69632, 49 * 2048]]);
    expect(l.coreLba).toBe(2048);
    expect(l.coreRoom).toBe(2048);
    expect(l.sectors).toBe(69632 + 49 * 2048 + 2048);
    for (const p of l.partitions) expect(p.start % 2048).toBe(0);
  });

  it('--boot bios on MBR is the root partition alone; uefi has no core; --size makes root fill the disk', () => {
    expect(planLayout('mbr', 'bios', 8 * MIB).partitions).toEqual([{ role: 'root', index: 1, start: 2048, sectors: 8 * 2048 }]);
    expect(planLayout('gpt', 'uefi', 8 * MIB).coreLba).toBeUndefined();
    const l = planLayout('mbr', 'bios', 8 * MIB, 100 * MIB);
    expect(l.sectors).toBe(100 * 2048);
    expect(l.partitions[0]?.sectors).toBe(99 * 2048);
  });

  it('--size smaller than the file system and the boot parts need: ERR_MKDISK_SIZE naming the least size', () => {
    // GPT: 1 MiB before, the BIOS boot partition, the 32 MiB ESP, 48 MiB, 1 MiB for the backup table
    expect(() => planLayout('gpt', 'both', 48 * MIB, 64 * MIB)).toThrow(/at least 87031808 bytes \(83 MiB\)/u);
    const error = ((): unknown => {
      try {
        return planLayout('mbr', 'both', 48 * MIB, 80 * MIB);
      } catch (e) {
        return e;
      }
    })();
    expect(isVmctxError(error, 'ERR_MKDISK_SIZE'), String(error)).toBe(true);
    expect(planLayout('mbr', 'both', 48 * MIB, 81 * MIB).sectors).toBe(81 * 2048);
  });

  it('the sfdisk script holds numbers, fixed types and the generated ids only', () => {
    const gpt = sfdiskScript(planLayout('gpt', 'both', 8 * MIB), { disk: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', root: '11111111-2222-4333-8444-555555555555' });
    expect(gpt).toBe([
      'label: gpt',
      'label-id: AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE',
      'unit: sectors',
      'first-lba: 2048',
      `last-lba: ${69632 + 8 * 2048 + 2048 - 34}`,
      'start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name=bios-boot',
      'start=4096, size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=EFI',
      'start=69632, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root, uuid=11111111-2222-4333-8444-555555555555',
      '',
    ].join('\n'));
    expect(sfdiskScript(planLayout('mbr', 'both', 8 * MIB), { disk: '0x12345678', root: 'x' })).toBe('label: dos\nlabel-id: 0x12345678\nunit: sectors\nstart=2048, size=65536, type=ef\nstart=67584, size=16384, type=83, bootable\n');
  });

  it('the newest kernel by version numbers, with its initrd; rescue and .old kernels only when nothing else', () => {
    expect(compareVersions('6.1.0-10-amd64', '6.1.0-9-amd64')).toBeGreaterThan(0);
    expect(compareVersions('5.10.0', '6.1.0')).toBeLessThan(0);
    expect(pickKernel(['vmlinuz-6.1.0-9-amd64', 'vmlinuz-6.1.0-10-amd64', 'initrd.img-6.1.0-9-amd64', 'initrd.img-6.1.0-10-amd64', 'grub'])).toEqual({ kernel: 'vmlinuz-6.1.0-10-amd64', initrd: 'initrd.img-6.1.0-10-amd64' });
    expect(pickKernel(['vmlinuz-5.14.0-362.el9.x86_64', 'initramfs-5.14.0-362.el9.x86_64.img', 'vmlinuz-0-rescue-abc', 'initramfs-0-rescue-abc.img'])).toEqual({ kernel: 'vmlinuz-5.14.0-362.el9.x86_64', initrd: 'initramfs-5.14.0-362.el9.x86_64.img' });
    expect(pickKernel(['vmlinuz-4.18.0', 'initrd-4.18.0.img', 'vmlinuz-4.19.0.old'])).toEqual({ kernel: 'vmlinuz-4.18.0', initrd: 'initrd-4.18.0.img' });
    expect(pickKernel(['vmlinuz-6.1.0'])).toEqual({ kernel: 'vmlinuz-6.1.0', initrd: undefined });
    expect(pickKernel(['config-6.1.0', 'System.map-6.1.0'])).toBeUndefined();
  });

  it('fstab: the root entry names the UUID, other lines and comments kept; an fstab without one gets it', () => {
    const uuid = '0b8f3c1e-8a0e-4a55-9d3c-2f0e9e7c0c11';
    expect(fstabWithRoot('# comment / here\n/dev/sda1\t/\text4\terrors=remount-ro\t0 1\n/dev/sda2 /home ext4 defaults 0 2\n', uuid, 'ext4')).toBe(`# comment / here\nUUID=${uuid}\t/\text4\terrors=remount-ro\t0 1\n/dev/sda2 /home ext4 defaults 0 2\n`);
    expect(fstabWithRoot('# UNCONFIGURED FSTAB FOR BASE SYSTEM\n', uuid, 'ext3')).toBe(`# UNCONFIGURED FSTAB FOR BASE SYSTEM\nUUID=${uuid}\t/\text3\terrors=remount-ro\t0\t1\n`);
    expect(fstabWithRoot(undefined, uuid, 'ext4')).toBe(`UUID=${uuid}\t/\text4\terrors=remount-ro\t0\t1\n`);
  });

  it('grub.cfg boots the kernel by the root UUID on the serial console and the screen; the early config finds that root', () => {
    const uuid = '0b8f3c1e-8a0e-4a55-9d3c-2f0e9e7c0c11';
    const cfg = grubConfig(uuid, 'vmlinuz-6.1', 'initrd.img-6.1', `root=UUID=${uuid} ro console=ttyS0`);
    expect(cfg).toContain(`\tsearch --no-floppy --fs-uuid --set=root ${uuid}\n\techo "Loading /boot/vmlinuz-6.1 ..."\n\tlinux /boot/vmlinuz-6.1 root=UUID=${uuid} ro console=ttyS0\n\tinitrd /boot/initrd.img-6.1\n`);
    expect(cfg).toMatch(/^serial --unit=0 --speed=115200\nterminal_input console serial\nterminal_output console serial\n/mu);
    expect(grubConfig(uuid, 'vmlinuz-6.1', undefined, 'x')).not.toContain('initrd');
    expect(earlyConfig(uuid)).toBe(`search --no-floppy --fs-uuid --set=root ${uuid}\nset prefix=($root)/boot/grub\n`);
    expect(() => earlyConfig('not-a-uuid; reboot')).toThrow(/not a file-system UUID/u);
  });
});

describe('GRUB placed as grub-bios-setup would (from the real grub-mkimage)', () => {
  it('the core\'s first sector is diskboot.img with the blocklist of the rest; boot.img carries the core\'s LBA and keeps the table', async () => {
    const core = await buildGrubImage('bios', '0b8f3c1e-8a0e-4a55-9d3c-2f0e9e7c0c11');
    const placed = placeCore(core, 2048);
    const sectors = Math.ceil(core.length / 512);
    expect(placed.length).toBe(sectors * 512);
    const diskboot = await readFile(join(GRUB_DIRS.bios, 'diskboot.img'));
    // everything but the blocklist area is GRUB's diskboot
    expect(placed.subarray(0, BLOCKLIST_START - 12).equals(diskboot.subarray(0, BLOCKLIST_START - 12))).toBe(true);
    expect(placed.readBigUInt64LE(500)).toBe(2049n);
    expect(placed.readUInt16LE(508)).toBe(sectors - 1);
    expect(placed.readUInt16LE(510)).toBe(CORE_LOAD_SEGMENT);
    expect(placed.subarray(488, 500).equals(Buffer.alloc(12))).toBe(true);
    expect(placed.subarray(512, core.length).equals(core.subarray(512))).toBe(true);

    const bootImg = await readFile(join(GRUB_DIRS.bios, 'boot.img'));
    const current = Buffer.alloc(512, 0xee);
    current.writeUInt16LE(0xaa55, 510);
    const mbr = bootSector(bootImg, current, 2048);
    expect(mbr.readBigUInt64LE(BOOT_KERNEL_SECTOR)).toBe(2048n);
    expect(mbr[0x64]).toBe(0xff);
    expect([...mbr.subarray(0x66, 0x68)]).toEqual([0x90, 0x90]);
    // code from boot.img; BPB, disk signature and partition table from the sector on disk
    expect(mbr.subarray(0, 3).equals(bootImg.subarray(0, 3))).toBe(true);
    expect(mbr.subarray(3, 0x5a).equals(current.subarray(3, 0x5a))).toBe(true);
    expect(mbr.subarray(0x68, 0x1b8).equals(bootImg.subarray(0x68, 0x1b8))).toBe(true);
    expect(mbr.subarray(0x1b8, 512).equals(current.subarray(0x1b8, 512))).toBe(true);
  });

  it('GRUB files missing: ERR_MKDISK_MISSING naming the Debian package, before anything is written', async () => {
    const { dir, image } = await fsImage();
    const empty = join(dir, 'no-grub');
    await mkdir(empty);
    const out = join(dir, 'out');
    await mkdir(out);
    await expectError(mkdisk({ input: image, output: join(out, 'd.raw'), boot: 'bios', grubDirs: { bios: empty, uefi: GRUB_DIRS.uefi } }), 'ERR_MKDISK_MISSING', /install Debian's grub-pc-bin package/u);
    await expectError(mkdisk({ input: image, output: join(out, 'd.raw'), boot: 'uefi', grubDirs: { bios: GRUB_DIRS.bios, uefi: empty } }), 'ERR_MKDISK_MISSING', /x86_64-efi files are missing .*grub-efi-amd64-bin/u);
    expect(await readdir(out)).toEqual([]);
  });
});

describe('mkdisk on real images', () => {
  it.each([
    ['the file system made the disk in place (fallocate --insert-range)', false],
    ['the file system copied into the disk (where insert-range cannot)', true],
  ])('MBR, both, %s: the table (sfdisk -J), a clean root file system with grub.cfg and fstab by UUID, the ESP (mdir), GRUB in the MBR gap; the input untouched', async (_how, copyFileSystem) => {
    const { dir, image, uuid } = await fsImage();
    const before = await sha(image);
    const output = join(dir, 'disk.raw');
    const r = await mkdisk({ input: image, output, copyFileSystem });
    expect(await sha(image)).toBe(before);
    expect(r.uuid).toBe(uuid);
    expect(r.kernel).toBe('vmlinuz-6.1.0-10-amd64');
    expect(r.initrd).toBe('initrd.img-6.1.0-10-amd64');
    expect(r.cmdline).toBe(`root=UUID=${uuid} ro console=tty0 console=ttyS0,115200`);
    const t = sfdiskJson(output);
    expect(t.label).toBe('dos');
    expect(t.partitions.map((p) => [p.start, p.size, p.type, p.bootable === true])).toEqual([[2048, 65536, 'ef', false], [67584, 48 * 2048, '83', true]]);
    expect((await stat(output)).size).toBe((67584 + 48 * 2048) * 512);
    // sparse: far less allocated than the disk's size
    expect((await stat(output)).blocks * 512).toBeLessThan(20 * MIB);

    const part = extract(output, 67584, 48 * 2048, join(dir, 'root.img'));
    const fsck = spawnSync('e2fsck', ['-fn', part], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    const cfg = debugfsCat(part, '/boot/grub/grub.cfg');
    expect(cfg).toContain(`\tlinux /boot/vmlinuz-6.1.0-10-amd64 root=UUID=${uuid} ro console=tty0 console=ttyS0,115200\n\tinitrd /boot/initrd.img-6.1.0-10-amd64\n`);
    expect(debugfsCat(part, '/etc/fstab')).toBe(`# /etc/fstab: static file system information.\nUUID=${uuid} / ext4 errors=remount-ro 0 1\nproc /proc proc defaults 0 0\n`);
    expect(debugfsCat(part, '/etc/hostname')).toBe('image\n');

    const esp = extract(output, 2048, 65536, join(dir, 'esp.img'));
    const mdir = spawnSync('mdir', ['-b', '-i', esp, '::/EFI/BOOT'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    expect(mdir.stdout.trim()).toBe('::/EFI/BOOT/BOOTX64.EFI');
    const efi = spawnSync('mtype', ['-i', esp, '::/EFI/BOOT/BOOTX64.EFI'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } }).stdout;
    expect(efi.subarray(0, 2).toString('latin1')).toBe('MZ');
    expect(efi.includes(Buffer.from(`search --no-floppy --fs-uuid --set=root ${uuid}`))).toBe(true);
    expect(run('file', ['-b', '-s', esp]).toString()).toMatch(/FAT \(16 bit\)/u);

    const mbr = await readSectors(output, 0, 1);
    expect(mbr.readBigUInt64LE(0x5c)).toBe(1n);
    const bootImg = await readFile(join(GRUB_DIRS.bios, 'boot.img'));
    expect(mbr.subarray(0x68, 0x1b8).equals(bootImg.subarray(0x68, 0x1b8))).toBe(true);
    const first = await readSectors(output, 1, 1);
    expect(first.readBigUInt64LE(500)).toBe(2n);
    const coreSectors = first.readUInt16LE(508) + 1;
    expect(coreSectors).toBeGreaterThan(20);
    expect(coreSectors).toBeLessThan(2047);
    expect((await readdir(dir)).filter((n) => n.includes('vmctx-'))).toEqual([]);
  });

  it('GPT, both, --size, --kernel/--initrd, gz in and out: sgdisk -v clean, the file system grown and clean, the given kernel booted', async () => {
    const { dir, image, uuid } = await fsImage({ kind: 'ext3', fstab: '# UNCONFIGURED FSTAB FOR BASE SYSTEM\n' });
    run('gzip', ['-k', image]);
    const kernel = join(dir, 'vmlinuz-7.0.0-test');
    const initrd = join(dir, 'initrd.img-7.0.0-test');
    await writeFile(kernel, 'host kernel\n');
    await writeFile(initrd, 'host initrd\n');
    const output = join(dir, 'disk.raw.gz');
    const r = await mkdisk({ input: `${image}.gz`, output, table: 'gpt', size: 256 * MIB, kernel, initrd, cmdline: 'console=ttyS0,115200 quiet' });
    expect(r.grown).toBe(true);
    expect(r.compression).toBe('gz');
    const disk = join(dir, 'disk.raw');
    await writeFile(disk, run('gzip', ['-dc', output]));
    expect((await stat(disk)).size).toBe(256 * MIB);
    const v = spawnSync('sgdisk', ['-v', disk], { encoding: 'utf8' });
    expect(v.status, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/No problems found/u);
    const t = sfdiskJson(disk);
    expect(t.label).toBe('gpt');
    expect(t.partitions.map((p) => [p.start, p.size, p.type])).toEqual([
      [2048, 2048, '21686148-6449-6E6F-744E-656564454649'],
      [4096, 65536, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'],
      [69632, 256 * 2048 - 69632 - 2048, '0FC63DAF-8483-4772-8E79-3D69D8477DE4'],
    ]);
    const root = t.partitions[2];
    if (root === undefined) throw new Error('no root partition');
    const part = extract(disk, root.start, root.size, join(dir, 'root.img'));
    const fsck = spawnSync('e2fsck', ['-fn', part], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    const dump = run('dumpe2fs', ['-h', part]).toString();
    expect(Number(/Block count:\s+(\d+)/u.exec(dump)?.[1]) * Number(/Block size:\s+(\d+)/u.exec(dump)?.[1])).toBe(root.size * 512);
    expect(dump).toContain(uuid);
    expect(debugfsCat(part, '/boot/vmlinuz-7.0.0-test')).toBe('host kernel\n');
    expect(debugfsCat(part, '/boot/initrd.img-7.0.0-test')).toBe('host initrd\n');
    expect(debugfsCat(part, '/boot/grub/grub.cfg')).toContain(`\tlinux /boot/vmlinuz-7.0.0-test root=UUID=${uuid} ro console=ttyS0,115200 quiet\n\tinitrd /boot/initrd.img-7.0.0-test\n`);
    expect(debugfsCat(part, '/etc/fstab')).toBe(`# UNCONFIGURED FSTAB FOR BASE SYSTEM\nUUID=${uuid}\t/\text3\terrors=remount-ro\t0\t1\n`);
    // GRUB's core in the BIOS boot partition, boot.img pointing at it
    const mbr = await readSectors(disk, 0, 1);
    expect(mbr.readBigUInt64LE(0x5c)).toBe(2048n);
    expect(mbr[0x1be + 4]).toBe(0xee);
    const first = await readSectors(disk, 2048, 1);
    expect(first.readBigUInt64LE(500)).toBe(2049n);
    expect(first.readUInt16LE(510)).toBe(0x820);
  });

  it('--format qcow2 (qemu-img check clean, the same bytes as the raw disk)', async () => {
    const { dir, image } = await fsImage();
    const output = join(dir, 'disk.qcow2');
    await mkdisk({ input: image, output, boot: 'bios', format: 'qcow2' });
    expect(JSON.parse(run('qemu-img', ['info', '--output=json', output]).toString())).toMatchObject({ format: 'qcow2', 'virtual-size': (2048 + 48 * 2048) * 512 });
    run('qemu-img', ['check', output]);
    const raw = join(dir, 'back.raw');
    run('qemu-img', ['convert', '-O', 'raw', output, raw]);
    expect(sfdiskJson(raw).partitions.map((p) => [p.start, p.type])).toEqual([[2048, '83']]);
  });

  it('SeaBIOS boots the disk into GRUB, which finds the root by UUID and loads the kernel grub.cfg names', async () => {
    const { dir, image } = await fsImage();
    const output = join(dir, 'disk.raw');
    await mkdisk({ input: image, output, boot: 'bios' });
    const log = join(dir, 'serial.log');
    const qemu = spawn('qemu-system-x86_64', ['-accel', 'tcg', '-m', '128', '-display', 'none', '-nic', 'none', '-no-reboot', '-serial', `file:${log}`, '-drive', `file=${output},format=raw,if=virtio`], { stdio: 'ignore' });
    let text = '';
    try {
      for (let i = 0; i < 300 && !/error: .*kernel/u.test(text); i++) {
        await new Promise((r) => setTimeout(r, 200));
        text = existsSync(log) ? (await readFile(log, 'latin1')).replace(new RegExp(String.raw`\u001b\[[0-9;]*[A-Za-z]`, 'gu'), '') : '';
      }
    } finally {
      qemu.kill('SIGKILL');
    }
    // the fake kernel ("new kernel\n") is opened and read to its end: GRUB got all the way to `linux`
    expect(text).toContain('Loading /boot/vmlinuz-6.1.0-10-amd64 ...');
    expect(text).toContain('error: premature end of file /boot/vmlinuz-6.1.0-10-amd64.');
  }, 90_000);
});

describe('mkdisk refusals: coded errors, no output, the input untouched', () => {
  const attempt = async (options: Omit<MkdiskOptions, 'output'>, dir: string, code: string, message: RegExp): Promise<void> => {
    const input = options.input;
    const before = await sha(input);
    const out = join(dir, 'out');
    await mkdir(out, { recursive: true });
    await expectError(mkdisk({ ...options, output: join(out, 'disk.raw') }), code, message);
    expect(await readdir(out)).toEqual([]);
    expect(await sha(input)).toBe(before);
  };

  it('no kernel in /boot: ERR_MKDISK_NO_KERNEL (after the copy was made and grown: all of it removed)', async () => {
    const { dir, image } = await fsImage({ boot: false });
    await attempt({ input: image, size: 200 * MIB }, dir, 'ERR_MKDISK_NO_KERNEL', /no kernel in the image's \/boot .*--kernel FILE/u);
  });

  it('not an ext file system (a vfat image, a partitioned disk): ERR_MKDISK_NOT_EXT or the image error', async () => {
    const { dir, image } = await fsImage();
    const disk = join(dir, 'made.raw');
    await mkdisk({ input: image, output: disk, boot: 'bios' });
    await attempt({ input: disk }, dir, 'ERR_MKDISK_NOT_EXT', /partitioned disk already/u);
    const vfat = join(dir, 'fat.img');
    run('mkfs.vfat', ['-C', vfat, '4096']);
    await attempt({ input: vfat }, dir, 'ERR_IMAGE', /not an ext2\/3\/4 image/u);
  });

  it('--size below what the file system needs: ERR_MKDISK_SIZE', async () => {
    const { dir, image } = await fsImage();
    await attempt({ input: image, size: 40 * MIB }, dir, 'ERR_MKDISK_SIZE', /at least/u);
  });

  it('usage: a --cmdline GRUB would read as syntax; --initrd without --kernel; qcow2 compressed', async () => {
    const { dir, image } = await fsImage();
    await attempt({ input: image, cmdline: 'console=ttyS0; reboot' }, dir, 'ERR_USAGE', /--cmdline/u);
    await attempt({ input: image, cmdline: 'a  b' }, dir, 'ERR_USAGE', /--cmdline/u);
    await attempt({ input: image, initrd: image }, dir, 'ERR_USAGE', /--initrd goes with --kernel/u);
    await attempt({ input: image, format: 'qcow2', compress: 'gz' }, dir, 'ERR_USAGE', /qcow2/u);
    await expectError(mkdisk({ input: image, output: join(dir, 'no-such-dir', 'disk.raw') }), 'ERR_USAGE', /no directory .*no-such-dir/u);
  });
});

describe('the output: never the input, never a non-file, an existing one only with --overwrite', () => {
  it('the input named another way (./, //, a symlink, a hard link): ERR_USAGE, the input untouched', async () => {
    const { dir, image } = await fsImage();
    const before = await sha(image);
    await symlink(image, join(dir, 'sym.img'));
    await link(image, join(dir, 'hard.img'));
    for (const output of [`${dir}/./fs.img`, `${dir}//fs.img`, join(dir, 'sym.img'), join(dir, 'hard.img')]) {
      await expectError(mkdisk({ input: image, output, boot: 'bios' }), 'ERR_USAGE', /that is the input itself/u);
      expect(await sha(image), output).toBe(before);
    }
    expect((await readdir(dir)).filter((n) => n.includes('vmctx-'))).toEqual([]);
    // the command, from the image's directory: `vmctx mkdisk fs.img -o ./fs.img`
    const r = spawnSync(process.execPath, [BUNDLE, 'mkdisk', 'fs.img', '-o', './fs.img', '--boot', 'bios'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ERR_USAGE: -o \.\/fs\.img: that is the input itself/u);
    expect(await sha(image)).toBe(before);
  });

  it('bake too: the input through a hard link or ./ is refused (use --in-place)', async () => {
    const { dir, image } = await fsImage();
    const before = await sha(image);
    await link(image, join(dir, 'hard.img'));
    for (const output of [join(dir, 'hard.img'), `${dir}/./fs.img`]) {
      const r = vmctx(['bake', image, '-o', output, '--node', 'system', '--bundle', BUNDLE, '--no-sysprep']);
      expect(r.code, output).toBe(2);
      expect(r.stderr).toMatch(/that is the input itself; the input is never written \(use --in-place for that\)/u);
    }
    expect(await sha(image)).toBe(before);
  });

  it('an existing file only with --overwrite; a FIFO (not a regular file) never, and stays what it was', async () => {
    const { dir, image } = await fsImage();
    const output = join(dir, 'disk.raw');
    await writeFile(output, 'keep me\n');
    await expectError(mkdisk({ input: image, output, boot: 'bios' }), 'ERR_USAGE', /exists; --overwrite to replace it/u);
    expect(await readFile(output, 'utf8')).toBe('keep me\n');
    const r = vmctx(['mkdisk', image, '-o', output, '--boot', 'bios', '--overwrite', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(sfdiskJson(output).label).toBe('dos');
    const fifo = join(dir, 'pipe');
    run('mkfifo', [fifo]);
    await expectError(mkdisk({ input: image, output: fifo, boot: 'bios', overwrite: true }), 'ERR_USAGE', /exists and is not a regular file/u);
    expect((await stat(fifo)).isFIFO()).toBe(true);
    expect((await readdir(dir)).filter((n) => n.includes('vmctx-'))).toEqual([]);
  });
});

describe('mkdisk interrupted', () => {
  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s while it works: the scratch copy is removed, no output, the process ends by the signal', async (signal, status) => {
    // 512 MiB of file system (gz): decompressing and copying it takes long enough to be interrupted
    const { dir, image } = await fsImage({ size: '512M' });
    run('gzip', [image]);
    const child = spawn(process.execPath, [BUNDLE, 'mkdisk', `${image}.gz`, '-o', join(dir, 'disk.raw'), '--boot', 'bios', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on('exit', (code, sig) => {
        resolve([code, sig]);
      });
    });
    // the marker: the scratch directory with the copy being written in it
    const scratch = async (): Promise<string[]> => (await readdir(dir)).filter((n) => n.startsWith('.disk.raw.vmctx-'));
    for (;;) {
      const s = await scratch();
      if (s.length > 0 && (await readdir(join(dir, s[0] ?? ''))).includes('fs.raw')) break;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mkdisk ended before it was interrupted: ${stderr}`);
      await new Promise((r) => setImmediate(r));
    }
    child.kill(signal);
    const [code, sig] = await ended;
    expect(sig ?? code, stderr).toBe(sig === null ? status : signal);
    expect(await scratch()).toEqual([]);
    expect(existsSync(join(dir, 'disk.raw'))).toBe(false);
    // no tool it started is left working on the removed copy (a killed one may take a moment to be reaped)
    const working = (): string[] => readdirSync('/proc').filter((p) => /^\d+$/u.test(p) && (readFileOr(`/proc/${p}/cmdline`).includes(dir)));
    for (let i = 0; i < 1000 && working().length > 0; i++) await new Promise((r) => setImmediate(r));
    expect(working()).toEqual([]);
  }, 120_000);
});

describe('an image with its own grub.cfg, and the copies into the disk', () => {
  it('the old grub.cfg is said and kept as grub.cfg.vmctx-orig (a second copy never replaces the first)', async () => {
    const { dir, image } = await fsImage({ grubCfg: 'menuentry "the author\'s" { linux /vmlinuz }\n' });
    const output = join(dir, 'disk.raw');
    const r = await mkdisk({ input: image, output, boot: 'bios' });
    expect(r.warnings).toContain(`the image's /boot/grub/grub.cfg (a file) is replaced by mkdisk's (one entry booting /boot/vmlinuz-6.1.0-10-amd64); the old one is kept as ${GRUB_CFG_KEPT}`);
    const part = extract(output, 2048, 48 * 2048, join(dir, 'root.img'));
    expect(debugfsCat(part, GRUB_CFG_KEPT)).toBe('menuentry "the author\'s" { linux /vmlinuz }\n');
    expect(debugfsCat(part, '/boot/grub/grub.cfg')).toMatch(/^# written by vmctx mkdisk/u);
    expect(spawnSync('e2fsck', ['-fn', part]).status).toBe(0);
    // the result made into a disk again: the copy there is left as it was
    const again = await mkdisk({ input: part, output: join(dir, 'again.raw'), boot: 'bios' });
    expect(again.warnings).toContain(`the image's /boot/grub/grub.cfg (a file) is replaced by mkdisk's (one entry booting /boot/vmlinuz-6.1.0-10-amd64); ${GRUB_CFG_KEPT} is there already and is left as it was`);
    const plain = await mkdisk({ input: (await fsImage()).image, output: join(dir, 'plain.raw'), boot: 'bios' });
    expect(plain.warnings.filter((w) => w.includes('grub.cfg'))).toEqual([]);
  });

  it('sparseCopyInto writes at the offset, leaves zero blocks as holes and the file\'s size alone', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src');
    const data = Buffer.alloc(3 * MIB);
    data.fill(0xab, 0, 4096);
    data.fill(0xcd, 2 * MIB, 2 * MIB + 100);
    await writeFile(src, data);
    const dest = join(dir, 'dest');
    await writeFile(dest, '');
    await truncate(dest, 8 * MIB);
    const seen: number[] = [];
    await sparseCopyInto(src, dest, MIB, (done, total) => {
      expect(total).toBe(3 * MIB);
      seen.push(done);
    });
    expect(seen.at(-1)).toBe(3 * MIB);
    const out = await readFile(dest);
    expect(out.length).toBe(8 * MIB);
    expect(out.subarray(MIB, 4 * MIB).equals(data)).toBe(true);
    expect(out.subarray(0, MIB).every((b) => b === 0)).toBe(true);
    expect((await stat(dest)).blocks * 512).toBeLessThanOrEqual(256 * 1024);
  });
});

describe('vmctx mkdisk (the command)', () => {
  it('prints the partitions and the boot line; --json; exit 4 with the code for a refusal, 2 for a bad option', async () => {
    const { dir, image, uuid } = await fsImage();
    const ok = vmctx(['mkdisk', image, '-o', join(dir, 'a.raw'), '--table', 'gpt', '--boot', 'bios']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^made .*a\.raw \(raw, 51 MiB, GPT, boot bios\) in \d+ ms\n {2}partition 1: bios-boot +sectors 2048–4095 \(1 MiB\)\n {2}partition 2: root +sectors 4096–102399 \(48 MiB\)\n/u);
    expect(ok.stdout).toContain(`root: ext4 UUID=${uuid}, 48 MiB\nkernel: /boot/vmlinuz-6.1.0-10-amd64, initrd /boot/initrd.img-6.1.0-10-amd64\n`);
    const json = vmctx(['mkdisk', image, '-o', join(dir, 'b.raw'), '--json', '--size', '64M', '--boot', 'bios']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ table: 'mbr', boot: 'bios', diskBytes: 64 * MIB, grown: true, uuid });
    const small = vmctx(['mkdisk', image, '-o', join(dir, 'c.raw'), '--size', '10M']);
    expect(small.code).toBe(4);
    expect(small.stderr).toMatch(/^vmctx: ERR_MKDISK_SIZE: /u);
    expect(existsSync(join(dir, 'c.raw'))).toBe(false);
    expect(vmctx(['mkdisk', image, '-o', join(dir, 'd.raw'), '--size', 'lots']).code).toBe(2);
    expect(vmctx(['mkdisk', image, '-o', join(dir, 'd.raw'), '--table', 'bsd']).code).toBe(2);
  });
});
