// What the NetModel renderers share: their output shape, notes, and the model questions each asks. Pure.
import type { NetworkNote } from '../docreader.js';
import { masterOf, sameNetwork, type Device, type EthernetDevice, type IpSettings, type NetModel, type RouteSpec } from '../netmodel.js';

export const HEADER = 'Managed by vmctx; replaced at each contextualization.';

export interface RenderedFile {
  readonly content: string;
  readonly mode: number;
}

/** A renderer's whole output: guest path → file, and a note for everything it could not express. */
export interface RenderedNetwork {
  readonly files: Map<string, RenderedFile>;
  readonly notes: NetworkNote[];
}

/** The netplan-style path of a device ("ethernets.lan0"), the key space every renderer note uses. */
export function devicePath(d: Device): string {
  const group = { ethernet: 'ethernets', bond: 'bonds', bridge: 'bridges', vlan: 'vlans' }[d.kind];
  return /^[A-Za-z0-9_-]+$/u.test(d.id) ? `${group}.${d.id}` : `${group}[${JSON.stringify(d.id)}]`;
}

/** Collects a renderer's notes; `file` names the renderer ("systemd-networkd", "netplan"). */
export class Notes {
  readonly list: NetworkNote[] = [];
  constructor(private readonly backend: string) {}
  add(path: string, message: string): void {
    this.list.push({ path, file: this.backend, line: undefined, what: 'not supported', message });
  }
}

export const cidr = (a: { address: string; prefix: number }): string => `${a.address}/${a.prefix}`;

/** True when the device is a bond or bridge member (the kernel gives a member no addresses of its own). */
export const isMember = (model: NetModel, d: Device): boolean => masterOf(model, d.id) !== undefined;

/**
 * The IP settings a bond/bridge member carries that cannot apply to an enslaved port: each named in a
 * note, and the settings returned without them (what the renderer writes).
 */
export function stripMemberIp(model: NetModel, d: Device, notes: Notes): IpSettings {
  const master = masterOf(model, d.id);
  if (master === undefined) return d;
  const path = devicePath(d);
  const why = `${JSON.stringify(d.id)} is a member of the ${master.kind} ${JSON.stringify(master.id)}; an enslaved port has no IP configuration of its own (set it on ${JSON.stringify(master.id)})`;
  const dropped: string[] = [];
  if (d.dhcp4) dropped.push('dhcp4');
  if (d.dhcp6) dropped.push('dhcp6');
  if (d.acceptRa === true) dropped.push('accept-ra');
  if (d.dhcp4Overrides !== undefined) dropped.push('dhcp4-overrides');
  if (d.dhcp6Overrides !== undefined) dropped.push('dhcp6-overrides');
  if (d.addresses.length > 0) dropped.push('addresses');
  if (d.routes.length > 0) dropped.push('routes');
  if (d.nameservers.addresses.length > 0 || d.nameservers.search.length > 0) dropped.push('nameservers');
  for (const key of dropped) notes.add(`${path}.${key}`, why);
  return {
    dhcp4: false,
    dhcp6: false,
    addresses: [],
    routes: [],
    nameservers: { addresses: [], search: [] },
    ...(d.acceptRa === false ? { acceptRa: false } : {}),
    ...(d.mtu === undefined ? {} : { mtu: d.mtu }),
    ...(d.macaddress === undefined ? {} : { macaddress: d.macaddress }),
    ...(d.optional === undefined ? {} : { optional: d.optional }),
    ...(d.linkLocal === undefined ? {} : { linkLocal: d.linkLocal }),
  };
}

/**
 * Where each global route goes: the device whose static address reaches its gateway and that is not
 * an enslaved member. Routes without a gateway, or whose gateway no device reaches, are noted.
 */
export function placeGlobalRoutes(model: NetModel, notes: Notes): Map<string, RouteSpec[]> {
  const out = new Map<string, RouteSpec[]>();
  model.routes.forEach((r, i) => {
    const d = r.via === undefined ? undefined : model.devices.find((x) => !isMember(model, x) && x.addresses.some((a) => a.family === r.to.family && sameNetwork(a, r.via ?? '')));
    if (d === undefined) {
      notes.add(`routes[${i}]`, `the route to ${cidr(r.to)}${r.via === undefined ? ' has no gateway' : ` via ${r.via}: no configured interface has an address on the gateway's network`}, so it is bound to no interface; not written`);
      return;
    }
    out.set(d.id, [...(out.get(d.id) ?? []), r]);
  });
  return out;
}

/** Whether the device asks for any layer-3 configuration (a resolver's DNS is worth attaching to it). */
export const hasL3 = (ip: IpSettings): boolean => ip.dhcp4 || ip.dhcp6 || ip.acceptRa === true || ip.addresses.length > 0;

/** Kernel names of ethernet devices by device id, as the live system told the resolver. */
export type GuestNames = ReadonlyMap<string, string>;

/**
 * The kernel name an ethernet device will have, for formats that configure interfaces by name
 * (ifupdown, ifcfg): its set-name, the name the live system gave it, or a match.name that is not a
 * glob; undefined when only a MAC or driver finds it and the system did not say (the renderer notes it).
 */
export function ethernetName(d: EthernetDevice, names: GuestNames | undefined): string | undefined {
  if (d.setName !== undefined) return d.setName;
  const live = names?.get(d.id);
  if (live !== undefined) return live;
  const n = d.match.name;
  return n !== undefined && !isGlob(n) ? n : undefined;
}

/** A name pattern with glob characters (`enp2*`, `eth[01]`), not a plain interface name. */
export const isGlob = (s: string): boolean => /[*?[\]]/u.test(s);

/** The kernel name of any device: created devices (bond, bridge, VLAN) are named by their id. */
export const deviceName = (d: Device, names: GuestNames | undefined): string | undefined => (d.kind === 'ethernet' ? ethernetName(d, names) : d.id);
