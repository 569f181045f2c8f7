// Builders of expected NetModel devices for the mapper tests: every field the model has, with the
// defaults a mapper gives, so a test states the whole device and nothing is left unchecked.
import type { BondDevice, BridgeDevice, Device, EthernetDevice, IpAddress, RouteSpec, VlanDevice } from '../../src/network/netmodel.js';

type Ip = Partial<Omit<EthernetDevice, 'kind' | 'id' | 'match'>>;

const base = { dhcp4: false, dhcp6: false, addresses: [], routes: [], nameservers: { addresses: [], search: [] } };

export function eth(id: string, match: EthernetDevice['match'], more: Ip = {}): EthernetDevice {
  return { kind: 'ethernet', id, match, ...base, ...more };
}

export function bond(id: string, interfaces: string[], parameters: BondDevice['parameters'], more: Partial<Omit<BondDevice, 'kind' | 'id' | 'interfaces' | 'parameters'>> = {}): BondDevice {
  return { kind: 'bond', id, interfaces, parameters, ...base, ...more };
}

export function bridge(id: string, interfaces: string[], parameters: BridgeDevice['parameters'], more: Partial<Omit<BridgeDevice, 'kind' | 'id' | 'interfaces' | 'parameters'>> = {}): BridgeDevice {
  return { kind: 'bridge', id, interfaces, parameters, ...base, ...more };
}

export function vlan(id: string, vlanId: number, link: string, more: Partial<Omit<VlanDevice, 'kind' | 'id' | 'vlanId' | 'link'>> = {}): VlanDevice {
  return { kind: 'vlan', id, vlanId, link, ...base, ...more };
}

/** "10.0.0.5/24" → IpAddress. */
export function addr(cidr: string): IpAddress {
  const [address = '', prefix = ''] = cidr.split('/');
  return { address, prefix: Number(prefix), family: address.includes(':') ? 6 : 4 };
}

/** A route: "default" or a CIDR, through `via`, with options. */
export function route(to: string, via: string | undefined, more: Partial<Omit<RouteSpec, 'to' | 'via'>> = {}): RouteSpec {
  const family = (via ?? to).includes(':') ? 6 : 4;
  const dest = to === 'default' ? (family === 4 ? addr('0.0.0.0/0') : addr('::/0')) : addr(to);
  return { to: dest, ...(via === undefined ? {} : { via }), ...more };
}

export const dns = (addresses: string[], search: string[] = []): { addresses: string[]; search: string[] } => ({ addresses, search });

/** Notes as [line, what, path] for compact, complete assertions. */
export function noteRows(notes: readonly { line: number | undefined; what: string; path: string }[]): [number | undefined, string, string][] {
  return notes.map((n) => [n.line, n.what, n.path]);
}

export type { Device };
