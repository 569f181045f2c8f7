// Every key cloud-init documents for network-config v1 and v2, and every key of OpenStack's
// network_data.json, in one document each: none may be unknown or rejected; each is applied or
// named as not supported / unused — and that list is pinned here, so a key can't slip silently.
import { describe, expect, it } from 'vitest';
import { mapNetworkConfig } from '../../src/network/fromnetworkconfig.js';
import { mapNetworkData } from '../../src/network/fromnetworkdata.js';

const V2 = `network:
  version: 2
  renderer: networkd
  ethernets:
    id0:
      match: {macaddress: "00:11:22:33:44:55", name: "en*", driver: ixgbe}
      set-name: lan0
      wakeonlan: true
      renderer: networkd
      dhcp4: true
      dhcp6: true
      dhcp4-overrides: {hostname: hal, route-metric: 1100, send-hostname: false, use-dns: false, use-domains: false, use-hostname: false, use-mtu: false, use-ntp: false, use-routes: false}
      dhcp6-overrides: {use-dns: false, use-domains: false, use-ntp: false}
      accept-ra: true
      addresses: [192.168.14.2/24, "2001:1::1/64"]
      gateway4: 192.168.14.1
      gateway6: "2001:1::2"
      mtu: 1500
      optional: true
      nameservers: {search: [lab, home], addresses: [8.8.8.8, "FEDC::1"]}
      routes:
        - {to: default, via: 10.23.2.1, metric: 3, table: 100}
    id1: {match: {macaddress: "00:11:22:33:44:56"}}
  bonds:
    bond0:
      interfaces: [id1]
      parameters:
        mode: active-backup
        lacp-rate: slow
        mii-monitor-interval: 100
        min-links: 1
        transmit-hash-policy: layer2
        ad-select: stable
        all-slaves-active: false
        arp-interval: 0
        arp-ip-targets: [10.0.0.1]
        arp-validate: none
        arp-all-targets: any
        up-delay: 0
        down-delay: 0
        fail-over-mac-policy: none
        gratuitous-arp: 1
        packets-per-slave: 1
        primary-reselect-policy: always
        learn-packet-interval: 1
  bridges:
    br0:
      interfaces: [bond0]
      parameters: {ageing-time: 300, priority: 32768, forward-delay: 15, hello-time: 2, max-age: 20, path-cost: {bond0: 100}, stp: true}
  vlans:
    en-intra: {id: 1, link: id0, dhcp4: yes}
`;

const BOND_V1_PARAMS = [
  'active_slave: gbe0', 'ad_actor_key: 1', 'ad_actor_sys_prio: 65535', 'ad_actor_system: "00:00:00:00:00:01"', 'ad_aggregator: 1', 'ad_num_ports: 2',
  'ad_partner_key: 1', 'ad_partner_mac: "00:00:00:00:00:02"', 'ad_select: stable', 'ad_user_port_key: 0', 'all_slaves_active: 0', 'arp_all_targets: any',
  'arp_interval: 0', 'arp_ip_target: 10.0.0.1', 'arp_validate: none', 'downdelay: 0', 'fail_over_mac: none', 'lacp_rate: slow', 'lp_interval: 1',
  'miimon: 100', 'mii_status: up', 'min_links: 0', 'mode: active-backup', 'num_grat_arp: 1', 'num_unsol_na: 1', 'packets_per_slave: 1', 'primary: gbe0',
  'primary_reselect: always', 'queue_id: 0', 'resend_igmp: 1', 'slaves: none', 'tlb_dynamic_lb: 1', 'updelay: 0', 'use_carrier: 1', 'xmit_hash_policy: layer2',
];
const BRIDGE_V1_PARAMS = [
  'bridge_ageing: 250', 'bridge_bridgeprio: 22', 'bridge_fd: 1', 'bridge_hello: 1', 'bridge_hw: "02:00:00:00:00:01"', 'bridge_maxage: 10', 'bridge_maxwait: 0',
  'bridge_pathcost: ["gbe1 75"]', 'bridge_portprio: ["gbe1 28"]', 'bridge_ports: [gbe1]', 'bridge_stp: "off"', 'bridge_waitport: 0',
];

const V1 = `network:
  version: 1
  config:
    - type: physical
      name: gbe0
      mac_address: "cd:11:22:33:44:00"
      mtu: 1500
      accept-ra: true
      keep_configuration: true
      subnets:
        - {type: dhcp4, control: auto, metric: 100}
        - {type: dhcp, dns_nameservers: [192.0.2.53], dns_search: [example.org]}
        - {type: dhcp6}
        - {type: static, address: 10.0.0.5, netmask: 255.255.255.0, broadcast: 10.0.0.255, gateway: 10.0.0.1, routes: [{destination: 10.1.0.0, netmask: 255.255.0.0, gateway: 10.0.0.254, metric: 5}], metric: 10}
        - {type: static6, address: "2001:db8::5/64"}
        - {type: ipv6_dhcpv6-stateful}
        - {type: ipv6_dhcpv6-stateless}
        - {type: ipv6_slaac}
        - {type: manual}
    - {type: physical, name: gbe1, mac_address: "cd:11:22:33:44:02"}
    - {type: physical, name: gbe2, mac_address: "cd:11:22:33:44:04"}
    - type: bond
      name: bond0
      mac_address: "cd:11:22:33:44:10"
      accept-ra: false
      mtu: 9000
      bond_interfaces: [gbe0]
      params:
${BOND_V1_PARAMS.map((p) => `        ${p}`).join('\n')}
    - type: bridge
      name: br0
      accept-ra: false
      bridge_interfaces: [gbe1]
      params:
${BRIDGE_V1_PARAMS.map((p) => `        ${p}`).join('\n')}
    - {type: vlan, name: gbe2.5, vlan_link: gbe2, vlan_id: 5, mac_address: "cd:11:22:33:44:20", mtu: 1500, accept-ra: false}
    - {type: nameserver, address: [192.0.2.1], search: [example.com], interface: gbe2}
    - {type: nameserver, address: [192.0.2.2]}
    - {type: route, destination: 192.168.24.0/24, gateway: 10.0.0.1, metric: 3}
`;

const NETWORK_DATA = {
  links: [
    { id: 'tap1', type: 'phy', ethernet_mac_address: 'fa:16:3e:00:00:01', mtu: 1500, vif_id: 'v1', name: 'eth0' },
    { id: 'tap2', type: 'ovs', ethernet_mac_address: 'fa:16:3e:00:00:02', mtu: null, vif_id: 'v2' },
    { id: 'bond0', type: 'bond', bond_links: ['tap2'], bond_mode: 'active-backup', bond_miimon: 100, bond_xmit_hash_policy: 'layer2', ethernet_mac_address: 'fa:16:3e:00:00:03' },
    { id: 'vlan1', type: 'vlan', vlan_id: 10, vlan_link: 'bond0', vlan_mac_address: 'fa:16:3e:00:00:04', ethernet_mac_address: 'fa:16:3e:00:00:04' },
  ],
  networks: [
    { id: 'n1', network_id: 'u1', link: 'tap1', type: 'ipv4', ip_address: '10.0.0.5', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.0.1', services: [{ type: 'dns', address: '10.0.0.53' }] }], services: [{ type: 'dns', address: '10.0.0.54' }] },
    { id: 'n2', network_id: 'u2', link: 'tap1', type: 'ipv6', ip_address: '2001:db8::5', netmask: 'ffff:ffff:ffff:ffff::', routes: [{ network: '::', netmask: '::', gateway: '2001:db8::1' }] },
    { id: 'n3', network_id: 'u3', link: 'vlan1', type: 'ipv4_dhcp' },
    { id: 'n4', network_id: 'u4', link: 'vlan1', type: 'ipv6_slaac' },
    { id: 'n5', network_id: 'u5', link: 'bond0', type: 'ipv6_dhcp' },
    { id: 'n6', network_id: 'u6', link: 'bond0', type: 'ipv6_dhcpv6-stateless' },
    { id: 'n7', network_id: 'u7', link: 'bond0', type: 'ipv6_dhcpv6-stateful' },
  ],
  services: [{ type: 'dns', address: '10.0.0.2' }],
};

const named = (notes: readonly { what: string; path: string }[]): string[] => notes.filter((n) => n.what === 'not supported' || n.what === 'unused').map((n) => `${n.what}: ${n.path}`);

describe('every documented key is applied or named', () => {
  it('network-config v2: nothing unknown or rejected; the per-device renderer is the one key not applied', () => {
    const r = mapNetworkConfig(V2, 'network-config');
    expect(r.notes.filter((n) => n.what === 'unknown' || n.what === 'invalid')).toEqual([]);
    expect(named(r.notes)).toEqual(['not supported: network.ethernets.id0.renderer']);
    expect(r.model.devices.map((d) => `${d.kind} ${d.id}`)).toEqual(['ethernet id0', 'ethernet id1', 'bond bond0', 'bridge br0', 'vlan en-intra']);
  });

  it('network-config v1: nothing unknown or rejected; exactly these keys named as not supported or unused', () => {
    const r = mapNetworkConfig(V1, 'network-config');
    expect(r.notes.filter((n) => n.what === 'unknown' || n.what === 'invalid')).toEqual([]);
    const p = 'network.config';
    expect(named(r.notes)).toEqual([
      `not supported: ${p}[0].keep_configuration`,
      `not supported: ${p}[0].subnets[3].broadcast`,
      ...['active_slave', 'ad_actor_key', 'ad_actor_sys_prio', 'ad_actor_system', 'ad_aggregator', 'ad_num_ports', 'ad_partner_key', 'ad_partner_mac', 'ad_user_port_key', 'mii_status', 'num_unsol_na', 'queue_id', 'resend_igmp'].map((k) => `not supported: ${p}[3].params.${k}`),
      `unused: ${p}[3].params.slaves`,
      ...['tlb_dynamic_lb', 'use_carrier'].map((k) => `not supported: ${p}[3].params.${k}`),
      `not supported: ${p}[4].params.bridge_maxwait`,
      `unused: ${p}[4].params.bridge_ports`,
      `not supported: ${p}[4].params.bridge_waitport`,
    ]);
    expect(r.model.devices.map((d) => `${d.kind} ${d.id}`)).toEqual(['ethernet gbe0', 'ethernet gbe1', 'ethernet gbe2', 'bond bond0', 'bridge br0', 'vlan gbe2.5']);
    expect(r.model.routes).toHaveLength(1);
    expect(r.model.nameservers).toEqual({ addresses: ['192.0.2.2'], search: [] });
  });

  it('network_data.json: nothing unknown or rejected; only the informational ids are unused', () => {
    const r = mapNetworkData(JSON.stringify(NETWORK_DATA, null, 1), 'network_data.json');
    expect(r.notes.filter((n) => n.what === 'unknown' || n.what === 'invalid')).toEqual([]);
    expect(new Set(r.notes.map((n) => `${n.what}: ${n.path.replace(/\[\d+\]/gu, '[]')}`))).toEqual(new Set(['unused: links[].vif_id', 'unused: networks[].id', 'unused: networks[].network_id']));
    expect(r.model.devices.map((d) => `${d.kind} ${d.id}`)).toEqual(['ethernet tap1', 'ethernet tap2', 'bond bond0', 'vlan bond0.10']);
  });
});
