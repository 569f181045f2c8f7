// More first-boot hygiene: a machine id of its own for every instance (a clone must not keep its
// parent's), the root file system grown to its disk (GROW_ROOTFS, GROW_FS), and the Eucalyptus
// ephemeral disk mounted when it carries a file system (never formatted).
import { randomBytes } from 'node:crypto';
import { VmctxError } from '../../shared/errors.js';
import { onHost, type Root } from '../../host/root.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { tool } from './live.js';
import { ensureOwnDir } from '../../host/owndir.js';

const MACHINE_ID = /^[0-9a-f]{32}$/u;
export const MACHINE_ID_MARKER = '/var/lib/vmctx/machine-id.instance';
export const EPHEMERAL_MOUNT = '/media/ephemeral0';

export const machineIdModule: Module = {
  id: 'machine-id',
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: 'a new /etc/machine-id when the image has none or a clone inherited its parent\'s',
  isRelevant: () => true,
  inputs: () => null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const current = ((await root.readText('/etc/machine-id', { maxBytes: 4096 })) ?? '').trim();
    const seen = ((await root.readText(MACHINE_ID_MARKER, { maxBytes: 4096 })) ?? '').trim().split(' ');
    const [seenInstance, seenId] = [seen[0] ?? '', seen[1] ?? ''];
    const inherited = seenInstance !== '' && seenInstance !== ctx.instanceId && seenId === current;
    let id = current;
    if (!MACHINE_ID.test(current) || inherited) {
      id = randomBytes(16).toString('hex');
      out.changedIf('/etc/machine-id', (await root.writeFile('/etc/machine-id', `${id}\n`, { mode: 0o444 })).changed);
      // D-Bus keeps its own copy on older systems; a link to /etc/machine-id needs nothing
      if ((await root.lstat('/var/lib/dbus/machine-id'))?.type === 'file') out.changedIf('/var/lib/dbus/machine-id', (await root.writeFile('/var/lib/dbus/machine-id', `${id}\n`, { mode: 0o444 })).changed);
      log.info({ reason: inherited ? 'clone' : 'missing' }, 'new machine id');
      if (target.live) out.warnings.push('the new machine id is used by systemd and the journal from the next boot on');
    }
    out.warnings.push(...(await ensureOwnDir(root, '/var/lib/vmctx', 0o700)).map((r) => `repaired: ${r}`));
    await root.writeFile(MACHINE_ID_MARKER, `${ctx.instanceId} ${id}\n`, { mode: 0o600, noFollow: true });
    return out.build();
  },
};

const no = (v: string | undefined): boolean => /^(no|n|false|0|off)$/iu.test((v ?? '').trim());

/** Mount points to grow: "/" unless GROW_ROOTFS=NO, plus GROW_FS's list (absolute paths only). */
export function growTargets(v: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  if (!no(v['GROW_ROOTFS'])) out.push('/');
  for (const w of (v['GROW_FS'] ?? '').split(/\s+/u)) {
    if (/^\/[A-Za-z0-9._/-]*$/u.test(w) && !w.split('/').includes('..') && !out.includes(w)) out.push(w.length > 1 ? w.replace(/\/+$/u, '') : w);
  }
  return out;
}

export interface MountEntry {
  readonly majorMinor: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** /proc/self/mountinfo → entries (the last mount on a point wins, as the kernel shows it). */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const unescape = (s: string): string => s.replace(/\\([0-7]{3})/gu, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ majorMinor: left[2] ?? '', mountPoint: unescape(left[4] ?? ''), fsType: right[0] ?? '', source: unescape(right[1] ?? '') });
  }
  return out;
}

/** The kernel name of the block device behind a mount (via its major:minor, so /dev/root works too). */
async function blockName(root: Root, entry: MountEntry): Promise<string | undefined> {
  const link = await root.lstat(`/sys/dev/block/${entry.majorMinor}`);
  const name = link?.linkTarget?.split('/').at(-1);
  return name !== undefined && /^[A-Za-z0-9._-]+$/u.test(name) ? name : undefined;
}

const GROWERS: Readonly<Record<string, (dev: string, mountPoint: string) => readonly [string, readonly string[]]>> = {
  ext2: (dev) => ['resize2fs', [dev]],
  ext3: (dev) => ['resize2fs', [dev]],
  ext4: (dev) => ['resize2fs', [dev]],
  xfs: (_dev, mp) => ['xfs_growfs', [mp]],
};

/** Live-only tools: no -R, a longer deadline (a resize can take a while), some non-zero codes allowed. */
/** Less room than this left on the device is not worth growing into (partition alignment leaves up to 1 MiB). */
const GROW_SLACK = 1024 * 1024;

/**
 * The file system's size from its superblock (ext2/3/4: block count × block size; XFS: data
 * blocks × block size), from the first 2 KiB of the device; undefined for anything else.
 */
export function fileSystemBytes(fsType: string, head: Uint8Array): number | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (/^ext[234]$/u.test(fsType) && b.length >= 2048 && b.readUInt16LE(1024 + 0x38) === 0xef53) {
    const blockSize = 1024 * 2 ** b.readUInt32LE(1024 + 24);
    const hi = (b.readUInt32LE(1024 + 0x60) & 0x80) !== 0 ? b.readUInt32LE(1024 + 0x150) : 0;
    return (hi * 2 ** 32 + b.readUInt32LE(1024 + 4)) * blockSize;
  }
  if (fsType === 'xfs' && b.length >= 16 && b.toString('latin1', 0, 4) === 'XFSB') return Number(b.readBigUInt64BE(8)) * b.readUInt32BE(4);
  return undefined;
}

/** The file system on /dev/NAME already fills it (within GROW_SLACK); false when that cannot be told. */
async function fillsDevice(target: Target, fsType: string, name: string): Promise<boolean> {
  const sectors = Number((await target.root.readText(`/sys/class/block/${name}/size`, { maxBytes: 4096 }))?.trim());
  if (!Number.isSafeInteger(sectors) || sectors <= 0) return false;
  // the device itself is read through the Target's machine: no Target machine, no answer
  const head = await target.machine?.readHead(onHost(target.root, `/dev/${name}`), 2048);
  if (head === undefined) return false;
  const fsBytes = fileSystemBytes(fsType, head);
  return fsBytes !== undefined && fsBytes > 0 && sectors * 512 - fsBytes < GROW_SLACK;
}

const run = (target: Target, program: string, args: readonly string[], okCodes: readonly number[] = [0]): ReturnType<typeof tool> => tool(target, program, args, { rootFlag: false, okCodes, timeoutMs: 120_000 });

export const growFsModule: Module = {
  id: 'grow-fs',
  stage: 'local',
  frequency: 'per-boot',
  onInterrupted: 'rerun',
  liveOnly: true,
  description: 'grow the root file system (and GROW_FS mount points) to fill their disk: growpart, then resize2fs or xfs_growfs',
  isRelevant: (ctx) => growTargets(ctx.variables).length > 0,
  inputs: (ctx) => growTargets(ctx.variables),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    if (!target.live) return out.build();
    const mounts = parseMountInfo((await target.root.readText('/proc/self/mountinfo', { maxBytes: 4 * 1024 * 1024 })) ?? '');
    for (const mp of growTargets(ctx.variables)) {
      const entry = mounts.filter((m) => m.mountPoint === mp).at(-1);
      if (entry === undefined) {
        out.warnings.push(`GROW_FS: ${mp} is not a mount point`);
        continue;
      }
      const grower = GROWERS[entry.fsType];
      if (grower === undefined) {
        out.warnings.push(`GROW_FS: ${mp} is ${entry.fsType}; vmctx grows ext2/3/4 and xfs only`);
        continue;
      }
      const name = await blockName(target.root, entry);
      if (name === undefined) {
        out.warnings.push(`GROW_FS: no block device found for ${mp}`);
        continue;
      }
      const partition = (await target.root.readText(`/sys/class/block/${name}/partition`, { maxBytes: 4096 }))?.trim();
      if (partition !== undefined && /^\d+$/u.test(partition)) {
        const parent = (await target.root.lstat(`/sys/class/block/${name}`))?.linkTarget?.split('/').at(-2);
        if (parent !== undefined && /^[A-Za-z0-9._-]+$/u.test(parent)) {
          if ((await target.exec.which('growpart')) === undefined) out.warnings.push(`GROW_FS: growpart is not installed; /dev/${name} keeps its partition size`);
          else {
            // growpart exits 1 with NOCHANGE when the partition already fills the disk
            const r = await run(target, 'growpart', [`/dev/${parent}`, partition], [0, 1]);
            if (r.code === 0) out.actions.push(`growpart /dev/${parent} ${partition}`);
            else if (!/NOCHANGE/u.test(r.stdout + r.stderr)) throw new VmctxError('ERR_MODULE', `growpart /dev/${parent} ${partition}: ${(r.stdout + r.stderr).trim().slice(0, 200)}`);
          }
        }
      }
      // already filling its device (every boot after the first): no program to start
      if (await fillsDevice(target, entry.fsType, name)) continue;
      const [program, args] = grower(`/dev/${name}`, mp);
      const r = await run(target, program, args);
      if (!/Nothing to do|already/iu.test(r.stdout + r.stderr)) {
        out.actions.push(`${program} ${args.join(' ')}`);
        log.info({ mountPoint: mp, device: name }, 'file system grown');
      }
    }
    return out.build();
  },
};

/** Device names the metadata gives (sda2) as this guest may have them (xvda2, vda2, sda2). */
export function deviceCandidates(name: string): string[] {
  const m = /^(sd|xvd|vd|hd)([a-z]+\d*)$/u.exec(name);
  if (m === null) return [name];
  const rest = m[2] ?? '';
  return [...new Set([name, `xvd${rest}`, `vd${rest}`, `sd${rest}`])];
}

export const ephemeralModule: Module = {
  id: 'ephemeral',
  needs: ['network'],
  stage: 'local',
  frequency: 'per-boot',
  onInterrupted: 'rerun',
  liveOnly: true,
  description: 'mount the ephemeral disk the metadata names at /media/ephemeral0 when it carries a file system (never formats it)',
  isRelevant: (ctx) => /^[a-z][a-z0-9]{1,15}$/u.test(ctx.variables['EPHEMERAL0_DEVICE'] ?? ''),
  inputs: (ctx) => ctx.variables['EPHEMERAL0_DEVICE'] ?? null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    if (!target.live) return out.build();
    const wanted = ctx.variables['EPHEMERAL0_DEVICE'] ?? '';
    let device: string | undefined;
    for (const c of deviceCandidates(wanted)) {
      if ((await target.root.lstat(`/dev/${c}`))?.type === 'other') {
        device = c;
        break;
      }
    }
    if (device === undefined) {
      out.warnings.push(`the ephemeral disk ${wanted} is not in this guest (looked for ${deviceCandidates(wanted).map((c) => `/dev/${c}`).join(', ')})`);
      return out.build();
    }
    const mounts = parseMountInfo((await target.root.readText('/proc/self/mountinfo', { maxBytes: 4 * 1024 * 1024 })) ?? '');
    const sysName = (await target.root.lstat(`/sys/class/block/${device}`)) === undefined ? undefined : device;
    const devNumber = sysName === undefined ? undefined : (await target.root.readText(`/sys/class/block/${sysName}/dev`, { maxBytes: 4096 }))?.trim();
    const mountedAt = mounts.filter((m) => m.source === `/dev/${device}` || (devNumber !== undefined && m.majorMinor === devNumber));
    if (mountedAt.some((m) => m.mountPoint === EPHEMERAL_MOUNT)) return out.build();
    if (mountedAt.length > 0) {
      out.warnings.push(`/dev/${device} is already mounted at ${mountedAt.map((m) => m.mountPoint).join(', ')}; not mounting it again`);
      return out.build();
    }
    // blkid exits 2 when it finds no file system: the disk is left alone, never formatted
    const probe = await run(target, 'blkid', ['-p', '-o', 'value', '-s', 'TYPE', `/dev/${device}`], [0, 2]);
    const fsType = probe.stdout.trim();
    if (probe.code !== 0 || !/^[a-z0-9]{2,16}$/u.test(fsType)) {
      out.warnings.push(`/dev/${device} carries no file system vmctx recognises; left as it is (never formatted)`);
      return out.build();
    }
    await target.root.ensureDir('/media', { mode: 0o755 });
    await target.root.ensureDir(EPHEMERAL_MOUNT, { mode: 0o755 });
    await run(target, 'mount', ['-t', fsType, '-o', 'nodev,nosuid', `/dev/${device}`, EPHEMERAL_MOUNT]);
    out.actions.push(`mount /dev/${device} (${fsType}) on ${EPHEMERAL_MOUNT}`);
    log.info({ device, fsType }, 'ephemeral disk mounted');
    return out.build();
  },
};
