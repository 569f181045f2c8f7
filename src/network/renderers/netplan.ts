// netplan v2 renderer for the NetModel: one /etc/netplan/50-vmctx.yaml (mode 0600, as netplan
// requires), written with the yaml package in a fixed key order. Pure: model → file + notes.
//
// The model is netplan-shaped, so nearly everything maps 1:1. What netplan has no place for is
// noted: IP settings on a bond/bridge member, global routes whose gateway no interface reaches. Global
// nameservers (netplan has only per-interface ones) go on every interface with IP configuration.
import { stringify } from 'yaml';
import type { BondDevice, BridgeDevice, Device, DhcpOverrides, EthernetDevice, IpSettings, NetModel, RouteSpec, VlanDevice } from '../netmodel.js';
import { HEADER, Notes, cidr, devicePath, hasL3, isMember, placeGlobalRoutes, stripMemberIp, type RenderedFile, type RenderedNetwork } from './common.js';

export const NETPLAN_FILE = '/etc/netplan/50-vmctx.yaml';

type Obj = Record<string, unknown>;

/** An object without its undefined values and empty lists/objects (netplan needs neither). */
function compact(entries: readonly (readonly [string, unknown])[]): Obj {
  const out: Obj = {};
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    // an empty link-local list means "none" and is kept; other empty lists mean nothing
    if (Array.isArray(v) && v.length === 0 && k !== 'link-local') continue;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

function overrides(o: DhcpOverrides | undefined): Obj | undefined {
  if (o === undefined) return undefined;
  return compact([
    ['route-metric', o.routeMetric], ['use-dns', o.useDns], ['use-ntp', o.useNtp], ['use-hostname', o.useHostname],
    ['use-domains', o.useDomains], ['use-mtu', o.useMtu], ['use-routes', o.useRoutes], ['send-hostname', o.sendHostname], ['hostname', o.hostname],
  ]);
}

function route(r: RouteSpec): Obj {
  return compact([
    // 0.0.0.0/0 and ::/0 rather than "default", which netplan before 0.103 does not know
    ['to', cidr(r.to)], ['via', r.via], ['from', r.from], ['metric', r.metric], ['table', r.table],
    ['scope', r.scope], ['on-link', r.onLink], ['mtu', r.mtu],
  ]);
}

/**
 * netplan's networkd backend refuses a file whose device has dhcp4 and dhcp6 on with different
 * overrides (networkd has one [DHCP] set for both). Each disagreeing key is written as dhcp4's value
 * (dhcp6's where dhcp4 has none) in both, and noted on the dhcp6 (or dhcp4) side it changed.
 */
function agreeOverrides(d: Device, ip: IpSettings, model: NetModel, notes: Notes): IpSettings {
  if (!ip.dhcp4 || !ip.dhcp6 || model.renderer === 'NetworkManager') return ip;
  const o4 = overrides(ip.dhcp4Overrides) ?? {};
  const o6 = overrides(ip.dhcp6Overrides) ?? {};
  const keys = [...new Set([...Object.keys(o4), ...Object.keys(o6)])];
  if (keys.every((k) => o4[k] === o6[k])) return ip;
  const merged = { ...ip.dhcp6Overrides, ...ip.dhcp4Overrides };
  for (const k of keys) {
    if (o4[k] === o6[k]) continue;
    const side = k in o4 ? 'dhcp6' : 'dhcp4';
    const value = k in o4 ? o4[k] : o6[k];
    notes.add(`${devicePath(d)}.${side}-overrides.${k}`, `netplan (networkd backend) needs dhcp4-overrides and dhcp6-overrides to agree when dhcp4 and dhcp6 are both on; written as ${JSON.stringify(value)} for both`);
  }
  return { ...ip, dhcp4Overrides: merged, dhcp6Overrides: merged };
}

function ipKeys(ip: IpSettings, routes: readonly RouteSpec[], dns: { addresses: readonly string[]; search: readonly string[] }): (readonly [string, unknown])[] {
  return [
    ['dhcp4', ip.dhcp4 ? true : undefined],
    ['dhcp6', ip.dhcp6 ? true : undefined],
    ['accept-ra', ip.acceptRa],
    ['dhcp4-overrides', overrides(ip.dhcp4Overrides)],
    ['dhcp6-overrides', overrides(ip.dhcp6Overrides)],
    ['link-local', ip.linkLocal === undefined ? undefined : [...ip.linkLocal]],
    ['addresses', ip.addresses.map(cidr)],
    ['routes', routes.map(route)],
    ['nameservers', compact([['addresses', [...dns.addresses]], ['search', [...dns.search]]])],
    ['mtu', ip.mtu],
    ['macaddress', ip.macaddress],
    ['optional', ip.optional],
  ];
}

/** The netplan file for a model, and a note for each thing netplan cannot be told. */
export function renderNetplan(model: NetModel): RenderedNetwork {
  const notes = new Notes('netplan');
  const globalRoutes = placeGlobalRoutes(model, notes);
  const global = model.nameservers;
  const carriers = model.devices.filter((d) => !isMember(model, d) && hasL3(d));
  if ((global.addresses.length > 0 || global.search.length > 0) && carriers.length === 0) {
    notes.add('nameservers', 'netplan has only per-interface nameservers and no interface here has IP configuration to carry the global ones; not written');
  }
  const dnsFor = (d: Device, ip: IpSettings): { addresses: string[]; search: string[] } => {
    const extra = carriers.includes(d) ? global : { addresses: [], search: [] };
    return { addresses: [...new Set([...ip.nameservers.addresses, ...extra.addresses])], search: [...new Set([...ip.nameservers.search, ...extra.search])] };
  };
  const body = (d: Device): Obj => {
    const ip = agreeOverrides(d, stripMemberIp(model, d, notes), model, notes);
    const common = ipKeys(ip, [...ip.routes, ...(globalRoutes.get(d.id) ?? [])], dnsFor(d, ip));
    let head: (readonly [string, unknown])[] = [];
    let tail: (readonly [string, unknown])[] = [];
    if (d.kind === 'ethernet') head = ethernetHead(d);
    else if (d.kind === 'bond') tail = bondTail(d);
    else if (d.kind === 'bridge') tail = bridgeTail(d);
    else head = vlanHead(d);
    return compact([...head, ...tail, ...common]);
  };
  const group = (kind: Device['kind']): Obj | undefined => {
    const ds = model.devices.filter((d) => d.kind === kind);
    return ds.length === 0 ? undefined : Object.fromEntries(ds.map((d) => [d.id, body(d)]));
  };
  const files = new Map<string, RenderedFile>();
  if (model.devices.length === 0) {
    if (model.routes.length > 0 || global.addresses.length > 0 || global.search.length > 0) notes.add('', 'the document defines no interface; nothing written');
    return { files, notes: notes.list };
  }
  const doc = {
    network: compact([
      ['version', 2],
      ['renderer', model.renderer],
      ['ethernets', group('ethernet')],
      ['bonds', group('bond')],
      ['bridges', group('bridge')],
      ['vlans', group('vlan')],
    ]),
  };
  // YAML 1.1 rules, so a reader of either version sees strings: "yes", MACs of digits (sexagesimal) are quoted
  const text = stringify(doc, { version: '1.1', indent: 2, lineWidth: 0 });
  files.set(NETPLAN_FILE, { content: `# ${HEADER}\n${text}`, mode: 0o600 });
  return { files, notes: notes.list };
}

function ethernetHead(d: EthernetDevice): (readonly [string, unknown])[] {
  return [
    ['match', compact([['macaddress', d.match.macaddress], ['name', d.match.name], ['driver', d.match.driver]])],
    ['set-name', d.setName],
    ['wakeonlan', d.wakeOnLan],
  ];
}

function bondTail(d: BondDevice): (readonly [string, unknown])[] {
  const p = d.parameters;
  return [
    ['interfaces', [...d.interfaces]],
    ['parameters', compact([
      ['mode', p.mode], ['lacp-rate', p.lacpRate], ['mii-monitor-interval', p.miiMonitorInterval], ['min-links', p.minLinks],
      ['transmit-hash-policy', p.transmitHashPolicy], ['ad-select', p.adSelect], ['all-slaves-active', p.allSlavesActive],
      ['arp-interval', p.arpInterval], ['arp-ip-targets', p.arpIpTargets === undefined ? undefined : [...p.arpIpTargets]], ['arp-validate', p.arpValidate],
      ['arp-all-targets', p.arpAllTargets], ['up-delay', p.upDelay], ['down-delay', p.downDelay], ['fail-over-mac-policy', p.failOverMacPolicy],
      ['gratuitous-arp', p.gratuitousArp], ['packets-per-slave', p.packetsPerSlave], ['primary-reselect-policy', p.primaryReselectPolicy],
      ['learn-packet-interval', p.learnPacketInterval], ['primary', p.primary],
    ])],
  ];
}

function bridgeTail(d: BridgeDevice): (readonly [string, unknown])[] {
  const p = d.parameters;
  return [
    ['interfaces', [...d.interfaces]],
    ['parameters', compact([
      ['ageing-time', p.ageingTime], ['priority', p.priority], ['forward-delay', p.forwardDelay], ['hello-time', p.helloTime],
      ['max-age', p.maxAge], ['stp', p.stp], ['path-cost', p.pathCost === undefined ? undefined : { ...p.pathCost }],
      ['port-priority', p.portPriority === undefined ? undefined : { ...p.portPriority }],
    ])],
  ];
}

function vlanHead(d: VlanDevice): (readonly [string, unknown])[] {
  return [['id', d.vlanId], ['link', d.link]];
}
