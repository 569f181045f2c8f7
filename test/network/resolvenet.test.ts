// The model's ethernets on the live guest: by MAC (permanent first, the physical NIC before a bond
// sharing it), by position, by glob or driver; absent NICs kept or left out; hostile guest names.
import { describe, expect, it } from 'vitest';
import { mapOpenNebula } from '../../src/network/fromopennebula.js';
import type { NetModel } from '../../src/network/netmodel.js';
import { RENDERERS } from '../../src/network/renderers/index.js';
import { configuredModel, globMatches, resolveNet, type GuestNic } from '../../src/network/resolvenet.js';
import { addr, bond, dns, eth, vlan, type Device } from './netmodel-helpers.js';

const model = (devices: Device[]): NetModel => ({ devices, routes: [], nameservers: dns([]) });
const byMac = { keepAbsent: false, matchesByMac: false };
const three = mapOpenNebula({ ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH1_MAC: '52:54:00:00:00:02', ETH1_IP: '10.0.1.5', ETH2_MAC: '52:54:00:00:00:03', ETH2_IP: '10.0.2.5' }).model;

describe('resolveNet', () => {
  it('names NICs after the guest interface with that MAC (predictable names included)', () => {
    const r = resolveNet(three, [{ name: 'enp0s3', mac: '52:54:00:00:00:02' }, { name: 'ens3', mac: '52:54:00:00:00:01' }, { name: 'eth9', mac: '52:54:00:00:00:03' }], byMac);
    expect([...r.names]).toEqual([['eth0', 'ens3'], ['eth1', 'enp0s3'], ['eth2', 'eth9']]);
    expect(r.notes).toEqual([]);
  });

  it('a MAC the guest does not have: left out (ifupdown, ifcfg, the daemon\'s settled list) or kept for a backend that matches by MAC; a hostile guest name is never used', () => {
    const guest = [{ name: 'ens3', mac: '52:54:00:00:00:01' }, { name: 'bad\nname', mac: '52:54:00:00:00:03' }];
    const dropped = resolveNet(three, guest, byMac);
    expect(dropped.model.devices.map((d) => d.id)).toEqual(['eth0', 'eth2']);
    expect([...dropped.names]).toEqual([['eth0', 'ens3']]);
    expect(dropped.notes.map((n) => [n.path, n.message.slice(0, 40)])).toEqual([
      ['ethernets.eth1', 'no interface with MAC 52:54:00:00:00:02 '],
      ['ethernets.eth2', 'the guest names this NIC "bad\\nname", wh'],
    ]);
    const kept = resolveNet(three, guest, { keepAbsent: true, matchesByMac: true });
    expect(kept.model.devices.map((d) => d.id)).toEqual(['eth0', 'eth1', 'eth2']);
    expect(kept.notes[0]?.message).toMatch(/on this system now; its configuration matches it by MAC if it appears/u);
  });

  it('a bond and its ports share a MAC: the physical NIC is the one; a port already enslaved is found by its permanent MAC', () => {
    const m = model([eth('p1', { macaddress: '52:54:00:00:00:0a' }), eth('p2', { macaddress: '52:54:00:00:00:0b' }), bond('bond0', ['p1', 'p2'], { mode: 'active-backup' }, { dhcp4: true })]);
    const guest: GuestNic[] = [
      { name: 'bond0', mac: '52:54:00:00:00:0a', ifindex: 4, physical: false },
      { name: 'ens3', mac: '52:54:00:00:00:0a', ifindex: 2, physical: true },
      { name: 'ens4', mac: '52:54:00:00:00:0a', permMac: '52:54:00:00:00:0b', ifindex: 3, physical: true },
    ];
    expect([...resolveNet(m, guest, byMac).names]).toEqual([['p1', 'ens3'], ['p2', 'ens4']]);
  });

  it('a NIC without a MAC (StratusLab, ETHn without ETHn_MAC) is the n-th unclaimed physical NIC in probe order, then anchored by its MAC', () => {
    const legacy = mapOpenNebula({ IP_PRIVATE: '10.0.2.15', NETMASK_PRIVATE: '24', IP_PUBLIC: '192.0.2.10', NETMASK_PUBLIC: '255.255.255.0' }).model;
    const guest: GuestNic[] = [
      { name: 'br0', mac: '02:00:00:00:00:09', ifindex: 1, physical: false },
      { name: 'ens4', mac: '52:54:00:00:00:0b', ifindex: 3, physical: true },
      { name: 'ens3', mac: '52:54:00:00:00:0a', ifindex: 2, physical: true },
    ];
    const r = resolveNet(legacy, guest, { keepAbsent: true, matchesByMac: true });
    expect([...r.names]).toEqual([['eth0', 'ens3'], ['eth1', 'ens4']]);
    expect(r.model.devices.map((d) => (d.kind === 'ethernet' ? d.match : undefined))).toEqual([{ macaddress: '52:54:00:00:00:0a', positional: true }, { macaddress: '52:54:00:00:00:0b', positional: true }]);
    const networkd = [...RENDERERS.networkd.render(r.model).files.values()].map((f) => f.content).join('\n');
    expect(networkd).toMatch(/PermanentMACAddress=52:54:00:00:00:0a[\s\S]*Address=10\.0\.2\.15\/24/u);
    const eni = RENDERERS.interfaces.render(r.model, r.names).files.get('/etc/network/interfaces.d/50-vmctx')?.content ?? '';
    expect(eni).toContain('iface ens3 inet static\n    address 10.0.2.15/24');
    // a NIC claimed by a MAC elsewhere in the context is not taken twice
    const mixed = mapOpenNebula({ ETH0_IP: '10.0.0.5', ETH1_MAC: '52:54:00:00:00:0a', ETH1_IP: '10.0.1.5' }).model;
    expect([...resolveNet(mixed, guest, byMac).names]).toEqual([['eth1', 'ens3'], ['eth0', 'ens4']]);
  });

  it('a glob or driver match names the one physical NIC it matches; several are noted for a backend that needs a name', () => {
    const guest: GuestNic[] = [{ name: 'enp1s0', mac: '52:54:00:00:00:01', physical: true, driver: 'virtio_net' }, { name: 'enp2s0', mac: '52:54:00:00:00:02', physical: true, driver: 'e1000' }];
    expect([...resolveNet(model([eth('lan', { driver: 'virtio*' }, { dhcp4: true })]), guest, byMac).names]).toEqual([['lan', 'enp1s0']]);
    expect([...resolveNet(model([eth('lan', { name: 'enp[!1]s*' }, { dhcp4: true })]), guest, byMac).names]).toEqual([['lan', 'enp2s0']]);
    const many = resolveNet(model([eth('lan', { name: 'enp*' }, { dhcp4: true })]), guest, byMac);
    expect(many.names.size).toBe(0);
    expect(many.notes[0]?.message).toMatch(/matches 2 NICs here \(enp1s0, enp2s0\)/u);
    expect(resolveNet(model([eth('lan', { name: 'enp*' }, { dhcp4: true })]), guest, { keepAbsent: true, matchesByMac: true }).notes).toEqual([]);
    expect(globMatches('eth[01]', 'eth1')).toBe(true);
    expect(globMatches('eth?', 'eth10')).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false);
  });

  it('a NIC left out takes the VLAN on it and its place in a bond with it', () => {
    const m = model([eth('p1', { macaddress: '52:54:00:00:00:0a' }), eth('p2', { macaddress: '52:54:00:00:00:0b' }), bond('bond0', ['p1', 'p2'], {}), vlan('p2.7', 7, 'p2', { addresses: [addr('10.7.0.2/24')] })]);
    const r = resolveNet(m, [{ name: 'ens3', mac: '52:54:00:00:00:0a' }], byMac);
    expect(r.model.devices.map((d) => d.id)).toEqual(['p1', 'bond0']);
    expect(r.model.devices.find((d) => d.id === 'bond0')).toMatchObject({ interfaces: ['p1'] });
    // nothing goes without a word: the NIC, the VLAN on it and its place in the bond are each named
    expect(r.notes.map((n) => n.path)).toEqual(['ethernets.p2', 'bonds.bond0.interfaces', 'vlans["p2.7"]']);
    expect(r.notes[2]?.message).toContain('"p2"');
  });

  it('offline (no guest list): the model as it is, no names; for a backend that names interfaces, the id of a NIC found by MAC only', () => {
    expect(resolveNet(three, undefined, byMac)).toEqual({ model: three, names: new Map(), notes: [] });
    const m = model([eth('eth0', { macaddress: '52:54:00:00:00:01' }), eth('lan', { macaddress: '52:54:00:00:00:02' }, { setName: 'wan0' }), eth('a:b', { macaddress: '52:54:00:00:00:03' }), eth('-a', { macaddress: '52:54:00:00:00:04' })]);
    expect([...resolveNet(m, undefined, { ...byMac, guessNames: true }).names]).toEqual([['eth0', 'eth0']]);
  });

  it('configuredModel leaves out an ethernet with nothing to set (a MAC alone, methods skip) unless something uses it', () => {
    const skip = mapOpenNebula({ ETH0_MAC: '52:54:00:00:00:01', ETH0_METHOD: 'skip', ETH0_IP6_METHOD: 'skip', ETH1_MAC: '52:54:00:00:00:02', ETH1_IP: '10.0.1.5' }).model;
    expect(configuredModel(skip).devices.map((d) => d.id)).toEqual(['eth1']);
    const ports = model([eth('p1', { macaddress: '52:54:00:00:00:0a' }), bond('bond0', ['p1'], {}, { dhcp4: true })]);
    expect(configuredModel(ports).devices.map((d) => d.id)).toEqual(['p1', 'bond0']);
  });
});
