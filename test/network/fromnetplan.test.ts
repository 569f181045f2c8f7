// network-config version 2 → NetModel: cloud-init's documented examples (our own documents
// modelled on them) mapped in full, and every key not applied named with its line.
import { describe, expect, it } from 'vitest';
import { mapNetworkConfig } from '../../src/network/fromnetworkconfig.js';
import { addr, bond, bridge, dns, eth, noteRows, route, vlan } from './netmodel-helpers.js';

const map = (text: string): ReturnType<typeof mapNetworkConfig> => mapNetworkConfig(text, 'network-config');

describe('network-config v2 → model', () => {
  it('the simplest documented example: an ethernet matched by its id as the name, DHCPv4', () => {
    const r = map('network:\n  version: 2\n  ethernets:\n    eno1:\n      dhcp4: true\n');
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({ devices: [eth('eno1', { name: 'eno1' }, { dhcp4: true })], routes: [], nameservers: dns([]) });
  });

  it('works without the network: wrapper, and with an entry that has no settings', () => {
    const r = map('version: 2\nethernets:\n  ens3: {}\n  ens4:\n');
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([eth('ens3', { name: 'ens3' }), eth('ens4', { name: 'ens4' })]);
  });

  it("the documentation's complex example: match by MAC, driver and name glob, set-name, DHCP with static addresses, gateways, DNS, routes, a bond, a bridge and a VLAN", () => {
    const doc = [
      'network:', //                                          1
      '  version: 2', //                                      2
      '  ethernets:', //                                      3
      '    nic0:', //                                         4
      '      match:', //                                      5
      "        macaddress: '52:54:00:aa:01:02'", //           6
      '      wakeonlan: true', //                             7
      '      dhcp4: true', //                                 8
      '      addresses:', //                                  9
      '        - 10.20.30.2/24', //                           10
      '        - 2001:db8:5::2/64', //                        11
      '      gateway4: 10.20.30.1', //                        12
      '      gateway6: 2001:db8:5::1', //                     13
      '      nameservers:', //                                14
      '        search: [corp.example, lab.example]', //       15
      '        addresses: [192.0.2.53]', //                   16
      '      routes:', //                                     17
      '        - to: 198.51.100.0/24', //                     18
      '          via: 10.20.30.254', //                       19
      '          metric: 7', //                               20
      '    onboard:', //                                      21
      '      match:', //                                      22
      '        driver: ixgbe', //                             23
      '      set-name: lan1', //                              24
      '      dhcp6: true', //                                 25
      '    ports:', //                                        26
      '      match:', //                                      27
      '        name: enp3*', //                               28
      '      mtu: 9000', //                                   29
      '  bonds:', //                                          30
      '    bond0:', //                                        31
      '      interfaces: [nic0, onboard]', //                 32
      '  bridges:', //                                        33
      '    br0:', //                                          34
      '      interfaces: [ports]', //                         35
      '      dhcp4: true', //                                 36
      '  vlans:', //                                          37
      '      vl-office:', //                                  38
      '        id: 1', //                                     39
      '        link: nic0', //                                40
      '        dhcp4: yes', //                                41
    ].join('\n');
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({
      devices: [
        eth('nic0', { macaddress: '52:54:00:aa:01:02' }, {
          wakeOnLan: true,
          dhcp4: true,
          addresses: [addr('10.20.30.2/24'), addr('2001:db8:5::2/64')],
          routes: [route('default', '10.20.30.1'), route('default', '2001:db8:5::1'), route('198.51.100.0/24', '10.20.30.254', { metric: 7 })],
          nameservers: dns(['192.0.2.53'], ['corp.example', 'lab.example']),
        }),
        eth('onboard', { driver: 'ixgbe' }, { setName: 'lan1', dhcp6: true }),
        eth('ports', { name: 'enp3*' }, { mtu: 9000 }),
        bond('bond0', ['nic0', 'onboard'], {}),
        bridge('br0', ['ports'], {}, { dhcp4: true }),
        vlan('vl-office', 1, 'nic0', { dhcp4: true }),
      ],
      routes: [],
      nameservers: dns([]),
    });
  });

  it('a bond of two NICs with every documented parameter, a VLAN on it with a static address, and a bridge with its parameters', () => {
    const doc = `network:
  version: 2
  renderer: networkd
  ethernets:
    a: {match: {macaddress: "52:54:00:00:00:0a"}}
    b: {match: {macaddress: "52:54:00:00:00:0b"}}
    c: {match: {macaddress: "52:54:00:00:00:0c"}}
  bonds:
    bond0:
      interfaces: [a, b]
      macaddress: "52:54:00:00:00:ff"
      mtu: 9000
      parameters:
        mode: 802.3ad
        lacp-rate: fast
        mii-monitor-interval: 100
        min-links: 1
        transmit-hash-policy: layer3+4
        ad-select: bandwidth
        all-slaves-active: false
        arp-interval: 0
        arp-ip-targets: [192.0.2.1, 192.0.2.2]
        arp-validate: none
        arp-all-targets: any
        up-delay: 200
        down-delay: 2s
        fail-over-mac-policy: none
        gratuitous-arp: 3
        packets-per-slave: 1
        primary-reselect-policy: always
        learn-packet-interval: 1
        primary: a
  vlans:
    bond0.200:
      id: 200
      link: bond0
      addresses: [203.0.113.10/28]
      routes:
        - to: default
          via: 203.0.113.1
          on-link: true
        - to: 10.9.0.0/16
          via: 203.0.113.2
          table: 100
          scope: global
          from: 203.0.113.10
        - to: 10.8.0.0/16
          scope: link
  bridges:
    br0:
      interfaces: [c]
      parameters:
        ageing-time: 50
        priority: 100
        forward-delay: 4
        hello-time: 2
        max-age: 12
        stp: false
        path-cost: {c: 50}
        port-priority: {c: 8}
      addresses: [10.0.0.2/24]
`;
    const r = map(doc);
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({
      devices: [
        eth('a', { macaddress: '52:54:00:00:00:0a' }),
        eth('b', { macaddress: '52:54:00:00:00:0b' }),
        eth('c', { macaddress: '52:54:00:00:00:0c' }),
        bond('bond0', ['a', 'b'], {
          mode: '802.3ad', lacpRate: 'fast', miiMonitorInterval: 100, minLinks: 1, transmitHashPolicy: 'layer3+4', adSelect: 'bandwidth',
          allSlavesActive: false, arpInterval: 0, arpIpTargets: ['192.0.2.1', '192.0.2.2'], arpValidate: 'none', arpAllTargets: 'any',
          upDelay: 200, downDelay: 2000, failOverMacPolicy: 'none', gratuitousArp: 3, packetsPerSlave: 1, primaryReselectPolicy: 'always',
          learnPacketInterval: 1, primary: 'a',
        }, { macaddress: '52:54:00:00:00:ff', mtu: 9000 }),
        bridge('br0', ['c'], { ageingTime: 50, priority: 100, forwardDelay: 4, helloTime: 2, maxAge: 12, stp: false, pathCost: { c: 50 }, portPriority: { c: 8 } }, { addresses: [addr('10.0.0.2/24')] }),
        vlan('bond0.200', 200, 'bond0', {
          addresses: [addr('203.0.113.10/28')],
          routes: [
            route('default', '203.0.113.1', { onLink: true }),
            route('10.9.0.0/16', '203.0.113.2', { table: 100, scope: 'global', from: '203.0.113.10' }),
            route('10.8.0.0/16', undefined, { scope: 'link' }),
          ],
        }),
      ],
      routes: [],
      nameservers: dns([]),
      renderer: 'networkd',
    });
  });

  it('names every key it does not apply, with its line; a misspelt key gets a suggestion; the rest applies', () => {
    const doc = [
      'network:', //                                     1
      '  version: 2', //                                 2
      '  wifis:', //                                     3
      '    wlan0: {dhcp4: true}', //                     4
      '  ethernets:', //                                 5
      '    eth0:', //                                    6
      '      dhcp4: true', //                            7
      '      dhcp4-overides: {use-dns: false}', //       8
      '      critical: true', //                         9
      '      renderer: NetworkManager', //               10
      '      addresses:', //                             11
      '        - 10.0.0.5/24', //                        12
      '        - 10.0.0.300/24', //                      13
      '        - 10.0.0.6', //                           14
      '      gateway4: 2001:db8::1', //                  15
      '      mtu: 70000', //                             16
      '      routes:', //                                17
      '        - to: 10.1.0.0/16', //                    18
      '          via: 10.0.0.1', //                      19
      '          type: blackhole', //                    20
      '        - via: 10.0.0.1', //                      21
      '  frobs: {}', //                                  22
    ].join('\n');
    const r = map(doc);
    expect(noteRows(r.notes)).toEqual([
      [3, 'not supported', 'network.wifis'],
      [8, 'unknown', 'network.ethernets.eth0.dhcp4-overides'],
      [9, 'not supported', 'network.ethernets.eth0.critical'],
      [10, 'not supported', 'network.ethernets.eth0.renderer'],
      [13, 'invalid', 'network.ethernets.eth0.addresses[1]'],
      [14, 'invalid', 'network.ethernets.eth0.addresses[2]'],
      [15, 'invalid', 'network.ethernets.eth0.gateway4'],
      [16, 'invalid', 'network.ethernets.eth0.mtu'],
      [18, 'not supported', 'network.ethernets.eth0.routes[0]'],
      [21, 'invalid', 'network.ethernets.eth0.routes[1]'],
      [22, 'unknown', 'network.frobs'],
    ]);
    expect(r.notes[1]?.message).toBe('unknown key "dhcp4-overides" (did you mean "dhcp4-overrides"?); not applied');
    expect(r.notes[4]?.message).toMatch(/^"10\.0\.0\.300\/24" is not an IP address; skipped$/);
    expect(r.notes[5]?.message).toMatch(/has no prefix length/);
    expect(r.notes.every((n) => n.file === 'network-config')).toBe(true);
    expect(r.model.devices).toEqual([eth('eth0', { name: 'eth0' }, { dhcp4: true, addresses: [addr('10.0.0.5/24')] })]);
  });

  it('YAML 1.1 as cloud-init reads it: yes/on are true, an unquoted MAC is the MAC as written', () => {
    const r = map('version: 2\nethernets:\n  x:\n    match: {macaddress: 00:16:3e:11:22:33}\n    dhcp4: on\n    dhcp6: no\n');
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([eth('x', { macaddress: '00:16:3e:11:22:33' }, { dhcp4: true })]);
  });

  it('a bad match leaves the ethernet out (it could match other NICs) and says so; its other keys are not reported twice', () => {
    const r = map('version: 2\nethernets:\n  x:\n    match: {macaddress: "zz:16:3e:11:22:33"}\n    dhcp4: true\n  y: {dhcp4: true}\n');
    expect(noteRows(r.notes)).toEqual([[4, 'invalid', 'ethernets.x.match.macaddress']]);
    expect(r.notes[0]?.message).toMatch(/the ethernet "x" is not configured/);
    expect(r.model.devices).toEqual([eth('y', { name: 'y' }, { dhcp4: true })]);
  });

  it('dhcp overrides, accept-ra, optional, link-local and address options', () => {
    const doc = `version: 2
ethernets:
  e0:
    dhcp4: true
    dhcp4-overrides: {route-metric: 200, use-dns: false, use-ntp: false, send-hostname: true, hostname: vm1}
    dhcp6: true
    dhcp6-overrides: {use-domains: true}
    accept-ra: false
    optional: true
    link-local: [ipv6]
    addresses:
      - 10.0.0.5/24:
          lifetime: 0
`;
    const r = map(doc);
    expect(noteRows(r.notes)).toEqual([[12, 'not supported', 'ethernets.e0.addresses[0]["10.0.0.5/24"]']]);
    expect(r.model.devices).toEqual([
      eth('e0', { name: 'e0' }, {
        dhcp4: true, dhcp6: true, acceptRa: false, optional: true, linkLocal: ['ipv6'], addresses: [addr('10.0.0.5/24')],
        dhcp4Overrides: { routeMetric: 200, useDns: false, useNtp: false, sendHostname: true, hostname: 'vm1' },
        dhcp6Overrides: { useDomains: true },
      }),
    ]);
  });

  it('references are checked as a whole: an unknown member, a bond of a VLAN, a NIC in two bonds, a VLAN on nothing', () => {
    const doc = [
      'version: 2', //                                  1
      'ethernets:', //                                  2
      '  a: {}', //                                     3
      '  b: {}', //                                     4
      'bonds:', //                                      5
      '  bond0:', //                                    6
      '    interfaces: [a, ghost, v1]', //              7
      '  bond1:', //                                    8
      '    interfaces: [a, b]', //                      9
      'vlans:', //                                      10
      '  v1: {id: 10, link: b}', //                     11
      '  v2: {id: 11, link: nowhere}', //               12
      '  v3: {id: 12}', //                              13
    ].join('\n');
    const r = map(doc);
    expect(noteRows(r.notes)).toEqual([
      [7, 'invalid', 'bonds.bond0.interfaces[1]'],
      [7, 'invalid', 'bonds.bond0.interfaces[2]'],
      [9, 'invalid', 'bonds.bond1.interfaces[0]'],
      [12, 'invalid', 'vlans.v2.link'],
      [13, 'invalid', 'vlans.v3'],
    ]);
    expect(r.notes[2]?.message).toBe('"a" is already a member of "bond0"; left out of "bond1"');
    expect(r.model.devices).toEqual([eth('a', { name: 'a' }), eth('b', { name: 'b' }), bond('bond0', ['a'], {}), bond('bond1', ['b'], {}), vlan('v1', 10, 'b')]);
  });

  it('a VLAN on a bridge that has the VLAN as a member is a loop: named and left out', () => {
    const r = map('version: 2\nethernets:\n  a: {}\nbridges:\n  br0:\n    interfaces: [a, v1]\nvlans:\n  v1: {id: 5, link: br0}\n');
    expect(r.notes.map((n) => n.what)).toEqual(['invalid']);
    expect(r.notes[0]?.message).toMatch(/depends on itself/);
    expect(r.model.devices.map((d) => d.id)).toEqual(['a', 'br0']);
    expect(r.model.devices[1]).toEqual(bridge('br0', ['a'], {}));
  });

  it('a document that is not YAML, has no version, or an unknown version configures nothing and says why', () => {
    expect(noteRows(map('network: [\n').notes)).toEqual([[2, 'invalid', '']]);
    expect(noteRows(map('network:\n  ethernets: {}\n').notes)).toEqual([[1, 'invalid', 'network']]);
    expect(noteRows(map('network:\n  version: 3\n').notes)).toEqual([[2, 'invalid', 'network.version']]);
    expect(map('network:\n  version: 3\n').model.devices).toEqual([]);
  });
});

describe('network-config v2: values that could break a rendered file never reach the model', () => {
  /** Every string anywhere in the model. */
  const strings = (value: unknown): string[] => {
    if (typeof value === 'string') return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
    return [];
  };

  it('newlines, quotes and spaces in every position are refused and named; what is left is plain tokens', () => {
    const evil = '"x\\n[Network]\\nDNS=6.6.6.6"';
    const doc = `network:
  version: 2
  ethernets:
    ${evil}: {dhcp4: true}
    e0:
      match: {macaddress: ${evil}}
    e1:
      match: {name: ${evil}}
    e2:
      match: {driver: ${evil}}
    e3:
      set-name: ${evil}
      addresses: [${evil}]
      gateway4: ${evil}
      nameservers: {addresses: [${evil}], search: [${evil}]}
      routes: [{to: ${evil}, via: 10.0.0.1}, {to: 10.1.0.0/16, via: ${evil}}, {to: 10.2.0.0/16, from: ${evil}, scope: ${evil}}]
      dhcp4-overrides: {hostname: ${evil}}
      macaddress: ${evil}
  bonds:
    ${evil}: {interfaces: [e3]}
    bond0:
      interfaces: [${evil}, e3]
      parameters: {mode: ${evil}, primary: ${evil}, arp-ip-targets: [${evil}], transmit-hash-policy: ${evil}}
  bridges:
    br0:
      interfaces: [e0]
      parameters: {path-cost: {${evil}: 5}}
  vlans:
    v1: {id: 3, link: ${evil}}
`;
    const r = mapNetworkConfig(doc, 'network-config');
    const unsafe = strings(r.model).filter((s) => !/^[A-Za-z0-9._:*?[\]!@%/+-]+$/u.test(s));
    expect(unsafe).toEqual([]);
    expect(r.notes.length).toBeGreaterThanOrEqual(20);
    expect(r.notes.every((n) => n.what === 'invalid')).toBe(true);
    expect(r.model.devices.map((d) => d.id)).toEqual(['e3', 'bond0', 'br0']);
  });

  it("a bond's primary and a bridge's port settings must name a member", () => {
    const r = mapNetworkConfig('version: 2\nethernets: {a: {}, b: {}}\nbonds:\n  bond0:\n    interfaces: [a]\n    parameters: {primary: b, mode: active-backup}\nbridges:\n  br0:\n    interfaces: [b]\n    parameters: {path-cost: {a: 5, b: 7}}\n', 'network-config');
    expect(noteRows(r.notes)).toEqual([[4, 'invalid', 'bonds.bond0'], [8, 'invalid', 'bridges.br0']]);
    expect(r.notes.map((n) => n.message)).toEqual([
      'bond "bond0": primary "b" names no member of it; that parameter is skipped',
      'bridge "br0": path-cost of "a" names no member of it; that parameter is skipped',
    ]);
    expect(r.model.devices.slice(2)).toEqual([bond('bond0', ['a'], { mode: 'active-backup' }), bridge('br0', ['b'], { pathCost: { b: 7 } })]);
  });
});

describe('network-config: config disabled', () => {
  it('`config: disabled` is a request for no network configuration, applied as such; other keys are still named', () => {
    expect(map('network:\n  config: disabled\n')).toEqual({ model: { devices: [], routes: [], nameservers: dns([]) }, notes: [] });
    expect(noteRows(map('network:\n  config: disabled\n  extra: 1\n').notes)).toEqual([[3, 'unknown', 'network.extra']]);
  });
});

describe('network-config: YAML aliases', () => {
  it('an alias reads as the node it names (as PyYAML reads it); past 100 aliases the rest are not followed', () => {
    const r = map('version: 2\nethernets:\n  a:\n    nameservers: &dns {addresses: [192.0.2.53]}\n  b:\n    nameservers: *dns\n');
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([eth('a', { name: 'a' }, { nameservers: dns(['192.0.2.53']) }), eth('b', { name: 'b' }, { nameservers: dns(['192.0.2.53']) })]);
    const many = `version: 2\nethernets:\n  a:\n    addresses: &x [10.0.0.1/24]\n${Array.from({ length: 101 }, (_, i) => `  e${i}: {addresses: *x}`).join('\n')}\n`;
    const m = map(many);
    expect(m.notes.filter((n) => /more than 100 aliases/.test(n.message))).toHaveLength(1);
    expect(m.model.devices.filter((d) => d.addresses.length > 0)).toHaveLength(101);
  });
});
