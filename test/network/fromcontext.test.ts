import { describe, expect, it } from 'vitest';
import { networkFromContext } from '../../src/network/fromcontext.js';
import { parseMask } from '../../src/network/ip.js';
import { RENDERERS } from '../../src/network/render.js';
import { BACKENDS } from '../../src/network/model.js';
import { resolveInterfaces } from '../../src/network/resolve.js';

describe('context → network model', () => {
  it('accepts every netmask form the old scripts used, and rejects non-contiguous masks', () => {
    expect(['/24', '24', '255.255.255.0', ' netmask 255.255.255.0', 'NETMASK 255.255.255.0'].map(parseMask)).toEqual([24, 24, 24, 24, 24]);
    expect(['255.0.255.0', '33', '255.255.255.256', 'x', '0.255.255.255'].map(parseMask)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('reports bad values per variable and still applies the rest', () => {
    const model = networkFromContext({
      ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.300', ETH0_GATEWAY: '10.0.0.1', ETH0_MTU: '99999',
      ETH0_ROUTES: 'garbage, 10.0.0.0/8 via, 192.168.0.0/16 via 10.0.0.254',
      ETH1_MAC: '52:54:00:00:00:02', ETH1_IP: '10.1.0.5', ETH1_MASK: '255.0.255.0',
    });
    expect(model.issues.map((i) => i.variable)).toEqual(['ETH0_IP', 'ETH0_MTU', 'ETH0_ROUTES', 'ETH0_ROUTES', 'ETH1_MASK']);
    const [eth0, eth1] = model.interfaces;
    expect(eth0?.ipv4.addresses).toEqual([]);
    expect(eth0?.ipv4.gateway).toBe('10.0.0.1');
    expect(eth0?.mtu).toBeUndefined();
    expect(eth0?.routes).toEqual([{ to: '192.168.0.0', prefix: 16, via: '10.0.0.254' }]);
    expect(eth1?.ipv4.addresses).toEqual([]);
  });

  it('configures only the first of two NICs with the same MAC', () => {
    const model = networkFromContext({ ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH1_MAC: '52:54:00:00:00:01', ETH1_IP: '10.0.1.5' });
    expect(model.interfaces.map((n) => n.index)).toEqual([0]);
    expect(model.issues[0]).toMatchObject({ variable: 'ETH1_MAC' });
    expect(model.issues[0]?.message).toMatch(/same MAC as ETH0_MAC/);
  });

  it('derives the IP from an OpenNebula legacy MAC when ETHx_IP is empty', () => {
    const model = networkFromContext({ ETH0_MAC: '02:00:c0:a8:01:2a', ETH0_IP: '' });
    expect(model.interfaces[0]?.ipv4.addresses).toEqual([{ address: '192.168.1.42', prefix: 24 }]);
  });

  it('renders nothing for a NIC that has only a MAC', () => {
    const model = networkFromContext({ ETH0_MAC: '52:54:00:12:34:56' });
    for (const backend of BACKENDS) expect(RENDERERS[backend](model).files.size).toBe(0);
  });

  it('skips EXTERNAL NICs, honours METHOD skip, and takes NETCFG_TYPE', () => {
    const model = networkFromContext({ ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH0_EXTERNAL: 'YES', ETH1_MAC: '52:54:00:00:00:02', ETH1_METHOD: 'skip', ETH1_IP6_METHOD: 'skip', NETCFG_TYPE: 'netplan' });
    expect(model.interfaces.map((n) => [n.index, n.ipv4.method])).toEqual([[1, 'skip']]);
    expect(model.backend).toBe('netplan');
    for (const backend of BACKENDS) expect(RENDERERS[backend](model).files.size).toBe(0);
    expect(networkFromContext({ NETCFG_TYPE: 'bogus' }).issues[0]?.variable).toBe('NETCFG_TYPE');
  });

  it('never lets a value with a newline inject lines into any rendered file', () => {
    const evil = {
      ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5\n[Network]\nDNS=6.6.6.6', ETH0_GATEWAY: '10.0.0.1\nup rm -rf /',
      ETH0_DNS: '10.0.0.2\nnameserver=evil', ETH0_SEARCH_DOMAIN: 'a.com\ndns=evil;', ETH0_ROUTES: '10.9.0.0/16 via 10.0.0.9\nup reboot',
      ETH0_MTU: '1500\nMTU=9000', ETH0_IP6: '2001:db8::5\n', ETH0_METHOD: 'static\nreboot', ETH0_IP6_METHOD: 'auto\n[Match]',
    };
    const model = networkFromContext(evil);
    expect(model.issues.length).toBeGreaterThanOrEqual(8);
    for (const backend of BACKENDS) {
      for (const [path, file] of RENDERERS[backend](model).files) {
        expect(file.content, `${backend} ${path}`).not.toMatch(/6\.6\.6\.6|rm -rf|reboot|9000|evil|\[Match\]\n(?!MACAddress)/u);
      }
    }
  });

  it('StratusLab three-NIC context: eth0 private with the global route, default route on the public eth1', () => {
    const model = networkFromContext({ IP_PRIVATE: '10.1.0.5', NETMASK_PRIVATE: '255.255.0.0', GLOBAL_NETWORK: '10.0.0.0', GLOBAL_NETMASK: '255.0.0.0', DEFAULT_GATEWAY: '10.1.0.1', IP_PUBLIC: '134.158.75.5', IP_EXTRA: '192.168.7.5' });
    expect(model.interfaces.map((n) => [n.name, n.ipv4.addresses[0]?.address, n.ipv4.gateway ?? null])).toEqual([
      ['eth0', '10.1.0.5', null],
      ['eth1', '134.158.75.5', '10.1.0.1'],
      ['eth2', '192.168.7.5', null],
    ]);
    expect(model.interfaces[0]?.routes).toEqual([{ to: '10.0.0.0', prefix: 8, via: '10.1.0.1' }]);
  });
});

describe('interface resolution by MAC', () => {
  const model = networkFromContext({ ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH1_MAC: '52:54:00:00:00:02', ETH1_IP: '10.0.1.5', ETH2_MAC: '52:54:00:00:00:03', ETH2_IP: '10.0.2.5' });

  it('names NICs after the guest interface with that MAC (predictable names included)', () => {
    const resolved = resolveInterfaces(model, [{ name: 'enp0s3', mac: '52:54:00:00:00:02' }, { name: 'ens3', mac: '52:54:00:00:00:01' }, { name: 'eth9', mac: '52:54:00:00:00:03' }]);
    expect(resolved.interfaces.map((n) => [n.index, n.name, n.nameResolved])).toEqual([[0, 'ens3', true], [1, 'enp0s3', true], [2, 'eth9', true]]);
  });

  it('leaves out a NIC whose MAC the guest does not have, and one with an odd interface name', () => {
    const resolved = resolveInterfaces(model, [{ name: 'ens3', mac: '52:54:00:00:00:01' }, { name: 'bad\nname', mac: '52:54:00:00:00:03' }]);
    expect(resolved.interfaces.map((n) => n.name)).toEqual(['ens3']);
    expect(resolved.issues.map((i) => i.variable)).toEqual(['ETH1_MAC', 'ETH2_MAC']);
  });

  it('a NIC without a MAC (StratusLab IP_PRIVATE/IP_PUBLIC) is the n-th physical NIC in probe order not claimed by a MAC, anchored by its MAC', () => {
    const legacy = networkFromContext({ IP_PRIVATE: '10.0.2.15', NETMASK_PRIVATE: '24', IP_PUBLIC: '192.0.2.10', NETMASK_PUBLIC: '255.255.255.0' });
    const guest = [
      { name: 'br0', mac: '02:00:00:00:00:09', ifindex: 1, physical: false },
      { name: 'ens4', mac: '52:54:00:00:00:0b', ifindex: 3, physical: true },
      { name: 'ens3', mac: '52:54:00:00:00:0a', ifindex: 2, physical: true },
    ];
    const resolved = resolveInterfaces(legacy, guest);
    expect(resolved.interfaces.map((n) => [n.index, n.name, n.mac, n.nameResolved])).toEqual([[0, 'ens3', '52:54:00:00:00:0a', true], [1, 'ens4', '52:54:00:00:00:0b', true]]);
    const rendered = RENDERERS.networkd(resolved);
    expect([...rendered.files.values()].map((f) => f.content).join('\n')).toMatch(/MACAddress=52:54:00:00:00:0a[\s\S]*Address=10\.0\.2\.15\/24/u);
    // a NIC claimed by a MAC elsewhere in the context is not taken twice
    const mixed = networkFromContext({ ETH0_IP: '10.0.0.5', ETH1_MAC: '52:54:00:00:00:0a', ETH1_IP: '10.0.1.5' });
    expect(resolveInterfaces(mixed, guest).interfaces.map((n) => [n.index, n.name])).toEqual([[0, 'ens4'], [1, 'ens3']]);
  });

  it('offline, the ethN guesses stay and renderers match by MAC', () => {
    expect(resolveInterfaces(model, undefined).interfaces.map((n) => n.name)).toEqual(['eth0', 'eth1', 'eth2']);
  });
});
