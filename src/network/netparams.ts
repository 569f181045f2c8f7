// Readers shared by the network mappers: bond and bridge parameters under every spelling
// (netplan's, network-config v1's, OpenStack's), DNS lists and routes, each value checked as it
// enters the model and reported against its key when it is wrong. Pure.
import type { MapReader, Value } from './docreader.js';
import {
  BOND_MODES,
  MTU_MAX,
  MTU_MIN,
  UINT32_MAX,
  checkDestination,
  checkIp,
  checkNameserver,
  checkSearchDomain,
  type BondMode,
  type BondParameters,
  type BridgeParameters,
  type Family,
  type RouteSpec,
} from './netmodel.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A text value from a fixed set; invalid otherwise. */
function oneOf<T extends string>(v: Value, allowed: readonly T[]): T | undefined {
  const t = v.text();
  if (t === undefined) return undefined;
  const lower = t.toLowerCase();
  const found = allowed.find((a) => a === lower);
  return found ?? v.invalid(`${v.shown()} is not one of ${allowed.join(', ')}; skipped`);
}

/** A duration: a whole number in `unit`, or a string with "ms" or "s". */
function duration(v: Value, unit: 'ms' | 's', max = UINT32_MAX): number | undefined {
  if (!v.isScalar()) return v.invalid('is not a duration; skipped');
  const t = v.text('a duration');
  if (t === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*(ms|s|sec)?\s*$/iu.exec(t);
  if (m === null) return v.invalid(`${v.shown()} is not a duration (a number of ${unit === 'ms' ? 'milliseconds' : 'seconds'}); skipped`);
  const n = Number(m[1]);
  const given = (m[2] ?? unit).toLowerCase() === 'ms' ? 'ms' : 's';
  const value = given === unit ? n : given === 's' ? n * 1000 : n / 1000;
  if (!Number.isInteger(value) || value > max) return v.invalid(`${v.shown()} is not a whole number of ${unit === 'ms' ? 'milliseconds' : 'seconds'} up to ${max}; skipped`);
  return value;
}

const KERNEL_BOND_MODES: Readonly<Record<string, BondMode>> = { '0': 'balance-rr', '1': 'active-backup', '2': 'balance-xor', '3': 'broadcast', '4': '802.3ad', '5': 'balance-tlb', '6': 'balance-alb' };

/** netplan's bond parameter names → a reader into BondParameters. */
const BOND: Readonly<Record<string, (v: Value, p: Mutable<BondParameters>) => void>> = {
  mode: (v, p) => {
    const t = v.text();
    if (t === undefined) return;
    const mode = KERNEL_BOND_MODES[t] ?? BOND_MODES.find((m) => m === t.toLowerCase());
    if (mode === undefined) v.invalid(`${v.shown()} is not a bond mode (${BOND_MODES.join(', ')}, or 0 to 6); skipped`);
    else p.mode = mode;
  },
  'lacp-rate': (v, p) => {
    const t = v.text();
    if (t === undefined) return;
    const rate = t === '0' ? 'slow' : t === '1' ? 'fast' : oneOf(v, ['slow', 'fast'] as const);
    if (rate !== undefined) p.lacpRate = rate;
  },
  'mii-monitor-interval': (v, p) => { set(p, 'miiMonitorInterval', duration(v, 'ms')); },
  'min-links': (v, p) => { set(p, 'minLinks', v.int(0, UINT32_MAX)); },
  'transmit-hash-policy': (v, p) => { set(p, 'transmitHashPolicy', oneOf(v, ['layer2', 'layer3+4', 'layer2+3', 'encap2+3', 'encap3+4', 'vlan+srcmac'] as const)); },
  'ad-select': (v, p) => { set(p, 'adSelect', oneOf(v, ['stable', 'bandwidth', 'count'] as const)); },
  'all-slaves-active': (v, p) => { set(p, 'allSlavesActive', v.bool()); },
  'arp-interval': (v, p) => { set(p, 'arpInterval', duration(v, 'ms')); },
  'arp-ip-targets': (v, p) => {
    const items = v.items(true);
    if (items === undefined) return;
    const out: string[] = [];
    for (const item of items) {
      for (const word of (item.text('an IPv4 address') ?? '').split(/[\s,]+/u).filter((w) => w !== '')) {
        const ip = checkIp(word);
        if (ip.ok && ip.value.family === 4) out.push(ip.value.address);
        else item.invalid(`${JSON.stringify(word.slice(0, 40))} is not an IPv4 address; skipped`);
      }
    }
    if (out.length > 16) v.invalid('has more than 16 addresses, the most a bond takes; the first 16 kept');
    if (out.length > 0) p.arpIpTargets = out.slice(0, 16);
  },
  'arp-validate': (v, p) => { set(p, 'arpValidate', oneOf(v, ['none', 'active', 'backup', 'all', 'filter', 'filter_active', 'filter_backup'] as const)); },
  'arp-all-targets': (v, p) => { set(p, 'arpAllTargets', oneOf(v, ['any', 'all'] as const)); },
  'up-delay': (v, p) => { set(p, 'upDelay', duration(v, 'ms')); },
  'down-delay': (v, p) => { set(p, 'downDelay', duration(v, 'ms')); },
  'fail-over-mac-policy': (v, p) => { set(p, 'failOverMacPolicy', oneOf(v, ['none', 'active', 'follow'] as const)); },
  'gratuitous-arp': (v, p) => { set(p, 'gratuitousArp', v.int(1, 255)); },
  'packets-per-slave': (v, p) => { set(p, 'packetsPerSlave', v.int(0, 65535)); },
  'primary-reselect-policy': (v, p) => { set(p, 'primaryReselectPolicy', oneOf(v, ['always', 'better', 'failure'] as const)); },
  'learn-packet-interval': (v, p) => { set(p, 'learnPacketInterval', duration(v, 's', 0x7fffffff)); },
  primary: (v, p) => { set(p, 'primary', v.text('an interface id')); },
};

/** netplan's newer and misspelled names for the same parameters. */
const BOND_ALIASES: Readonly<Record<string, string>> = {
  'all-members-active': 'all-slaves-active',
  'packets-per-member': 'packets-per-slave',
  'gratuitious-arp': 'gratuitous-arp',
};

/** Bond parameters that exist (kernel, netplan, v1) but that vmctx does not carry. */
export const BOND_NOT_SUPPORTED = [
  'active_slave', 'ad_actor_key', 'ad_actor_sys_prio', 'ad_actor_system', 'ad_aggregator', 'ad_num_ports', 'ad_partner_key',
  'ad_partner_mac', 'ad_user_port_key', 'mii_status', 'num_unsol_na', 'queue_id', 'resend_igmp', 'tlb_dynamic_lb', 'use_carrier',
];

/** network-config v1 / ifupdown / OpenStack bond names (without "bond-"/"bond_", "-" as "_") → netplan's. */
const BOND_V1: Readonly<Record<string, string>> = {
  mode: 'mode', lacp_rate: 'lacp-rate', miimon: 'mii-monitor-interval', min_links: 'min-links', xmit_hash_policy: 'transmit-hash-policy',
  ad_select: 'ad-select', all_slaves_active: 'all-slaves-active', arp_interval: 'arp-interval', arp_ip_target: 'arp-ip-targets',
  arp_validate: 'arp-validate', arp_all_targets: 'arp-all-targets', updelay: 'up-delay', downdelay: 'down-delay',
  fail_over_mac: 'fail-over-mac-policy', num_grat_arp: 'gratuitous-arp', packets_per_slave: 'packets-per-slave',
  primary_reselect: 'primary-reselect-policy', lp_interval: 'learn-packet-interval', learn_packet_interval: 'learn-packet-interval', primary: 'primary',
};

function set<K extends keyof T, T>(p: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) p[key] = value;
}

export const NETPLAN_BOND_PARAMETERS = [...Object.keys(BOND), ...Object.keys(BOND_ALIASES)];

/** One netplan bond parameter; false when the name is not one (the caller reports it). */
export function readNetplanBondParameter(name: string, v: Value, p: Mutable<BondParameters>): boolean {
  if (name === 'resend-igmp') {
    v.unsupported('bond parameter resend-igmp is not supported; the kernel default applies');
    return true;
  }
  const reader = BOND[BOND_ALIASES[name] ?? name];
  if (reader === undefined) return false;
  reader(v, p);
  return true;
}

/**
 * One bond parameter as network-config v1 (`bond-mode`, `bond_miimon`, `mode`), OpenStack
 * (`bond_mode`) or ifupdown spell it. 'unknown' when it is no bond parameter at all.
 */
export function readV1BondParameter(rawName: string, v: Value, p: Mutable<BondParameters>): 'read' | 'unknown' {
  const name = rawName.replace(/^bond[-_]/u, '').replace(/-/gu, '_');
  const netplan = BOND_V1[name];
  if (netplan !== undefined) {
    readNetplanBondParameter(netplan, v, p);
    return 'read';
  }
  if (name === 'slaves') {
    v.unused('the members are taken from bond_interfaces / bond_links');
    return 'read';
  }
  if (BOND_NOT_SUPPORTED.includes(name)) {
    v.unsupported(`bond parameter ${name} is not supported; the kernel default applies`);
    return 'read';
  }
  return 'unknown';
}

/** netplan's bridge parameters. Port settings (path-cost, port-priority) are maps of member id → number. */
export function readNetplanBridgeParameter(name: string, v: Value, p: Mutable<BridgeParameters>): boolean {
  const ports = (max: number): Record<string, number> | undefined => {
    const m = v.map('a mapping of member → number');
    if (m === undefined) return undefined;
    const out: Record<string, number> = {};
    for (const [member, value] of m.entries()) {
      const n = value.int(0, max);
      if (n !== undefined) out[member] = n;
    }
    return out;
  };
  switch (name) {
    case 'ageing-time':
    case 'aging-time':
      set(p, 'ageingTime', duration(v, 's'));
      return true;
    case 'priority':
      set(p, 'priority', v.int(0, 65535));
      return true;
    case 'forward-delay':
      set(p, 'forwardDelay', duration(v, 's', 30));
      return true;
    case 'hello-time':
      set(p, 'helloTime', duration(v, 's', 10));
      return true;
    case 'max-age':
      set(p, 'maxAge', duration(v, 's', 40));
      return true;
    case 'stp':
      set(p, 'stp', v.bool());
      return true;
    case 'path-cost':
      set(p, 'pathCost', ports(65535));
      return true;
    case 'port-priority':
      set(p, 'portPriority', ports(63));
      return true;
    default:
      return false;
  }
}

/** ifupdown's "PORT VALUE" list (bridge_pathcost: ["eth0 75"]) as a member → number map. */
function portList(v: Value, max: number): Record<string, number> | undefined {
  const items = v.items(true);
  if (items === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const item of items) {
    const t = item.text('"PORT NUMBER"');
    if (t === undefined) continue;
    const m = /^\s*(\S+)\s+(\d{1,5})\s*$/u.exec(t);
    if (m === null || Number(m[2]) > max) {
      item.invalid(`${item.shown()} is not "PORT NUMBER" with a number up to ${max}; skipped`);
      continue;
    }
    out[m[1] ?? ''] = Number(m[2]);
  }
  return out;
}

/** network-config v1's bridge params (bridge_fd, bridge_stp "on"/"off", …); 'unknown' when none of them. */
export function readV1BridgeParameter(name: string, v: Value, p: Mutable<BridgeParameters>): 'read' | 'unknown' | 'mac' {
  const netplan: Readonly<Record<string, string>> = { bridge_ageing: 'ageing-time', bridge_bridgeprio: 'priority', bridge_fd: 'forward-delay', bridge_hello: 'hello-time', bridge_maxage: 'max-age', bridge_stp: 'stp' };
  const mapped = netplan[name];
  if (mapped !== undefined) {
    readNetplanBridgeParameter(mapped, v, p);
    return 'read';
  }
  if (name === 'bridge_pathcost') set(p, 'pathCost', portList(v, 65535));
  else if (name === 'bridge_portprio') set(p, 'portPriority', portList(v, 63));
  else if (name === 'bridge_hw') return 'mac';
  else if (name === 'bridge_ports') v.unused('the ports are taken from bridge_interfaces');
  else if (name === 'bridge_maxwait' || name === 'bridge_waitport' || name === 'bridge_gcint') v.unsupported(`${name} is an ifupdown wait/timer setting with no equivalent here; not applied`);
  else return 'unknown';
  return 'read';
}

/** A list of DNS servers (a list, or one string of several separated by spaces/commas). */
export function readNameservers(v: Value, into: string[]): void {
  for (const item of v.items(true) ?? []) {
    for (const word of (item.text('an IP address') ?? '').split(/[\s,]+/u).filter((w) => w !== '')) {
      const r = checkNameserver(word);
      if (!r.ok) item.invalid(`${JSON.stringify(word.slice(0, 60))} ${r.reason}; skipped`);
      else if (!into.includes(r.value)) into.push(r.value);
    }
  }
}

/** A list of search domains. */
export function readSearch(v: Value, into: string[]): void {
  for (const item of v.items(true) ?? []) {
    for (const word of (item.text('a domain name') ?? '').split(/[\s,]+/u).filter((w) => w !== '')) {
      const r = checkSearchDomain(word);
      if (!r.ok) item.invalid(`${JSON.stringify(word.slice(0, 60))} ${r.reason}; skipped`);
      else if (!into.includes(r.value)) into.push(r.value);
    }
  }
}

export const readMtu = (v: Value | undefined): number | undefined => (v === undefined || v.isNull() ? undefined : v.int(MTU_MIN, MTU_MAX, 'an MTU'));

/**
 * A route in the v1 / OpenStack spelling: destination or network (CIDR or with netmask/prefix),
 * gateway, metric; `defaultMetric` is the subnet's metric. Undefined (reported) when unusable.
 */
export function readV1Route(v: Value, defaultMetric: number | undefined): RouteSpec | undefined {
  const m = v.map('a route (a mapping)');
  if (m === undefined) return undefined;
  const destV = m.getAny(['destination', 'network']);
  const maskV = m.getAny(['netmask', 'prefix']);
  const gwV = m.get('gateway');
  const metricV = m.get('metric');
  const mtuV = m.get('mtu');
  const tableV = m.get('table');
  const dest = destV?.text('a network');
  const mask = maskV?.text('a netmask or prefix');
  if (destV === undefined) return v.invalid('has no destination; this route skipped');
  if (dest === undefined) return undefined;
  let via: string | undefined;
  let family: Family | undefined;
  if (gwV !== undefined && !gwV.isNull()) {
    const g = gwV.text('an IP address');
    if (g === undefined) return undefined;
    const ip = checkIp(g);
    if (!ip.ok) return gwV.invalid(`${gwV.shown()} ${ip.reason}; this route skipped`);
    via = ip.value.address;
    family = ip.value.family;
  }
  const to = checkDestination(dest, mask, family);
  if (!to.ok) return (destV.isNull() ? v : destV).invalid(`${destV.shown()}${mask === undefined ? '' : ` with netmask ${JSON.stringify(mask)}`} ${to.reason}; this route skipped`);
  if (family !== undefined && family !== to.value.family) return v.invalid(`the gateway ${via ?? ''} and the destination ${dest} are of different IP families; this route skipped`);
  const metric = metricV === undefined || metricV.isNull() ? defaultMetric : metricV.int(0, UINT32_MAX, 'a metric');
  const mtu = mtuV === undefined ? undefined : readMtu(mtuV);
  const table = tableV === undefined ? undefined : tableV.int(1, UINT32_MAX, 'a routing table number');
  return { to: to.value, ...(via === undefined ? {} : { via }), ...(metric === undefined ? {} : { metric }), ...(table === undefined ? {} : { table }), ...(mtu === undefined ? {} : { mtu }) };
}

/** Reads the listed keys of `m` that exist as "not supported", with one reason. */
export function unsupportedKeys(m: MapReader, keys: readonly string[], why: (key: string) => string): void {
  for (const key of keys) m.unsupported(key, why(key));
}
