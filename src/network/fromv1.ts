// cloud-init network-config version 1 → NetModel: physical, bond, bridge and vlan entries with any
// number of subnets (static, DHCP, DHCPv6, SLAAC), subnet and top-level routes, nameservers
// (global or per interface); every other key is named. Pure.
import type { MapReader, Value } from './docreader.js';
import {
  ModelBuilder,
  addAddress,
  addRoute,
  addUnique,
  checkAddress,
  checkIfName,
  checkIp,
  checkMac,
  defaultRoute,
  emptyIp,
  UINT32_MAX,
  type BondParameters,
  type BridgeParameters,
  type IpDraft,
} from './netmodel.js';
import { readMtu, readNameservers, readSearch, readV1BondParameter, readV1BridgeParameter, readV1Route } from './netparams.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export const V1_ITEM_KEYS = ['type', 'name', 'mac_address', 'mtu', 'accept-ra', 'subnets', 'params', 'bond_interfaces', 'bridge_interfaces', 'vlan_link', 'vlan_id', 'address', 'search', 'interface', 'destination', 'gateway', 'metric', 'netmask', 'wakeonlan', 'optional', 'keep_configuration'];
export const V1_SUBNET_KEYS = ['type', 'control', 'address', 'netmask', 'prefix', 'broadcast', 'gateway', 'dns_nameservers', 'dns_search', 'routes', 'metric'];

/** One subnet entry into the device's IP settings. */
function readSubnet(v: Value, ip: IpDraft, device: string): void {
  const m = v.map('a subnet (a mapping)');
  if (m === undefined) return;
  const typeV = m.get('type');
  const type = typeV?.text('a subnet type');
  if (type === undefined) {
    if (typeV === undefined) v.invalid(`a subnet of ${JSON.stringify(device)} has no type; skipped`);
    else v.cover();
    return;
  }
  const metricV = m.get('metric');
  const metric = metricV === undefined || metricV.isNull() ? undefined : metricV.int(0, UINT32_MAX, 'a metric');
  const control = m.get('control');
  const c = control?.text();
  if (control !== undefined && c !== undefined && c !== 'auto') control.unsupported(`control ${control.shown()} is not supported: vmctx brings every configured interface up at boot`);
  const isStatic = type === 'static' || type === 'static6';
  switch (type) {
    case 'dhcp':
    case 'dhcp4':
      ip.dhcp4 = true;
      if (metric !== undefined) ip.dhcp4Overrides = { ...ip.dhcp4Overrides, routeMetric: metric };
      break;
    case 'dhcp6':
      ip.dhcp6 = true;
      if (metric !== undefined) ip.dhcp6Overrides = { ...ip.dhcp6Overrides, routeMetric: metric };
      break;
    case 'ipv6_dhcpv6-stateful':
    case 'ipv6_dhcpv6-stateless':
      // stateless: the address by SLAAC, the rest by DHCPv6 (netplan's dhcp6 + accept-ra, as cloud-init renders it)
      ip.dhcp6 = true;
      ip.acceptRa = true;
      break;
    case 'ipv6_slaac':
      ip.acceptRa = true;
      break;
    case 'manual':
      break;
    case 'static':
    case 'static6':
      break;
    default:
      typeV?.invalid(`${typeV.shown()} is not a subnet type (static, static6, dhcp, dhcp4, dhcp6, ipv6_slaac, ipv6_dhcpv6-stateless, ipv6_dhcpv6-stateful, manual); this subnet skipped`);
      v.cover();
      return;
  }
  const addressV = m.get('address');
  const maskV = m.getAny(['netmask', 'prefix']);
  const gatewayV = m.get('gateway');
  if (isStatic) {
    const text = addressV?.text('an IP address');
    const mask = maskV === undefined || maskV.isNull() ? undefined : maskV.text('a netmask or prefix');
    if (addressV === undefined) v.invalid(`a ${type} subnet of ${JSON.stringify(device)} has no address; its address is not configured`);
    else if (text !== undefined) {
      const a = checkAddress(text, mask, true);
      if (!a.ok) addressV.invalid(`${addressV.shown()}${mask === undefined ? '' : ` with netmask ${JSON.stringify(mask)}`} ${a.reason}; skipped`);
      else {
        addAddress(ip, a.value);
        if (type === 'static6' && a.value.family === 4) addressV.invalid('is an IPv4 address in a static6 subnet; applied as IPv4');
      }
    }
    const g = gatewayV?.text('an IP address');
    if (gatewayV !== undefined && g !== undefined && !gatewayV.isNull()) {
      const r = checkIp(g);
      if (r.ok) addRoute(ip, defaultRoute(r.value.address, r.value.family, metric));
      else gatewayV.invalid(`${gatewayV.shown()} ${r.reason}; skipped`);
    }
  } else {
    for (const [key, x] of [['address', addressV], ['netmask', maskV], ['gateway', gatewayV]] as const) x?.unused(`${key} has no meaning on a ${type} subnet; not used`);
  }
  const broadcast = m.get('broadcast');
  broadcast?.unsupported('broadcast is not supported: the broadcast address follows from the prefix');
  for (const key of ['pointopoint', 'scope']) m.unsupported(key, `subnet ${key} is not supported`);
  const dns = m.get('dns_nameservers');
  if (dns !== undefined) readNameservers(dns, ip.nameservers.addresses);
  const search = m.get('dns_search');
  if (search !== undefined) readSearch(search, ip.nameservers.search);
  for (const r of m.get('routes')?.items() ?? []) {
    const route = readV1Route(r, metric);
    if (route !== undefined) addRoute(ip, route);
  }
}

/** The keys physical, bond, bridge and vlan entries share. */
function readDevice(m: MapReader, ip: IpDraft, name: string): void {
  const mtu = readMtu(m.get('mtu'));
  if (mtu !== undefined) ip.mtu = mtu;
  const ra = m.get('accept-ra');
  if (ra !== undefined && !ra.isNull()) {
    const b = ra.bool();
    if (b !== undefined) ip.acceptRa = b;
  }
  const optional = m.get('optional');
  if (optional !== undefined && !optional.isNull()) {
    const b = optional.bool();
    if (b !== undefined) ip.optional = b;
  }
  for (const s of m.get('subnets')?.items() ?? []) readSubnet(s, ip, name);
  m.unsupported('keep_configuration', 'keep_configuration is not supported (netplan only)');
}

function readMac(m: MapReader): string | undefined {
  const v = m.get('mac_address');
  if (v === undefined || v.isNull()) return undefined;
  const t = v.text('a MAC address');
  if (t === undefined) return undefined;
  const r = checkMac(t);
  return r.ok ? r.value : v.invalid(`${v.shown()} ${r.reason}; skipped`);
}

/** Reads the `network:` mapping of a version 1 document (its `config` list) into the builder. */
export function readV1(root: MapReader, b: ModelBuilder): void {
  const config = root.get('config');
  if (config === undefined) {
    b.note(root.where, 'invalid', 'a version 1 document needs a config list; nothing configured');
    return;
  }
  const declared = new Set<string>();
  const members: { name: string; where: Value['where'] }[] = [];
  const perInterfaceDns: { iface: string; servers: string[]; search: string[]; at: Value }[] = [];
  for (const item of config.items() ?? []) {
    const m = item.map('a config entry (a mapping)');
    if (m === undefined) continue;
    const typeV = m.get('type');
    const type = typeV?.text('a config type');
    if (type === undefined) {
      if (typeV === undefined) item.invalid('has no type; skipped');
      else item.cover();
      continue;
    }
    if (type === 'nameserver') {
      const servers: string[] = [];
      const search: string[] = [];
      const a = m.get('address');
      if (a !== undefined) readNameservers(a, servers);
      const s = m.get('search');
      if (s !== undefined) readSearch(s, search);
      const iface = m.get('interface');
      const name = iface?.text('an interface name');
      if (iface !== undefined && name !== undefined) perInterfaceDns.push({ iface: name, servers, search, at: iface });
      else if (iface === undefined) {
        for (const x of servers) addUnique(b.nameservers.addresses, x);
        for (const x of search) addUnique(b.nameservers.search, x);
      }
      continue;
    }
    if (type === 'route') {
      // the entry itself is the route (destination, gateway, metric)
      const route = readV1Route(item, undefined);
      m.get('type');
      if (route !== undefined) addRoute(b, route);
      continue;
    }
    if (type !== 'physical' && type !== 'bond' && type !== 'bridge' && type !== 'vlan') {
      typeV?.unsupported(`entries of type ${typeV.shown()} are not supported (physical, bond, bridge, vlan, nameserver, route); this entry is not configured`);
      item.cover();
      continue;
    }
    const nameV = m.get('name');
    const name = nameV?.text('an interface name');
    const nameOk = name === undefined ? undefined : checkIfName(name);
    if (name === undefined || nameOk === undefined || !nameOk.ok) {
      if (nameV === undefined) item.invalid(`a ${type} entry needs a name; not configured`);
      else if (nameOk !== undefined && !nameOk.ok) nameV.invalid(`${nameV.shown()} ${nameOk.reason}; this entry is not configured`);
      item.cover();
      continue;
    }
    declared.add(name);
    const ip = emptyIp();
    const mac = readMac(m);
    if (type === 'physical') {
      const dev = { kind: 'ethernet' as const, id: name, match: mac === undefined ? { name } : { macaddress: mac }, ...(mac === undefined ? {} : { setName: name }), ...ip };
      const wol = m.get('wakeonlan');
      if (wol !== undefined && !wol.isNull()) {
        const w = wol.bool();
        if (w !== undefined) (dev as { wakeOnLan?: boolean }).wakeOnLan = w;
      }
      m.unsupported('params', 'params on a physical entry are not supported');
      readDevice(m, dev, name);
      b.add(dev, item.where);
    } else if (type === 'bond') {
      const parameters: Mutable<BondParameters> = {};
      const interfaces: string[] = [];
      for (const x of m.get('bond_interfaces')?.items() ?? []) {
        const t = x.text('an interface name');
        if (t === undefined) continue;
        if (!interfaces.includes(t)) interfaces.push(t);
        members.push({ name: t, where: x.where });
        b.reference(name, t, 'member', x.where);
      }
      for (const [key, v] of m.get('params')?.map()?.entries() ?? []) {
        if (readV1BondParameter(key, v, parameters) === 'unknown') v.t.note(v.where, 'unknown', `unknown bond parameter ${JSON.stringify(key)}; not applied`);
      }
      const dev = { kind: 'bond' as const, id: name, interfaces, parameters, ...ip, ...(mac === undefined ? {} : { macaddress: mac }) };
      readDevice(m, dev, name);
      b.add(dev, item.where);
    } else if (type === 'bridge') {
      const parameters: Mutable<BridgeParameters> = {};
      const interfaces: string[] = [];
      for (const x of m.get('bridge_interfaces')?.items() ?? []) {
        const t = x.text('an interface name');
        if (t === undefined) continue;
        if (!interfaces.includes(t)) interfaces.push(t);
        members.push({ name: t, where: x.where });
        b.reference(name, t, 'member', x.where);
      }
      const dev = { kind: 'bridge' as const, id: name, interfaces, parameters, ...ip, ...(mac === undefined ? {} : { macaddress: mac }) };
      for (const [key, v] of m.get('params')?.map()?.entries() ?? []) {
        const r = readV1BridgeParameter(key, v, parameters);
        if (r === 'unknown') v.t.note(v.where, 'unknown', `unknown bridge parameter ${JSON.stringify(key)}; not applied`);
        else if (r === 'mac') {
          const t = v.text('a MAC address');
          const c = t === undefined ? undefined : checkMac(t);
          if (c?.ok === true) dev.macaddress = c.value;
          else if (c !== undefined) v.invalid(`${v.shown()} ${c.reason}; skipped`);
        }
      }
      readDevice(m, dev, name);
      b.add(dev, item.where);
    } else {
      const idV = m.get('vlan_id');
      const linkV = m.get('vlan_link');
      const vlanId = idV?.int(0, 4094, 'a VLAN id');
      const link = linkV?.text('an interface name');
      if (vlanId === undefined || link === undefined) {
        if (idV === undefined || linkV === undefined) item.invalid(`the vlan ${JSON.stringify(name)} needs vlan_id and vlan_link; not configured`);
        item.cover();
        continue;
      }
      const dev = { kind: 'vlan' as const, id: name, vlanId, link, ...ip, ...(mac === undefined ? {} : { macaddress: mac }) };
      readDevice(m, dev, name);
      b.reference(name, link, 'link', linkV?.where ?? item.where);
      b.add(dev, item.where);
    }
  }
  // a member named by a bond or bridge but never declared is the NIC of that name (cloud-init's placeholder)
  for (const member of members) {
    if (declared.has(member.name) || b.has(member.name) || !checkIfName(member.name).ok) continue;
    b.add({ kind: 'ethernet', id: member.name, match: { name: member.name }, ...emptyIp() }, member.where);
  }
  for (const d of perInterfaceDns) {
    const dev = b.get(d.iface);
    if (dev === undefined) {
      d.at.invalid(`${d.at.shown()} is not an interface of this document; these nameservers are not configured`);
      continue;
    }
    for (const x of d.servers) addUnique(dev.nameservers.addresses, x);
    for (const x of d.search) addUnique(dev.nameservers.search, x);
  }
}
