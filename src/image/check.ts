// `vmctx bake --check IMAGE`: lints an image without changing it (opened through an in-memory
// overlay): the Tycoon image requirements and the publishing hygiene items, as ok/warn/FAIL rows.
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Root } from '../host/root.js';
import { accountsWithFixedPasswords } from './sysprep.js';
import { FileDisk } from './disk.js';
import { checkComplete, locateFileSystem } from './extimage.js';
import { ImageRoot } from './imageroot.js';
import { BUNDLE_PATH } from './install.js';
import { decompressTo, imageCompression, type DecompressOptions } from './compression.js';
import { checkInput } from './files.js';
import { mountImage } from './mount.js';
import { securettyStatus, serialLoginStatus } from './consoles.js';

export interface CheckItem {
  readonly status: 'ok' | 'warn' | 'FAIL';
  readonly item: string;
  readonly detail: string;
}

const exists = async (root: Root, p: string): Promise<boolean> => (await root.lstat(p)) !== undefined;

async function anyExists(root: Root, paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) if (await exists(root, p)) return p;
  return undefined;
}

/** RHEL, CentOS, Fedora, Rocky, Alma, Oracle …: /etc/redhat-release, or os-release's ID/ID_LIKE. */
async function rhelFamily(root: Root): Promise<string | undefined> {
  if ((await root.lstat('/etc/redhat-release')) !== undefined) return '/etc/redhat-release';
  const osRelease = (await root.readText('/etc/os-release', { maxBytes: 64 * 1024 }).catch(() => undefined)) ?? (await root.readText('/usr/lib/os-release', { maxBytes: 64 * 1024 }).catch(() => undefined)) ?? '';
  const ids = osRelease.split('\n').filter((l) => /^(ID|ID_LIKE)=/u.test(l)).join(' ');
  return /\b(rhel|fedora|centos)\b/u.test(ids) ? '/etc/os-release' : undefined;
}

/**
 * Tycoon's RHEL-family network files. /etc/sysconfig/network is read by the initscripts' network
 * service (which stops without it) and by many scripts: FAIL where the image uses network-scripts,
 * warn where NetworkManager keyfiles took over (RHEL 9). ifcfg-eth0/eth1: warn when missing — vmctx
 * writes them at boot from the context; an image without vmctx needs them to come up on the net.
 */
async function rhelNetworkRows(root: Root): Promise<CheckItem[]> {
  const family = await rhelFamily(root);
  if (family === undefined) return [{ status: 'ok', item: 'RHEL network files', detail: 'not a RHEL-family image: not needed' }];
  const scripts = (await root.lstat('/etc/sysconfig/network-scripts'))?.type === 'directory';
  const rows: CheckItem[] = [];
  const network = await root.lstat('/etc/sysconfig/network');
  rows.push(network !== undefined
    ? { status: 'ok', item: '/etc/sysconfig/network', detail: `present (RHEL family: ${family})` }
    : { status: scripts ? 'FAIL' : 'warn', item: '/etc/sysconfig/network', detail: scripts ? 'missing: the network service of initscripts does not start without it' : 'missing (no network-scripts: NetworkManager keyfiles; some tools still read it)' });
  for (const nic of ['eth0', 'eth1']) {
    const path = `/etc/sysconfig/network-scripts/ifcfg-${nic}`;
    const st = await root.lstat(path);
    rows.push(st !== undefined
      ? { status: 'ok', item: `ifcfg-${nic}`, detail: path }
      : { status: 'warn', item: `ifcfg-${nic}`, detail: `${path}: missing (vmctx writes it at boot from the context; an image without vmctx would not configure ${nic})` });
  }
  return rows;
}

/** The ELF class (32 or 64) and machine of the image's /sbin/init, else its libc (links followed inside the image). */
async function elfClass(root: Root): Promise<{ bits: 32 | 64; machine: number; path: string } | undefined> {
  const libcs = ['/lib/i386-linux-gnu/libc.so.6', '/lib/libc.so.6', '/lib64/libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/libc.so.6'];
  for (const path of ['/sbin/init', ...libcs]) {
    const elf = await root.readFile(path, { head: 64 }).catch(() => undefined);
    if (elf === undefined || elf.length < 20 || elf.readUInt32BE(0) !== 0x7f454c46) continue;
    const machine = elf[5] === 2 ? elf.readUInt16BE(18) : elf.readUInt16LE(18);
    if (elf[4] === 1) return { bits: 32, machine, path };
    if (elf[4] === 2) return { bits: 64, machine, path };
  }
  return undefined;
}

/**
 * libc6-xen: on a 32-bit x86 Xen PV guest glibc's TLS accesses through negative segment offsets
 * trap into the hypervisor; /etc/ld.so.conf.d/libc6-xen.conf ("hwcap 1 nosegneg") picks the
 * libraries built without them. A warning, not a failure: the package is gone from current
 * distributions and HVM/PVH guests do not need it.
 */
async function libc6XenStatus(root: Root): Promise<{ status: CheckItem['status']; detail: string }> {
  const elf = await elfClass(root);
  if (elf === undefined) return { status: 'warn', detail: 'cannot tell whether the image is 32-bit (no ELF /sbin/init or libc)' };
  if (elf.bits === 64) return { status: 'ok', detail: `64-bit image (${elf.path}): not needed` };
  if (elf.machine !== 0x03) return { status: 'ok', detail: `32-bit, not x86 (${elf.path}): not needed` };
  if ((await root.lstat('/etc/ld.so.conf.d/libc6-xen.conf')) !== undefined) return { status: 'ok', detail: '32-bit x86 image: /etc/ld.so.conf.d/libc6-xen.conf present' };
  return { status: 'warn', detail: `32-bit x86 image (${elf.path}) without /etc/ld.so.conf.d/libc6-xen.conf: slow TLS on a 32-bit Xen PV host (install libc6-xen); HVM/PVH guests do not need it` };
}

export async function checkRoot(root: Root, fsKind: string): Promise<CheckItem[]> {
  const out: CheckItem[] = [];
  const add = (status: CheckItem['status'], item: string, detail: string): void => {
    out.push({ status, item, detail });
  };
  add(fsKind === 'ext3' ? 'ok' : 'warn', 'file system', fsKind === 'ext3' ? 'ext3' : `${fsKind} (Tycoon asks for ext3)`);
  const sshd = await anyExists(root, ['/usr/sbin/sshd', '/usr/bin/sshd']);
  add(sshd === undefined ? 'FAIL' : 'ok', 'OpenSSH server', sshd ?? 'no sshd in /usr/sbin');
  const present = async (p: string, why: string): Promise<void> => {
    const st = await root.lstat(p);
    add(st === undefined ? 'FAIL' : 'ok', p === '/etc/ssh/sshd_config' ? 'sshd_config' : p, st === undefined ? `${p}: missing (${why})` : p);
  };
  await present('/etc/ssh/sshd_config', 'the OpenSSH server\'s settings');
  const enabled = await anyExists(root, [
    '/etc/systemd/system/multi-user.target.wants/ssh.service',
    '/etc/systemd/system/multi-user.target.wants/sshd.service',
    '/etc/systemd/system/sshd.service',
    '/etc/rc2.d/S01ssh',
    '/etc/rc2.d/S02ssh',
    '/etc/rc3.d/S55sshd',
  ]);
  add(enabled === undefined ? 'warn' : 'ok', 'sshd enabled', enabled ?? 'no enablement link found (systemd or rc2.d/rc3.d)');
  const home = await root.lstat('/home');
  add(home?.type === 'directory' ? 'ok' : 'FAIL', '/home', home === undefined ? '/home: missing (accounts live in /home)' : home.type === 'directory' ? 'accounts live in /home' : `/home: a ${home.type}, not a directory (accounts live in /home)`);
  await present('/etc/shadow', 'passwords live there');
  await present('/etc/hosts', 'the name of localhost');
  const net = await anyExists(root, ['/etc/sysconfig/network-scripts', '/etc/network/interfaces', '/etc/netplan', '/etc/systemd/network', '/etc/NetworkManager']);
  add(net === undefined ? 'warn' : 'ok', 'network config layout', net ?? 'none of ifcfg, ifupdown, netplan, networkd, NetworkManager');
  const securetty = await securettyStatus(root);
  add(securetty.status, '/etc/securetty', securetty.detail);
  const login = await serialLoginStatus(root);
  add(login.status, 'serial console login', login.detail);
  for (const row of await rhelNetworkRows(root)) add(row.status, row.item, row.detail);
  const xen = await libc6XenStatus(root);
  add(xen.status, 'libc6-xen.conf', xen.detail);
  const keys = ((await root.readdir('/etc/ssh')) ?? []).filter((n) => /^ssh_host_.*_key$/u.test(n));
  add(keys.length > 0 ? 'FAIL' : 'ok', 'SSH host keys', keys.length > 0 ? `${keys.join(', ')} would be shared by every clone (bake removes them)` : 'none baked in');
  const mid = (await root.readText('/etc/machine-id', { maxBytes: 4096 }).catch(() => undefined))?.trim() ?? '';
  add(mid === '' ? 'ok' : 'warn', 'machine-id', mid === '' ? 'empty' : 'set: clones would share it (bake empties it)');
  const fixed = await accountsWithFixedPasswords(root).catch(() => [] as string[]);
  add(fixed.length > 0 ? 'FAIL' : 'ok', 'fixed passwords', fixed.length > 0 ? `${fixed.join(', ')} can log in with a password baked into the image` : 'none');
  const histories: string[] = [];
  for (const home of ['/root', ...((await root.readdir('/home')) ?? []).map((n) => `/home/${n}`)]) {
    if ((await root.lstat(`${home}/.bash_history`))?.type === 'file') histories.push(`${home}/.bash_history`);
  }
  add(histories.length > 0 ? 'warn' : 'ok', 'shell histories', histories.length > 0 ? histories.join(', ') : 'none');
  const logs: string[] = [];
  for (const name of (await root.readdir('/var/log')) ?? []) {
    const st = await root.lstat(`/var/log/${name}`);
    if (st?.type === 'file' && st.size > 0) logs.push(name);
  }
  add(logs.length > 0 ? 'warn' : 'ok', 'logs', logs.length > 0 ? `${logs.length} non-empty (${logs.slice(0, 5).join(', ')}${logs.length > 5 ? ', …' : ''})` : 'empty');
  add((await exists(root, '/var/lib/vmctx')) ? 'warn' : 'ok', 'vmctx state', (await exists(root, '/var/lib/vmctx')) ? '/var/lib/vmctx present: the first boot would look like a reboot' : 'none');
  add((await exists(root, BUNDLE_PATH)) ? 'ok' : 'warn', 'vmctx installed', (await exists(root, BUNDLE_PATH)) ? BUNDLE_PATH : 'not yet (vmctx bake installs it)');
  const imageId = await root.readText('/etc/image-id', { maxBytes: 64 * 1024 }).catch(() => undefined);
  add(imageId === undefined ? 'warn' : 'ok', '/etc/image-id', imageId === undefined ? 'absent' : (imageId.split('\n').find((l) => l.startsWith('image_stamp=')) ?? 'present'));
  return out;
}

/** Opens the image read-only (decompressing a copy to a temporary file when it is compressed). */
export async function checkImage(input: string, partition?: number, options: DecompressOptions = {}): Promise<{ items: CheckItem[]; where: string }> {
  checkInput(input);
  const kind = imageCompression(input);
  let path = input;
  let temp: string | undefined;
  if (kind !== 'raw') {
    temp = join(tmpdir(), `vmctx-check-${process.pid}-${randomBytes(3).toString('hex')}-${basename(input)}.raw`);
    await decompressTo(input, kind, temp, options);
    path = temp;
  }
  const disk = FileDisk.open(path, 'overlay');
  try {
    const located = locateFileSystem(disk, partition);
    checkComplete(located, disk.size);
    const mounted = await mountImage(disk, located);
    try {
      return { items: await checkRoot(new ImageRoot(mounted.fs, input), located.superblock.kind), where: located.where };
    } finally {
      await mounted.umount();
    }
  } finally {
    disk.close();
    if (temp !== undefined) await rm(temp, { force: true });
  }
}
