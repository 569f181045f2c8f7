// `vmctx mkdisk`: a bootable whole-disk image from an ext2/3/4 file-system image (as EC2 and
// Eucalyptus ship them: no partition table, no boot loader), rootless — no loop device, no mount,
// no VM. The file system is copied (decompressed) next to the output, grown with resize2fs when
// --size asks, given a kernel, /boot/grub/grub.cfg and a root entry in /etc/fstab through libext2fs,
// then laid into a sparse disk file behind a partition table written by sfdisk; GRUB goes in as
// grub-install would put it (grub.ts), an EFI system partition is made with mkfs.vfat and mtools.
// The input is only read; the output appears (renamed) only when everything succeeded.
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, ftruncateSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join } from 'node:path';
import { VmctxError } from '../shared/errors.js';
import { HostExec } from '../host/exec.js';
import { FileDisk } from './disk.js';
import { checkComplete, checkWritable, parseSuperblock, type Superblock } from './extimage.js';
import { mountImage } from './mount.js';
import { ImageRoot } from './imageroot.js';
import type { ProgressSink } from './progress.js';
import { compress, decompressTo, imageCompression, type Compression } from './compression.js';
import { checkInput, checkOutput, outOfRoom } from './files.js';
import { SparseWriter } from './sparsewriter.js';
import { onInterrupt, reraise } from '../shared/interrupt.js';
import { GRUB_DIRS, SECTOR, bootSector, buildGrubImage, checkGrubModules, placeCore } from './grub.js';

export type PartitionTable = 'mbr' | 'gpt';
export type BootMode = 'bios' | 'uefi' | 'both';
export type DiskFormat = 'raw' | 'qcow2';

export interface MkdiskOptions {
  readonly input: string;
  readonly output: string;
  /** The whole disk's size in bytes (rounded up to MiB); default: the file system plus the boot parts. */
  readonly size?: number | undefined;
  readonly table?: PartitionTable | undefined;
  readonly boot?: BootMode | undefined;
  /** A kernel (and initrd) on this host to copy into /boot; default: the newest in the image's /boot. */
  readonly kernel?: string | undefined;
  readonly initrd?: string | undefined;
  /** Kernel arguments after `root=UUID=… ro`. */
  readonly cmdline?: string | undefined;
  readonly format?: DiskFormat | undefined;
  /** Compression of a raw output (default: from the output's name, .gz/.bz2/.zip). */
  readonly compress?: Compression | undefined;
  readonly zipEntry?: string | undefined;
  readonly force?: boolean | undefined;
  /** Replace an output file that exists (never the input, never anything but a regular file). */
  readonly overwrite?: boolean | undefined;
  readonly progress?: ProgressSink | undefined;
  /** Copy the file system into the disk even where fallocate --insert-range works (tests). */
  readonly copyFileSystem?: boolean | undefined;
  /** Where GRUB's files are (tests point these elsewhere). */
  readonly grubDirs?: { readonly bios: string; readonly uefi: string } | undefined;
}

export interface Partition {
  readonly role: 'bios-boot' | 'esp' | 'root';
  readonly index: number;
  /** First sector and number of sectors (512 bytes). */
  readonly start: number;
  readonly sectors: number;
}

export interface DiskLayout {
  readonly table: PartitionTable;
  readonly partitions: readonly Partition[];
  /** The disk's size in sectors. */
  readonly sectors: number;
  /** Where the GRUB i386-pc core goes (undefined: no BIOS boot). */
  readonly coreLba: number | undefined;
  /** Sectors the core may take there. */
  readonly coreRoom: number;
}

export interface MkdiskResult {
  readonly output: string;
  readonly table: PartitionTable;
  readonly boot: BootMode;
  readonly format: DiskFormat;
  readonly compression: Compression;
  readonly diskBytes: number;
  readonly fsKind: string;
  readonly fsBytes: number;
  readonly grown: boolean;
  readonly uuid: string;
  readonly kernel: string;
  readonly initrd: string | undefined;
  readonly cmdline: string;
  readonly partitions: readonly Partition[];
  readonly warnings: readonly string[];
  readonly durationMs: number;
}

export const DEFAULT_CMDLINE = 'console=tty0 console=ttyS0,115200';
const MIB = 1024 * 1024;
const MIB_SECTORS = MIB / SECTOR;
/** The EFI system partition: room for BOOTX64.EFI (about 1 MiB) many times over, FAT16. */
export const ESP_MIB = 32;
const TYPES = {
  mbr: { 'bios-boot': '', esp: 'ef', root: '83' },
  gpt: { 'bios-boot': '21686148-6449-6E6F-744E-656564454649', esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', root: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
} as const;
const TOOL_DEADLINE_MS = 6 * 3600_000;
/** Kernel arguments: words of letters, digits and = , . _ : / + @ - (nothing GRUB's shell would read as syntax). */
const CMDLINE = /^[A-Za-z0-9=,._:/+@-]+( [A-Za-z0-9=,._:/+@-]+)*$/u;
const FILE_NAME = /^[A-Za-z0-9._+-]{1,200}$/u;

const host = new HostExec();

/** The tools mkdisk runs, and the Debian package each comes from. */
const TOOLS: Record<string, string> = { sfdisk: 'fdisk', resize2fs: 'e2fsprogs', e2fsck: 'e2fsprogs', 'grub-mkimage': 'grub-common', 'mkfs.vfat': 'dosfstools', mmd: 'mtools', mcopy: 'mtools', 'qemu-img': 'qemu-utils' };

async function tool(name: string): Promise<string> {
  const path = await host.which(name);
  if (path === undefined) throw new VmctxError('ERR_MKDISK_MISSING', `${name} is not installed: install Debian's ${TOOLS[name] ?? name} package`);
  return path;
}

interface ToolOptions {
  readonly stdin?: string;
  readonly env?: Record<string, string>;
  readonly okCodes?: readonly number[];
  /** Aborted (SIGINT/SIGTERM): the tool is killed before its files are removed. */
  readonly signal: AbortSignal;
}

async function runTool(name: string, args: readonly string[], options: ToolOptions): Promise<string> {
  const path = await tool(name);
  const r = await host.run(path, args, { timeoutMs: TOOL_DEADLINE_MS, signal: options.signal, ...(options.stdin === undefined ? {} : { stdin: options.stdin }), ...(options.env === undefined ? {} : { env: options.env }) });
  if (!(options.okCodes ?? [0]).includes(r.code ?? -1)) throw new VmctxError('ERR_MKDISK_TOOL', `${name} exited with ${r.code ?? r.signal ?? '?'}: ${(r.stderr.trim() || r.stdout.trim()).slice(0, 400)}`);
  return r.stdout;
}

/**
 * Where everything goes, 1 MiB aligned. MBR: [ESP (0xEF)] root (0x83, active); BIOS's core in the
 * gap after the MBR. GPT: [BIOS boot partition for the core] [ESP] root, 1 MiB left at the end for
 * the backup table. `fsSectors` is what the file system needs; `diskBytes`, when given, makes the
 * root partition take the rest of the disk.
 */
export function planLayout(table: PartitionTable, boot: BootMode, fsBytes: number, diskBytes?: number): DiskLayout {
  const bios = boot !== 'uefi';
  const uefi = boot !== 'bios';
  const parts: Partition[] = [];
  let next = MIB_SECTORS;
  if (table === 'gpt' && bios) {
    parts.push({ role: 'bios-boot', index: parts.length + 1, start: next, sectors: MIB_SECTORS });
    next += MIB_SECTORS;
  }
  if (uefi) {
    parts.push({ role: 'esp', index: parts.length + 1, start: next, sectors: ESP_MIB * MIB_SECTORS });
    next += ESP_MIB * MIB_SECTORS;
  }
  const tail = table === 'gpt' ? MIB_SECTORS : 0;
  const needed = Math.ceil(fsBytes / MIB) * MIB_SECTORS;
  let rootSectors = needed;
  if (diskBytes !== undefined) {
    const disk = Math.ceil(diskBytes / MIB) * MIB_SECTORS;
    rootSectors = disk - next - tail;
    if (rootSectors < needed) {
      const least = (next + needed + tail) * SECTOR;
      throw new VmctxError('ERR_MKDISK_SIZE', `--size ${diskBytes} bytes is smaller than the disk needs: the file system is ${fsBytes} bytes, so the disk must be at least ${least} bytes (${Math.ceil(least / MIB)} MiB) with this table and boot`, { details: { least } });
    }
  }
  parts.push({ role: 'root', index: parts.length + 1, start: next, sectors: rootSectors });
  const bootPart = parts.find((p) => p.role === 'bios-boot');
  const firstStart = parts[0]?.start ?? MIB_SECTORS;
  return {
    table,
    partitions: parts,
    sectors: next + rootSectors + tail,
    coreLba: !bios ? undefined : bootPart !== undefined ? bootPart.start : 1,
    coreRoom: bootPart !== undefined ? bootPart.sectors : firstStart - 1,
  };
}

/** The sfdisk script for a layout: numbers, fixed type codes and generated ids only. */
export function sfdiskScript(layout: DiskLayout, ids: { disk: string; root: string }): string {
  const lines = [layout.table === 'mbr' ? 'label: dos' : 'label: gpt', `label-id: ${ids.disk}`, 'unit: sectors'];
  if (layout.table === 'gpt') lines.push(`first-lba: ${MIB_SECTORS}`, `last-lba: ${layout.sectors - 34}`);
  for (const p of layout.partitions) {
    const fields = [`start=${p.start}`, `size=${p.sectors}`, `type=${TYPES[layout.table][p.role]}`];
    if (layout.table === 'mbr' && p.role === 'root') fields.push('bootable');
    if (layout.table === 'gpt') {
      fields.push(`name=${p.role === 'bios-boot' ? 'bios-boot' : p.role === 'esp' ? 'EFI' : 'root'}`);
      if (p.role === 'root') fields.push(`uuid=${ids.root}`);
    }
    lines.push(fields.join(', '));
  }
  return `${lines.join('\n')}\n`;
}

function guid(): string {
  const h = randomBytes(16);
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x40;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`.toUpperCase();
}

/** The file system's UUID (s_uuid, 16 bytes at 0x68 of the superblock), as blkid and GRUB write it. */
export function fsUuid(superblock: Buffer): string {
  const x = superblock.subarray(0x68, 0x78).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Compares version strings by their numbers (6.1.0-10 after 6.1.0-9). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/(\d+)/u);
  const pb = b.split(/(\d+)/u);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    if (i % 2 === 1 && x !== '' && y !== '') return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return 0;
}

/** The newest vmlinuz-VERSION in a /boot listing, with its initrd (initrd.img-V, initrd-V.img, initramfs-V.img). */
export function pickKernel(names: readonly string[]): { kernel: string; initrd: string | undefined } | undefined {
  const versions = names.filter((n) => n.startsWith('vmlinuz-') && FILE_NAME.test(n) && !n.endsWith('.old')).map((n) => n.slice('vmlinuz-'.length));
  // a rescue kernel (RHEL's vmlinuz-0-rescue-…) is never the one to boot when another is there
  const usual = versions.filter((v) => !v.includes('rescue'));
  const newest = (usual.length > 0 ? usual : versions).sort(compareVersions).at(-1);
  if (newest === undefined) return undefined;
  const initrd = [`initrd.img-${newest}`, `initrd-${newest}.img`, `initramfs-${newest}.img`].find((n) => names.includes(n));
  return { kernel: `vmlinuz-${newest}`, initrd };
}

/** /boot/grub/grub.cfg: serial and screen, one entry booting the root by UUID. */
export function grubConfig(uuid: string, kernel: string, initrd: string | undefined, args: string): string {
  return [
    '# written by vmctx mkdisk: boots the root file system by its UUID',
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    'set default=0',
    'set timeout=1',
    `menuentry "${kernel}" {`,
    `\tsearch --no-floppy --fs-uuid --set=root ${uuid}`,
    `\techo "Loading /boot/${kernel} ..."`,
    `\tlinux /boot/${kernel} ${args}`,
    ...(initrd === undefined ? [] : [`\tinitrd /boot/${initrd}`]),
    '}',
    '',
  ].join('\n');
}

/** /etc/fstab with its root entry naming the file system by UUID (the other lines kept as they are). */
export function fstabWithRoot(current: string | undefined, uuid: string, fsKind: string): string {
  const lines = (current ?? '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  let found = false;
  const out: string[] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/u);
    if (found || line.trim().startsWith('#') || fields.length < 2 || fields[1] !== '/') out.push(line);
    else {
      found = true;
      out.push(line.replace(/^(\s*)\S+/u, `$1UUID=${uuid}`));
    }
  }
  if (!found) out.push(`UUID=${uuid}\t/\t${fsKind}\terrors=remount-ro\t0\t1`);
  return `${out.join('\n')}\n`;
}

/** Copies `src` into `dest` at `offset` through the sparse writer (all-zero 64 KiB blocks left as holes, the free space watched). */
export async function sparseCopyInto(src: string, dest: string, offset: number, report?: (done: number, total: number) => void): Promise<void> {
  const total = statSync(src).size;
  await pipeline(createReadStream(src, { highWaterMark: 4 * MIB }), new SparseWriter(dest, report === undefined ? undefined : (done) => {
    report(done, total);
  }, { at: offset }));
}

/** Inserts `bytes` of holes at the start of the file (FALLOC_FL_INSERT_RANGE); false where the file system cannot. */
async function insertInFront(path: string, bytes: number): Promise<boolean> {
  const fallocate = await host.which('fallocate');
  if (fallocate === undefined) return false;
  const r = await host.run(fallocate, ['--insert-range', '--offset', '0', '--length', String(bytes), path], { timeoutMs: 60_000 });
  return r.code === 0;
}

function readSector(path: string, lba: number, count = 1): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(count * SECTOR);
    readSync(fd, buf, 0, buf.length, lba * SECTOR);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function writeAt(path: string, data: Buffer, position: number): void {
  const fd = openSync(path, 'r+');
  try {
    for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
  } finally {
    closeSync(fd);
  }
}

function outputCompression(output: string): Compression {
  if (output.endsWith('.gz')) return 'gz';
  if (output.endsWith('.bz2')) return 'bz2';
  if (output.endsWith('.zip')) return 'zip';
  return 'raw';
}

export const GRUB_CFG = '/boot/grub/grub.cfg';
export const GRUB_CFG_KEPT = '/boot/grub/grub.cfg.vmctx-orig';

/**
 * The image's own grub.cfg, about to be replaced by mkdisk's: kept beside it as grub.cfg.vmctx-orig
 * (its entries, a distribution's or the author's, are not lost; update-grub ignores the copy), and
 * said. A copy made by an earlier run is left as it is.
 */
async function keepGrubConfig(image: ImageRoot, kernel: string): Promise<string[]> {
  const st = await image.lstat(GRUB_CFG);
  if (st === undefined) return [];
  const replaced = `the image's ${GRUB_CFG} (a ${st.type}) is replaced by mkdisk's (one entry booting /boot/${kernel})`;
  if (st.type !== 'file') return [`${replaced}; it was not a regular file, so no copy is kept`];
  if ((await image.lstat(GRUB_CFG_KEPT)) !== undefined) return [`${replaced}; ${GRUB_CFG_KEPT} is there already and is left as it was`];
  const old = await image.readFile(GRUB_CFG, { maxBytes: 16 * MIB });
  if (old === undefined) return [];
  await image.writeFile(GRUB_CFG_KEPT, old, { mode: st.mode });
  return [`${replaced}; the old one is kept as ${GRUB_CFG_KEPT}`];
}

/** Reads a file of this host named by an option (a usage error when it cannot be read). */
async function hostFile(option: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new VmctxError('ERR_USAGE', `${option} ${path}: cannot be read (${(error as Error).message})`);
  }
}

export async function mkdisk(options: MkdiskOptions): Promise<MkdiskResult> {
  const t0 = Date.now();
  const progress = options.progress;
  const step = (text: string): void => progress?.step(text);
  const table = options.table ?? 'mbr';
  const boot = options.boot ?? 'both';
  const format = options.format ?? 'raw';
  const compression = options.compress ?? outputCompression(options.output);
  const cmdline = options.cmdline ?? DEFAULT_CMDLINE;
  const grubDirs = options.grubDirs ?? GRUB_DIRS;
  const warnings: string[] = [];
  if (!CMDLINE.test(cmdline)) throw new VmctxError('ERR_USAGE', `--cmdline ${JSON.stringify(cmdline.slice(0, 80))}: words of letters, digits and = , . _ : / + @ - only, one space between them`);
  if (format === 'qcow2' && compression !== 'raw') throw new VmctxError('ERR_USAGE', 'a qcow2 disk is not compressed again: leave --compress out (or name the output without .gz/.bz2/.zip)');
  if (options.initrd !== undefined && options.kernel === undefined) throw new VmctxError('ERR_USAGE', '--initrd goes with --kernel');
  for (const [option, path] of [['--kernel', options.kernel], ['--initrd', options.initrd]] as const) {
    if (path !== undefined && !FILE_NAME.test(basename(path))) throw new VmctxError('ERR_USAGE', `${option} ${path}: the file's name goes into /boot and grub.cfg: letters, digits and . _ + - only`);
  }
  checkInput(options.input);
  checkOutput(options.input, options.output, options.overwrite === true);
  if (statSync(dirname(options.output), { throwIfNoEntry: false })?.isDirectory() !== true) throw new VmctxError('ERR_USAGE', `-o ${options.output}: no directory ${dirname(options.output)}`);
  // everything needed is there before any work: the tools and GRUB's files
  for (const name of ['sfdisk', 'e2fsck', 'resize2fs', 'grub-mkimage', ...(boot === 'bios' ? [] : ['mkfs.vfat', 'mmd', 'mcopy']), ...(format === 'qcow2' ? ['qemu-img'] : [])]) await tool(name);
  if (boot !== 'uefi') checkGrubModules('bios', grubDirs.bios);
  if (boot !== 'bios') checkGrubModules('uefi', grubDirs.uefi);
  const kernelBytes = options.kernel === undefined ? undefined : await hostFile('--kernel', options.kernel);
  const initrdBytes = options.initrd === undefined ? undefined : await hostFile('--initrd', options.initrd);

  const inKind = imageCompression(options.input);
  // SIGINT/SIGTERM: the scratch directory (a whole copy of the file system) goes, then the process
  let scratch: string | undefined;
  const stop = new AbortController();
  const runIn = (name: string, args: readonly string[], options: Omit<ToolOptions, 'signal'> = {}): Promise<string> => runTool(name, args, { ...options, signal: stop.signal });
  const interrupts = onInterrupt((signal) => {
    // the running tool first (its open file would keep the space), then the scratch directory
    stop.abort();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    reraise(signal);
  });
  try {
    scratch = await mkdtemp(join(dirname(options.output), `.${basename(options.output)}.vmctx-`));
  } catch (error) {
    interrupts();
    throw error;
  }
  const fsFile = join(scratch, 'fs.raw');
  // what was checked at the start is checked again just before the rename (it may have changed meanwhile)
  const place = async (made: string): Promise<void> => {
    checkOutput(options.input, options.output, options.overwrite === true);
    await rename(made, options.output);
  };
  try {
    warnings.push(...(await decompressTo(options.input, inKind, fsFile, { progress, zipEntry: options.zipEntry })));
    const head = readSector(fsFile, 2, 2);
    let sb: Superblock | undefined = parseSuperblock(head);
    if (sb === undefined) {
      const mbr = readSector(fsFile, 0);
      const partitioned = mbr.readUInt16LE(510) === 0xaa55;
      throw new VmctxError('ERR_MKDISK_NOT_EXT', `${options.input} is not an ext2/3/4 file-system image${partitioned ? ' (it is a partitioned disk already: bake it as it is)' : ''}`);
    }
    checkComplete({ offset: 0, superblock: sb, where: 'whole image' }, statSync(fsFile).size);
    warnings.push(...checkWritable(sb, options.force === true));
    const uuid = fsUuid(head);
    if (/^[0-]+$/u.test(uuid)) throw new VmctxError('ERR_MKDISK_NOT_EXT', 'the file system has no UUID (all zeros); give it one first: tune2fs -U random');
    const fsBytes = sb.blocks * sb.blockSize;
    const layout = planLayout(table, boot, fsBytes, options.size);
    const root = layout.partitions.find((p) => p.role === 'root');
    if (root === undefined) throw new VmctxError('ERR_MKDISK_SIZE', 'no root partition in the layout');
    const rootBytes = root.sectors * SECTOR;
    // only --size grows it: without, the partition is the file system rounded up to a MiB
    const grown = options.size !== undefined && rootBytes - fsBytes >= sb.blockSize;
    step(`${sb.kind} file system, ${Math.round(fsBytes / MIB)} MiB, UUID ${uuid}`);
    if (grown) {
      step(`growing the file system to ${Math.round(rootBytes / MIB)} MiB (resize2fs on the copy)`);
      // resize2fs wants a checked file system; -p fixes only what is safe and says so otherwise
      await runIn('e2fsck', ['-f', '-p', fsFile], { okCodes: [0, 1] });
      await runIn('resize2fs', [fsFile, `${Math.floor(rootBytes / 1024)}K`]);
      sb = parseSuperblock(readSector(fsFile, 2, 2));
      if (sb === undefined) throw new VmctxError('ERR_MKDISK_TOOL', 'resize2fs left no superblock');
    }

    // the boot loaders first: a failure there costs no disk writes
    step('building GRUB');
    const core = boot === 'uefi' ? undefined : await buildGrubImage('bios', uuid, grubDirs.bios);
    const efi = boot === 'bios' ? undefined : await buildGrubImage('uefi', uuid, grubDirs.uefi);
    const bootImg = boot === 'uefi' ? undefined : await readFile(join(grubDirs.bios, 'boot.img'));
    if (core !== undefined && Math.ceil(core.length / SECTOR) > layout.coreRoom) throw new VmctxError('ERR_MKDISK_GRUB', `GRUB's core image is ${core.length} bytes: more than the ${layout.coreRoom} sectors before the first partition`);

    step('writing /boot/grub/grub.cfg and /etc/fstab');
    const disk = FileDisk.open(fsFile, 'write');
    let kernel: string;
    let initrd: string | undefined;
    try {
      const mounted = await mountImage(disk, { offset: 0, superblock: sb, where: 'whole image' });
      try {
        const image = new ImageRoot(mounted.fs, options.input);
        if (kernelBytes !== undefined && options.kernel !== undefined) {
          kernel = basename(options.kernel);
          await image.writeFile(`/boot/${kernel}`, kernelBytes, { mode: 0o644 });
          initrd = options.initrd === undefined ? undefined : basename(options.initrd);
          if (initrd !== undefined && initrdBytes !== undefined) await image.writeFile(`/boot/${initrd}`, initrdBytes, { mode: 0o644 });
        } else {
          const picked = pickKernel((await image.readdir('/boot')) ?? []);
          if (picked === undefined) throw new VmctxError('ERR_MKDISK_NO_KERNEL', `no kernel in the image's /boot (no vmlinuz-VERSION): give one with --kernel FILE [--initrd FILE]`);
          kernel = picked.kernel;
          initrd = picked.initrd;
          if ((await image.lstat(`/boot/${kernel}`))?.type !== 'file') throw new VmctxError('ERR_MKDISK_NO_KERNEL', `/boot/${kernel} is not a regular file`);
        }
        if (initrd === undefined) warnings.push(`no initrd for ${kernel}: the kernel itself must find the root by UUID (most distribution kernels need their initrd for root=UUID=)`);
        const args = `root=UUID=${uuid} ro ${cmdline}`;
        warnings.push(...(await keepGrubConfig(image, kernel)));
        await image.writeFile(GRUB_CFG, grubConfig(uuid, kernel, initrd, args), { mode: 0o644 });
        await image.writeFile('/etc/fstab', fstabWithRoot(await image.readText('/etc/fstab'), uuid, sb.kind), { mode: 0o644 });
      } finally {
        await mounted.umount();
      }
      await disk.flush();
    } finally {
      disk.close();
    }

    // the file system becomes the disk: the space before its partition inserted in front of it
    // (fallocate --insert-range: no data moves, ext4 and XFS); elsewhere it is copied, holes kept
    let diskFile = fsFile;
    if (options.copyFileSystem === true || !(await insertInFront(fsFile, root.start * SECTOR))) {
      diskFile = join(scratch, 'disk.raw');
      const fd = openSync(diskFile, 'w', 0o644);
      closeSync(fd);
      const label = 'copying the file system into its partition';
      progress?.step(label);
      await sparseCopyInto(fsFile, diskFile, root.start * SECTOR, progress === undefined ? undefined : (done, total) => {
        progress.bytes(label, done, total);
      });
      await rm(fsFile);
    }
    const fd = openSync(diskFile, 'r+');
    try {
      ftruncateSync(fd, layout.sectors * SECTOR);
    } finally {
      closeSync(fd);
    }
    step(`partitioning (${table.toUpperCase()}): ${layout.partitions.map((p) => `${p.index} ${p.role} ${Math.round((p.sectors * SECTOR) / MIB)} MiB`).join(', ')}`);
    const ids = { disk: table === 'mbr' ? `0x${randomBytes(4).toString('hex')}` : guid(), root: guid() };
    // never wipe: the root partition already holds its file system
    await runIn('sfdisk', ['--no-reread', '--no-tell-kernel', '--quiet', '--wipe', 'never', '--wipe-partitions', 'never', diskFile], { stdin: sfdiskScript(layout, ids) });

    const esp = layout.partitions.find((p) => p.role === 'esp');
    if (esp !== undefined && efi !== undefined) {
      step('making the EFI system partition (mkfs.vfat, mtools)');
      const espFile = join(scratch, 'esp.vfat');
      const efiFile = join(scratch, 'BOOTX64.EFI');
      await runIn('mkfs.vfat', ['-C', '-n', 'EFI', espFile, String((esp.sectors * SECTOR) / 1024)]);
      await writeFile(efiFile, efi);
      const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', MTOOLS_SKIP_CHECK: '1' };
      await runIn('mmd', ['-i', espFile, '::/EFI', '::/EFI/BOOT'], { env });
      await runIn('mcopy', ['-i', espFile, efiFile, '::/EFI/BOOT/BOOTX64.EFI'], { env });
      await sparseCopyInto(espFile, diskFile, esp.start * SECTOR);
    }
    if (core !== undefined && bootImg !== undefined && layout.coreLba !== undefined) {
      step(`GRUB i386-pc: boot.img in the MBR, the core (${Math.ceil(core.length / SECTOR)} sectors) at sector ${layout.coreLba}`);
      writeAt(diskFile, placeCore(core, layout.coreLba), layout.coreLba * SECTOR);
      writeAt(diskFile, bootSector(bootImg, readSector(diskFile, 0), layout.coreLba), 0);
    }

    if (format === 'qcow2') {
      step('converting to qcow2 (qemu-img)');
      const q = join(scratch, 'disk.qcow2');
      await runIn('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', diskFile, q]);
      await place(q);
    } else if (compression !== 'raw') {
      step(`compressing (${compression})`);
      const c = join(scratch, `disk.${compression}`);
      await compress(diskFile, compression, c, basename(options.output).replace(/\.(gz|bz2|zip)$/u, ''), progress);
      await place(c);
    } else {
      await place(diskFile);
    }
    return { output: options.output, table, boot, format, compression, diskBytes: layout.sectors * SECTOR, fsKind: sb.kind, fsBytes: sb.blocks * sb.blockSize, grown, uuid, kernel, initrd, cmdline: `root=UUID=${uuid} ro ${cmdline}`, partitions: layout.partitions, warnings, durationMs: Date.now() - t0 };
  } catch (error) {
    throw outOfRoom(error, options.output);
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    interrupts();
  }
}
