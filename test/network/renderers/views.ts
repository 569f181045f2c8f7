// Rendered networkd and netplan output read back into one neutral, netplan-named view, and the check
// that every interface, address, route, DNS entry, bond/bridge/VLAN of a corpus expect file is in it.
import { RENAME_RULES_FILE, type RenderedFile, type RenderedNetwork } from '../../../src/network/renderers/common.js';
import { ENI_FILE } from '../../../src/network/renderers/eni.js';
import type { CorpusExpect, ExpectInterface, ExpectRoute } from '../corpus/expect.js';

/** Any expect interface, of the four kinds. */
type AnyExpect = ExpectInterface & {
  match?: Record<string, string>;
  'set-name'?: string;
  interfaces?: string[];
  parameters?: Record<string, unknown>;
  id?: number;
  link?: string;
};
import { canon, parseIni, YAML_PARSE } from './corpus-render.js';

export interface ViewIface {
  match: Record<string, string>;
  setName?: string;
  addresses: string[];
  routes: ExpectRoute[];
  dns: { addresses: string[]; search: string[] };
  mtu?: number;
  dhcp4: boolean;
  dhcp6: boolean;
  acceptRa?: boolean;
  interfaces: string[];
  id?: number;
  link?: string;
  parameters: Record<string, unknown>;
  /** networkd: the [Match] of the NIC's .link file. */
  linkMatch: Record<string, string>;
}
export type View = { ifaces: Map<string, ViewIface>; dns: { addresses: string[]; search: string[] } };

const blank = (): ViewIface => ({ match: {}, addresses: [], routes: [], dns: { addresses: [], search: [] }, dhcp4: false, dhcp6: false, interfaces: [], parameters: {}, linkMatch: {} });
const routeOf = (r: Record<string, unknown>): ExpectRoute => {
  const to = String(r['to']);
  const out: ExpectRoute = { to: to === 'default' || to.endsWith('/0') ? 'default' : canon(to) };
  if (typeof r['via'] === 'string') out.via = canon(r['via']);
  if (r['metric'] !== undefined) out.metric = Number(r['metric']);
  if (r['table'] !== undefined) out.table = Number(r['table']);
  if (r['on-link'] !== undefined) out['on-link'] = r['on-link'] === true || r['on-link'] === 'yes';
  if (r['scope'] !== undefined) out.scope = r['scope'] as NonNullable<ExpectRoute['scope']>;
  return out;
};

export function netplanView(r: RenderedNetwork): View {
  const ifaces = new Map<string, ViewIface>();
  const file = [...r.files.values()][0];
  if (file === undefined) return { ifaces, dns: { addresses: [], search: [] } };
  const net = (YAML_PARSE(file.content) as { network: Record<string, Record<string, Record<string, unknown>> | undefined> }).network;
  for (const group of ['ethernets', 'bonds', 'bridges', 'vlans']) {
    for (const [id, d] of Object.entries(net[group] ?? {})) {
      const v = blank();
      v.match = (d['match'] as Record<string, string> | undefined) ?? {};
      if (typeof d['set-name'] === 'string') v.setName = d['set-name'];
      v.addresses = ((d['addresses'] as string[] | undefined) ?? []).map(canon);
      v.routes = ((d['routes'] as Record<string, unknown>[] | undefined) ?? []).map(routeOf);
      const ns = (d['nameservers'] as { addresses?: string[]; search?: string[] } | undefined) ?? {};
      v.dns = { addresses: (ns.addresses ?? []).map(canon), search: ns.search ?? [] };
      if (typeof d['mtu'] === 'number') v.mtu = d['mtu'];
      v.dhcp4 = d['dhcp4'] === true;
      v.dhcp6 = d['dhcp6'] === true;
      if (typeof d['accept-ra'] === 'boolean') v.acceptRa = d['accept-ra'];
      v.interfaces = (d['interfaces'] as string[] | undefined) ?? [];
      if (typeof d['id'] === 'number') v.id = d['id'];
      if (typeof d['link'] === 'string') v.link = d['link'];
      v.parameters = (d['parameters'] as Record<string, unknown> | undefined) ?? {};
      ifaces.set(id, v);
    }
  }
  // netplan has no global DNS: the global servers are wherever every carrier has them
  return { ifaces, dns: { addresses: [], search: [] } };
}

const num = (s: string, unit = ''): number => Number(s.endsWith(unit) ? s.slice(0, s.length - unit.length) : s);
const bool = (s: string): boolean => s === 'yes';
const BOND: Record<string, [string, (s: string) => unknown]> = {
  Mode: ['mode', String], LACPTransmitRate: ['lacp-rate', String], MIIMonitorSec: ['mii-monitor-interval', (s) => num(s, 'ms')], MinLinks: ['min-links', Number],
  TransmitHashPolicy: ['transmit-hash-policy', String], AdSelect: ['ad-select', String], AllSlavesActive: ['all-slaves-active', bool],
  ARPIntervalSec: ['arp-interval', (s) => num(s, 'ms')], ARPIPTargets: ['arp-ip-targets', (s) => s.split(' ')], ARPValidate: ['arp-validate', String],
  ARPAllTargets: ['arp-all-targets', String], UpDelaySec: ['up-delay', (s) => num(s, 'ms')], DownDelaySec: ['down-delay', (s) => num(s, 'ms')],
  FailOverMACPolicy: ['fail-over-mac-policy', String], GratuitousARP: ['gratuitous-arp', Number], PacketsPerSlave: ['packets-per-slave', Number],
  PrimaryReselectPolicy: ['primary-reselect-policy', String], LearnPacketIntervalSec: ['learn-packet-interval', (s) => num(s, 's')],
  STP: ['stp', bool], ForwardDelaySec: ['forward-delay', (s) => num(s, 's')], HelloTimeSec: ['hello-time', (s) => num(s, 's')], MaxAgeSec: ['max-age', (s) => num(s, 's')],
  AgeingTimeSec: ['ageing-time', (s) => num(s, 's')], Priority: ['priority', Number], Id: ['id', Number],
};

export function networkdView(r: RenderedNetwork): View {
  const ifaces = new Map<string, ViewIface>();
  const get = (id: string): ViewIface => {
    let v = ifaces.get(id);
    if (v === undefined) ifaces.set(id, (v = blank()));
    return v;
  };
  const dns = { addresses: [] as string[], search: [] as string[] };
  const sorted = [...r.files].sort(([a], [b]) => a.localeCompare(b));
  for (const [path, f] of sorted) {
    const sections = parseIni(f.content);
    if (path.startsWith('/etc/systemd/resolved.conf.d/')) {
      for (const [k, val] of sections.flatMap((s) => s.entries)) {
        if (k === 'DNS') dns.addresses.push(...val.split(' ').map(canon));
        if (k === 'Domains') dns.search.push(...val.split(' '));
      }
      continue;
    }
    const m = /^\/etc\/systemd\/network\/10-vmctx-\d+-(.+)\.(network|netdev|link)$/u.exec(path);
    if (m === null) throw new Error(`unexpected file ${path}`);
    const [, id = '', ext] = m;
    const v = get(id);
    for (const s of sections) {
      for (const [k, val] of s.entries) {
        if (ext === 'link' && s.name === 'Link' && k === 'Name') v.setName = val;
        // a .link file holds the NIC's original match (its .network matches the new name)
        if (ext === 'link' && s.name === 'Match') v.linkMatch[k === 'PermanentMACAddress' ? 'macaddress' : k === 'OriginalName' ? 'name' : 'driver'] = val;
        if (ext === 'netdev' && (s.name === 'Bond' || s.name === 'Bridge' || s.name === 'VLAN')) {
          const t = BOND[k];
          if (t === undefined) throw new Error(`${path}: unmapped ${k}`);
          if (k === 'Id') v.id = Number(val);
          else v.parameters[t[0]] = t[1](val);
        }
        if (ext !== 'network') continue;
        if (s.name === 'Match') {
          if (k === 'PermanentMACAddress') v.match['macaddress'] = val;
          if (k === 'Driver') v.match['driver'] = val;
          if (k === 'Name') v.match['name'] = val;
        }
        if (s.name === 'Link' && k === 'MTUBytes') v.mtu = Number(val);
        if (s.name === 'Network') {
          if (k === 'Address') v.addresses.push(canon(val));
          if (k === 'DNS') v.dns.addresses.push(canon(val));
          if (k === 'Domains') v.dns.search.push(...val.split(' '));
          if (k === 'DHCP') { v.dhcp4 = val === 'yes' || val === 'ipv4'; v.dhcp6 = val === 'yes' || val === 'ipv6'; }
          if (k === 'IPv6AcceptRA') v.acceptRa = bool(val);
          if (k === 'Bond' || k === 'Bridge') get(val).interfaces.push(id);
          if (k === 'VLAN') get(val).link = id;
          if (k === 'PrimarySlave' && val === 'yes') {
            const bond = s.entries.find(([x]) => x === 'Bond')?.[1] ?? '';
            get(bond).parameters['primary'] = id;
          }
        }
        if (s.name === 'Bridge') {
          const bridge = sections.find((x) => x.name === 'Network')?.entries.find(([x]) => x === 'Bridge')?.[1] ?? '';
          const key = k === 'Cost' ? 'path-cost' : 'port-priority';
          const p = get(bridge).parameters;
          p[key] = { ...(p[key] as Record<string, number> | undefined), [id]: Number(val) };
        }
      }
      if (ext === 'network' && s.name === 'Route') {
        const e = Object.fromEntries(s.entries);
        const to = e['Destination'] ?? 'default';
        v.routes.push(routeOf({ to, via: e['Gateway'], metric: e['Metric'], table: e['Table'], 'on-link': e['GatewayOnLink'], scope: e['Scope'] }));
      }
    }
  }
  for (const v of ifaces.values()) if (v.setName !== undefined) v.match = v.linkMatch;
  return { ifaces, dns };
}

/**
 * The udev rename rules (ENI, ifcfg, NetworkManager) read back: each rule under its device path
 * comment, as the new name and the match it renames by (DRIVERS=="?*" is no driver match).
 */
function renameRules(r: RenderedNetwork): Map<string, { name: string; match: Record<string, string> }> {
  const out = new Map<string, { name: string; match: Record<string, string> }>();
  let id = '';
  for (const line of (r.files.get(RENAME_RULES_FILE)?.content ?? '').split('\n')) {
    const comment = /^# (?:ethernets)(?:\.([A-Za-z0-9_-]+)|\[("(?:[^"\\]|\\.)*")\])$/u.exec(line);
    if (comment !== null) { id = comment[1] ?? (JSON.parse(comment[2] ?? '""') as string); continue; }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^SUBSYSTEM=="net", ACTION=="add", DRIVERS=="([^"]+)"(?:, ATTR\{address\}=="([0-9a-f:]+)")?, NAME="([^"]+)"$/u.exec(line);
    if (m === null) throw new Error(`unexpected rule ${line}`);
    const [, driver = '', mac, name = ''] = m;
    out.set(id, { name, match: { ...(mac === undefined ? {} : { macaddress: mac }), ...(driver === '?*' ? {} : { driver }) } });
  }
  return out;
}

/** A view with the renames of the rules file: the NIC's match is the rule's (its file matches the new name). */
function withRenames(view: View, r: RenderedNetwork): View {
  for (const [id, rule] of renameRules(r)) {
    const v = view.ifaces.get(id);
    if (v === undefined) continue;
    v.setName = rule.name;
    v.match = rule.match;
  }
  return view;
}
/** The rendering without the rules file (each view reads that one with withRenames). */
const backendFiles = (r: RenderedNetwork): [string, RenderedFile][] => [...r.files].filter(([p]) => p !== RENAME_RULES_FILE);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const sameRoute = (a: ExpectRoute, b: ExpectRoute): boolean => {
  const norm = (r: ExpectRoute): ExpectRoute => routeOf(r as unknown as Record<string, unknown>);
  return same(norm(a), norm(b));
};

/**
 * What of `expect` the view lacks, as "PATH: what" — each unless `noted(path)` (a renderer or
 * mapper note names it). `globalDnsOn` lists ids where a backend without a resolver put the
 * global DNS (netplan).
 */
export function missing(expect: CorpusExpect, view: View, noted: (path: string) => boolean, backend: 'networkd' | 'netplan' | 'nm' | 'ifcfg'): string[] {
  const out: string[] = [];
  const miss = (path: string, what: string): void => {
    if (!noted(path)) out.push(`${path}: ${what}`);
  };
  const groups: [string, Record<string, AnyExpect> | undefined][] = [['ethernets', expect.ethernets], ['bonds', expect.bonds], ['bridges', expect.bridges], ['vlans', expect.vlans]];
  for (const [group, entries] of groups) {
    for (const [id, e] of Object.entries(entries ?? {})) {
      const p = `${group}.${id}`;
      const v = view.ifaces.get(id);
      if (v === undefined) { miss(p, 'no such interface rendered'); continue; }
      if (e.match !== undefined) {
        for (const [k, val] of Object.entries(e.match)) if (v.match[k] !== val) miss(`${p}.match.${k}`, `${val} not matched (${JSON.stringify(v.match)})`);
        if (e['set-name'] !== undefined && v.setName !== e['set-name']) miss(`${p}.set-name`, `not renamed to ${e['set-name']}`);
      }
      for (const a of e.addresses ?? []) if (!v.addresses.includes(canon(a))) miss(`${p}.addresses`, `${a} missing`);
      (e.routes ?? []).forEach((r: ExpectRoute, i: number) => { if (!v.routes.some((x) => sameRoute(x, r))) miss(`${p}.routes`, `route ${i} ${JSON.stringify(r)} missing`); });
      for (const s of e.nameservers?.addresses ?? []) if (!v.dns.addresses.includes(canon(s))) miss(`${p}.nameservers`, `server ${s} missing`);
      for (const s of e.nameservers?.search ?? []) if (!v.dns.search.includes(s)) miss(`${p}.nameservers`, `search ${s} missing`);
      if (e.mtu !== undefined && v.mtu !== e.mtu) miss(`${p}.mtu`, `mtu ${e.mtu} ≠ ${v.mtu}`);
      if ((e.dhcp4 ?? false) !== v.dhcp4) miss(`${p}.dhcp4`, `dhcp4 ${e.dhcp4} ≠ ${v.dhcp4}`);
      // the corpus writes dynamic IPv6 as dhcp6: true; the model may refine SLAAC to accept-ra: true (docs/network-corpus.md)
      const dynamic6 = v.dhcp6 || (v.acceptRa === true && e['accept-ra'] === undefined);
      if (e.dhcp6 === true ? !dynamic6 : v.dhcp6) miss(`${p}.dhcp6`, `dhcp6 ${e.dhcp6} ≠ ${v.dhcp6} (accept-ra ${v.acceptRa})`);
      if (e.interfaces !== undefined) {
        if (!same([...e.interfaces].sort(), [...v.interfaces].sort())) miss(`${p}.interfaces`, `${JSON.stringify(e.interfaces)} ≠ ${JSON.stringify(v.interfaces)}`);
        for (const [k, val] of Object.entries(e.parameters ?? {})) if (!same(val, v.parameters[k])) miss(`${p}.parameters.${k}`, `${JSON.stringify(val)} ≠ ${JSON.stringify(v.parameters[k])}`);
      }
      if (e.link !== undefined) {
        if (v.id !== e.id) miss(`${p}.id`, `VLAN id ${e.id} ≠ ${v.id}`);
        if (v.link !== e.link) miss(`${p}.link`, `not on ${e.link}`);
      }
    }
  }
  (expect.routes ?? []).forEach((r, i) => {
    if (![...view.ifaces.values()].some((v) => v.routes.some((x) => sameRoute(x, r)))) miss(`routes[${i}]`, `global route ${JSON.stringify(r)} on no interface`);
  });
  const globalIn = (list: (v: { addresses: string[]; search: string[] }) => string[], s: string): boolean =>
    backend === 'networkd' ? list(view.dns).includes(s) : [...view.ifaces.values()].some((v) => list(v.dns).includes(s));
  for (const s of expect.nameservers?.addresses ?? []) if (!globalIn((d) => d.addresses, canon(s))) miss('nameservers', `global server ${s} missing`);
  for (const s of expect.nameservers?.search ?? []) if (!globalIn((d) => d.search, s)) miss('nameservers', `global search ${s} missing`);
  return out;
}

const NM_BOND: Record<string, [string, (s: string) => unknown]> = {
  mode: ['mode', String], miimon: ['mii-monitor-interval', Number], lacp_rate: ['lacp-rate', String], xmit_hash_policy: ['transmit-hash-policy', String],
  updelay: ['up-delay', Number], downdelay: ['down-delay', Number], primary_reselect: ['primary-reselect-policy', String], arp_interval: ['arp-interval', Number],
  arp_ip_target: ['arp-ip-targets', (s) => s.split(',')], arp_validate: ['arp-validate', String], arp_all_targets: ['arp-all-targets', String],
  ad_select: ['ad-select', String], min_links: ['min-links', Number], all_slaves_active: ['all-slaves-active', (s) => s === '1'],
  fail_over_mac: ['fail-over-mac-policy', String], num_grat_arp: ['gratuitous-arp', Number], packets_per_slave: ['packets-per-slave', Number],
  lp_interval: ['learn-packet-interval', Number],
  stp: ['stp', (s) => s === 'true'], priority: ['priority', Number], 'forward-delay': ['forward-delay', Number], 'hello-time': ['hello-time', Number],
  'max-age': ['max-age', Number], 'ageing-time': ['ageing-time', Number],
};

/** NetworkManager keyfiles read back: the device id is the file name's (vmctx-ID.nmconnection), references are by uuid. */
export function nmView(r: RenderedNetwork): View {
  const ifaces = new Map<string, ViewIface>();
  const parsed = backendFiles(r).map(([path, f]) => {
    const m = /^\/etc\/NetworkManager\/system-connections\/vmctx-(.+)\.nmconnection$/u.exec(path);
    if (m === null) throw new Error(`unexpected file ${path}`);
    const sections = new Map(parseIni(f.content).map((s) => [s.name, Object.fromEntries(s.entries)]));
    return { id: m[1] ?? '', sections };
  });
  const byUuid = new Map(parsed.map((p) => [p.sections.get('connection')?.['uuid'] ?? '', p.id]));
  const get = (id: string): ViewIface => {
    let v = ifaces.get(id);
    if (v === undefined) ifaces.set(id, (v = blank()));
    return v;
  };
  const primaries: [string, string][] = [];
  for (const { id, sections } of parsed) {
    const v = get(id);
    const con = sections.get('connection') ?? {};
    const eth = sections.get('ethernet') ?? {};
    const match = sections.get('match') ?? {};
    if (con['type'] === 'ethernet') {
      if (eth['mac-address'] !== undefined) v.match['macaddress'] = eth['mac-address'].toLowerCase();
      const name = con['interface-name'] ?? match['interface-name'];
      if (name !== undefined) v.match['name'] = name;
      if (match['driver'] !== undefined) v.match['driver'] = match['driver'];
    }
    if (eth['mtu'] !== undefined) v.mtu = Number(eth['mtu']);
    const master = con['master'];
    if (master !== undefined) get(byUuid.get(master) ?? master).interfaces.push(id);
    for (const kind of ['bond', 'bridge'] as const) {
      for (const [k, val] of Object.entries(sections.get(kind) ?? {})) {
        if (k === 'primary') { primaries.push([id, val]); continue; }
        const t = NM_BOND[k];
        if (t === undefined) throw new Error(`${id}: unmapped ${kind}.${k}`);
        v.parameters[t[0]] = t[1](val);
      }
    }
    const port = sections.get('bridge-port') ?? {};
    for (const [k, val] of Object.entries(port)) {
      const key = k === 'path-cost' ? 'path-cost' : 'port-priority';
      const p = get(byUuid.get(master ?? '') ?? '').parameters;
      p[key] = { ...(p[key] as Record<string, number> | undefined), [id]: Number(val) };
    }
    const vlan = sections.get('vlan');
    if (vlan !== undefined) {
      v.id = Number(vlan['id']);
      v.link = byUuid.get(vlan['parent'] ?? '') ?? vlan['parent'] ?? '';
    }
    for (const family of ['ipv4', 'ipv6'] as const) {
      const s = sections.get(family) ?? {};
      const method = s['method'];
      if (family === 'ipv4') v.dhcp4 = method === 'auto';
      else {
        // auto is one setting for SLAAC and for DHCPv6 (run as the router advertisement asks): the file's comment says which was asked
        v.dhcp6 = method === 'dhcp' || (method === 'auto' && /^# IPv6: method=auto is DHCPv6/mu.test(r.files.get(`/etc/NetworkManager/system-connections/vmctx-${id}.nmconnection`)?.content ?? ''));
        if (method === 'auto') v.acceptRa = true;
        if (method === 'disabled') v.acceptRa = false;
      }
      for (const [k, val] of Object.entries(s)) {
        if (/^address\d+$/u.test(k)) v.addresses.push(canon(val));
        if (k === 'gateway') v.routes.push(routeOf({ to: 'default', via: val }));
        if (/^route\d+$/u.test(k)) {
          const [to = '', via, metric] = val.split(',');
          const opts = Object.fromEntries((s[`${k}_options`] ?? '').split(',').filter((o) => o !== '').map((o): [string, string] => {
            const [name = '', value = ''] = o.split('=');
            return [name, value];
          }));
          const scope = { 0: 'global', 253: 'link', 254: 'host' }[Number(opts['scope'] ?? -1) as 0 | 253 | 254] as string | undefined;
          v.routes.push(routeOf({ to, via: via === '' ? undefined : via, metric: metric === undefined ? undefined : Number(metric), table: opts['table'], 'on-link': opts['onlink'] === 'true' ? true : undefined, scope }));
        }
        if (k === 'dns') v.dns.addresses.push(...val.split(';').filter((x) => x !== '').map(canon));
        if (k === 'dns-search') v.dns.search.push(...val.split(';').filter((x) => x !== ''));
      }
    }
  }
  // a bond's primary is a kernel name: the member whose match names it
  for (const [bond, name] of primaries) {
    const member = get(bond).interfaces.find((m) => ifaces.get(m)?.match['name'] === name) ?? name;
    get(bond).parameters['primary'] = member;
  }
  return withRenames({ ifaces, dns: { addresses: [], search: [] } }, r);
}

/** One ifcfg or route file's KEY=VALUE pairs, the double quotes of a quoted value removed. */
const shellVars = (text: string): Map<string, string> =>
  new Map(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const eq = l.indexOf('=');
    const v = l.slice(eq + 1);
    return [l.slice(0, eq), v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v] as [string, string];
  }));
/** The device id from an ifcfg file's device path comment ("# ethernets.lan0", "# vlans[\"a b\"]"). */
const idOfComment = (text: string): string => {
  const line = text.split('\n')[1] ?? '';
  const m = /^# (?:ethernets|bonds|bridges|vlans)(?:\.(.+)|\[(".*")\])$/u.exec(line);
  if (m === null) throw new Error(`no device path comment: ${line}`);
  return m[1] ?? (JSON.parse(m[2] ?? '""') as string);
};
const IFCFG_BOND: Record<string, [string, (s: string) => unknown]> = {
  mode: ['mode', String], miimon: ['mii-monitor-interval', Number], updelay: ['up-delay', Number], downdelay: ['down-delay', Number], lacp_rate: ['lacp-rate', String],
  xmit_hash_policy: ['transmit-hash-policy', String], min_links: ['min-links', Number], ad_select: ['ad-select', String], all_slaves_active: ['all-slaves-active', (s) => s === '1'],
  arp_interval: ['arp-interval', Number], arp_ip_target: ['arp-ip-targets', (s) => s.split(',')], arp_validate: ['arp-validate', String], arp_all_targets: ['arp-all-targets', String],
  fail_over_mac: ['fail-over-mac-policy', String], num_grat_arp: ['gratuitous-arp', Number], packets_per_slave: ['packets-per-slave', Number],
  primary_reselect: ['primary-reselect-policy', String], lp_interval: ['learn-packet-interval', Number],
  priority: ['priority', Number], hello_time: ['hello-time', (s) => Number(s) / 100], max_age: ['max-age', (s) => Number(s) / 100], ageing_time: ['ageing-time', (s) => Number(s) / 100],
};

/** network-scripts ifcfg/route files read back by the device path comment each starts with. */
export function ifcfgView(r: RenderedNetwork): View {
  const ifaces = new Map<string, ViewIface>();
  const idByName = new Map<string, string>();
  const get = (id: string): ViewIface => {
    let v = ifaces.get(id);
    if (v === undefined) ifaces.set(id, (v = blank()));
    return v;
  };
  const files = backendFiles(r).map(([path, f]) => ({ path, kind: /\/(ifcfg|route6?)-([^/]+)$/u.exec(path), text: f.content }));
  for (const { path, kind, text } of files) {
    if (kind === null) throw new Error(`unexpected file ${path}`);
    if (kind[1] === 'ifcfg') idByName.set(kind[2] ?? '', idOfComment(text));
  }
  const idOf = (name: string): string => idByName.get(name) ?? name;
  for (const { kind, text } of files) {
    const id = idOfComment(text);
    const v = get(id);
    if (kind?.[1] !== 'ifcfg') {
      for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
        const [to = '', ...rest] = line.split(' ');
        const opt = (k: string): string | undefined => { const i = rest.indexOf(k); return i < 0 ? undefined : rest[i + 1]; };
        v.routes.push(routeOf({ to, via: opt('via'), metric: opt('metric'), table: opt('table'), scope: opt('scope'), ...(rest.includes('onlink') ? { 'on-link': true } : {}) }));
      }
      continue;
    }
    const kv = shellVars(text);
    const val = (k: string): string | undefined => kv.get(k);
    if (val('HWADDR') !== undefined) v.match['macaddress'] = val('HWADDR') ?? '';
    if (val('TYPE') === 'Ethernet') v.match['name'] = val('DEVICE') ?? '';
    for (const [k, x] of kv) {
      const n = /^IPADDR(\d*)$/u.exec(k);
      if (n !== null) v.addresses.push(`${x}/${kv.get(`PREFIX${n[1] ?? ''}`) ?? ''}`);
      if (/^DNS\d+$/u.test(k)) v.dns.addresses.push(canon(x));
    }
    for (const a of [val('IPV6ADDR'), ...(val('IPV6ADDR_SECONDARIES')?.split(' ') ?? [])]) if (a !== undefined) v.addresses.push(canon(a));
    if (val('DOMAIN') !== undefined) v.dns.search.push(...(val('DOMAIN') ?? '').split(' '));
    if (val('MTU') !== undefined) v.mtu = Number(val('MTU'));
    v.dhcp4 = val('BOOTPROTO') === 'dhcp';
    v.dhcp6 = val('DHCPV6C') === 'yes';
    if (val('IPV6_AUTOCONF') !== undefined) v.acceptRa = val('IPV6_AUTOCONF') === 'yes';
    const gw = val('GATEWAY');
    if (gw !== undefined) v.routes.push(routeOf({ to: 'default', via: gw, metric: val('METRIC') }));
    const gw6 = val('IPV6_DEFAULTGW');
    if (gw6 !== undefined) v.routes.push(routeOf({ to: 'default', via: gw6 }));
    if (val('VLAN') === 'yes') { v.link = idOf(val('PHYSDEV') ?? ''); v.id = Number(val('VLAN_ID')); }
    if (val('STP') !== undefined) v.parameters['stp'] = val('STP') === 'yes';
    if (val('DELAY') !== undefined) v.parameters['forward-delay'] = Number(val('DELAY'));
    const master = val('MASTER') ?? val('BRIDGE');
    const opts = (s: string | undefined): [string, string][] => (s ?? '').split(' ').filter((o) => o !== '').map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]);
    if (master !== undefined) {
      const m = get(idOf(master));
      m.interfaces.push(id);
      for (const [k, x] of opts(val('BRIDGING_OPTS'))) {
        const key = k === 'path_cost' ? 'path-cost' : 'port-priority';
        m.parameters[key] = { ...(m.parameters[key] as Record<string, number> | undefined), [id]: Number(x) };
      }
    } else {
      for (const [k, x] of opts(val('BRIDGING_OPTS'))) {
        const t = IFCFG_BOND[k];
        if (t === undefined) throw new Error(`${id}: unmapped bridge option ${k}`);
        v.parameters[t[0]] = t[1](x);
      }
    }
    for (const [k, x] of opts(val('BONDING_OPTS'))) {
      if (k === 'primary') { v.parameters['primary'] = idOf(x); continue; }
      const t = IFCFG_BOND[k];
      if (t === undefined) throw new Error(`${id}: unmapped bonding option ${k}`);
      v.parameters[t[0]] = t[1](x);
    }
  }
  return withRenames({ ifaces, dns: { addresses: [], search: [] } }, r);
}

/** ifenslave's bond-* options (as eni.ts writes them) → netplan's parameter names and values. */
const ENI_BOND: Record<string, [string, (s: string) => unknown]> = {
  'bond-mode': ['mode', String], 'bond-lacp-rate': ['lacp-rate', String], 'bond-miimon': ['mii-monitor-interval', Number], 'bond-min-links': ['min-links', Number],
  'bond-xmit-hash-policy': ['transmit-hash-policy', String], 'bond-ad-select': ['ad-select', String], 'bond-all-slaves-active': ['all-slaves-active', (s) => s === '1'],
  'bond-arp-interval': ['arp-interval', Number], 'bond-arp-ip-target': ['arp-ip-targets', (s) => s.split(' ')], 'bond-arp-validate': ['arp-validate', String],
  'bond-arp-all-targets': ['arp-all-targets', String], 'bond-updelay': ['up-delay', Number], 'bond-downdelay': ['down-delay', Number],
  'bond-fail-over-mac': ['fail-over-mac-policy', String], 'bond-num-grat-arp': ['gratuitous-arp', Number], 'bond-packets-per-slave': ['packets-per-slave', Number],
  'bond-primary-reselect': ['primary-reselect-policy', String], 'bond-lp-interval': ['learn-packet-interval', Number],
  'bridge_stp': ['stp', (s) => s === 'on'], 'bridge_fd': ['forward-delay', Number], 'bridge_hello': ['hello-time', Number], 'bridge_maxage': ['max-age', Number],
  'bridge_ageing': ['ageing-time', Number], 'bridge_bridgeprio': ['priority', Number],
};

/**
 * The ENI file read back: each interface keyed by the device path in the comment above its stanzas
 * (the file itself is by kernel name), members, ports and VLAN parents mapped back from names to ids.
 */
export function eniView(r: RenderedNetwork): View {
  const ifaces = new Map<string, ViewIface>();
  const file = r.files.get(ENI_FILE);
  if (file === undefined) return { ifaces, dns: { addresses: [], search: [] } };
  const idOf = new Map<string, string>();
  let pendingId = '';
  let current: ViewIface | undefined;
  let currentId = '';
  const later: (() => void)[] = [];
  const portLater: (() => void)[] = [];
  const get = (id: string): ViewIface => {
    let v = ifaces.get(id);
    if (v === undefined) ifaces.set(id, (v = blank()));
    return v;
  };
  const id = (name: string): string => idOf.get(name) ?? name;
  for (const line of file.content.split('\n')) {
    const comment = /^# (?:ethernets|bonds|bridges|vlans)(?:\.([A-Za-z0-9_-]+)|\[("(?:[^"\\]|\\.)*")\])/u.exec(line);
    if (comment !== null) { pendingId = comment[1] ?? (JSON.parse(comment[2] ?? '""') as string); continue; }
    const control = /^(?:auto|allow-hotplug) (\S+)$/u.exec(line);
    if (control !== null) { idOf.set(control[1] ?? '', pendingId); continue; }
    const stanza = /^iface (\S+) (inet6?) (\w+)$/u.exec(line);
    if (stanza !== null) {
      const [, name = '', family, method] = stanza;
      currentId = id(name);
      current = get(currentId);
      current.match['name'] ??= name;
      if (family === 'inet' && method === 'dhcp') current.dhcp4 = true;
      if (family === 'inet6' && method === 'dhcp') current.dhcp6 = true;
      if (family === 'inet6' && method === 'auto') current.acceptRa = true;
      continue;
    }
    const opt = /^ {4}(\S+) (.*)$/u.exec(line);
    if (opt === null || current === undefined) continue;
    const [, key = '', value = ''] = opt;
    const v = current;
    const self = currentId;
    const words = value.split(' ');
    if (key === 'address') v.addresses.push(canon(value));
    else if (key === 'mtu') v.mtu = Number(value);
    else if (key === 'accept_ra') v.acceptRa = value !== '0';
    else if (key === 'dns-nameservers') v.dns.addresses.push(...words.map(canon));
    else if (key === 'dns-search') v.dns.search.push(...words);
    else if (key === 'bond-master') later.push(() => get(id(value)).interfaces.push(self));
    else if (key === 'bond-primary') later.push(() => { v.parameters['primary'] = id(value); });
    else if (key === 'bridge_ports') later.push(() => { v.interfaces = value === 'none' ? [] : words.map(id); });
    else if (key === 'vlan-raw-device') later.push(() => { v.link = id(value); v.id = Number(/\.(\d+)$/u.exec(v.match['name'] ?? '')?.[1]); });
    else if (ENI_BOND[key] !== undefined) { const [k, f] = ENI_BOND[key]; v.parameters[k] = f(value); }
    else if (key === 'pre-up' || key === 'post-up') {
      const mtu = /^ip link set dev \S+ mtu (\d+)$/u.exec(value);
      if (mtu !== null) v.mtu = Number(mtu[1]);
      const add = /\|\| ip link add link (\S+) name \S+ type vlan id (\d+)$/u.exec(value);
      if (add !== null) later.push(() => { v.link = id(add[1] ?? ''); v.id = Number(add[2]); });
      const port = /^ip link set dev \S+ type bridge_slave (cost|priority) (\d+)$/u.exec(value);
      if (port !== null) {
        portLater.push(() => {
          const bridge = [...ifaces.values()].find((b) => b.interfaces.includes(self));
          if (bridge === undefined) return;
          const k = port[1] === 'cost' ? 'path-cost' : 'port-priority';
          bridge.parameters[k] = { ...(bridge.parameters[k] as Record<string, number> | undefined), [self]: Number(port[2]) };
        });
      }
      const rt = /^ip (?:-6 )?route add (\S+)(.*) \|\| true$/u.exec(value);
      if (rt !== null) {
        const rest = (rt[2] ?? '').trim().split(' ');
        const arg = (k: string): string | undefined => { const i = rest.indexOf(k); return i < 0 ? undefined : rest[i + 1]; };
        v.routes.push(routeOf({ to: rt[1], via: arg('via'), metric: arg('metric'), table: arg('table'), scope: arg('scope'), ...(rest.includes('onlink') ? { 'on-link': true } : {}) }));
      }
    }
  }
  // names → ids once every stanza is read; bridge port settings need the bridges' ports first
  for (const f of [...later, ...portLater]) f();
  return withRenames({ ifaces, dns: { addresses: [], search: [] } }, r);
}
