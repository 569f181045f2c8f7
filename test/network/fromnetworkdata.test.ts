// OpenStack network_data.json → NetModel: DHCP NICs, static IPv4/IPv6 with routes, a bond of two
// NICs with VLANs on it (our own documents of the shapes Nova writes), and every key not applied.
import { describe, expect, it } from 'vitest';
import { mapNetworkData } from '../../src/network/fromnetworkdata.js';
import { addr, bond, dns, eth, noteRows, route, vlan } from './netmodel-helpers.js';

const map = (doc: unknown): ReturnType<typeof mapNetworkData> => mapNetworkData(JSON.stringify(doc, null, 2), 'network_data.json');

describe('network_data.json → model', () => {
  it('three OVS NICs on DHCP, one with a name; informational ids are listed as unused; DNS services are global', () => {
    const r = map({
      links: [
        { id: 'tap0a1b2c3d-e4', vif_id: '0a1b2c3d-e4f5-4a5b-8c7d-000000000001', type: 'ovs', mtu: null, ethernet_mac_address: 'fa:16:3e:00:00:01' },
        { id: 'tap0a1b2c3d-e5', vif_id: '0a1b2c3d-e4f5-4a5b-8c7d-000000000002', type: 'ovs', mtu: null, ethernet_mac_address: 'fa:16:3e:00:00:02', name: 'nic1' },
      ],
      networks: [
        { id: 'network0', link: 'tap0a1b2c3d-e4', type: 'ipv4_dhcp', network_id: '11111111-2222-3333-4444-555555555555' },
        { id: 'network1', link: 'tap0a1b2c3d-e5', type: 'ipv4_dhcp', network_id: '11111111-2222-3333-4444-666666666666' },
      ],
      services: [{ type: 'dns', address: '198.51.100.24' }, { type: 'dns', address: '198.51.100.54' }],
    });
    expect(r.notes.map((n) => [n.what, n.path])).toEqual([
      ['unused', 'links[0].vif_id'],
      ['unused', 'links[1].vif_id'],
      ['unused', 'networks[0].id'],
      ['unused', 'networks[0].network_id'],
      ['unused', 'networks[1].id'],
      ['unused', 'networks[1].network_id'],
    ]);
    expect(r.model).toEqual({
      devices: [
        eth('tap0a1b2c3d-e4', { macaddress: 'fa:16:3e:00:00:01' }, { dhcp4: true }),
        eth('tap0a1b2c3d-e5', { macaddress: 'fa:16:3e:00:00:02' }, { setName: 'nic1', dhcp4: true }),
      ],
      routes: [],
      nameservers: dns(['198.51.100.24', '198.51.100.54']),
    });
  });

  it('static IPv4 and IPv6 (netmask forms of both families) with default and non-default routes on tap and untyped links', () => {
    const r = map({
      links: [
        { id: 'tap77', type: 'tap', mtu: 1450, ethernet_mac_address: 'fa:16:3e:dd:50:9a' },
        { id: 'tap7d', type: null, ethernet_mac_address: 'fa:16:3e:a8:14:69' },
      ],
      networks: [
        { link: 'tap77', type: 'ipv4', ip_address: '172.17.48.18', netmask: '255.255.255.128', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '172.17.48.1' }] },
        { link: 'tap77', type: 'ipv6', ip_address: 'fdb8:52d0:9d14:0:f816:3eff:fe9f:70d', netmask: 'ffff:ffff:ffff:ffff::', routes: [{ network: '::', netmask: '::', gateway: 'fdb8:52d0:9d14::1' }] },
        { link: 'tap7d', type: 'ipv4', ip_address: '172.16.48.13', netmask: '255.255.255.128', routes: [
          { network: '0.0.0.0', netmask: '0.0.0.0', gateway: '172.16.48.1' },
          { network: '172.16.0.0', netmask: '255.255.0.0', gateway: '172.16.48.1' },
        ] },
        { link: 'tap7d', type: 'ipv6', ip_address: '2001:db8:9::5/64' },
      ],
    });
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('tap77', { macaddress: 'fa:16:3e:dd:50:9a' }, {
        mtu: 1450, acceptRa: false, addresses: [addr('172.17.48.18/25'), addr('fdb8:52d0:9d14:0:f816:3eff:fe9f:70d/64')],
        routes: [route('default', '172.17.48.1'), route('default', 'fdb8:52d0:9d14::1')],
      }),
      eth('tap7d', { macaddress: 'fa:16:3e:a8:14:69' }, {
        acceptRa: false, addresses: [addr('172.16.48.13/25'), addr('2001:db8:9::5/64')],
        routes: [route('default', '172.16.48.1'), route('172.16.0.0/16', '172.16.48.1')],
      }),
    ]);
  });

  it('a bond of two NICs with VLANs on it: the bond named bond0, the VLANs BOND.ID, addresses on the VLANs, the NICs left bare', () => {
    const r = map({
      services: [{ type: 'dns', address: '192.0.2.191' }],
      networks: [
        { id: 'n2', network_id: 'x', link: 'vlan2', type: 'ipv4', ip_address: '203.0.113.13', netmask: '255.255.255.248', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '203.0.113.9' }] },
        { id: 'n3', network_id: 'y', link: 'vlan3', type: 'ipv4', ip_address: '10.0.1.5', netmask: '255.255.255.248', routes: [{ network: '192.168.1.0', netmask: '255.255.255.255', gateway: '10.0.1.1', services: [{ type: 'dns', address: '10.0.1.53' }] }] },
      ],
      links: [
        { id: 'eth0', type: 'phy', mtu: 1500, ethernet_mac_address: '0c:c4:7a:34:6e:3c' },
        { id: 'eth1', type: 'phy', mtu: 1500, ethernet_mac_address: '0c:c4:7a:34:6e:3d' },
        { id: 'bond0', type: 'bond', bond_links: ['eth0', 'eth1'], bond_miimon: 100, bond_mode: '4', bond_xmit_hash_policy: 'layer3+4', ethernet_mac_address: 'fa:16:3e:b3:72:36' },
        { id: 'vlan2', type: 'vlan', vlan_id: 602, vlan_link: 'bond0', vlan_mac_address: 'fa:16:3e:b3:72:30', ethernet_mac_address: 'fa:16:3e:b3:72:30' },
        { id: 'vlan3', type: 'vlan', vlan_id: 612, vlan_link: 'bond0', vlan_mac_address: 'fa:16:3e:66:ab:a6' },
      ],
    });
    expect(r.notes.filter((n) => n.what !== 'unused')).toEqual([]);
    expect(r.model).toEqual({
      devices: [
        eth('eth0', { macaddress: '0c:c4:7a:34:6e:3c' }, { mtu: 1500 }),
        eth('eth1', { macaddress: '0c:c4:7a:34:6e:3d' }, { mtu: 1500 }),
        bond('bond0', ['eth0', 'eth1'], { miiMonitorInterval: 100, mode: '802.3ad', transmitHashPolicy: 'layer3+4' }, { macaddress: 'fa:16:3e:b3:72:36' }),
        vlan('bond0.602', 602, 'bond0', { macaddress: 'fa:16:3e:b3:72:30', addresses: [addr('203.0.113.13/29')], routes: [route('default', '203.0.113.9')] }),
        vlan('bond0.612', 612, 'bond0', { macaddress: 'fa:16:3e:66:ab:a6', addresses: [addr('10.0.1.5/29')], routes: [route('192.168.1.0/32', '10.0.1.1')], nameservers: dns(['10.0.1.53']) }),
      ],
      routes: [],
      nameservers: dns(['192.0.2.191']),
    });
  });

  it('a VLAN straight on a NIC is named after the link (eth0.602)', () => {
    const r = map({
      links: [
        { id: 'eth0', type: 'phy', ethernet_mac_address: 'fa:16:3e:69:b0:58' },
        { id: 'vlan1', type: 'vlan', vlan_id: 602, vlan_link: 'eth0', vlan_mac_address: 'fa:16:3e:b3:72:30' },
      ],
      networks: [{ link: 'vlan1', type: 'ipv4', ip_address: '10.0.1.5', netmask: '255.255.255.248' }],
    });
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([eth('eth0', { macaddress: 'fa:16:3e:69:b0:58' }), vlan('eth0.602', 602, 'eth0', { macaddress: 'fa:16:3e:b3:72:30', addresses: [addr('10.0.1.5/29')] })]);
  });

  it('SLAAC and DHCPv6 networks', () => {
    const r = map({
      links: [{ id: 'a', ethernet_mac_address: 'fa:16:3e:00:00:0a' }, { id: 'b', ethernet_mac_address: 'fa:16:3e:00:00:0b' }, { id: 'c', ethernet_mac_address: 'fa:16:3e:00:00:0c' }],
      networks: [{ link: 'a', type: 'ipv6_slaac' }, { link: 'b', type: 'ipv6_dhcpv6-stateful' }, { link: 'c', type: 'ipv6_dhcpv6-stateless' }, { link: 'c', type: 'ipv4_dhcp' }],
    });
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('a', { macaddress: 'fa:16:3e:00:00:0a' }, { acceptRa: true }),
      eth('b', { macaddress: 'fa:16:3e:00:00:0b' }, { dhcp6: true, acceptRa: true }),
      eth('c', { macaddress: 'fa:16:3e:00:00:0c' }, { dhcp6: true, acceptRa: true, dhcp4: true }),
    ]);
  });

  it('names every key it does not apply, with its line in the JSON text', () => {
    const text = [
      '{', //                                                                         1
      '  "links": [', //                                                              2
      '    {"id": "eth0", "type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:01",', // 3
      '     "bond_frobnicate": 1, "colour": "blue"},', //                            4
      '    {"id": "eth1", "type": "weird", "ethernet_mac_address": "fa:16:3e:00:00:02"},', // 5
      '    {"id": "eth2", "type": "phy"},', //                                        6
      '    {"id": "v9", "type": "vlan", "vlan_id": 9, "vlan_link": "nowhere"}', //   7
      '  ],', //                                                                      8
      '  "networks": [', //                                                           9
      '    {"link": "eth0", "type": "ipv4", "ip_address": "10.0.0.300", "netmask": "255.255.255.0"},', // 10
      '    {"link": "eth0", "type": "ipv4_mystery"},', //                             11
      '    {"link": "eth9", "type": "ipv4_dhcp"},', //                                12
      '    {"link": "eth1", "type": "ipv4", "ip_address": "10.0.1.5", "netmask": "255.255.255.0", "broadcast": "10.0.1.255"}', // 13
      '  ],', //                                                                      14
      '  "services": [{"type": "ntp", "address": "10.0.0.1"}],', //                  15
      '  "extra": true', //                                                           16
      '}', //                                                                         17
    ].join('\n');
    const r = mapNetworkData(text, 'network_data.json');
    expect(noteRows(r.notes)).toEqual([
      [4, 'unknown', 'links[0].bond_frobnicate'],
      [4, 'unknown', 'links[0].colour'],
      [5, 'unknown', 'links[1].type'],
      [6, 'invalid', 'links[2]'],
      [7, 'invalid', 'links[3].vlan_link'],
      [10, 'invalid', 'networks[0].ip_address'],
      [11, 'not supported', 'networks[1].type'],
      [12, 'invalid', 'networks[2].link'],
      [13, 'not supported', 'networks[3].broadcast'],
      [15, 'not supported', 'services[0]'],
      [16, 'unknown', 'extra'],
    ]);
    expect(r.notes[2]?.message).toMatch(/taken as a physical NIC/);
    expect(r.model.devices).toEqual([
      eth('eth0', { macaddress: 'fa:16:3e:00:00:01' }),
      eth('eth1', { macaddress: 'fa:16:3e:00:00:02' }, { addresses: [addr('10.0.1.5/24')] }),
    ]);
  });

  it('a document that is not JSON configures nothing and says where', () => {
    expect(noteRows(mapNetworkData('{"links": [\n', 'network_data.json').notes)).toEqual([[2, 'invalid', '']]);
  });
});

describe('network_data.json: unsafe values never reach the model', () => {
  it('a link id, name, MAC, address, route or DNS server with a newline is refused and named', () => {
    const evil = 'x\n[Network]\nDNS=6.6.6.6';
    const r = map({
      links: [
        { id: evil, type: 'phy', ethernet_mac_address: 'fa:16:3e:00:00:01' },
        { id: 'ok', type: 'phy', ethernet_mac_address: 'fa:16:3e:00:00:02', name: evil },
        { id: 'b', type: 'bond', name: evil, bond_links: [evil, 'ok'], bond_mode: evil },
        { id: 'm', type: 'phy', ethernet_mac_address: evil },
      ],
      networks: [
        { link: 'ok', type: 'ipv4', ip_address: evil, netmask: '255.255.255.0', routes: [{ network: evil, netmask: '255.0.0.0', gateway: '10.0.0.1' }, { network: '10.0.0.0', netmask: '255.0.0.0', gateway: evil }], services: [{ type: 'dns', address: evil }] },
      ],
      services: [{ type: 'dns', address: evil }],
    });
    const strings = (value: unknown): string[] =>
      typeof value === 'string' ? [value] : Array.isArray(value) ? value.flatMap(strings) : typeof value === 'object' && value !== null ? Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]) : [];
    expect(strings(r.model).filter((s) => !/^[A-Za-z0-9._:*?[\]!@%/+-]+$/u.test(s))).toEqual([]);
    expect(r.model.devices.map((d) => d.id)).toEqual(['link0', 'ok', 'bond0']);
    expect(r.notes.filter((n) => n.what === 'invalid').length).toBeGreaterThanOrEqual(8);
  });
});

describe('network_data.json: bond links', () => {
  it('an unknown key on a bond link is named, an unknown bond_ parameter too, and the known ones apply', () => {
    const r = map({
      links: [
        { id: 'e0', type: 'phy', ethernet_mac_address: 'fa:16:3e:00:00:01' },
        { id: 'b0', type: 'bond', bond_links: ['e0'], bond_mode: 'balance-xor', bond_miimon: 50, bond_xmit_hash_policy: 'layer2+3', bond_updelay: 100, bond_colour: 'red', shape: 'round' },
      ],
    });
    expect(r.notes.map((n) => [n.what, n.path])).toEqual([['unknown', 'links[1].bond_colour'], ['unknown', 'links[1].shape']]);
    expect(r.model.devices[1]).toEqual(bond('bond0', ['e0'], { mode: 'balance-xor', miiMonitorInterval: 50, transmitHashPolicy: 'layer2+3', upDelay: 100 }));
  });
});

describe('network_data.json: as cloud-init reads it (convert_net_json, network_state)', () => {
  const link = { id: 'tap1', type: 'ovs', ethernet_mac_address: 'fa:16:3e:00:00:01' };

  it('an empty netmask is no netmask: the default prefix applies (/64 for IPv6, /24 for IPv4), named as informational', () => {
    const r = map({
      links: [link],
      networks: [
        { link: 'tap1', type: 'ipv6', ip_address: '2001:db8:60::10', netmask: '' },
        { link: 'tap1', type: 'ipv4', ip_address: '192.0.2.10', netmask: '' },
        { link: 'tap1', type: 'ipv6', ip_address: '2001:db8:61::10' },
      ],
    });
    expect(r.notes.map((n) => [n.what, n.path])).toEqual([['unused', 'networks[0].netmask'], ['unused', 'networks[1].netmask']]);
    expect(r.notes[0]?.message).toMatch(/empty.*\/64/);
    expect(r.notes[1]?.message).toMatch(/empty.*\/24/);
    expect(r.model.devices).toEqual([eth('tap1', { macaddress: 'fa:16:3e:00:00:01' }, { acceptRa: false, addresses: [addr('2001:db8:60::10/64'), addr('192.0.2.10/24'), addr('2001:db8:61::10/64')] })]);
  });

  it('a netmask next to an address with its own prefix is named as not used: the prefix wins', () => {
    const r = map({ links: [link], networks: [{ link: 'tap1', type: 'ipv4', ip_address: '192.0.2.10/28', netmask: '255.255.255.0' }, { link: 'tap1', type: 'ipv6', ip_address: '2001:db8::10/56', netmask: '' }] });
    expect(r.notes.map((n) => [n.what, n.path])).toEqual([['unused', 'networks[0].netmask'], ['unused', 'networks[1].netmask']]);
    expect(r.model.devices[0]?.addresses).toEqual([addr('192.0.2.10/28'), addr('2001:db8::10/56')]);
  });

  it("a top-level dns service's search (a string or a list) adds global search domains", () => {
    const r = map({
      links: [link],
      networks: [{ link: 'tap1', type: 'ipv4_dhcp' }],
      services: [{ type: 'dns', address: '192.0.2.53', search: 'corp.example' }, { type: 'dns', address: '192.0.2.54', search: ['a.example', 'b.example'] }],
    });
    expect(r.notes).toEqual([]);
    expect(r.model.nameservers).toEqual(dns(['192.0.2.53', '192.0.2.54'], ['corp.example', 'a.example', 'b.example']));
  });

  it("a search on a network's or a route's dns service is named: cloud-init takes only their addresses", () => {
    const r = map({
      links: [link],
      networks: [{
        link: 'tap1', type: 'ipv4', ip_address: '192.0.2.10', netmask: '255.255.255.0',
        routes: [{ network: '10.0.0.0', netmask: '255.0.0.0', gateway: '192.0.2.1', services: [{ type: 'dns', address: '10.0.0.53', search: 'route.example' }] }],
        services: [{ type: 'dns', address: '192.0.2.53', search: 'net.example' }],
      }],
    });
    expect(r.notes.map((n) => [n.what, n.path])).toEqual([['not supported', 'networks[0].routes[0].services[0].search'], ['not supported', 'networks[0].services[0].search']]);
    expect(r.notes[0]?.message).toMatch(/top-level services/);
    expect(r.model.devices[0]?.nameservers).toEqual(dns(['10.0.0.53', '192.0.2.53']));
  });

  it("a DHCP network's metric is the DHCP client's route metric (cloud-init's dhcp4/dhcp6-overrides route-metric)", () => {
    const r = map({
      links: [link, { id: 'tap2', ethernet_mac_address: 'fa:16:3e:00:00:02' }, { id: 'tap3', ethernet_mac_address: 'fa:16:3e:00:00:03' }],
      networks: [
        { link: 'tap1', type: 'ipv4_dhcp', metric: 100 },
        { link: 'tap1', type: 'ipv6_dhcp', metric: 200 },
        { link: 'tap2', type: 'ipv6_dhcpv6-stateless', metric: 300 },
        { link: 'tap3', type: 'ipv6_slaac', metric: 400 },
      ],
    });
    expect(r.notes.map((n) => [n.what, n.path])).toEqual([['not supported', 'networks[3].metric']]);
    expect(r.model.devices).toEqual([
      eth('tap1', { macaddress: 'fa:16:3e:00:00:01' }, { dhcp4: true, dhcp4Overrides: { routeMetric: 100 }, dhcp6: true, dhcp6Overrides: { routeMetric: 200 }, acceptRa: true }),
      eth('tap2', { macaddress: 'fa:16:3e:00:00:02' }, { dhcp6: true, dhcp6Overrides: { routeMetric: 300 }, acceptRa: true }),
      eth('tap3', { macaddress: 'fa:16:3e:00:00:03' }, { acceptRa: true }),
    ]);
  });
});
