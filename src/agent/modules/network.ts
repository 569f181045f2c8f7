// Network: renders the context's interfaces in the format of the backend the system uses and,
// on a running system whose network service is up, applies it live — keeping the previous files
// to roll back to if the host loses the default route it had and the context did not ask for that.
//
// Backend choice, first match wins: NETCFG_TYPE; netplan installed; NetworkManager enabled;
// systemd-networkd enabled; ifupdown installed with /etc/network/interfaces; RHEL
// network-scripts; systemd-networkd installed (vmctx enables it); NetworkManager installed.
import { markers, replaceBlock } from '../../formats/managedblock.js';
import { VmctxError, describeError } from '../../shared/errors.js';
import type { Root } from '../../host/root.js';
import type { Backend, NetworkModel } from '../../network/model.js';
import { HEADER, OWNED, RENDERERS, configured, nicKey } from '../../network/render.js';
import { resolveInterfaces, type GuestNic } from '../../network/resolve.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { systemdRunning, unitFile } from './live.js';

const SOURCE_BLOCK = markers('#');
const ROLLBACK_WAIT_MS = 10_000;
/** How long the local stage waits for NICs the context names, while udev is still adding devices. */
const NIC_WAIT_MS = 5_000;
const MATCHES_BY_MAC: ReadonlySet<Backend> = new Set(['networkd', 'netplan', 'nm']);

/** The running system's NICs, waiting (bounded) while udev is busy for the MACs the context names. */
async function guestNics(target: Target, model: NetworkModel, wait: boolean): Promise<GuestNic[] | undefined> {
  if (target.listNics === undefined) return undefined;
  if (!wait) return target.listNics();
  const wanted = model.interfaces.map((n) => n.mac).filter((m): m is string => m !== undefined);
  const deadline = Date.now() + NIC_WAIT_MS;
  for (;;) {
    const nics = await target.listNics();
    const missing = wanted.filter((m) => !nics.some((n) => n.mac === m));
    // NICs named without a MAC are taken by position: wait until there are enough of them
    const withoutMac = model.interfaces.filter((n) => n.mac === undefined).length;
    const unclaimed = nics.filter((n) => n.physical !== false && !wanted.includes(n.mac)).length;
    if ((missing.length === 0 && unclaimed >= withoutMac) || Date.now() >= deadline || (await target.root.lstat('/run/udev/queue')) === undefined) return nics;
    await new Promise((r) => setTimeout(r, 100));
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

/** Files vmctx wrote earlier for this backend that it does not render now. */
async function staleFiles(root: Root, backend: Backend, keep: ReadonlySet<string>): Promise<string[]> {
  const owned = OWNED[backend];
  const names = (await root.readdir(owned.dir)) ?? [];
  const out: string[] = [];
  for (const name of names.filter((n) => owned.match.test(n))) {
    const path = `${owned.dir}/${name}`;
    if (keep.has(path)) continue;
    if (owned.headerCheck) {
      const text = (await root.readText(path, { maxBytes: 1024 * 1024 }).catch(() => undefined)) ?? '';
      if (!text.startsWith(`# ${HEADER}`)) continue;
    }
    out.push(path);
  }
  return out;
}

interface Snapshot {
  readonly files: Map<string, Buffer | undefined>;
  readonly hadDefaultRoute: boolean;
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

/** Brings the running system to the written configuration; returns false when the backend is not running. */
async function applyLive(target: Target, backend: Backend, model: NetworkModel, out: OutcomeBuilder): Promise<boolean> {
  const names = model.interfaces.filter((n) => n.nameResolved).map((n) => n.name);
  const run = async (program: string, args: readonly string[]): Promise<void> => {
    const path = await target.exec.which(program);
    if (path === undefined) throw new VmctxError('ERR_MODULE', `${program} is not installed`);
    const r = await target.exec.run(path, args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new VmctxError('ERR_MODULE', `${program} ${args.join(' ')} exited with ${r.code ?? r.signal ?? '?'}: ${r.stderr.trim().slice(0, 300)}`);
    out.actions.push([program, ...args].join(' '));
  };
  switch (backend) {
    case 'networkd':
      if (!(await serviceActive(target, 'systemd-networkd.service'))) return false;
      if ((await target.root.lstat('/run/dbus/system_bus_socket')) === undefined) {
        // networkctl needs D-Bus; without it a restart re-reads the files and drops what they no longer hold
        await run('systemctl', ['restart', 'systemd-networkd.service']);
        return true;
      }
      await run('networkctl', ['reload']);
      if (names.length > 0) await run('networkctl', ['reconfigure', ...names]);
      return true;
    case 'netplan':
      await run('netplan', ['apply']);
      return true;
    case 'nm':
      if (!(await serviceActive(target, 'NetworkManager.service'))) return false;
      await run('nmcli', ['connection', 'reload']);
      for (const n of model.interfaces) await run('nmcli', ['connection', 'up', 'id', `vmctx-${nicKey(n)}`]);
      return true;
    case 'interfaces':
    case 'scripts':
      if (!(await serviceActive(target, backend === 'interfaces' ? 'networking.service' : 'network.service'))) return false;
      for (const n of names) {
        await run('ifdown', [n]).catch(() => undefined);
        await run('ifup', [n]);
      }
      return true;
  }
}

async function waitForDefaultRoute(target: Target): Promise<boolean> {
  const deadline = Date.now() + ROLLBACK_WAIT_MS;
  for (;;) {
    if (await hasDefaultRoute(target)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const wantsDefaultRoute = (model: NetworkModel): boolean =>
  model.interfaces.some((n) => n.ipv4.method === 'dhcp' || n.ipv4.gateway !== undefined || n.ipv6.gateway !== undefined || n.ipv6.method === 'auto' || n.ipv6.method === 'dhcp');

export const networkModule: Module = {
  id: 'network',
  needs: ['network'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'network interfaces, matched by MAC, in the format of the system\'s network backend',
  isRelevant: (ctx) => ctx.network.interfaces.some(configured),
  inputs: (ctx) => ctx.network,
  // which of the context's NICs the system has (and their names): a hot-plugged or removed NIC
  // makes the module run again
  async liveInputs(ctx, target) {
    if (target.listNics === undefined) return undefined;
    const wanted = new Set(ctx.network.interfaces.map((n) => n.mac).filter((m): m is string => m !== undefined));
    if (wanted.size === 0) return undefined;
    const nics = await target.listNics();
    return nics.filter((n) => wanted.has(n.mac.toLowerCase())).map((n) => `${n.mac.toLowerCase()}=${n.name}`).sort();
  },
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const { backend, enable, why } = await detectBackend(root, ctx.network.backend);
    // formats that match by MAC need no guest names, so the boot never waits for NICs for them
    // once the NIC list is complete (the daemon), a NIC that is not there was removed: its files go
    const keepAbsent = MATCHES_BY_MAC.has(backend) && target.nicsSettled !== true;
    const positional = ctx.network.interfaces.some((n) => n.mac === undefined);
    const model = resolveInterfaces(ctx.network, await guestNics(target, ctx.network, !MATCHES_BY_MAC.has(backend) || positional), keepAbsent);
    for (const issue of model.issues) if (!ctx.network.issues.includes(issue)) out.warnings.push(`${issue.variable}: ${issue.message}`);
    const rendered = RENDERERS[backend](model);

    // keep what there was, for a rollback
    const snapshot: Snapshot = { files: new Map(), hadDefaultRoute: target.live ? await hasDefaultRoute(target) : false };
    const stale = await staleFiles(root, backend, new Set(rendered.files.keys()));
    for (const path of [...rendered.files.keys(), ...rendered.merges.keys(), ...stale, '/etc/network/interfaces']) {
      snapshot.files.set(path, await root.readFile(path).catch(() => undefined));
    }

    for (const [path, file] of rendered.files) out.changedIf(path, (await root.writeFile(path, file.content, { mode: file.mode })).changed);
    for (const [path, values] of rendered.merges) {
      const current = (await root.readText(path)) ?? '';
      out.changedIf(path, (await root.writeFile(path, mergeKeyValues(current, values), { mode: 0o644 })).changed);
    }
    for (const path of stale) out.changedIf(path, await root.remove(path));
    if (backend === 'interfaces') {
      const main = (await root.readText('/etc/network/interfaces')) ?? '';
      const sourced = /^\s*source(-directory)?\s+(\/etc\/network\/interfaces\.d\/?\*?|interfaces\.d)\s*$/mu.test(main.split(SOURCE_BLOCK.begin)[0] ?? '');
      const next = replaceBlock(main, SOURCE_BLOCK, sourced ? [] : ['source /etc/network/interfaces.d/*'], undefined, '/etc/network/interfaces');
      if (next !== main) out.changedIf('/etc/network/interfaces', (await root.writeFile('/etc/network/interfaces', next, { mode: 0o644 })).changed);
      for (const nic of model.interfaces) {
        if (new RegExp(`^\\s*iface\\s+${nic.name.replace(/[.]/gu, '\\.')}\\s`, 'mu').test(main)) out.warnings.push(`/etc/network/interfaces also configures ${nic.name}; that stanza was left alone and may conflict`);
      }
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

    if (target.live && out.changed.length > 0) {
      let applied = false;
      let failure: string | undefined;
      try {
        applied = await applyLive(target, backend, model, out);
      } catch (error) {
        failure = describeError(error).message;
      }
      const lost = applied && snapshot.hadDefaultRoute && wantsDefaultRoute(model) && !(await waitForDefaultRoute(target));
      if (failure !== undefined || lost) {
        const reason = failure ?? 'the host lost its default route';
        for (const [path, data] of snapshot.files) {
          if (data === undefined) await root.remove(path);
          else await root.writeFile(path, data, { mode: rendered.files.get(path)?.mode ?? 0o644 });
        }
        await applyLive(target, backend, model, new OutcomeBuilder()).catch(() => undefined);
        throw new VmctxError('ERR_MODULE', `${reason}; the previous network configuration was restored`);
      }
      if (!applied) out.actions.push(`${backend} is not running: the configuration applies when it starts`);
    }
    log.info({ backend, why, interfaces: model.interfaces.map((n) => ({ index: n.index, name: n.name, resolved: n.nameResolved })) }, 'network configured');
    return out.build();
  },
};
