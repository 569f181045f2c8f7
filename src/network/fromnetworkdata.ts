// OpenStack network_data.json (config drive / metadata service) → NetModel: links (physical
// types, bond, vlan), networks (static IPv4/IPv6, DHCP, SLAAC) with their routes and DNS, global
// DNS services; every other key is named. Pure.
import { parseNetworkDoc, sortNotes, type MapReader, type Value } from './docreader.js';
import {
  ModelBuilder,
  addAddress,
  addRoute,
  checkAddress,
  checkId,
  checkIfName,
  checkIp,
  checkMac,
  defaultRoute,
  emptyIp,
  UINT32_MAX,
  type BondParameters,
  type DraftDevice,
  type MappedNetwork,
} from './netmodel.js';
import { readMtu, readNameservers, readSearch, readV1BondParameter, readV1Route } from './netparams.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Link types cloud-init takes as a physical NIC (OpenStack's VIF types and a few clouds' own). */
export const PHYSICAL_LINK_TYPES = ['phy', 'ethernet', 'bgpovs', 'bridge', 'cascading', 'dvs', 'hw_veb', 'hyperv', 'ovs', 'tap', 'vhostuser', 'vif'];
const NETWORK_TYPES = ['ipv4', 'static', 'ipv6', 'static6', 'ipv4_dhcp', 'ipv6_dhcp', 'ipv6_slaac', 'ipv6_dhcpv6-stateless', 'ipv6_dhcpv6-stateful'];

function mac(m: MapReader, key: string): string | undefined {
  const v = m.get(key);
  if (v === undefined || v.isNull()) return undefined;
  const t = v.text('a MAC address');
  if (t === undefined) return undefined;
  const r = checkMac(t);
  return r.ok ? r.value : v.invalid(`${v.shown()} ${r.reason}; skipped`);
}

/**
 * DNS services in a list ([{type: dns, address, search}]): servers added to `into.addresses`; other
 * types named. cloud-init copies a top-level service whole into a nameserver entry, so its search
 * domains count (`into.search`); of a network's or a route's service it takes the address only, so
 * a search there (`into.search` undefined) is named, not applied.
 */
function readServices(v: Value, into: { addresses: string[]; search?: string[] }): void {
  for (const s of v.items() ?? []) {
    const m = s.map('a service (a mapping)');
    if (m === undefined) continue;
    const type = m.get('type');
    const t = type?.text();
    if (t !== 'dns') {
      if (type === undefined) s.invalid('a service without a type; skipped');
      else if (t !== undefined) s.unsupported(`services of type ${type.shown()} are not supported (dns only)`);
      else s.cover();
      continue;
    }
    const address = m.get('address');
    if (address === undefined) {
      s.invalid('a dns service without an address; skipped');
      continue;
    }
    readNameservers(address, into.addresses);
    const search = m.get('search');
    if (search === undefined || search.isNull()) continue;
    if (into.search !== undefined) readSearch(search, into.search);
    else search.unsupported("a search on a network's or a route's dns service is not applied (as cloud-init, which takes search domains only from the top-level services); give them as the network's dns_search");
  }
}

interface LinkInfo {
  readonly modelId: string;
  readonly kind: 'ethernet' | 'bond' | 'vlan';
  /** The guest name, when the document gives or implies one. */
  readonly name: string | undefined;
}

/** Maps one network_data.json; `file` names it in the notes. */
export function mapNetworkData(text: string, file: string): MappedNetwork {
  const empty: MappedNetwork['model'] = { devices: [], routes: [], nameservers: { addresses: [], search: [] } };
  const parsed = parseNetworkDoc(text, file);
  if (!parsed.ok) return { model: empty, notes: parsed.notes };
  const { root, tracker } = parsed;
  const top = root.map('a JSON object');
  if (top === undefined) return { model: empty, notes: tracker.notes };
  const b = new ModelBuilder(file);
  const links = new Map<string, LinkInfo>();
  const vlans: { m: MapReader; item: Value; id: string; name: string | undefined; mtu: number | undefined }[] = [];
  const pendingMembers: { bond: string; link: string; where: Value['where'] }[] = [];
  let bonds = 0;
  for (const item of top.get('links')?.items() ?? []) {
    const m = item.map('a link (a JSON object)');
    if (m === undefined) continue;
    const idV = m.get('id');
    const id = idV?.text('a link id');
    if (idV === undefined || id === undefined) {
      if (idV === undefined) item.invalid('a link without an id; not configured');
      item.cover();
      continue;
    }
    if (links.has(id) || vlans.some((x) => x.id === id)) {
      idV.invalid(`the link id ${idV.shown()} is used twice; this link is not configured`);
      item.cover();
      continue;
    }
    m.unused('vif_id', "the hypervisor's VIF id; nothing to apply");
    const typeV = m.get('type');
    const type = typeV === undefined || typeV.isNull() ? 'phy' : (typeV.text('a link type') ?? 'phy');
    const nameV = m.get('name');
    let name = nameV === undefined || nameV.isNull() ? undefined : nameV.text('an interface name');
    if (name !== undefined && !checkIfName(name).ok) {
      nameV?.invalid(`${nameV.shown()} is not an interface name; the NIC is not renamed`);
      name = undefined;
    }
    const mtu = readMtu(m.get('mtu'));
    if (type === 'vlan') {
      vlans.push({ m, item, id, name, mtu });
      continue;
    }
    const ip = emptyIp();
    if (mtu !== undefined) ip.mtu = mtu;
    if (type === 'bond') {
      const modelId = name ?? `bond${bonds}`;
      bonds += 1;
      const parameters: Mutable<BondParameters> = {};
      const interfaces: string[] = [];
      const members = m.get('bond_links');
      const own = mac(m, 'ethernet_mac_address');
      for (const key of m.keys()) {
        if (!key.startsWith('bond_') || key === 'bond_links') continue;
        const v = m.get(key);
        if (v !== undefined && readV1BondParameter(key, v, parameters) === 'unknown') v.t.note(v.where, 'unknown', `unknown bond parameter ${JSON.stringify(key)}; not applied`);
      }
      const dev = { kind: 'bond' as const, id: modelId, interfaces, parameters, ...ip, ...(own === undefined ? {} : { macaddress: own }) };
      if (!b.add(dev, item.where)) continue;
      links.set(id, { modelId, kind: 'bond', name: modelId });
      // members are link ids: resolved once every link is known
      for (const x of members?.items() ?? []) {
        const t = x.text('a link id');
        if (t !== undefined) interfaces.push(t);
        if (t !== undefined) pendingMembers.push({ bond: modelId, link: t, where: x.where });
      }
      continue;
    }
    if (!PHYSICAL_LINK_TYPES.includes(type)) typeV?.t.note(typeV.where, 'unknown', `unknown link type ${typeV.shown()}; taken as a physical NIC, as cloud-init does`);
    const own = mac(m, 'ethernet_mac_address');
    if (own === undefined && name === undefined) {
      item.invalid(`the link ${JSON.stringify(id)} has neither a MAC address nor a name to find its NIC by; not configured`);
      continue;
    }
    const idOk = checkId(id);
    const modelId = idOk.ok ? id : `link${links.size}`;
    if (!idOk.ok) idV.invalid(`the link id ${idV.shown()} ${idOk.reason}; the NIC (found by its MAC) is called ${modelId} here`);
    const dev = { kind: 'ethernet' as const, id: modelId, match: own === undefined ? { name: name ?? id } : { macaddress: own }, ...(own !== undefined && name !== undefined ? { setName: name } : {}), ...ip };
    if (b.add(dev, item.where)) links.set(id, { modelId, kind: 'ethernet', name: name ?? (checkIfName(id).ok ? id : undefined) });
  }
  // VLANs last: their name is PARENT.ID, after the parent's guest name when the document has one
  for (const v of vlans) {
    const linkV = v.m.get('vlan_link');
    const idV = v.m.get('vlan_id');
    const parentId = linkV?.text('a link id');
    const vlanId = idV?.int(0, 4094, 'a VLAN id');
    const vmac = mac(v.m, 'vlan_mac_address');
    const emac = mac(v.m, 'ethernet_mac_address');
    if (parentId === undefined || vlanId === undefined) {
      if (linkV === undefined || idV === undefined) v.item.invalid(`the vlan link ${JSON.stringify(v.id)} needs vlan_link and vlan_id; not configured`);
      v.item.cover();
      continue;
    }
    const parent = links.get(parentId);
    if (parent === undefined) {
      linkV?.invalid(`${linkV.shown()} is not a link of this document; the VLAN is not configured`);
      v.item.cover();
      continue;
    }
    const derived = parent.name === undefined ? undefined : `${parent.name}.${vlanId}`;
    const modelId = v.name ?? (derived !== undefined && checkIfName(derived).ok ? derived : `vlan${vlanId}`);
    const ip = emptyIp();
    if (v.mtu !== undefined) ip.mtu = v.mtu;
    const own = vmac ?? emac;
    const dev: DraftDevice = { kind: 'vlan', id: modelId, vlanId, link: parent.modelId, ...ip, ...(own === undefined ? {} : { macaddress: own }) };
    b.reference(modelId, parent.modelId, 'link', linkV?.where ?? v.item.where);
    if (b.add(dev, v.item.where)) links.set(v.id, { modelId, kind: 'vlan', name: modelId });
  }
  for (const p of pendingMembers) {
    const bond = b.get(p.bond);
    const member = links.get(p.link);
    if (bond?.kind !== 'bond') continue;
    bond.interfaces = bond.interfaces.map((x) => (x === p.link ? (member?.modelId ?? x) : x));
    b.reference(p.bond, member?.modelId ?? p.link, 'member', p.where);
  }
  for (const item of top.get('networks')?.items() ?? []) {
    const m = item.map('a network (a JSON object)');
    if (m === undefined) continue;
    m.unused('id', 'the network id; nothing to apply');
    m.unused('network_id', "the Neutron network's id; nothing to apply");
    const linkV = m.get('link');
    const linkId = linkV?.text('a link id');
    const link = linkId === undefined ? undefined : links.get(linkId);
    const dev = link === undefined ? undefined : b.get(link.modelId);
    if (linkV === undefined || linkId === undefined || dev === undefined) {
      if (linkV === undefined) item.invalid('a network without a link; not configured');
      else if (linkId !== undefined) linkV.invalid(`${linkV.shown()} is not a configured link of this document; this network is not configured`);
      item.cover();
      continue;
    }
    const typeV = m.get('type');
    const type = typeV?.text('a network type');
    if (type === undefined || !NETWORK_TYPES.includes(type)) {
      if (typeV === undefined) item.invalid('a network without a type; not configured');
      else if (type !== undefined) typeV.unsupported(`network type ${typeV.shown()} is not supported (${NETWORK_TYPES.join(', ')}); this network is not configured`);
      item.cover();
      continue;
    }
    const metricV = m.get('metric');
    const metric = metricV === undefined || metricV.isNull() ? undefined : metricV.int(0, UINT32_MAX, 'a metric');
    const addressV = m.get('ip_address');
    const maskV = m.getAny(['netmask', 'prefix']);
    const gatewayV = m.get('gateway');
    const isStatic = ['ipv4', 'static', 'ipv6', 'static6'].includes(type);
    // a DHCP network's metric is its DHCP client's route metric (cloud-init: dhcp4/dhcp6-overrides route-metric)
    if (type === 'ipv4_dhcp') {
      dev.dhcp4 = true;
      if (metric !== undefined) dev.dhcp4Overrides = { ...dev.dhcp4Overrides, routeMetric: metric };
    } else if (type === 'ipv6_dhcp' || type === 'ipv6_dhcpv6-stateful' || type === 'ipv6_dhcpv6-stateless') {
      dev.dhcp6 = true;
      dev.acceptRa = true;
      if (metric !== undefined) dev.dhcp6Overrides = { ...dev.dhcp6Overrides, routeMetric: metric };
    } else if (type === 'ipv6_slaac') {
      dev.acceptRa = true;
      if (metric !== undefined) {
        const own = m.get('routes')?.isSeq() === true ? " (it applies to this network's own routes)" : '';
        metricV?.unsupported(`a metric for the routes of router advertisements is not supported${own}: the model has no RA route metric (cloud-init's netplan output gives it to DHCPv6, which it turns on for SLAAC)`);
      }
    }
    if (isStatic) {
      const text = addressV?.text('an IP address');
      const given = maskV === undefined || maskV.isNull() ? undefined : maskV.text('a netmask or prefix');
      // an empty netmask is no netmask: cloud-init drops empty keys, then defaults to /24 or /64
      const mask = given === '' ? undefined : given;
      if (addressV === undefined) item.invalid(`a ${type} network without ip_address; its address is not configured`);
      else if (text !== undefined) {
        const a = checkAddress(text, mask, true);
        if (a.ok) {
          if (given === '' && !text.includes('/')) maskV?.unused(`empty: ${a.value.address} gets the default prefix /${a.value.prefix} of IPv${a.value.family}, as cloud-init gives it`);
          else if (given !== undefined && text.includes('/')) maskV?.unused(`not used: the address ${addressV.shown()} has its own prefix, which wins (as in cloud-init)`);
          addAddress(dev, a.value);
          // a static IPv6 address turns router advertisements off (cloud-init's reading)
          if (a.value.family === 6) dev.acceptRa = false;
        } else addressV.invalid(`${addressV.shown()}${mask === undefined ? '' : ` with netmask ${JSON.stringify(mask)}`} ${a.reason}; skipped`);
      }
      const g = gatewayV === undefined || gatewayV.isNull() ? undefined : gatewayV.text('an IP address');
      if (gatewayV !== undefined && g !== undefined) {
        const r = checkIp(g);
        if (r.ok) addRoute(dev, defaultRoute(r.value.address, r.value.family, metric));
        else gatewayV.invalid(`${gatewayV.shown()} ${r.reason}; skipped`);
      }
    } else {
      for (const [key, x] of [['ip_address', addressV], ['netmask', maskV], ['gateway', gatewayV]] as const) x?.unused(`${key} has no meaning on a ${type} network; not used`);
    }
    for (const r of m.get('routes')?.items() ?? []) {
      // DNS servers may sit on a route ({network, netmask, gateway, services: [dns…]})
      const services = r.isMap() ? r.map()?.get('services') : undefined;
      if (services !== undefined) readServices(services, { addresses: dev.nameservers.addresses });
      const route = readV1Route(r, metric);
      if (route !== undefined) addRoute(dev, route);
    }
    const services = m.get('services');
    if (services !== undefined) readServices(services, { addresses: dev.nameservers.addresses });
    const dns = m.get('dns_nameservers');
    if (dns !== undefined) readNameservers(dns, dev.nameservers.addresses);
    const search = m.get('dns_search');
    if (search !== undefined) readSearch(search, dev.nameservers.search);
    m.unsupported('broadcast', 'broadcast is not supported: the broadcast address follows from the prefix');
  }
  const services = top.get('services');
  if (services !== undefined) readServices(services, b.nameservers);
  tracker.finish(root, knownKeys);
  const built = b.build();
  return { model: built.model, notes: sortNotes([...tracker.notes, ...built.notes]) };
}

function knownKeys(path: string): readonly string[] {
  if (/^links\[\d+\]$/u.test(path)) return ['id', 'type', 'ethernet_mac_address', 'mtu', 'vif_id', 'name', 'bond_links', 'bond_mode', 'bond_miimon', 'bond_xmit_hash_policy', 'vlan_link', 'vlan_id', 'vlan_mac_address'];
  if (/^networks\[\d+\]$/u.test(path)) return ['id', 'network_id', 'link', 'type', 'ip_address', 'netmask', 'routes', 'services', 'dns_nameservers', 'dns_search', 'gateway', 'metric'];
  if (/^networks\[\d+\]\.routes\[\d+\]$/u.test(path)) return ['network', 'netmask', 'gateway', 'metric', 'services'];
  if (/^(networks\[\d+\]\.(routes\[\d+\]\.)?)?services\[\d+\]$/u.test(path)) return ['type', 'address', 'search'];
  if (path === '') return ['links', 'networks', 'services'];
  return [];
}
