// Direct tests of the ifupdown (ENI) renderer: the stanzas for each kind of device, names, the ifup
// order, every note, and that hostile values never reach a command line.
import { describe, expect, it } from 'vitest';
import { mapEni } from '../../../src/network/fromeni.js';
import type { NetModel } from '../../../src/network/netmodel.js';
import { RENAME_RULES_FILE } from '../../../src/network/renderers/common.js';
import { ENI_FILE, ENI_OWNED, eniIfupOrder, renderEni } from '../../../src/network/renderers/eni.js';
import { addr, bond, bridge, dns, eth, route, vlan, type Device } from '../netmodel-helpers.js';

const model = (devices: Device[], more: Partial<NetModel> = {}): NetModel => ({ devices, routes: [], nameservers: dns([]), ...more });
const nic = (id: string, mac: string, more: Parameters<typeof eth>[2] = {}): Device => eth(id, { macaddress: mac }, more);
const text = (m: NetModel, names?: Map<string, string>): string => {
  const f = renderEni(m, names).files.get(ENI_FILE);
  if (f === undefined) throw new Error('no ENI file');
  return f.content;
};
/** The file without its header line. */
const body = (m: NetModel, names?: Map<string, string>): string => text(m, names).split('\n').slice(1).join('\n');
const notes = (m: NetModel, names?: Map<string, string>): string[] => renderEni(m, names).notes.map((n) => `${n.path}: ${n.message}`);
const paths = (m: NetModel, names?: Map<string, string>): string[] => renderEni(m, names).notes.map((n) => n.path);

const bondModel = model([
  nic('a', '52:54:00:00:00:01'), nic('b', '52:54:00:00:00:02'),
  bond('bond0', ['a', 'b'], { mode: 'active-backup', miiMonitorInterval: 100, primary: 'a' }),
  vlan('bond0.50', 50, 'bond0', { addresses: [addr('10.0.50.2/24')], routes: [route('default', '10.0.50.1', { metric: 10 })] }),
], { nameservers: dns(['10.0.50.53'], ['example.org']) });
const bondNames = new Map([['a', 'ens3'], ['b', 'ens4']]);

describe('ENI renderer', () => {
  it('bond of two named NICs, a VLAN on the bond, static address, route with metric and global DNS on it', () => {
    const r = renderEni(bondModel, bondNames);
    expect([...r.files.keys()]).toEqual([ENI_FILE]);
    expect(ENI_FILE.startsWith(`${ENI_OWNED.dir}/`)).toBe(true);
    expect(ENI_FILE.split('/').at(-1)).toMatch(ENI_OWNED.match);
    expect(r.files.get(ENI_FILE)?.mode).toBe(0o644);
    expect(text(bondModel, bondNames)).toBe(`# Managed by vmctx; replaced at each contextualization.

# ethernets.a
auto ens3
iface ens3 inet manual
    bond-master bond0
    bond-primary ens3

# ethernets.b
auto ens4
iface ens4 inet manual
    bond-master bond0
    bond-primary ens3

# bonds.bond0
auto bond0
iface bond0 inet manual
    bond-slaves none
    bond-mode active-backup
    bond-miimon 100
    bond-primary ens3

# vlans["bond0.50"]
auto bond0.50
iface bond0.50 inet static
    address 10.0.50.2/24
    vlan-raw-device bond0
    dns-nameservers 10.0.50.53
    dns-search example.org
    post-up ip route add default via 10.0.50.1 dev bond0.50 metric 10 || true
    pre-down ip route del default via 10.0.50.1 dev bond0.50 metric 10 || true
`);
    // the by-name file does not keep the MACs: said, for each NIC
    expect(paths(bondModel, bondNames)).toEqual(['ethernets.a.match.macaddress', 'ethernets.b.match.macaddress']);
    expect(notes(bondModel, bondNames)[0]).toContain('written for "ens3", the name the live system gives this NIC now');
  });

  it('reads back through the ENI mapper as the same bond, members, VLAN, address and DNS (commands aside)', () => {
    const back = mapEni(text(bondModel, bondNames), '50-vmctx');
    expect(back.model.devices.map((d) => [d.kind, d.id])).toEqual([['ethernet', 'ens3'], ['ethernet', 'ens4'], ['bond', 'bond0'], ['vlan', 'bond0.50']]);
    const b = back.model.devices[2];
    expect(b?.kind === 'bond' ? [b.interfaces, b.parameters] : undefined).toEqual([['ens3', 'ens4'], { mode: 'active-backup', miiMonitorInterval: 100, primary: 'ens3' }]);
    const v = back.model.devices[3];
    expect(v?.kind === 'vlan' ? [v.vlanId, v.link, v.addresses, v.nameservers] : undefined).toEqual([50, 'bond0', [addr('10.0.50.2/24')], dns(['10.0.50.53'], ['example.org'])]);
    // the mapper never runs commands (the route lines), and reads bond-primary from the bond's stanza
    // only (ifenslave also reads it from each member's, where the renderer repeats it)
    expect(back.notes.map((n) => [n.path, n.what])).toEqual([['bond-primary', 'unused'], ['bond-primary', 'unused'], ['post-up', 'not supported'], ['pre-down', 'not supported']]);
  });

  it('ifup order: bond members, then the bond, then the VLAN on it', () => {
    expect(eniIfupOrder(bondModel, bondNames)).toEqual(['ens3', 'ens4', 'bond0', 'bond0.50']);
    // the model's own order does not matter
    const shuffled = model([...bondModel.devices].reverse());
    expect(eniIfupOrder(shuffled, bondNames)).toEqual(['ens3', 'ens4', 'bond0', 'bond0.50']);
    const br = model([bridge('br0', ['e0', 'e1'], {}), vlan('e0.7', 7, 'e0'), eth('e0', { name: 'e0' }), eth('e1', { name: 'e1' })]);
    expect(eniIfupOrder(br)).toEqual(['e0', 'e1', 'br0', 'e0.7']);
  });

  it('MAC-only NICs without live names: noted and not written; the VLAN on one noted; the bond keeps its own config without them', () => {
    const m = model([...bondModel.devices, vlan('v9', 9, 'a', { dhcp4: true })]);
    const r = renderEni(m);
    expect(r.notes.map((n) => n.path)).toEqual([
      'ethernets.a', 'ethernets.b', 'vlans.v9', 'bonds.bond0.interfaces', 'bonds.bond0.interfaces', 'bonds.bond0.parameters.primary',
    ]);
    expect(notes(m)[0]).toBe('ethernets.a: "a" is matched by MAC only and the live system did not name it; ifupdown configures interfaces by name: not written');
    expect(notes(m)[2]).toContain('the VLAN\'s parent "a" is not written');
    const out = body(m);
    expect(out).not.toMatch(/52:54|bond-master|bond-primary|\bv9\b/u);
    expect(out).toContain('iface bond0 inet manual\n    bond-slaves none\n    bond-mode active-backup\n    bond-miimon 100\n');
    expect(eniIfupOrder(m)).toEqual(['bond0', 'bond0.50']);
    // nothing writable at all: no file
    expect(renderEni(model([nic('a', '52:54:00:00:00:01', { dhcp4: true })])).files.size).toBe(0);
  });

  it('a global route whose device is not written is noted', () => {
    const m = model([nic('a', '52:54:00:00:00:01', { addresses: [addr('10.1.0.2/24')] })], { routes: [route('10.9.0.0/16', '10.1.0.1')] });
    expect(paths(m)).toEqual(['ethernets.a', 'routes[0]']);
    expect(body(m, new Map([['a', 'eth0']]))).toContain('    post-up ip route add 10.9.0.0/16 via 10.1.0.1 dev eth0 || true\n');
  });

  it('bridge: ports by name, bridge-utils parameters, per-port cost and priority from the port, member IP noted', () => {
    const m = model([
      eth('p1', { name: 'ens5' }, { addresses: [addr('10.0.0.9/24')], mtu: 9000 }), eth('p2', { name: 'ens6' }),
      bridge('br0', ['p1', 'p2'], { stp: true, forwardDelay: 4, helloTime: 2, maxAge: 12, ageingTime: 300, priority: 4096, pathCost: { p1: 50 }, portPriority: { p2: 16 } }, { dhcp4: true }),
    ]);
    expect(body(m)).toBe(`
# ethernets.p1
auto ens5
iface ens5 inet manual
    mtu 9000
    post-up ip link set dev ens5 type bridge_slave cost 50

# ethernets.p2
auto ens6
iface ens6 inet manual
    post-up ip link set dev ens6 type bridge_slave priority 16

# bridges.br0
auto br0
iface br0 inet dhcp
    bridge_ports ens5 ens6
    bridge_stp on
    bridge_fd 4
    bridge_hello 2
    bridge_maxage 12
    bridge_ageing 300
    bridge_bridgeprio 4096
`);
    // match.name is the name written: nothing lost there
    expect(paths(m)).toEqual(['ethernets.p1.addresses']);
    expect(notes(m)[0]).toContain('"p1" is a member of the bridge "br0"');
  });

  it('refuses hostile interface names (from the live system or an id) and everything that depends on them', () => {
    const m = model([
      nic('a', '52:54:00:00:00:01', { dhcp4: true }), vlan('a.5', 5, 'a', { dhcp4: true }),
      bond('bond0:1', ['b'], {}), nic('b', '52:54:00:00:00:02'),
      bridge('averyveryverylongbridge', [], {}, { dhcp4: true }),
    ]);
    const hostile = new Map([['a', 'eth0;reboot'], ['b', 'eth1 up']]);
    const r = renderEni(m, hostile);
    expect(r.files.size).toBe(0);
    expect(r.notes.map((n) => n.path)).toEqual(['ethernets.a', 'vlans["a.5"]', 'ethernets.b', 'bonds["bond0:1"]', 'bridges.averyveryverylongbridge']);
    expect(r.notes[0]?.message).toBe('"eth0;reboot" is not an interface name ifupdown can configure (1 to 15 letters, digits, "_", "." or "-"): not written');
    expect(eniIfupOrder(m, hostile)).toEqual([]);
    // a name with a newline can never add a line
    const nl = renderEni(model([nic('a', '52:54:00:00:00:01', { dhcp4: true })]), new Map([['a', 'eth0\nup reboot']]));
    expect(nl.files.size).toBe(0);
  });

  it('refuses route and DNS values that are not plain tokens (a model built by hand, past the mappers\' checks)', () => {
    const m = model([eth('e', { name: 'eth0' }, {
      addresses: [addr('10.0.0.2/24')],
      routes: [route('default', '10.0.0.1; reboot'), { to: addr('10.5.0.0/16'), via: '10.0.0.1', from: '$(id)' }, route('10.6.0.0/16', '10.0.0.1', { metric: 1.5 })],
      nameservers: dns(['10.0.0.53', 'fe80::53%eth0', '1.1.1.1 2.2.2.2'], ['ok.example', 'bad example']),
    })]);
    const out = body(m);
    expect(out).not.toMatch(/reboot|\$\(id\)|1\.5|fe80|2\.2\.2\.2|bad example/u);
    expect(out).toContain('    dns-nameservers 10.0.0.53\n    dns-search ok.example\n');
    expect(out).not.toContain('post-up');
    expect(paths(m)).toEqual(['ethernets.e.nameservers', 'ethernets.e.nameservers', 'ethernets.e.nameservers', 'ethernets.e.routes[0]', 'ethernets.e.routes[1]', 'ethernets.e.routes[2]']);
    expect(notes(m)[3]).toContain('ifupdown runs its route commands with a shell: not written');
  });

  it('dual stack with several addresses of each family, DHCP and SLAAC: one stanza per address, link settings on the first', () => {
    const m = model([eth('e', { name: 'eth0' }, {
      dhcp4: true, dhcp6: true, acceptRa: true,
      addresses: [addr('192.0.2.10/24'), addr('192.0.2.11/24'), addr('2001:db8::10/64'), addr('2001:db8::11/64')],
      mtu: 1450, macaddress: '52:54:00:12:34:56', wakeOnLan: true,
      routes: [route('default', '192.0.2.1'), route('default', '2001:db8::1', { metric: 5 })],
      nameservers: dns(['192.0.2.53', '2001:db8::53']),
    })]);
    expect(body(m)).toBe(`
# ethernets.e
auto eth0
iface eth0 inet static
    address 192.0.2.10/24
    mtu 1450
    hwaddress 52:54:00:12:34:56
    ethernet-wol g
    dns-nameservers 192.0.2.53 2001:db8::53
iface eth0 inet static
    address 192.0.2.11/24
iface eth0 inet dhcp
    post-up ip route add default via 192.0.2.1 dev eth0 || true
    pre-down ip route del default via 192.0.2.1 dev eth0 || true
iface eth0 inet6 static
    address 2001:db8::10/64
    accept_ra 1
    autoconf 1
iface eth0 inet6 static
    address 2001:db8::11/64
    accept_ra 1
    autoconf 1
iface eth0 inet6 dhcp
    accept_ra 1
    autoconf 1
    post-up ip -6 route add default via 2001:db8::1 dev eth0 metric 5 || true
    pre-down ip -6 route del default via 2001:db8::1 dev eth0 metric 5 || true
`);
    expect(paths(m)).toEqual([]);
  });

  it('IPv6 methods: SLAAC alone is inet6 auto, DHCPv6 without RA says accept_ra 0, accept-ra off with no IPv6 stanza is noted', () => {
    expect(body(model([eth('e', { name: 'eth0' }, { acceptRa: true })]))).toBe('\n# ethernets.e\nauto eth0\niface eth0 inet6 auto\n');
    expect(body(model([eth('e', { name: 'eth0' }, { dhcp6: true, acceptRa: false })]))).toBe('\n# ethernets.e\nauto eth0\niface eth0 inet6 dhcp\n    accept_ra 0\n');
    const off = model([eth('e', { name: 'eth0' }, { dhcp4: true, acceptRa: false, linkLocal: [] })]);
    expect(paths(off)).toEqual(['ethernets.e.accept-ra', 'ethernets.e.link-local']);
    // link-local IPv6 only is the kernel's default: nothing to say
    expect(paths(model([eth('e', { name: 'eth0' }, { dhcp4: true, linkLocal: ['ipv6'] })]))).toEqual([]);
  });

  it('routes: metric, table, scope, source, MTU and on-link as ip-route arguments, IPv6 with -6', () => {
    const m = model([eth('e', { name: 'eth0' }, {
      addresses: [addr('10.0.0.2/24'), addr('2001:db8::2/64')],
      routes: [
        route('10.8.0.0/16', '10.0.0.1', { metric: 100, table: 7, scope: 'global', from: '10.0.0.2', mtu: 1400 }),
        route('default', '10.9.9.9', { onLink: true, metric: 300 }),
        { to: addr('10.7.0.0/16'), scope: 'link' },
        route('2001:db8:1::/48', '2001:db8::1', { metric: 1024 }),
      ],
    })]);
    const lines = body(m).split('\n').filter((l) => l.includes('post-up'));
    expect(lines).toEqual([
      '    post-up ip route add 10.8.0.0/16 via 10.0.0.1 dev eth0 src 10.0.0.2 metric 100 table 7 scope global mtu 1400 || true',
      '    post-up ip route add default via 10.9.9.9 dev eth0 metric 300 onlink || true',
      '    post-up ip route add 10.7.0.0/16 dev eth0 scope link || true',
      '    post-up ip -6 route add 2001:db8:1::/48 via 2001:db8::1 dev eth0 metric 1024 || true',
    ]);
    expect(body(m).split('\n').filter((l) => l.includes('pre-down'))).toHaveLength(4);
  });

  it('routes go on the last stanza of their family: an IPv4 route does not wait on an inet6 stanza (a DHCPv6 server that never answers)', () => {
    const m = model([eth('e', { name: 'eth0' }, {
      addresses: [addr('10.0.0.2/24'), addr('10.1.0.2/24')], dhcp6: true,
      routes: [route('default', '10.0.0.1'), route('10.8.0.0/16', '10.1.0.1'), route('2001:db8:1::/48', 'fe80::1')],
    })]);
    expect(body(m)).toBe([
      '', '# ethernets.e', 'auto eth0',
      'iface eth0 inet static', '    address 10.0.0.2/24',
      'iface eth0 inet static', '    address 10.1.0.2/24',
      '    post-up ip route add default via 10.0.0.1 dev eth0 || true', '    pre-down ip route del default via 10.0.0.1 dev eth0 || true',
      '    post-up ip route add 10.8.0.0/16 via 10.1.0.1 dev eth0 || true', '    pre-down ip route del 10.8.0.0/16 via 10.1.0.1 dev eth0 || true',
      'iface eth0 inet6 dhcp',
      '    post-up ip -6 route add 2001:db8:1::/48 via fe80::1 dev eth0 || true', '    pre-down ip -6 route del 2001:db8:1::/48 via fe80::1 dev eth0 || true',
      '',
    ].join('\n'));
  });

  it('names: set-name by driver is a udev rule (the glob noted); a match.name is the name; live names win over a glob', () => {
    const m = model([
      eth('fast', { driver: 'ixgbe', name: 'en*' }, { dhcp4: true, setName: 'fast0' }),
      eth('plain', { name: 'ens3' }, { dhcp4: true }),
      eth('globbed', { name: 'enp*' }, { dhcp4: true }),
    ]);
    expect(paths(m)).toEqual(['ethernets.globbed', 'ethernets.fast.match.name']);
    expect(body(m)).toContain('# ethernets.fast (renamed fast0)\nauto fast0\niface fast0 inet dhcp\n');
    expect(renderEni(m).files.get(RENAME_RULES_FILE)?.content).toContain('\n# ethernets.fast\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="ixgbe", NAME="fast0"\n');
    expect(body(m)).toContain('auto ens3\n');
    const named = renderEni(m, new Map([['globbed', 'enp7s0']]));
    expect(named.files.get(ENI_FILE)?.content).toContain('auto enp7s0\niface enp7s0 inet dhcp\n');
    expect(named.notes.map((n) => n.path)).toContain('ethernets.globbed.match.name');
  });

  it('set-name by MAC: a udev rule renames the NIC, the stanzas use the new name, nothing noted; by name only: noted, no rule', () => {
    const m = model([nic('x', '52:54:00:00:00:09', { setName: 'wan0', dhcp4: true }), eth('y', { name: 'eth1' }, { setName: 'lan0', dhcp4: true })]);
    const r = renderEni(m);
    expect([...r.files.keys()]).toEqual([ENI_FILE, RENAME_RULES_FILE]);
    expect(r.files.get(RENAME_RULES_FILE)).toEqual({
      content: '# Managed by vmctx; replaced at each contextualization.\n# set-name: udev names each NIC as it is added (at boot, or when it is hot-plugged)\n\n# ethernets.x\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:00:00:09", NAME="wan0"\n',
      mode: 0o644,
    });
    expect(body(m)).toContain('# ethernets.x (renamed wan0)\nauto wan0\niface wan0 inet dhcp\n');
    expect(notes(m)).toEqual([
      'ethernets.y.match.name: ifupdown configures interfaces by name: written for "lan0"; the file does not keep this match',
      'ethernets.y.set-name: not renamed (udev finds a NIC to rename by its MAC or driver only: when its rules run, the NIC has the kernel\'s name (eth0, eth1… in probe order), so a rule for the name "eth1" could miss it or rename another NIC): written for "lan0", which applies only if the NIC has that name',
    ]);
    expect(RENAME_RULES_FILE.startsWith(`${ENI_OWNED.also[0]?.dir ?? ''}/`)).toBe(true);
    expect(RENAME_RULES_FILE.split('/').at(-1)).toMatch(ENI_OWNED.also[0]?.match ?? /^$/u);
    // no set-name, no rules file
    expect([...renderEni(model([nic('x', '52:54:00:00:00:09', { dhcp4: true })]), new Map([['x', 'ens3']])).files.keys()]).toEqual([ENI_FILE]);
  });

  it('VLANs: PARENT.ID is left to ifupdown; any other name is created by a guarded ip link add; a misleading dotted name is refused', () => {
    const m = model([
      eth('e', { name: 'eth0' }),
      vlan('eth0.10', 10, 'e'), vlan('office', 20, 'e', { dhcp4: true }), vlan('eth1.30', 30, 'e'),
    ]);
    expect(body(m)).toContain('# vlans["eth0.10"]\nauto eth0.10\niface eth0.10 inet manual\n    vlan-raw-device eth0\n');
    expect(body(m)).toContain('iface office inet dhcp\n    pre-up test -d /sys/class/net/office || ip link add link eth0 name office type vlan id 20\n    post-down ip link del office || true\n');
    expect(paths(m)).toEqual(['vlans["eth1.30"]']);
    expect(notes(m)[0]).toContain('ifupdown would create "eth1.30" as VLAN 30 on "eth1"');
  });

  it('DHCP overrides: route-metric and hostname on inet dhcp, every other one noted; overrides with DHCP off noted', () => {
    const m = model([eth('e', { name: 'eth0' }, {
      dhcp4: true, dhcp6: true,
      dhcp4Overrides: { routeMetric: 200, hostname: 'node1', useDns: false },
      dhcp6Overrides: { routeMetric: 200 },
    }), eth('f', { name: 'eth1' }, { dhcp4Overrides: { useDns: false } })]);
    expect(body(m)).toContain('iface eth0 inet dhcp\n    metric 200\n    hostname node1\niface eth0 inet6 dhcp\n');
    expect(paths(m)).toEqual(['ethernets.e.dhcp4-overrides.use-dns', 'ethernets.e.dhcp6-overrides.route-metric', 'ethernets.f.dhcp4-overrides']);
  });

  it('MTU on a DHCP-only interface is set by a pre-up command (the dhcp method has no mtu); a MAC on inet6 auto likewise', () => {
    expect(body(model([eth('e', { name: 'eth0' }, { dhcp4: true, mtu: 1400 })]))).toBe('\n# ethernets.e\nauto eth0\niface eth0 inet dhcp\n    pre-up ip link set dev eth0 mtu 1400\n');
    expect(body(model([eth('e', { name: 'eth0' }, { acceptRa: true, macaddress: '52:54:00:00:00:09' })]))).toBe('\n# ethernets.e\nauto eth0\niface eth0 inet6 auto\n    pre-up ip link set dev eth0 address 52:54:00:00:00:09\n');
  });

  it('global DNS goes on every interface with IP configuration; with none it is noted', () => {
    const m = model([eth('e', { name: 'eth0' }, { dhcp4: true }), eth('f', { name: 'eth1' }, { addresses: [addr('10.0.0.2/24')], nameservers: dns(['10.0.0.53']) }), eth('g', { name: 'eth2' })], { nameservers: dns(['9.9.9.9'], ['corp.example']) });
    expect(body(m)).toContain('iface eth0 inet dhcp\n    dns-nameservers 9.9.9.9\n    dns-search corp.example\n');
    expect(body(m)).toContain('    address 10.0.0.2/24\n    dns-nameservers 10.0.0.53 9.9.9.9\n    dns-search corp.example\n');
    expect(body(m)).toContain('iface eth2 inet manual\n');
    expect(body(m)).not.toMatch(/iface eth2 inet manual\n {4}dns/u);
    const none = model([eth('g', { name: 'eth2' })], { nameservers: dns(['9.9.9.9']) });
    expect(paths(none)).toEqual(['nameservers']);
  });

  it('optional: an ethernet is allow-hotplug; a created device stays auto, noted; a renderer request is noted', () => {
    const m = model([eth('e', { name: 'eth0' }, { dhcp4: true, optional: true }), bond('bond0', [], {}, { dhcp4: true, optional: true })], { renderer: 'NetworkManager' });
    expect(body(m)).toContain('allow-hotplug eth0\niface eth0 inet dhcp\n');
    expect(body(m)).toContain('auto bond0\n');
    expect(paths(m)).toEqual(['renderer', 'bonds.bond0.optional']);
  });

  it('wake-on-LAN off is ethtool\'s "d"', () => {
    expect(body(model([eth('e', { name: 'eth0' }, { wakeOnLan: false })]))).toContain('iface eth0 inet manual\n    ethernet-wol d\n');
  });

  it('an empty model renders no file', () => {
    const r = renderEni(model([]));
    expect(r.files.size).toBe(0);
    expect(r.notes).toEqual([]);
  });
});
