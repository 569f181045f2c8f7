// NetworkManager keyfile renderer for the NetModel: one vmctx-ID.nmconnection per device (mode 0600, as
// NetworkManager requires), and the order to activate them in. Pure: model → files + notes.
//
// Decisions:
//   - Ports name their controller with `master=` (the controller connection's uuid) and
//     `slave-type=`: every NetworkManager reads these; `controller=`/`port-type=` are only aliases
//     from 1.46 on, and Debian 12 ships 1.42. Controllers set `autoconnect-slaves=1` (1.46+ alias:
//     autoconnect-ports), so activating a bond or bridge brings its ports up with it:
//     `nmActivationOrder` lists controllers, standalone devices and VLANs (after the device their
//     parent comes up with) and leaves the ports out.
//   - Global nameservers: NetworkManager has none of its own (only per connection; it merges every
//     active connection's into the resolver), so each connection with IP configuration carries them
//     after its own servers and search domains, as the netplan renderer does. cloud-init's
//     network_manager renderer gives the global ones only to connections with none of their own,
//     which loses a document's global server wherever interfaces name theirs; we keep both. Servers go
//     in [ipv4]/[ipv6] by family, where that family is configured; a global server or domain that no
//     connection can carry is noted.
//   - Ethernets: by MAC `[ethernet] mac-address=` (the permanent MAC, so a bond port still matches),
//     by a plain name `interface-name=`, by a glob or driver `[match]` (with multi-connect, since
//     one profile may then be active on several NICs). NetworkManager renames nothing: a set-name is
//     a udev rule in common.ts's RENAME_RULES_FILE (see there: which NICs, why udev, and that it
//     applies as the NIC is added), and the profile then finds the NIC by its new name
//     (interface-name=NEW) and by the MAC and driver the rule renamed it by (NetworkManager needs all
//     to match, so the profile never lands on another NIC that has the name); a name or glob match
//     is dropped (the renamed NIC no longer has that name) and noted.
//   - IPv4: dhcp4 → auto (static addresses added), static → manual, nothing → disabled (or
//     link-local). IPv6: dhcp6 → auto (SLAAC and DHCPv6 as the router says) or, with accept-ra off,
//     dhcp (DHCPv6 only); accept-ra → auto; static → manual; nothing → ignore (the kernel's default,
//     as networkd leaves it), disabled when accept-ra is off or link-local excludes IPv6.
//   - `uuid=` is a name-based UUID (v5) of the connection id, so re-rendering is byte-identical.
//   - `optional` → may-fail=true for both families; otherwise a configured family must succeed, except
//     that DHCPv4 and DHCPv6 together may each fail (one is enough), as cloud-init.
// Values come validated from the model; every value is checked again before it is written (no
// control character, backslash, or list separator outside the lists this file builds), and a
// device with a value that fails is refused with a note, never written.
import { createHash } from 'node:crypto';
import { dependencyOrder, masterOf, type BondDevice, type BridgeDevice, type Device, type DhcpOverrides, type EthernetDevice, type IpSettings, type NetModel, type RouteSpec, type VlanDevice } from '../netmodel.js';
import { HEADER, Notes, RENAME_OWNED, RENAME_RULES_FILE, cidr, devicePath, hasL3, isGlob, isMember, placeGlobalRoutes, planRenames, renameRulesFile, stripMemberIp, type GuestNames, type NicRename, type RenderedFile, type RenderedNetwork } from './common.js';

export const NM_DIR = '/etc/NetworkManager/system-connections';
/**
 * Files this renderer owns (for the module that removes the ones no longer rendered); `also`: the
 * other files it may write, owned the same way (the udev rules file of set-name).
 */
export const NM_OWNED = { dir: NM_DIR, match: /^vmctx-.+\.nmconnection$/u, also: [RENAME_OWNED] };

/** The namespace of our name-based connection UUIDs (a fixed random value). */
const UUID_NAMESPACE = '6f1c9d2e-4b7a-4e0f-9a53-2d8e61c4b7a0';

type Value = string | number | boolean | undefined;
type Entry = readonly [string, Value];
type Section = readonly [string, readonly Entry[]];

/** The connection id of a device: what `nmcli connection up id …` is given. */
export function nmConnectionId(d: Device): string {
  return `vmctx-${d.id}`;
}

/** A stable UUID (RFC 4122 version 5, SHA-1) of a connection id. */
export function nmUuid(connectionId: string): string {
  const ns = Buffer.from(UUID_NAMESPACE.replace(/-/gu, ''), 'hex');
  const h = createHash('sha1').update(ns).update(connectionId, 'utf8').digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Printable ASCII: no newline or other control character can start a line or a section. */
const SAFE_VALUE = /^[\x20-\x7e]*$/u;
/** One item of a value: printable, no escape character, list separator or brackets, no edge blanks. */
const safeAtom = (s: string): boolean => SAFE_VALUE.test(s) && !/[\\;[\]]/u.test(s) && s.trim() === s;
/** Keys whose value is a list this file joined from checked atoms. */
const LIST_KEYS = new Set(['dns', 'dns-search']);
/** A device id that is safe as a file name part and a keyfile value (the model's id rule). */
const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,63}$/u;

const val = (v: string | number | boolean): string => (typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v));

/** A value problem found while building a device's sections: the device is then refused. */
class Unsafe extends Error {}

/** Checks each atom and joins a keyfile list ("a;b;"). */
function list(items: readonly string[]): string | undefined {
  if (items.length === 0) return undefined;
  for (const s of items) if (!safeAtom(s)) throw new Unsafe(`the value ${JSON.stringify(s)}`);
  return `${items.join(';')};`;
}

function keyfile(comment: readonly string[], sections: readonly Section[]): string {
  const out = comment.map((c) => `# ${c}`);
  for (const [name, entries] of sections) {
    const set = entries.filter((e): e is readonly [string, string | number | boolean] => e[1] !== undefined);
    if (set.length === 0) continue;
    out.push('', `[${name}]`);
    for (const [k, v] of set) {
      const text = val(v);
      // lists were checked atom by atom; [match] globs may hold [..]; every other value is one atom
      const okay = SAFE_VALUE.test(text) && !text.includes('\\') && text.trim() === text && (LIST_KEYS.has(k) || !text.includes(';')) && (name === 'match' || !/[[\]]/u.test(text));
      if (!okay) throw new Unsafe(`the value ${JSON.stringify(text)} of ${name}.${k}`);
      out.push(`${k}=${text}`);
    }
  }
  return `${out.join('\n')}\n`;
}

const NM_TYPE = { ethernet: 'ethernet', bond: 'bond', bridge: 'bridge', vlan: 'vlan' } as const;
const SCOPE = { global: 0, link: 253, host: 254 } as const;

/** The route line and its options ("route1=DEST,GW,METRIC", "route1_options=…"). */
function routeEntries(n: number, r: RouteSpec, path: string, notes: Notes): Entry[] {
  const parts = [cidr(r.to)];
  if (r.via !== undefined || r.metric !== undefined) parts.push(r.via ?? '');
  if (r.metric !== undefined) parts.push(String(r.metric));
  const opts: string[] = [];
  if (r.table !== undefined) opts.push(`table=${r.table}`);
  if (r.onLink === true) opts.push('onlink=true');
  if (r.from !== undefined) opts.push(`src=${r.from}`);
  if (r.mtu !== undefined) opts.push(`mtu=${r.mtu}`);
  if (r.scope !== undefined) {
    if (r.to.family === 4) opts.push(`scope=${SCOPE[r.scope]}`);
    else notes.add(path, `NetworkManager has no scope for IPv6 routes; the route to ${cidr(r.to)} is written without scope ${r.scope}`);
  }
  for (const p of [...parts, ...opts]) if (!safeAtom(p) || p.includes(',')) throw new Unsafe(`the route value ${JSON.stringify(p)}`);
  return [[`route${n}`, parts.join(',')], [`route${n}_options`, opts.length > 0 ? opts.join(',') : undefined]];
}

interface FamilyPlan {
  readonly method: string;
  readonly entries: Entry[];
  /** Whether DNS of this family can be attached here (the family is configured). */
  readonly live: boolean;
}

function overrideEntries(family: 4 | 6, d: Device, o: DhcpOverrides | undefined, on: boolean, notes: Notes): Entry[] {
  const path = `${devicePath(d)}.dhcp${family}-overrides`;
  if (o === undefined) return [];
  if (!on) {
    notes.add(path, `dhcp${family} is off on ${JSON.stringify(d.id)}, so its overrides have nothing to act on`);
    return [];
  }
  const cannot: [keyof DhcpOverrides, string, string][] = [
    ['useNtp', 'use-ntp', 'NetworkManager has no connection setting for whether the NTP servers DHCP gives are used (it hands them to dispatcher scripts)'],
    ['useHostname', 'use-hostname', 'whether NetworkManager takes the hostname from DHCP is the global hostname-mode of NetworkManager.conf, not a connection setting'],
    ['useMtu', 'use-mtu', 'NetworkManager has no connection setting to ignore the MTU a DHCP server or router gives'],
  ];
  for (const [k, key, why] of cannot) if (o[k] !== undefined && !(k === 'useMtu' && o.useMtu === true)) notes.add(`${path}.${key}`, why);
  if (o.useDomains !== undefined && o.useDomains !== true) notes.add(`${path}.use-domains`, 'NetworkManager takes the search domains with the DNS servers (ignore-auto-dns); it cannot ignore one without the other, nor use the domains for routing only');
  if (o.hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/u.test(o.hostname)) throw new Unsafe(`the DHCP hostname ${JSON.stringify(o.hostname)}`);
  return [
    ['route-metric', o.routeMetric],
    ['ignore-auto-dns', o.useDns === false ? true : undefined],
    ['ignore-auto-routes', o.useRoutes === false ? true : undefined],
    ['dhcp-send-hostname', o.sendHostname],
    ['dhcp-hostname', o.hostname],
  ];
}

/** The [ipv4] and [ipv6] sections of a device that is not a port. */
function ipSections(d: Device, ip: IpSettings, extraRoutes: readonly RouteSpec[], dns: { addresses: readonly string[]; search: readonly string[] }, notes: Notes): { v4: FamilyPlan; v6: FamilyPlan } {
  const path = devicePath(d);
  const ll = ip.linkLocal;
  const plan = (family: 4 | 6): FamilyPlan => {
    const addrs = ip.addresses.filter((a) => a.family === family);
    const routes = [...ip.routes, ...extraRoutes].filter((r) => r.to.family === family);
    let method: string;
    if (family === 4) method = ip.dhcp4 ? 'auto' : addrs.length > 0 ? 'manual' : ll?.includes('ipv4') === true ? 'link-local' : 'disabled';
    else if (ip.dhcp6) method = ip.acceptRa === false ? 'dhcp' : 'auto';
    else if (ip.acceptRa === true) method = 'auto';
    else if (addrs.length > 0) method = 'manual';
    else if (ip.acceptRa === false || (ll !== undefined && !ll.includes('ipv6'))) method = 'disabled';
    else method = ll?.includes('ipv6') === true ? 'link-local' : 'ignore';
    const live = method === 'auto' || method === 'manual' || method === 'dhcp';
    if (!live && routes.length > 0) {
      notes.add(`${path}.routes`, `IPv${family} is not configured on ${JSON.stringify(d.id)} (no address, no DHCP), and NetworkManager keeps no IPv${family} routes there; the IPv${family} routes are not written`);
    }
    const entries: Entry[] = [['method', method]];
    // ipv4.link-local (NetworkManager 1.40+) is an enum; its number reads in every version: 3 = enabled
    if (family === 4 && live && ll?.includes('ipv4') === true) entries.push(['link-local', 3]);
    if (family === 6 && live && ll !== undefined && !ll.includes('ipv6')) notes.add(`${path}.link-local`, 'NetworkManager always gives an interface with IPv6 configuration an IPv6 link-local address');
    addrs.forEach((a, i) => entries.push([`address${i + 1}`, cidr(a)]));
    if (live) {
      // the first plain default route through a gateway on a static network is `gateway=`; others are routes
      const gw = addrs.length > 0 ? routes.find((r) => r.to.prefix === 0 && r.via !== undefined && r.metric === undefined && r.table === undefined && r.from === undefined && r.onLink === undefined && r.mtu === undefined && r.scope === undefined) : undefined;
      entries.push(['gateway', gw?.via]);
      routes.filter((r) => r !== gw).forEach((r, i) => entries.push(...routeEntries(i + 1, r, `${path}.routes`, notes)));
    }
    return { method, entries, live };
  };
  const v4 = plan(4);
  const v6 = plan(6);
  // route-metric is the connection's default metric: it reaches the static routes without one too
  for (const [family, o] of [[4, ip.dhcp4Overrides], [6, ip.dhcp6Overrides]] as const) {
    const unset = [...ip.routes, ...extraRoutes].filter((r) => r.to.family === family && r.metric === undefined);
    const on = family === 4 ? ip.dhcp4 : ip.dhcp6;
    if (on && o?.routeMetric !== undefined && unset.length > 0) notes.add(`${path}.dhcp${family}-overrides.route-metric`, `NetworkManager's route-metric is also the metric of the static IPv${family} routes without one (${unset.map((r) => cidr(r.to)).join(', ')}), not only of the DHCP routes`);
  }
  if (v4.live) v4.entries.push(...overrideEntries(4, d, ip.dhcp4Overrides, ip.dhcp4, notes));
  else if (ip.dhcp4Overrides !== undefined) overrideEntries(4, d, ip.dhcp4Overrides, false, notes);
  if (v6.live) v6.entries.push(...overrideEntries(6, d, ip.dhcp6Overrides, ip.dhcp6, notes));
  else if (ip.dhcp6Overrides !== undefined) overrideEntries(6, d, ip.dhcp6Overrides, false, notes);
  // DNS by family, on a family that is configured
  const servers = (family: 4 | 6): string[] => dns.addresses.filter((s) => (s.includes(':') ? 6 : 4) === family);
  for (const [family, p] of [[4, v4], [6, v6]] as const) {
    const s = servers(family);
    if (s.length === 0) continue;
    if (p.live) p.entries.push(['dns', list(s)]);
    else notes.add(`${path}.nameservers`, `IPv${family} is not configured on ${JSON.stringify(d.id)}, so NetworkManager would not use its IPv${family} nameservers ${s.join(', ')}; not written`);
  }
  if (dns.search.length > 0) {
    const carrier = v4.live ? v4 : v6.live ? v6 : undefined;
    if (carrier === undefined) notes.add(`${path}.nameservers`, `no IP family is configured on ${JSON.stringify(d.id)}, so NetworkManager would not use its search domains; not written`);
    else carrier.entries.push(['dns-search', list(dns.search)]);
  }
  // may-fail: a configured family must succeed unless optional, or both are DHCP (one is enough)
  const bothDhcp = ['auto', 'dhcp'].includes(v4.method) && ['auto', 'dhcp'].includes(v6.method) && ip.dhcp4 && (ip.dhcp6 || ip.acceptRa === true);
  for (const p of [v4, v6]) if (p.live) p.entries.push(['may-fail', ip.optional === true || bothDhcp]);
  if (ip.optional === true && !v4.live && !v6.live) notes.add(`${path}.optional`, `NetworkManager expresses optional as may-fail of an IP family, and ${JSON.stringify(d.id)} has no IP configuration; nothing to write`);
  return { v4, v6 };
}

function bondOptions(d: BondDevice, model: NetModel, ctx: Ctx): Entry[] {
  const { names, notes } = ctx;
  const p = d.parameters;
  let primary: string | undefined;
  if (p.primary !== undefined) {
    const member = model.devices.find((x) => x.id === p.primary);
    primary = member === undefined ? undefined : member.kind === 'ethernet' ? ctx.renames.get(member.id)?.name ?? nameOf(member, names) : member.id;
    if (primary === undefined) notes.add(`${devicePath(d)}.parameters.primary`, `NetworkManager names a bond's primary by interface name, and the name of ${JSON.stringify(p.primary)} is not known (matched by MAC or driver); not written`);
  }
  return [
    ['mode', p.mode], ['miimon', p.miiMonitorInterval], ['lacp_rate', p.lacpRate], ['xmit_hash_policy', p.transmitHashPolicy],
    ['updelay', p.upDelay], ['downdelay', p.downDelay], ['primary', primary], ['primary_reselect', p.primaryReselectPolicy],
    ['arp_interval', p.arpInterval], ['arp_ip_target', p.arpIpTargets === undefined || p.arpIpTargets.length === 0 ? undefined : p.arpIpTargets.join(',')],
    ['arp_validate', p.arpValidate], ['arp_all_targets', p.arpAllTargets], ['ad_select', p.adSelect], ['min_links', p.minLinks],
    ['all_slaves_active', p.allSlavesActive === undefined ? undefined : p.allSlavesActive ? 1 : 0], ['fail_over_mac', p.failOverMacPolicy],
    ['num_grat_arp', p.gratuitousArp], ['packets_per_slave', p.packetsPerSlave], ['lp_interval', p.learnPacketInterval],
  ];
}

function bridgeOptions(d: BridgeDevice): Entry[] {
  const p = d.parameters;
  return [['stp', p.stp], ['priority', p.priority], ['forward-delay', p.forwardDelay], ['hello-time', p.helloTime], ['max-age', p.maxAge], ['ageing-time', p.ageingTime]];
}

/**
 * A plain (non-glob) interface name of an ethernet not renamed: set by the live system or its match.
 * Not common.ts's ethernetName: a set-name is the NIC's name only where the udev rule renames it.
 */
function nameOf(d: EthernetDevice, names: GuestNames | undefined): string | undefined {
  const n = d.match.name;
  return names?.get(d.id) ?? (n !== undefined && !isGlob(n) ? n : undefined);
}

/** How an ethernet's profile finds its NIC: [connection] interface-name, [ethernet] mac-address, [match]. */
function ethernetMatch(d: EthernetDevice, ctx: Ctx): { ifname?: string; mac?: string; match: Entry[]; multi: boolean } {
  const { names, notes } = ctx;
  const path = devicePath(d);
  const m = d.match;
  const rename = ctx.renames.get(d.id);
  if (rename !== undefined) return renamedMatch(d, rename, notes);
  const refused = ctx.refused.get(d.id);
  if (refused !== undefined) notes.add(`${path}.set-name`, `not renamed (${refused}): the profile finds the NIC of ${JSON.stringify(d.id)} as it is named now, not as ${d.setName ?? ''}`);
  const live = m.positional === true ? names?.get(d.id) : undefined;
  const name = live ?? m.name;
  const glob = name !== undefined && isGlob(name);
  for (const g of [glob ? name : undefined, m.driver]) {
    if (g !== undefined && /^[!&|]/u.test(g)) throw new Unsafe(`the glob ${JSON.stringify(g)} (NetworkManager reads a leading ${g[0] ?? ''} as an operator)`);
  }
  const match: Entry[] = [['interface-name', glob ? name : undefined], ['driver', m.driver]];
  const multi = m.macaddress === undefined && (name === undefined || glob);
  return { ...(name !== undefined && !glob ? { ifname: name } : {}), ...(m.macaddress === undefined ? {} : { mac: m.macaddress }), match, multi };
}

/** A renamed NIC's profile: the new name, and the MAC and driver the udev rule renamed it by. */
function renamedMatch(d: EthernetDevice, rename: NicRename, notes: Notes): { ifname: string; mac?: string; match: Entry[]; multi: boolean } {
  const m = d.match;
  if (m.name !== undefined) notes.add(`${devicePath(d)}.match.name`, `the udev rule renames the NIC found by its ${rename.macaddress === undefined ? 'driver' : 'MAC'} to ${rename.name}, whatever its name: the match ${JSON.stringify(m.name)} is not kept`);
  if (rename.driver !== undefined && /^[!&|]/u.test(rename.driver)) throw new Unsafe(`the glob ${JSON.stringify(rename.driver)} (NetworkManager reads a leading ${rename.driver[0] ?? ''} as an operator)`);
  return { ifname: rename.name, ...(rename.macaddress === undefined ? {} : { mac: rename.macaddress }), match: [['driver', rename.driver]], multi: false };
}

/** The [ipv4]/[ipv6]-less IP settings a port still carries that NetworkManager cannot apply to it. */
function portLeftovers(d: Device, ip: IpSettings, notes: Notes): void {
  const path = devicePath(d);
  if (ip.acceptRa === false) notes.add(`${path}.accept-ra`, 'a NetworkManager port has no IP configuration, so accept-ra cannot be set on it');
  if (ip.linkLocal !== undefined) notes.add(`${path}.link-local`, 'a NetworkManager port has no IP configuration, so link-local cannot be set on it');
  if (ip.optional !== undefined) notes.add(`${path}.optional`, 'a NetworkManager port has no IP configuration, so may-fail (optional) cannot be set on it');
}

function connectionFile(model: NetModel, d: Device, ctx: Ctx): string {
  const { notes, globalRoutes } = ctx;
  const master = masterOf(model, d.id);
  const ip = stripMemberIp(model, d, notes);
  const id = nmConnectionId(d);
  let eth: ReturnType<typeof ethernetMatch> | undefined;
  if (d.kind === 'ethernet') eth = ethernetMatch(d, ctx);
  const ifname = d.kind === 'ethernet' ? eth?.ifname : d.id;
  const connection: Entry[] = [
    ['id', id], ['uuid', nmUuid(id)], ['type', NM_TYPE[d.kind]], ['interface-name', ifname],
    ['autoconnect', true], ['autoconnect-priority', 120],
    ['multi-connect', eth?.multi === true ? 3 : undefined],
    ['autoconnect-slaves', d.kind === 'bond' || d.kind === 'bridge' ? 1 : undefined],
    ['master', master === undefined ? undefined : nmUuid(nmConnectionId(master))],
    ['slave-type', master?.kind],
  ];
  const ethernet: Entry[] = [
    ['mac-address', eth?.mac?.toUpperCase()],
    ['cloned-mac-address', ip.macaddress?.toUpperCase()],
    ['mtu', ip.mtu],
    ['wake-on-lan', d.kind === 'ethernet' && d.wakeOnLan !== undefined ? (d.wakeOnLan ? 64 : 0) : undefined],
  ];
  const sections: Section[] = [['connection', connection], ['ethernet', ethernet]];
  if (eth !== undefined) sections.push(['match', eth.match]);
  if (d.kind === 'bond') sections.push(['bond', bondOptions(d, model, ctx)]);
  if (d.kind === 'bridge') sections.push(['bridge', bridgeOptions(d)]);
  if (d.kind === 'vlan') sections.push(['vlan', vlanEntries(d, model)]);
  if (master?.kind === 'bridge') sections.push(['bridge-port', [['path-cost', master.parameters.pathCost?.[d.id]], ['priority', master.parameters.portPriority?.[d.id]]]]);
  if (master === undefined) {
    const { v4, v6 } = ipSections(d, ip, globalRoutes.get(d.id) ?? [], ctx.dnsFor(d, ip), notes);
    sections.push(['ipv4', v4.entries], ['ipv6', v6.entries]);
  } else portLeftovers(d, ip, notes);
  const comment = [HEADER, devicePath(d)];
  // method=auto is the same setting for DHCPv6 and for SLAAC: say which one the document asked for
  if (master === undefined && ip.dhcp6 && ip.acceptRa !== false) comment.push('IPv6: method=auto is DHCPv6 (dhcp6) with SLAAC; the DHCPv6 client runs when a router advertisement asks for it');
  else if (master === undefined && !ip.dhcp6 && ip.acceptRa === true) comment.push('IPv6: method=auto is SLAAC (accept-ra); NetworkManager also runs DHCPv6 when a router advertisement asks for it, as networkd does');
  return keyfile(comment, sections);
}

function vlanEntries(d: VlanDevice, model: NetModel): Entry[] {
  const parent = model.devices.find((x) => x.id === d.link);
  return [['id', d.vlanId], ['parent', parent === undefined ? d.link : nmUuid(nmConnectionId(parent))]];
}

interface Ctx {
  readonly notes: Notes;
  readonly names: GuestNames | undefined;
  /** set-names the udev rules file carries, and why the others are not renamed (by device id). */
  readonly renames: ReadonlyMap<string, NicRename>;
  readonly refused: ReadonlyMap<string, string>;
  readonly globalRoutes: Map<string, RouteSpec[]>;
  readonly dnsFor: (d: Device, ip: IpSettings) => { addresses: readonly string[]; search: readonly string[] };
}

/**
 * Devices refused, each with a note: an unsafe id, a value found unsafe while rendering (`unsafe`:
 * id → what), and what depends on a refused one (a port of a refused controller, a VLAN on a refused parent).
 */
function refusedIds(model: NetModel, notes: Notes, unsafe: ReadonlyMap<string, string> = new Map()): Set<string> {
  const out = new Set<string>();
  for (const d of model.devices) {
    const what = unsafe.get(d.id);
    if (!SAFE_ID.test(d.id)) {
      out.add(d.id);
      notes.add(devicePath(d), `the id ${JSON.stringify(d.id)} cannot be written into a NetworkManager keyfile or its file name; the connection is not written`);
    } else if (what !== undefined) {
      out.add(d.id);
      notes.add(devicePath(d), `${what} cannot be written safely into a NetworkManager keyfile; the connection is not written`);
    }
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of model.devices) {
      if (out.has(d.id)) continue;
      const on = d.kind === 'vlan' ? d.link : masterOf(model, d.id)?.id;
      if (on !== undefined && out.has(on)) {
        out.add(d.id);
        grew = true;
        notes.add(devicePath(d), `${JSON.stringify(d.id)} depends on ${JSON.stringify(on)}, which is not written; not written either`);
      }
    }
  }
  return out;
}

/** The NetworkManager keyfiles for a model, and a note for each thing NetworkManager cannot be told. */
export function renderNetworkManager(model: NetModel, names?: GuestNames): RenderedNetwork {
  // a device with an unsafe value is refused, and so is what depends on it: render again without it
  const unsafe = new Map<string, string>();
  for (;;) {
    const attempt = renderOnce(model, names, unsafe);
    if (attempt.unsafe.size === 0) return { files: attempt.files, notes: attempt.notes };
    for (const [id, what] of attempt.unsafe) unsafe.set(id, what);
  }
}

function renderOnce(model: NetModel, names: GuestNames | undefined, unsafe: ReadonlyMap<string, string>): RenderedNetwork & { unsafe: Map<string, string> } {
  const notes = new Notes('NetworkManager');
  const files = new Map<string, RenderedFile>();
  const found = new Map<string, string>();
  if (model.renderer === 'networkd') notes.add('renderer', 'the document asks for systemd-networkd; rendered for NetworkManager, the backend this guest runs');
  const refused = refusedIds(model, notes, unsafe);
  const globalRoutes = placeGlobalRoutes(model, notes);
  for (const [id, routes] of globalRoutes) {
    if (!refused.has(id)) continue;
    for (const r of routes) notes.add(`routes[${model.routes.indexOf(r)}]`, `the route to ${cidr(r.to)} belongs on ${JSON.stringify(id)}, which is not written`);
  }
  // global DNS: after each L3 connection's own servers and search domains
  const global = model.nameservers;
  const carriers = model.devices.filter((d) => !refused.has(d.id) && !isMember(model, d) && hasL3(d));
  const dnsFor = (d: Device, ip: IpSettings): { addresses: readonly string[]; search: readonly string[] } => {
    const extra = carriers.includes(d) ? global : { addresses: [], search: [] };
    return { addresses: [...new Set([...ip.nameservers.addresses, ...extra.addresses])], search: [...new Set([...ip.nameservers.search, ...extra.search])] };
  };
  const { renames, refused: notRenamed } = planRenames(model);
  const ctx: Ctx = { notes, names, renames, refused: notRenamed, globalRoutes, dnsFor };
  for (const d of model.devices) {
    if (refused.has(d.id)) continue;
    try {
      files.set(`${NM_DIR}/${nmConnectionId(d)}.nmconnection`, { content: connectionFile(model, d, ctx), mode: 0o600 });
    } catch (e) {
      if (!(e instanceof Unsafe)) throw e;
      found.set(d.id, e.message);
    }
  }
  globalDnsNotes(model, files, carriers, notes);
  const rules = renameRulesFile(model, renames);
  if (rules !== undefined) files.set(RENAME_RULES_FILE, rules);
  return { files, notes: notes.list, unsafe: found };
}

/** A global server or search domain that no written connection carries is noted. */
function globalDnsNotes(model: NetModel, files: Map<string, RenderedFile>, carriers: readonly Device[], notes: Notes): void {
  const written = carriers.filter((d) => files.has(`${NM_DIR}/${nmConnectionId(d)}.nmconnection`)).map((d) => files.get(`${NM_DIR}/${nmConnectionId(d)}.nmconnection`)?.content ?? '');
  const lists = (key: string): string[] => written.flatMap((t) => t.split('\n').filter((l) => l.startsWith(`${key}=`)).flatMap((l) => l.slice(key.length + 1).split(';')));
  const servers = lists('dns');
  const search = lists('dns-search');
  for (const s of model.nameservers.addresses) if (!servers.includes(s)) notes.add('nameservers', `NetworkManager has no global nameservers and no connection here has IPv${s.includes(':') ? 6 : 4} configuration to carry ${s}; not written`);
  for (const s of model.nameservers.search) if (!search.includes(s)) notes.add('nameservers', `NetworkManager has no global search domains and no connection here has IP configuration to carry ${s}; not written`);
}

/**
 * The connection ids to activate, in an order NetworkManager accepts: a bond or bridge brings its
 * ports up itself (autoconnect-slaves), so ports are left out; a VLAN comes after the connection its
 * parent comes up with, a controller after the devices its ports need. `names` as given to
 * renderNetworkManager.
 */
export function nmActivationOrder(model: NetModel, names?: GuestNames): string[] {
  // only what renderNetworkManager writes (a refused device has no connection to activate)
  const written = renderNetworkManager(model, names).files;
  const out: string[] = [];
  for (let d of dependencyOrder(model)) {
    // a port comes up with its controller (and a controller that is itself a port, with its own)
    for (let m = masterOf(model, d.id); m !== undefined; m = masterOf(model, d.id)) d = m;
    const id = nmConnectionId(d);
    if (written.has(`${NM_DIR}/${id}.nmconnection`) && !out.includes(id)) out.push(id);
  }
  return out;
}
