// Direct tests of the NetModel renderers (networkd, netplan): each rule and each note, on small models.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { NetModel } from '../../../src/network/netmodel.js';
import { renderNetplan, NETPLAN_FILE } from '../../../src/network/renderers/netplan.js';
import { NETWORKD_OWNED, RESOLVED_DROPIN, renderNetworkd } from '../../../src/network/renderers/networkd.js';
import { corpusDocs, parseIni } from './corpus-render.js';
import { addr, bond, bridge, dns, eth, route, vlan, type Device } from '../netmodel-helpers.js';

const model = (devices: Device[], more: Partial<NetModel> = {}): NetModel => ({ devices, routes: [], nameservers: dns([]), ...more });
const names = (m: NetModel): string[] => [...renderNetworkd(m).files.keys()];
const file = (m: NetModel, suffix: string): string => {
  const hit = [...renderNetworkd(m).files].find(([p]) => p.endsWith(suffix));
  if (hit === undefined) throw new Error(`no file ending ${suffix}`);
  return hit[1].content;
};
const body = (text: string): string => text.split('\n').filter((l) => !l.startsWith('#')).join('\n').trim();
const notePaths = (notes: readonly { path: string }[]): string[] => notes.map((n) => n.path);
const plan = (m: NetModel): { network: Record<string, Record<string, Record<string, unknown>>> } => {
  const f = renderNetplan(m).files.get(NETPLAN_FILE);
  if (f === undefined) throw new Error('no netplan file');
  return parse(f.content) as { network: Record<string, Record<string, Record<string, unknown>>> };
};

const nic = (id: string, mac: string, more: Parameters<typeof eth>[2] = {}): Device => eth(id, { macaddress: mac }, more);

describe('networkd renderer', () => {
  it('orders created devices (dependency order) before ethernets, each with its .netdev and .network', () => {
    const m = model([
      nic('a', '52:54:00:00:00:01'), nic('b', '52:54:00:00:00:02'),
      vlan('bond0.5', 5, 'bond0', { addresses: [addr('10.0.5.2/24')] }), bond('bond0', ['a', 'b'], { mode: 'active-backup' }),
    ]);
    expect(names(m)).toEqual([
      '/etc/systemd/network/10-vmctx-01-bond0.netdev', '/etc/systemd/network/10-vmctx-01-bond0.network',
      '/etc/systemd/network/10-vmctx-02-bond0.5.netdev', '/etc/systemd/network/10-vmctx-02-bond0.5.network',
      '/etc/systemd/network/10-vmctx-03-a.network', '/etc/systemd/network/10-vmctx-04-b.network',
    ]);
    for (const p of names(m)) expect(p.split('/').at(-1)).toMatch(NETWORKD_OWNED);
    expect(body(file(m, '-bond0.netdev'))).toBe('[NetDev]\nName=bond0\nKind=bond\n\n[Bond]\nMode=active-backup');
    expect(body(file(m, '-bond0.5.netdev'))).toBe('[NetDev]\nName=bond0.5\nKind=vlan\n\n[VLAN]\nId=5');
    expect(body(file(m, '-bond0.network'))).toBe('[Match]\nName=bond0\n\n[Network]\nVLAN=bond0.5');
    expect(body(file(m, '-a.network'))).toBe('[Match]\nPermanentMACAddress=52:54:00:00:00:01\n\n[Network]\nBond=bond0');
  });

  it('keeps file names to safe characters and widens the number past 99 devices', () => {
    expect(names(model([eth('a:b/c', { name: 'eth0' })]))).toEqual(['/etc/systemd/network/10-vmctx-01-a_b_c.network']);
    const many = Array.from({ length: 100 }, (_, i) => eth(`n${i}`, { name: `eth${i}` }));
    expect(names(model(many))[0]).toBe('/etc/systemd/network/10-vmctx-001-n0.network');
  });

  it('matches by MAC (permanent), driver and name glob; set-name in a .link, the .network then matches the new name', () => {
    const m = model([eth('fast', { driver: 'ixgbe', name: 'en*f0' }, { dhcp4: true }), eth('x', { macaddress: '52:54:00:00:00:09' }, { setName: 'wan0', wakeOnLan: true })]);
    expect(body(file(m, '-fast.network'))).toBe('[Match]\nDriver=ixgbe\nName=en*f0\n\n[Network]\nDHCP=ipv4');
    expect(names(m).filter((p) => p.endsWith('.link'))).toEqual(['/etc/systemd/network/10-vmctx-02-x.link']);
    expect(body(file(m, '-x.link'))).toBe('[Match]\nPermanentMACAddress=52:54:00:00:00:09\n\n[Link]\nName=wan0\nWakeOnLan=magic');
    expect(body(file(m, '-x.network'))).toBe('[Match]\nPermanentMACAddress=52:54:00:00:00:09\nName=wan0\n\n[Network]');
  });

  it('a .link that only sets wake-on-LAN keeps the default naming policy; an empty match is every Ethernet NIC', () => {
    const m = model([eth('w', { name: 'ens3' }, { wakeOnLan: false }), eth('all', {}, { dhcp4: true })]);
    expect(body(file(m, '-w.link'))).toBe('[Match]\nOriginalName=ens3\n\n[Link]\nNamePolicy=keep kernel database onboard slot path\nWakeOnLan=off');
    expect(body(file(m, '-all.network'))).toBe('[Match]\nType=ether\n\n[Network]\nDHCP=ipv4');
  });

  it('writes addresses, DHCP, RA, link-local, DNS, MTU, cloned MAC, optional and every route option', () => {
    const m = model([eth('l', { name: 'eth0' }, {
      dhcp4: true, dhcp6: true, acceptRa: false, linkLocal: ['ipv6'], mtu: 9000, macaddress: '02:00:00:00:00:01', optional: true,
      addresses: [addr('192.0.2.5/24'), addr('2001:db8::5/64')], nameservers: dns(['192.0.2.53'], ['a.example', 'b.example']),
      routes: [route('default', '192.0.2.1', { metric: 100 }), route('198.51.100.0/24', '192.0.2.254', { table: 42, scope: 'global', onLink: true, from: '192.0.2.5', mtu: 1400 })],
    })]);
    expect(body(file(m, '-l.network'))).toBe([
      '[Match]', 'Name=eth0', '',
      '[Link]', 'MACAddress=02:00:00:00:00:01', 'MTUBytes=9000', 'RequiredForOnline=no', '',
      '[Network]', 'DHCP=yes', 'LinkLocalAddressing=ipv6', 'IPv6AcceptRA=no', 'Address=192.0.2.5/24', 'Address=2001:db8::5/64', 'DNS=192.0.2.53', 'Domains=a.example b.example', '',
      '[DHCPv6]', 'WithoutRA=solicit', '',
      '[Route]', 'Destination=0.0.0.0/0', 'Gateway=192.0.2.1', 'Metric=100', '',
      '[Route]', 'Destination=198.51.100.0/24', 'Gateway=192.0.2.254', 'PreferredSource=192.0.2.5', 'Table=42', 'Scope=global', 'GatewayOnLink=yes', 'MTUBytes=1400',
    ].join('\n'));
    expect(body(file(model([eth('n', { name: 'e' }, { linkLocal: [] })]), '-n.network'))).toContain('LinkLocalAddressing=no');
  });

  it('writes DHCP overrides to [DHCPv4], [DHCPv6] and [IPv6AcceptRA]; notes those networkd lacks and those with DHCP off', () => {
    const m = model([
      eth('d', { name: 'e0' }, { dhcp4: true, dhcp6: true, dhcp4Overrides: { routeMetric: 10, useDomains: 'route', hostname: 'h' }, dhcp6Overrides: { useDns: false, routeMetric: 20, useRoutes: false, sendHostname: true, hostname: 'h' } }),
      eth('off', { name: 'e1' }, { dhcp4Overrides: { useDns: false } }),
    ]);
    expect(body(file(m, '-d.network'))).toBe('[Match]\nName=e0\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nRouteMetric=10\nUseDomains=route\nHostname=h\n\n[DHCPv6]\nUseDNS=no\n\n[IPv6AcceptRA]\nRouteMetric=20');
    const r = renderNetworkd(m);
    expect(notePaths(r.notes)).toEqual(['ethernets.d.dhcp6-overrides.use-routes', 'ethernets.d.dhcp6-overrides.send-hostname', 'ethernets.d.dhcp6-overrides.hostname', 'ethernets.off.dhcp4-overrides']);
    expect(r.notes.every((n) => n.what === 'not supported' && n.file === 'systemd-networkd')).toBe(true);
    expect(body(file(m, '-off.network'))).toBe('[Match]\nName=e1\n\n[Network]');
  });

  it('writes bond and bridge parameters with units, the primary and per-port cost/priority on the member', () => {
    const m = model([
      nic('p0', '52:54:00:00:00:10'), nic('p1', '52:54:00:00:00:11'), nic('q0', '52:54:00:00:00:12'),
      bond('bond1', ['p0', 'p1'], { mode: '802.3ad', lacpRate: 'fast', miiMonitorInterval: 100, upDelay: 200, downDelay: 0, learnPacketInterval: 1, arpIpTargets: ['10.0.0.1', '10.0.0.2'], arpInterval: 50, allSlavesActive: false, primary: 'p1' }, { macaddress: '02:00:00:00:00:b1' }),
      bridge('br0', ['q0'], { stp: false, forwardDelay: 0, helloTime: 2, maxAge: 12, ageingTime: 300, priority: 100, pathCost: { q0: 7 }, portPriority: { q0: 3 } }),
    ]);
    expect(body(file(m, '-bond1.netdev'))).toBe([
      '[NetDev]', 'Name=bond1', 'Kind=bond', 'MACAddress=02:00:00:00:00:b1', '',
      '[Bond]', 'Mode=802.3ad', 'LACPTransmitRate=fast', 'MIIMonitorSec=100ms', 'UpDelaySec=200ms', 'DownDelaySec=0ms', 'LearnPacketIntervalSec=1s',
      'ARPIntervalSec=50ms', 'ARPIPTargets=10.0.0.1 10.0.0.2', 'AllSlavesActive=no',
    ].join('\n'));
    expect(body(file(m, '-br0.netdev'))).toBe('[NetDev]\nName=br0\nKind=bridge\n\n[Bridge]\nSTP=no\nForwardDelaySec=0s\nHelloTimeSec=2s\nMaxAgeSec=12s\nAgeingTimeSec=300s\nPriority=100');
    expect(body(file(m, '-p1.network'))).toBe('[Match]\nPermanentMACAddress=52:54:00:00:00:11\n\n[Network]\nBond=bond1\nPrimarySlave=yes');
    expect(body(file(m, '-p0.network'))).not.toContain('PrimarySlave');
    expect(body(file(m, '-q0.network'))).toBe('[Match]\nPermanentMACAddress=52:54:00:00:00:12\n\n[Network]\nBridge=br0\n\n[Bridge]\nCost=7\nPriority=3');
  });

  it('drops the IP settings of a bond member, naming each, and keeps its MTU', () => {
    const m = model([nic('p0', '52:54:00:00:00:10', { dhcp4: true, addresses: [addr('10.0.0.2/24')], routes: [route('default', '10.0.0.1')], nameservers: dns(['10.0.0.53']), mtu: 9000 }), bond('b', ['p0'], {})]);
    const r = renderNetworkd(m);
    expect(notePaths(r.notes)).toEqual(['ethernets.p0.dhcp4', 'ethernets.p0.addresses', 'ethernets.p0.routes', 'ethernets.p0.nameservers']);
    expect(r.notes[0]?.message).toContain('member of the bond "b"');
    expect(body(file(m, '-p0.network'))).toBe('[Match]\nPermanentMACAddress=52:54:00:00:00:10\n\n[Link]\nMTUBytes=9000\n\n[Network]\nBond=b');
  });

  it('puts a global route on the device that reaches its gateway, notes one no device reaches, and global DNS in a resolved drop-in', () => {
    const m = model([eth('l', { name: 'eth0' }, { addresses: [addr('192.0.2.5/24')] })], {
      routes: [route('198.51.100.0/24', '192.0.2.254', { metric: 5 }), route('203.0.113.0/24', '10.9.9.9')],
      nameservers: dns(['192.0.2.53', '2001:db8::53'], ['example.org']),
    });
    const r = renderNetworkd(m);
    expect(file(m, '-l.network')).toContain('[Route]\nDestination=198.51.100.0/24\nGateway=192.0.2.254\nMetric=5\n');
    expect(file(m, '-l.network')).not.toContain('203.0.113.0');
    expect(notePaths(r.notes)).toEqual(['routes[1]']);
    expect(r.notes[0]?.message).toContain('no configured interface has an address on the gateway\'s network');
    expect(r.files.get(RESOLVED_DROPIN)).toEqual({ content: expect.stringContaining('[Resolve]\nDNS=192.0.2.53 2001:db8::53\nDomains=example.org\n') as unknown, mode: 0o644 });
    expect(renderNetworkd(model([eth('l', { name: 'eth0' })])).files.has(RESOLVED_DROPIN)).toBe(false);
  });

  it('notes a document that asks for NetworkManager; renders nothing for an empty model', () => {
    expect(notePaths(renderNetworkd(model([eth('l', { name: 'eth0' })], { renderer: 'NetworkManager' })).notes)).toEqual(['renderer']);
    expect(renderNetworkd(model([]))).toEqual({ files: new Map(), notes: [] });
  });
});

describe('netplan renderer', () => {
  it('writes one file, mode 0600, in group and key order', () => {
    const m = model([
      vlan('v5', 5, 'e0', { addresses: [addr('10.0.5.2/24')] }), eth('e0', { macaddress: '52:54:00:00:00:01' }, { dhcp4: true }),
    ], { renderer: 'networkd' });
    const r = renderNetplan(m);
    expect([...r.files.keys()]).toEqual([NETPLAN_FILE]);
    expect(r.files.get(NETPLAN_FILE)?.mode).toBe(0o600);
    expect(r.files.get(NETPLAN_FILE)?.content).toBe([
      '# Managed by vmctx; replaced at each contextualization.', 'network:', '  version: 2', '  renderer: networkd',
      // "e0" and a MAC of digits only are quoted: YAML 1.1 readers could take them for numbers
      '  ethernets:', '    "e0":', '      match:', '        macaddress: "52:54:00:00:00:01"', '      dhcp4: true',
      '  vlans:', '    v5:', '      id: 5', '      link: "e0"', '      addresses:', '        - 10.0.5.2/24', '',
    ].join('\n'));
    expect(r.notes).toEqual([]);
  });

  it('quotes what a YAML 1.1 reader would not read as a string', () => {
    const m = model([eth('on', { macaddress: '52:54:00:12:34:56' }, { nameservers: dns([], ['yes']), addresses: [addr('10.0.0.1/8')] })]);
    const text = renderNetplan(m).files.get(NETPLAN_FILE)?.content ?? '';
    expect(text).toContain('"on":');
    expect(text).toContain('macaddress: "52:54:00:12:34:56"');
    expect(text).toContain('- "yes"');
    expect(plan(m).network['ethernets']?.['on']?.['match']).toEqual({ macaddress: '52:54:00:12:34:56' });
  });

  it('writes every key of every kind', () => {
    const m = model([
      eth('p0', { macaddress: '52:54:00:00:00:10', driver: 'virtio*', name: 'en*' }, { setName: 'wan0', wakeOnLan: true, mtu: 9000 }),
      bond('b', ['p0'], { mode: 'balance-xor', transmitHashPolicy: 'layer2+3', primary: 'p0', arpIpTargets: ['10.0.0.1'] }, {
        dhcp4: true, dhcp6: true, acceptRa: true, linkLocal: [], optional: true, macaddress: '02:00:00:00:00:0b',
        dhcp4Overrides: { useDns: false }, dhcp6Overrides: { useDns: false },
        routes: [route('::/0', '2001:db8::1', { onLink: true }), route('10.1.0.0/16', '10.0.0.254', { table: 7, scope: 'link', from: '10.0.0.2', mtu: 1400, metric: 3 })],
      }),
      bridge('br', [], { stp: true, pathCost: {}, forwardDelay: 4 }),
    ]);
    expect(plan(m).network).toEqual({
      version: 2,
      ethernets: { p0: { match: { macaddress: '52:54:00:00:00:10', name: 'en*', driver: 'virtio*' }, 'set-name': 'wan0', wakeonlan: true, mtu: 9000 } },
      bonds: {
        b: {
          interfaces: ['p0'], parameters: { mode: 'balance-xor', 'transmit-hash-policy': 'layer2+3', 'arp-ip-targets': ['10.0.0.1'], primary: 'p0' },
          dhcp4: true, dhcp6: true, 'accept-ra': true, 'dhcp4-overrides': { 'use-dns': false }, 'dhcp6-overrides': { 'use-dns': false }, 'link-local': [],
          routes: [{ to: '::/0', via: '2001:db8::1', 'on-link': true }, { to: '10.1.0.0/16', via: '10.0.0.254', from: '10.0.0.2', metric: 3, table: 7, scope: 'link', mtu: 1400 }],
          macaddress: '02:00:00:00:00:0b', optional: true,
        },
      },
      bridges: { br: { parameters: { 'forward-delay': 4, stp: true } } },
    });
  });

  it('makes dhcp4 and dhcp6 overrides agree (networkd backend), noting each change; not for NetworkManager', () => {
    const dev = eth('l', { name: 'eth0' }, { dhcp4: true, dhcp6: true, dhcp4Overrides: { useDns: false, routeMetric: 5 }, dhcp6Overrides: { useDns: true, useNtp: false } });
    const r = renderNetplan(model([dev]));
    const l = plan(model([dev])).network['ethernets']?.['l'];
    expect(l?.['dhcp4-overrides']).toEqual({ 'route-metric': 5, 'use-dns': false, 'use-ntp': false });
    expect(l?.['dhcp6-overrides']).toEqual(l?.['dhcp4-overrides']);
    expect(notePaths(r.notes)).toEqual(['ethernets.l.dhcp6-overrides.route-metric', 'ethernets.l.dhcp6-overrides.use-dns', 'ethernets.l.dhcp4-overrides.use-ntp']);
    const nm = plan(model([dev], { renderer: 'NetworkManager' })).network['ethernets']?.['l'];
    expect(nm?.['dhcp6-overrides']).toEqual({ 'use-dns': true, 'use-ntp': false });
    expect(renderNetplan(model([dev], { renderer: 'NetworkManager' })).notes).toEqual([]);
  });

  it('gives global DNS to every device with IP configuration (not to members), or notes that none can carry it', () => {
    const m = model([nic('p', '52:54:00:00:00:01'), bond('b', ['p'], {}, { dhcp4: true, nameservers: dns(['10.0.0.53']) }), eth('idle', { name: 'eth9' })], { nameservers: dns(['9.9.9.9', '10.0.0.53'], ['x.example']) });
    const n = plan(m).network;
    expect(n['bonds']?.['b']?.['nameservers']).toEqual({ addresses: ['10.0.0.53', '9.9.9.9'], search: ['x.example'] });
    expect(n['ethernets']?.['p']?.['nameservers']).toBeUndefined();
    expect(n['ethernets']?.['idle']?.['nameservers']).toBeUndefined();
    expect(renderNetplan(m).notes).toEqual([]);
    const none = renderNetplan(model([eth('idle', { name: 'eth9' })], { nameservers: dns(['9.9.9.9']) }));
    expect(notePaths(none.notes)).toEqual(['nameservers']);
  });

  it('notes a member\'s IP settings and an unplaceable global route; writes nothing for an empty model', () => {
    const m = model([nic('p', '52:54:00:00:00:01', { addresses: [addr('10.0.0.2/24')] }), bridge('br', ['p'], {}, { addresses: [addr('10.0.0.3/24')] })], { routes: [route('10.5.0.0/16', '10.0.0.1'), route('10.6.0.0/16', '172.16.0.1')] });
    const r = renderNetplan(m);
    expect(notePaths(r.notes)).toEqual(['routes[1]', 'ethernets.p.addresses']);
    expect(plan(m).network['bridges']?.['br']?.['routes']).toEqual([{ to: '10.5.0.0/16', via: '10.0.0.1' }]);
    expect(renderNetplan(model([]))).toEqual({ files: new Map(), notes: [] });
    expect(notePaths(renderNetplan(model([], { routes: [route('10.5.0.0/16', '10.0.0.1')] })).notes)).toEqual(['routes[0]', '']);
  });
});

/**
 * Every [Section] Key= the networkd renderer may write, as systemd.network(5), systemd.netdev(5) and
 * systemd.link(5) document them (no networkd here validates offline: this guards against typos).
 */
const DOCUMENTED: Record<string, Record<string, readonly string[]>> = {
  network: {
    Match: ['PermanentMACAddress', 'Driver', 'Name', 'Type'],
    Link: ['MACAddress', 'MTUBytes', 'RequiredForOnline'],
    Network: ['DHCP', 'LinkLocalAddressing', 'IPv6AcceptRA', 'Address', 'DNS', 'Domains', 'VLAN', 'Bond', 'Bridge', 'PrimarySlave'],
    DHCPv4: ['RouteMetric', 'UseDNS', 'UseNTP', 'UseHostname', 'UseDomains', 'UseMTU', 'UseRoutes', 'SendHostname', 'Hostname'],
    DHCPv6: ['UseDNS', 'UseNTP', 'UseHostname', 'UseDomains', 'WithoutRA'],
    IPv6AcceptRA: ['RouteMetric', 'UseMTU'],
    Bridge: ['Cost', 'Priority'],
    Route: ['Destination', 'Gateway', 'PreferredSource', 'Metric', 'Table', 'Scope', 'GatewayOnLink', 'MTUBytes'],
  },
  netdev: {
    NetDev: ['Name', 'Kind', 'MACAddress'],
    VLAN: ['Id'],
    Bridge: ['STP', 'ForwardDelaySec', 'HelloTimeSec', 'MaxAgeSec', 'AgeingTimeSec', 'Priority'],
    Bond: ['Mode', 'TransmitHashPolicy', 'LACPTransmitRate', 'MIIMonitorSec', 'UpDelaySec', 'DownDelaySec', 'LearnPacketIntervalSec', 'AdSelect', 'FailOverMACPolicy',
      'ARPValidate', 'ARPIntervalSec', 'ARPIPTargets', 'ARPAllTargets', 'PrimaryReselectPolicy', 'GratuitousARP', 'PacketsPerSlave', 'AllSlavesActive', 'MinLinks'],
  },
  link: { Match: ['PermanentMACAddress', 'OriginalName', 'Driver', 'Type'], Link: ['Name', 'NamePolicy', 'WakeOnLan'] },
  conf: { Resolve: ['DNS', 'Domains'] },
};

describe('networkd renderer: only documented keys', () => {
  it('writes no [Section] Key= that systemd does not document, over the whole corpus', () => {
    const bad: string[] = [];
    for (const doc of corpusDocs()) {
      for (const [path, f] of renderNetworkd(doc.mapped.model).files) {
        const kind = path.slice(path.lastIndexOf('.') + 1);
        for (const s of parseIni(f.content)) {
          for (const [k] of s.entries) if (!(DOCUMENTED[kind]?.[s.name] ?? []).includes(k)) bad.push(`${doc.name}: ${path} [${s.name}] ${k}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});
