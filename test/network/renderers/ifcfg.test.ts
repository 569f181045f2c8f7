// Direct tests of the ifcfg (network-scripts) renderer: each rule and each note, on small models.
import { describe, expect, it } from 'vitest';
import type { NetModel } from '../../../src/network/netmodel.js';
import { IFCFG_OWNED, ifcfgIfupOrder, ifcfgNetworkMerge, renderIfcfg } from '../../../src/network/renderers/ifcfg.js';
import { HEADER, RENAME_RULES_FILE } from '../../../src/network/renderers/common.js';
import { addr, bond, bridge, dns, eth, route, vlan, type Device } from '../netmodel-helpers.js';

const DIR = '/etc/sysconfig/network-scripts';
const model = (devices: Device[], more: Partial<NetModel> = {}): NetModel => ({ devices, routes: [], nameservers: dns([]), ...more });
const nic = (id: string, mac: string, more: Parameters<typeof eth>[2] = {}): Device => eth(id, { macaddress: mac }, more);
/** A file's lines after the header and device path comment. */
const body = (r: ReturnType<typeof renderIfcfg>, name: string): string[] => {
  const f = r.files.get(`${DIR}/${name}`);
  if (f === undefined) throw new Error(`no ${name} in ${[...r.files.keys()].join(', ')}`);
  return f.content.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
};
const paths = (r: ReturnType<typeof renderIfcfg>): string[] => r.notes.map((n) => n.path);

describe('ifcfg renderer', () => {
  const bondModel = model([
    nic('a', '52:54:00:00:00:01'), nic('b', '52:54:00:00:00:02'),
    bond('bond0', ['a', 'b'], { mode: '802.3ad', miiMonitorInterval: 100, lacpRate: 'fast', transmitHashPolicy: 'layer3+4', primary: 'a', arpIpTargets: ['10.0.0.1', '10.0.0.2'], allSlavesActive: false }, { macaddress: '52:54:00:00:00:b0' }),
    vlan('bond0.5', 5, 'bond0', { addresses: [addr('10.0.5.2/24')], routes: [route('default', '10.0.5.1')], nameservers: dns(['10.0.5.53'], ['example.org']) }),
  ]);
  const names = new Map([['a', 'eth0'], ['b', 'eth1']]);

  it('writes a bond with its ports (MASTER/SLAVE), BONDING_OPTS in the kernel\'s names, and a static VLAN on it', () => {
    const r = renderIfcfg(bondModel, names);
    expect([...r.files.keys()].sort()).toEqual([`${DIR}/ifcfg-bond0`, `${DIR}/ifcfg-bond0.5`, `${DIR}/ifcfg-eth0`, `${DIR}/ifcfg-eth1`]);
    expect(body(r, 'ifcfg-eth0')).toEqual(['DEVICE=eth0', 'HWADDR=52:54:00:00:00:01', 'TYPE=Ethernet', 'ONBOOT=yes', 'MASTER=bond0', 'SLAVE=yes', 'BOOTPROTO=none']);
    expect(body(r, 'ifcfg-bond0')).toEqual([
      'DEVICE=bond0', 'TYPE=Bond', 'BONDING_MASTER=yes',
      'BONDING_OPTS="mode=802.3ad miimon=100 lacp_rate=fast xmit_hash_policy=layer3+4 all_slaves_active=0 arp_ip_target=10.0.0.1,10.0.0.2 primary=eth0"',
      'MACADDR=52:54:00:00:00:b0', 'ONBOOT=yes', 'BOOTPROTO=none',
    ]);
    expect(body(r, 'ifcfg-bond0.5')).toEqual([
      'DEVICE=bond0.5', 'VLAN=yes', 'PHYSDEV=bond0', 'VLAN_ID=5', 'ONBOOT=yes', 'BOOTPROTO=none', 'IPADDR=10.0.5.2', 'PREFIX=24',
      'GATEWAY=10.0.5.1', 'DEFROUTE=yes', 'DNS1=10.0.5.53', 'DOMAIN=example.org', 'PEERDNS=no',
    ]);
    expect(r.notes).toEqual([]);
    for (const [path, f] of r.files) {
      expect(path.split('/').at(-1)).toMatch(IFCFG_OWNED.match);
      expect(path.startsWith(`${IFCFG_OWNED.dir}/`)).toBe(true);
      expect(f.mode).toBe(0o644);
      expect(f.content.startsWith(`# ${HEADER}\n`)).toBe(true);
    }
    expect(r.files.get(`${DIR}/ifcfg-bond0.5`)?.content.split('\n')[1]).toBe('# vlans["bond0.5"]');
  });

  it('writes a bridge (STP, DELAY, BRIDGING_OPTS in centiseconds) and its ports with BRIDGE= and per-port cost/priority', () => {
    const r = renderIfcfg(model([
      eth('p0', { name: 'ens3' }), eth('p1', { name: 'ens4' }),
      bridge('br0', ['p0', 'p1'], { stp: true, forwardDelay: 4, helloTime: 2, maxAge: 12, ageingTime: 50, priority: 4096, pathCost: { p0: 10 }, portPriority: { p0: 32 } }, { dhcp4: true }),
    ]));
    expect(body(r, 'ifcfg-br0')).toEqual(['DEVICE=br0', 'TYPE=Bridge', 'STP=yes', 'DELAY=4', 'BRIDGING_OPTS="priority=4096 hello_time=200 max_age=1200 ageing_time=5000"', 'ONBOOT=yes', 'BOOTPROTO=dhcp']);
    expect(body(r, 'ifcfg-ens3')).toEqual(['DEVICE=ens3', 'TYPE=Ethernet', 'ONBOOT=yes', 'BRIDGE=br0', 'BRIDGING_OPTS="path_cost=10 priority=32"', 'BOOTPROTO=none']);
    expect(body(r, 'ifcfg-ens4')).toEqual(['DEVICE=ens4', 'TYPE=Ethernet', 'ONBOOT=yes', 'BRIDGE=br0', 'BOOTPROTO=none']);
    expect(r.notes).toEqual([]);
  });

  it('writes dual-stack addresses (IPADDRn/PREFIXn, IPV6ADDR + secondaries), both gateways, MTU, DHCPv6 and SLAAC as asked', () => {
    const r = renderIfcfg(model([eth('lan', { name: 'eth0' }, {
      addresses: [addr('192.0.2.10/24'), addr('2001:db8::10/64'), addr('192.0.2.11/25'), addr('2001:db8::11/64'), addr('2001:db8::12/64')],
      routes: [route('default', '192.0.2.1', { metric: 50 }), route('default', '2001:db8::1')], mtu: 9000,
    }), eth('dyn', { name: 'eth1' }, { dhcp4: true, dhcp6: true }), eth('ra', { name: 'eth2' }, { acceptRa: true }), eth('nora', { name: 'eth3' }, { dhcp4: true, acceptRa: false })]));
    expect(body(r, 'ifcfg-eth0')).toEqual([
      'DEVICE=eth0', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=none', 'IPADDR=192.0.2.10', 'PREFIX=24', 'IPADDR1=192.0.2.11', 'PREFIX1=25',
      'GATEWAY=192.0.2.1', 'METRIC=50', 'DEFROUTE=yes', 'IPV6INIT=yes', 'IPV6_AUTOCONF=no', 'IPV6ADDR=2001:db8::10/64',
      'IPV6ADDR_SECONDARIES="2001:db8::11/64 2001:db8::12/64"', 'IPV6_DEFAULTGW=2001:db8::1', 'MTU=9000',
    ]);
    expect(body(r, 'ifcfg-eth1')).toEqual(['DEVICE=eth1', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp', 'IPV6INIT=yes', 'IPV6_AUTOCONF=yes', 'DHCPV6C=yes']);
    expect(body(r, 'ifcfg-eth2')).toEqual(['DEVICE=eth2', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=none', 'IPV6INIT=yes', 'IPV6_AUTOCONF=yes']);
    expect(body(r, 'ifcfg-eth3')).toEqual(['DEVICE=eth3', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp', 'IPV6_AUTOCONF=no']);
    expect(r.files.has(`${DIR}/route-eth0`)).toBe(false);
    expect(r.notes).toEqual([]);
  });

  it('writes static IPv4 next to DHCPv4 (NetworkManager applies both) and notes that initscripts\' ifup skips it', () => {
    const r = renderIfcfg(model([eth('lan', { name: 'eth0' }, { dhcp4: true, addresses: [addr('192.0.2.10/24')], routes: [route('default', '192.0.2.1')] })]));
    expect(body(r, 'ifcfg-eth0')).toEqual(['DEVICE=eth0', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp', 'IPADDR=192.0.2.10', 'PREFIX=24', 'GATEWAY=192.0.2.1', 'DEFROUTE=yes']);
    expect(paths(r)).toEqual(['ethernets.lan.addresses', 'ethernets.lan.routes']);
  });

  it('writes routes with metric and every option to route-/route6- in the ip-route form; a second or rich default route too; global routes go where their gateway is', () => {
    const r = renderIfcfg(model([eth('lan', { name: 'eth0' }, {
      addresses: [addr('10.0.0.2/24'), addr('fd00::2/64')],
      routes: [
        route('10.1.0.0/16', '10.0.0.1', { metric: 100 }), route('default', '10.0.0.254', { table: 200 }),
        route('192.168.0.0/24', undefined, { scope: 'link', mtu: 1400 }), route('fd01::/48', 'fd00::1', { metric: 5, from: 'fd00::2', onLink: true }),
        route('default', 'fd00::1', { metric: 10 }),
      ],
    })], { routes: [route('172.16.0.0/12', '10.0.0.9'), route('172.17.0.0/16', '198.51.100.1')] }));
    expect(body(r, 'route-eth0')).toEqual([
      '10.1.0.0/16 via 10.0.0.1 dev eth0 metric 100', '0.0.0.0/0 via 10.0.0.254 dev eth0 table 200',
      '192.168.0.0/24 dev eth0 scope link mtu 1400', '172.16.0.0/12 via 10.0.0.9 dev eth0',
    ]);
    // IPV6_DEFAULTGW has no metric: a default route with one is a route6 line
    expect(body(r, 'route6-eth0')).toEqual(['fd01::/48 via fd00::1 dev eth0 metric 5 src fd00::2 onlink', '::/0 via fd00::1 dev eth0 metric 10']);
    expect(body(r, 'ifcfg-eth0')).not.toContain('IPV6_DEFAULTGW=fd00::1');
    expect(body(r, 'ifcfg-eth0')).not.toContain('GATEWAY=10.0.0.254');
    expect(paths(r)).toEqual(['routes[1]']);
    const two = renderIfcfg(model([eth('lan', { name: 'eth0' }, { addresses: [addr('10.0.0.2/24')], routes: [route('default', '10.0.0.1'), route('default', '10.0.0.254'), route('default', '10.0.0.253', { metric: 200 })] })]));
    expect(body(two, 'route-eth0')).toEqual(['0.0.0.0/0 via 10.0.0.254 dev eth0', '0.0.0.0/0 via 10.0.0.253 dev eth0 metric 200']);
    expect(paths(two)).toEqual(['ethernets.lan.routes']);
    expect(two.notes[0]?.message).toContain('via 10.0.0.254');
  });

  it('without the live name notes a MAC-only NIC and writes nothing for it, nor a VLAN on it; with the name writes HWADDR= and DEVICE=', () => {
    const m = model([nic('uplink', '52:54:00:aa:00:01', { dhcp4: true }), vlan('v7', 7, 'uplink', { dhcp4: true }), eth('drv', { driver: 'virtio_net' }, { dhcp4: true })]);
    const r = renderIfcfg(m);
    expect(r.files.size).toBe(0);
    expect(paths(r)).toEqual(['ethernets.uplink', 'vlans.v7', 'ethernets.drv']);
    expect(r.notes[0]?.message).toContain('MAC 52:54:00:aa:00:01 is not known');
    expect(r.notes.every((n) => n.file === 'ifcfg' && n.what === 'not supported')).toBe(true);
    const named = renderIfcfg(m, new Map([['uplink', 'ens5'], ['drv', 'ens6']]));
    expect(body(named, 'ifcfg-ens5')).toEqual(['DEVICE=ens5', 'HWADDR=52:54:00:aa:00:01', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp']);
    expect(body(named, 'ifcfg-v7')).toContain('PHYSDEV=ens5');
    // a driver match is frozen to this boot's NIC; "v7" is neither PARENT.ID nor vlanID
    expect(paths(named)).toEqual(['vlans.v7.id', 'ethernets.drv.match.driver']);
    expect(ifcfgIfupOrder(m)).toEqual([]);
  });

  it('set-name: a udev rule renames the NIC (by MAC, or driver), the ifcfg file is for the new name; a name glob and wake-on-LAN as ETHTOOL_OPTS', () => {
    const m = model([
      eth('wan', { macaddress: '52:54:00:aa:00:02', name: 'en*' }, { setName: 'wan0', wakeOnLan: true, dhcp4: true }),
      eth('drv', { driver: 'e1000e' }, { setName: 'lom0', dhcp4: true }),
    ]);
    const r = renderIfcfg(m);
    expect(body(r, 'ifcfg-wan0')).toEqual(['DEVICE=wan0', 'HWADDR=52:54:00:aa:00:02', 'TYPE=Ethernet', 'ETHTOOL_OPTS="wol g"', 'ONBOOT=yes', 'BOOTPROTO=dhcp']);
    expect(body(r, 'ifcfg-lom0')).toEqual(['DEVICE=lom0', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp']);
    expect(r.files.get(RENAME_RULES_FILE)?.content.split('\n').filter((l) => l.startsWith('SUBSYSTEM'))).toEqual([
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:aa:00:02", NAME="wan0"',
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="e1000e", NAME="lom0"',
    ]);
    // renamed: neither the set-name nor the driver match is a gap; the glob is not kept
    expect(r.notes.map((n) => `${n.path}: ${n.message}`)).toEqual(['ethernets.wan.match.name: the udev rule renames the NIC found by its MAC to wan0, whatever its name: the match "en*" is not kept']);
    expect(paths(renderIfcfg(m, new Map([['wan', 'wan0']])))).toEqual(['ethernets.wan.match.name']);
    expect(IFCFG_OWNED.also[0].match.test(RENAME_RULES_FILE.split('/').at(-1) ?? '')).toBe(true);
  });

  it('set-name with a name match only is not renamed: noted unless the NIC already has the name', () => {
    const m = model([eth('n', { name: 'eth3' }, { setName: 'data0', dhcp4: true })]);
    const r = renderIfcfg(m);
    expect(r.files.has(RENAME_RULES_FILE)).toBe(false);
    expect(paths(r)).toEqual(['ethernets.n.set-name', 'ethernets.n.match.name']);
    expect(r.notes[0]?.message).toMatch(/^not renamed \(udev finds a NIC to rename by its MAC or driver only: .*\): written for the name data0, which applies only if the NIC has that name$/u);
    expect(paths(renderIfcfg(m, new Map([['n', 'data0']])))).toEqual(['ethernets.n.match.name']);
  });

  it('refuses values the shell would expand or that end the quotes, and names a route and an interface name it cannot write', () => {
    const hostile = eth('h', { name: 'eth0' }, { dhcp4: true, dhcp4Overrides: { hostname: 'a$(reboot)' } });
    const r = renderIfcfg(model([hostile, eth('q', { name: 'eth1' }, { dhcp4: true, dhcp4Overrides: { hostname: 'two words' } })]));
    expect(body(r, 'ifcfg-eth0').join('\n')).not.toContain('reboot');
    expect(body(r, 'ifcfg-eth1')).toContain('DHCP_HOSTNAME="two words"');
    expect(paths(r)).toEqual(['ethernets.h.dhcp4-overrides.hostname']);
    for (const bad of ['a"b', 'a`id`', 'a\\b', 'a\nb']) {
      const x = renderIfcfg(model([eth('h', { name: 'eth0' }, { dhcp4: true, dhcp4Overrides: { hostname: bad } })]));
      expect(body(x, 'ifcfg-eth0').some((l) => l.startsWith('DHCP_HOSTNAME'))).toBe(false);
      expect(paths(x)).toEqual(['ethernets.h.dhcp4-overrides.hostname']);
    }
    // a live name that is no interface name (the module resolved it from the system, still checked)
    const y = renderIfcfg(model([nic('n', '52:54:00:00:00:09', { dhcp4: true })]), new Map([['n', 'eth0;reboot']]));
    expect(y.files.size).toBe(0);
    expect(paths(y)).toEqual(['ethernets.n']);
    // every line of every corpus-like file is KEY=token or KEY="quoted"
    for (const f of renderIfcfg(bondModel, names).files.values()) {
      for (const l of f.content.split('\n').filter((x) => x !== '' && !x.startsWith('#'))) expect(l).toMatch(/^[A-Z0-9_]+=([A-Za-z0-9_.:/+,=@%-]+|"[^"$`\\]*")$/u);
    }
  });

  it('maps DHCPv4 overrides it can (PEERDNS, METRIC, DHCP_HOSTNAME, DHCP_SEND_HOSTNAME) and notes the rest, DHCPv6 overrides, and overrides with DHCP off', () => {
    const r = renderIfcfg(model([
      eth('a', { name: 'eth0' }, { dhcp4: true, dhcp4Overrides: { useDns: false, routeMetric: 200, sendHostname: false, useNtp: false, useRoutes: false } }),
      eth('b', { name: 'eth1' }, { dhcp4: true, nameservers: dns(['192.0.2.53']), dhcp4Overrides: { useDns: false } }),
      eth('c', { name: 'eth2' }, { dhcp6: true, dhcp4Overrides: { useDns: false }, dhcp6Overrides: { useDns: false } }),
    ]));
    expect(body(r, 'ifcfg-eth0')).toEqual(['DEVICE=eth0', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp', 'PEERDNS=no', 'METRIC=200', 'DHCP_SEND_HOSTNAME=no']);
    expect(body(r, 'ifcfg-eth1')).toEqual(['DEVICE=eth1', 'TYPE=Ethernet', 'ONBOOT=yes', 'BOOTPROTO=dhcp', 'DNS1=192.0.2.53', 'PEERDNS=no']);
    expect(paths(r)).toEqual([
      'ethernets.a.dhcp4-overrides.use-ntp', 'ethernets.a.dhcp4-overrides.use-routes',
      'ethernets.c.dhcp4-overrides', 'ethernets.c.dhcp6-overrides.use-dns',
    ]);
  });

  it('static nameservers: PEERDNS=no, so neither DHCP nor ifup-post replaces the resolv.conf vmctx writes with every interface\'s servers (as before the NetModel)', () => {
    const r = renderIfcfg(model([
      eth('a', { name: 'eth0' }, { dhcp4: true, nameservers: dns(['192.0.2.53']) }),
      eth('b', { name: 'eth1' }, { addresses: [addr('10.0.0.5/24')], nameservers: dns(['10.0.0.53'], ['example.org']) }),
      eth('c', { name: 'eth2' }, { dhcp4: true }),
    ]));
    expect(body(r, 'ifcfg-eth0')).toContain('PEERDNS=no');
    expect(body(r, 'ifcfg-eth1')).toContain('PEERDNS=no');
    expect(body(r, 'ifcfg-eth2')).not.toContain('PEERDNS=no');
    expect(paths(r)).toEqual([]);
  });

  it('notes member IP settings, optional, link-local, a 4th nameserver and global DNS nobody carries; gives global DNS to every carrier', () => {
    const r = renderIfcfg(model([
      eth('p', { name: 'eth0' }, { dhcp4: true, optional: true }), bond('bond0', ['p'], {}, { linkLocal: [], addresses: [addr('10.0.0.2/24')], nameservers: dns(['10.0.0.53', '10.0.0.54']) }),
    ], { nameservers: dns(['192.0.2.1', '192.0.2.2'], ['corp.example']) }));
    expect(body(r, 'ifcfg-bond0')).toEqual(expect.arrayContaining(['DNS1=10.0.0.53', 'DNS2=10.0.0.54', 'DNS3=192.0.2.1', 'DOMAIN=corp.example']));
    expect(body(r, 'ifcfg-eth0')).not.toContain('DNS1=192.0.2.1');
    expect(paths(r)).toEqual(['ethernets.p.dhcp4', 'ethernets.p.optional', 'nameservers', 'bonds.bond0.link-local']);
    expect(r.notes[2]?.message).toContain('192.0.2.2 not written');
    const none = renderIfcfg(model([eth('p', { name: 'eth0' })], { nameservers: dns(['192.0.2.1']) }));
    expect(paths(none)).toEqual(['nameservers']);
    expect(paths(renderIfcfg(model([eth('p', { name: 'eth0' })]), undefined))).toEqual([]);
    expect(paths(renderIfcfg(model([eth('p', { name: 'eth0' })], { renderer: 'NetworkManager' })))).toEqual(['renderer']);
  });

  it('merges NETWORKING=yes into /etc/sysconfig/network, with IPv6 networking when a device uses IPv6; nothing for an empty model', () => {
    expect(ifcfgNetworkMerge(model([]))).toBeUndefined();
    expect(ifcfgNetworkMerge(model([eth('a', { name: 'eth0' }, { dhcp4: true })]))).toEqual({ NETWORKING: 'yes' });
    expect(ifcfgNetworkMerge(model([eth('a', { name: 'eth0' }, { addresses: [addr('2001:db8::2/64')] })]))).toEqual({ NETWORKING: 'yes', NETWORKING_IPV6: 'yes', IPV6_AUTOCONF: 'no' });
    expect(ifcfgNetworkMerge(model([eth('a', { name: 'eth0' }, { dhcp6: true })]))).toEqual({ NETWORKING: 'yes', NETWORKING_IPV6: 'yes', IPV6_AUTOCONF: 'no' });
    // a bond member's IPv6 is not applied (noted by the renderer), so it does not turn IPv6 on
    expect(ifcfgNetworkMerge(model([eth('a', { name: 'eth0' }, { dhcp6: true }), bond('bond0', ['a'], {})]))).toEqual({ NETWORKING: 'yes' });
  });

  it('orders ifup by dependency: bond ports, the bond, VLANs on it; bridge ports before the bridge; unnamed NICs left out', () => {
    expect(ifcfgIfupOrder(bondModel, names)).toEqual(['eth0', 'eth1', 'bond0', 'bond0.5']);
    expect(ifcfgIfupOrder(bondModel)).toEqual(['bond0', 'bond0.5']);
    const m = model([bridge('br0', ['p0', 'v9'], {}), vlan('v9', 9, 'p1'), eth('p0', { name: 'ens3' }), eth('p1', { name: 'ens4' })]);
    expect(ifcfgIfupOrder(m)).toEqual(['ens3', 'ens4', 'v9', 'br0']);
    // exactly the interfaces that have an ifcfg file
    expect([...ifcfgIfupOrder(m)].sort()).toEqual([...renderIfcfg(m).files.keys()].map((p) => p.replace(`${DIR}/ifcfg-`, '')).sort());
  });
});
