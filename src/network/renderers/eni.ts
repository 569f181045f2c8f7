// ifupdown renderer for the NetModel: one /etc/network/interfaces.d/50-vmctx (Debian's
// /etc/network/interfaces syntax) and the order to `ifup` its interfaces in. Pure: model → file + notes.
//
// ifupdown configures interfaces BY NAME, so every stanza needs the kernel name (deviceName: a
// set-name, the name the live system gave the NIC, a match.name that is no glob; a created device's
// id). ifupdown renames nothing: a set-name is a udev rule in common.ts's RENAME_RULES_FILE (see
// there: which NICs, why udev, and that it applies as the NIC is added), so the stanzas use the new name. An ethernet with none is noted and not written, and so is what cannot exist without it (a VLAN
// on it); a bond or bridge loses it as a member (noted). Each interface gets one or more stanzas, in
// dependency order (members and VLAN parents before what uses them): IPv4 static (one per address),
// IPv4 dhcp, IPv6 static (one per address), IPv6 dhcp or auto (SLAAC), or `inet manual` when it has
// no address of its own. Link settings go on the first stanza: mtu, hwaddress, bonds by ifenslave
// (`bond-master` on each member, `bond-slaves none` and `bond-*` on the bond), bridges by
// bridge-utils (`bridge_ports`, `bridge_*`), VLANs by ifupdown itself when named PARENT.ID (else
// created by a pre-up `ip link add`), wake-on-LAN by ethtool's `ethernet-wol`. Routes are `post-up ip
// route add …` / `pre-down ip route del …` lines; DNS is `dns-nameservers` / `dns-search`, which
// ifupdown hands to resolvconf or systemd-resolved. Every value in a command line (ifupdown runs them
// with /bin/sh) is a checked token: an IP address, a number, an interface name, a keyword.
import { checkIp, dependencyOrder, masterOf, type BondDevice, type BridgeDevice, type Device, type DhcpOverrides, type IpAddress, type IpSettings, type NetModel, type RouteSpec, type VlanDevice } from '../netmodel.js';
import { HEADER, Notes, RENAME_OWNED, RENAME_RULES_FILE, cidr, devicePath, deviceName, hasL3, isMember, placeGlobalRoutes, planRenames, renameRulesFile, stripMemberIp, type GuestNames, type NicRename, type RenderedFile, type RenderedNetwork } from './common.js';

export const ENI_FILE = '/etc/network/interfaces.d/50-vmctx';
/**
 * The file this renderer owns (for the module that removes it when nothing is rendered); `also`: the
 * other files it may write, owned the same way (the udev rules file of set-name).
 */
export const ENI_OWNED = { dir: '/etc/network/interfaces.d', match: /^50-vmctx$/u, also: [RENAME_OWNED] };

const BACKEND = 'ifupdown';

/** A kernel interface name ifupdown and a shell line can both carry: no colon (an ifupdown alias), no quoting needed. */
const isIfName = (s: string): boolean => /^[A-Za-z0-9_.-]{1,15}$/u.test(s) && s !== '.' && s !== '..';
/** An IP address written back in its checked form; undefined when it is none. */
const ipToken = (s: string): string | undefined => {
  const r = checkIp(s);
  return r.ok && r.value.address === s ? s : undefined;
};
const intToken = (n: number | undefined): string | undefined => (n !== undefined && Number.isSafeInteger(n) && n >= 0 ? String(n) : undefined);
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u;
const DOMAIN = /^[A-Za-z0-9_.-]{1,253}$/u;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/u;

interface Stanza {
  readonly family: 'inet' | 'inet6';
  readonly method: 'static' | 'dhcp' | 'auto' | 'manual';
  readonly options: string[];
}

/** Which devices can be written, and under which kernel name; the rest noted once. */
function writableNames(model: NetModel, names: GuestNames | undefined, notes: Notes): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dependencyOrder(model)) {
    const path = devicePath(d);
    const name = deviceName(d, names);
    if (d.kind === 'ethernet' && name === undefined) {
      const how = d.match.macaddress !== undefined ? 'MAC' : d.match.driver !== undefined ? 'driver' : 'a name glob';
      notes.add(path, `${JSON.stringify(d.id)} is matched by ${how} only and the live system did not name it; ifupdown configures interfaces by name: not written`);
      continue;
    }
    if (name === undefined || !isIfName(name)) {
      notes.add(path, `${JSON.stringify(name ?? d.id)} is not an interface name ifupdown can configure (1 to 15 letters, digits, "_", "." or "-"): not written`);
      continue;
    }
    if ([...out.values()].includes(name)) {
      notes.add(path, `another device is already written as the interface ${JSON.stringify(name)}: not written`);
      continue;
    }
    if (d.kind === 'vlan') {
      const parent = out.get(d.link);
      if (parent === undefined) {
        notes.add(path, `the VLAN's parent ${JSON.stringify(d.link)} is not written, so the VLAN cannot be created: not written`);
        continue;
      }
      // ifupdown itself creates "A.N" as VLAN N on A: any other A or N would make the wrong VLAN
      const dotted = /^(.+)\.(\d+)$/u.exec(name);
      if (dotted !== null && name !== `${parent}.${d.vlanId}`) {
        notes.add(path, `ifupdown would create ${JSON.stringify(name)} as VLAN ${Number(dotted[2])} on ${JSON.stringify(dotted[1])}, not VLAN ${d.vlanId} on ${JSON.stringify(parent)}: not written`);
        continue;
      }
    }
    out.set(d.id, name);
  }
  return out;
}

/** The notes for what of an ethernet's match and naming the by-name file does not keep. */
function matchNotes(d: Device, name: string, names: GuestNames | undefined, rename: NicRename | undefined, refused: string | undefined, notes: Notes): void {
  if (d.kind !== 'ethernet') return;
  const path = devicePath(d);
  const m = d.match;
  const live = names?.get(d.id) !== undefined && d.setName === undefined;
  const why = `ifupdown configures interfaces by name: written for ${JSON.stringify(name)}${live ? ', the name the live system gives this NIC now' : ''}; the file does not keep this match`;
  // a renamed NIC is found by the udev rule's MAC and driver; the rule does not look at its name
  if (m.macaddress !== undefined && rename?.macaddress === undefined) notes.add(`${path}.match.macaddress`, why);
  if (m.driver !== undefined && rename?.driver === undefined) notes.add(`${path}.match.driver`, why);
  if (m.name !== undefined && m.name !== name) notes.add(`${path}.match.name`, rename === undefined ? why : `the udev rule renames the NIC found by its ${rename.macaddress === undefined ? 'driver' : 'MAC'}, whatever its name: the match ${JSON.stringify(m.name)} is not kept`);
  if (refused !== undefined) notes.add(`${path}.set-name`, `not renamed (${refused}): written for ${JSON.stringify(name)}, which applies only if the NIC has that name`);
}

/** `ip route` arguments for a route on `dev`; undefined (and a note) when a value is no safe token. */
function routeArgs(r: RouteSpec, dev: string, path: string, notes: Notes): string[] | undefined {
  const to = ipToken(r.to.address);
  const via = r.via === undefined ? undefined : ipToken(r.via);
  const from = r.from === undefined ? undefined : ipToken(r.from);
  const bad = to === undefined || (r.via !== undefined && via === undefined) || (r.from !== undefined && from === undefined)
    || [r.metric, r.table, r.mtu].some((n) => n !== undefined && intToken(n) === undefined) || !Number.isInteger(r.to.prefix)
    || (r.scope !== undefined && !['global', 'link', 'host'].includes(r.scope));
  if (bad) {
    notes.add(path, `the route to ${cidr(r.to)} has a value that is not a plain address or number; ifupdown runs its route commands with a shell: not written`);
    return undefined;
  }
  return [
    ...(r.to.family === 6 ? ['-6'] : []), 'route', 'ACTION', r.to.prefix === 0 ? 'default' : `${to}/${r.to.prefix}`,
    ...(via === undefined ? [] : ['via', via]), 'dev', dev,
    ...(from === undefined ? [] : ['src', from]), ...(r.metric === undefined ? [] : ['metric', String(r.metric)]),
    ...(r.table === undefined ? [] : ['table', String(r.table)]), ...(r.scope === undefined ? [] : ['scope', r.scope]),
    ...(r.mtu === undefined ? [] : ['mtu', String(r.mtu)]), ...(r.onLink === true ? ['onlink'] : []),
  ];
}

/** DHCP options ifupdown's dhcp method has (metric, hostname); each other override noted. */
function dhcpOptions(d: Device, family: 4 | 6, on: boolean, o: DhcpOverrides | undefined, notes: Notes): string[] {
  if (o === undefined) return [];
  const path = `${devicePath(d)}.dhcp${family}-overrides`;
  if (!on) {
    notes.add(path, `dhcp${family} is off on ${JSON.stringify(d.id)}, so its overrides have nothing to act on`);
    return [];
  }
  const out: string[] = [];
  const keys: [keyof DhcpOverrides, string][] = [
    ['routeMetric', 'route-metric'], ['useDns', 'use-dns'], ['useNtp', 'use-ntp'], ['useHostname', 'use-hostname'], ['useDomains', 'use-domains'],
    ['useMtu', 'use-mtu'], ['useRoutes', 'use-routes'], ['sendHostname', 'send-hostname'], ['hostname', 'hostname'],
  ];
  for (const [k, key] of keys) {
    const v = o[k];
    if (v === undefined) continue;
    if (family === 4 && k === 'routeMetric' && intToken(o.routeMetric) !== undefined) out.push(`metric ${o.routeMetric}`);
    else if (family === 4 && k === 'hostname' && typeof v === 'string' && HOSTNAME.test(v)) out.push(`hostname ${v}`);
    else notes.add(`${path}.${key}`, `ifupdown's ${family === 4 ? 'inet' : 'inet6'} dhcp method has no ${key} option (the DHCP client's own configuration decides it): not written`);
  }
  return out;
}

function bondOptions(d: BondDevice, nameOf: (id: string) => string | undefined): string[] {
  const p = d.parameters;
  const opts: [string, string | number | boolean | readonly string[] | undefined][] = [
    ['bond-mode', p.mode], ['bond-lacp-rate', p.lacpRate], ['bond-miimon', p.miiMonitorInterval], ['bond-min-links', p.minLinks],
    ['bond-xmit-hash-policy', p.transmitHashPolicy], ['bond-ad-select', p.adSelect], ['bond-all-slaves-active', p.allSlavesActive],
    ['bond-arp-interval', p.arpInterval], ['bond-arp-ip-target', p.arpIpTargets], ['bond-arp-validate', p.arpValidate],
    ['bond-arp-all-targets', p.arpAllTargets], ['bond-updelay', p.upDelay], ['bond-downdelay', p.downDelay],
    ['bond-fail-over-mac', p.failOverMacPolicy], ['bond-num-grat-arp', p.gratuitousArp], ['bond-packets-per-slave', p.packetsPerSlave],
    ['bond-primary-reselect', p.primaryReselectPolicy], ['bond-lp-interval', p.learnPacketInterval],
    ['bond-primary', p.primary === undefined ? undefined : nameOf(p.primary)],
  ];
  const out = ['bond-slaves none'];
  for (const [k, v] of opts) {
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      const ips = v.filter((x): x is string => typeof x === 'string' && ipToken(x) !== undefined);
      if (ips.length > 0) out.push(`${k} ${ips.join(' ')}`);
    } else out.push(`${k} ${typeof v === 'boolean' ? (v ? 1 : 0) : String(v)}`);
  }
  return out;
}

function bridgeOptions(d: BridgeDevice, ports: readonly string[]): string[] {
  const p = d.parameters;
  const opts: [string, string | number | undefined][] = [
    ['bridge_ports', ports.length > 0 ? ports.join(' ') : 'none'], ['bridge_stp', p.stp === undefined ? undefined : p.stp ? 'on' : 'off'],
    ['bridge_fd', p.forwardDelay], ['bridge_hello', p.helloTime], ['bridge_maxage', p.maxAge], ['bridge_ageing', p.ageingTime], ['bridge_bridgeprio', p.priority],
  ];
  return opts.filter((o): o is [string, string | number] => o[1] !== undefined).map(([k, v]) => `${k} ${v}`);
}

/** The ENI file for a model, and a note for each thing ifupdown cannot be told. */
export function renderEni(model: NetModel, names?: GuestNames): RenderedNetwork {
  const notes = new Notes(BACKEND);
  const files = new Map<string, RenderedFile>();
  if (model.renderer !== undefined) notes.add('renderer', `the document asks for ${model.renderer}; rendered for ifupdown, the backend this guest runs`);
  const written = writableNames(model, names, notes);
  const { renames, refused } = planRenames(model);
  const nameOf = (id: string): string | undefined => written.get(id);
  const globalRoutes = placeGlobalRoutes(model, notes);
  model.routes.forEach((r, i) => {
    for (const [id, rs] of globalRoutes) {
      if (rs.includes(r) && !written.has(id)) notes.add(`routes[${i}]`, `the route to ${cidr(r.to)} belongs on ${JSON.stringify(id)}, which is not written`);
    }
  });
  const global = model.nameservers;
  const carriers = model.devices.filter((d) => written.has(d.id) && !isMember(model, d) && hasL3(d));
  if ((global.addresses.length > 0 || global.search.length > 0) && carriers.length === 0) {
    notes.add('nameservers', 'ifupdown has only per-interface nameservers (dns-nameservers) and no written interface has IP configuration to carry the global ones: not written');
  }
  const sections: string[] = [];
  for (const d of dependencyOrder(model)) {
    const name = written.get(d.id);
    if (name === undefined) continue;
    matchNotes(d, name, names, renames.get(d.id), refused.get(d.id), notes);
    const ip = stripMemberIp(model, d, notes);
    const routes = [...ip.routes, ...(globalRoutes.get(d.id) ?? [])];
    const dns = carriers.includes(d) ? { addresses: [...new Set([...ip.nameservers.addresses, ...global.addresses])], search: [...new Set([...ip.nameservers.search, ...global.search])] } : ip.nameservers;
    sections.push(deviceText(model, d, name, ip, routes, dns, nameOf, notes));
  }
  if (sections.length > 0) files.set(ENI_FILE, { content: `# ${HEADER}\n${sections.join('')}`, mode: 0o644 });
  const rules = renameRulesFile(model, renames);
  if (rules !== undefined) files.set(RENAME_RULES_FILE, rules);
  return { files, notes: notes.list };
}

function deviceText(model: NetModel, d: Device, name: string, ip: IpSettings, routes: readonly RouteSpec[], dns: { addresses: readonly string[]; search: readonly string[] }, nameOf: (id: string) => string | undefined, notes: Notes): string {
  const path = devicePath(d);
  const v4 = ip.addresses.filter((a) => a.family === 4);
  const v6 = ip.addresses.filter((a) => a.family === 6);
  const stanzas: Stanza[] = [];
  const staticStanza = (family: 'inet' | 'inet6') => (a: IpAddress): Stanza => ({ family, method: 'static', options: [`address ${cidr(a)}`] });
  stanzas.push(...v4.map(staticStanza('inet')));
  if (ip.dhcp4) stanzas.push({ family: 'inet', method: 'dhcp', options: dhcpOptions(d, 4, true, ip.dhcp4Overrides, notes) });
  else dhcpOptions(d, 4, false, ip.dhcp4Overrides, notes);
  const v6Static = v6.map(staticStanza('inet6'));
  const ra = ip.acceptRa;
  // each inet6 static stanza sets accept_ra and autoconf (default 0) again: every one carries them
  if (ra === true) for (const st of v6Static) st.options.push('accept_ra 1', 'autoconf 1');
  stanzas.push(...v6Static);
  const dhcp6Opts = dhcpOptions(d, 6, ip.dhcp6, ip.dhcp6Overrides, notes);
  if (ip.dhcp6) stanzas.push({ family: 'inet6', method: 'dhcp', options: [...dhcp6Opts, ...(ra === true ? ['accept_ra 1', 'autoconf 1'] : ra === false ? ['accept_ra 0'] : [])] });
  else if (ra === true && v6Static.length === 0) stanzas.push({ family: 'inet6', method: 'auto', options: [] });
  if (ra === false && !ip.dhcp6 && v6Static.length === 0) notes.add(`${path}.accept-ra`, 'ifupdown sets accept_ra only in an inet6 stanza and this interface has no IPv6 configuration: the kernel default applies');
  if (stanzas.length === 0) stanzas.push({ family: 'inet', method: 'manual', options: [] });
  if (ip.linkLocal !== undefined && !(ip.linkLocal.length === 1 && ip.linkLocal[0] === 'ipv6')) {
    notes.add(`${path}.link-local`, 'ifupdown has no setting for link-local addressing: the kernel default (IPv6 only) applies');
  }
  const first = stanzas[0] ?? { family: 'inet', method: 'manual', options: [] };
  const last = stanzas.at(-1) ?? first;
  const link: string[] = [];
  const canMtu = first.method === 'static' || first.method === 'manual';
  if (ip.mtu !== undefined) link.push(canMtu ? `mtu ${ip.mtu}` : `pre-up ip link set dev ${name} mtu ${ip.mtu}`);
  if (ip.macaddress !== undefined && MAC.test(ip.macaddress)) link.push(first.method === 'auto' ? `pre-up ip link set dev ${name} address ${ip.macaddress}` : `hwaddress ${ip.macaddress}`);
  if (d.kind === 'ethernet' && d.wakeOnLan !== undefined) link.push(`ethernet-wol ${d.wakeOnLan ? 'g' : 'd'}`);
  // a member of a bond or bridge that is not written is configured on its own (the master's note says why)
  const master = masterOf(model, d.id);
  const masterName = master === undefined ? undefined : nameOf(master.id);
  if (master?.kind === 'bond' && masterName !== undefined) {
    link.push(`bond-master ${masterName}`);
    // ifenslave sets the primary only once it is enslaved: from each member's stanza, not the bond's (up first)
    const primary = master.parameters.primary === undefined ? undefined : nameOf(master.parameters.primary);
    if (primary !== undefined) link.push(`bond-primary ${primary}`);
  }
  if (master?.kind === 'bridge' && masterName !== undefined) {
    // bridge-utils' bridge_pathcost / bridge_portprio take one port each: set them from the port's own stanza
    const cost = master.parameters.pathCost?.[d.id];
    const prio = master.parameters.portPriority?.[d.id];
    if (cost !== undefined) link.push(`post-up ip link set dev ${name} type bridge_slave cost ${cost}`);
    if (prio !== undefined) link.push(`post-up ip link set dev ${name} type bridge_slave priority ${prio}`);
  }
  if (d.kind === 'bond') {
    const lost = d.interfaces.filter((m) => nameOf(m) === undefined);
    for (const m of lost) notes.add(`${path}.interfaces`, `the member ${JSON.stringify(m)} is not written, so nothing enslaves it to ${JSON.stringify(d.id)}`);
    if (d.parameters.primary !== undefined && nameOf(d.parameters.primary) === undefined) notes.add(`${path}.parameters.primary`, `the primary ${JSON.stringify(d.parameters.primary)} is not written: not set`);
    link.push(...bondOptions(d, nameOf));
  }
  if (d.kind === 'bridge') {
    const ports = d.interfaces.map((m) => nameOf(m)).filter((n): n is string => n !== undefined);
    for (const m of d.interfaces.filter((x) => nameOf(x) === undefined)) {
      notes.add(`${path}.interfaces`, `the member ${JSON.stringify(m)} is not written, so the bridge ${JSON.stringify(d.id)} does not get it as a port`);
      if (d.parameters.pathCost?.[m] !== undefined) notes.add(`${path}.parameters.path-cost`, `the port ${JSON.stringify(m)} is not written: its path cost is not set`);
      if (d.parameters.portPriority?.[m] !== undefined) notes.add(`${path}.parameters.port-priority`, `the port ${JSON.stringify(m)} is not written: its priority is not set`);
    }
    link.push(...bridgeOptions(d, ports));
  }
  if (d.kind === 'vlan') link.push(...vlanOptions(d, name, nameOf(d.link) ?? ''));
  first.options.push(...link);
  // DNS on the first stanza (resolvconf / systemd-resolved read it once per interface)
  const servers = dns.addresses.filter((s) => {
    if (ipToken(s) !== undefined) return true;
    notes.add(`${path}.nameservers`, `dns-nameservers takes plain IP addresses; ${JSON.stringify(s)} not written`);
    return false;
  });
  const search = dns.search.filter((s) => {
    if (DOMAIN.test(s)) return true;
    notes.add(`${path}.nameservers`, `${JSON.stringify(s)} is not a plain domain name: not written`);
    return false;
  });
  if (servers.length > 0) first.options.push(`dns-nameservers ${servers.join(' ')}`);
  if (search.length > 0) first.options.push(`dns-search ${search.join(' ')}`);
  // routes after every address of their family: on the last stanza of that family (an IPv4 route
  // on an inet6 stanza would not be added when that stanza fails, a DHCPv6 server that does not answer)
  const lastOf = (family: 'inet' | 'inet6'): Stanza => stanzas.filter((s) => s.family === family).at(-1) ?? last;
  routes.forEach((r, i) => {
    const args = routeArgs(r, name, `${path}.routes[${i}]`, notes);
    if (args === undefined) return;
    const line = (action: string): string => `ip ${args.map((a) => (a === 'ACTION' ? action : a)).join(' ')} || true`;
    lastOf(r.to.family === 6 ? 'inet6' : 'inet').options.push(`post-up ${line('add')}`, `pre-down ${line('del')}`);
  });
  const head = `\n# ${path}${d.kind === 'ethernet' && d.setName !== undefined ? ` (renamed ${d.setName})` : ''}\n`;
  const control = d.kind === 'ethernet' && ip.optional === true ? 'allow-hotplug' : 'auto';
  if (ip.optional === true && d.kind !== 'ethernet') notes.add(`${path}.optional`, 'ifupdown brings a created interface up with "auto": boot waits for it');
  return `${head}${control} ${name}\n${stanzas.map((s) => [`iface ${name} ${s.family} ${s.method}`, ...s.options.map((o) => `    ${o}`)].join('\n')).join('\n')}\n`;
}

/**
 * A VLAN's link options: ifupdown creates "PARENT.ID" itself (vlan-raw-device also tells the vlan
 * package); any other name is created by a pre-up `ip link add` that skips an existing link.
 */
function vlanOptions(d: VlanDevice, name: string, parent: string): string[] {
  if (name === `${parent}.${d.vlanId}`) return [`vlan-raw-device ${parent}`];
  return [
    `pre-up test -d /sys/class/net/${name} || ip link add link ${parent} name ${name} type vlan id ${d.vlanId}`,
    `post-down ip link del ${name} || true`,
  ];
}

/**
 * The interfaces to `ifup` after writing the file, in dependency order: bond members before the bond
 * (ifenslave brings the bond up with its first member), bridge ports before the bridge, a VLAN's
 * parent before the VLAN. Only the interfaces the file configures.
 */
export function eniIfupOrder(model: NetModel, names?: GuestNames): string[] {
  const written = writableNames(model, names, new Notes(BACKEND));
  return dependencyOrder(model).map((d) => written.get(d.id)).filter((n): n is string => n !== undefined);
}
