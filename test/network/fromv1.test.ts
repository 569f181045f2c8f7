// network-config version 1 → NetModel: each of cloud-init's documented v1 examples (our own
// documents of the same shape) mapped in full, and every key not applied named with its line.
import { describe, expect, it } from 'vitest';
import { mapNetworkConfig } from '../../src/network/fromnetworkconfig.js';
import { addr, bond, bridge, dns, eth, noteRows, route, vlan } from './netmodel-helpers.js';

const map = (text: string): ReturnType<typeof mapNetworkConfig> => mapNetworkConfig(text, 'network-config');

describe('network-config v1 → model', () => {
  it('physical with DHCP, matched by name when there is no MAC', () => {
    const r = map('network:\n  version: 1\n  config:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: dhcp\n');
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({ devices: [eth('eth0', { name: 'eth0' }, { dhcp4: true })], routes: [], nameservers: dns([]) });
  });

  it('several NICs, one with jumbo frames: matched by MAC and named (set-name) as the document says', () => {
    const doc = `network:
  version: 1
  config:
    - type: physical
      name: nic0
      mac_address: '52:54:00:12:00:01'
    - type: physical
      name: jumbo0
      mac_address: '52:54:00:12:00:02'
      mtu: 9000
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('nic0', { macaddress: '52:54:00:12:00:01' }, { setName: 'nic0' }),
      eth('jumbo0', { macaddress: '52:54:00:12:00:02' }, { setName: 'jumbo0', mtu: 9000 }),
    ]);
  });

  it('a static subnet with gateway, DNS servers and search domain', () => {
    const doc = `network:
  version: 1
  config:
    - type: physical
      name: nic0
      mac_address: '52:54:00:12:00:01'
      subnets:
        - type: static
          address: 192.168.40.14/27
          gateway: 192.168.40.1
          dns_nameservers: [192.168.40.2, 9.9.9.9]
          dns_search: [example.internal]
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('nic0', { macaddress: '52:54:00:12:00:01' }, {
        setName: 'nic0', addresses: [addr('192.168.40.14/27')], routes: [route('default', '192.168.40.1')],
        nameservers: dns(['192.168.40.2', '9.9.9.9'], ['example.internal']),
      }),
    ]);
  });

  it('multiple subnets: DHCP and a static address on one NIC, with metrics and subnet routes (netmask form)', () => {
    const doc = `network:
  version: 1
  config:
    - type: physical
      name: nic0
      mac_address: '52:54:00:12:00:01'
      subnets:
        - type: dhcp
          metric: 200
        - type: static
          metric: 100
          address: 10.184.7.122
          netmask: 255.255.255.252
          routes:
            - gateway: 10.184.7.121
              netmask: 255.240.0.0
              destination: 10.176.0.0
            - gateway: 10.184.7.121
              netmask: 255.240.0.0
              network: 10.208.0.0
              metric: 50
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('nic0', { macaddress: '52:54:00:12:00:01' }, {
        setName: 'nic0', dhcp4: true, dhcp4Overrides: { routeMetric: 200 }, addresses: [addr('10.184.7.122/30')],
        routes: [route('10.176.0.0/12', '10.184.7.121', { metric: 100 }), route('10.208.0.0/12', '10.184.7.121', { metric: 50 })],
      }),
    ]);
  });

  it('IPv6: static6 with a gateway, SLAAC, DHCPv6 stateless and stateful', () => {
    const doc = `network:
  version: 1
  config:
    - type: physical
      name: a
      subnets:
        - type: static6
          address: 2001:db8:1::10/64
          gateway: 2001:db8:1::1
        - type: static
          address: 2001:db8:2::10
    - type: physical
      name: b
      subnets: [{type: ipv6_slaac}]
    - type: physical
      name: c
      subnets: [{type: ipv6_dhcpv6-stateless}]
    - type: physical
      name: d
      subnets: [{type: ipv6_dhcpv6-stateful}, {type: dhcp6}]
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('a', { name: 'a' }, { addresses: [addr('2001:db8:1::10/64'), addr('2001:db8:2::10/64')], routes: [route('default', '2001:db8:1::1')] }),
      eth('b', { name: 'b' }, { acceptRa: true }),
      eth('c', { name: 'c' }, { dhcp6: true, acceptRa: true }),
      eth('d', { name: 'd' }, { dhcp6: true, acceptRa: true }),
    ]);
  });

  it('a top-level route and a global nameserver', () => {
    const doc = `network:
  version: 1
  config:
    - type: physical
      name: nic0
      mac_address: '52:54:00:12:00:01'
      subnets:
        - type: static
          address: 192.168.50.14/24
          gateway: 192.168.50.1
    - type: route
      destination: 192.168.51.0/24
      gateway: 192.168.50.254
      metric: 3
    - type: nameserver
      address: [192.168.50.2, 2001:db8::53]
      search: [one.example, two.example]
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({
      devices: [eth('nic0', { macaddress: '52:54:00:12:00:01' }, { setName: 'nic0', addresses: [addr('192.168.50.14/24')], routes: [route('default', '192.168.50.1')] })],
      routes: [route('192.168.51.0/24', '192.168.50.254', { metric: 3 })],
      nameservers: dns(['192.168.50.2', '2001:db8::53'], ['one.example', 'two.example']),
    });
  });

  it('a nameserver tied to an interface goes to that interface (declared before or after it)', () => {
    const doc = `network:
  version: 1
  config:
    - type: nameserver
      interface: nic0
      address: [192.168.23.2, 8.8.8.8]
      search: [exemplary]
    - type: physical
      name: nic0
      subnets: [{type: static, address: 192.168.23.14/27, gateway: 192.168.23.1}]
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([eth('nic0', { name: 'nic0' }, { addresses: [addr('192.168.23.14/27')], routes: [route('default', '192.168.23.1')], nameservers: dns(['192.168.23.2', '8.8.8.8'], ['exemplary']) })]);
    expect(r.model.nameservers).toEqual(dns([]));
  });

  it('a bonded pair (params in every spelling cloud-init takes) with a VLAN on the bond taking DHCP', () => {
    const doc = `network:
  version: 1
  config:
    - type: physical
      name: gbe0
      mac_address: 'cd:11:22:33:44:00'
    - type: physical
      name: gbe1
      mac_address: 'cd:11:22:33:44:02'
    - type: bond
      name: bond0
      bond_interfaces: [gbe0, gbe1]
      params:
        bond-mode: 802.3ad
        bond-lacp_rate: fast
        bond_miimon: 100
        xmit_hash_policy: layer3+4
        bond-updelay: 200
        bond-slaves: none
    - type: vlan
      name: bond0.200
      vlan_link: bond0
      vlan_id: 200
      subnets:
        - type: dhcp4
`;
    const r = map(doc);
    expect(noteRows(r.notes)).toEqual([[19, 'unused', 'network.config[2].params.bond-slaves']]);
    expect(r.model.devices).toEqual([
      eth('gbe0', { macaddress: 'cd:11:22:33:44:00' }, { setName: 'gbe0' }),
      eth('gbe1', { macaddress: 'cd:11:22:33:44:02' }, { setName: 'gbe1' }),
      bond('bond0', ['gbe0', 'gbe1'], { mode: '802.3ad', lacpRate: 'fast', miiMonitorInterval: 100, transmitHashPolicy: 'layer3+4', upDelay: 200 }),
      vlan('bond0.200', 200, 'bond0', { dhcp4: true }),
    ]);
  });

  it('a bond member the document never declares is the NIC of that name (as cloud-init does)', () => {
    const r = map('version: 1\nconfig:\n  - {type: bond, name: bond0, bond_interfaces: [ens3, ens4], params: {bond-mode: active-backup}}\n');
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([bond('bond0', ['ens3', 'ens4'], { mode: 'active-backup' }), eth('ens3', { name: 'ens3' }), eth('ens4', { name: 'ens4' })]);
  });

  it('a bridge with the ifupdown params: mapped, and the wait settings named as not supported (the duplicate key too)', () => {
    const doc = [
      'network:', //                              1
      ' version: 1', //                           2
      ' config:', //                              3
      '   - type: physical', //                   4
      '     name: jumbo0', //                     5
      "     mac_address: 'aa:11:22:33:44:55'", // 6
      '     mtu: 9000', //                        7
      '   - type: bridge', //                     8
      '     name: br0', //                        9
      '     bridge_interfaces:', //               10
      '       - jumbo0', //                       11
      '     params:', //                          12
      '       bridge_ageing: 250', //             13
      '       bridge_bridgeprio: 22', //          14
      '       bridge_fd: 1', //                   15
      '       bridge_hello: 1', //                16
      '       bridge_maxage: 10', //              17
      '       bridge_maxwait: 0', //              18
      '       bridge_pathcost:', //               19
      '         - jumbo0 75', //                  20
      '       bridge_portprio:', //               21
      '         - jumbo0 28', //                  22
      "       bridge_stp: 'off'", //              23
      '       bridge_maxwait: 15', //             24
      '       bridge_hw: "02:00:00:00:00:99"', // 25
    ].join('\n');
    const r = map(doc);
    expect(noteRows(r.notes)).toEqual([
      [18, 'invalid', 'network.config[1].params.bridge_maxwait'],
      [24, 'not supported', 'network.config[1].params.bridge_maxwait'],
    ]);
    expect(r.notes[0]?.message).toBe('the key "bridge_maxwait" is written again on line 24; this one is not used (the last one applies)');
    expect(r.model.devices).toEqual([
      eth('jumbo0', { macaddress: 'aa:11:22:33:44:55' }, { setName: 'jumbo0', mtu: 9000 }),
      bridge('br0', ['jumbo0'], { ageingTime: 250, priority: 22, forwardDelay: 1, helloTime: 1, maxAge: 10, pathCost: { jumbo0: 75 }, portPriority: { jumbo0: 28 }, stp: false }, { macaddress: '02:00:00:00:00:99' }),
    ]);
  });

  it('several VLANs on one NIC, each with its own static subnet, and a global nameserver', () => {
    const doc = `network:
  version: 1
  config:
  - name: eth0
    mac_address: 'd4:be:d9:00:49:13'
    mtu: 1500
    subnets:
    - {address: 10.245.168.16/21, dns_nameservers: [10.245.168.2], gateway: 10.245.168.1, type: static}
    type: physical
  - name: eth1
    mac_address: 'd4:be:d9:00:49:15'
    subnets:
    - {address: 10.245.188.2/24, dns_nameservers: [], type: static}
    type: physical
  - {name: eth1.2667, mtu: 1500, type: vlan, vlan_id: 2667, vlan_link: eth1, subnets: [{address: 10.245.184.2/24, type: static}]}
  - {name: eth1.2668, type: vlan, vlan_id: 2668, vlan_link: eth1, subnets: [{address: 10.245.185.1/24, type: static}]}
  - address: [10.245.168.2]
    search: [dellstack]
    type: nameserver
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({
      devices: [
        eth('eth0', { macaddress: 'd4:be:d9:00:49:13' }, { setName: 'eth0', mtu: 1500, addresses: [addr('10.245.168.16/21')], routes: [route('default', '10.245.168.1')], nameservers: dns(['10.245.168.2']) }),
        eth('eth1', { macaddress: 'd4:be:d9:00:49:15' }, { setName: 'eth1', addresses: [addr('10.245.188.2/24')] }),
        vlan('eth1.2667', 2667, 'eth1', { mtu: 1500, addresses: [addr('10.245.184.2/24')] }),
        vlan('eth1.2668', 2668, 'eth1', { addresses: [addr('10.245.185.1/24')] }),
      ],
      routes: [],
      nameservers: dns(['10.245.168.2'], ['dellstack']),
    });
  });

  it('names what it does not apply, with its line; bad values are skipped and the rest applies', () => {
    const doc = [
      'network:', //                                   1
      '  version: 1', //                               2
      '  config:', //                                  3
      '    - type: physical', //                       4
      '      name: nic0', //                           5
      '      mac_adress: "52:54:00:12:00:01"', //      6
      '      keep_configuration: true', //             7
      '      subnets:', //                             8
      '        - type: static', //                     9
      '          address: 10.0.0.5/24', //             10
      '          broadcast: 10.0.0.255', //            11
      '          control: manual', //                  12
      '          gateway: 10.0.0.999', //              13
      '        - type: static', //                     14
      '          address: 10.0.1.5', //                15
      '          netmask: 255.0.255.0', //             16
      '        - type: dhcp', //                       17
      '          address: 10.0.2.5/24', //             18
      '        - type: carrier-pigeon', //             19
      '    - type: loopback', //                       20
      '      name: lo', //                             21
      '    - type: nameserver', //                     22
      '      interface: nic9', //                      23
      '      address: [10.0.0.53, nonsense]', //       24
      '    - type: vlan', //                           25
      '      name: nic0.5', //                         26
      '      vlan_link: nic0', //                      27
    ].join('\n');
    const r = map(doc);
    expect(noteRows(r.notes)).toEqual([
      [6, 'unknown', 'network.config[0].mac_adress'],
      [7, 'not supported', 'network.config[0].keep_configuration'],
      [11, 'not supported', 'network.config[0].subnets[0].broadcast'],
      [12, 'not supported', 'network.config[0].subnets[0].control'],
      [13, 'invalid', 'network.config[0].subnets[0].gateway'],
      [15, 'invalid', 'network.config[0].subnets[1].address'],
      [18, 'unused', 'network.config[0].subnets[2].address'],
      [19, 'invalid', 'network.config[0].subnets[3].type'],
      [20, 'not supported', 'network.config[1].type'],
      [23, 'invalid', 'network.config[2].interface'],
      [24, 'invalid', 'network.config[2].address[1]'],
      [25, 'invalid', 'network.config[3]'],
    ]);
    expect(r.notes[0]?.message).toBe('unknown key "mac_adress" (did you mean "mac_address"?); not applied');
    expect(r.model.devices).toEqual([eth('nic0', { name: 'nic0' }, { dhcp4: true, addresses: [addr('10.0.0.5/24')] })]);
  });

  it('a vlan whose link is not in the document is left out and named', () => {
    const r = map('version: 1\nconfig:\n  - {type: vlan, name: v5, vlan_link: ghost, vlan_id: 5}\n');
    expect(noteRows(r.notes)).toEqual([[3, 'invalid', 'config[0].vlan_link']]);
    expect(r.model.devices).toEqual([]);
  });
});
