// cloud-init network-config version 2 (netplan's format) → NetModel: ethernets (match, set-name),
// bonds, bridges, VLANs, every address, DHCP, routes and DNS; every other key is named. Pure.
import { YAMLMap } from 'yaml';
import { MapReader, type Value } from './docreader.js';
import {
  UINT32_MAX,
  ModelBuilder,
  addAddress,
  addRoute,
  checkAddress,
  checkDestination,
  checkGlob,
  checkId,
  checkIfName,
  checkIp,
  checkMac,
  defaultRoute,
  emptyIp,
  type BondParameters,
  type BridgeParameters,
  type DhcpOverrides,
  type IpDraft,
  type Match,
  type RouteSpec,
} from './netmodel.js';
import { readMtu, readNameservers, readNetplanBondParameter, readNetplanBridgeParameter, readSearch } from './netparams.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** netplan keys of a device that vmctx does not apply (each is named when present). */
const DEVICE_NOT_SUPPORTED = [
  'critical', 'routing-policy', 'ipv6-privacy', 'ipv6-address-generation', 'ipv6-address-token', 'ipv6-mtu', 'ignore-carrier',
  'activation-mode', 'dhcp-identifier', 'neigh-suppress', 'emit-lldp', 'receive-checksum-offload', 'transmit-checksum-offload',
  'tcp-segmentation-offload', 'tcp6-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload',
  'large-receive-offload', 'openvswitch', 'keep-configuration',
];
const ETHERNET_NOT_SUPPORTED = ['link', 'virtual-function-count', 'embedded-switch-mode', 'delay-virtual-functions-rebind', 'infiniband-mode', 'auth'];
const TOP_NOT_SUPPORTED = ['wifis', 'tunnels', 'vrfs', 'modems', 'dummy-devices', 'virtual-ethernets', 'nm-devices'];

/** The netplan keys known at each level, for "did you mean" on an unknown key. */
export const NETPLAN_DEVICE_KEYS = [
  'dhcp4', 'dhcp6', 'dhcp4-overrides', 'dhcp6-overrides', 'accept-ra', 'addresses', 'gateway4', 'gateway6', 'nameservers', 'mtu',
  'macaddress', 'optional', 'link-local', 'routes', 'renderer', 'match', 'set-name', 'wakeonlan', 'interfaces', 'parameters', 'id', 'link',
  ...DEVICE_NOT_SUPPORTED, ...ETHERNET_NOT_SUPPORTED,
];
export const NETPLAN_TOP_KEYS = ['version', 'renderer', 'ethernets', 'bonds', 'bridges', 'vlans', ...TOP_NOT_SUPPORTED];

function readOverrides(v: Value): DhcpOverrides | undefined {
  const m = v.map();
  if (m === undefined) return undefined;
  const out: Mutable<DhcpOverrides> = {};
  const flags: readonly [string, keyof DhcpOverrides][] = [['use-dns', 'useDns'], ['use-ntp', 'useNtp'], ['use-hostname', 'useHostname'], ['use-mtu', 'useMtu'], ['use-routes', 'useRoutes'], ['send-hostname', 'sendHostname']];
  for (const [key, field] of flags) {
    const b = m.get(key)?.bool();
    if (b !== undefined) (out as Record<string, unknown>)[field] = b;
  }
  const domains = m.get('use-domains');
  if (domains !== undefined) {
    const d = domains.peek() === 'route' ? 'route' : domains.bool();
    if (d !== undefined) out.useDomains = d;
  }
  const metric = m.get('route-metric')?.int(0, UINT32_MAX, 'a metric');
  if (metric !== undefined) out.routeMetric = metric;
  const host = m.get('hostname');
  const h = host?.text('a hostname');
  if (host !== undefined && h !== undefined) {
    if (/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/u.test(h)) out.hostname = h;
    else host.invalid(`${host.shown()} is not a hostname; skipped`);
  }
  for (const key of ['use-routes-metric', 'route-table', 'use-ntp-servers']) m.unsupported(key, `DHCP override ${key} is not supported; the backend's default applies`);
  return out;
}

function readRoute(v: Value): RouteSpec | undefined {
  const m = v.map('a route (a mapping with to: and via:)');
  if (m === undefined) return undefined;
  const toV = m.get('to');
  const viaV = m.get('via');
  const type = m.get('type');
  if (type !== undefined && type.text() !== 'unicast') {
    v.unsupported(`a route of type ${type.shown()} is not supported (unicast only); this route skipped`);
    return undefined;
  }
  let via: string | undefined;
  let family: 4 | 6 | undefined;
  if (viaV !== undefined) {
    const t = viaV.text('an IP address');
    if (t === undefined) return v.invalid('has a via that is not an address; this route skipped');
    const ip = checkIp(t);
    if (!ip.ok) return viaV.invalid(`${viaV.shown()} ${ip.reason}; this route skipped`);
    via = ip.value.address;
    family = ip.value.family;
  }
  if (toV === undefined) return v.invalid('has no "to"; this route skipped');
  const toText = toV.text('a network (CIDR) or "default"');
  if (toText === undefined) return undefined;
  const to = checkDestination(toText, undefined, family);
  if (!to.ok) return toV.invalid(`${toV.shown()} ${to.reason}; this route skipped`);
  if (family !== undefined && to.value.family !== family) return v.invalid(`"to" ${toText} and "via" ${via ?? ''} are of different IP families; this route skipped`);
  const r: Mutable<RouteSpec> = { to: to.value };
  if (via !== undefined) r.via = via;
  const fromV = m.get('from');
  const from = fromV?.text('an IP address');
  if (fromV !== undefined && from !== undefined) {
    const ip = checkIp(from);
    if (ip.ok && ip.value.family === to.value.family) r.from = ip.value.address;
    else fromV.invalid(`${fromV.shown()} is not an IPv${to.value.family} address; skipped`);
  }
  const metric = m.get('metric')?.int(0, UINT32_MAX, 'a metric');
  if (metric !== undefined) r.metric = metric;
  const table = m.get('table')?.int(1, UINT32_MAX, 'a routing table number');
  if (table !== undefined) r.table = table;
  const scopeV = m.get('scope');
  const scope = scopeV?.text();
  if (scopeV !== undefined && scope !== undefined) {
    if (scope === 'global' || scope === 'link' || scope === 'host') r.scope = scope;
    else scopeV.invalid(`${scopeV.shown()} is not global, link or host; skipped`);
  }
  const onLink = m.get('on-link')?.bool();
  if (onLink !== undefined) r.onLink = onLink;
  const mtu = readMtu(m.get('mtu'));
  if (mtu !== undefined) r.mtu = mtu;
  for (const key of ['congestion-window', 'advertised-receive-window']) m.unsupported(key, `route option ${key} is not supported; the route applies without it`);
  return r;
}

/** The keys every netplan device has (netplan's "common properties for all device types"). */
function readCommon(m: MapReader, ip: IpDraft): void {
  ip.dhcp4 = m.get('dhcp4')?.bool() ?? false;
  ip.dhcp6 = m.get('dhcp6')?.bool() ?? false;
  const ra = m.get('accept-ra')?.bool();
  if (ra !== undefined) ip.acceptRa = ra;
  const o4 = m.get('dhcp4-overrides');
  if (o4 !== undefined) {
    const o = readOverrides(o4);
    if (o !== undefined) ip.dhcp4Overrides = o;
  }
  const o6 = m.get('dhcp6-overrides');
  if (o6 !== undefined) {
    const o = readOverrides(o6);
    if (o !== undefined) ip.dhcp6Overrides = o;
  }
  for (const item of m.get('addresses')?.items() ?? []) {
    // "- 10.0.0.5/24: {lifetime: 0, label: x}": the address applies, its options are named
    let written: [string, Value][] = [];
    if (item.isMap()) written = item.map()?.entries() ?? [];
    else {
      const t = item.text('an address in CIDR form');
      if (t !== undefined) written = [[t, item]];
    }
    for (const [text, v] of written) {
      if (v !== item && !v.isNull()) v.unsupported('address options (lifetime, label) are not supported; the address applies without them');
      const a = checkAddress(text);
      if (a.ok) addAddress(ip, a.value);
      else item.invalid(`${JSON.stringify(text.slice(0, 60))} ${a.reason}; skipped`);
    }
  }
  for (const [key, family] of [['gateway4', 4], ['gateway6', 6]] as const) {
    const g = m.get(key);
    const t = g?.text('an IP address');
    if (g === undefined || t === undefined) continue;
    const r = checkIp(t);
    if (r.ok && r.value.family === family) addRoute(ip, defaultRoute(r.value.address, family));
    else g.invalid(`${g.shown()} is not an IPv${family} address; skipped`);
  }
  const ns = m.get('nameservers')?.map();
  if (ns !== undefined) {
    const a = ns.get('addresses');
    if (a !== undefined) readNameservers(a, ip.nameservers.addresses);
    const s = ns.get('search');
    if (s !== undefined) readSearch(s, ip.nameservers.search);
  }
  const mtu = readMtu(m.get('mtu'));
  if (mtu !== undefined) ip.mtu = mtu;
  const macV = m.get('macaddress');
  const mac = macV?.text('a MAC address');
  if (macV !== undefined && mac !== undefined) {
    const r = checkMac(mac);
    if (r.ok) ip.macaddress = r.value;
    else macV.invalid(`${macV.shown()} ${r.reason}; skipped`);
  }
  const optional = m.get('optional')?.bool();
  if (optional !== undefined) ip.optional = optional;
  const ll = m.get('link-local');
  if (ll !== undefined) {
    const out: ('ipv4' | 'ipv6')[] = [];
    for (const item of ll.items() ?? []) {
      const t = item.text();
      if (t === 'ipv4' || t === 'ipv6') out.push(t);
      else if (t !== undefined) item.invalid(`${item.shown()} is not ipv4 or ipv6; skipped`);
    }
    ip.linkLocal = out;
  }
  for (const r of m.get('routes')?.items() ?? []) {
    const route = readRoute(r);
    if (route !== undefined) addRoute(ip, route);
  }
  m.unsupported('renderer', 'a renderer per device is not supported: vmctx renders every device with one backend');
  for (const key of DEVICE_NOT_SUPPORTED) m.unsupported(key, `${key} is not supported; the backend's default applies`);
}

function readMatch(v: Value, id: string): Match | undefined {
  const m = v.map();
  if (m === undefined) return undefined;
  const out: Mutable<Match> = {};
  const macV = m.get('macaddress');
  const mac = macV?.text('a MAC address');
  if (macV !== undefined && mac !== undefined) {
    const r = checkMac(mac);
    if (!r.ok) return macV.invalid(`${macV.shown()} ${r.reason}; the ethernet ${JSON.stringify(id)} is not configured (it would match other NICs)`);
    out.macaddress = r.value;
  }
  for (const key of ['name', 'driver'] as const) {
    const g = m.get(key);
    const t = g?.text('a name or glob');
    if (g === undefined || t === undefined) continue;
    const r = checkGlob(t);
    if (!r.ok) return g.invalid(`${g.shown()} ${r.reason}; the ethernet ${JSON.stringify(id)} is not configured (it would match other NICs)`);
    out[key] = r.value;
  }
  return out;
}

/** Reads the `network:` mapping of a version 2 document into the builder. */
export function readNetplan(root: MapReader, b: ModelBuilder): void {
  const rendererV = root.get('renderer');
  const renderer = rendererV?.text();
  if (rendererV !== undefined && renderer !== undefined) {
    if (renderer === 'networkd' || renderer === 'NetworkManager') b.renderer = renderer;
    else rendererV.invalid(`${rendererV.shown()} is not networkd or NetworkManager; skipped`);
  }
  for (const key of TOP_NOT_SUPPORTED) root.unsupported(key, `${key} are not supported: vmctx configures ethernets, bonds, bridges and VLANs`);
  const section = (key: string): [string, MapReader][] => {
    const m = root.get(key)?.map();
    if (m === undefined) return [];
    const out: [string, MapReader][] = [];
    for (const [id, v] of m.entries()) {
      const r = checkId(id);
      if (!r.ok) {
        v.invalid(`the id ${JSON.stringify(id.slice(0, 60))} ${r.reason}; not configured`);
        continue;
      }
      // `eno1:` with nothing under it is an entry with no settings
      const dm = v.isNull() ? new MapReader(v.t, new YAMLMap(), v.where) : v.map();
      if (dm !== undefined) out.push([id, dm]);
    }
    return out;
  };
  for (const [id, m] of section('ethernets')) {
    const ip = emptyIp();
    const matchV = m.get('match');
    let match: Match | undefined = { name: id };
    if (matchV !== undefined) match = readMatch(matchV, id);
    if (match === undefined) {
      m.get('set-name');
      readCommon(m, ip); // read (and checked) so its keys are not reported as unknown; the device is not added
      continue;
    }
    if (Object.keys(match).length === 0) match = { name: id };
    const setV = m.get('set-name');
    const setName = setV?.text('an interface name');
    const dev = { kind: 'ethernet' as const, id, match, ...ip };
    readCommon(m, dev);
    if (setV !== undefined && setName !== undefined) {
      const r = checkIfName(setName);
      if (r.ok) (dev as { setName?: string }).setName = r.value;
      else setV.invalid(`${setV.shown()} ${r.reason}; not renamed`);
    }
    const wol = m.get('wakeonlan')?.bool();
    if (wol !== undefined) (dev as { wakeOnLan?: boolean }).wakeOnLan = wol;
    for (const key of ETHERNET_NOT_SUPPORTED) m.unsupported(key, `${key} (SR-IOV, InfiniBand, 802.1X) is not supported`);
    b.add(dev, m.where);
  }
  const members = (kind: 'bond' | 'bridge', id: string, m: MapReader): string[] => {
    const out: string[] = [];
    for (const item of m.get('interfaces')?.items() ?? []) {
      const t = item.text('an interface id');
      if (t === undefined) continue;
      if (!out.includes(t)) out.push(t);
      b.reference(id, t, 'member', item.where);
    }
    if (out.length === 0 && kind === 'bond') b.note(m.where, 'not supported', `the bond ${JSON.stringify(id)} has no interfaces; it is created without members`);
    return out;
  };
  for (const [id, m] of section('bonds')) {
    if (!checkIfName(id).ok) {
      m.t.note(m.where, 'invalid', `the bond id ${JSON.stringify(id)} is not an interface name (1 to 15 letters, digits, "_", "." or "-"); not configured`);
      m.t.cover(m.node);
      continue;
    }
    const parameters: Mutable<BondParameters> = {};
    const p = m.get('parameters')?.map();
    for (const [name, v] of p?.entries() ?? []) if (!readNetplanBondParameter(name, v, parameters)) v.t.note(v.where, 'unknown', `unknown bond parameter ${JSON.stringify(name)}; not applied`);
    const dev = { kind: 'bond' as const, id, interfaces: members('bond', id, m), parameters, ...emptyIp() };
    readCommon(m, dev);
    b.add(dev, m.where);
  }
  for (const [id, m] of section('bridges')) {
    if (!checkIfName(id).ok) {
      m.t.note(m.where, 'invalid', `the bridge id ${JSON.stringify(id)} is not an interface name; not configured`);
      m.t.cover(m.node);
      continue;
    }
    const parameters: Mutable<BridgeParameters> = {};
    const p = m.get('parameters')?.map();
    for (const [name, v] of p?.entries() ?? []) if (!readNetplanBridgeParameter(name, v, parameters)) v.t.note(v.where, 'unknown', `unknown bridge parameter ${JSON.stringify(name)}; not applied`);
    const dev = { kind: 'bridge' as const, id, interfaces: members('bridge', id, m), parameters, ...emptyIp() };
    readCommon(m, dev);
    b.add(dev, m.where);
  }
  for (const [id, m] of section('vlans')) {
    const vid = m.get('id');
    const link = m.get('link');
    const vlanId = vid?.int(0, 4094, 'a VLAN id');
    const linkId = link?.text('a device id');
    if (!checkIfName(id).ok || vlanId === undefined || linkId === undefined) {
      if (!checkIfName(id).ok) m.t.note(m.where, 'invalid', `the VLAN id ${JSON.stringify(id)} is not an interface name; not configured`);
      else if (vid === undefined || link === undefined) m.t.note(m.where, 'invalid', `the VLAN ${JSON.stringify(id)} needs both id and link; not configured`);
      else m.t.note(m.where, 'invalid', `the VLAN ${JSON.stringify(id)} is not configured (see its id/link)`);
      m.t.cover(m.node);
      continue;
    }
    const dev = { kind: 'vlan' as const, id, vlanId, link: linkId, ...emptyIp() };
    readCommon(m, dev);
    b.reference(id, linkId, 'link', link?.where ?? m.where);
    b.add(dev, m.where);
  }
}
