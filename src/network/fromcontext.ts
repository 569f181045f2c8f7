// Context variables → network model: OpenNebula's ETHx_* (and aliases), StratusLab's and older
// OpenNebula's IP_PRIVATE/IP_PUBLIC/IP_EXTRA. Every invalid value is reported against its
// variable and that item is skipped; everything else still applies. Pure.
import { formatNameserver, parseNameserver } from '../formats/dns.js';
import { isIPv4Address, isIPv6Address, ipFromLegacyMac, networkOf, normaliseMac, parseCidr, parseMask } from './ip.js';
import { BACKENDS, safeToken, type Address, type Backend, type InterfaceConfig, type Ipv4Method, type Ipv6Method, type NetworkIssue, type NetworkModel, type Route } from './model.js';

type Vars = Readonly<Record<string, string>>;

const MAX_NICS = 64;
const MAX_ALIASES = 64;

/** NIC indexes present in the context (ETH0_…, ETH3_…), sorted numerically. */
export function nicIndexes(v: Vars): number[] {
  const found = new Set<number>();
  for (const key of Object.keys(v)) {
    const m = /^ETH(\d{1,4})_/u.exec(key);
    if (m !== null) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b).slice(0, MAX_NICS);
}

/** ALIAS indexes of one NIC (ETH0_ALIAS0_…), sorted numerically. */
export function aliasIndexes(v: Vars, nic: number): number[] {
  const found = new Set<number>();
  for (const key of Object.keys(v)) {
    const m = new RegExp(`^ETH${nic}_ALIAS(\\d{1,4})_`, 'u').exec(key);
    if (m !== null) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b).slice(0, MAX_ALIASES);
}

const yes = (value: string | undefined): boolean => /^(yes|true|1)$/iu.test((value ?? '').trim());
const get = (v: Vars, key: string): string | undefined => {
  const value = v[key]?.trim();
  return value === undefined || value === '' ? undefined : value;
};

class Collector {
  readonly issues: NetworkIssue[] = [];

  // records the problem and yields "no value" so call sites can return it in one expression
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  bad<T = never>(variable: string, value: string, why: string): T | undefined {
    const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    this.issues.push({ variable, message: `${JSON.stringify(shown)} ${why}; skipped` });
    return undefined;
  }

  ipv4(v: Vars, key: string): string | undefined {
    const value = get(v, key);
    if (value === undefined) return undefined;
    return isIPv4Address(value) ? value : this.bad(key, value, 'is not an IPv4 address');
  }

  ipv6(v: Vars, key: string): string | undefined {
    const value = get(v, key);
    if (value === undefined) return undefined;
    return isIPv6Address(value) ? value.toLowerCase() : this.bad(key, value, 'is not an IPv6 address');
  }

  mask(v: Vars, key: string, fallback: number): number | undefined {
    const value = v[key];
    if (value === undefined || value.trim() === '') return fallback;
    const prefix = parseMask(value);
    return prefix ?? this.bad(key, value, 'is not a valid (contiguous) netmask');
  }

  integer(v: Vars, key: string, min: number, max: number): number | undefined {
    const value = get(v, key);
    if (value === undefined) return undefined;
    const n = Number(value);
    return /^\d+$/u.test(value) && n >= min && n <= max ? n : this.bad(key, value, `is not a number from ${min} to ${max}`);
  }

  words(v: Vars, key: string, check: (w: string) => boolean, what: string): string[] {
    const out: string[] = [];
    for (const w of (v[key] ?? '').split(/[\s,]+/u).filter((x) => x !== '')) {
      if (check(w)) out.push(w);
      else this.bad(key, w, `is not ${what}`);
    }
    return out;
  }

  routes(v: Vars, key: string): Route[] {
    const raw = v[key];
    if (raw === undefined || raw.trim() === '') return [];
    const out: Route[] = [];
    for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const m = /^(\S+)\s+via\s+(\S+)(?:\s+metric\s+(\d+))?$/iu.exec(item);
      const cidr = m === null ? undefined : parseCidr(m[1] ?? '');
      const via = m?.[2] ?? '';
      if (m === null || cidr === undefined || !(cidr.family === 4 ? isIPv4Address(via) : isIPv6Address(via))) {
        this.bad(key, item, 'is not a route of the form "NETWORK/PREFIX via GATEWAY"');
        continue;
      }
      const metric = m[3] === undefined ? undefined : Number(m[3]);
      out.push({ to: cidr.address, prefix: cidr.prefix, via: via.toLowerCase(), ...(metric === undefined ? {} : { metric }) });
    }
    return out;
  }
}

const isSearchDomain = (d: string): boolean => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/u.test(d) && !/^[\d.]+$/u.test(d);

/**
 * DNS servers of one variable, read by the shared codec (src/formats/dns.ts) and reported with its
 * reason. `onLink`: a NIC's own list, where the NIC is the scope of a link-local server, so the
 * zone of `fe80::1%eth0` is left out (netplan and NetworkManager take no zone there).
 */
function nameservers(c: Collector, v: Vars, key: string, onLink: boolean): string[] {
  const out: string[] = [];
  for (const w of (v[key] ?? '').split(/[\s,]+/u).filter((x) => x !== '')) {
    const r = parseNameserver(w);
    if (!r.ok) c.bad(key, w, r.reason);
    else {
      const text = onLink ? r.server.address : formatNameserver(r.server);
      if (!out.includes(text)) out.push(text);
    }
  }
  return out;
}

function openNebulaNic(v: Vars, i: number, c: Collector, seenMacs: Map<string, number>): InterfaceConfig | undefined {
  const p = `ETH${i}_`;
  if (yes(v[`${p}EXTERNAL`])) return undefined;
  const rawMac = get(v, `${p}MAC`);
  let mac: string | undefined;
  if (rawMac !== undefined) {
    mac = normaliseMac(rawMac) ?? c.bad(`${p}MAC`, rawMac, 'is not a MAC address');
    if (mac !== undefined) {
      const other = seenMacs.get(mac);
      if (other !== undefined) {
        c.bad(`${p}MAC`, rawMac, `is the same MAC as ETH${other}_MAC; this NIC is not configured`);
        return undefined;
      }
      seenMacs.set(mac, i);
    }
  }
  const methodRaw = (get(v, `${p}METHOD`) ?? 'static').toLowerCase();
  let method: Ipv4Method = 'static';
  if (methodRaw === 'dhcp' || methodRaw === 'skip' || methodRaw === 'static') method = methodRaw;
  else c.bad(`${p}METHOD`, methodRaw, 'is not static, dhcp or skip (static assumed)');
  const addresses: Address[] = [];
  let gateway: string | undefined;
  if (method === 'static') {
    let ip = c.ipv4(v, `${p}IP`);
    if (ip === undefined && get(v, `${p}IP`) === undefined && mac !== undefined) ip = ipFromLegacyMac(mac);
    const prefix = c.mask(v, `${p}MASK`, 24);
    if (ip !== undefined && prefix !== undefined) addresses.push({ address: ip, prefix });
    for (const a of aliasIndexes(v, i)) {
      const ap = `${p}ALIAS${a}_`;
      if (yes(v[`${ap}EXTERNAL`]) || yes(v[`${ap}DETACH`])) continue;
      const aip = c.ipv4(v, `${ap}IP`);
      const amask = c.mask(v, `${ap}MASK`, 24);
      if (aip !== undefined && amask !== undefined) addresses.push({ address: aip, prefix: amask });
    }
    gateway = c.ipv4(v, `${p}GATEWAY`);
  }
  const metric = c.integer(v, `${p}METRIC`, 0, 4294967295);
  const v6Raw = (get(v, `${p}IP6_METHOD`) ?? '').toLowerCase();
  let v6method: Ipv6Method = 'static';
  if (['static', 'auto', 'dhcp', 'disable', 'skip'].includes(v6Raw)) v6method = v6Raw as Ipv6Method;
  else if (v6Raw !== '') c.bad(`${p}IP6_METHOD`, v6Raw, 'is not static, auto, dhcp, disable or skip (static assumed)');
  const v6addresses: Address[] = [];
  let v6gateway: string | undefined;
  if (v6method === 'static') {
    const prefix6 = c.integer(v, `${p}IP6_PREFIX_LENGTH`, 1, 128) ?? 64;
    for (const key of [`${p}IP6`, `${p}IP6_ULA`]) {
      const a = c.ipv6(v, key);
      if (a !== undefined) v6addresses.push({ address: a, prefix: prefix6 });
    }
    for (const a of aliasIndexes(v, i)) {
      const ap = `${p}ALIAS${a}_`;
      if (yes(v[`${ap}EXTERNAL`]) || yes(v[`${ap}DETACH`])) continue;
      const aprefix = c.integer(v, `${ap}IP6_PREFIX_LENGTH`, 1, 128) ?? 64;
      for (const key of [`${ap}IP6`, `${ap}IP6_ULA`]) {
        const a6 = c.ipv6(v, key);
        if (a6 !== undefined) v6addresses.push({ address: a6, prefix: aprefix });
      }
    }
    v6gateway = c.ipv6(v, `${p}IP6_GATEWAY`) ?? c.ipv6(v, `${p}GATEWAY6`);
    if (v6addresses.length === 0 && v6gateway === undefined) v6method = 'skip';
  }
  const v6metric = c.integer(v, `${p}IP6_METRIC`, 0, 4294967295);
  const mtu = c.integer(v, `${p}MTU`, 68, 65535);
  const vlan = c.integer(v, `${p}VLAN_ID`, 1, 4094);
  return {
    index: i,
    mac,
    name: `eth${i}`,
    nameResolved: false,
    ipv4: { method, addresses, ...(gateway === undefined ? {} : { gateway }), ...(metric === undefined ? {} : { metric }) },
    ipv6: { method: v6method, addresses: v6addresses, ...(v6gateway === undefined ? {} : { gateway: v6gateway }), ...(v6metric === undefined ? {} : { metric: v6metric }) },
    ...(mtu === undefined ? {} : { mtu }),
    routes: c.routes(v, `${p}ROUTES`),
    dns: nameservers(c, v, `${p}DNS`, true),
    search: c.words(v, `${p}SEARCH_DOMAIN`, isSearchDomain, 'a domain name'),
    ...(vlan === undefined ? {} : { vlan }),
  };
}

/** StratusLab / OpenNebula ≤ 3: IP_PRIVATE on eth0, IP_PUBLIC on eth1 (default route), IP_EXTRA on eth2. */
function stratusLabNics(v: Vars, c: Collector): InterfaceConfig[] {
  const plan = [
    { index: 0, ip: 'IP_PRIVATE', mask: 'NETMASK_PRIVATE' },
    { index: 1, ip: 'IP_PUBLIC', mask: 'NETMASK_PUBLIC' },
    { index: 2, ip: 'IP_EXTRA', mask: 'NETMASK_EXTRA' },
  ];
  const out: InterfaceConfig[] = [];
  const defaultGateway = c.ipv4(v, 'DEFAULT_GATEWAY');
  const hasPublic = get(v, 'IP_PUBLIC') !== undefined;
  for (const nic of plan) {
    const ip = c.ipv4(v, nic.ip);
    if (ip === undefined) continue;
    // ONE ≤ 3 wrote a single NETMASK for IP_PUBLIC
    const maskKey = v[nic.mask] === undefined && nic.index === 1 && v['NETMASK'] !== undefined ? 'NETMASK' : nic.mask;
    const prefix = c.mask(v, maskKey, 24);
    if (prefix === undefined) continue;
    const routes: Route[] = [];
    if (nic.index === 0) {
      const gnet = c.ipv4(v, 'GLOBAL_NETWORK');
      const gmask = v['GLOBAL_NETMASK'] === undefined ? undefined : c.mask(v, 'GLOBAL_NETMASK', 24);
      if (gnet !== undefined && gmask !== undefined && defaultGateway !== undefined) routes.push({ to: networkOf(gnet, gmask), prefix: gmask, via: defaultGateway });
    }
    // the old scripts put the default route on the public NIC when there was one, else on eth0
    const takesDefault = hasPublic ? nic.index === 1 : nic.index === 0;
    out.push({
      index: nic.index,
      mac: undefined,
      name: `eth${nic.index}`,
      nameResolved: false,
      ipv4: { method: 'static', addresses: [{ address: ip, prefix }], ...(takesDefault && defaultGateway !== undefined ? { gateway: defaultGateway } : {}) },
      ipv6: { method: 'skip', addresses: [] },
      routes,
      dns: [],
      search: [],
    });
  }
  return out;
}

export function networkFromContext(v: Vars): NetworkModel {
  const c = new Collector();
  const seenMacs = new Map<string, number>();
  let interfaces: InterfaceConfig[] = [];
  for (const i of nicIndexes(v)) {
    const nic = openNebulaNic(v, i, c, seenMacs);
    if (nic !== undefined) interfaces.push(nic);
  }
  if (interfaces.length === 0) interfaces = stratusLabNics(v, c);
  let backend: Backend | undefined;
  const forced = get(v, 'NETCFG_TYPE')?.toLowerCase();
  if (forced !== undefined) {
    if ((BACKENDS as readonly string[]).includes(forced)) backend = forced as Backend;
    else c.bad('NETCFG_TYPE', forced, `is not one of ${BACKENDS.join(', ')} (detected instead)`);
  }
  for (const nic of interfaces) {
    for (const value of [nic.name, nic.mac ?? 'x', ...nic.dns, ...nic.search]) {
      if (!safeToken(value)) throw new Error(`internal: unsafe token ${JSON.stringify(value)} reached the network model`);
    }
  }
  return {
    interfaces,
    nameservers: nameservers(c, v, 'DNS', false),
    search: c.words(v, 'SEARCH_DOMAIN', isSearchDomain, 'a domain name'),
    ...(backend === undefined ? {} : { backend }),
    issues: c.issues,
  };
}
