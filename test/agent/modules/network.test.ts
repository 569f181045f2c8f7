import { chmod, lstat, mkdir, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Target } from '../../../src/agent/modules/module.js';
import { detectBackend, networkModule } from '../../../src/agent/modules/network.js';
import type { Exec, ExecResult } from '../../../src/host/exec.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { createLogger } from '../../../src/shared/logger.js';
import type { Context } from '../../../src/agent/context/context.js';
import type { NetModel } from '../../../src/network/netmodel.js';
import type { GuestNic } from '../../../src/network/resolvenet.js';
import { contextOf } from '../../helpers/context.js';
import { TestClock } from '../../helpers/clock.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { addr, bond, dns, eth, vlan } from '../../network/netmodel-helpers.js';

const log = createLogger(undefined);
const NIC = { ETH0_MAC: '52:54:00:12:34:56', ETH0_IP: '10.0.0.5', ETH0_GATEWAY: '10.0.0.1' };

/** The guest's NICs for ETH0/ETH1 of these tests, named by the kernel as eth0, eth1. */
const ETH_NICS = () => Promise.resolve([{ name: 'eth0', mac: '52:54:00:12:34:56' }, { name: 'eth1', mac: '52:54:00:12:34:57' }]);

async function apply(root: string, variables: Record<string, string> | Context, target: Partial<Target> = {}, init: 'systemd' | 'sysvinit' = 'systemd') {
  // the live tests model a running systemd unless they say otherwise
  if (target.live === true && init === 'systemd') await mkdir(join(root, 'run/systemd/system'), { recursive: true });
  const ctx = 'net' in variables ? (variables as Context) : await contextOf(variables);
  // waits (the rollback's) run on a clock the test drives: no wall clock
  return networkModule.apply(ctx, { root: new DirectoryRoot(root), exec: new HostExec(), live: false, clock: new TestClock(), ...target }, log);
}

/** A context whose network is this model (a bond, a VLAN: what a network-config document gives). */
async function withModel(model: NetModel, backend?: Context['net']['backend']): Promise<Context> {
  return { ...(await contextOf({})), net: { model, notes: [], origin: 'test', ...(backend === undefined ? {} : { backend }) } };
}

async function systemdRoot(kind: 'networkd-installed' | 'networkd-enabled' | 'nm-enabled'): Promise<string> {
  const root = await scratchRoot({ network: 'none' });
  await mkdir(join(root, 'usr/lib/systemd/system'), { recursive: true });
  for (const unit of ['systemd-networkd.service', 'systemd-networkd.socket', 'NetworkManager.service']) await writeFile(join(root, 'usr/lib/systemd/system', unit), '[Unit]\n');
  await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  if (kind === 'networkd-enabled') await symlink('/usr/lib/systemd/system/systemd-networkd.service', join(root, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'));
  if (kind === 'nm-enabled') await symlink('/usr/lib/systemd/system/NetworkManager.service', join(root, 'etc/systemd/system/multi-user.target.wants/NetworkManager.service'));
  return root;
}

/** A system whose network service ran (ifupdown's state; the ScriptedExec says every unit is active). */
async function running(): Promise<string> {
  const root = await scratchRoot({ network: 'none' });
  await mkdir(join(root, 'run/network'), { recursive: true });
  await writeFile(join(root, 'run/network/ifstate'), 'lo=lo\n');
  return root;
}

/** Marks networkd as running in `root` (its state file) and, with `dbus`, the system bus networkctl needs. */
async function networkdRuns(root: string, dbus = true): Promise<string> {
  if (dbus) {
    await mkdir(join(root, 'run/dbus'), { recursive: true });
    await writeFile(join(root, 'run/dbus/system_bus_socket'), '');
  }
  await mkdir(join(root, 'run/systemd/netif'), { recursive: true });
  await writeFile(join(root, 'run/systemd/netif/state'), 'OPER_STATE=routable\n');
  return root;
}

describe('network module: backends', () => {
  it('detects in the documented order, NETCFG_TYPE first', async () => {
    const root = new DirectoryRoot(await systemdRoot('nm-enabled'));
    expect((await detectBackend(root, undefined)).backend).toBe('nm');
    expect((await detectBackend(root, 'scripts')).backend).toBe('scripts');
    expect((await detectBackend(new DirectoryRoot(await systemdRoot('networkd-enabled')), undefined)).backend).toBe('networkd');
    expect(await detectBackend(new DirectoryRoot(await systemdRoot('networkd-installed')), undefined)).toMatchObject({ backend: 'networkd', enable: true });
    expect((await detectBackend(new DirectoryRoot(await scratchRoot()), undefined)).backend).toBe('interfaces');
    await expect(detectBackend(new DirectoryRoot(await scratchRoot({ network: 'none' })), undefined)).rejects.toMatchObject({ code: 'ERR_MODULE' });
  });

  it('enables systemd-networkd when it is installed but nothing is enabled (minimal Debian), 0644 files', async () => {
    const root = await systemdRoot('networkd-installed');
    const out = await apply(root, NIC);
    expect(out.changed).toContain('/etc/systemd/network/10-vmctx-01-eth0.network');
    expect((await stat(join(root, 'etc/systemd/network/10-vmctx-01-eth0.network'))).mode & 0o777).toBe(0o644);
    expect(await readlink(join(root, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'))).toBe('/usr/lib/systemd/system/systemd-networkd.service');
    expect(await readlink(join(root, 'etc/systemd/system/sockets.target.wants/systemd-networkd.socket'))).toBe('/usr/lib/systemd/system/systemd-networkd.socket');
  });

  it('writes netplan and NetworkManager files 0600', async () => {
    const root = await scratchRoot({ network: 'none' });
    await apply(root, { ...NIC, NETCFG_TYPE: 'netplan' });
    expect((await stat(join(root, 'etc/netplan/50-vmctx.yaml'))).mode & 0o777).toBe(0o600);
    await apply(root, { ...NIC, NETCFG_TYPE: 'nm' });
    expect((await stat(join(root, 'etc/NetworkManager/system-connections/vmctx-eth0.nmconnection'))).mode & 0o777).toBe(0o600);
  });

  it('merges NETWORKING into the old RHEL /etc/sysconfig/network, keeping HOSTNAME; the gateway is the NIC\'s', async () => {
    const root = await scratchRoot({ network: 'none' });
    await mkdir(join(root, 'etc/sysconfig/network-scripts'), { recursive: true });
    await writeFile(join(root, 'etc/sysconfig/network'), 'NETWORKING=no\nHOSTNAME=old.example\n');
    await writeFile(join(root, 'etc/sysconfig/network-scripts/ifcfg-lo'), 'DEVICE=lo\n');
    await apply(root, NIC, { listNics: ETH_NICS });
    expect(await readFile(join(root, 'etc/sysconfig/network'), 'utf8')).toBe('NETWORKING=yes\nHOSTNAME=old.example\n');
    expect(await readFile(join(root, 'etc/sysconfig/network-scripts/ifcfg-eth0'), 'utf8')).toMatch(/HWADDR=52:54:00:12:34:56\n[\s\S]*GATEWAY=10\.0\.0\.1\n/u);
    // a NIC dropped from the context: its files go, hand-written ones (ifcfg-lo) stay
    await apply(root, { ETH1_MAC: '52:54:00:12:34:57', ETH1_IP: '10.0.1.5' }, { listNics: ETH_NICS });
    expect((await readdir(join(root, 'etc/sysconfig/network-scripts'))).sort()).toEqual(['ifcfg-eth1', 'ifcfg-lo']);
  });
});

describe('network module: ifupdown and re-runs', () => {
  const HAND_WRITTEN = `# The loopback network interface
auto lo
iface lo inet loopback

# a bridge the image author set up
auto br0
iface br0 inet manual
    bridge_ports none
`;

  it('adds only a managed source line to a hand-written /etc/network/interfaces with a bridge', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/network/interfaces'), HAND_WRITTEN);
    await apply(root, NIC, { listNics: ETH_NICS });
    const text = await readFile(join(root, 'etc/network/interfaces'), 'utf8');
    expect(text.startsWith(HAND_WRITTEN)).toBe(true);
    expect(text.slice(HAND_WRITTEN.length)).toBe('# BEGIN vmctx managed block: changes inside are replaced\nsource /etc/network/interfaces.d/*\n# END vmctx managed block\n');
    expect(await readFile(join(root, 'etc/network/interfaces.d/50-vmctx'), 'utf8')).toContain('auto eth0\niface eth0 inet static\n    address 10.0.0.5/24\n    post-up ip route add default via 10.0.0.1 dev eth0 || true\n');
  });

  it('warns when the hand-written file configures the same interface', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/network/interfaces'), 'auto eth0\niface eth0 inet dhcp\nsource /etc/network/interfaces.d/*\n');
    const out = await apply(root, NIC, { listNics: ETH_NICS });
    expect(out.warnings.join()).toMatch(/also configures eth0/);
    expect(await readFile(join(root, 'etc/network/interfaces'), 'utf8')).toBe('auto eth0\niface eth0 inet dhcp\nsource /etc/network/interfaces.d/*\n');
  });

  it('a second run changes nothing; a new ETH0_IP moves the address and removes nothing else', async () => {
    const root = await systemdRoot('networkd-enabled');
    await mkdir(join(root, 'etc/systemd/network'), { recursive: true });
    await writeFile(join(root, 'etc/systemd/network/50-admin.network'), '[Match]\nName=eth9\n');
    await apply(root, { ...NIC, ETH1_MAC: '52:54:00:12:34:57', ETH1_IP: '10.0.1.5' });
    expect((await apply(root, { ...NIC, ETH1_MAC: '52:54:00:12:34:57', ETH1_IP: '10.0.1.5' })).changed).toEqual([]);
    const moved = await apply(root, { ...NIC, ETH0_IP: '10.0.0.99', ETH1_MAC: '52:54:00:12:34:57', ETH1_IP: '10.0.1.5' });
    expect(moved.changed).toEqual(['/etc/systemd/network/10-vmctx-01-eth0.network']);
    expect(await readFile(join(root, 'etc/systemd/network/10-vmctx-01-eth0.network'), 'utf8')).toContain('Address=10.0.0.99/24');
    const dropped = await apply(root, NIC);
    expect(dropped.changed).toEqual(['/etc/systemd/network/10-vmctx-01-eth0.network', '/etc/systemd/network/10-vmctx-02-eth1.network']);
    expect((await readdir(join(root, 'etc/systemd/network'))).sort()).toEqual(['10-vmctx-01-eth0.network', '50-admin.network']);
  });
});

/** A scripted system: answers `ip route`, `systemctl is-active` and `networkctl` as told. */
class ScriptedExec implements Exec {
  readonly calls: string[] = [];
  constructor(private readonly script: { routeAfterReload: boolean; reloadFails?: boolean; fails?: readonly string[]; missing?: readonly string[] }) {}
  private reloaded = false;
  which(name: string): Promise<string | undefined> {
    return Promise.resolve(this.script.missing?.includes(name) === true ? undefined : `/usr/bin/${name}`);
  }
  run(file: string, args: readonly string[]): Promise<ExecResult> {
    const cmd = [file.split('/').pop(), ...args].join(' ');
    this.calls.push(cmd);
    const ok = (stdout = ''): Promise<ExecResult> => Promise.resolve({ code: 0, signal: null, stdout, stderr: '' });
    if (cmd.startsWith('ip -4 route show default')) return ok(!this.reloaded || this.script.routeAfterReload ? 'default via 10.0.0.1 dev ens3\n' : '');
    if (cmd.startsWith('ip -6 route')) return ok('');
    if (cmd === 'networkctl reload') {
      this.reloaded = true;
      if (this.script.reloadFails === true) return Promise.resolve({ code: 1, signal: null, stdout: '', stderr: 'Failed to reload' });
    }
    if (this.script.fails?.includes(cmd) === true) return Promise.resolve({ code: 1, signal: null, stdout: '', stderr: `${cmd}: failed` });
    return ok();
  }
}

describe('network module: live apply and rollback', () => {
  async function liveRoot(): Promise<string> {
    const root = await systemdRoot('networkd-enabled');
    await mkdir(join(root, 'etc/systemd/network'), { recursive: true });
    await networkdRuns(root);
    await writeFile(join(root, 'etc/systemd/network/10-vmctx-eth0.network'), '# Managed by vmctx from the VM context; replaced at each contextualization.\n[Match]\nMACAddress=52:54:00:12:34:56\n[Network]\nAddress=10.0.0.5/24\nGateway=10.0.0.1\n');
    return root;
  }
  const nics = () => Promise.resolve([{ name: 'ens3', mac: '52:54:00:12:34:56' }]);

  it('reloads networkd for the interface found by MAC', async () => {
    const root = await liveRoot();
    const exec = new ScriptedExec({ routeAfterReload: true });
    const out = await apply(root, { ...NIC, ETH0_IP: '10.0.0.6' }, { live: true, exec, listNics: nics });
    expect(out.actions).toEqual(['networkctl reload', 'networkctl reconfigure ens3']);
    expect(await readFile(join(root, 'etc/systemd/network/10-vmctx-01-eth0.network'), 'utf8')).toContain('Address=10.0.0.6/24');
    // the file of the renderer before (10-vmctx-eth0.network) is gone: one file matches the NIC
    expect(out.changed).toEqual(['/etc/systemd/network/10-vmctx-01-eth0.network', '/etc/systemd/network/10-vmctx-eth0.network']);
    expect((await readdir(join(root, 'etc/systemd/network'))).sort()).toEqual(['10-vmctx-01-eth0.network']);
  });

  it('in the local stage (networkd has not started this boot: no state file) nothing is asked or reloaded; the files wait for it', async () => {
    const root = await liveRoot();
    await rm(join(root, 'run/systemd/netif/state'));
    const exec = new ScriptedExec({ routeAfterReload: true });
    const out = await apply(root, { ...NIC, ETH0_IP: '10.0.0.7' }, { live: true, exec, listNics: nics });
    expect(exec.calls.filter((c) => c.startsWith('systemctl') || c.startsWith('networkctl'))).toEqual([]);
    expect(out.actions).toEqual(['networkd is not running: the configuration applies when it starts']);
    expect(await readFile(join(root, 'etc/systemd/network/10-vmctx-01-eth0.network'), 'utf8')).toContain('Address=10.0.0.7/24');
  });

  it('without D-Bus (minimal images) restarts systemd-networkd instead of calling networkctl', async () => {
    const root = await liveRoot();
    await rm(join(root, 'run/dbus'), { recursive: true });
    const exec = new ScriptedExec({ routeAfterReload: true });
    const out = await apply(root, { ...NIC, ETH0_IP: '10.0.0.6' }, { live: true, exec, listNics: nics });
    expect(out.actions).toEqual(['systemctl restart systemd-networkd.service']);
  });

  it('applies live through each backend\'s own tool', async () => {
    const cases: Array<[string, string[]]> = [
      ['netplan', ['netplan apply']],
      ['nm', ['nmcli connection reload', 'nmcli connection up id vmctx-eth0']],
      ['interfaces', ['ifdown ens3', 'ifup ens3']],
      ['scripts', ['ifdown ens3', 'ifup ens3']],
    ];
    for (const [backend, expected] of cases) {
      const root = await scratchRoot({ network: 'none' });
      await mkdir(join(root, 'run/network'), { recursive: true });
      await writeFile(join(root, 'run/network/ifstate'), 'ens3=ens3\n');
      // netplan applies live through networkd, which runs
      await networkdRuns(root, false);
      const exec = new ScriptedExec({ routeAfterReload: true });
      const out = await apply(root, { ...NIC, NETCFG_TYPE: backend }, { live: true, exec, listNics: nics });
      expect(out.actions, backend).toEqual(expected);
    }
  });

  it('netplan in the local stage (networkd has not started): netplan generate and a queued start, never netplan apply (it would wait for this unit)', async () => {
    const root = await systemdRoot('networkd-enabled');
    const exec = new ScriptedExec({ routeAfterReload: true });
    const out = await apply(root, { ...NIC, NETCFG_TYPE: 'netplan' }, { live: true, exec, listNics: nics });
    expect(exec.calls.filter((c) => c.startsWith('netplan') || c.startsWith('systemctl --no-block'))).toEqual(['netplan generate', 'systemctl --no-block start systemd-networkd.service']);
    expect(out.actions).toEqual(['netplan generate', 'systemctl --no-block start systemd-networkd.service', "systemd-networkd is not running yet: netplan's configuration applies when it starts"]);
    expect(await readFile(join(root, 'etc/netplan/50-vmctx.yaml'), 'utf8')).toContain('52:54:00:12:34:56');
  });

  it('without systemd (sysvinit): ifupdown\'s state tells that networking ran; then ifup, else the files wait for the next boot', async () => {
    const root = await scratchRoot();
    const exec = new ScriptedExec({ routeAfterReload: true });
    const idle = await apply(root, NIC, { live: true, exec, listNics: nics }, 'sysvinit');
    expect(idle.actions).toEqual(['interfaces is not running: the configuration applies when it starts']);
    expect(exec.calls.some((c) => c.startsWith('systemctl'))).toBe(false);
    await mkdir(join(root, 'run/network'), { recursive: true });
    await writeFile(join(root, 'run/network/ifstate'), 'lo=lo\n');
    const up = await apply(root, { ...NIC, ETH0_IP: '10.0.0.9' }, { live: true, exec, listNics: nics }, 'sysvinit');
    expect(up.actions).toEqual(['ifdown ens3', 'ifup ens3']);
  });

  it('restores the previous files when the host loses its default route (each with its own mode; the new file goes)', async () => {
    const root = await liveRoot();
    await chmod(join(root, 'etc/systemd/network/10-vmctx-eth0.network'), 0o640);
    const before = await readFile(join(root, 'etc/systemd/network/10-vmctx-eth0.network'), 'utf8');
    const exec = new ScriptedExec({ routeAfterReload: false });
    const clock = new TestClock();
    await expect(apply(root, { ...NIC, ETH0_GATEWAY: '10.9.9.9' }, { live: true, exec, listNics: nics, clock })).rejects.toThrow(/lost its default route; the previous network configuration was restored$/);
    expect(await readFile(join(root, 'etc/systemd/network/10-vmctx-eth0.network'), 'utf8')).toBe(before);
    expect((await stat(join(root, 'etc/systemd/network/10-vmctx-eth0.network'))).mode & 0o777).toBe(0o640);
    expect(await readdir(join(root, 'etc/systemd/network'))).toEqual(['10-vmctx-eth0.network']);
    expect(exec.calls.filter((c) => c === 'networkctl reload')).toHaveLength(2);
    // it waited the rollback window on the test's clock
    expect(clock.elapsed).toBeGreaterThanOrEqual(10_000);
  });

  it('restores the previous files when the backend refuses the new configuration', async () => {
    const root = await liveRoot();
    const before = await readFile(join(root, 'etc/systemd/network/10-vmctx-eth0.network'), 'utf8');
    await expect(apply(root, { ...NIC, ETH0_IP: '10.0.0.7' }, { live: true, exec: new ScriptedExec({ routeAfterReload: true, reloadFails: true }), listNics: nics })).rejects.toThrow(/Failed to reload.*restored/);
    expect(await readFile(join(root, 'etc/systemd/network/10-vmctx-eth0.network'), 'utf8')).toBe(before);
    expect((await lstat(join(root, 'etc/systemd/network/10-vmctx-eth0.network'))).isFile()).toBe(true);
  });

  it('a NIC whose MAC the guest does not have: kept (matched by MAC) for networkd, left out for ifupdown', async () => {
    const root = await liveRoot();
    const extra = { ...NIC, ETH1_MAC: '52:54:00:99:99:99', ETH1_IP: '10.0.1.5' };
    const out = await apply(root, extra, { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: nics });
    expect(out.warnings.join()).toMatch(/no interface with MAC 52:54:00:99:99:99 on this system now/);
    expect(await readFile(join(root, 'etc/systemd/network/10-vmctx-02-eth1.network'), 'utf8')).toContain('PermanentMACAddress=52:54:00:99:99:99');
    const eni = await scratchRoot();
    const eniOut = await apply(eni, extra, { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: nics });
    expect(eniOut.warnings.join()).toMatch(/ethernets\.eth1: no interface with MAC 52:54:00:99:99:99 on this system; not configured/);
    const text = await readFile(join(eni, 'etc/network/interfaces.d/50-vmctx'), 'utf8');
    expect(text).toContain('iface ens3 inet static');
    expect(text).not.toContain('10.0.1.5');
  });
});

describe('network module: a write that fails part-way', () => {
  it('puts back the files written before it and says so (no half-new configuration for the next boot)', async () => {
    const root = await systemdRoot('networkd-enabled');
    const dir = join(root, 'etc/systemd/network');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '10-vmctx-01-eth0.network'), '# before\n');
    // the second file's name is taken by a directory: its write fails after the first was written
    await mkdir(join(dir, '10-vmctx-02-eth1.network'));
    await expect(apply(root, { ...NIC, ETH1_MAC: '52:54:00:12:34:57', ETH1_IP: '10.0.1.5' })).rejects.toThrow(/the previous network configuration files were restored/u);
    expect(await readFile(join(dir, '10-vmctx-01-eth0.network'), 'utf8')).toBe('# before\n');
  });
});

describe('network module: bonds and VLANs, live', () => {
  // two NICs bonded, a VLAN with an address on the bond (what a network-config v2 document gives)
  const BONDED = {
    devices: [
      eth('p1', { macaddress: '52:54:00:00:00:0a' }), eth('p2', { macaddress: '52:54:00:00:00:0b' }),
      bond('bond0', ['p1', 'p2'], { mode: 'active-backup' }), vlan('bond0.7', 7, 'bond0', { addresses: [addr('10.7.0.2/24')] }),
    ],
    routes: [], nameservers: dns([]),
  } satisfies NetModel;
  // ens4 is already enslaved: it carries the bond's MAC, its own is the permanent one
  const bondedNics = () => Promise.resolve([
    { name: 'ens3', mac: '52:54:00:00:00:0a', ifindex: 2, physical: true },
    { name: 'ens4', mac: '52:54:00:00:00:0a', permMac: '52:54:00:00:00:0b', ifindex: 3, physical: true },
  ]);

  it('brings devices up in dependency order: ports, then the bond, then the VLAN (ifupdown, ifcfg); NetworkManager activates the bond and the VLAN', async () => {
    for (const backend of ['interfaces', 'scripts'] as const) {
      const out = await apply(await running(), await withModel(BONDED, backend), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: bondedNics });
      expect(out.actions, backend).toEqual(['ifdown bond0.7', 'ifdown bond0', 'ifdown ens4', 'ifdown ens3', 'ifup ens3', 'ifup ens4', 'ifup bond0', 'ifup bond0.7']);
    }
    const nm = await apply(await running(), await withModel(BONDED, 'nm'), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: bondedNics });
    expect(nm.actions).toEqual(['nmcli connection reload', 'nmcli connection up id vmctx-bond0', 'nmcli connection up id vmctx-bond0.7']);
  });

  it('networkd: reconfigures the links that exist; the bond and VLAN it creates from the reload; they must come up, else rollback', async () => {
    const root = await systemdRoot('networkd-enabled');
    await networkdRuns(root);
    await mkdir(join(root, 'sys/class/net/ens3'), { recursive: true });
    await mkdir(join(root, 'sys/class/net/ens4'), { recursive: true });
    const exec = new ScriptedExec({ routeAfterReload: true });
    const clock = new TestClock();
    // networkd creates the bond a second after the reload, the VLAN never
    clock.onSleep = async (elapsed) => {
      if (elapsed >= 1000) await mkdir(join(root, 'sys/class/net/bond0'), { recursive: true });
    };
    await expect(apply(root, await withModel(BONDED), { live: true, exec, listNics: bondedNics, clock })).rejects.toThrow(/^bond0\.7 did not come up; the previous network configuration was restored/u);
    expect(exec.calls.filter((c) => c.startsWith('networkctl') || c.startsWith('ip link'))).toEqual([
      'networkctl reload', 'networkctl reconfigure ens3 ens4',
      // the rollback: the bond it created goes, networkd re-reads the previous files
      'ip link delete dev bond0', 'networkctl reload', 'networkctl reconfigure ens3 ens4',
    ]);
    expect(await readdir(join(root, 'etc/systemd/network')).catch(() => [])).toEqual([]);
    // with the VLAN there, it applies
    await mkdir(join(root, 'sys/class/net/bond0.7'), { recursive: true });
    const ok = await apply(root, await withModel(BONDED), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: bondedNics, clock: new TestClock() });
    expect(ok.actions).toEqual(['networkctl reload', 'networkctl reconfigure ens3 ens4 bond0 bond0.7']);
  });

  it('a VLAN that cannot come up (ifup fails) is rolled back: created devices deleted, files back, the old configuration re-applied past each failure', async () => {
    const root = await running();
    await mkdir(join(root, 'etc/network/interfaces.d'), { recursive: true });
    await writeFile(join(root, 'etc/network/interfaces.d/50-vmctx'), '# Managed by vmctx; replaced at each contextualization.\nauto ens3\niface ens3 inet dhcp\n', { mode: 0o600 });
    const exec = new ScriptedExec({ routeAfterReload: true, fails: ['ifup bond0.7', 'ip link delete dev bond0'] });
    const error = await apply(root, await withModel(BONDED, 'interfaces'), { live: true, exec, listNics: bondedNics }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/ifup bond0\.7 exited with 1: ifup bond0\.7: failed; the previous network configuration was restored \(but: ip link delete bond0: ip link delete dev bond0 exited with 1/u);
    expect(exec.calls.slice(exec.calls.indexOf('ifup bond0.7') + 1)).toEqual([
      'ifdown bond0.7', 'ifdown bond0', 'ifdown ens4', 'ifdown ens3',
      'ip link delete dev bond0', 'ip link delete dev bond0.7', 'ifup -a',
    ]);
    expect(await readFile(join(root, 'etc/network/interfaces.d/50-vmctx'), 'utf8')).toContain('iface ens3 inet dhcp');
    expect((await stat(join(root, 'etc/network/interfaces.d/50-vmctx'))).mode & 0o777).toBe(0o600);
  });

  it('a renderer\'s "cannot express" notes are warnings, with the device', async () => {
    // a set-name found by name only: no udev rule can say which NIC to rename
    const m: NetModel = { devices: [eth('lan', { name: 'ens3' }, { dhcp4: true, setName: 'wan0' })], routes: [], nameservers: dns([]) };
    const out = await apply(await scratchRoot({ network: 'none' }), await withModel(m, 'nm'));
    expect(out.warnings).toEqual([expect.stringMatching(/^not supported \(NetworkManager\): ethernets\.lan\.set-name: not renamed \(udev finds a NIC to rename by its MAC or driver only/u)]);
  });
});

describe('network module: upgrade and the target root', () => {
  it('removes the ifcfg files the renderer before wrote (its header), keeps hand-written ones', async () => {
    const root = await scratchRoot({ network: 'none' });
    const dir = join(root, 'etc/sysconfig/network-scripts');
    await mkdir(dir, { recursive: true });
    const OLD = '# Managed by vmctx from the VM context; replaced at each contextualization.\n';
    await writeFile(join(dir, 'ifcfg-eth0'), `${OLD}DEVICE=eth0\n`);
    await writeFile(join(dir, 'ifcfg-eth0:0'), `${OLD}DEVICE=eth0:0\n`);
    await writeFile(join(dir, 'route-eth0'), `${OLD}10.9.0.0/16 via 10.0.0.9 dev eth0\n`);
    await writeFile(join(dir, 'ifcfg-lo'), 'DEVICE=lo\n');
    const out = await apply(root, NIC, { listNics: () => Promise.resolve([{ name: 'ens3', mac: '52:54:00:12:34:56' }]) });
    expect((await readdir(dir)).sort()).toEqual(['ifcfg-ens3', 'ifcfg-lo']);
    expect(out.changed).toEqual(expect.arrayContaining(['/etc/sysconfig/network-scripts/ifcfg-eth0', '/etc/sysconfig/network-scripts/ifcfg-eth0:0', '/etc/sysconfig/network-scripts/route-eth0']));
  });

  it('a link planted at one of its file names is replaced, never written through', async () => {
    const root = await systemdRoot('networkd-enabled');
    await mkdir(join(root, 'etc/systemd/network'), { recursive: true });
    const shadow = await readFile(join(root, 'etc/shadow'), 'utf8').catch(() => '');
    await writeFile(join(root, 'etc/shadow'), shadow || 'root:*:1::::::\n');
    await symlink('/etc/shadow', join(root, 'etc/systemd/network/10-vmctx-01-eth0.network'));
    await apply(root, NIC);
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toBe(shadow || 'root:*:1::::::\n');
    expect((await lstat(join(root, 'etc/systemd/network/10-vmctx-01-eth0.network'))).isFile()).toBe(true);
  });

  it('a guest interface name that is an option or has a shell character reaches no file and no command', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'run/network'), { recursive: true });
    await writeFile(join(root, 'run/network/ifstate'), 'lo=lo\n');
    const exec = new ScriptedExec({ routeAfterReload: true });
    for (const name of ['-a', 'x;reboot', 'a b']) {
      const out = await apply(root, NIC, { live: true, exec, listNics: () => Promise.resolve([{ name, mac: '52:54:00:12:34:56' }]) }, 'sysvinit');
      expect(out.warnings.join('\n')).toContain('which vmctx will not write into a file or a command');
    }
    expect(exec.calls.filter((c) => c.startsWith('ifup') || c.startsWith('ifdown'))).toEqual([]);
    expect(await readFile(join(root, 'etc/network/interfaces.d/50-vmctx'), 'utf8').catch(() => '')).not.toMatch(/-a|reboot|a b/u);
  });
});

describe('network module: set-name on the running system', () => {
  const A = '52:54:00:00:00:0a';
  const B = '52:54:00:00:00:0b';
  const renamedModel = (setName = 'lan0'): NetModel => ({ devices: [eth('lan', { macaddress: A }, { dhcp4: true, setName })], routes: [], nameservers: dns([]) });
  const nicsOf = (...list: GuestNic[]) => () => Promise.resolve(list);
  const RENAME = ['ip link set dev ens3 down', 'ip link set dev ens3 name lan0', 'ip link set dev lan0 up'];

  it('reloads udev and renames the NIC (down, rename, up) before ifup / nmcli up, which use the new name', async () => {
    const cases: Array<[Context['net']['backend'] & string, string[]]> = [
      ['interfaces', ['ifdown lan0', 'ifup lan0']],
      ['scripts', ['ifdown lan0', 'ifup lan0']],
      ['nm', ['nmcli connection reload', 'nmcli connection up id vmctx-lan']],
    ];
    for (const [backend, up] of cases) {
      const root = await running();
      const exec = new ScriptedExec({ routeAfterReload: true });
      const out = await apply(root, await withModel(renamedModel(), backend), { live: true, exec, listNics: nicsOf({ name: 'ens3', mac: A, physical: true, up: true }) });
      expect(out.actions, backend).toEqual(['udevadm control --reload', ...RENAME, ...up]);
      expect(out.warnings, backend).toEqual([]);
      expect(await readFile(join(root, 'etc/udev/rules.d/70-vmctx-net.rules'), 'utf8'), backend).toContain(`ATTR{address}=="${A}", NAME="lan0"`);
    }
  });

  it('a NIC that is down is renamed without taking it down or up', async () => {
    const exec = new ScriptedExec({ routeAfterReload: true });
    const out = await apply(await running(), await withModel(renamedModel(), 'interfaces'), { live: true, exec, listNics: nicsOf({ name: 'ens3', mac: A, physical: true, up: false }) });
    expect(out.actions).toEqual(['udevadm control --reload', 'ip link set dev ens3 name lan0', 'ifdown lan0', 'ifup lan0']);
  });

  it('never renames to a name another NIC has: a warning, and the device is not brought up now (its files name the other NIC)', async () => {
    const list = nicsOf({ name: 'ens3', mac: A, physical: true, up: true }, { name: 'lan0', mac: B, physical: true, up: true });
    for (const [backend, actions] of [['interfaces', ['udevadm control --reload']], ['nm', ['udevadm control --reload', 'nmcli connection reload']]] as const) {
      const exec = new ScriptedExec({ routeAfterReload: true });
      const out = await apply(await running(), await withModel(renamedModel(), backend), { live: true, exec, listNics: list });
      expect(out.warnings, backend).toEqual(['cannot rename ens3 to lan0 now: lan0 exists; applies at next boot']);
      expect(exec.calls.filter((c) => c.startsWith('ip link') || c.startsWith('ifup') || c.startsWith('nmcli connection up')), backend).toEqual([]);
      expect(out.actions, backend).toEqual(actions);
    }
  });

  it('a rename waits for the name another rename frees (eth1 to eth2, then eth0 to eth1)', async () => {
    const m: NetModel = { devices: [eth('a', { macaddress: A }, { dhcp4: true, setName: 'eth1' }), eth('b', { macaddress: B }, { dhcp4: true, setName: 'eth2' })], routes: [], nameservers: dns([]) };
    const exec = new ScriptedExec({ routeAfterReload: true });
    const out = await apply(await running(), await withModel(m, 'interfaces'), { live: true, exec, listNics: nicsOf({ name: 'eth0', mac: A, physical: true }, { name: 'eth1', mac: B, physical: true }) });
    expect(out.warnings).toEqual([]);
    expect(exec.calls.filter((c) => c.startsWith('ip link'))).toEqual(['ip link set dev eth1 name eth2', 'ip link set dev eth0 name eth1']);
  });

  it('udev: reloaded only when the rules changed and udevadm is installed; a failed reload is a warning', async () => {
    const root = await running();
    const list = nicsOf({ name: 'lan0', mac: A, physical: true, up: true });
    const first = await apply(root, await withModel(renamedModel(), 'interfaces'), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: list });
    // the NIC already has the name: nothing to rename
    expect(first.actions).toEqual(['udevadm control --reload', 'ifdown lan0', 'ifup lan0']);
    const again = await apply(root, await withModel(renamedModel(), 'interfaces'), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: list });
    expect(again.actions).toEqual([]);
    const missing = await apply(await running(), await withModel(renamedModel(), 'interfaces'), { live: true, exec: new ScriptedExec({ routeAfterReload: true, missing: ['udevadm'] }), listNics: list });
    expect(missing.actions).toEqual(['ifdown lan0', 'ifup lan0']);
    expect(missing.warnings).toEqual([]);
    const fails = await apply(await running(), await withModel(renamedModel(), 'interfaces'), { live: true, exec: new ScriptedExec({ routeAfterReload: true, fails: ['udevadm control --reload'] }), listNics: list });
    expect(fails.warnings).toEqual([expect.stringMatching(/^udevadm control --reload failed \(exit 1: udevadm control --reload: failed\): udev reads the rename rules when it restarts/u)]);
    expect(fails.actions).toEqual(['ifdown lan0', 'ifup lan0']);
  });

  it('not on an offline root or a dry run: the files only', async () => {
    const exec = new ScriptedExec({ routeAfterReload: true });
    const root = await running();
    await apply(root, await withModel(renamedModel(), 'interfaces'), { live: false, exec, listNics: nicsOf({ name: 'ens3', mac: A, physical: true, up: true }) });
    await apply(await running(), await withModel(renamedModel(), 'interfaces'), { live: true, dryRun: true, exec, listNics: nicsOf({ name: 'ens3', mac: A, physical: true, up: true }) });
    expect(exec.calls.filter((c) => c.startsWith('ip link') || c.startsWith('udevadm'))).toEqual([]);
    expect(await readFile(join(root, 'etc/udev/rules.d/70-vmctx-net.rules'), 'utf8')).toContain('NAME="lan0"');
  });

  it('a rollback renames the NIC back and udev re-reads the previous rules, before the old configuration comes up again', async () => {
    const root = await running();
    const exec = new ScriptedExec({ routeAfterReload: true, fails: ['ifup lan0'] });
    const error = await apply(root, await withModel(renamedModel(), 'interfaces'), { live: true, exec, listNics: nicsOf({ name: 'ens3', mac: A, physical: true, up: true }) }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/ifup lan0 exited with 1: ifup lan0: failed; the previous network configuration was restored, NICs renamed back \(lan0 to ens3\)$/u);
    expect(exec.calls.slice(exec.calls.indexOf('ifup lan0') + 1)).toEqual([
      'ifdown lan0', 'ip link set dev lan0 down', 'ip link set dev lan0 name ens3', 'ip link set dev ens3 up', 'udevadm control --reload', 'ifup -a',
    ]);
    expect(await readdir(join(root, 'etc/udev/rules.d')).catch(() => [])).toEqual([]);
    // a rename back that fails is said
    const failing = new ScriptedExec({ routeAfterReload: true, fails: ['ifup lan0', 'ip link set dev lan0 name ens3'] });
    const error2 = await apply(await running(), await withModel(renamedModel(), 'interfaces'), { live: true, exec: failing, listNics: nicsOf({ name: 'ens3', mac: A, physical: true, up: true }) }).catch((e: unknown) => e);
    expect(String(error2)).toMatch(/restored \(but: renaming lan0 back to ens3: ip link set dev lan0 name ens3 exited with 1/u);
  });

  it('networkd and netplan: renamed now too (their .link and udev rule rename only as a NIC is added), then reconfigured by the new name', async () => {
    const root = await systemdRoot('networkd-enabled');
    await networkdRuns(root);
    const list = nicsOf({ name: 'ens3', mac: A, physical: true, up: true });
    const networkd = await apply(root, await withModel(renamedModel()), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: list });
    expect(networkd.actions).toEqual(['udevadm control --reload', ...RENAME, 'networkctl reload', 'networkctl reconfigure lan0']);
    const netplanRoot = await networkdRuns(await scratchRoot({ network: 'none' }), false);
    const netplan = await apply(netplanRoot, await withModel(renamedModel(), 'netplan'), { live: true, exec: new ScriptedExec({ routeAfterReload: true }), listNics: list });
    expect(netplan.actions).toEqual([...RENAME, 'netplan apply']);
  });
});
