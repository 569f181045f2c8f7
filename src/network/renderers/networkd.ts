// systemd-networkd renderer for the NetModel: .netdev (bond/bridge/VLAN), .network (every device),
// .link (set-name, wake-on-LAN) and a resolved.conf drop-in (global DNS). Pure: model → files + notes.
//
// Files are /etc/systemd/network/10-vmctx-NN-ID.{netdev,network,link}. NN orders them: created
// devices (bond/bridge/VLAN, in dependency order) before ethernets, so a created device's own
// .network (matched by its exact Name=) is read before an ethernet's glob could claim it — networkd
// uses the first .network that matches. Ethernets found by MAC match PermanentMACAddress= (systemd
// ≥ 245): a bond's ports take the bond's MAC and a VLAN inherits its parent's, so MACAddress= would
// match the wrong link or lose the port after enslavement.
import { dependencyOrder, masterOf, vlansOn, type BondDevice, type BridgeDevice, type Device, type DhcpOverrides, type EthernetDevice, type IpSettings, type NetModel, type RouteSpec, type VlanDevice } from '../netmodel.js';
import { HEADER, Notes, cidr, devicePath, placeGlobalRoutes, stripMemberIp, type RenderedFile, type RenderedNetwork } from './common.js';

export const NETWORKD_DIR = '/etc/systemd/network';
export const RESOLVED_DROPIN = '/etc/systemd/resolved.conf.d/50-vmctx.conf';
/** Files this renderer owns (for the module that removes the ones no longer rendered). */
export const NETWORKD_OWNED = /^10-vmctx-\d{2,}-[A-Za-z0-9_.@-]+\.(network|netdev|link)$/u;

type Entry = readonly [string, string | number | boolean | undefined];
type Section = readonly [string, readonly Entry[]];

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const val = (v: string | number | boolean): string => (typeof v === 'boolean' ? yesNo(v) : String(v));

/** An INI file: sections with no set entry are left out, except those named in `always`. */
function ini(comment: readonly string[], sections: readonly Section[], always: readonly string[] = []): string {
  const out = comment.map((c) => `# ${c}`);
  for (const [name, entries] of sections) {
    const set = entries.filter((e): e is readonly [string, string | number | boolean] => e[1] !== undefined);
    if (set.length === 0 && !always.includes(name)) continue;
    out.push('', `[${name}]`, ...set.map(([k, v]) => `${k}=${val(v)}`));
  }
  return `${out.join('\n')}\n`;
}

/** A file name part from an id: the characters networkd file names keep, others as "_". */
const safe = (id: string): string => id.replace(/[^A-Za-z0-9_.@-]/gu, '_');
const ms = (n: number | undefined): string | undefined => (n === undefined ? undefined : `${n}ms`);
const sec = (n: number | undefined): string | undefined => (n === undefined ? undefined : `${n}s`);

function routeSection(r: RouteSpec): Section {
  return ['Route', [
    ['Destination', cidr(r.to)], ['Gateway', r.via], ['PreferredSource', r.from], ['Metric', r.metric], ['Table', r.table],
    ['Scope', r.scope], ['GatewayOnLink', r.onLink], ['MTUBytes', r.mtu],
  ]];
}

function dhcpSections(d: Device, ip: IpSettings, notes: Notes): Section[] {
  const path = devicePath(d);
  const out: Section[] = [];
  const unused = (family: 4 | 6, o: DhcpOverrides | undefined, on: boolean): boolean => {
    if (o === undefined || on) return false;
    notes.add(`${path}.dhcp${family}-overrides`, `dhcp${family} is off on ${JSON.stringify(d.id)}, so its overrides have nothing to act on`);
    return true;
  };
  const o4 = ip.dhcp4Overrides;
  if (o4 !== undefined && !unused(4, o4, ip.dhcp4)) {
    out.push(['DHCPv4', [
      ['RouteMetric', o4.routeMetric], ['UseDNS', o4.useDns], ['UseNTP', o4.useNtp], ['UseHostname', o4.useHostname],
      ['UseDomains', o4.useDomains], ['UseMTU', o4.useMtu], ['UseRoutes', o4.useRoutes], ['SendHostname', o4.sendHostname], ['Hostname', o4.hostname],
    ]]);
  }
  const o6 = ip.dhcp6Overrides;
  const v6: Entry[] = [];
  const ra: Entry[] = [];
  if (o6 !== undefined && !unused(6, o6, ip.dhcp6)) {
    v6.push(['UseDNS', o6.useDns], ['UseNTP', o6.useNtp], ['UseHostname', o6.useHostname], ['UseDomains', o6.useDomains]);
    // IPv6 routes and MTU come from router advertisements, not DHCPv6: networkd sets them there
    ra.push(['RouteMetric', o6.routeMetric], ['UseMTU', o6.useMtu]);
    const cannot: [keyof DhcpOverrides, string, string][] = [
      ['useRoutes', 'use-routes', 'DHCPv6 carries no routes (they come from router advertisements), and networkd has no switch for it'],
      ['sendHostname', 'send-hostname', 'networkd sends a hostname from its DHCPv4 client only'],
      ['hostname', 'hostname', 'networkd sends a hostname from its DHCPv4 client only'],
    ];
    for (const [k, key, why] of cannot) if (o6[k] !== undefined) notes.add(`${path}.dhcp6-overrides.${key}`, `networkd's [DHCPv6] has no ${key}: ${why}`);
  }
  // with router advertisements off, the DHCPv6 client must solicit on its own
  if (ip.dhcp6 && ip.acceptRa === false) v6.push(['WithoutRA', 'solicit']);
  out.push(['DHCPv6', v6], ['IPv6AcceptRA', ra]);
  return out;
}

function networkFile(model: NetModel, d: Device, ip: IpSettings, extraRoutes: readonly RouteSpec[], notes: Notes): string {
  const match: Entry[] = d.kind === 'ethernet' ? ethernetMatch(d) : [['Name', d.id]];
  const master = masterOf(model, d.id);
  const dhcp = ip.dhcp4 && ip.dhcp6 ? 'yes' : ip.dhcp4 ? 'ipv4' : ip.dhcp6 ? 'ipv6' : undefined;
  const ll = ip.linkLocal === undefined ? undefined : ip.linkLocal.length === 2 ? 'yes' : ip.linkLocal.length === 0 ? 'no' : ip.linkLocal[0];
  const network: Entry[] = [
    ['DHCP', dhcp],
    ['LinkLocalAddressing', ll],
    ['IPv6AcceptRA', ip.acceptRa],
    ...ip.addresses.map((a): Entry => ['Address', cidr(a)]),
    ...ip.nameservers.addresses.map((s): Entry => ['DNS', s]),
    ['Domains', ip.nameservers.search.length > 0 ? ip.nameservers.search.join(' ') : undefined],
    ...vlansOn(model, d.id).map((v): Entry => ['VLAN', v.id]),
    [master?.kind === 'bond' ? 'Bond' : 'Bridge', master?.id],
    ['PrimarySlave', master?.kind === 'bond' && master.parameters.primary === d.id ? true : undefined],
  ];
  const port: Entry[] = master?.kind === 'bridge' ? [['Cost', master.parameters.pathCost?.[d.id]], ['Priority', master.parameters.portPriority?.[d.id]]] : [];
  const sections: Section[] = [
    ['Match', match],
    ['Link', [['MACAddress', d.kind === 'ethernet' ? ip.macaddress : undefined], ['MTUBytes', ip.mtu], ['RequiredForOnline', ip.optional === true ? false : undefined]]],
    ['Network', network],
    ...dhcpSections(d, ip, notes),
    ['Bridge', port],
    ...[...ip.routes, ...extraRoutes].map(routeSection),
  ];
  return ini([HEADER, `${devicePath(d)}${d.kind === 'ethernet' && d.setName !== undefined ? ` (renamed ${d.setName})` : ''}`], sections, ['Match', 'Network']);
}

function ethernetMatch(d: EthernetDevice): Entry[] {
  const m = d.match;
  const name = d.setName ?? m.name;
  const out: Entry[] = [['PermanentMACAddress', m.macaddress], ['Driver', m.driver], ['Name', name]];
  // a match with no criteria matches every NIC: say so without also matching lo and created devices
  return m.macaddress === undefined && m.driver === undefined && name === undefined ? [['Type', 'ether']] : out;
}

function linkFile(d: EthernetDevice): string | undefined {
  if (d.setName === undefined && d.wakeOnLan === undefined) return undefined;
  const m = d.match;
  return ini([HEADER, `${devicePath(d)}: ${d.setName === undefined ? 'wake-on-LAN' : `named ${d.setName}`}`], [
    ['Match', m.macaddress === undefined && m.name === undefined && m.driver === undefined ? [['Type', 'ether']] : [['PermanentMACAddress', m.macaddress], ['OriginalName', m.name], ['Driver', m.driver]]],
    // the first matching .link wins: without a name of ours, keep 99-default.link's naming policy
    ['Link', [['Name', d.setName], ['NamePolicy', d.setName === undefined ? 'keep kernel database onboard slot path' : undefined], ['WakeOnLan', d.wakeOnLan === undefined ? undefined : d.wakeOnLan ? 'magic' : 'off']]],
  ]);
}

function netdevFile(d: BondDevice | BridgeDevice | VlanDevice): string {
  const head: Section = ['NetDev', [['Name', d.id], ['Kind', d.kind], ['MACAddress', d.macaddress]]];
  let body: Section;
  if (d.kind === 'vlan') body = ['VLAN', [['Id', d.vlanId]]];
  else if (d.kind === 'bridge') {
    const p = d.parameters;
    body = ['Bridge', [['STP', p.stp], ['ForwardDelaySec', sec(p.forwardDelay)], ['HelloTimeSec', sec(p.helloTime)], ['MaxAgeSec', sec(p.maxAge)], ['AgeingTimeSec', sec(p.ageingTime)], ['Priority', p.priority]]];
  } else {
    const p = d.parameters;
    body = ['Bond', [
      ['Mode', p.mode], ['TransmitHashPolicy', p.transmitHashPolicy], ['LACPTransmitRate', p.lacpRate], ['MIIMonitorSec', ms(p.miiMonitorInterval)],
      ['UpDelaySec', ms(p.upDelay)], ['DownDelaySec', ms(p.downDelay)], ['LearnPacketIntervalSec', sec(p.learnPacketInterval)], ['AdSelect', p.adSelect],
      ['FailOverMACPolicy', p.failOverMacPolicy], ['ARPValidate', p.arpValidate], ['ARPIntervalSec', ms(p.arpInterval)],
      ['ARPIPTargets', p.arpIpTargets === undefined || p.arpIpTargets.length === 0 ? undefined : p.arpIpTargets.join(' ')], ['ARPAllTargets', p.arpAllTargets],
      ['PrimaryReselectPolicy', p.primaryReselectPolicy], ['GratuitousARP', p.gratuitousArp], ['PacketsPerSlave', p.packetsPerSlave],
      ['AllSlavesActive', p.allSlavesActive], ['MinLinks', p.minLinks],
    ]];
  }
  return ini([HEADER, devicePath(d)], [head, body]);
}

/** The networkd files for a model, and a note for each thing networkd cannot be told. */
export function renderNetworkd(model: NetModel): RenderedNetwork {
  const notes = new Notes('systemd-networkd');
  const files = new Map<string, RenderedFile>();
  if (model.renderer === 'NetworkManager') notes.add('renderer', 'the document asks for NetworkManager; rendered for systemd-networkd, the backend this guest runs');
  const globalRoutes = placeGlobalRoutes(model, notes);
  const ordered = [...dependencyOrder(model).filter((d) => d.kind !== 'ethernet'), ...model.devices.filter((d) => d.kind === 'ethernet')];
  const width = Math.max(2, String(ordered.length).length);
  ordered.forEach((d, i) => {
    const base = `${NETWORKD_DIR}/10-vmctx-${String(i + 1).padStart(width, '0')}-${safe(d.id)}`;
    const ip = stripMemberIp(model, d, notes);
    if (d.kind === 'ethernet') {
      const link = linkFile(d);
      if (link !== undefined) files.set(`${base}.link`, { content: link, mode: 0o644 });
    } else files.set(`${base}.netdev`, { content: netdevFile(d), mode: 0o644 });
    files.set(`${base}.network`, { content: networkFile(model, d, ip, globalRoutes.get(d.id) ?? [], notes), mode: 0o644 });
  });
  const dns = model.nameservers;
  if (dns.addresses.length > 0 || dns.search.length > 0) {
    files.set(RESOLVED_DROPIN, {
      content: ini([HEADER, 'the document\'s global nameservers (systemd-resolved)'], [['Resolve', [
        ['DNS', dns.addresses.length > 0 ? dns.addresses.join(' ') : undefined], ['Domains', dns.search.length > 0 ? dns.search.join(' ') : undefined],
      ]]]),
      mode: 0o644,
    });
  }
  return { files, notes: notes.list };
}
