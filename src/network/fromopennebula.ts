// OpenNebula context variables (ETHx_*, aliases, global DNS) and StratusLab's / OpenNebula ≤ 3's
// IP_PRIVATE/IP_PUBLIC/IP_EXTRA → NetModel: the meaning fromcontext.ts gives them, plus route
// metrics; every ETHx_ variable is applied or named. ETHx_VLAN_ID is the virtual network's VLAN,
// which the host's bridge tags (802.1Q, VXLAN, Open vSwitch drivers): the guest's NIC sees it
// untagged, so it is named and not configured (one-context does the same). Pure.
import { formatNameserver, parseNameserver } from '../formats/dns.js';
import type { NetworkNote, NoteKind } from './docreader.js';
import { isIPv4Address, isIPv6Address, ipFromLegacyMac, networkOf, normaliseMac, parseCidr, parseMask } from './ip.js';
import { BACKENDS, type Backend } from './plan.js';
import { ModelBuilder, addAddress, addRoute, defaultRoute, emptyIp, UINT32_MAX, type IpDraft, type MappedNetwork } from './netmodel.js';
import { aliasIndexes, nicIndexes } from './fromcontext.js';

type Vars = Readonly<Record<string, string>>;

/** The model, the notes, and the backend NETCFG_TYPE asks for. */
export interface OpenNebulaNetwork extends MappedNetwork {
  readonly backend?: Backend;
}

const MAX_NICS = 64;
const MAX_ALIASES = 64;

/** Per-NIC variables the mapper reads (ETHx_ + this). */
const NIC_KEYS = [
  'MAC', 'IP', 'MASK', 'GATEWAY', 'METRIC', 'MTU', 'DNS', 'SEARCH_DOMAIN', 'METHOD', 'ROUTES', 'IP6', 'IP6_ULA', 'IP6_PREFIX_LENGTH',
  'IP6_GATEWAY', 'GATEWAY6', 'IP6_METRIC', 'IP6_METHOD', 'EXTERNAL',
];
/** Per-NIC variables OpenNebula sets that are not guest network configuration. */
const NIC_INFORMATIONAL: Readonly<Record<string, string>> = {
  NETWORK: 'follows from ETHx_IP and ETHx_MASK',
  // OpenNebula sets it for every NIC on a VLAN network; the host tags, a VLAN in the guest would cut the NIC off
  VLAN_ID: 'is the VLAN the host tags for this NIC (the guest sees its traffic untagged)',
  VROUTER_IP: 'is for virtual routers',
  VROUTER_IP6: 'is for virtual routers',
  VROUTER_IP6_GLOBAL: 'is for virtual routers',
  VROUTER_IP6_ULA: 'is for virtual routers',
  VROUTER_MANAGEMENT: 'is for virtual routers',
};
const ALIAS_KEYS = ['IP', 'MASK', 'IP6', 'IP6_ULA', 'IP6_PREFIX_LENGTH', 'EXTERNAL', 'DETACH'];
const ALIAS_INFORMATIONAL: Readonly<Record<string, string>> = {
  MAC: 'is the NIC\'s own MAC',
  NETWORK: 'follows from the alias\'s IP and MASK',
};

const yes = (value: string | undefined): boolean => /^(yes|true|1)$/iu.test((value ?? '').trim());
const isSearchDomain = (d: string): boolean => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/u.test(d) && !/^[\d.]+$/u.test(d);

class Reader {
  readonly notes: NetworkNote[] = [];
  /** Variables read (or named): whatever else starts with ETHx_ is reported as unknown. */
  readonly seen = new Set<string>();

  constructor(
    readonly v: Vars,
    readonly file: string,
    readonly lineOf: (variable: string) => number | undefined,
  ) {}

  note(variable: string, what: NoteKind, message: string): void {
    this.notes.push({ path: variable, file: this.file, line: this.lineOf(variable), what, message });
  }

  get(key: string): string | undefined {
    this.seen.add(key);
    const value = this.v[key]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  bad<T = never>(key: string, value: string, why: string): T | undefined {
    const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    this.note(key, 'invalid', `${JSON.stringify(shown)} ${why}; skipped`);
    return undefined;
  }

  ipv4(key: string): string | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    return isIPv4Address(value) ? value : this.bad(key, value, 'is not an IPv4 address');
  }

  ipv6(key: string): string | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    return isIPv6Address(value) ? value.toLowerCase() : this.bad(key, value, 'is not an IPv6 address');
  }

  mask(key: string, fallback: number): number | undefined {
    this.seen.add(key);
    const value = this.v[key];
    if (value === undefined || value.trim() === '') return fallback;
    return parseMask(value) ?? this.bad(key, value, 'is not a valid (contiguous) netmask');
  }

  integer(key: string, min: number, max: number): number | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    return /^\d+$/u.test(value) && n >= min && n <= max ? n : this.bad(key, value, `is not a number from ${min} to ${max}`);
  }

  search(key: string, into: string[]): void {
    this.seen.add(key);
    for (const w of (this.v[key] ?? '').split(/[\s,]+/u).filter((x) => x !== '')) {
      if (!isSearchDomain(w)) this.bad(key, w, 'is not a domain name');
      else if (!into.includes(w)) into.push(w);
    }
  }

  /** DNS servers; `onLink`: a NIC's own list, where the zone of a link-local server is left out. */
  nameservers(key: string, onLink: boolean, into: string[]): void {
    this.seen.add(key);
    for (const w of (this.v[key] ?? '').split(/[\s,]+/u).filter((x) => x !== '')) {
      const r = parseNameserver(w);
      if (!r.ok) this.bad(key, w, r.reason);
      else {
        const text = onLink ? r.server.address : formatNameserver(r.server);
        if (!into.includes(text)) into.push(text);
      }
    }
  }

  /** ETHx_ROUTES: "NET/PREFIX via GW[ metric N]" items, comma separated (one-context's form). */
  routes(key: string, ip: IpDraft): void {
    this.seen.add(key);
    const raw = this.v[key];
    if (raw === undefined) return;
    for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const m = /^(\S+)\s+via\s+(\S+)(?:\s+metric\s+(\d{1,10}))?$/iu.exec(item);
      const cidr = m === null ? undefined : parseCidr(m[1] ?? '');
      const via = m?.[2] ?? '';
      const metric = m?.[3] === undefined ? undefined : Number(m[3]);
      if (m === null || cidr === undefined || !(cidr.family === 4 ? isIPv4Address(via) : isIPv6Address(via)) || (metric !== undefined && metric > UINT32_MAX)) {
        this.bad(key, item, 'is not a route of the form "NETWORK/PREFIX via GATEWAY [metric N]"');
        continue;
      }
      addRoute(ip, { to: { address: cidr.address, prefix: cidr.prefix, family: cidr.family }, via: via.toLowerCase(), ...(metric === undefined ? {} : { metric }) });
    }
  }
}

/** One ETHx NIC into the builder. */
function openNebulaNic(r: Reader, b: ModelBuilder, i: number, seenMacs: Map<string, number>): void {
  const p = `ETH${i}_`;
  const where = { path: `${p}MAC`, line: r.lineOf(`${p}MAC`) };
  if (yes(r.get(`${p}EXTERNAL`))) {
    r.note(`${p}EXTERNAL`, 'unused', `ETH${i} is external (not configured on the guest); its other variables are not used`);
    for (const key of Object.keys(r.v)) if (key.startsWith(p)) r.seen.add(key);
    return;
  }
  const rawMac = r.get(`${p}MAC`);
  let mac: string | undefined;
  if (rawMac !== undefined) {
    mac = normaliseMac(rawMac) ?? r.bad(`${p}MAC`, rawMac, 'is not a MAC address');
    if (mac !== undefined) {
      const other = seenMacs.get(mac);
      if (other !== undefined) {
        r.bad(`${p}MAC`, rawMac, `is the same MAC as ETH${other}_MAC; this NIC is not configured`);
        for (const key of Object.keys(r.v)) if (key.startsWith(p)) r.seen.add(key);
        return;
      }
      seenMacs.set(mac, i);
    }
  }
  const ip = emptyIp();
  const methodRaw = (r.get(`${p}METHOD`) ?? 'static').toLowerCase();
  let method: 'static' | 'dhcp' | 'skip' = 'static';
  if (methodRaw === 'dhcp' || methodRaw === 'skip' || methodRaw === 'static') method = methodRaw;
  else r.bad(`${p}METHOD`, methodRaw, 'is not static, dhcp or skip (static assumed)');
  const metric = r.integer(`${p}METRIC`, 0, UINT32_MAX);
  const aliases = aliasIndexes(r.v, i).filter((a) => {
    const ap = `${p}ALIAS${a}_`;
    for (const key of Object.keys(r.v)) {
      const suffix = key.startsWith(ap) ? key.slice(ap.length) : undefined;
      if (suffix === undefined) continue;
      const info = ALIAS_INFORMATIONAL[suffix];
      if (info !== undefined) {
        r.seen.add(key);
        if (r.v[key]?.trim() !== '') r.note(key, 'unused', `${key} ${info}; not used`);
      }
    }
    if (yes(r.get(`${ap}EXTERNAL`)) || yes(r.get(`${ap}DETACH`))) {
      for (const key of ALIAS_KEYS) r.seen.add(`${ap}${key}`);
      return false;
    }
    return true;
  });
  const unusedFor = (keys: string[], why: string): void => {
    for (const key of keys) if (r.get(key) !== undefined) r.note(key, 'unused', `${why}; not used`);
  };
  if (method === 'static') {
    let address = r.ipv4(`${p}IP`);
    if (address === undefined && r.get(`${p}IP`) === undefined && mac !== undefined) address = ipFromLegacyMac(mac);
    const prefix = r.mask(`${p}MASK`, 24);
    if (address !== undefined && prefix !== undefined) addAddress(ip, { address, prefix, family: 4 });
    for (const a of aliases) {
      const ap = `${p}ALIAS${a}_`;
      const aip = r.ipv4(`${ap}IP`);
      const amask = r.mask(`${ap}MASK`, 24);
      if (aip !== undefined && amask !== undefined) addAddress(ip, { address: aip, prefix: amask, family: 4 });
    }
    const gateway = r.ipv4(`${p}GATEWAY`);
    if (gateway !== undefined) addRoute(ip, defaultRoute(gateway, 4, metric));
  } else {
    const why = method === 'dhcp' ? `with ${p}METHOD dhcp the address and gateway come from DHCP` : `${p}METHOD is skip: IPv4 is left as it is`;
    unusedFor([`${p}IP`, `${p}MASK`, `${p}GATEWAY`, ...aliases.flatMap((a) => [`${p}ALIAS${a}_IP`, `${p}ALIAS${a}_MASK`])], why);
    if (method === 'dhcp') {
      ip.dhcp4 = true;
      if (metric !== undefined) ip.dhcp4Overrides = { routeMetric: metric };
    } else if (metric !== undefined) r.note(`${p}METRIC`, 'unused', `${p}METHOD is skip: no IPv4 route to give a metric; not used`);
  }
  const v6Raw = (r.get(`${p}IP6_METHOD`) ?? '').toLowerCase();
  let v6method: 'static' | 'auto' | 'dhcp' | 'disable' | 'skip' = 'static';
  if (v6Raw === 'static' || v6Raw === 'auto' || v6Raw === 'dhcp' || v6Raw === 'disable' || v6Raw === 'skip') v6method = v6Raw;
  else if (v6Raw !== '') r.bad(`${p}IP6_METHOD`, v6Raw, 'is not static, auto, dhcp, disable or skip (static assumed)');
  const v6metric = r.integer(`${p}IP6_METRIC`, 0, UINT32_MAX);
  if (v6method === 'static') {
    const before = ip.addresses.length;
    const prefix6 = r.integer(`${p}IP6_PREFIX_LENGTH`, 1, 128) ?? 64;
    for (const key of [`${p}IP6`, `${p}IP6_ULA`]) {
      const a = r.ipv6(key);
      if (a !== undefined) addAddress(ip, { address: a, prefix: prefix6, family: 6 });
    }
    for (const a of aliases) {
      const ap = `${p}ALIAS${a}_`;
      const aprefix = r.integer(`${ap}IP6_PREFIX_LENGTH`, 1, 128) ?? 64;
      for (const key of [`${ap}IP6`, `${ap}IP6_ULA`]) {
        const a6 = r.ipv6(key);
        if (a6 !== undefined) addAddress(ip, { address: a6, prefix: aprefix, family: 6 });
      }
    }
    const v6gateway = r.ipv6(`${p}IP6_GATEWAY`) ?? r.ipv6(`${p}GATEWAY6`);
    if (r.get(`${p}IP6_GATEWAY`) !== undefined && r.get(`${p}GATEWAY6`) !== undefined) r.note(`${p}GATEWAY6`, 'unused', `${p}IP6_GATEWAY is set and takes precedence over the legacy ${p}GATEWAY6; not used`);
    if (v6gateway !== undefined) addRoute(ip, defaultRoute(v6gateway, 6, v6metric));
    // static IPv6 takes no router advertisements (as the renderers write it)
    if (ip.addresses.length > before || v6gateway !== undefined) ip.acceptRa = false;
  } else {
    unusedFor([`${p}IP6`, `${p}IP6_ULA`, `${p}IP6_PREFIX_LENGTH`, `${p}IP6_GATEWAY`, `${p}GATEWAY6`, ...aliases.flatMap((a) => [`${p}ALIAS${a}_IP6`, `${p}ALIAS${a}_IP6_ULA`, `${p}ALIAS${a}_IP6_PREFIX_LENGTH`])], `${p}IP6_METHOD is ${v6method}`);
    if (v6method === 'auto') ip.acceptRa = true;
    if (v6method === 'dhcp') {
      ip.dhcp6 = true;
      ip.acceptRa = true;
      if (v6metric !== undefined) ip.dhcp6Overrides = { routeMetric: v6metric };
    }
    if (v6method === 'disable') {
      ip.acceptRa = false;
      ip.linkLocal = [];
    }
    if (v6metric !== undefined && v6method !== 'dhcp') r.note(`${p}IP6_METRIC`, 'unused', `${p}IP6_METHOD is ${v6method}: no IPv6 route to give a metric; not used`);
  }
  const mtu = r.integer(`${p}MTU`, 68, 65535);
  if (mtu !== undefined) ip.mtu = mtu;
  r.routes(`${p}ROUTES`, ip);
  r.nameservers(`${p}DNS`, true, ip.nameservers.addresses);
  r.search(`${p}SEARCH_DOMAIN`, ip.nameservers.search);
  for (const [suffix, why] of Object.entries(NIC_INFORMATIONAL)) {
    // OpenNebula writes these itself: listed (show, validate's info), not a problem of the context
    if (r.get(`${p}${suffix}`) !== undefined) r.note(`${p}${suffix}`, 'unused', `${p}${suffix} ${why}; it is informational (not network configuration of the guest); not used`);
  }
  const id = `eth${i}`;
  // without a MAC the NIC is named by position: on a live system, the n-th physical NIC no MAC claims
  const match = mac === undefined ? { name: id, positional: true } : { macaddress: mac };
  b.add({ kind: 'ethernet', id, match, ...ip }, where);
}

/** StratusLab / OpenNebula ≤ 3: IP_PRIVATE on eth0, IP_PUBLIC on eth1 (default route), IP_EXTRA on eth2. */
function stratusLabNics(r: Reader, b: ModelBuilder): void {
  const plan = [
    { index: 0, ip: 'IP_PRIVATE', mask: 'NETMASK_PRIVATE' },
    { index: 1, ip: 'IP_PUBLIC', mask: 'NETMASK_PUBLIC' },
    { index: 2, ip: 'IP_EXTRA', mask: 'NETMASK_EXTRA' },
  ];
  const defaultGateway = r.ipv4('DEFAULT_GATEWAY');
  const hasPublic = r.get('IP_PUBLIC') !== undefined;
  for (const nic of plan) {
    const address = r.ipv4(nic.ip);
    if (address === undefined) continue;
    // ONE ≤ 3 wrote a single NETMASK for IP_PUBLIC
    const maskKey = r.v[nic.mask] === undefined && nic.index === 1 && r.v['NETMASK'] !== undefined ? 'NETMASK' : nic.mask;
    const prefix = r.mask(maskKey, 24);
    if (prefix === undefined) continue;
    const ip = emptyIp();
    addAddress(ip, { address, prefix, family: 4 });
    if (nic.index === 0) {
      const gnet = r.ipv4('GLOBAL_NETWORK');
      const gmask = r.v['GLOBAL_NETMASK'] === undefined ? undefined : r.mask('GLOBAL_NETMASK', 24);
      if (gnet !== undefined && gmask !== undefined && defaultGateway !== undefined) addRoute(ip, { to: { address: networkOf(gnet, gmask), prefix: gmask, family: 4 }, via: defaultGateway });
    }
    // the old scripts put the default route on the public NIC when there was one, else on eth0
    const takesDefault = hasPublic ? nic.index === 1 : nic.index === 0;
    if (takesDefault && defaultGateway !== undefined) addRoute(ip, defaultRoute(defaultGateway, 4));
    const id = `eth${nic.index}`;
    b.add({ kind: 'ethernet', id, match: { name: id, positional: true }, ...ip }, { path: nic.ip, line: r.lineOf(nic.ip) });
  }
}

/**
 * Maps the context variables. `file` names the context in the notes; `lineOf` gives a variable's
 * line in it when the parser kept one.
 */
export function mapOpenNebula(v: Vars, file = 'context.sh', lineOf: (variable: string) => number | undefined = () => undefined): OpenNebulaNetwork {
  const r = new Reader(v, file, lineOf);
  const b = new ModelBuilder(file);
  const seenMacs = new Map<string, number>();
  const indexes = nicIndexes(v);
  for (const i of indexes) openNebulaNic(r, b, i, seenMacs);
  if (indexes.length === 0) stratusLabNics(r, b);
  r.nameservers('DNS', false, b.nameservers.addresses);
  r.search('SEARCH_DOMAIN', b.nameservers.search);
  let backend: Backend | undefined;
  const forced = r.get('NETCFG_TYPE')?.toLowerCase();
  if (forced !== undefined) {
    if ((BACKENDS as readonly string[]).includes(forced)) backend = forced as Backend;
    else r.bad('NETCFG_TYPE', forced, `is not one of ${BACKENDS.join(', ')} (detected instead)`);
  }
  // every ETHx_ variable is read or named
  for (const key of Object.keys(v).sort()) {
    if (r.seen.has(key)) continue;
    const m = /^ETH(\d{1,4})_(.*)$/u.exec(key);
    if (m === null) continue;
    const alias = /^ALIAS(\d{1,4})_/u.exec(m[2] ?? '');
    if (!indexes.includes(Number(m[1]))) r.note(key, 'not supported', `more than ${MAX_NICS} NICs: ETH${m[1] ?? ''} is not configured`);
    else if (alias !== null && !aliasIndexes(v, Number(m[1])).includes(Number(alias[1]))) r.note(key, 'not supported', `more than ${MAX_ALIASES} aliases on ETH${m[1] ?? ''}: this alias is not configured`);
    else if (alias !== null) r.note(key, 'unknown', `unknown alias variable (${ALIAS_KEYS.join(', ')}); not applied`);
    else r.note(key, 'unknown', `unknown NIC variable (${NIC_KEYS.join(', ')}); not applied`);
  }
  const built = b.build();
  return { model: built.model, notes: [...r.notes, ...built.notes], ...(backend === undefined ? {} : { backend }) };
}
