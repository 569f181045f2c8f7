// Real guest, one network model for every backend (issue 18, item 6): a NoCloud seed (genisoimage,
// label cidata) whose network-config v2 bonds the guest's two extra virtio NICs (matched by MAC)
// in active-backup, puts VLAN 42 on the bond with a static IPv4 and IPv6 address and a route with a
// metric, and asks for DHCP on the user-mode NIC matched by its name. The same seed boots three
// guests, one per renderer vmctx picks from what is installed:
//   - Debian 12 minbase: systemd-networkd installed, not enabled → .network/.netdev files;
//   - Debian 13 with netplan.io → /etc/netplan YAML (netplan hands it to networkd);
//   - Debian 13 with network-manager (enabled, no netplan) → NetworkManager keyfiles.
// Each guest reports from inside (ip -d link, /proc/net/bonding, ip addr, ip route, the renderer's
// files) on its own serial port and powers off; vmctx's log is read back from the disk.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, readGuestFile, type ExtraNic, type Flavour, sections } from './guest.js';

const PORT0_MAC = '52:54:00:00:18:01';
const PORT1_MAC = '52:54:00:00:18:02';
/** The bond's ports at fixed PCI slots: the guest names them ens8 and ens9 (seen in these guests). */
const EXTRA_NICS: readonly ExtraNic[] = [
  { mac: PORT0_MAC, slot: 8 },
  { mac: PORT1_MAC, slot: 9 },
];
const PORT0 = 'ens8';
const PORT1 = 'ens9';
/**
 * The user-mode NIC (QEMU's DHCP on 10.0.2.0/24), at PCI slot 3 in every guest here: ens3. With
 * restrict=on QEMU's DHCP server sends no router and no DNS option, so the lease is an address only.
 */
const DHCP_NIC = 'ens3';

const NETWORK_CONFIG = `version: 2
ethernets:
  ${DHCP_NIC}:
    dhcp4: true
  port0:
    match:
      macaddress: "${PORT0_MAC}"
  port1:
    match:
      macaddress: "${PORT1_MAC}"
bonds:
  bond0:
    interfaces: [port0, port1]
    parameters:
      mode: active-backup
      mii-monitor-interval: 100
      primary: port0
vlans:
  bond0.42:
    id: 42
    link: bond0
    addresses:
      - 192.168.42.10/24
      - "fd42::10/64"
    routes:
      - to: 198.51.100.0/24
        via: 192.168.42.1
        metric: 50
`;

/**
 * Run by the harness's reporter before it powers off: waits (at most 60 s) for the state the
 * scenario asserts and for the service to finish with every link, so a slow DHCP lease under TCG
 * is not a failure, then prints each view in a
 * section of its own ("== NAME"). It only reads: nothing here configures the network.
 */
const PROBE = `#!/bin/bash
# trixie's ip colours its output on a terminal (ttyS1 is one); so could systemd's tools
ip() { command ip -color=never "$@"; }
export SYSTEMD_COLORS=0
waited=0
while [ "$waited" -lt 60 ]; do
  ip -o -4 addr show dev ${DHCP_NIC} 2>/dev/null | grep -q ' inet 10\\.0\\.2\\.' \\
    && ip -o addr show dev bond0.42 2>/dev/null | grep -q ' inet 192\\.168\\.42\\.10/' \\
    && ip -o addr show dev bond0.42 2>/dev/null | grep -q ' inet6 fd42::10/' \\
    && grep -q "^Slave Interface: ${PORT1}" /proc/net/bonding/bond0 2>/dev/null \\
    && ! grep -qsE '^ADMIN_STATE=(pending|configuring)$' /run/systemd/netif/links/* \\
    && ! { systemctl -q is-active NetworkManager.service && nmcli -t -f STATE connection show --active | grep -q activating; } && break
  sleep 1
  waited=$((waited + 1))
done
echo "== waited"; echo "$waited"
echo "== links"; ip -o -d link
echo "== bond0"; ip -d link show bond0
echo "== bonding"; cat /proc/net/bonding/bond0
echo "== vlan"; ip -d link show bond0.42
echo "== addr"; ip -o addr
echo "== route"; ip route show; ip -6 route show
echo "== files"
for d in /etc/systemd/network /etc/netplan /etc/NetworkManager/system-connections /run/systemd/network; do
  [ -d "$d" ] && find "$d" -maxdepth 1 -type f | sort
done
echo "== services"
for u in systemd-networkd NetworkManager; do echo "$u $(systemctl is-active "$u.service")"; done
# which configuration holds each link: networkd's state files (name, state, .network file: no
# networkctl, which needs D-Bus on Debian 12 and minbase has none), or NetworkManager's profiles
echo "== networkd"
for d in /sys/class/net/*/; do
  n=$(basename "$d"); f=/run/systemd/netif/links/$(cat "$d/ifindex")
  [ -f "$f" ] && echo "$n $(sed -n 's/^ADMIN_STATE=//p' "$f") $(sed -n 's/^NETWORK_FILE=//p' "$f")"
done
echo "== nmcli"
systemctl -q is-active NetworkManager.service && nmcli -t -f NAME,DEVICE connection show --active | cat
echo "== os"; . /etc/os-release; echo "$PRETTY_NAME $(uname -r)"
echo "== end"
`;

/** vmctx's "network configured" log line (JSON lines in /var/log/vmctx.log), the last one. */
async function networkLog(image: string): Promise<{ backend?: string; why?: string } | undefined> {
  const lines = ((await readGuestFile(image, '/var/log/vmctx.log')) ?? '').split('\n').filter((l) => l.startsWith('{'));
  return lines.map((l) => JSON.parse(l) as { msg?: string; backend?: string; why?: string }).filter((r) => r.msg === 'network configured').at(-1);
}

let work: string;
let seed: string;

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-netmodel-');
  const dir = join(work, 'seed');
  await mkdir(dir);
  await writeFile(join(dir, 'meta-data'), 'instance-id: iid-netmodel-18\nlocal-hostname: netmodel-guest\n');
  await writeFile(join(dir, 'user-data'), '#cloud-config\n');
  await writeFile(join(dir, 'network-config'), NETWORK_CONFIG);
  seed = join(work, 'seed.iso');
  execFileSync('genisoimage', ['-quiet', '-J', '-R', '-V', 'cidata', '-o', seed, dir]);
}, 600_000);

interface Backend {
  readonly flavour: Flavour;
  /** What vmctx logs as the backend it chose. */
  readonly backend: 'networkd' | 'netplan' | 'nm';
  /** The service that holds the network in this guest. */
  readonly service: 'systemd-networkd' | 'NetworkManager';
  /** Checks the files the renderer wrote (paths from the guest's own listing). */
  readonly files: (files: readonly string[]) => void;
}

const vmctxFiles = (files: readonly string[], dir: string): string[] => files.filter((f) => f.startsWith(`${dir}/`) && /\/(\d+-)?vmctx/u.test(f));

const BACKENDS: readonly Backend[] = [
  {
    flavour: 'systemd',
    backend: 'networkd',
    service: 'systemd-networkd',
    files(files) {
      const mine = vmctxFiles(files, '/etc/systemd/network');
      expect(mine.some((f) => /\/10-vmctx-\d+-bond0\.netdev$/u.test(f)), mine.join('\n')).toBe(true);
      expect(mine.some((f) => /\/10-vmctx-\d+-bond0\.42\.netdev$/u.test(f)), mine.join('\n')).toBe(true);
      expect(files.filter((f) => f.startsWith('/etc/netplan/') || f.startsWith('/etc/NetworkManager/system-connections/'))).toEqual([]);
    },
  },
  {
    flavour: 'trixie-netplan',
    backend: 'netplan',
    service: 'systemd-networkd',
    files(files) {
      expect(files).toContain('/etc/netplan/50-vmctx.yaml');
      // netplan, not vmctx, turned it into networkd's files (under /run)
      expect(files.some((f) => /^\/run\/systemd\/network\/10-netplan-bond0\.netdev$/u.test(f)), files.join('\n')).toBe(true);
      expect(vmctxFiles(files, '/etc/systemd/network')).toEqual([]);
    },
  },
  {
    flavour: 'trixie-nm',
    backend: 'nm',
    service: 'NetworkManager',
    files(files) {
      const mine = vmctxFiles(files, '/etc/NetworkManager/system-connections');
      for (const id of ['bond0', 'bond0.42', 'port0', 'port1', DHCP_NIC]) expect(mine, mine.join('\n')).toContain(`/etc/NetworkManager/system-connections/vmctx-${id}.nmconnection`);
      expect(vmctxFiles(files, '/etc/systemd/network')).toEqual([]);
      expect(files.filter((f) => f.startsWith('/etc/netplan/'))).toEqual([]);
    },
  },
];

describe('a NoCloud v2 bond + VLAN + DHCP-by-name in a real guest, per renderer', () => {
  for (const b of BACKENDS) {
    it(`${b.flavour}: vmctx renders for ${b.backend}; bond0 (active-backup, miimon 100) of both MAC-matched NICs, VLAN 42 with both addresses and the route, DHCP on ${DHCP_NIC}`, async () => {
      const dir = join(work, b.flavour);
      await mkdir(dir);
      const t0 = Date.now();
      const image = await buildImage(dir, { withAgent: true, flavour: b.flavour, files: { '/usr/local/sbin/vmctx-e2e-extra': PROBE } });
      const built = Date.now() - t0;
      const result = await boot(image, dir, { flavour: b.flavour, cdrom: seed, extraNics: EXTRA_NICS, timeoutMs: 600_000 });
      const at = /MULTI-USER-AT (\d+)/u.exec(result.report)?.[1];
      process.stdout.write(`netmodel ${b.flavour}: image ${built} ms, boot to power-off ${result.wallMs} ms, multi-user.target at ${at === undefined ? '?' : (Number(at) / 1e6).toFixed(1)} s\n${result.report}\n`);
      const s = sections(result.report);
      const tail = result.console.slice(-6000);
      const get = (name: string): string => s.get(name) ?? '';
      expect(s.has('end'), `the probe did not finish\n${tail}`).toBe(true);

      // vmctx took the seed and chose the backend this guest has
      expect(result.console).toMatch(/vmctx: context from \/dev\/\S+ \((label cidata|device name \w+)\), instance iid-netmodel-18/u);
      expect((await networkLog(image))?.backend, tail).toBe(b.backend);
      // every key of the document is one these backends render: nothing named as skipped
      // (vmctx words it "not supported: KEY (file:line)"; the kernel has its own "… not supported" lines)
      expect(result.console).not.toMatch(/not supported: /u);
      // no stage of the agent failed or was killed (netplan apply in the local stage waits for this unit)
      expect(result.console).not.toMatch(/vmctx-\w+\.service: (Failed|start operation timed out)/u);

      // the bond: active-backup, MII monitor every 100 ms, both MAC-matched NICs in it, port0 primary
      expect(get('bond0'), tail).toMatch(/\bbond mode active-backup\b/u);
      expect(get('bond0')).toMatch(/\bmiimon 100\b/u);
      const links = get('links').split('\n');
      for (const port of [PORT0, PORT1]) expect(links.find((l) => l.includes(`: ${port}: `)) ?? `${port} missing`, get('links')).toMatch(/ master bond0 /u);
      expect(get('bonding')).toMatch(/^Bonding Mode: fault-tolerance \(active-backup\)$/mu);
      expect(get('bonding')).toMatch(/^MII Polling Interval \(ms\): 100$/mu);
      expect(get('bonding')).toMatch(new RegExp(`^Primary Slave: ${PORT0}( |$)`, 'mu'));
      expect(get('bonding')).toMatch(new RegExp(`^Slave Interface: ${PORT0}$`, 'mu'));
      expect(get('bonding')).toMatch(new RegExp(`^Slave Interface: ${PORT1}$`, 'mu'));
      // the ports are the NICs with those MACs (a port's own MAC is its permanent one once enslaved)
      expect(get('bonding').toLowerCase()).toContain(`permanent hw addr: ${PORT0_MAC}`);
      expect(get('bonding').toLowerCase()).toContain(`permanent hw addr: ${PORT1_MAC}`);

      // the VLAN on the bond, with both addresses and the route with its metric
      expect(get('vlan')).toMatch(/^\d+: bond0\.42@bond0: /mu);
      expect(get('vlan')).toMatch(/\bvlan protocol 802\.1Q id 42\b/u);
      const addr = get('addr').split('\n');
      const on = (dev: string): string => addr.filter((l) => new RegExp(`^\\d+: ${dev.replace('.', '\\.')} `, 'u').test(l)).join('\n');
      expect(on('bond0.42'), get('addr')).toMatch(/ inet 192\.168\.42\.10\/24 /u);
      expect(on('bond0.42')).toMatch(/ inet6 fd42::10\/64 /u);
      expect(get('route')).toMatch(/^198\.51\.100\.0\/24 via 192\.168\.42\.1 dev bond0\.42 .*\bmetric 50\b/mu);
      // no address of its own on the bond or its ports
      for (const dev of ['bond0', PORT0, PORT1]) expect(on(dev)).not.toMatch(/ inet /u);

      // DHCP on the NIC the document names: a lease (dynamic) from QEMU's server on 10.0.2.0/24
      expect(on(DHCP_NIC), get('addr')).toMatch(/ inet 10\.0\.2\.\d+\/24 .*\bdynamic\b/u);

      // the renderer's files, and the service that applied them
      b.files(get('files').split('\n').filter((f) => f !== ''));
      expect(get('services')).toContain(`${b.service} active\n`);
      // and the service holds every link with what vmctx wrote (not a default DHCP profile of its own)
      if (b.service === 'NetworkManager') {
        const profiles: readonly (readonly [string, string])[] = [[DHCP_NIC, DHCP_NIC], ['bond0', 'bond0'], ['bond0.42', 'bond0.42'], ['port0', PORT0], ['port1', PORT1]];
        for (const [id, dev] of profiles) expect(get('nmcli'), get('nmcli')).toMatch(new RegExp(`^vmctx-${id.replace('.', '\\.')}:${dev.replace('.', '\\.')}$`, 'mu'));
      } else {
        // vmctx's own .network files for networkd; netplan's (generated from vmctx's YAML) for netplan
        const dir = b.backend === 'netplan' ? '/run/systemd/network/10-netplan-' : '/etc/systemd/network/10-vmctx-';
        for (const dev of [DHCP_NIC, PORT0, PORT1, 'bond0', 'bond0.42']) expect(get('networkd'), get('networkd')).toMatch(new RegExp(`^${dev.replace('.', '\\.')} configured ${dir}\\S+\\.network$`, 'mu'));
      }
      process.stdout.write(`netmodel ${b.flavour}: waited ${get('waited').trim()} s for the network after the boot\n`);
    }, 900_000);
  }
});
