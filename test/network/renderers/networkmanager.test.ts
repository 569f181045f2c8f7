// Direct tests of the NetworkManager keyfile renderer: each rule and each note, on small models.
import { describe, expect, it } from 'vitest';
import type { NetModel } from '../../../src/network/netmodel.js';
import { RENAME_RULES_FILE } from '../../../src/network/renderers/common.js';
import { NM_OWNED, nmActivationOrder, nmConnectionId, nmUuid, renderNetworkManager } from '../../../src/network/renderers/networkmanager.js';
import { parseIni } from './corpus-render.js';
import { addr, bond, bridge, dns, eth, route, vlan, type Device } from '../netmodel-helpers.js';

const model = (devices: Device[], more: Partial<NetModel> = {}): NetModel => ({ devices, routes: [], nameservers: dns([]), ...more });
const path = (id: string): string => `/etc/NetworkManager/system-connections/vmctx-${id}.nmconnection`;
/** One rendered keyfile as section → entries (in order). */
function keyfile(m: NetModel, id: string, names?: ReadonlyMap<string, string>): Record<string, [string, string][]> {
  const f = renderNetworkManager(m, names).files.get(path(id));
  if (f === undefined) throw new Error(`no keyfile for ${id}`);
  return Object.fromEntries(parseIni(f.content).map((s) => [s.name, s.entries]));
}
const notes = (m: NetModel): string[] => renderNetworkManager(m).notes.map((n) => `${n.path}: ${n.message}`);
const nic = (id: string, mac: string, more: Parameters<typeof eth>[2] = {}): Device => eth(id, { macaddress: mac }, more);
const uuidOf = (id: string): string => nmUuid(`vmctx-${id}`);

describe('NetworkManager renderer', () => {
  it('bond of two ports, a VLAN on the bond, a static address on the VLAN', () => {
    const m = model([
      nic('a', '52:54:00:00:00:01'), nic('b', '52:54:00:00:00:02'),
      bond('bond0', ['a', 'b'], { mode: 'active-backup', miiMonitorInterval: 100, primary: 'a', upDelay: 200, transmitHashPolicy: 'layer3+4', lacpRate: 'fast', arpIpTargets: ['10.0.0.1', '10.0.0.2'], allSlavesActive: false }),
      vlan('bond0.5', 5, 'bond0', { addresses: [addr('10.0.5.2/24')], routes: [route('default', '10.0.5.1')], nameservers: dns(['10.0.5.53'], ['lab.example']) }),
    ]);
    const r = renderNetworkManager(m, new Map([['a', 'ens3'], ['b', 'ens4']]));
    expect([...r.files.keys()]).toEqual([path('a'), path('b'), path('bond0'), path('bond0.5')]);
    for (const [p, f] of r.files) {
      expect(f.mode).toBe(0o600);
      expect(p.split('/').at(-1)).toMatch(NM_OWNED.match);
      expect(p.startsWith(`${NM_OWNED.dir}/`)).toBe(true);
    }
    expect(r.notes).toEqual([]);
    expect(r.files.get(path('bond0'))?.content.split('\n').slice(0, 2)).toEqual(['# Managed by vmctx; replaced at each contextualization.', '# bonds.bond0']);
    const b = keyfile(m, 'bond0', new Map([['a', 'ens3']]));
    expect(b['connection']).toEqual([
      ['id', 'vmctx-bond0'], ['uuid', uuidOf('bond0')], ['type', 'bond'], ['interface-name', 'bond0'],
      ['autoconnect', 'true'], ['autoconnect-priority', '120'], ['autoconnect-slaves', '1'],
    ]);
    expect(b['bond']).toEqual([
      ['mode', 'active-backup'], ['miimon', '100'], ['lacp_rate', 'fast'], ['xmit_hash_policy', 'layer3+4'], ['updelay', '200'], ['primary', 'ens3'],
      ['arp_ip_target', '10.0.0.1,10.0.0.2'], ['all_slaves_active', '0'],
    ]);
    // a bond with no address of its own is L2 only: no DHCP on it
    expect(b['ipv4']).toEqual([['method', 'disabled']]);
    expect(b['ipv6']).toEqual([['method', 'ignore']]);
    const a = keyfile(m, 'a');
    expect(a['connection']).toContainEqual(['master', uuidOf('bond0')]);
    expect(a['connection']).toContainEqual(['slave-type', 'bond']);
    expect(a['ethernet']).toEqual([['mac-address', '52:54:00:00:00:01']]);
    expect(a['ipv4']).toBeUndefined();
    expect(a['ipv6']).toBeUndefined();
    const v = keyfile(m, 'bond0.5');
    expect(v['connection']).toContainEqual(['type', 'vlan']);
    expect(v['connection']).toContainEqual(['interface-name', 'bond0.5']);
    expect(v['vlan']).toEqual([['id', '5'], ['parent', uuidOf('bond0')]]);
    expect(v['ipv4']).toEqual([['method', 'manual'], ['address1', '10.0.5.2/24'], ['gateway', '10.0.5.1'], ['dns', '10.0.5.53;'], ['dns-search', 'lab.example;'], ['may-fail', 'false']]);
    expect(nmActivationOrder(m)).toEqual(['vmctx-bond0', 'vmctx-bond0.5']);
  });

  it('a bond primary matched only by MAC, with no live name, is noted', () => {
    const m = model([nic('a', '52:54:00:00:00:01'), bond('bond0', ['a'], { mode: 'active-backup', primary: 'a' })]);
    expect(keyfile(m, 'bond0')['bond']).toEqual([['mode', 'active-backup']]);
    expect(notes(m)).toEqual(['bonds.bond0.parameters.primary: NetworkManager names a bond\'s primary by interface name, and the name of "a" is not known (matched by MAC or driver); not written']);
  });

  it('bridge: STP and times in [bridge], port cost and priority in [bridge-port], a cloned MAC and MTU in [ethernet]', () => {
    const m = model([
      eth('p1', { name: 'ens5' }), eth('p2', { name: 'ens6' }),
      bridge('br0', ['p1', 'p2'], { stp: false, priority: 4096, forwardDelay: 4, helloTime: 2, maxAge: 12, ageingTime: 300, pathCost: { p1: 10 }, portPriority: { p2: 32 } }, { dhcp4: true, macaddress: '02:00:00:00:00:aa', mtu: 9000 }),
    ]);
    const br = keyfile(m, 'br0');
    expect(br['bridge']).toEqual([['stp', 'false'], ['priority', '4096'], ['forward-delay', '4'], ['hello-time', '2'], ['max-age', '12'], ['ageing-time', '300']]);
    expect(br['ethernet']).toEqual([['cloned-mac-address', '02:00:00:00:00:AA'], ['mtu', '9000']]);
    expect(br['ipv4']).toEqual([['method', 'auto'], ['may-fail', 'false']]);
    expect(keyfile(m, 'p1')['bridge-port']).toEqual([['path-cost', '10']]);
    expect(keyfile(m, 'p2')['bridge-port']).toEqual([['priority', '32']]);
    expect(keyfile(m, 'p2')['connection']).toContainEqual(['slave-type', 'bridge']);
    expect(keyfile(m, 'p2')['connection']).toContainEqual(['interface-name', 'ens6']);
    expect(nmActivationOrder(m)).toEqual(['vmctx-br0']);
  });

  it('matches by MAC, plain name, name glob and driver; a glob or driver profile may connect several NICs', () => {
    const m = model([
      eth('mac', { macaddress: '52:54:00:00:00:0a' }, { dhcp4: true, wakeOnLan: true }),
      eth('byname', { name: 'ens3' }, { dhcp4: true, wakeOnLan: false }),
      eth('glob', { name: 'enp*' }, { dhcp4: true }),
      eth('drv', { driver: 'virtio_net' }, { dhcp4: true }),
      eth('any', {}, { dhcp4: true }),
    ]);
    expect(keyfile(m, 'mac')['ethernet']).toEqual([['mac-address', '52:54:00:00:00:0A'], ['wake-on-lan', '64']]);
    expect(keyfile(m, 'mac')['connection']?.map(([k]) => k)).not.toContain('interface-name');
    expect(keyfile(m, 'byname')['connection']).toContainEqual(['interface-name', 'ens3']);
    expect(keyfile(m, 'byname')['ethernet']).toEqual([['wake-on-lan', '0']]);
    expect(keyfile(m, 'byname')['match']).toBeUndefined();
    expect(keyfile(m, 'glob')['match']).toEqual([['interface-name', 'enp*']]);
    expect(keyfile(m, 'glob')['connection']).toContainEqual(['multi-connect', '3']);
    expect(keyfile(m, 'drv')['match']).toEqual([['driver', 'virtio_net']]);
    expect(keyfile(m, 'any')['connection']).toContainEqual(['multi-connect', '3']);
    expect(keyfile(m, 'byname')['connection']?.map(([k]) => k)).not.toContain('multi-connect');
    expect(notes(m)).toEqual([]);
  });

  it('a positional NIC takes the live name the resolver gave it', () => {
    const m = model([eth('eth0', { name: 'eth0', positional: true }, { dhcp4: true })]);
    expect(keyfile(m, 'eth0', new Map([['eth0', 'ens3']]))['connection']).toContainEqual(['interface-name', 'ens3']);
    expect(keyfile(m, 'eth0')['connection']).toContainEqual(['interface-name', 'eth0']);
  });

  it('set-name: a udev rule renames the NIC; the profile is for the new name and the MAC or driver it was renamed by', () => {
    const m = model([
      eth('x', { macaddress: '52:54:00:00:00:09' }, { setName: 'wan0', dhcp4: true }),
      eth('d', { driver: 'ixgbe', name: 'en*' }, { setName: 'fast0', dhcp4: true }),
      nic('p', '52:54:00:00:00:0a', { setName: 'lan0' }), bond('bond0', ['p'], { mode: 'active-backup', primary: 'p' }, { dhcp4: true }),
    ]);
    const r = renderNetworkManager(m);
    expect([...r.files.keys()]).toEqual([path('x'), path('d'), path('p'), path('bond0'), RENAME_RULES_FILE]);
    expect(r.files.get(RENAME_RULES_FILE)?.mode).toBe(0o644);
    expect(r.files.get(RENAME_RULES_FILE)?.content.split('\n').filter((l) => l.startsWith('SUBSYSTEM'))).toEqual([
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:00:00:09", NAME="wan0"',
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="ixgbe", NAME="fast0"',
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:00:00:0a", NAME="lan0"',
    ]);
    expect(keyfile(m, 'x')['connection']).toContainEqual(['interface-name', 'wan0']);
    expect(keyfile(m, 'x')['connection']?.find(([k]) => k === 'multi-connect')).toBeUndefined();
    expect(keyfile(m, 'x')['ethernet']).toEqual([['mac-address', '52:54:00:00:00:09']]);
    // the glob is dropped (the renamed NIC no longer has such a name), the driver kept
    expect(keyfile(m, 'd')['connection']).toContainEqual(['interface-name', 'fast0']);
    expect(keyfile(m, 'd')['match']).toEqual([['driver', 'ixgbe']]);
    // a bond names its primary by the new name
    expect(keyfile(m, 'bond0')['bond']).toContainEqual(['primary', 'lan0']);
    expect(notes(m)).toEqual(['ethernets.d.match.name: the udev rule renames the NIC found by its driver to fast0, whatever its name: the match "en*" is not kept']);
    expect(NM_OWNED.also[0]?.match.test(RENAME_RULES_FILE.split('/').at(-1) ?? '')).toBe(true);
  });

  it('set-name with a name match only is not renamed: noted, the profile is for the NIC as named now', () => {
    const m = model([eth('y', { name: 'eth1' }, { setName: 'lan0', dhcp4: true })]);
    expect(renderNetworkManager(m).files.has(RENAME_RULES_FILE)).toBe(false);
    expect(keyfile(m, 'y')['connection']).toContainEqual(['interface-name', 'eth1']);
    expect(notes(m)).toEqual(['ethernets.y.set-name: not renamed (udev finds a NIC to rename by its MAC or driver only: when its rules run, the NIC has the kernel\'s name (eth0, eth1… in probe order), so a rule for the name "eth1" could miss it or rename another NIC): the profile finds the NIC of "y" as it is named now, not as lan0']);
  });

  it('IPv4 and IPv6 methods: DHCP, static, SLAAC, DHCPv6 only, link-local, disabled, ignore', () => {
    const m = model([
      eth('d4', { name: 'e1' }, { dhcp4: true, addresses: [addr('192.0.2.9/24')] }),
      eth('d6', { name: 'e2' }, { dhcp6: true }),
      eth('d6only', { name: 'e3' }, { dhcp6: true, acceptRa: false }),
      eth('slaac', { name: 'e4' }, { acceptRa: true, addresses: [addr('2001:db8::9/64')] }),
      eth('static6', { name: 'e5' }, { addresses: [addr('2001:db8:1::9/64')] }),
      eth('ll', { name: 'e6' }, { linkLocal: ['ipv4', 'ipv6'] }),
      eth('off', { name: 'e7' }, { acceptRa: false }),
      eth('ll4', { name: 'e8' }, { dhcp4: true, linkLocal: ['ipv4'] }),
    ]);
    const methods = (id: string): [string | undefined, string | undefined] => {
      const k = keyfile(m, id);
      return [k['ipv4']?.find(([x]) => x === 'method')?.[1], k['ipv6']?.find(([x]) => x === 'method')?.[1]];
    };
    expect(methods('d4')).toEqual(['auto', 'ignore']);
    expect(keyfile(m, 'd4')['ipv4']).toContainEqual(['address1', '192.0.2.9/24']);
    expect(methods('d6')).toEqual(['disabled', 'auto']);
    expect(methods('d6only')).toEqual(['disabled', 'dhcp']);
    expect(methods('slaac')).toEqual(['disabled', 'auto']);
    expect(keyfile(m, 'slaac')['ipv6']).toContainEqual(['address1', '2001:db8::9/64']);
    expect(methods('static6')).toEqual(['disabled', 'manual']);
    expect(methods('ll')).toEqual(['link-local', 'link-local']);
    expect(methods('off')).toEqual(['disabled', 'disabled']);
    expect(methods('ll4')).toEqual(['auto', 'disabled']);
    expect(keyfile(m, 'll4')['ipv4']).toContainEqual(['link-local', '3']);
    // which dynamic IPv6 the document asked for is said in the file
    const text = (id: string): string => renderNetworkManager(m).files.get(path(id))?.content ?? '';
    expect(text('d6')).toContain('# IPv6: method=auto is DHCPv6 (dhcp6) with SLAAC');
    expect(text('slaac')).toContain('# IPv6: method=auto is SLAAC (accept-ra)');
  });

  it('may-fail: a configured family must succeed; DHCPv4 with DHCPv6 each may fail; optional may fail', () => {
    const mayFail = (d: Device): (string | undefined)[] => {
      const k = keyfile(model([d]), d.id);
      return [k['ipv4'], k['ipv6']].map((s) => s?.find(([x]) => x === 'may-fail')?.[1]);
    };
    expect(mayFail(eth('s', { name: 'e' }, { addresses: [addr('192.0.2.1/24')] }))).toEqual(['false', undefined]);
    expect(mayFail(eth('dd', { name: 'e' }, { dhcp4: true, dhcp6: true }))).toEqual(['true', 'true']);
    expect(mayFail(eth('o', { name: 'e' }, { dhcp4: true, optional: true }))).toEqual(['true', undefined]);
    expect(notes(model([eth('l2', { name: 'e' }, { optional: true })]))).toEqual(['ethernets.l2.optional: NetworkManager expresses optional as may-fail of an IP family, and "l2" has no IP configuration; nothing to write']);
  });

  it('routes: gateway=, default routes with a metric, metric without gateway, and the options table/onlink/src/mtu/scope', () => {
    const m = model([eth('r', { name: 'e' }, {
      addresses: [addr('192.0.2.5/24'), addr('2001:db8::5/64')],
      routes: [
        route('default', '192.0.2.1'), route('default', '192.0.2.2', { metric: 50 }),
        route('198.51.100.0/24', '192.0.2.254', { table: 42, onLink: true, from: '192.0.2.5', mtu: 1400, scope: 'global' }),
        route('203.0.113.0/24', undefined, { metric: 7, scope: 'link' }),
        route('default', '2001:db8::1'), route('2001:db8:9::/48', '2001:db8::fe', { scope: 'global' }),
      ],
    })]);
    const k = keyfile(m, 'r');
    expect(k['ipv4']).toEqual([
      ['method', 'manual'], ['address1', '192.0.2.5/24'], ['gateway', '192.0.2.1'],
      ['route1', '0.0.0.0/0,192.0.2.2,50'],
      ['route2', '198.51.100.0/24,192.0.2.254'], ['route2_options', 'table=42,onlink=true,src=192.0.2.5,mtu=1400,scope=0'],
      ['route3', '203.0.113.0/24,,7'], ['route3_options', 'scope=253'],
      ['may-fail', 'false'],
    ]);
    expect(k['ipv6']).toEqual([['method', 'manual'], ['address1', '2001:db8::5/64'], ['gateway', '2001:db8::1'], ['route1', '2001:db8:9::/48,2001:db8::fe'], ['may-fail', 'false']]);
    expect(notes(m)).toEqual(['ethernets.r.routes: NetworkManager has no scope for IPv6 routes; the route to 2001:db8:9::/48 is written without scope global']);
  });

  it('a global route goes on the connection that reaches its gateway; routes of an unconfigured family are noted', () => {
    const m = model([eth('a', { name: 'e1' }, { addresses: [addr('10.0.0.2/24')], routes: [route('2001:db8::/32', '2001:db8::1')] })], { routes: [route('172.16.0.0/12', '10.0.0.1')] });
    expect(keyfile(m, 'a')['ipv4']).toContainEqual(['route1', '172.16.0.0/12,10.0.0.1']);
    expect(keyfile(m, 'a')['ipv6']).toEqual([['method', 'ignore']]);
    expect(notes(m)).toEqual(['ethernets.a.routes: IPv6 is not configured on "a" (no address, no DHCP), and NetworkManager keeps no IPv6 routes there; the IPv6 routes are not written']);
  });

  it('DNS: by family; global servers and domains after each L3 connection\'s own; what no connection can carry is noted', () => {
    const m = model([
      eth('a', { name: 'e1' }, { dhcp4: true, nameservers: dns(['10.0.0.53', 'fd00::53'], ['a.example']) }),
      eth('b', { name: 'e2' }, { dhcp6: true }),
      eth('l2', { name: 'e3' }),
    ], { nameservers: dns(['9.9.9.9', '2620:fe::fe'], ['g.example']) });
    expect(keyfile(m, 'a')['ipv4']).toEqual([['method', 'auto'], ['dns', '10.0.0.53;9.9.9.9;'], ['dns-search', 'a.example;g.example;'], ['may-fail', 'false']]);
    expect(keyfile(m, 'b')['ipv6']).toEqual([['method', 'auto'], ['dns', '2620:fe::fe;'], ['dns-search', 'g.example;'], ['may-fail', 'false']]);
    expect(keyfile(m, 'l2')['ipv4']).toEqual([['method', 'disabled']]);
    expect(notes(m)).toEqual([
      'ethernets.a.nameservers: IPv6 is not configured on "a", so NetworkManager would not use its IPv6 nameservers fd00::53, 2620:fe::fe; not written',
      'ethernets.b.nameservers: IPv4 is not configured on "b", so NetworkManager would not use its IPv4 nameservers 9.9.9.9; not written',
    ]);
    const none = model([eth('l2', { name: 'e3' })], { nameservers: dns(['9.9.9.9'], ['g.example']) });
    expect(notes(none)).toEqual([
      'nameservers: NetworkManager has no global nameservers and no connection here has IPv4 configuration to carry 9.9.9.9; not written',
      'nameservers: NetworkManager has no global search domains and no connection here has IP configuration to carry g.example; not written',
    ]);
  });

  it('DHCP overrides NetworkManager has, and a note for each it has not', () => {
    const m = model([eth('o', { name: 'e' }, {
      dhcp4: true,
      dhcp4Overrides: { routeMetric: 200, useDns: false, useRoutes: false, sendHostname: true, hostname: 'vm1', useNtp: false, useHostname: false, useDomains: 'route', useMtu: false },
      dhcp6Overrides: { useDns: false },
    })]);
    expect(keyfile(m, 'o')['ipv4']).toEqual([
      ['method', 'auto'], ['route-metric', '200'], ['ignore-auto-dns', 'true'], ['ignore-auto-routes', 'true'], ['dhcp-send-hostname', 'true'], ['dhcp-hostname', 'vm1'], ['may-fail', 'false'],
    ]);
    expect(notes(m).map((n) => n.split(':')[0])).toEqual([
      'ethernets.o.dhcp4-overrides.use-ntp', 'ethernets.o.dhcp4-overrides.use-hostname', 'ethernets.o.dhcp4-overrides.use-mtu',
      'ethernets.o.dhcp4-overrides.use-domains', 'ethernets.o.dhcp6-overrides',
    ]);
  });

  it('a DHCP route-metric next to static routes without a metric is noted (NetworkManager gives it to them too)', () => {
    const m = model([eth('o', { name: 'e' }, { dhcp4: true, dhcp4Overrides: { routeMetric: 100 }, routes: [route('10.9.0.0/16', '10.0.0.1'), route('10.8.0.0/16', '10.0.0.1', { metric: 5 })] })]);
    expect(notes(m)).toEqual(['ethernets.o.dhcp4-overrides.route-metric: NetworkManager\'s route-metric is also the metric of the static IPv4 routes without one (10.9.0.0/16), not only of the DHCP routes']);
  });

  it('IP settings on a port are noted (a port has no [ipv4]/[ipv6])', () => {
    const m = model([nic('a', '52:54:00:00:00:01', { dhcp4: true, addresses: [addr('10.0.0.1/24')], acceptRa: false }), bond('bond0', ['a'], {}, { dhcp4: true })]);
    expect(keyfile(m, 'a')['ipv4']).toBeUndefined();
    expect(notes(m).map((n) => n.split(':')[0])).toEqual(['ethernets.a.dhcp4', 'ethernets.a.addresses', 'ethernets.a.accept-ra']);
  });

  it('refuses hostile values with a note and writes nothing for them (nor for what depends on them)', () => {
    const m = model([
      eth('evil\n[ipv4]', { name: 'e1' }, { dhcp4: true }),
      eth('ok', { name: 'e2' }, { dhcp4: true }),
      eth('badglob', { name: '!e3*' }, { dhcp4: true }),
      eth('badhost', { name: 'e4' }, { dhcp4: true, dhcp4Overrides: { hostname: 'a\nb' } }),
      eth('port', { name: 'e5' }), bond('bond\nx', ['port'], {}),
      vlan('v9', 9, 'evil\n[ipv4]'),
    ]);
    const r = renderNetworkManager(m);
    expect([...r.files.keys()]).toEqual([path('ok')]);
    for (const f of r.files.values()) expect(f.content).not.toMatch(/evil/u);
    expect(r.notes.map((n) => n.path)).toEqual(['ethernets["evil\\n[ipv4]"]', 'ethernets.badglob', 'ethernets.badhost', 'bonds["bond\\nx"]', 'ethernets.port', 'vlans.v9']);
    expect(r.notes[0]?.message).toContain('cannot be written into a NetworkManager keyfile');
    expect(r.notes[1]?.message).toContain('leading !');
    expect(r.notes[2]?.message).toBe('the DHCP hostname "a\\nb" cannot be written safely into a NetworkManager keyfile; the connection is not written');
    expect(nmActivationOrder(m)).toEqual(['vmctx-ok']);
  });

  it('a controller refused for a value refuses its ports and VLANs too (no dangling master= or parent=)', () => {
    const m = model([nic('a', '52:54:00:00:00:01'), bond('bond0', ['a'], {}, { dhcp4: true, dhcp4Overrides: { hostname: 'x;y' } }), vlan('bond0.3', 3, 'bond0'), eth('ok', { name: 'e' })]);
    const r = renderNetworkManager(m);
    expect([...r.files.keys()]).toEqual([path('ok')]);
    expect(r.notes.map((n) => n.path)).toEqual(['bonds.bond0', 'ethernets.a', 'vlans["bond0.3"]']);
    expect(nmActivationOrder(m)).toEqual(['vmctx-ok']);
  });

  it('re-renders byte for byte; uuids are name-based (v5), stable and distinct', () => {
    const m = model([nic('a', '52:54:00:00:00:01', { dhcp4: true }), bridge('br0', [], { stp: true }, { addresses: [addr('10.1.0.1/24')] })]);
    const once = renderNetworkManager(m);
    const twice = renderNetworkManager(m);
    expect([...twice.files]).toEqual([...once.files]);
    expect(uuidOf('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/u);
    expect(uuidOf('a')).not.toBe(uuidOf('br0'));
    expect(nmUuid('vmctx-a')).toBe(uuidOf('a'));
    expect(nmConnectionId(m.devices[0] as Device)).toBe('vmctx-a');
  });

  it('activation order: controllers bring their ports; a VLAN after the connection its parent comes up with', () => {
    const m = model([
      vlan('v20', 20, 'p2'),
      nic('p1', '52:54:00:00:00:01'), nic('p2', '52:54:00:00:00:02'), nic('solo', '52:54:00:00:00:03', { dhcp4: true }),
      vlan('bond0.7', 7, 'bond0'), bond('bond0', ['p1', 'p2'], {}),
      bridge('br0', ['v30'], {}), vlan('v30', 30, 'solo'),
    ]);
    const order = nmActivationOrder(m);
    expect(order).toEqual(['vmctx-bond0', 'vmctx-v20', 'vmctx-solo', 'vmctx-bond0.7', 'vmctx-br0']);
    // every connection is up after the ids listed: the listed ones and the ports of listed controllers
    expect(new Set(order).size).toBe(order.length);
  });

  it('notes a document that asks for networkd', () => {
    expect(notes(model([eth('a', { name: 'e' })], { renderer: 'networkd' }))).toEqual(['renderer: the document asks for systemd-networkd; rendered for NetworkManager, the backend this guest runs']);
  });
});
