// Machine settings from cloud-config, as cloud-init's mounts, locale and ntp modules make them:
// - mounts and swap: fstab entries in a managed block of /etc/fstab (every other line kept; the
//   lines cloud-init marked "comment=cloudconfig" are taken over), mount points made, a swap file
//   made with fallocate (dd when that fails) and mkswap; live, the new mounts are mounted and the
//   swap file switched on.
// - locale: LANG= in /etc/default/locale (or /etc/locale.conf, or locale_configfile), the locale
//   enabled in /etc/locale.gen and, live, generated with locale-gen.
// - ntp: servers and pools in a drop-in for the installed client (systemd-timesyncd or chrony),
//   restarted when it runs. Installing a client (packages) is not done.
// All three run once per instance in cloud-init; here whenever their cloud-config changed, which a
// new instance id includes.
import { VmctxError } from '../../shared/errors.js';
import { markers, replaceBlock } from '../../formats/managedblock.js';
import { PLAIN_MOUNT_OPTIONS, SYSTEMD_MOUNT_OPTIONS, type CloudMount, type CloudNtp, type CloudSwap } from '../../formats/cc/machine.js';
import { onHost } from '../../host/root.js';
import type { Root } from '../../host/root.js';
import { posix } from 'node:path';
import { pathProblem, restartIfRunning, runLive, systemdRunning, tool, unitFile, unlinkIfSymlink } from './live.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';

export const FSTAB_BLOCK = markers('#');
/** What cloud-init adds to the options of every fstab line it writes. */
const CLOUD_INIT_MARK = 'comment=cloudconfig';
const GIB = 2 ** 30;
/** A swap file may take at most this share of the free space (cloud-init's bound for "auto"'s maximum). */
const SWAP_SHARE = 0.9;
/** Device names cloud-init maps from the cloud's metadata (EC2 block-device mapping). */
const META_NAME = /^(?:ami|root|swap|ephemeral\d*|ebs\d*)(?:\.\d+)?$/u;
/** Kernel disk names written without /dev/ (cloud-init's shorthand), with an optional ".N" partition. */
const SHORT_DISK = /^((?:x?[shv]d[a-z]|sr\d+))(\d*)(?:\.(\d+))?$/u;
/** host:/share (NFS and the like): mounted after the network is up (by systemd, or the init scripts), never waited for here. */
const NETWORK_SPEC = /^[^/][^:]*:/u;
const NETWORK_FS: ReadonlySet<string> = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'sshfs', 'fuse.sshfs', 'glusterfs', 'ceph', 'davfs', 'ncpfs']);

/** A mount point or swap file path vmctx may hand to mount, swapon or mkswap: only root controls the way there. */
const plainPath = (root: Root, path: string): Promise<string | undefined> => pathProblem(root, path, { rootControlled: true, lastMustBeDirectory: false });

/** The device a mounts entry names, as an fstab spec; undefined (with why) when none. */
async function resolveDevice(entry: CloudMount, target: Target): Promise<{ spec?: string; why?: string }> {
  const name = entry.device === 'ephemeral' ? 'ephemeral0' : entry.device;
  if (META_NAME.test(name)) return { why: `${name} names a disk from a cloud's block-device mapping, which vmctx's datasources do not give; skipped` };
  const short = SHORT_DISK.exec(name);
  if (short === null) return { spec: name };
  const disk = short[1] ?? '';
  // sdb1 or sdb.1: that partition
  const part = (short[2] ?? '') === '' ? short[3] : short[2];
  if (part !== undefined) return { spec: `/dev/${disk}${part}` };
  // cloud-init: a disk with a first partition means that partition (seen in /sys on the running system)
  if (target.live && (await target.root.lstat(`/sys/block/${disk}/${disk}1`)) !== undefined) return { spec: `/dev/${disk}1` };
  return { spec: `/dev/${disk}` };
}

/**
 * An fstab line of vmctx's block. Its options carry cloud-init's mark too (mount ignores comment=
 * options): were cloud-init to run on this system again, it would take these lines over as its own,
 * as vmctx takes over cloud-init's.
 */
function fstabLine(f: readonly string[]): string {
  const options = (f[3] ?? 'defaults').split(',').filter((o) => o !== CLOUD_INIT_MARK);
  return [...f.slice(0, 3), [...options, CLOUD_INIT_MARK].join(','), ...f.slice(4)].join('\t');
}

/**
 * A system file vmctx edits in place (a locale file, locale.gen, chrony.conf). A link (a careless
 * or hostile image) is followed only to a plain file of the same kind (`same` matches its name);
 * any other link is replaced by a file, never written through. A file with other hard links (it
 * could be /etc/shadow's) is read as empty: its content is never carried into a 0644 file.
 */
async function editable(root: Root, path: string, same: RegExp, out: OutcomeBuilder): Promise<{ path: string; text: string | undefined }> {
  let at = path;
  const st = await root.lstat(path);
  if (st?.type === 'symlink') {
    const link = st.linkTarget ?? '';
    const to = posix.normalize(link.startsWith('/') ? link : posix.join(posix.dirname(path), link));
    const there = await root.lstat(to);
    if (same.test(posix.basename(to)) && there?.type === 'file') at = to;
    else await unlinkIfSymlink(root, path, out);
  }
  const links = (await root.lstat(at))?.nlink ?? 1;
  if (links > 1) {
    out.warnings.push(`${at} has ${links} hard links; its content is not carried over`);
    return { path: at, text: undefined };
  }
  return { path: at, text: await root.readText(at, { maxBytes: 1 << 20 }) };
}

/** The systemd mount unit of a mount point (what `systemd-escape --path --suffix=mount` prints). */
export function mountUnit(point: string): string {
  const trimmed = point.replace(/^\/+|\/+$/gu, '');
  if (trimmed === '') return '-.mount';
  let name = '';
  for (const [i, byte] of [...Buffer.from(trimmed, 'utf8')].entries()) {
    const c = String.fromCharCode(byte);
    if (c === '/') name += '-';
    else if (/[A-Za-z0-9:_]/u.test(c) || (c === '.' && i > 0)) name += c;
    else name += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${name}.mount`;
}

/** Memory in bytes from /proc/meminfo (the running system only). */
async function memTotal(root: Root): Promise<number | undefined> {
  const text = await root.readText('/proc/meminfo', { maxBytes: 65536 });
  const kb = /^MemTotal:\s+(\d+)\s*kB/mu.exec(text ?? '')?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** Free bytes (for an unprivileged user, as root's reserve is not counted) and the file system type at a directory. */
async function freeSpace(target: Target, dir: string): Promise<{ avail: number; type: string }> {
  const r = await tool(target, 'stat', ['-f', '-c', '%a %S %T', onHost(target.root, dir)], { rootFlag: false });
  // a dry run records stat and gives no answer: the plan goes on as if there were room
  if (target.dryRun === true && r.stdout.trim() === '') return { avail: Number.MAX_SAFE_INTEGER, type: '?' };
  const [blocks, size, type] = r.stdout.trim().split(/\s+/u);
  const avail = Number(blocks) * Number(size);
  if (!Number.isFinite(avail)) throw new VmctxError('ERR_MODULE', `stat -f ${dir}: unexpected output`);
  return { avail, type: type ?? '?' };
}

/** cloud-init's "auto" size: memory-based (all of it under 4 GiB, 4 GiB under 16, √GiB above), bounded by free space. */
export function autoSwapSize(mem: number, avail: number, maxsize: number | undefined): number {
  let max = maxsize === undefined ? Math.min(Math.floor(avail / 4), mem * 2) : maxsize;
  if (max > avail * SWAP_SHARE) max = Math.floor(avail * SWAP_SHARE);
  const want = mem < 4 * GIB ? mem : mem < 16 * GIB ? 4 * GIB : Math.round(Math.sqrt(mem / GIB)) * GIB;
  return Math.min(want, max);
}

/** Makes the swap file; returns its fstab line, or undefined (with a warning) when there is none. */
async function makeSwap(swap: CloudSwap, target: Target, out: OutcomeBuilder): Promise<string[] | undefined> {
  const { root } = target;
  const file = swap.filename;
  const dir = file.slice(0, file.lastIndexOf('/')) || '/';
  const line = [file, 'none', 'swap', 'sw', '0', '0'];
  const problem = await plainPath(root, file);
  if (problem !== undefined) {
    out.warnings.push(`${swap.where}: ${problem}; no swap file made through it`);
    return undefined;
  }
  const st = await root.lstat(file);
  if (st !== undefined) {
    // cloud-init keeps a swap file that is there (and in use); a file of another kind is never reused
    if (st.type !== 'file' || st.nlink > 1) {
      out.warnings.push(`${swap.where}: ${file} exists and is not a plain file; no swap file`);
      return undefined;
    }
    // only root's own file, closed to everyone else: another user's file (or one they can read or
    // write) would hold root's memory where they can read it; it is never chowned or chmodded into use
    if (st.uid !== 0 || (st.mode & 0o7077) !== 0) {
      out.warnings.push(`${swap.where}: ${file} exists, owned by uid ${st.uid} with mode ${(st.mode & 0o7777).toString(8)} (a swap file must be root's, 0600, with one link); not used, nothing changed in it`);
      return undefined;
    }
    if (typeof swap.size === 'number' && st.size !== swap.size) out.warnings.push(`${swap.where}: ${file} exists with ${st.size} bytes (not ${swap.size}); kept as it is`);
    return line;
  }
  if (dir !== '/') await root.ensureDir(dir, { mode: 0o755 });
  const { avail, type } = await freeSpace(target, dir);
  let size: number;
  if (swap.size === 'auto') {
    const mem = target.live ? await memTotal(root) : undefined;
    if (mem === undefined) {
      out.warnings.push(`${swap.where}: size "auto" needs the running system's memory size; no swap file (give a size)`);
      return undefined;
    }
    size = autoSwapSize(mem, avail, swap.maxsize);
  } else size = swap.size;
  const mib = Math.floor(size / 2 ** 20);
  if (mib < 1) {
    out.warnings.push(`${swap.where}: a swap file of ${size} bytes is under 1 MiB; none made`);
    return undefined;
  }
  if (size > avail * SWAP_SHARE) {
    out.warnings.push(`${swap.where}: a swap file of ${mib} MiB would take over ${Math.round(SWAP_SHARE * 100)}% of the ${Math.floor(avail / 2 ** 20)} MiB free in ${dir}; refused`);
    return undefined;
  }
  const bytes = mib * 2 ** 20;
  const host = onHost(root, file);
  // made empty by Root (0600, never through a link), then grown in place
  if (!(await root.createExclusive(file, '', 0o600))) throw new VmctxError('ERR_MODULE', `${file} appeared while the swap file was being made`);
  try {
    // btrfs: a swap file must not be copy-on-write, set while it is empty
    if (type === 'btrfs') await tool(target, 'chattr', ['+C', host], { rootFlag: false });
    try {
      await tool(target, 'fallocate', ['-l', String(bytes), host], { rootFlag: false, timeoutMs: 120_000 });
    } catch {
      // file systems without fallocate (or xfs on old kernels) get the zeros written
      await tool(target, 'dd', ['if=/dev/zero', `of=${host}`, 'bs=1M', `count=${mib}`, 'conv=notrunc'], { rootFlag: false, timeoutMs: 600_000 });
    }
    await tool(target, 'mkswap', [host], { rootFlag: false });
  } catch (error) {
    await root.remove(file);
    throw error;
  }
  out.changedIf(file, true);
  out.actions.push(`swap file ${file} of ${mib} MiB made`);
  return line;
}

/** Whether `path` is in the running system's list of active swap areas. */
async function swapActive(root: Root, path: string): Promise<boolean> {
  const text = (await root.readText('/proc/swaps', { maxBytes: 1 << 20 })) ?? '';
  return text.split('\n').some((l) => l.split(/\s+/u)[0] === path);
}

async function mountedAt(root: Root): Promise<Set<string>> {
  const text = (await root.readText('/proc/self/mounts', { maxBytes: 4 << 20 })) ?? '';
  return new Set(text.split('\n').map((l) => (l.split(' ')[1] ?? '').replaceAll('\\040', ' ')));
}

export const mountsModule: Module = {
  id: 'mounts',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'cloud-config mounts and swap: fstab entries in a managed block of /etc/fstab, mount points, a swap file',
  isRelevant: (ctx) => ctx.cloudConfig?.mounts !== undefined || ctx.cloudConfig?.swap !== undefined,
  inputs: (ctx) => ({ mounts: ctx.cloudConfig?.mounts ?? null, swap: ctx.cloudConfig?.swap ?? null }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const mounts = ctx.cloudConfig?.mounts;
    const swap = ctx.cloudConfig?.swap;
    const systemd = (await root.lstat('/etc/systemd/system')) !== undefined || (await root.lstat('/run/systemd/system')) !== undefined;
    const links = (await root.lstat('/etc/fstab'))?.nlink ?? 1;
    if ((await root.lstat('/etc/fstab'))?.type === 'symlink') throw new VmctxError('ERR_PATH_SYMLINK', '/etc/fstab is a symlink; not writing mounts through it');
    if (links > 1) throw new VmctxError('ERR_UNSAFE_FILE', `/etc/fstab has ${links} hard links; not writing mounts into it`);
    const before = (await root.readText('/etc/fstab')) ?? '';
    // lines cloud-init wrote outside the block (it rewrites them each time): taken over by the block
    const kept: string[] = [];
    let takenOver = 0;
    let inBlock = false;
    for (const line of before.split('\n')) {
      if (line.trimEnd() === FSTAB_BLOCK.begin) inBlock = true;
      else if (line.trimEnd() === FSTAB_BLOCK.end) inBlock = false;
      if (!inBlock && line.includes(CLOUD_INIT_MARK) && !line.trimStart().startsWith('#')) takenOver++;
      else kept.push(line);
    }
    if (takenOver > 0) out.actions.push(`${takenOver} fstab line(s) cloud-init wrote ("${CLOUD_INIT_MARK}") replaced by vmctx's block`);
    // the image's own entries: the lines outside vmctx's block
    const outside = replaceBlock(kept.join('\n'), FSTAB_BLOCK, [], undefined, '/etc/fstab').split('\n');
    const others = outside.filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')).map((l) => l.trim().split(/\s+/u));
    const block: string[] = [];
    const toMount: Array<{ point: string; network: boolean }> = [];
    for (const entry of mounts?.entries ?? []) {
      const { spec, why } = await resolveDevice(entry, target);
      if (spec === undefined) {
        out.warnings.push(`${entry.where}: ${why ?? 'no device'}`);
        continue;
      }
      const swapEntry = entry.type === 'swap';
      // the image's own line for the same mount point (or swap device) stays, and wins
      const clash = others.find((f) => (swapEntry ? f[0] === spec && f[2] === 'swap' : f[1] === entry.mountPoint));
      if (clash !== undefined) {
        out.warnings.push(`${entry.where}: /etc/fstab already has "${clash.join(' ').slice(0, 120)}" for ${swapEntry ? spec : entry.mountPoint}; skipped`);
        continue;
      }
      if (!swapEntry) {
        const kind = (await root.lstat(entry.mountPoint))?.type;
        if (kind !== undefined && kind !== 'directory' && kind !== 'symlink') {
          out.warnings.push(`${entry.where}: mount point ${entry.mountPoint} is not a directory; skipped`);
          continue;
        }
        const problem = await plainPath(root, entry.mountPoint);
        if (problem !== undefined) {
          out.warnings.push(`${entry.where}: mount point ${entry.mountPoint}: ${problem}; skipped (a mount through a link could land anywhere)`);
          continue;
        }
        out.changedIf(entry.mountPoint, await root.ensureDir(entry.mountPoint, { mode: 0o755 }));
        const options = entry.options ?? (systemd ? SYSTEMD_MOUNT_OPTIONS : PLAIN_MOUNT_OPTIONS);
        block.push(fstabLine([spec, entry.mountPoint, entry.type, options, entry.freq, entry.passno]));
        if (!options.split(',').includes('noauto')) toMount.push({ point: entry.mountPoint, network: NETWORK_SPEC.test(spec) || NETWORK_FS.has(entry.type) || options.split(',').includes('_netdev') });
      } else block.push(fstabLine([spec, 'none', 'swap', entry.options ?? 'sw', entry.freq, entry.passno]));
    }
    let swapLine: string[] | undefined;
    if (swap !== undefined) {
      swapLine = await makeSwap(swap, target, out);
      if (swapLine !== undefined && others.some((f) => f[0] === swap.filename)) swapLine = undefined; // the image's own line for it stays
      if (swapLine !== undefined) block.push(fstabLine(swapLine));
    }
    const next = replaceBlock(kept.join('\n'), FSTAB_BLOCK, block, undefined, '/etc/fstab');
    out.changedIf('/etc/fstab', (await root.writeFile('/etc/fstab', next, { mode: 0o644 })).changed);
    if (target.live && target.dryRun !== true) {
      // only the new entries (mount -a would also mount what the image left unmounted)
      const mounted = await mountedAt(root);
      const pending = toMount.filter((p) => !mounted.has(p.point));
      if (await systemdRunning(target)) {
        // systemd makes mount units of the new lines; started without waiting, each mounts when its
        // device appears (or the network is up) and after vmctx's stage, never holding up the boot
        if (out.changed.includes('/etc/fstab')) await runLive(target, out, [['systemctl', ['daemon-reload']]]);
        if (pending.length > 0) await runLive(target, out, [['systemctl', ['--no-block', 'start', ...pending.map((p) => mountUnit(p.point))]]]);
      } else {
        // without systemd: local disks now; network shares are the init scripts' (netfs), after the network
        for (const p of pending.filter((e) => !e.network)) await runLive(target, out, [['mount', [p.point]]]);
      }
      if (swap !== undefined && swapLine !== undefined && !(await swapActive(root, swap.filename))) await runLive(target, out, [['swapon', [swap.filename]]]);
    }
    out.details = { fstabEntries: block.length, takenOver };
    log.info({ entries: block.length, swap: swapLine !== undefined }, 'mounts');
    return out.build();
  },
};

/** Sets KEY=value in a shell-variable file (VAR=value lines), keeping every other line. */
export function setVariable(text: string, key: string, value: string): string {
  const lines = text === '' ? [] : text.replace(/\n$/u, '').split('\n');
  const re = new RegExp(`^\\s*${key}=`, 'u');
  const first = lines.findIndex((l) => re.test(l));
  // the first assignment set, later ones (which would win) dropped
  const out = lines.flatMap((l, i) => (i === first ? [`${key}=${value}`] : re.test(l) ? [] : [l]));
  if (first < 0) out.push(`${key}=${value}`);
  return `${out.join('\n')}\n`;
}

/** The line of /usr/share/i18n/SUPPORTED (or /etc/locale.gen) for a locale name: "en_US.UTF-8 UTF-8". */
export function supportedLine(list: string, name: string): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/utf-?8/u, 'utf8');
  const lines = list.split('\n').map((l) => l.replace(/^#\s*/u, '').trim()).filter((l) => /^\S+\s+\S+$/u.test(l));
  return lines.find((l) => norm(l.split(/\s+/u)[0] ?? '') === norm(name)) ?? (name.includes('.') ? undefined : lines.find((l) => norm(l.split(/\s+/u)[0] ?? '') === norm(`${name}.UTF-8`)));
}

export const localeModule: Module = {
  id: 'locale',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'cloud-config locale: LANG= in /etc/default/locale (or /etc/locale.conf), the locale enabled in /etc/locale.gen and generated',
  isRelevant: (ctx) => ctx.cloudConfig?.locale !== undefined,
  inputs: (ctx) => ctx.cloudConfig?.locale ?? null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const locale = ctx.cloudConfig?.locale;
    if (locale === undefined) return out.build();
    const { root } = target;
    const { name } = locale;
    const plain = /^(c|posix|c\.utf-?8)$/iu.test(name);
    let genChanged = false;
    if (!plain) {
      const supported = await root.readText('/usr/share/i18n/SUPPORTED', { maxBytes: 1 << 20 });
      const genFile = await editable(root, '/etc/locale.gen', /^locale\.gen$/u, out);
      const gen = genFile.text;
      const line = supportedLine(supported ?? '', name) ?? (gen === undefined ? undefined : supportedLine(gen, name));
      if (line === undefined) out.warnings.push(`${locale.where}: ${name} is not in /usr/share/i18n/SUPPORTED${gen === undefined ? '' : ' or /etc/locale.gen'}; set, but it may not exist on this system`);
      if (line !== undefined && gen !== undefined) {
        // enabled (uncommented, or added) in locale.gen; the other locales stay as they are
        const lines = gen.replace(/\n$/u, '').split('\n');
        const idx = lines.findIndex((l) => l.replace(/^#\s*/u, '').trim().replace(/\s+/gu, ' ') === line.replace(/\s+/gu, ' '));
        if (idx >= 0 && lines[idx] !== line) lines[idx] = line;
        if (idx < 0) lines.push(line);
        const r = await root.writeFile(genFile.path, `${lines.join('\n')}\n`, { mode: 0o644 });
        out.changedIf(genFile.path, r.changed);
        genChanged = r.changed;
      }
    }
    const debianLike = (await root.lstat('/etc/default/locale')) !== undefined || (await root.lstat('/etc/debian_version')) !== undefined;
    const file = locale.configFile ?? (debianLike ? '/etc/default/locale' : '/etc/locale.conf');
    const edit = await editable(root, file, /locale|i18n|language/iu, out);
    out.changedIf(edit.path, (await root.writeFile(edit.path, setVariable(edit.text ?? '', 'LANG', name), { mode: 0o644 })).changed);
    if (genChanged) {
      if (target.live) await runLive(target, out, [['locale-gen', ['--keep-existing']], ['locale-gen', []]], 300_000);
      else out.warnings.push(`${locale.where}: ${name} enabled in /etc/locale.gen; locale-gen cannot run in an offline root, so it is generated when locale-gen next runs in the guest`);
    }
    log.info({ locale: name, file }, 'locale set');
    return out.build();
  },
};

/** Where each client is installed in a root. */
const CLIENT_PROGRAMS: Readonly<Record<string, readonly string[]>> = {
  chrony: ['/usr/sbin/chronyd', '/usr/bin/chronyd', '/sbin/chronyd'],
  'systemd-timesyncd': ['/usr/lib/systemd/systemd-timesyncd', '/lib/systemd/systemd-timesyncd'],
  ntp: ['/usr/sbin/ntpd', '/usr/bin/ntpd'],
  ntpdate: ['/usr/sbin/ntpdate', '/usr/bin/ntpdate'],
  openntpd: ['/usr/sbin/openntpd'],
};
/** cloud-init's preference when ntp_client is auto. */
const PREFERRED = ['chrony', 'systemd-timesyncd', 'ntp', 'ntpdate'] as const;
export const TIMESYNCD_DROPIN = '/etc/systemd/timesyncd.conf.d/vmctx.conf';
export const CHRONY_SOURCES = '/etc/chrony/sources.d/vmctx.sources';
const CHRONY_CONFS = ['/etc/chrony/chrony.conf', '/etc/chrony.conf'];
const CHRONY_BLOCK = markers('#');

async function installed(root: Root, client: string): Promise<boolean> {
  for (const p of CLIENT_PROGRAMS[client] ?? []) if ((await root.lstat(p)) !== undefined) return true;
  return false;
}

export function timesyncdDropIn(ntp: CloudNtp): string {
  return `# written by vmctx from cloud-config ntp\n[Time]\nNTP=${[...ntp.servers, ...ntp.pools].join(' ')}\n`;
}

export function chronyLines(ntp: CloudNtp): string[] {
  return [...ntp.pools.map((p) => `pool ${p} iburst`), ...ntp.servers.map((s) => `server ${s} iburst`), ...ntp.peers.map((p) => `peer ${p}`), ...ntp.allow.map((a) => `allow ${a}`)];
}

async function applyChrony(ntp: CloudNtp, target: Target, out: OutcomeBuilder): Promise<void> {
  const { root } = target;
  let conf: string | undefined;
  let confPath: string | undefined;
  for (const p of CHRONY_CONFS) {
    if ((await root.lstat(p)) === undefined) continue;
    ({ path: confPath, text: conf } = await editable(root, p, /^chrony\.conf$/u, out));
    break;
  }
  const sourcedir = conf !== undefined && /^\s*sourcedir\s+\/etc\/chrony\/sources\.d\/?\s*$/mu.test(conf);
  const sources = [...ntp.pools.map((p) => `pool ${p} iburst`), ...ntp.servers.map((s) => `server ${s} iburst`)];
  const rest = [...ntp.peers.map((p) => `peer ${p}`), ...ntp.allow.map((a) => `allow ${a}`)];
  if (sourcedir && rest.length === 0) {
    // a sources file holds only sources (server, pool, peer); chronyc reload sources picks it up
    await root.ensureDir('/etc/chrony/sources.d', { mode: 0o755 });
    out.changedIf(CHRONY_SOURCES, (await root.writeFile(CHRONY_SOURCES, `# written by vmctx from cloud-config ntp\n${sources.join('\n')}\n`, { mode: 0o644, noFollow: true })).changed);
  } else {
    const path = confPath ?? '/etc/chrony/chrony.conf';
    const next = replaceBlock(conf ?? '', CHRONY_BLOCK, chronyLines(ntp), undefined, path);
    out.changedIf(path, (await root.writeFile(path, next, { mode: 0o644 })).changed);
  }
  // cloud-init writes the whole chrony.conf: the image's own server/pool lines go. Here they stay.
  if (conf !== undefined && /^\s*(server|pool)\s/mu.test(conf)) out.warnings.push(`${ntp.where}: ${confPath ?? 'chrony.conf'} has its own server or pool lines; they stay in use beside the ones given (cloud-init would replace the file)`);
  if (out.changed.length > 0) await restartIfRunning(target, out, ['chrony.service', 'chronyd.service'], ['chrony', 'chronyd']);
}

export const ntpModule: Module = {
  id: 'ntp',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'cloud-config ntp: servers and pools in a systemd-timesyncd or chrony drop-in, the client restarted when it runs',
  isRelevant: (ctx) => ctx.cloudConfig?.ntp?.enabled === true,
  inputs: (ctx) => ctx.cloudConfig?.ntp ?? null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const ntp = ctx.cloudConfig?.ntp;
    if (ntp?.enabled !== true) return out.build();
    const { root } = target;
    let client: string | undefined;
    if (ntp.client === 'auto') {
      for (const c of PREFERRED) {
        if (await installed(root, c)) {
          client = c;
          break;
        }
      }
      if (client === undefined) {
        out.warnings.push(`${ntp.where}: no NTP client installed; cloud-init would install one (packages not supported)`);
        return out.build();
      }
    } else {
      client = ntp.client;
      if (!(await installed(root, client))) {
        out.warnings.push(`${ntp.where}: ntp_client ${client} is not installed; cloud-init would install it (packages not supported)`);
        return out.build();
      }
    }
    if (client !== 'chrony' && client !== 'systemd-timesyncd') {
      out.warnings.push(`${ntp.where}: ntp_client ${client} is not supported by vmctx (chrony and systemd-timesyncd are); nothing written`);
      return out.build();
    }
    if (ntp.servers.length + ntp.pools.length === 0) {
      out.warnings.push(`${ntp.where}: no servers or pools given; ${client}'s own configuration is kept (cloud-init would write its distribution's pool.ntp.org pools)`);
      if (client === 'systemd-timesyncd' || ntp.peers.length + ntp.allow.length === 0) return out.build();
    }
    if (client === 'systemd-timesyncd') {
      if (ntp.peers.length + ntp.allow.length > 0) out.warnings.push(`${ntp.where}: peers and allow are chrony's; systemd-timesyncd has no such settings, ignored`);
      await root.ensureDir('/etc/systemd/timesyncd.conf.d', { mode: 0o755 });
      out.changedIf(TIMESYNCD_DROPIN, (await root.writeFile(TIMESYNCD_DROPIN, timesyncdDropIn(ntp), { mode: 0o644, noFollow: true })).changed);
      if (out.changed.length > 0 && (await unitFile(root, 'systemd-timesyncd.service')) !== undefined) await restartIfRunning(target, out, ['systemd-timesyncd.service'], []);
    } else await applyChrony(ntp, target, out);
    log.info({ client, servers: ntp.servers.length, pools: ntp.pools.length }, 'ntp');
    return out.build();
  },
};
