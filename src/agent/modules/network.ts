// Network: renders the context's network (the NetModel: ctx.net) in the format of the backend the
// system uses and, on a running system whose network service is up, applies it live — keeping the
// previous files to roll back to if the host loses the default route it had (and the context did
// not ask for that), or a bond, bridge or VLAN it asks for does not come up.
//
// Backend choice, first match wins: NETCFG_TYPE; netplan installed; NetworkManager enabled;
// systemd-networkd enabled; ifupdown installed with /etc/network/interfaces; RHEL
// network-scripts; systemd-networkd installed (vmctx enables it); NetworkManager installed.
//
// set-name: the udev rules file (ENI, ifcfg, NetworkManager) and networkd's .link rename a NIC as
// udev adds it, at the next boot or a hot-plug. On a live run udev re-reads them (`udevadm control
// --reload`) and each NIC present under another name is renamed now, before the bring-up (cloud-init
// does the same): link down if it was up, `ip link set dev OLD name NEW`, up again. Not when NEW is
// another interface's name now (a warning: it applies at the next boot); a rollback renames back.
//
// Nothing silent: the resolver's notes (a MAC this system does not have) and each renderer note
// (what the backend cannot express, by device) are warnings of the outcome.
import { markers, replaceBlock } from '../../formats/managedblock.js';
import { systemClock, type Clock } from '../../host/clock.js';
import { VmctxError, describeError } from '../../shared/errors.js';
import type { Root } from '../../host/root.js';
import type { NetworkNote } from '../../network/docreader.js';
import { checkIfName, masterOf, type NetModel } from '../../network/netmodel.js';
import type { Backend } from '../../network/plan.js';
import { RENAME_RULES_FILE, nicRenames, type GuestNames, type NicRename, type RenderedFile } from '../../network/renderers/common.js';
import { RENDERERS, isOwnedPath, startsWithHeader, type BackendRenderer } from '../../network/renderers/index.js';
import { NETWORKD_DIR } from '../../network/renderers/networkd.js';
import { nmConnectionId } from '../../network/renderers/networkmanager.js';
import { configuredModel, globMatches, nicByMac, resolveNet, type GuestNic } from '../../network/resolvenet.js';
import type { Context } from '../context/context.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { systemdRunning, unitFile } from './live.js';

const SOURCE_BLOCK = markers('#');
const ROLLBACK_WAIT_MS = 10_000;
/** How long the local stage waits for NICs the context names, while udev is still adding devices. */
const NIC_WAIT_MS = 5_000;

/** The running system's NICs, waiting (bounded) while udev is busy for the NICs the model names. */
async function guestNics(target: Target, model: NetModel, wait: boolean): Promise<GuestNic[] | undefined> {
  if (target.listNics === undefined) return undefined;
  if (!wait) return target.listNics();
  const ethernets = model.devices.filter((d) => d.kind === 'ethernet');
  const wanted = ethernets.map((d) => d.match.macaddress).filter((m): m is string => m !== undefined);
  const positional = ethernets.filter((d) => d.match.macaddress === undefined && d.match.positional === true).length;
  const clock = target.clock ?? systemClock;
  const deadline = clock.now() + NIC_WAIT_MS;
  for (;;) {
    const nics = await target.listNics();
    const missing = wanted.filter((m) => nicByMac(nics, m) === undefined);
    // NICs named by position: wait until there are enough unclaimed physical ones
    const unclaimed = nics.filter((n) => n.physical !== false && !wanted.includes((n.permMac ?? n.mac).toLowerCase())).length;
    if ((missing.length === 0 && unclaimed >= positional) || clock.now() >= deadline || (await target.root.lstat('/run/udev/queue')) === undefined) return nics;
    await clock.sleep(100);
  }
}

async function exists(root: Root, path: string): Promise<boolean> {
  return (await root.lstat(path)) !== undefined;
}

async function anyExists(root: Root, paths: readonly string[]): Promise<boolean> {
  for (const p of paths) if (await exists(root, p)) return true;
  return false;
}

/** Enabled by systemctl: a wants link, or (networkd) its D-Bus alias. */
async function enabled(root: Root, unit: string, alias?: string): Promise<boolean> {
  const links = [`/etc/systemd/system/multi-user.target.wants/${unit}`, `/etc/systemd/system/network-online.target.wants/${unit}`];
  if (alias !== undefined) links.push(`/etc/systemd/system/${alias}`);
  return anyExists(root, links);
}

export async function detectBackend(root: Root, forced: Backend | undefined): Promise<{ backend: Backend; enable: boolean; why: string }> {
  if (forced !== undefined) return { backend: forced, enable: false, why: 'NETCFG_TYPE' };
  if (await anyExists(root, ['/usr/sbin/netplan', '/sbin/netplan'])) return { backend: 'netplan', enable: false, why: 'netplan is installed' };
  if (await enabled(root, 'NetworkManager.service', 'dbus-org.freedesktop.NetworkManager.service')) return { backend: 'nm', enable: false, why: 'NetworkManager is enabled' };
  if (await enabled(root, 'systemd-networkd.service', 'dbus-org.freedesktop.network1.service')) return { backend: 'networkd', enable: false, why: 'systemd-networkd is enabled' };
  if ((await anyExists(root, ['/sbin/ifup', '/usr/sbin/ifup'])) && (await exists(root, '/etc/network/interfaces'))) return { backend: 'interfaces', enable: false, why: 'ifupdown is installed' };
  if (await exists(root, '/etc/sysconfig/network-scripts')) return { backend: 'scripts', enable: false, why: 'RHEL network-scripts layout' };
  if ((await unitFile(root, 'systemd-networkd.service')) !== undefined) return { backend: 'networkd', enable: true, why: 'systemd-networkd is installed (vmctx enables it)' };
  if ((await unitFile(root, 'NetworkManager.service')) !== undefined) return { backend: 'nm', enable: false, why: 'NetworkManager is installed' };
  throw new VmctxError('ERR_MODULE', 'no network configuration backend found (netplan, NetworkManager, systemd-networkd, ifupdown, network-scripts)');
}

/** Sets KEY=VALUE lines in a sysconfig-style file, keeping every other line. */
export function mergeKeyValues(text: string, values: Readonly<Record<string, string>>): string {
  const lines = text === '' ? [] : text.replace(/\n$/u, '').split('\n');
  const seen = new Set<string>();
  const out = lines.map((line) => {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=/u.exec(line);
    const key = m?.[1];
    if (key !== undefined && key in values) {
      seen.add(key);
      return `${key}=${values[key] ?? ''}`;
    }
    return line;
  });
  for (const [k, v] of Object.entries(values)) if (!seen.has(k)) out.push(`${k}=${v}`);
  return `${out.join('\n')}\n`;
}

/** Files vmctx wrote earlier for this backend (this renderer's names and the one's before) that it does not render now. */
async function staleFiles(root: Root, renderer: BackendRenderer, keep: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  for (const owned of renderer.owned) {
    const names = (await root.readdir(owned.dir)) ?? [];
    for (const name of names.filter((n) => owned.match.test(n)).sort()) {
      const path = `${owned.dir}/${name}`;
      if (keep.has(path)) continue;
      if (owned.headerCheck) {
        // ours only when a regular file that starts with our header (a link is never read through)
        if ((await root.lstat(path))?.type !== 'file') continue;
        const text = (await root.readText(path, { maxBytes: 1024 * 1024 }).catch(() => undefined)) ?? '';
        if (!startsWithHeader(text)) continue;
      }
      out.push(path);
    }
  }
  return out;
}

/** A file as it was before this run: its bytes and mode, a link's target, or absent. */
type Previous = { readonly kind: 'absent' } | { readonly kind: 'file'; readonly data: Buffer; readonly mode: number } | { readonly kind: 'link'; readonly target: string };

async function previous(root: Root, path: string): Promise<Previous> {
  const info = await root.lstat(path);
  if (info === undefined) return { kind: 'absent' };
  if (info.type === 'symlink' && info.linkTarget !== undefined) return { kind: 'link', target: info.linkTarget };
  const data = await root.readFile(path).catch(() => undefined);
  return data === undefined ? { kind: 'absent' } : { kind: 'file', data, mode: info.mode & 0o7777 };
}

async function restore(root: Root, path: string, was: Previous): Promise<void> {
  if (was.kind === 'absent') await root.remove(path);
  else if (was.kind === 'link') {
    await root.remove(path);
    await root.symlink(was.target, path);
  } else await root.writeFile(path, was.data, { mode: was.mode, noFollow: true });
}

interface Snapshot {
  readonly files: Map<string, Previous>;
  readonly hadDefaultRoute: boolean;
  /** Created devices (bond, bridge, VLAN) the system already had: a rollback leaves them. */
  readonly hadDevices: ReadonlySet<string>;
}

/**
 * A default route in the kernel's tables (read from /proc: no program started, which early in an
 * emulated boot costs a tenth of a second or more each); `ip route` where /proc cannot be read.
 */
async function hasDefaultRoute(target: Target): Promise<boolean> {
  const v4 = await target.root.readText('/proc/net/route', { maxBytes: 4 * 1024 * 1024 }).catch(() => undefined);
  const v6 = await target.root.readText('/proc/net/ipv6_route', { maxBytes: 4 * 1024 * 1024 }).catch(() => undefined);
  if (v4 !== undefined && v6 !== undefined) return defaultRouteIn(v4, v6);
  const ip = await target.exec.which('ip');
  if (ip === undefined) return false;
  const r = await target.exec.run(ip, ['-4', 'route', 'show', 'default'], { timeoutMs: 5000 }).catch(() => undefined);
  const r6 = await target.exec.run(ip, ['-6', 'route', 'show', 'default'], { timeoutMs: 5000 }).catch(() => undefined);
  return (r?.stdout.trim() ?? '') !== '' || (r6?.stdout.trim() ?? '') !== '';
}

/**
 * /proc/net/route: "Iface Destination Gateway Flags … Mask …", hex; a default route has
 * destination and mask 0 and is up (flag 0x1). /proc/net/ipv6_route: destination, prefix length,
 * …, flags, device; the kernel's own unreachable defaults on lo (RTF_REJECT 0x200) do not count.
 */
export function defaultRouteIn(route: string, ipv6Route: string): boolean {
  for (const line of route.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/u);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000' && (Number.parseInt(f[3] ?? '0', 16) & 0x1) !== 0) return true;
  }
  for (const line of ipv6Route.split('\n')) {
    const f = line.trim().split(/\s+/u);
    if (f.length < 10 || !/^0{32}$/u.test(f[0] ?? '') || f[1] !== '00') continue;
    const flags = Number.parseInt(f[8] ?? '0', 16);
    if ((flags & 0x200) === 0 && (flags & 0x1) !== 0 && f[9] !== 'lo') return true;
  }
  return false;
}

/** Without systemd, what tells that the network service has run (ifupdown's state, RHEL's lock). */
const SYSV_ACTIVE: Readonly<Record<string, string>> = { 'networking.service': '/run/network/ifstate', 'network.service': '/var/lock/subsys/network' };

/**
 * A file a network service writes in /run (a tmpfs: this boot only) once it runs (networkd its
 * state file, ifup its ifstate; not the directories, which tmpfiles may make first). Without it the
 * service has not started this boot — so in the local stage, ordered before them, no systemctl is
 * started to ask (early in an emulated boot that costs a few tenths of a second).
 */
const RAN_MARKER: Readonly<Record<string, string>> = {
  'systemd-networkd.service': '/run/systemd/netif/state',
  'networking.service': '/run/network/ifstate',
};

async function serviceActive(target: Target, unit: string): Promise<boolean> {
  if (!(await systemdRunning(target))) {
    const marker = SYSV_ACTIVE[unit];
    return marker !== undefined && (await target.root.lstat(marker)) !== undefined;
  }
  const ran = RAN_MARKER[unit];
  if (ran !== undefined && (await target.root.lstat(ran)) === undefined) return false;
  const systemctl = await target.exec.which('systemctl');
  if (systemctl === undefined) return false;
  const r = await target.exec.run(systemctl, ['is-active', '--quiet', unit], { timeoutMs: 5000 }).catch(() => undefined);
  return r?.code === 0;
}


/** A name that may go into a program's arguments: a kernel interface name (checked) that no program reads as an option. */
const argName = (n: string): boolean => checkIfName(n).ok && !n.startsWith('-');
/** A NetworkManager connection id as the renderer makes them: "vmctx-" and a checked id. */
const connectionId = (n: string): boolean => /^vmctx-[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,63}$/u.test(n);

/** The kernel names of the bonds, bridges and VLANs the model creates. */
const createdDevices = (model: NetModel): string[] => model.devices.filter((d) => d.kind !== 'ethernet').map((d) => d.id).filter(argName);

/** Whether an interface exists, by sysfs; undefined when this root has no /sys/class/net to tell. */
async function linkExists(root: Root, name: string): Promise<boolean | undefined> {
  if ((await root.lstat('/sys/class/net')) === undefined) return undefined;
  return (await root.lstat(`/sys/class/net/${name}`)) !== undefined;
}

type Run = (program: string, args: readonly string[]) => Promise<void>;

function runner(target: Target, out: OutcomeBuilder): Run {
  return async (program, args) => {
    const path = await target.exec.which(program);
    if (path === undefined) throw new VmctxError('ERR_MODULE', `${program} is not installed`);
    const r = await target.exec.run(path, args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new VmctxError('ERR_MODULE', `${program} ${args.join(' ')} exited with ${r.code ?? r.signal ?? '?'}: ${r.stderr.trim().slice(0, 300)}`);
    out.actions.push([program, ...args].join(' '));
  };
}

/** A changed file udev reads: our rename rules, or a networkd .link (its net_setup_link reads those). */
const udevFile = (path: string): boolean => path === RENAME_RULES_FILE || (path.startsWith(`${NETWORKD_DIR}/`) && path.endsWith('.link'));

/** `udevadm control --reload`, where udevadm is installed: udev reads the changed rules for the NICs it adds next. */
async function reloadUdev(target: Target, out: OutcomeBuilder): Promise<void> {
  const udevadm = await target.exec.which('udevadm');
  if (udevadm === undefined) return;
  const r = await target.exec.run(udevadm, ['control', '--reload'], { timeoutMs: 30_000 }).catch((error: unknown) => describeError(error).message);
  if (typeof r !== 'string' && r.code === 0) out.actions.push('udevadm control --reload');
  else out.warnings.push(`udevadm control --reload failed (${typeof r === 'string' ? r : `exit ${r.code ?? r.signal ?? '?'}: ${r.stderr.trim().slice(0, 200)}`}): udev reads the rename rules when it restarts (at the latest the next boot)`);
}

/** A NIC renamed on the running system for a set-name (a rollback renames it back). */
interface LiveRename {
  readonly from: string;
  readonly to: string;
  readonly wasUp: boolean;
}

/**
 * The NIC a rename's udev rule finds on the running system: by permanent MAC (and driver, when the
 * rule has both), or the one physical NIC of the driver; a string says why none is renamed now.
 */
function renamedNic(nics: readonly GuestNic[], r: NicRename): GuestNic | string | undefined {
  const driverOk = (g: GuestNic): boolean => r.driver === undefined || (g.driver !== undefined && globMatches(r.driver, g.driver));
  if (r.macaddress !== undefined) {
    const nic = nicByMac(nics, r.macaddress);
    return nic !== undefined && nic.physical !== false && driverOk(nic) ? nic : undefined;
  }
  const hits = nics.filter((g) => g.physical !== false && g.driver !== undefined && driverOk(g));
  const named = hits.find((g) => g.name === r.name);
  if (named !== undefined || hits.length <= 1) return named ?? hits[0];
  return `the driver ${r.driver ?? ''} has ${hits.length} NICs here (${hits.map((h) => h.name).slice(0, 8).join(', ')}); udev renames the first it adds at the next boot`;
}

/**
 * Renames, on the running system, each NIC a set-name renames that has another name now (the udev
 * rule renames only as the NIC is added). A rename waits for a name another rename frees; one whose
 * name stays taken, or that fails, is a warning and its device is `blocked` (not brought up now: its
 * configuration names a NIC that is not, or another NIC). Returns the renames done, the name of each
 * renamed NIC by device id (including those already named so), and the blocked device ids.
 */
async function renameLive(target: Target, renames: readonly NicRename[], nics: readonly GuestNic[], run: Run, out: OutcomeBuilder): Promise<{ renamed: LiveRename[]; named: Map<string, string>; blocked: Set<string> }> {
  const renamed: LiveRename[] = [];
  const named = new Map<string, string>();
  const blocked = new Set<string>();
  const pending = new Map<string, { readonly r: NicRename; readonly nic: GuestNic }>();
  const taken = new Set(nics.map((n) => n.name));
  for (const r of renames) {
    const nic = renamedNic(nics, r);
    if (typeof nic === 'string') {
      out.warnings.push(`${r.id}: not renamed ${r.name} now: ${nic}`);
      blocked.add(r.id);
    } else if (nic === undefined) continue; // not here: the rule renames it as it appears
    else if (nic.name === r.name) named.set(r.id, r.name);
    // a guest name that is not safe was noted by the resolver; a set-name was checked by planRenames
    else if (argName(nic.name) && argName(r.name)) pending.set(r.id, { r, nic });
    else blocked.add(r.id);
  }
  for (let progress = true; progress && pending.size > 0;) {
    progress = false;
    for (const [id, { r, nic }] of pending) {
      if (taken.has(r.name) || (await linkExists(target.root, r.name)) === true) continue;
      pending.delete(id);
      progress = true;
      const wasUp = nic.up === true;
      try {
        if (wasUp) await run('ip', ['link', 'set', 'dev', nic.name, 'down']);
        await run('ip', ['link', 'set', 'dev', nic.name, 'name', r.name]);
      } catch (error) {
        out.warnings.push(`could not rename ${nic.name} to ${r.name} now (${describeError(error).message}); applies at next boot`);
        blocked.add(id);
        if (wasUp) await run('ip', ['link', 'set', 'dev', nic.name, 'up']).catch(() => undefined);
        continue;
      }
      taken.delete(nic.name);
      taken.add(r.name);
      renamed.push({ from: nic.name, to: r.name, wasUp });
      named.set(id, r.name);
      if (wasUp) await run('ip', ['link', 'set', 'dev', r.name, 'up']).catch((error: unknown) => out.warnings.push(`${r.name} (was ${nic.name}) was renamed but not brought up again: ${describeError(error).message}`));
    }
  }
  for (const [id, { r, nic }] of pending) {
    out.warnings.push(`cannot rename ${nic.name} to ${r.name} now: ${r.name} exists; applies at next boot`);
    blocked.add(id);
  }
  return { renamed, named, blocked };
}

/** Renames NICs back (a rollback), last first: those renamed back, and what failed. */
async function renameBack(renamed: readonly LiveRename[], run: Run): Promise<{ back: LiveRename[]; failures: string[] }> {
  const back: LiveRename[] = [];
  const failures: string[] = [];
  for (const x of [...renamed].reverse()) {
    try {
      await run('ip', ['link', 'set', 'dev', x.to, 'down']);
      await run('ip', ['link', 'set', 'dev', x.to, 'name', x.from]);
      back.push(x);
      if (x.wasUp) await run('ip', ['link', 'set', 'dev', x.from, 'up']);
    } catch (error) {
      failures.push(`renaming ${x.to} back to ${x.from}: ${describeError(error).message}`);
    }
  }
  return { back, failures };
}

/** The service that runs a backend's configuration, for "is it up". */
const SERVICE: Readonly<Record<Backend, string | undefined>> = {
  networkd: 'systemd-networkd.service',
  netplan: undefined,
  nm: 'NetworkManager.service',
  interfaces: 'networking.service',
  scripts: 'network.service',
};

/**
 * Brings the running system to the written configuration: networkd `networkctl reload` then
 * `reconfigure` of the links it has; netplan `netplan apply`; NetworkManager `nmcli connection
 * reload` then `up` of each connection in order; ifupdown and ifcfg `ifdown` (last first) then `ifup`
 * in order. Returns false when the backend is not running (the files apply when it starts).
 */
async function applyLive(target: Target, renderer: BackendRenderer, order: readonly string[], names: GuestNames, run: Run, netplanRenderer: NetModel['renderer']): Promise<boolean> {
  const { backend } = renderer;
  const service = SERVICE[backend];
  if (service !== undefined && !(await serviceActive(target, service))) return false;
  if (backend === 'netplan') {
    // netplan hands its files to networkd or NetworkManager, and `netplan apply` (re)starts that
    // service and waits for it: in the local stage — before network-pre.target, which the service
    // is ordered after — it would wait for this very unit until systemd kills it. Before the service
    // runs, `netplan generate` (what netplan's own boot generator does) writes the configuration to
    // /run, where the service reads it as it starts; the start is queued, never waited on.
    const unit = netplanRenderer === 'NetworkManager' ? 'NetworkManager.service' : 'systemd-networkd.service';
    if (!(await serviceActive(target, unit))) {
      await run('netplan', ['generate']);
      if (await systemdRunning(target)) await run('systemctl', ['--no-block', 'start', unit]);
      return false;
    }
  }
  switch (backend) {
    case 'networkd': {
      if ((await target.root.lstat('/run/dbus/system_bus_socket')) === undefined) {
        // networkctl needs D-Bus; without it a restart re-reads the files and drops what they no longer hold
        await run('systemctl', ['restart', 'systemd-networkd.service']);
        return true;
      }
      await run('networkctl', ['reload']);
      // links that exist: sysfs says so or, where this root has none, the NICs found on the guest (a
      // bond or VLAN networkd has yet to create comes up from the reload; a name no NIC has is not asked for)
      const found = new Set(names.values());
      const links: string[] = [];
      for (const n of order.filter(argName)) if ((await linkExists(target.root, n)) ?? found.has(n)) links.push(n);
      if (links.length > 0) await run('networkctl', ['reconfigure', ...links]);
      return true;
    }
    case 'netplan':
      await run('netplan', ['apply']);
      return true;
    case 'nm':
      await run('nmcli', ['connection', 'reload']);
      for (const id of order.filter(connectionId)) await run('nmcli', ['connection', 'up', 'id', id]);
      return true;
    case 'interfaces':
    case 'scripts': {
      const names = order.filter(argName);
      for (const n of [...names].reverse()) await run('ifdown', [n]).catch(() => undefined);
      for (const n of names) await run('ifup', [n]);
      return true;
    }
  }
}

/** Waits (bounded) until `ok`; false when the time ran out. */
async function waitFor(clock: Clock, ok: () => Promise<boolean>): Promise<boolean> {
  const deadline = clock.now() + ROLLBACK_WAIT_MS;
  for (;;) {
    if (await ok()) return true;
    if (clock.now() >= deadline) return false;
    await clock.sleep(250);
  }
}

/** Whether the model asks for a default route (a gateway, DHCP or router advertisements) on a device that carries IP. */
const wantsDefaultRoute = (model: NetModel): boolean =>
  model.devices.some((d) => masterOf(model, d.id) === undefined && (d.dhcp4 || d.dhcp6 || d.acceptRa === true || d.routes.some((r) => r.to.prefix === 0))) || model.routes.some((r) => r.to.prefix === 0);

/**
 * Puts the previous configuration back after a failed live apply: created devices the system did not
 * have are deleted, each file gets its previous bytes and mode (or link, or goes), NICs renamed now
 * get their names back, and the backend re-reads them. Every step is tried; what fails is returned,
 * and the NICs renamed back.
 */
async function rollback(target: Target, renderer: BackendRenderer, snapshot: Snapshot, model: NetModel, order: readonly string[], names: GuestNames, renamed: readonly LiveRename[], udevChanged: boolean): Promise<{ failures: string[]; back: LiveRename[] }> {
  const failures: string[] = [];
  const attempt = async (what: string, step: () => Promise<unknown>): Promise<void> => {
    try {
      await step();
    } catch (error) {
      failures.push(`${what}: ${describeError(error).message}`);
    }
  };
  const quiet = new OutcomeBuilder();
  const run = runner(target, quiet);
  const { backend } = renderer;
  // ifupdown and ifcfg take interfaces down by the configuration that brought them up
  if (backend === 'interfaces' || backend === 'scripts') for (const n of [...order].reverse().filter(argName)) await run('ifdown', [n]).catch(() => undefined);
  for (const [path, was] of snapshot.files) await attempt(`restoring ${path}`, () => restore(target.root, path, was));
  for (const n of createdDevices(model)) {
    if (snapshot.hadDevices.has(n) || (await linkExists(target.root, n)) === false) continue;
    await attempt(`ip link delete ${n}`, () => run('ip', ['link', 'delete', 'dev', n]));
  }
  // NICs renamed now get their names back, and udev its previous rules, before the backend re-reads its files
  const { back, failures: notBack } = await renameBack(renamed, run);
  failures.push(...notBack);
  if (udevChanged) {
    const reloaded = new OutcomeBuilder();
    await reloadUdev(target, reloaded);
    failures.push(...reloaded.warnings);
  }
  const ethernets = [...names.values()].filter(argName);
  const restored = (dir: string, re: RegExp): string[] =>
    [...snapshot.files].filter(([p, was]) => was.kind !== 'absent' && p.startsWith(`${dir}/`)).map(([p]) => re.exec(p.slice(dir.length + 1))?.[1]).filter((n): n is string => n !== undefined);
  switch (backend) {
    case 'networkd':
      if ((await target.root.lstat('/run/dbus/system_bus_socket')) === undefined) await attempt('systemctl restart systemd-networkd.service', () => run('systemctl', ['restart', 'systemd-networkd.service']));
      else {
        await attempt('networkctl reload', () => run('networkctl', ['reload']));
        if (ethernets.length > 0) await attempt(`networkctl reconfigure ${ethernets.join(' ')}`, () => run('networkctl', ['reconfigure', ...ethernets]));
      }
      break;
    case 'netplan':
      await attempt('netplan apply', () => run('netplan', ['apply']));
      break;
    case 'nm':
      await attempt('nmcli connection reload', () => run('nmcli', ['connection', 'reload']));
      for (const id of restored('/etc/NetworkManager/system-connections', /^(vmctx-.+)\.nmconnection$/u).filter(connectionId)) await attempt(`nmcli connection up id ${id}`, () => run('nmcli', ['connection', 'up', 'id', id]));
      break;
    case 'interfaces':
      await attempt('ifup -a', () => run('ifup', ['-a']));
      break;
    case 'scripts':
      for (const n of restored('/etc/sysconfig/network-scripts', /^ifcfg-(.+)$/u).filter(argName)) await attempt(`ifup ${n}`, () => run('ifup', [n]));
      break;
  }
  return { failures, back };
}

/** A note as a warning line: the backend (or "this system"), the key path, the message. */
const noteLine = (n: NetworkNote): string => `${n.what === 'invalid' ? 'invalid' : 'not supported'} (${n.file}): ${n.path}: ${n.message}`;

/** The model the module renders, the NICs its liveInputs compare; the same for the run and the daemon. */
const renderedModel = (ctx: Context): NetModel => configuredModel(ctx.net.model);

export const networkModule: Module = {
  id: 'network',
  needs: ['network'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'network devices (NICs matched by MAC, name or driver; bonds, bridges, VLANs), in the format of the system\'s network backend',
  isRelevant: (ctx) => renderedModel(ctx).devices.length > 0,
  inputs: (ctx) => ({ model: ctx.net.model, backend: ctx.net.backend }),
  // which of the model's NICs the system has (and their names): a hot-plugged or removed NIC
  // makes the module run again
  async liveInputs(ctx, target) {
    if (target.listNics === undefined) return undefined;
    const model = renderedModel(ctx);
    const found = model.devices.filter((d) => d.kind === 'ethernet' && (d.match.macaddress !== undefined || d.match.positional === true));
    if (found.length === 0) return undefined;
    const { names } = resolveNet(model, await target.listNics(), { keepAbsent: true, matchesByMac: true });
    return found.map((d) => `${d.id}=${names.get(d.id) ?? ''}`).sort();
  },
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const clock = target.clock ?? systemClock;
    const { backend, enable, why } = await detectBackend(root, ctx.net.backend);
    const renderer = RENDERERS[backend];
    const wanted = renderedModel(ctx);
    // formats that match by MAC need no guest names, so the boot never waits for NICs for them;
    // once the NIC list is complete (the daemon), a NIC that is not there was removed: its files go
    const keepAbsent = renderer.matchesByMac && target.nicsSettled !== true;
    const positional = wanted.devices.some((d) => d.kind === 'ethernet' && d.match.positional === true);
    const resolved = resolveNet(wanted, await guestNics(target, wanted, !renderer.matchesByMac || positional), { keepAbsent, matchesByMac: renderer.matchesByMac, guessNames: !renderer.matchesByMac });
    const { model, names } = resolved;
    for (const n of resolved.notes) out.warnings.push(noteLine(n));
    const rendered = renderer.render(model, names);
    for (const n of rendered.notes) out.warnings.push(noteLine(n));
    const files = new Map<string, RenderedFile>();
    for (const [path, file] of rendered.files) {
      if (isOwnedPath(renderer, path)) files.set(path, file);
      else out.warnings.push(`not written: ${JSON.stringify(path.slice(0, 120))} is not a file the ${renderer.label} renderer owns`);
    }
    const merges = renderer.merges(model);
    const order = renderer.upOrder(model, names);

    // keep what there was, for a rollback
    const stale = await staleFiles(root, renderer, new Set(files.keys()));
    const hadDevices = new Set<string>();
    if (target.live) for (const n of createdDevices(model)) if ((await linkExists(root, n)) === true) hadDevices.add(n);
    const snapshot: Snapshot = { files: new Map(), hadDefaultRoute: target.live ? await hasDefaultRoute(target) : false, hadDevices };
    for (const path of [...files.keys(), ...merges.keys(), ...stale, '/etc/network/interfaces']) snapshot.files.set(path, await previous(root, path));

    // a write that fails part-way puts back every file written before it: the next boot, or the
    // backend, never reads half the new configuration with half the old
    try {
      // vmctx's own files: a link planted at one of their names is replaced, never written through
      for (const [path, file] of files) out.changedIf(path, (await root.writeFile(path, file.content, { mode: file.mode, noFollow: true })).changed);
      for (const [path, values] of merges) {
        const current = (await root.readText(path)) ?? '';
        out.changedIf(path, (await root.writeFile(path, mergeKeyValues(current, values), { mode: 0o644 })).changed);
      }
      for (const path of stale) out.changedIf(path, await root.remove(path));
      if (backend === 'interfaces') {
        const main = (await root.readText('/etc/network/interfaces')) ?? '';
        const sourced = /^\s*source(-directory)?\s+(\/etc\/network\/interfaces\.d\/?\*?|interfaces\.d)\s*$/mu.test(main.split(SOURCE_BLOCK.begin)[0] ?? '');
        const next = replaceBlock(main, SOURCE_BLOCK, sourced ? [] : ['source /etc/network/interfaces.d/*'], undefined, '/etc/network/interfaces');
        if (next !== main) out.changedIf('/etc/network/interfaces', (await root.writeFile('/etc/network/interfaces', next, { mode: 0o644 })).changed);
        for (const name of order) {
          if (new RegExp(`^\\s*iface\\s+${name.replace(/[.]/gu, '\\.')}\\s`, 'mu').test(main)) out.warnings.push(`/etc/network/interfaces also configures ${name}; that stanza was left alone and may conflict`);
        }
      }
    } catch (error) {
      const failures: string[] = [];
      for (const [path, was] of snapshot.files) await restore(root, path, was).catch((e: unknown) => failures.push(`${path}: ${describeError(e).message}`));
      const tail = failures.length === 0 ? '' : ` (but not: ${failures.join('; ')})`;
      throw new VmctxError('ERR_MODULE', `${describeError(error).message}; the previous network configuration files were restored${tail}`);
    }
    if (enable) {
      const unit = await unitFile(root, 'systemd-networkd.service');
      if (unit !== undefined) out.changedIf('/etc/systemd/system/multi-user.target.wants/systemd-networkd.service', await root.symlink(unit, '/etc/systemd/system/multi-user.target.wants/systemd-networkd.service'));
      const socket = await unitFile(root, 'systemd-networkd.socket');
      if (socket !== undefined) out.changedIf('/etc/systemd/system/sockets.target.wants/systemd-networkd.socket', await root.symlink(socket, '/etc/systemd/system/sockets.target.wants/systemd-networkd.socket'));
      // this boot's transaction was made before the links existed: queue the start (never wait on it)
      if (target.live) {
        const systemctl = await target.exec.which('systemctl');
        if (systemctl !== undefined) {
          const r = await target.exec.run(systemctl, ['--no-block', 'start', 'systemd-networkd.socket', 'systemd-networkd.service'], { timeoutMs: 10_000 }).catch(() => undefined);
          if (r?.code === 0) out.actions.push('systemctl --no-block start systemd-networkd');
          else out.warnings.push('systemd-networkd was enabled but could not be started now; it starts at the next boot');
        }
      }
    }

    // set-name on the running system: udev re-reads its rules; NICs present under another name are renamed now
    let liveNames: GuestNames = names;
    let upOrder = order;
    let renamed: LiveRename[] = [];
    const udevChanged = out.changed.some(udevFile);
    if (target.live && target.dryRun !== true) {
      if (udevChanged) await reloadUdev(target, out);
      const renames = nicRenames(model);
      if (renames.length > 0 && target.listNics !== undefined) {
        const live = await renameLive(target, renames, await target.listNics(), runner(target, out), out);
        renamed = live.renamed;
        liveNames = new Map([...names, ...live.named]);
        // a device not renamed now is not brought up now: its configuration names the NIC by its new name
        const blockedNames = new Set(renames.filter((r) => live.blocked.has(r.id)).map((r) => r.name));
        const blockedIds = new Set(model.devices.filter((d) => live.blocked.has(d.id)).map(nmConnectionId));
        upOrder = order.filter((n) => (backend === 'nm' ? !blockedIds.has(n) : !blockedNames.has(n)));
      }
    }

    if (target.live && (out.changed.length > 0 || renamed.length > 0)) {
      let applied = false;
      let failure: string | undefined;
      try {
        applied = await applyLive(target, renderer, upOrder, liveNames, runner(target, out), model.renderer);
      } catch (error) {
        failure = describeError(error).message;
      }
      if (failure === undefined && applied) {
        // a bond, bridge or VLAN that does not come up is a failure like a lost address
        const created = createdDevices(model);
        const up = await waitFor(clock, async () => {
          for (const n of created) if ((await linkExists(root, n)) === false) return false;
          return true;
        });
        if (!up) {
          const missing: string[] = [];
          for (const n of created) if ((await linkExists(root, n)) === false) missing.push(n);
          failure = `${missing.join(', ')} did not come up`;
        }
      }
      const lost = failure === undefined && applied && snapshot.hadDefaultRoute && wantsDefaultRoute(model) && !(await waitFor(clock, () => hasDefaultRoute(target)));
      if (failure !== undefined || lost) {
        const reason = failure ?? 'the host lost its default route';
        const { failures, back } = await rollback(target, renderer, snapshot, model, upOrder, names, renamed, udevChanged);
        const renamedBack = back.length === 0 ? '' : `, NICs renamed back (${back.map((x) => `${x.to} to ${x.from}`).join(', ')})`;
        const tail = failures.length === 0 ? '' : ` (but: ${failures.join('; ')})`;
        throw new VmctxError('ERR_MODULE', `${reason}; the previous network configuration was restored${renamedBack}${tail}`);
      }
      if (!applied) out.actions.push(backend === 'netplan' ? `${model.renderer === 'NetworkManager' ? 'NetworkManager' : 'systemd-networkd'} is not running yet: netplan's configuration applies when it starts` : `${backend} is not running: the configuration applies when it starts`);
    }
    log.info({ backend, why, origin: ctx.net.origin, devices: model.devices.map((d) => ({ id: d.id, kind: d.kind, name: d.kind === 'ethernet' ? liveNames.get(d.id) : d.id })) }, 'network configured');
    return out.build();
  },
};
