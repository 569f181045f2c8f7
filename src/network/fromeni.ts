// ENI text (Debian /etc/network/interfaces syntax, NoCloud meta-data `network-interfaces`) →
// NetModel: iface stanzas of both families (several per interface, aliases NAME:N merged), static /
// DHCP / SLAAC / manual, gateways with metric, DNS, MTU, MACs, bonds, bridges and VLANs; every other
// keyword is named with its line. Includes are never followed, commands never run. Pure.
import { Scalar } from 'yaml';
import { DocTracker, sortNotes, Value, type Where } from './docreader.js';
import {
  ModelBuilder,
  addAddress,
  addRoute,
  addUnique,
  checkAddress,
  checkIfName,
  checkIp,
  checkMac,
  checkNameserver,
  checkSearchDomain,
  defaultRoute,
  emptyIp,
  MTU_MAX,
  MTU_MIN,
  UINT32_MAX,
  type BondParameters,
  type BridgeParameters,
  type DraftDevice,
  type IpDraft,
  type MappedNetwork,
} from './netmodel.js';
import { readV1BondParameter, readV1BridgeParameter } from './netparams.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The most lines one document may have (a meta-data value, not a distribution's file tree). */
export const MAX_ENI_LINES = 5000;

interface Option {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

interface Stanza {
  /** As written (lan0:1). */
  readonly name: string;
  /** Without the alias suffix (lan0). */
  readonly base: string;
  readonly family: string;
  readonly method: string;
  readonly line: number;
  readonly options: Option[];
}

const COMMANDS = ['pre-up', 'up', 'post-up', 'down', 'pre-down', 'post-down'];
/** Options with meaning only to a DHCP client ifupdown runs, not to netplan/networkd/NM. */
const DHCP_CLIENT_ONLY = ['leasehours', 'leasetime', 'vendor', 'client'];
/** Families and methods vmctx does not configure, with the options that only they take. */
const UNSUPPORTED_METHOD_OPTIONS = ['bootfile', 'server', 'provider', 'unit', 'options', 'frame', 'netnum', 'endpoint', 'local', 'ttl', 'mode', 'dstaddr', 'remote'];
const INET_METHODS = ['static', 'dhcp', 'manual', 'loopback'];
const INET6_METHODS = ['static', 'dhcp', 'auto', 'manual', 'loopback'];

/** The logical lines of the text: comments and blank lines dropped, `\` continuations joined, each with its first line. */
function logicalLines(text: string): { words: string[]; line: number }[] {
  const out: { words: string[]; line: number }[] = [];
  const physical = text.split(/\r?\n/u);
  let pending = '';
  let start = 0;
  physical.forEach((raw, i) => {
    if (pending === '' && /^\s*#/u.test(raw)) return;
    if (pending === '') start = i + 1;
    if (raw.endsWith('\\')) {
      pending += `${raw.slice(0, -1)} `;
      return;
    }
    const whole = pending + raw;
    pending = '';
    // control characters never reach a note (the console): shown as "?"
    // eslint-disable-next-line no-control-regex
    const words = whole.trim().split(/\s+/u).filter((w) => w !== '').map((w) => w.replace(/[\x00-\x1f\x7f]/gu, '?'));
    if (words.length > 0) out.push({ words, line: start });
  });
  if (pending.trim() !== '') out.push({ words: pending.trim().split(/\s+/u), line: start });
  return out;
}

class EniReader {
  readonly t: DocTracker;
  readonly b: ModelBuilder;
  readonly stanzas: Stanza[] = [];
  /** Interface names with an auto / allow-* line, and where. */
  readonly auto = new Map<string, number>();

  constructor(readonly file: string) {
    this.t = new DocTracker(file, undefined);
    this.b = new ModelBuilder(file);
  }

  note(where: Where, what: 'unknown' | 'not supported' | 'invalid' | 'unused', message: string): void {
    this.t.note(where, what, message);
  }

  /** An option's value as a document Value, so the shared parameter readers (netparams.ts) can read and report it. */
  value(o: Option): Value {
    return new Value(this.t, new Scalar(o.value), { path: o.key, line: o.line });
  }

  parse(text: string): void {
    const lines = logicalLines(text);
    if (lines.length > MAX_ENI_LINES) {
      this.note({ path: '', line: undefined }, 'invalid', `has more than ${MAX_ENI_LINES} lines; only the first ${MAX_ENI_LINES} are read`);
    }
    let current: Stanza | undefined;
    for (const { words, line } of lines.slice(0, MAX_ENI_LINES)) {
      const [key = '', ...rest] = words;
      const where = { path: key, line };
      if (key === 'iface') {
        current = undefined;
        const [name, family, method] = rest;
        const at = { path: `iface ${name ?? ''}`.trim(), line };
        if (name === undefined || family === undefined || method === undefined) {
          this.note(at, 'invalid', 'is not "iface NAME FAMILY METHOD"; this stanza is not configured');
          current = { name: '', base: '', family: '', method: '', line, options: [] };
          continue;
        }
        if (rest.length > 3) this.note(at, 'invalid', `has words after the method (${JSON.stringify(rest.slice(3).join(' ').slice(0, 40))}); they are ignored`);
        const base = name.split(':')[0] ?? name;
        current = { name, base, family, method, line, options: [] };
        this.stanzas.push(current);
        continue;
      }
      if (key === 'auto' || key.startsWith('allow-')) {
        current = undefined;
        if (rest.length === 0) this.note(where, 'invalid', `${key} names no interface`);
        if (key !== 'auto' && key !== 'allow-hotplug' && key !== 'allow-auto') {
          this.note(where, 'not supported', `${key}: interface classes other than auto and hotplug are not supported; the interfaces are configured at boot`);
          continue;
        }
        for (const name of rest) if (!this.auto.has(name.split(':')[0] ?? name)) this.auto.set(name.split(':')[0] ?? name, line);
        continue;
      }
      if (key === 'source' || key === 'source-directory' || key === 'source-dir') {
        current = undefined;
        this.note(where, 'not supported', `${key} ${JSON.stringify(rest.join(' ').slice(0, 60))}: includes files of the guest, which are never followed (cloud-init reads them from the disk it runs on)`);
        continue;
      }
      if (key === 'mapping') {
        current = { name: '', base: '', family: '', method: '', line, options: [] };
        this.note(where, 'not supported', 'mapping stanzas (a script that picks the configuration) are not supported; never run');
        continue;
      }
      if (key === 'no-auto-down' || key === 'no-scripts' || key === 'rename') {
        current = undefined;
        this.note(where, 'not supported', `${key} is an ifupdown-only directive; not applied`);
        continue;
      }
      if (current === undefined) {
        this.note(where, 'invalid', `${JSON.stringify(key)} is outside any iface stanza; not applied`);
        continue;
      }
      if (current.base === '') {
        this.note(where, 'invalid', `${key} belongs to a stanza that is not configured`);
        continue;
      }
      current.options.push({ key, value: rest.join(' '), line });
    }
  }
}

/** Which kind of device a name is, from all its stanzas and from the other stanzas' references. */
function kindOf(base: string, options: Option[], bondMasters: Set<string>): 'bond' | 'bridge' | 'vlan' | 'ethernet' {
  const keys = new Set(options.map((o) => o.key.replace(/_/gu, '-')));
  // a member carries bond-master (and, as cloud-init's ENI renderer writes it, often the bond's options too)
  if (bondMasters.has(base) || (!keys.has('bond-master') && [...keys].some((k) => k.startsWith('bond-')))) return 'bond';
  if (keys.has('bridge-ports')) return 'bridge';
  if (keys.has('vlan-raw-device') || /^.+\.\d{1,4}$/u.test(base) || /^vlan\d{1,4}$/u.test(base)) return 'vlan';
  return 'ethernet';
}

/** The words of a list option (bond-slaves, bridge_ports, dns-nameservers): "none" is none. */
const listOf = (o: Option): string[] => (o.value === 'none' ? [] : o.value.split(/[\s,]+/u).filter((w) => w !== ''));

/** Reads one ENI document into the model. `file` names it in the notes ("network-interfaces"). */
export function mapEni(text: string, file: string): MappedNetwork {
  const r = new EniReader(file);
  r.parse(text);
  const { b } = r;
  // every bond named by a member's bond-master, with the members that name it
  const bondMasters = new Set<string>();
  const membersOf = new Map<string, { name: string; where: Where }[]>();
  const addMember = (master: string, member: string, where: Where): void => {
    const list = membersOf.get(master) ?? [];
    if (!list.some((m) => m.name === member)) list.push({ name: member, where });
    membersOf.set(master, list);
  };
  for (const s of r.stanzas) {
    for (const o of s.options) {
      if (o.key === 'bond-master' || o.key === 'bond_master') {
        bondMasters.add(o.value);
        addMember(o.value, s.base, { path: o.key, line: o.line });
      }
    }
  }
  const bases = [...new Set(r.stanzas.map((s) => s.base))];
  const used = new Set<string>();
  const placeholders: { name: string; where: Where }[] = [];
  const notAuto: { base: string; where: Where }[] = [];
  for (const base of bases) {
    const all = r.stanzas.filter((s) => s.base === base);
    const first = all[0];
    if (first === undefined) continue;
    const firstWhere = { path: `iface ${first.name}`, line: first.line };
    if (base === 'lo' || all.every((s) => s.method === 'loopback')) {
      // the kernel's loopback: always up, nothing to configure
      for (const s of all) {
        if (s.method !== 'loopback') r.note({ path: `iface ${s.name}`, line: s.line }, 'not supported', `${s.family} ${s.method} on the loopback is not supported; only "loopback" is`);
        for (const o of s.options) r.note({ path: o.key, line: o.line }, 'not supported', `${o.key} on the loopback is not supported`);
      }
      continue;
    }
    const nameOk = checkIfName(base);
    if (!nameOk.ok) {
      r.note(firstWhere, 'invalid', `${JSON.stringify(base)} ${nameOk.reason}; not configured`);
      for (const o of all.flatMap((s) => s.options)) r.note({ path: o.key, line: o.line }, 'invalid', `${o.key} belongs to a stanza that is not configured`);
      continue;
    }
    const usable: Stanza[] = [];
    for (const s of all) {
      const at = { path: `iface ${s.name}`, line: s.line };
      const known = s.family === 'inet' ? INET_METHODS : s.family === 'inet6' ? INET6_METHODS : undefined;
      if (known === undefined) r.note(at, 'not supported', `family ${JSON.stringify(s.family)} is not supported (inet, inet6); this stanza is not configured`);
      else if (!known.includes(s.method)) r.note(at, 'not supported', `method ${JSON.stringify(s.method)} is not supported for ${s.family} (${known.join(', ')}); this stanza is not configured`);
      else {
        usable.push(s);
        continue;
      }
      for (const o of s.options) r.note({ path: o.key, line: o.line }, 'not supported', `${o.key} belongs to a stanza that is not configured`);
    }
    if (usable.length === 0) continue;
    const options = usable.flatMap((s) => s.options);
    const kind = kindOf(base, options, bondMasters);
    const ip = emptyIp();
    let dev: DraftDevice;
    if (kind === 'bond') {
      const parameters: Mutable<BondParameters> = {};
      dev = { kind: 'bond', id: base, interfaces: [], parameters, ...ip };
    } else if (kind === 'bridge') {
      const parameters: Mutable<BridgeParameters> = {};
      dev = { kind: 'bridge', id: base, interfaces: [], parameters, ...ip };
    } else if (kind === 'vlan') {
      const raw = options.findLast((o) => o.key === 'vlan-raw-device' || o.key === 'vlan_raw_device');
      const dotted = /^(.+)\.(\d{1,4})$/u.exec(base);
      const vlanNumber = /^vlan(\d{1,4})$/u.exec(base);
      const link = raw?.value ?? dotted?.[1];
      const vlanId = Number(dotted?.[2] ?? vlanNumber?.[1] ?? NaN);
      if (link === undefined || link === '' || !(vlanId >= 0 && vlanId <= 4094)) {
        r.note(firstWhere, 'invalid', `the VLAN ${JSON.stringify(base)} needs a name NAME.ID or vlanID and a vlan-raw-device (or a parent in its name), with an id from 0 to 4094; not configured`);
        for (const o of options) r.note({ path: o.key, line: o.line }, 'invalid', `${o.key} belongs to a VLAN that is not configured`);
        continue;
      }
      const where = raw === undefined ? firstWhere : { path: raw.key, line: raw.line };
      if (raw !== undefined && dotted !== null && dotted[1] !== raw.value) r.note(where, 'invalid', `the name says the parent is ${JSON.stringify(dotted[1])}, vlan-raw-device says ${JSON.stringify(raw.value)}; vlan-raw-device applies`);
      dev = { kind: 'vlan', id: base, vlanId, link, ...ip };
      b.reference(base, link, 'link', where);
      used.add(link);
      if (checkIfName(link).ok) placeholders.push({ name: link, where });
    } else {
      dev = { kind: 'ethernet', id: base, match: { name: base }, ...ip };
    }
    for (const s of usable) applyStanza(r, s, dev, membersOf, placeholders, used);
    for (const m of membersOf.get(base) ?? []) {
      if (dev.kind !== 'bond') continue;
      if (!dev.interfaces.includes(m.name)) dev.interfaces = [...dev.interfaces, m.name];
      b.reference(base, m.name, 'member', m.where);
      used.add(m.name);
    }
    b.add(dev, firstWhere);
    notAuto.push({ base, where: firstWhere });
  }
  // ifupdown brings up what auto names, and with it the members and parents of those
  for (const { base, where } of notAuto) {
    if (!r.auto.has(base) && !used.has(base) && !bondMasters.has(base) && ![...membersOf.values()].some((l) => l.some((m) => m.name === base))) {
      r.note(where, 'not supported', `${base} has no auto or allow-hotplug line: ifupdown would leave it down at boot; vmctx configures it`);
    }
  }
  // a member or parent that has no stanza of its own is the NIC of that name
  for (const p of [...placeholders, ...[...membersOf.values()].flat()]) {
    if (b.has(p.name) || r.stanzas.some((s) => s.base === p.name) || !checkIfName(p.name).ok) continue;
    b.add({ kind: 'ethernet', id: p.name, match: { name: p.name }, ...emptyIp() }, p.where);
  }
  for (const [name, line] of r.auto) {
    if (name !== 'lo' && !r.stanzas.some((s) => s.base === name)) r.note({ path: `auto ${name}`, line }, 'unused', `${name} is brought up by an auto line but has no iface stanza; nothing to configure`);
  }
  const built = b.build();
  return { model: built.model, notes: sortNotes([...r.t.notes, ...built.notes]) };
}

/** One usable stanza (inet/inet6 with a known method) into its device. */
function applyStanza(r: EniReader, s: Stanza, dev: DraftDevice, membersOf: Map<string, { name: string; where: Where }[]>, placeholders: { name: string; where: Where }[], used: Set<string>): void {
  const ip: IpDraft = dev;
  const v6 = s.family === 'inet6';
  const isStatic = s.method === 'static';
  const isDhcp = s.method === 'dhcp';
  if (isDhcp && !v6) ip.dhcp4 = true;
  if (isDhcp && v6) ip.dhcp6 = true;
  if (s.method === 'auto') ip.acceptRa = true;
  const last = (key: string): Option | undefined => s.options.findLast((o) => o.key === key);
  const metricO = last('metric');
  let metric: number | undefined;
  if (metricO !== undefined) {
    metric = r.value(metricO).int(0, UINT32_MAX, 'a metric');
    if (metric !== undefined && isDhcp) {
      if (v6) ip.dhcp6Overrides = { ...ip.dhcp6Overrides, routeMetric: metric };
      else ip.dhcp4Overrides = { ...ip.dhcp4Overrides, routeMetric: metric };
    } else if (metric !== undefined && !isStatic) r.note({ path: 'metric', line: metricO.line }, 'unused', `metric has no route to apply to on a ${s.method} stanza; not used`);
  }
  const netmaskO = last('netmask');
  if (isStatic && !s.options.some((o) => o.key === 'address')) r.note({ path: `iface ${s.name}`, line: s.line }, 'invalid', `a static ${s.family} stanza without an address: no address configured, its other options apply`);
  for (const o of s.options) {
    const where = { path: o.key, line: o.line };
    const key = o.key.startsWith('bridge-') ? o.key.replace(/-/gu, '_') : o.key;
    if (o.value === '' && !COMMANDS.includes(key)) {
      r.note(where, 'invalid', `${o.key} has no value; not applied`);
      continue;
    }
    if (key === 'metric') continue;
    if (key === 'address') {
      if (!isStatic) {
        r.note(where, 'unused', `address has no meaning on a ${s.method} stanza; not used`);
        continue;
      }
      const a = checkAddress(o.value, o.value.includes('/') ? undefined : netmaskO?.value, true);
      if (!a.ok) r.note(where, 'invalid', `${JSON.stringify(o.value.slice(0, 60))}${netmaskO === undefined ? '' : ` with netmask ${JSON.stringify(netmaskO.value)}`} ${a.reason}; skipped`);
      else if ((a.value.family === 6) !== v6) r.note(where, 'invalid', `${o.value} is an IPv${a.value.family} address in an ${s.family} stanza; skipped`);
      else addAddress(ip, a.value);
    } else if (key === 'netmask') {
      if (!isStatic) r.note(where, 'unused', `netmask has no meaning on a ${s.method} stanza; not used`);
      else if (!s.options.some((x) => x.key === 'address')) r.note(where, 'unused', 'netmask without an address; not used');
      else if (s.options.filter((x) => x.key === 'address').every((x) => x.value.includes('/'))) r.note(where, 'unused', 'the address has its own /prefix; this netmask is not used');
    } else if (key === 'gateway') {
      if (!isStatic) {
        r.note(where, 'unused', `gateway has no meaning on a ${s.method} stanza (the DHCP server or router gives it); not used`);
        continue;
      }
      const g = checkIp(o.value);
      if (!g.ok) r.note(where, 'invalid', `${JSON.stringify(o.value.slice(0, 60))} ${g.reason}; skipped`);
      else addRoute(ip, defaultRoute(g.value.address, g.value.family, metric));
    } else if (key === 'broadcast' || key === 'network') {
      r.note(where, 'not supported', `${key} is not supported: it follows from the address and prefix`);
    } else if (key === 'mtu') {
      const mtu = r.value(o).int(MTU_MIN, MTU_MAX, 'an MTU');
      if (mtu !== undefined) ip.mtu = mtu;
    } else if (key === 'hwaddress') {
      const words = o.value.split(/\s+/u);
      const macText = words.length > 1 && words[0] === 'ether' ? words[1] ?? '' : (words[0] ?? '');
      const mac = checkMac(macText);
      if (!mac.ok) r.note(where, 'invalid', `${JSON.stringify(o.value.slice(0, 60))} ${mac.reason}; skipped`);
      else if (dev.kind === 'ethernet') {
        // as cloud-init takes it: the MAC that finds the NIC, which then gets this stanza's name
        dev.match = { macaddress: mac.value };
        dev.setName = dev.id;
      } else ip.macaddress = mac.value;
    } else if (key === 'dns-nameservers') {
      for (const w of listOf(o)) {
        const n = checkNameserver(w);
        if (n.ok) addUnique(ip.nameservers.addresses, n.value);
        else r.note(where, 'invalid', `${JSON.stringify(w.slice(0, 60))} ${n.reason}; skipped`);
      }
    } else if (key === 'dns-search' || key === 'dns-domain') {
      for (const w of listOf(o)) {
        const d = checkSearchDomain(w);
        if (d.ok) addUnique(ip.nameservers.search, d.value);
        else r.note(where, 'invalid', `${JSON.stringify(w.slice(0, 60))} ${d.reason}; skipped`);
      }
    } else if (key.startsWith('dns-')) {
      r.note(where, 'not supported', `${key} is a resolvconf option that is not supported (dns-nameservers, dns-search and dns-domain are)`);
    } else if (COMMANDS.includes(key)) {
      r.note(where, 'not supported', `${key} runs a shell command; commands from a network document are never executed`);
    } else if (key === 'hostname') {
      if (isDhcp && !v6) ip.dhcp4Overrides = { ...ip.dhcp4Overrides, hostname: o.value };
      else r.note(where, 'unused', `hostname is a DHCPv4 option; not used on an ${s.family} ${s.method} stanza`);
    } else if (DHCP_CLIENT_ONLY.includes(key)) {
      r.note(where, 'not supported', `${key} is a dhclient option with no equivalent in the renderers; not applied`);
    } else if (key === 'accept_ra' || key === 'autoconf') {
      if (!v6) r.note(where, 'unused', `${key} is an inet6 option; not used on inet`);
      else {
        const on = r.value(o).int(0, 2, `${key} (0, 1 or 2)`);
        if (on !== undefined) ip.acceptRa = on > 0;
      }
    } else if (key === 'dhcp' && v6 && s.method === 'auto') {
      const on = r.value(o).int(0, 1, 'dhcp (0 or 1)');
      if (on === 1) ip.dhcp6 = true;
    } else if (key === 'bond-master' || key === 'bond_master') {
      // read with the members (membersOf)
      if (dev.kind !== 'ethernet') r.note(where, 'invalid', `bond-master on a ${dev.kind}: a bond's members are ethernets`);
    } else if (key === 'bond-slaves' || key === 'bond_slaves') {
      if (dev.kind !== 'bond') r.note(where, 'unused', 'bond-slaves on an interface that is not a bond; not used');
      else {
        for (const m of listOf(o)) {
          const list = membersOf.get(dev.id) ?? [];
          if (!list.some((x) => x.name === m)) list.push({ name: m, where });
          membersOf.set(dev.id, list);
        }
      }
    } else if (key.startsWith('bond-') || key.startsWith('bond_')) {
      if (dev.kind !== 'bond') r.note(where, 'unused', `${key} on an interface that is not a bond; not used`);
      else if (readV1BondParameter(key, r.value(o), dev.parameters) === 'unknown') r.note(where, 'unknown', `unknown bond option ${JSON.stringify(key)}; not applied`);
    } else if (key === 'bridge_ports') {
      if (dev.kind !== 'bridge') continue;
      if (o.value === 'all' || /^regex\b/u.test(o.value)) {
        r.note(where, 'not supported', `bridge_ports ${JSON.stringify(o.value.slice(0, 40))}: only a list of interface names (or none) is supported`);
        continue;
      }
      for (const m of listOf(o)) {
        if (!dev.interfaces.includes(m)) dev.interfaces = [...dev.interfaces, m];
        r.b.reference(dev.id, m, 'member', where);
        used.add(m);
        placeholders.push({ name: m, where });
      }
    } else if (key.startsWith('bridge_')) {
      if (dev.kind !== 'bridge') {
        r.note(where, 'unused', `${key} on an interface that is not a bridge; not used`);
        continue;
      }
      if (key === 'bridge_gcinit' || key === 'bridge_gcint') {
        r.note(where, 'not supported', `${key} (garbage collection interval) has no equivalent in the renderers; not applied`);
        continue;
      }
      const res = readV1BridgeParameter(key, r.value(o), dev.parameters);
      if (res === 'unknown') r.note(where, 'unknown', `unknown bridge option ${JSON.stringify(key)}; not applied`);
      else if (res === 'mac') {
        const mac = checkMac(o.value);
        if (mac.ok) dev.macaddress = mac.value;
        else r.note(where, 'invalid', `${JSON.stringify(o.value.slice(0, 60))} ${mac.reason}; skipped`);
      }
    } else if (key === 'vlan-raw-device' || key === 'vlan_raw_device') {
      if (dev.kind !== 'vlan') r.note(where, 'unused', 'vlan-raw-device on an interface that is not a VLAN; not used');
    } else if (key === 'hwaddr' || key === 'media' || key === 'pointopoint' || key === 'pointtopoint' || key === 'scope' || key === 'privext' || key === 'dad-attempts' || key === 'dad-interval' || key === 'preferred-lifetime' || key === 'request_prefix' || key === 'll-attempts' || key === 'll-interval') {
      r.note(where, 'not supported', `${key} is an ifupdown option with no equivalent in the model; not applied`);
    } else if (UNSUPPORTED_METHOD_OPTIONS.includes(key)) {
      r.note(where, 'not supported', `${key} belongs to a method that is not supported; not applied`);
    } else {
      r.note({ path: key.slice(0, 64), line: o.line }, 'unknown', `unknown option ${JSON.stringify(key.slice(0, 64))}; not applied`);
    }
  }
}
