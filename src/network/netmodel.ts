// The source-neutral network model every network document maps into (netplan v2's expressiveness),
// with the checks each value passes where it enters. Pure.
//
// Shape. A NetModel is a list of devices (each mapper keeps its source's order; netplan's is
// ethernets, bonds, bridges, VLANs), plus routes and DNS that belong to no device. Each device has a unique `id` that other devices refer to:
//   - ethernet: a physical NIC, found by `match` (MAC, name glob, driver glob; all given must
//     match; a netplan entry without match matches the name = its id), optionally renamed
//     (`setName`). Its id is only a reference name unless match.name is the id.
//   - bond / bridge: created; the id is the kernel name; `interfaces` lists member ids.
//   - vlan: created; the id is the kernel name; `link` is the id of the parent device.
// Every device carries the same IpSettings: DHCPv4 / DHCPv6 flags, accept-ra (SLAAC), any number
// of static addresses of both families, routes (a gateway is a default route: to 0.0.0.0/0 or
// ::/0 with `via`), DNS servers and search domains, MTU, a MAC to set.
// Units: bond times in milliseconds (as the kernel's bonding driver), bridge times in seconds.
//
// How renderers consume it: render devices in dependency order (`dependencyOrder`): netdevs
// (bond/bridge/vlan) first, then the members that point at them (`masterOf`) and the VLAN parents
// (`vlansOn`). A member of a bond or bridge is enslaved and should carry no IP settings: mappers
// keep what the source gave, so a renderer that cannot apply them reports them. Default routes
// are routes with prefix 0 (`isDefaultRoute`). Global `routes` go on the device whose addresses
// reach their gateway (`deviceForGateway`), else are reported. Global
// DNS goes to the resolver; per-device DNS to the device (networkd/netplan/NM) or, where a backend
// has only one resolver, merged. Anything a backend cannot express is reported, never dropped.
import { parseNameserver, formatNameserver } from '../formats/dns.js';
import type { NetworkNote, NoteKind, Where } from './docreader.js';
import { isIPv4Address, isIPv6Address, normaliseMac, parseMask } from './ip.js';

export type Family = 4 | 6;

export interface IpAddress {
  readonly address: string;
  readonly prefix: number;
  readonly family: Family;
}

export interface RouteSpec {
  /** Destination network; a default route is 0.0.0.0/0 or ::/0. */
  readonly to: IpAddress;
  readonly via?: string;
  /** Preferred source address. */
  readonly from?: string;
  readonly metric?: number;
  readonly table?: number;
  readonly scope?: 'global' | 'link' | 'host';
  readonly onLink?: boolean;
  readonly mtu?: number;
}

export interface Dns {
  readonly addresses: readonly string[];
  readonly search: readonly string[];
}

/** netplan's dhcp4-overrides / dhcp6-overrides. */
export interface DhcpOverrides {
  readonly routeMetric?: number;
  readonly useDns?: boolean;
  readonly useNtp?: boolean;
  readonly useHostname?: boolean;
  /** true, false, or 'route' (use the domains for routing only, not for search). */
  readonly useDomains?: boolean | 'route';
  readonly useMtu?: boolean;
  readonly useRoutes?: boolean;
  readonly sendHostname?: boolean;
  readonly hostname?: string;
}

export interface IpSettings {
  readonly dhcp4: boolean;
  readonly dhcp6: boolean;
  /** IPv6 router advertisements (SLAAC); undefined: the backend's default. */
  readonly acceptRa?: boolean;
  readonly dhcp4Overrides?: DhcpOverrides;
  readonly dhcp6Overrides?: DhcpOverrides;
  readonly addresses: readonly IpAddress[];
  readonly routes: readonly RouteSpec[];
  readonly nameservers: Dns;
  readonly mtu?: number;
  /** A MAC to give the device (a bond's or VLAN's own MAC, a cloned MAC). */
  readonly macaddress?: string;
  /** Boot does not wait for this device. */
  readonly optional?: boolean;
  /** Families with a link-local address; undefined: the backend's default. */
  readonly linkLocal?: readonly ('ipv4' | 'ipv6')[];
}

export interface Match {
  readonly macaddress?: string;
  /** A name or glob (`enp2*`). */
  readonly name?: string;
  /** A driver name or glob (`ixgbe`). */
  readonly driver?: string;
  /**
   * The source names this NIC by position only (OpenNebula's ETHn without ETHn_MAC, StratusLab's
   * IP_PRIVATE/IP_PUBLIC): `name` is the legacy ethN guess. On a live system the resolver gives it
   * the next physical NIC, in probe order, that no MAC of the model claims.
   */
  readonly positional?: boolean;
}

export interface EthernetDevice extends IpSettings {
  readonly kind: 'ethernet';
  readonly id: string;
  readonly match: Match;
  readonly setName?: string;
  readonly wakeOnLan?: boolean;
}

export type BondMode = 'balance-rr' | 'active-backup' | 'balance-xor' | 'broadcast' | '802.3ad' | 'balance-tlb' | 'balance-alb';
export const BOND_MODES: readonly BondMode[] = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'];

export interface BondParameters {
  readonly mode?: BondMode;
  readonly lacpRate?: 'slow' | 'fast';
  /** Milliseconds. */
  readonly miiMonitorInterval?: number;
  readonly minLinks?: number;
  readonly transmitHashPolicy?: 'layer2' | 'layer3+4' | 'layer2+3' | 'encap2+3' | 'encap3+4' | 'vlan+srcmac';
  readonly adSelect?: 'stable' | 'bandwidth' | 'count';
  readonly allSlavesActive?: boolean;
  /** Milliseconds. */
  readonly arpInterval?: number;
  readonly arpIpTargets?: readonly string[];
  readonly arpValidate?: 'none' | 'active' | 'backup' | 'all' | 'filter' | 'filter_active' | 'filter_backup';
  readonly arpAllTargets?: 'any' | 'all';
  /** Milliseconds. */
  readonly upDelay?: number;
  /** Milliseconds. */
  readonly downDelay?: number;
  readonly failOverMacPolicy?: 'none' | 'active' | 'follow';
  readonly gratuitousArp?: number;
  readonly packetsPerSlave?: number;
  readonly primaryReselectPolicy?: 'always' | 'better' | 'failure';
  /** Seconds. */
  readonly learnPacketInterval?: number;
  /** Id of the preferred member (active-backup). */
  readonly primary?: string;
}

export interface BondDevice extends IpSettings {
  readonly kind: 'bond';
  readonly id: string;
  readonly interfaces: readonly string[];
  readonly parameters: BondParameters;
}

export interface BridgeParameters {
  /** Seconds. */
  readonly ageingTime?: number;
  readonly priority?: number;
  /** Seconds. */
  readonly forwardDelay?: number;
  /** Seconds. */
  readonly helloTime?: number;
  /** Seconds. */
  readonly maxAge?: number;
  readonly stp?: boolean;
  /** Member id → cost. */
  readonly pathCost?: Readonly<Record<string, number>>;
  /** Member id → priority. */
  readonly portPriority?: Readonly<Record<string, number>>;
}

export interface BridgeDevice extends IpSettings {
  readonly kind: 'bridge';
  readonly id: string;
  readonly interfaces: readonly string[];
  readonly parameters: BridgeParameters;
}

export interface VlanDevice extends IpSettings {
  readonly kind: 'vlan';
  readonly id: string;
  readonly vlanId: number;
  /** Id of the parent device. */
  readonly link: string;
}

export type Device = EthernetDevice | BondDevice | BridgeDevice | VlanDevice;

export interface NetModel {
  readonly devices: readonly Device[];
  /** Routes tied to no device (network-config v1's `type: route`). */
  readonly routes: readonly RouteSpec[];
  /** The resolver's global servers and search domains. */
  readonly nameservers: Dns;
  /** The backend the document asks for (netplan's `renderer`), when it names one. */
  readonly renderer?: 'networkd' | 'NetworkManager';
}

/** What every mapper returns: the model, and a note for every key not applied as written. */
export interface MappedNetwork {
  readonly model: NetModel;
  readonly notes: readonly NetworkNote[];
}

// ---------------------------------------------------------------- values, checked where they enter

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };
const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(reason: string): Checked<T> => ({ ok: false, reason });

/** An IPv6 netmask (ffff:ffff:ffff:ffff::) as a prefix; undefined when not contiguous. */
export function ipv6MaskToPrefix(mask: string): number | undefined {
  if (!isIPv6Address(mask) || mask.includes('.')) return undefined;
  const bits = toBits(mask.toLowerCase(), 6);
  if (!/^1*0*$/u.test(bits)) return undefined;
  const zero = bits.indexOf('0');
  return zero < 0 ? 128 : zero;
}

/** A prefix written as a number, "/24", or a netmask of the family. */
export function parsePrefix(raw: string, family: Family): number | undefined {
  const v = raw.trim().replace(/^\//u, '');
  if (/^\d{1,3}$/u.test(v)) {
    const n = Number(v);
    return n <= (family === 4 ? 32 : 128) ? n : undefined;
  }
  return family === 4 ? parseMask(v) : ipv6MaskToPrefix(v);
}

/** An IP address of either family: IPv6 lower-cased; no zone. */
export function checkIp(raw: string): Checked<{ address: string; family: Family }> {
  const v = raw.trim();
  if (isIPv4Address(v)) return ok({ address: v, family: 4 });
  if (isIPv6Address(v)) return ok({ address: v.toLowerCase(), family: 6 });
  return bad('is not an IP address');
}

/**
 * An interface address "ADDR/PREFIX", or "ADDR" with `mask` (a prefix or netmask) or, failing
 * both, the default prefix of its family when `defaultPrefix` allows (cloud-init: 24 and 64).
 */
export function checkAddress(raw: string, mask?: string, defaultPrefix = false): Checked<IpAddress> {
  const slash = raw.indexOf('/');
  const ip = checkIp(slash < 0 ? raw : raw.slice(0, slash));
  if (!ip.ok) return bad(ip.reason);
  const { address, family } = ip.value;
  const prefixText = slash < 0 ? mask : raw.slice(slash + 1);
  if (prefixText === undefined) {
    if (!defaultPrefix) return bad('has no prefix length (ADDRESS/PREFIX)');
    return ok({ address, prefix: family === 4 ? 24 : 64, family });
  }
  const prefix = parsePrefix(prefixText, family);
  if (prefix === undefined) return bad(`has a prefix or netmask ${JSON.stringify(prefixText.slice(0, 40))} that is not valid for IPv${family}`);
  return ok({ address, prefix, family });
}

/** A destination network: "default", "NET/PREFIX", or NET with a separate netmask. */
export function checkDestination(raw: string, mask?: string, familyHint?: Family): Checked<IpAddress> {
  const v = raw.trim();
  if (v === 'default') return ok(familyHint === 6 ? { address: '::', prefix: 0, family: 6 } : { address: '0.0.0.0', prefix: 0, family: 4 });
  const a = checkAddress(v, mask, false);
  if (!a.ok && !v.includes('/') && mask === undefined) {
    // a bare address is a host route
    const ip = checkIp(v);
    if (ip.ok) return ok({ ...ip.value, prefix: ip.value.family === 4 ? 32 : 128 });
  }
  return a;
}

export const isDefaultRoute = (r: RouteSpec): boolean => r.to.prefix === 0;

/** A default route through `via` (the model's form of gateway4 / gateway6 / a subnet's gateway). */
export function defaultRoute(via: string, family: Family, metric?: number): RouteSpec {
  return { to: family === 4 ? { address: '0.0.0.0', prefix: 0, family } : { address: '::', prefix: 0, family }, via, ...(metric === undefined ? {} : { metric }) };
}

export function checkMac(raw: string): Checked<string> {
  const mac = normaliseMac(raw);
  return mac === undefined || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u.test(mac) ? bad('is not a MAC address (xx:xx:xx:xx:xx:xx)') : ok(mac);
}

/** A name the kernel could give an interface: 1–15 characters, no slash, space, colon or control character. */
export function checkIfName(raw: string): Checked<string> {
  return /^[A-Za-z0-9_.-]{1,15}$/u.test(raw) && raw !== '.' && raw !== '..' ? ok(raw) : bad('is not an interface name (1 to 15 letters, digits, "_", "." or "-")');
}

/** A name or driver glob for a match rule: the characters of names plus * ? and [ ]. */
export function checkGlob(raw: string): Checked<string> {
  return /^[A-Za-z0-9_.*?[\]!-]{1,64}$/u.test(raw) ? ok(raw) : bad('is not a name or glob (letters, digits, "_", ".", "-", "*", "?", "[…]")');
}

/** A configuration id (netplan's ID, a v1 name, an OpenStack link id): safe in any file we render. */
export function checkId(raw: string): Checked<string> {
  return /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,63}$/u.test(raw) ? ok(raw) : bad('is not a usable id (up to 64 letters, digits, "_", ".", ":", "@", "-")');
}

/** A DNS server, by the shared codec (formats/dns.ts). */
export function checkNameserver(raw: string): Checked<string> {
  const r = parseNameserver(raw.trim());
  return r.ok ? ok(formatNameserver(r.server)) : bad(r.reason);
}

/** A search domain: DNS labels, not an IP address. */
export function checkSearchDomain(raw: string): Checked<string> {
  const d = raw.trim().replace(/\.$/u, '');
  const label = '[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
  return new RegExp(`^${label}(\\.${label})*$`, 'u').test(d) && !/^[\d.]+$/u.test(d) && d.length <= 253 ? ok(d) : bad('is not a domain name');
}

export const MTU_MIN = 68;
export const MTU_MAX = 65535;
export const UINT32_MAX = 4294967295;

// ---------------------------------------------------------------- building a model

/** IpSettings under construction (the mappers fill it, the builder freezes it). */
export interface IpDraft {
  dhcp4: boolean;
  dhcp6: boolean;
  acceptRa?: boolean;
  dhcp4Overrides?: DhcpOverrides;
  dhcp6Overrides?: DhcpOverrides;
  addresses: IpAddress[];
  routes: RouteSpec[];
  nameservers: { addresses: string[]; search: string[] };
  mtu?: number;
  macaddress?: string;
  optional?: boolean;
  linkLocal?: ('ipv4' | 'ipv6')[];
}

export function emptyIp(): IpDraft {
  return { dhcp4: false, dhcp6: false, addresses: [], routes: [], nameservers: { addresses: [], search: [] } };
}

const pushNew = <T>(list: T[], item: T, same: (a: T, b: T) => boolean): void => {
  if (!list.some((x) => same(x, item))) list.push(item);
};
export const addAddress = (ip: IpDraft, a: IpAddress): void => {
  pushNew(ip.addresses, a, (x, y) => x.address === y.address && x.prefix === y.prefix);
};
export const addRoute = (ip: { routes: RouteSpec[] }, r: RouteSpec): void => {
  pushNew(ip.routes, r, (x, y) => JSON.stringify(x) === JSON.stringify(y));
};
export const addUnique = (list: string[], s: string): void => {
  pushNew(list, s, (x, y) => x === y);
};

type Draft<T> = { -readonly [K in keyof T]: T[K] } & IpDraft;
/** A device under construction. */
export type DraftDevice = Draft<EthernetDevice> | Draft<BondDevice> | Draft<BridgeDevice> | Draft<VlanDevice>;

/** A reference from one device to another, kept with where it was written for the final check. */
interface Reference {
  readonly from: string;
  readonly to: string;
  readonly role: 'member' | 'link';
  readonly where: Where;
}

/**
 * Collects devices, notes and references, then checks the references as a whole: a member or link
 * naming no device, a device in two bonds/bridges, a bond of anything but ethernets, a cycle — each
 * named and dropped, the rest kept.
 */
export class ModelBuilder {
  readonly notes: NetworkNote[] = [];
  private readonly devices: DraftDevice[] = [];
  private readonly refs: Reference[] = [];
  private readonly placed = new Map<string, Where>();
  readonly routes: RouteSpec[] = [];
  readonly nameservers = { addresses: [] as string[], search: [] as string[] };
  renderer: NetModel['renderer'];

  constructor(readonly file: string) {}

  note(where: Where, what: NoteKind, message: string): void {
    this.notes.push({ path: where.path, file: this.file, line: where.line, what, message });
  }

  has(id: string): boolean {
    return this.devices.some((d) => d.id === id);
  }

  get(id: string): DraftDevice | undefined {
    return this.devices.find((d) => d.id === id);
  }

  /** Adds a device; an id already used is reported and the second one skipped. */
  add(device: DraftDevice, where: Where): boolean {
    if (this.has(device.id)) {
      this.note(where, 'invalid', `a device with the id ${JSON.stringify(device.id)} is already defined; this one skipped`);
      return false;
    }
    this.devices.push(device);
    this.placed.set(device.id, where);
    return true;
  }

  reference(from: string, to: string, role: 'member' | 'link', where: Where): void {
    this.refs.push({ from, to, role, where });
  }

  private checkMemberParameters(d: DraftDevice): void {
    for (const problem of memberParameterProblems(d)) {
      problem.fix();
      this.note(this.placed.get(d.id) ?? { path: d.id, line: undefined }, 'invalid', `${d.kind} ${JSON.stringify(d.id)}: ${problem.what} names no member of it; that parameter is skipped`);
    }
  }

  build(): MappedNetwork {
    const byId = new Map(this.devices.map((d) => [d.id, d]));
    const dropped = new Set<string>();
    const masterOf = new Map<string, string>();
    // VLAN links first: a VLAN whose parent is missing is dropped (and anything using it loses it)
    for (const r of this.refs.filter((x) => x.role === 'link')) {
      const parent = byId.get(r.to);
      if (parent === undefined || r.to === r.from) {
        this.note(r.where, 'invalid', `the VLAN ${JSON.stringify(r.from)} names the link ${JSON.stringify(r.to)}, which is not a device of this document; the VLAN is not configured`);
        dropped.add(r.from);
      }
    }
    for (const r of this.refs.filter((x) => x.role === 'member')) {
      const master = byId.get(r.from);
      const member = byId.get(r.to);
      const drop = (why: string): void => {
        this.note(r.where, 'invalid', `${why}; left out of ${JSON.stringify(r.from)}`);
        if (master !== undefined && (master.kind === 'bond' || master.kind === 'bridge')) master.interfaces = master.interfaces.filter((m) => m !== r.to);
      };
      if (master === undefined || (master.kind !== 'bond' && master.kind !== 'bridge')) continue;
      if (member === undefined || dropped.has(r.to)) drop(`${JSON.stringify(r.to)} is not a device of this document`);
      else if (r.to === r.from) drop('a device cannot be its own member');
      else if (master.kind === 'bond' && member.kind !== 'ethernet') drop(`${JSON.stringify(r.to)} is a ${member.kind}, and a bond's members are ethernets`);
      else if (masterOf.has(r.to)) drop(`${JSON.stringify(r.to)} is already a member of ${JSON.stringify(masterOf.get(r.to))}`);
      else masterOf.set(r.to, r.from);
    }
    // cycles (a VLAN on a bridge that has the VLAN as a member): the device closing the loop is dropped
    const deps = (d: DraftDevice): string[] => (d.kind === 'vlan' ? [d.link] : d.kind === 'bond' || d.kind === 'bridge' ? [...d.interfaces] : []);
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (id: string): boolean => {
      if (dropped.has(id)) return true;
      const s = state.get(id);
      if (s === 'done') return true;
      if (s === 'visiting') return false;
      state.set(id, 'visiting');
      const d = byId.get(id);
      const fine = d === undefined || deps(d).every(visit);
      state.set(id, 'done');
      if (!fine && !dropped.has(id)) {
        dropped.add(id);
        const where = this.refs.find((r) => r.from === id)?.where ?? { path: id, line: undefined };
        this.note(where, 'invalid', `${JSON.stringify(id)} depends on itself through its links or members; not configured`);
      }
      return true;
    };
    for (const d of this.devices) visit(d.id);
    for (const d of this.devices) if ((d.kind === 'bond' || d.kind === 'bridge') && d.interfaces.some((m) => dropped.has(m))) d.interfaces = d.interfaces.filter((m) => !dropped.has(m));
    const devices = this.devices.filter((d) => !dropped.has(d.id));
    for (const d of devices) this.checkMemberParameters(d);
    return {
      model: {
        devices: devices.map(freezeDevice),
        routes: [...this.routes],
        nameservers: { addresses: [...this.nameservers.addresses], search: [...this.nameservers.search] },
        ...(this.renderer === undefined ? {} : { renderer: this.renderer }),
      },
      notes: this.notes,
    };
  }
}

/** Parameters that name a member (a bond's primary, a bridge's per-port cost and priority) must name one. */
function memberParameterProblems(d: DraftDevice): { readonly what: string; readonly fix: () => void }[] {
  const out: { what: string; fix: () => void }[] = [];
  if (d.kind === 'bond' && d.parameters.primary !== undefined && !d.interfaces.includes(d.parameters.primary)) {
    const { primary, ...rest } = d.parameters;
    out.push({ what: `primary ${JSON.stringify(primary)}`, fix: () => { d.parameters = rest; } });
  }
  if (d.kind === 'bridge') {
    for (const key of ['pathCost', 'portPriority'] as const) {
      const ports = d.parameters[key];
      for (const port of Object.keys(ports ?? {})) {
        if (d.interfaces.includes(port)) continue;
        out.push({
          what: `${key === 'pathCost' ? 'path-cost' : 'port-priority'} of ${JSON.stringify(port)}`,
          fix: () => {
            const kept = Object.fromEntries(Object.entries(d.parameters[key] ?? {}).filter(([p]) => p !== port));
            d.parameters = { ...d.parameters, [key]: kept };
          },
        });
      }
    }
  }
  return out;
}

function freezeDevice(d: DraftDevice): Device {
  return { ...d, addresses: [...d.addresses], routes: [...d.routes], nameservers: { addresses: [...d.nameservers.addresses], search: [...d.nameservers.search] } };
}

// ---------------------------------------------------------------- for renderers

/** The bond or bridge a device is a member of. */
export function masterOf(model: NetModel, id: string): BondDevice | BridgeDevice | undefined {
  return model.devices.find((d): d is BondDevice | BridgeDevice => (d.kind === 'bond' || d.kind === 'bridge') && d.interfaces.includes(id));
}

/** The VLANs whose parent is this device. */
export function vlansOn(model: NetModel, id: string): VlanDevice[] {
  return model.devices.filter((d): d is VlanDevice => d.kind === 'vlan' && d.link === id);
}

/** Devices ordered so each comes after what it depends on (members before their bond, parents before VLANs). */
export function dependencyOrder(model: NetModel): Device[] {
  const byId = new Map(model.devices.map((d) => [d.id, d]));
  const out: Device[] = [];
  const seen = new Set<string>();
  const add = (d: Device): void => {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    const deps = d.kind === 'vlan' ? [d.link] : d.kind === 'bond' || d.kind === 'bridge' ? d.interfaces : [];
    for (const id of deps) {
      const dep = byId.get(id);
      if (dep !== undefined) add(dep);
    }
    out.push(d);
  };
  model.devices.forEach(add);
  return out;
}

/** The device one of whose static addresses is on the gateway's network (for global routes). */
export function deviceForGateway(model: NetModel, via: string): Device | undefined {
  const ip = checkIp(via);
  if (!ip.ok) return undefined;
  return model.devices.find((d) => d.addresses.some((a) => a.family === ip.value.family && sameNetwork(a, ip.value.address)));
}

function toBits(address: string, family: Family): string {
  if (family === 6 && address.includes('.')) {
    // ::ffff:192.0.2.1: the last 32 bits written as IPv4
    const cut = address.lastIndexOf(':');
    const v4 = toBits(address.slice(cut + 1), 4);
    return toBits(`${address.slice(0, cut + 1)}0:0`, 6).slice(0, 96) + v4;
  }
  if (family === 4) return address.split('.').map((p) => Number(p).toString(2).padStart(8, '0')).join('');
  const halves = address.split('::');
  const head = (halves[0] ?? '').split(':').filter((g) => g !== '');
  const tail = halves.length > 1 ? (halves[1] ?? '').split(':').filter((g) => g !== '') : [];
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
}

/** True when `address` is inside the network of interface address `a`. */
export function sameNetwork(a: IpAddress, address: string): boolean {
  return toBits(a.address, a.family).slice(0, a.prefix) === toBits(address, a.family).slice(0, a.prefix);
}
