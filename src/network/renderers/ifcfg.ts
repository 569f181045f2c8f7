// RHEL network-scripts (initscripts ifcfg) renderer for the NetModel: ifcfg-NAME, route-NAME and
// route6-NAME in /etc/sysconfig/network-scripts, the /etc/sysconfig/network settings, and the order to
// ifup them in. Pure: model (+ the live kernel names) → files + notes.
//
// ifcfg files are named by interface (DEVICE=), so every device needs a kernel name: a created
// device's is its id; an ethernet's is its set-name, the live name the module resolved, or a plain
// match.name. An ethernet found only by MAC or driver whose live name is not known is noted and not
// written (guessing a name would make initscripts rename the NIC by HWADDR=, or configure another);
// what depends on it (a VLAN on it, its place in a bond or bridge) is noted too. A MAC match is
// still written as HWADDR=, which initscripts checks before it brings the device up.
//
// A set-name is the DEVICE= name, and the NIC gets it from a udev rule in common.ts's
// RENAME_RULES_FILE (see there: which NICs, why udev, and that it applies as the NIC is added).
// initscripts' own rename_device (60-net.rules) gives a NIC the DEVICE= of the ifcfg file with its
// HWADDR=, but only where that helper is installed (newer releases ship it apart from network-scripts,
// or not at all), and never by driver; our rule gives the same name wherever udev runs.
//
// initscripts sources these files with the shell: every value is a checked token or double-quoted
// with no `"`, `$`, backquote, backslash or newline, anything else is refused with a note. Routes go to
// route-NAME / route6-NAME in the `ip route add` form (one route a line, word-split by ifup-routes),
// which carries table, src, onlink, scope and mtu; a plain default route is GATEWAY= / IPV6_DEFAULTGW=.
import { dependencyOrder, masterOf, type BondDevice, type BridgeDevice, type Device, type IpSettings, type NetModel, type RouteSpec } from '../netmodel.js';
import { HEADER, Notes, RENAME_OWNED, RENAME_RULES_FILE, cidr, devicePath, deviceName, hasL3, placeGlobalRoutes, planRenames, renameRulesFile, stripMemberIp, type GuestNames, type RenderedFile, type RenderedNetwork } from './common.js';

export const IFCFG_DIR = '/etc/sysconfig/network-scripts';
/**
 * Files this renderer owns (the module removes those that start with the header and are no longer
 * rendered); `also`: the other files it may write, owned the same way (the udev rules file of set-name).
 */
export const IFCFG_OWNED = { dir: IFCFG_DIR, match: /^(ifcfg|route6?)-/u, headerCheck: true, also: [RENAME_OWNED] } as const;

/** initscripts reads DNS1 … DNS3 (resolv.conf's MAXNS). */
const MAX_DNS = 3;
/** A value written bare: no character the shell treats specially. */
const TOKEN = /^[A-Za-z0-9_.:/+,=@%-]+$/u;
/** A value written in double quotes: printable ASCII, nothing the shell expands or that ends the quotes. */
const QUOTABLE = (v: string): boolean => /^[\x20-\x7e]*$/u.test(v) && !/["$`\\]/u.test(v);
/** A kernel interface name usable in a file name and as DEVICE=. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/u;

type Value = string | number | boolean | undefined;

/** An ifcfg file under construction: KEY=VALUE lines, each value checked as it is added. */
class Ifcfg {
  readonly lines: string[] = [];
  private readonly keys = new Set<string>();
  constructor(private readonly path: string, private readonly notes: Notes) {}
  has(key: string): boolean {
    return this.keys.has(key);
  }
  set(key: string, value: Value, notePath = this.path): void {
    if (value === undefined) return;
    this.keys.add(key);
    const v = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
    if (TOKEN.test(v)) this.lines.push(`${key}=${v}`);
    else if (QUOTABLE(v)) this.lines.push(`${key}="${v}"`);
    else this.notes.add(notePath, `the value of ${key} (${JSON.stringify(v.slice(0, 60))}) cannot be written safely in a shell-sourced ifcfg file (it has a quote, "$", a backquote, a backslash or a control character); not written`);
  }
}

const centis = (s: number): number => Math.round(s * 100);

/** BONDING_OPTS: the kernel's bonding option names (initscripts writes each to sysfs), with member names. */
function bondingOpts(d: BondDevice, nameOf: (id: string) => string | undefined): string | undefined {
  const p = d.parameters;
  const opts: [string, Value][] = [
    ['mode', p.mode], ['miimon', p.miiMonitorInterval], ['updelay', p.upDelay], ['downdelay', p.downDelay], ['lacp_rate', p.lacpRate],
    ['xmit_hash_policy', p.transmitHashPolicy], ['min_links', p.minLinks], ['ad_select', p.adSelect],
    ['all_slaves_active', p.allSlavesActive === undefined ? undefined : p.allSlavesActive ? 1 : 0], ['arp_interval', p.arpInterval],
    // initscripts splits arp_ip_target on commas and adds each target
    ['arp_ip_target', p.arpIpTargets === undefined || p.arpIpTargets.length === 0 ? undefined : p.arpIpTargets.join(',')],
    ['arp_validate', p.arpValidate], ['arp_all_targets', p.arpAllTargets], ['fail_over_mac', p.failOverMacPolicy], ['num_grat_arp', p.gratuitousArp],
    ['packets_per_slave', p.packetsPerSlave], ['primary_reselect', p.primaryReselectPolicy], ['lp_interval', p.learnPacketInterval],
    ['primary', p.primary === undefined ? undefined : nameOf(p.primary)],
  ];
  const set = opts.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`);
  return set.length > 0 ? set.join(' ') : undefined;
}

/** BRIDGING_OPTS of a bridge (sysfs bridge/ keys; times in centiseconds). */
function bridgingOpts(d: BridgeDevice): string | undefined {
  const p = d.parameters;
  const opts: [string, Value][] = [
    ['priority', p.priority], ['hello_time', p.helloTime === undefined ? undefined : centis(p.helloTime)],
    ['max_age', p.maxAge === undefined ? undefined : centis(p.maxAge)], ['ageing_time', p.ageingTime === undefined ? undefined : centis(p.ageingTime)],
  ];
  const set = opts.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`);
  return set.length > 0 ? set.join(' ') : undefined;
}

/** A route as an `ip route add` argument line (ifup-routes passes each line to it). */
function routeLine(r: RouteSpec, dev: string): string {
  const parts = [cidr(r.to)];
  if (r.via !== undefined) parts.push('via', r.via);
  parts.push('dev', dev);
  if (r.metric !== undefined) parts.push('metric', String(r.metric));
  if (r.table !== undefined) parts.push('table', String(r.table));
  if (r.from !== undefined) parts.push('src', r.from);
  if (r.scope !== undefined) parts.push('scope', r.scope);
  if (r.mtu !== undefined) parts.push('mtu', String(r.mtu));
  if (r.onLink === true) parts.push('onlink');
  return parts.join(' ');
}

/** A default route GATEWAY=/IPV6_DEFAULTGW= can carry: a gateway and nothing but (IPv4) a metric. */
const plainDefault = (r: RouteSpec): boolean =>
  r.to.prefix === 0 && r.via !== undefined && r.table === undefined && r.from === undefined && r.scope === undefined && r.mtu === undefined && r.onLink !== true && (r.to.family === 4 || r.metric === undefined);

/**
 * Which devices get a file, by kernel name: an ethernet without a known name, a name not safe in a
 * file name, and a VLAN whose parent has no file are noted and left out.
 */
function nameDevices(model: NetModel, names: GuestNames | undefined, notes: Notes): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dependencyOrder(model)) {
    const path = devicePath(d);
    const name = deviceName(d, names);
    if (name === undefined) {
      const by = d.kind === 'ethernet' ? [d.match.macaddress === undefined ? undefined : `MAC ${d.match.macaddress}`, d.match.driver === undefined ? undefined : `driver ${d.match.driver}`, d.match.name === undefined ? undefined : `name glob ${d.match.name}`].filter((x) => x !== undefined).join(', ') : '';
      notes.add(path, `ifcfg files are named by interface, and the kernel name of the NIC matched by ${by || 'no criteria'} is not known (the live system did not name it); no ifcfg file written for it`);
      continue;
    }
    if (!IFNAME.test(name)) {
      notes.add(path, `the interface name ${JSON.stringify(name.slice(0, 40))} is not safe in an ifcfg file name or value; not written`);
      continue;
    }
    if (d.kind === 'vlan' && !out.has(d.link)) {
      notes.add(path, `the VLAN's parent ${JSON.stringify(d.link)} has no ifcfg file (its name is not known), so PHYSDEV= cannot be written; not written`);
      continue;
    }
    out.set(d.id, name);
  }
  return out;
}

function ipLines(f: Ifcfg, d: Device, ip: IpSettings, dns: { addresses: readonly string[]; search: readonly string[] }, routes: readonly RouteSpec[], notes: Notes): RouteSpec[] {
  const path = devicePath(d);
  f.set('BOOTPROTO', ip.dhcp4 ? 'dhcp' : 'none');
  const v4 = ip.addresses.filter((a) => a.family === 4);
  const v6 = ip.addresses.filter((a) => a.family === 6);
  v4.forEach((a, i) => {
    const n = i === 0 ? '' : String(i);
    f.set(`IPADDR${n}`, a.address);
    f.set(`PREFIX${n}`, a.prefix);
  });
  // defaults that GATEWAY= / IPV6_DEFAULTGW= can carry: the first plain one of each family
  const gw4 = routes.find((r) => r.to.family === 4 && plainDefault(r));
  const gw6 = routes.find((r) => r.to.family === 6 && plainDefault(r));
  if (gw4 !== undefined) {
    f.set('GATEWAY', gw4.via);
    f.set('METRIC', gw4.metric);
  }
  if (gw4 !== undefined || gw6 !== undefined) f.set('DEFROUTE', true);
  if (ip.dhcp4 && v4.length > 0) notes.add(`${path}.addresses`, `with BOOTPROTO=dhcp initscripts' ifup-eth runs only the DHCP client and skips IPADDRn (NetworkManager's ifcfg reader applies both): ${v4.map(cidr).join(', ')} written, not applied by ifup`);
  if (ip.dhcp4 && gw4 !== undefined) notes.add(`${path}.routes`, `with BOOTPROTO=dhcp initscripts' ifup-eth takes the default route from DHCP and skips GATEWAY=${gw4.via ?? ''} (NetworkManager's ifcfg reader applies it)`);
  const six = ip.dhcp6 || ip.acceptRa === true || v6.length > 0 || routes.some((r) => r.to.family === 6);
  if (six) {
    f.set('IPV6INIT', true);
    // SLAAC: as asked; unsaid, on with DHCPv6 (its routes come from router advertisements), off for static
    f.set('IPV6_AUTOCONF', ip.acceptRa ?? ip.dhcp6);
    if (ip.dhcp6) f.set('DHCPV6C', true);
    f.set('IPV6ADDR', v6[0] === undefined ? undefined : cidr(v6[0]));
    if (v6.length > 1) f.set('IPV6ADDR_SECONDARIES', v6.slice(1).map(cidr).join(' '));
    f.set('IPV6_DEFAULTGW', gw6?.via);
  } else if (ip.acceptRa === false) f.set('IPV6_AUTOCONF', false);
  f.set('MTU', ip.mtu);
  const servers = [...dns.addresses];
  servers.slice(0, MAX_DNS).forEach((s, i) => { f.set(`DNS${i + 1}`, s); });
  const over = servers.slice(MAX_DNS);
  const why = `initscripts writes at most ${MAX_DNS} nameservers per interface (DNS1 … DNS${MAX_DNS}); ${over.join(', ')} not written on ${JSON.stringify(d.id)}`;
  if (over.some((s) => ip.nameservers.addresses.includes(s))) notes.add(`${path}.nameservers`, why);
  if (over.some((s) => !ip.nameservers.addresses.includes(s))) notes.add('nameservers', why);
  if (dns.search.length > 0) f.set('DOMAIN', dns.search.join(' '));
  // vmctx's dns module writes /etc/resolv.conf with every interface's nameservers: neither the DHCP
  // client nor ifup-post (which rewrites it from this one interface's DNSn) may replace it (as before the NetModel)
  if (servers.length > 0) f.set('PEERDNS', false);
  dhcpOverrides(f, d, ip, dns, notes);
  if (ip.optional === true) notes.add(`${path}.optional`, 'initscripts has no "optional": the network service waits for every ONBOOT interface');
  if (ip.linkLocal !== undefined) notes.add(`${path}.link-local`, 'initscripts has no per-interface switch for link-local addressing; the distribution default applies');
  const rest = routes.filter((r) => r !== gw4 && r !== gw6);
  // the kernel keeps one IPv4 route per destination, table and metric: `ip route add` fails for a second
  const key = (r: RouteSpec): string => `${r.to.family} ${cidr(r.to)} ${r.table ?? 'main'} ${r.metric ?? 0}`;
  const seen = new Set(gw4 === undefined ? [] : [key(gw4)]);
  for (const r of rest.filter((x) => x.to.family === 4)) {
    if (seen.has(key(r))) notes.add(`${path}.routes`, `a second route to ${cidr(r.to)} with the same table and metric (via ${r.via ?? 'no gateway'}): written, but ifup-routes' \`ip route add\` fails for it (the kernel keeps one); give it another metric`);
    seen.add(key(r));
  }
  return rest;
}

function dhcpOverrides(f: Ifcfg, d: Device, ip: IpSettings, dns: { addresses: readonly string[] }, notes: Notes): void {
  const path = devicePath(d);
  const o4 = ip.dhcp4Overrides;
  if (o4 !== undefined && !ip.dhcp4) notes.add(`${path}.dhcp4-overrides`, `dhcp4 is off on ${JSON.stringify(d.id)}, so its overrides have nothing to act on`);
  else if (o4 !== undefined) {
    const p = `${path}.dhcp4-overrides`;
    // with static nameservers PEERDNS=no is set already
    if (o4.useDns === false && !f.has('PEERDNS')) f.set('PEERDNS', false);
    if (o4.routeMetric !== undefined && f.has('METRIC')) notes.add(`${p}.route-metric`, 'initscripts has one METRIC= for the default route, already set by the static gateway\'s metric');
    else f.set('METRIC', o4.routeMetric, `${p}.route-metric`);
    if (o4.hostname !== undefined) f.set('DHCP_HOSTNAME', o4.hostname, `${p}.hostname`);
    if (o4.sendHostname === false) f.set('DHCP_SEND_HOSTNAME', false);
    const cannot: [keyof typeof o4, string][] = [['useNtp', 'use-ntp'], ['useHostname', 'use-hostname'], ['useDomains', 'use-domains'], ['useMtu', 'use-mtu'], ['useRoutes', 'use-routes']];
    for (const [k, key] of cannot) if (o4[k] !== undefined) notes.add(`${p}.${key}`, `initscripts has no ifcfg setting for the DHCPv4 client's ${key}`);
    // send-hostname true is initscripts' default (it sends the hostname unless DHCP_SEND_HOSTNAME=no)
  }
  const o6 = ip.dhcp6Overrides;
  if (o6 !== undefined) {
    for (const key of Object.keys(o6)) {
      const kebab = key.replace(/[A-Z]/gu, (c) => `-${c.toLowerCase()}`);
      notes.add(`${path}.dhcp6-overrides.${kebab}`, ip.dhcp6 ? `initscripts has no ifcfg setting for the DHCPv6 client's ${kebab}` : `dhcp6 is off on ${JSON.stringify(d.id)}, so its overrides have nothing to act on`);
    }
  }
}

/** The ifcfg files for a model; `names`: the live kernel names of MAC-matched ethernets (device id → name). */
export function renderIfcfg(model: NetModel, names?: GuestNames): RenderedNetwork {
  const notes = new Notes('ifcfg');
  const files = new Map<string, RenderedFile>();
  if (model.renderer === 'NetworkManager') notes.add('renderer', 'the document asks for NetworkManager; rendered as network-scripts ifcfg files, the backend this guest runs');
  const named = nameDevices(model, names, notes);
  const { renames, refused } = planRenames(model);
  const nameOf = (id: string): string | undefined => named.get(id);
  const globalRoutes = placeGlobalRoutes(model, notes);
  const global = model.nameservers;
  let globalDnsCarried = false;
  for (const d of dependencyOrder(model)) {
    const name = named.get(d.id);
    if (name === undefined) continue;
    const path = devicePath(d);
    const f = new Ifcfg(path, notes);
    f.set('DEVICE', name);
    const master = masterOf(model, d.id);
    const ip = stripMemberIp(model, d, notes);
    if (d.kind === 'ethernet') {
      if (d.match.macaddress !== undefined) f.set('HWADDR', d.match.macaddress);
      // renamed: the udev rule finds the NIC by MAC and driver and gives it DEVICE='s name
      const rename = renames.get(d.id);
      const notRenamed = refused.get(d.id);
      if (notRenamed !== undefined && names?.get(d.id) !== d.setName) notes.add(`${path}.set-name`, `not renamed (${notRenamed}): written for the name ${name}, which applies only if the NIC has that name`);
      if (d.match.driver !== undefined && rename?.driver === undefined) notes.add(`${path}.match.driver`, `ifcfg files have no driver match: written for the NIC named ${name}`);
      if (d.match.name !== undefined && d.match.name !== name) {
        notes.add(`${path}.match.name`, rename === undefined
          ? `ifcfg files find a NIC by its name (DEVICE=) only, with no glob: written for ${name}, not the match ${JSON.stringify(d.match.name)}`
          : `the udev rule renames the NIC found by its ${rename.macaddress === undefined ? 'driver' : 'MAC'} to ${name}, whatever its name: the match ${JSON.stringify(d.match.name)} is not kept`);
      }
      f.set('TYPE', 'Ethernet');
      if (d.wakeOnLan !== undefined) f.set('ETHTOOL_OPTS', d.wakeOnLan ? 'wol g' : 'wol d');
    } else if (d.kind === 'bond') {
      f.set('TYPE', 'Bond');
      f.set('BONDING_MASTER', true);
      f.set('BONDING_OPTS', bondingOpts(d, nameOf));
    } else if (d.kind === 'bridge') {
      f.set('TYPE', 'Bridge');
      f.set('STP', d.parameters.stp);
      f.set('DELAY', d.parameters.forwardDelay);
      f.set('BRIDGING_OPTS', bridgingOpts(d));
    } else {
      const parent = named.get(d.link) ?? d.link;
      f.set('VLAN', true);
      f.set('PHYSDEV', parent);
      f.set('VLAN_ID', d.vlanId);
      if (name !== `${parent}.${d.vlanId}` && !new RegExp(`^vlan0*${d.vlanId}$`, 'u').test(name)) {
        notes.add(`${path}.id`, `initscripts before VLAN_ID= support derives the VLAN id from the name (PARENT.ID or vlanID); ${JSON.stringify(name)} is neither, so older initscripts cannot bring it up`);
      }
    }
    if (d.kind !== 'ethernet' || d.match.macaddress !== ip.macaddress) f.set('MACADDR', ip.macaddress);
    f.set('ONBOOT', true);
    if (master !== undefined) {
      const m = named.get(master.id);
      if (m === undefined) notes.add(path, `its ${master.kind} ${JSON.stringify(master.id)} has no ifcfg file; written without it`);
      else if (master.kind === 'bond') { f.set('MASTER', m); f.set('SLAVE', true); } else f.set('BRIDGE', m);
      if (master.kind === 'bridge') {
        const cost = master.parameters.pathCost?.[d.id];
        const prio = master.parameters.portPriority?.[d.id];
        const opts = [cost === undefined ? undefined : `path_cost=${cost}`, prio === undefined ? undefined : `priority=${prio}`].filter((x) => x !== undefined);
        if (opts.length > 0) f.set('BRIDGING_OPTS', opts.join(' '));
      }
    }
    if (d.kind === 'bond' || d.kind === 'bridge') {
      for (const id of d.interfaces.filter((x) => !named.has(x))) {
        const why = `the member ${JSON.stringify(id)} has no ifcfg file (its name is not known), so it is not enslaved to ${name}`;
        notes.add(`${path}.interfaces`, why);
        if (d.kind === 'bond' && d.parameters.primary === id) notes.add(`${path}.parameters.primary`, why);
        if (d.kind === 'bridge' && d.parameters.pathCost?.[id] !== undefined) notes.add(`${path}.parameters.path-cost`, why);
        if (d.kind === 'bridge' && d.parameters.portPriority?.[id] !== undefined) notes.add(`${path}.parameters.port-priority`, why);
      }
    }
    // global nameservers: initscripts has one resolv.conf, written from each interface's DNSn — give them to every carrier
    const carries = master === undefined && hasL3(ip) && (global.addresses.length > 0 || global.search.length > 0);
    if (carries) globalDnsCarried = true;
    const dns = {
      addresses: [...new Set([...ip.nameservers.addresses, ...(carries ? global.addresses : [])])],
      search: [...new Set([...ip.nameservers.search, ...(carries ? global.search : [])])],
    };
    const rest = ipLines(f, d, ip, dns, [...ip.routes, ...(globalRoutes.get(d.id) ?? [])], notes);
    const comment = `# ${HEADER}\n# ${path}\n`;
    files.set(`${IFCFG_DIR}/ifcfg-${name}`, { content: `${comment}${f.lines.join('\n')}\n`, mode: 0o644 });
    for (const family of [4, 6] as const) {
      const lines = rest.filter((r) => r.to.family === family).map((r) => routeLine(r, name));
      const unsafe = lines.filter((l) => !l.split(' ').every((p) => TOKEN.test(p)));
      for (const l of unsafe) notes.add(`${path}.routes`, `the route ${JSON.stringify(l.slice(0, 80))} has a part that is not a plain token; not written`);
      const ok = lines.filter((l) => !unsafe.includes(l));
      if (ok.length > 0) files.set(`${IFCFG_DIR}/${family === 4 ? 'route' : 'route6'}-${name}`, { content: `${comment}${ok.join('\n')}\n`, mode: 0o644 });
    }
  }
  if ((global.addresses.length > 0 || global.search.length > 0) && !globalDnsCarried) {
    notes.add('nameservers', 'initscripts writes nameservers from an interface\'s DNSn=, and no interface with IP configuration has an ifcfg file to carry the global ones; not written');
  }
  const rules = renameRulesFile(model, renames);
  if (rules !== undefined) files.set(RENAME_RULES_FILE, rules);
  return { files, notes: notes.list };
}

/** Whether a rendered device uses IPv6 (then /etc/sysconfig/network turns IPv6 networking on). */
const usesIpv6 = (ip: IpSettings): boolean => ip.dhcp6 || ip.acceptRa === true || ip.addresses.some((a) => a.family === 6) || ip.routes.some((r) => r.to.family === 6);

/**
 * What the module merges into /etc/sysconfig/network (as cloud-init's sysconfig renderer writes it):
 * NETWORKING=yes, and with IPv6 in use NETWORKING_IPV6=yes and IPV6_AUTOCONF=no (each ifcfg file
 * sets its own IPV6_AUTOCONF). Undefined when the model has no device.
 */
export function ifcfgNetworkMerge(model: NetModel): Record<string, string> | undefined {
  if (model.devices.length === 0) return undefined;
  const six = model.devices.some((d) => masterOf(model, d.id) === undefined && usesIpv6(d)) || model.routes.some((r) => r.to.family === 6);
  return { NETWORKING: 'yes', ...(six ? { NETWORKING_IPV6: 'yes', IPV6_AUTOCONF: 'no' } : {}) };
}

/**
 * The interfaces to `ifup`, each after what it needs: bond ports before their bond (ifup of a port
 * loads the bonding driver and enslaves it), bridge ports before the bridge, a VLAN's parent before
 * it. Only devices with an ifcfg file (see renderIfcfg's notes for the others).
 */
export function ifcfgIfupOrder(model: NetModel, names?: GuestNames): string[] {
  const named = nameDevices(model, names, new Notes('ifcfg'));
  return dependencyOrder(model).flatMap((d) => {
    const name = named.get(d.id);
    return name === undefined ? [] : [name];
  });
}
