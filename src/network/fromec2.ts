// EC2 instance metadata NIC data (network/interfaces/macs/…) → NetModel, as cloud-init renders it
// with apply_full_imds_network_config: every NIC found by MAC on DHCPv4 (+ DHCPv6 when it has IPv6
// addresses), the primary = lowest (network-card, device-number), route metrics (order+1)×100,
// secondary addresses static with their subnet's prefix, subnet routes of secondary NICs in table
// 100+order. Pure.
import type { NetworkNote, Where } from './docreader.js';
import {
  ModelBuilder,
  addAddress,
  addRoute,
  checkAddress,
  checkDestination,
  checkIp,
  checkMac,
  emptyIp,
  sameNetwork,
  type IpAddress,
  type MappedNetwork,
} from './netmodel.js';

/** One NIC's metadata, as the fetch reads it (lists: one IMDS line each). */
export interface Ec2Nic {
  readonly deviceNumber?: number;
  readonly networkCard?: number;
  /** Primary private IPv4 first. */
  readonly localIpv4s: readonly string[];
  readonly subnetIpv4CidrBlock?: string;
  readonly ipv6s: readonly string[];
  readonly subnetIpv6CidrBlocks: readonly string[];
}

/** MAC → NIC. */
export type Ec2Nics = Readonly<Record<string, Ec2Nic>>;

export const EC2_NIC_FILE = 'meta-data/network/interfaces/macs';

/** Keys of a NIC that are network config (read) and that are informational (named as unused). */
export const EC2_READ_KEYS: readonly string[] = ['mac', 'device-number', 'network-card', 'local-ipv4s', 'subnet-ipv4-cidr-block', 'ipv6s', 'subnet-ipv6-cidr-blocks'];
const INFORMATIONAL = [
  'interface-id', 'ipv4-associations', 'local-hostname', 'owner-id', 'public-hostname', 'public-ipv4s', 'security-group-ids',
  'security-groups', 'subnet-id', 'vpc-id', 'vpc-ipv4-cidr-block', 'vpc-ipv4-cidr-blocks', 'vpc-ipv6-cidr-blocks', 'ipv6-prefix', 'ipv4-prefix',
];

/** A key as it may appear in a note's path: no control characters, at most 64 characters. */
// eslint-disable-next-line no-control-regex
const safe = (k: string): string => k.replace(/[\x00-\x1f\x7f]/gu, '?').slice(0, 64);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A metadata value as lines: a list, or IMDS text (one item per line); empty items dropped. */
function lines(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split('\n').map((s) => s.trim()).filter((s) => s !== '');
  if (typeof v === 'number') return [String(v)];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((s) => s.trim()).filter((s) => s !== '');
  return undefined;
}

/**
 * The `network` subtree of EC2 metadata — `{interfaces: {macs: {MAC: {key: value}}}}`, values as
 * cloud-init's crawl has them (a string or a list) or as IMDS text — into typed NICs, naming every
 * key it does not read.
 */
export function readEc2Network(doc: unknown, file = EC2_NIC_FILE): { nics: Record<string, Ec2Nic>; notes: NetworkNote[] } {
  const notes: NetworkNote[] = [];
  const note = (path: string, what: NetworkNote['what'], message: string): void => {
    notes.push({ path, file, line: undefined, what, message });
  };
  const nics: Record<string, Ec2Nic> = {};
  const macs = isObj(doc) && isObj(doc['interfaces']) ? doc['interfaces']['macs'] : undefined;
  if (!isObj(macs)) {
    note('interfaces.macs', 'invalid', 'is missing or not a mapping of MAC → NIC; no NIC configured');
    return { nics, notes };
  }
  for (const [key, nic] of Object.entries(macs)) {
    const at = `interfaces.macs.${safe(key)}`;
    const mac = checkMac(key);
    if (!mac.ok || !isObj(nic)) {
      note(at, 'invalid', !mac.ok ? `${JSON.stringify(key.slice(0, 40))} ${mac.reason}; this NIC is not configured` : 'is not a mapping; this NIC is not configured');
      continue;
    }
    const int = (k: string): number | undefined => {
      const v = lines(nic[k]);
      if (v === undefined || v.length === 0) return undefined;
      if (v.length === 1 && /^\d{1,5}$/u.test(v[0] ?? '')) return Number(v[0]);
      note(`${at}.${k}`, 'invalid', `${JSON.stringify(String(nic[k]).slice(0, 40))} is not a number; ignored`);
      return undefined;
    };
    const list = (k: string): string[] => {
      if (nic[k] === undefined) return [];
      const v = lines(nic[k]);
      if (v === undefined) note(`${at}.${k}`, 'invalid', 'is not a string or a list of strings; ignored');
      return v ?? [];
    };
    const inner = lines(nic['mac']);
    const innerMac = checkMac(inner?.[0] ?? '');
    if (inner !== undefined && inner.length > 0 && (!innerMac.ok || innerMac.value !== mac.value)) {
      note(`${at}.mac`, 'invalid', `says ${JSON.stringify(inner[0])}, not the MAC it is listed under; the listed MAC is used`);
    }
    const deviceNumber = int('device-number');
    const networkCard = int('network-card');
    const v4block = list('subnet-ipv4-cidr-block')[0];
    nics[mac.value] = {
      ...(deviceNumber === undefined ? {} : { deviceNumber }),
      ...(networkCard === undefined ? {} : { networkCard }),
      localIpv4s: list('local-ipv4s'),
      ...(v4block === undefined ? {} : { subnetIpv4CidrBlock: v4block }),
      ipv6s: list('ipv6s'),
      subnetIpv6CidrBlocks: list('subnet-ipv6-cidr-blocks'),
    };
    for (const k of Object.keys(nic)) {
      if (EC2_READ_KEYS.includes(k)) continue;
      if (INFORMATIONAL.includes(k)) note(`${at}.${k}`, 'unused', `${k} is informational (not network configuration of the guest); not used`);
      else note(`${at}.${safe(k)}`, 'unknown', `unknown key ${JSON.stringify(k.slice(0, 64))}; not applied`);
    }
  }
  return { nics, notes };
}

/** cloud-init's NIC order: (network-card, device-number) with a missing value last, then the MAC. */
export function ec2NicOrder(nics: Ec2Nics): string[] {
  const n = (x: number | undefined): number => x ?? Infinity;
  return Object.keys(nics).sort((a, b) => {
    const x = nics[a];
    const y = nics[b];
    if (x === undefined || y === undefined) return 0;
    return n(x.networkCard) - n(y.networkCard) || n(x.deviceNumber) - n(y.deviceNumber) || (a < b ? -1 : a > b ? 1 : 0);
  });
}

/** The typed NICs → the model (`file` names them in the notes). */
export function mapEc2Nics(nics: Ec2Nics, file = EC2_NIC_FILE): MappedNetwork {
  const b = new ModelBuilder(file);
  const order = ec2NicOrder(nics);
  const single = order.length === 1;
  order.forEach((mac, idx) => {
    const nic = nics[mac];
    if (nic === undefined) return;
    const at = (k: string): Where => ({ path: `interfaces.macs.${mac}.${k}`, line: undefined });
    const ip = emptyIp();
    ip.dhcp4 = true;
    ip.dhcp6 = nic.ipv6s.length > 0;
    const table = 100 + idx;
    // policy routing: cloud-init's netplan path, for a secondary NIC with a device-number (not AliYun-style NICs)
    const policy = !single && idx > 0 && nic.deviceNumber !== undefined;
    if (!single) {
      const overrides = { routeMetric: (idx + 1) * 100, ...(policy ? { useRoutes: true } : {}) };
      ip.dhcp4Overrides = overrides;
      if (ip.dhcp6) ip.dhcp6Overrides = overrides;
    }
    // IPv4: the first address is DHCP's, the others static with the subnet's prefix
    const v4block = nic.subnetIpv4CidrBlock === undefined ? undefined : checkAddress(nic.subnetIpv4CidrBlock);
    let v4prefix = 24;
    if (v4block?.ok === true && v4block.value.family === 4) v4prefix = v4block.value.prefix;
    else if (nic.localIpv4s.length > 1) b.note(at('subnet-ipv4-cidr-block'), 'invalid', `${JSON.stringify(nic.subnetIpv4CidrBlock ?? '')} is not an IPv4 network; the secondary addresses get /24 (as cloud-init)`);
    for (const a of nic.localIpv4s.slice(1)) {
      const r = checkIp(a);
      if (r.ok && r.value.family === 4) addAddress(ip, { address: r.value.address, prefix: v4prefix, family: 4 });
      else b.note(at('local-ipv4s'), 'invalid', `${JSON.stringify(a.slice(0, 60))} is not an IPv4 address; skipped`);
    }
    // IPv6: the first address is DHCPv6's, the others static with the prefix of the subnet that holds them
    const v6blocks: IpAddress[] = [];
    for (const block of nic.subnetIpv6CidrBlocks) {
      const r = checkAddress(block);
      if (r.ok && r.value.family === 6) v6blocks.push(r.value);
      else b.note(at('subnet-ipv6-cidr-blocks'), 'invalid', `${JSON.stringify(block.slice(0, 60))} is not an IPv6 network; skipped`);
    }
    for (const a of nic.ipv6s.slice(1)) {
      const r = checkIp(a);
      if (!r.ok || r.value.family !== 6) {
        b.note(at('ipv6s'), 'invalid', `${JSON.stringify(a.slice(0, 60))} is not an IPv6 address; skipped`);
        continue;
      }
      const block = v6blocks.find((x) => sameNetwork(x, r.value.address));
      if (block === undefined) b.note(at('ipv6s'), 'invalid', `${r.value.address} is in none of the subnet-ipv6-cidr-blocks; configured as /128`);
      addAddress(ip, { address: r.value.address, prefix: block?.prefix ?? 128, family: 6 });
    }
    if (policy) {
      const v4ips = nic.localIpv4s.filter((a) => checkIp(a).ok);
      const v6ips = nic.ipv6s.filter((a) => checkIp(a).ok);
      const routed: string[] = [];
      if (v4block?.ok === true && v4block.value.family === 4 && v4ips.length > 0) {
        const to = checkDestination(nic.subnetIpv4CidrBlock ?? '');
        if (to.ok) addRoute(ip, { to: to.value, table });
        routed.push(...v4ips);
      }
      if (v6blocks.length > 0 && v6ips.length > 0) {
        for (const block of v6blocks) addRoute(ip, { to: block, table });
        routed.push(...v6ips);
      }
      if (routed.length > 0) {
        b.note(at('device-number'), 'not supported', `routing-policy (from ${routed.join(', ')} lookup table ${table}) and a default route via the subnet's router in that table are not supported (the model has no policy rules); the subnet routes are in table ${table}, replies from this NIC's addresses follow the main table`);
      }
    }
    b.add({ kind: 'ethernet', id: mac, match: { macaddress: mac }, ...ip }, { path: `interfaces.macs.${mac}`, line: undefined });
  });
  return b.build();
}

/** The metadata `network` subtree → the model: readEc2Network, then mapEc2Nics. */
export function mapEc2Network(doc: unknown, file = EC2_NIC_FILE): MappedNetwork {
  const read = readEc2Network(doc, file);
  const mapped = mapEc2Nics(read.nics, file);
  return { model: mapped.model, notes: [...read.notes, ...mapped.notes] };
}
