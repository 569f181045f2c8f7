// The shape of a corpus NAME.expect.json (netplan v2 terms) and a validator that names every deviation.
import { isIP } from 'node:net';

export const SOURCES = ['v1', 'v2', 'eni', 'openstack', 'ec2'] as const;
export type CorpusSource = (typeof SOURCES)[number];

export interface ExpectRoute {
  to: string; // "default" (0.0.0.0/0 or ::/0, family of via) or CIDR
  via?: string;
  metric?: number;
  table?: number;
  'on-link'?: boolean;
  scope?: 'global' | 'link' | 'host';
}

export interface ExpectNameservers {
  addresses?: string[];
  search?: string[];
}

export interface ExpectInterface {
  mtu?: number;
  macaddress?: string; // MAC given to a virtual device
  dhcp4?: boolean;
  dhcp6?: boolean;
  'accept-ra'?: boolean;
  'dhcp4-overrides'?: Record<string, string | number | boolean>;
  'dhcp6-overrides'?: Record<string, string | number | boolean>;
  addresses?: string[]; // ADDRESS/PREFIX
  routes?: ExpectRoute[]; // gateways are default routes
  'routing-policy'?: { from: string; table: number }[];
  nameservers?: ExpectNameservers;
  optional?: boolean;
  wakeonlan?: boolean;
  critical?: boolean;
}

export interface ExpectEthernet extends ExpectInterface {
  match: { name?: string; macaddress?: string; driver?: string };
  'set-name'?: string;
}

export interface ExpectBond extends ExpectInterface {
  interfaces: string[];
  parameters?: Record<string, string | number | boolean | string[]>;
}

export interface ExpectBridge extends ExpectInterface {
  interfaces: string[];
  parameters?: Record<string, string | number | boolean | Record<string, number>>;
}

export interface ExpectVlan extends ExpectInterface {
  id: number;
  link: string;
}

export interface CorpusExpect {
  source: CorpusSource;
  from: string;
  features: string[];
  cloudInit: string; // "renders" | "partial: …" | "rejects: …"
  quirks: string[];
  duplicateKeys?: boolean;
  ethernets?: Record<string, ExpectEthernet>;
  bonds?: Record<string, ExpectBond>;
  bridges?: Record<string, ExpectBridge>;
  vlans?: Record<string, ExpectVlan>;
  routes?: ExpectRoute[];
  nameservers?: ExpectNameservers;
  notApplied?: { key: string; reason: string }[];
}

const TOP_KEYS = new Set([
  'source', 'from', 'features', 'cloudInit', 'quirks', 'duplicateKeys',
  'ethernets', 'bonds', 'bridges', 'vlans', 'routes', 'nameservers', 'notApplied',
]);
const IFACE_KEYS = [
  'mtu', 'macaddress', 'dhcp4', 'dhcp6', 'accept-ra', 'dhcp4-overrides', 'dhcp6-overrides', 'addresses',
  'routes', 'routing-policy', 'nameservers', 'optional', 'wakeonlan', 'critical',
];
const KIND_KEYS: Record<string, Set<string>> = {
  ethernets: new Set([...IFACE_KEYS, 'match', 'set-name']),
  bonds: new Set([...IFACE_KEYS, 'interfaces', 'parameters']),
  bridges: new Set([...IFACE_KEYS, 'interfaces', 'parameters']),
  vlans: new Set([...IFACE_KEYS, 'id', 'link']),
};
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const OVERRIDE_KEYS = new Set([
  'hostname', 'route-metric', 'send-hostname', 'use-dns', 'use-domains', 'use-hostname', 'use-mtu', 'use-ntp', 'use-routes',
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function isCidr(v: unknown, requirePrefix: boolean): boolean {
  if (typeof v !== 'string') return false;
  const [ip, prefix, extra] = v.split('/');
  if (extra !== undefined || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (prefix === undefined) return !requirePrefix;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

function checkRoutes(v: unknown, at: string, errs: string[]): void {
  if (!Array.isArray(v)) { errs.push(`${at}: not a list`); return; }
  v.forEach((r: unknown, i) => {
    const p = `${at}[${i}]`;
    if (!isObj(r)) { errs.push(`${p}: not an object`); return; }
    for (const k of Object.keys(r)) if (!['to', 'via', 'metric', 'table', 'on-link', 'scope'].includes(k)) errs.push(`${p}.${k}: unknown key`);
    if (r['to'] !== 'default' && !isCidr(r['to'], true)) errs.push(`${p}.to: neither default nor ADDRESS/PREFIX`);
    if (r['via'] !== undefined && (typeof r['via'] !== 'string' || isIP(r['via']) === 0)) errs.push(`${p}.via: not an IP address`);
    if (r['to'] === 'default' && r['via'] === undefined) errs.push(`${p}: default route without via`);
    for (const k of ['metric', 'table']) if (r[k] !== undefined && !isUint(r[k])) errs.push(`${p}.${k}: not a non-negative integer`);
    if (r['on-link'] !== undefined && typeof r['on-link'] !== 'boolean') errs.push(`${p}.on-link: not a boolean`);
    if (r['scope'] !== undefined && !(typeof r['scope'] === 'string' && ['global', 'link', 'host'].includes(r['scope']))) errs.push(`${p}.scope: not global/link/host`);
  });
}

function checkNameservers(v: unknown, at: string, errs: string[]): void {
  if (!isObj(v)) { errs.push(`${at}: not an object`); return; }
  for (const k of Object.keys(v)) if (k !== 'addresses' && k !== 'search') errs.push(`${at}.${k}: unknown key`);
  if (v['addresses'] !== undefined && !(isStrList(v['addresses']) && v['addresses'].every((a) => isIP(a) !== 0))) errs.push(`${at}.addresses: not a list of IP addresses`);
  if (v['search'] !== undefined && !(isStrList(v['search']) && v['search'].every((s) => s.length > 0))) errs.push(`${at}.search: not a list of domains`);
}

function checkInterface(kind: string, id: string, v: unknown, errs: string[]): void {
  const at = `${kind}.${id}`;
  if (!isObj(v)) { errs.push(`${at}: not an object`); return; }
  const allowed = KIND_KEYS[kind]!;
  for (const k of Object.keys(v)) if (!allowed.has(k)) errs.push(`${at}.${k}: unknown key`);
  if (v['mtu'] !== undefined && !(isUint(v['mtu']) && v['mtu'] >= 68)) errs.push(`${at}.mtu: not an MTU`);
  if (v['macaddress'] !== undefined && !(typeof v['macaddress'] === 'string' && MAC.test(v['macaddress']))) errs.push(`${at}.macaddress: not a lowercase MAC`);
  for (const k of ['dhcp4', 'dhcp6', 'accept-ra', 'optional', 'wakeonlan', 'critical']) {
    if (v[k] !== undefined && typeof v[k] !== 'boolean') errs.push(`${at}.${k}: not a boolean`);
  }
  for (const k of ['dhcp4-overrides', 'dhcp6-overrides']) {
    const o = v[k];
    if (o === undefined) continue;
    if (!isObj(o)) { errs.push(`${at}.${k}: not an object`); continue; }
    for (const ok of Object.keys(o)) if (!OVERRIDE_KEYS.has(ok)) errs.push(`${at}.${k}.${ok}: unknown override`);
  }
  if (v['addresses'] !== undefined && !(Array.isArray(v['addresses']) && v['addresses'].every((a) => isCidr(a, true)))) errs.push(`${at}.addresses: not a list of ADDRESS/PREFIX`);
  if (v['routes'] !== undefined) checkRoutes(v['routes'], `${at}.routes`, errs);
  if (v['routing-policy'] !== undefined) {
    const rp = v['routing-policy'];
    if (!(Array.isArray(rp) && rp.every((r) => isObj(r) && typeof r['from'] === 'string' && isIP(r['from']) !== 0 && isUint(r['table'])))) {
      errs.push(`${at}.routing-policy: not a list of {from: IP, table: N}`);
    }
  }
  if (v['nameservers'] !== undefined) checkNameservers(v['nameservers'], `${at}.nameservers`, errs);
  if (kind === 'ethernets') {
    const m = v['match'];
    if (!isObj(m) || Object.keys(m).length === 0) errs.push(`${at}.match: missing or empty`);
    else {
      for (const k of Object.keys(m)) if (!['name', 'macaddress', 'driver'].includes(k)) errs.push(`${at}.match.${k}: unknown key`);
      if (m['macaddress'] !== undefined && !(typeof m['macaddress'] === 'string' && MAC.test(m['macaddress']))) errs.push(`${at}.match.macaddress: not a lowercase MAC`);
      for (const k of ['name', 'driver']) if (m[k] !== undefined && !(typeof m[k] === 'string' && m[k].length > 0)) errs.push(`${at}.match.${k}: not a string`);
    }
    if (v['set-name'] !== undefined && !(typeof v['set-name'] === 'string' && /^[^\s/:]{1,15}$/.test(v['set-name']))) errs.push(`${at}.set-name: not an interface name`);
  }
  if (kind === 'bonds' || kind === 'bridges') {
    if (!isStrList(v['interfaces'])) errs.push(`${at}.interfaces: not a list of IDs`);
    if (v['parameters'] !== undefined && !isObj(v['parameters'])) errs.push(`${at}.parameters: not an object`);
  }
  if (kind === 'vlans') {
    if (!(isUint(v['id']) && v['id'] <= 4094)) errs.push(`${at}.id: not a VLAN id 0-4094`);
    if (typeof v['link'] !== 'string' || v['link'] === '') errs.push(`${at}.link: missing`);
  }
}

/** Every way `value` deviates from CorpusExpect, as "path: problem"; empty when it conforms. */
export function expectErrors(value: unknown): string[] {
  const errs: string[] = [];
  if (!isObj(value)) return ['(root): not an object'];
  for (const k of Object.keys(value)) if (!TOP_KEYS.has(k)) errs.push(`${k}: unknown key`);
  if (!SOURCES.includes(value['source'] as CorpusSource)) errs.push(`source: not one of ${SOURCES.join(', ')}`);
  if (typeof value['from'] !== 'string' || value['from'].length < 10) errs.push('from: missing');
  if (!isStrList(value['features']) || value['features'].length === 0) errs.push('features: not a non-empty list of strings');
  const ci = value['cloudInit'];
  if (typeof ci !== 'string' || !(ci === 'renders' || /^(partial|rejects): \S/.test(ci))) errs.push('cloudInit: not "renders", "partial: …" or "rejects: …"');
  if (!isStrList(value['quirks'])) errs.push('quirks: not a list of strings');
  if (value['duplicateKeys'] !== undefined && value['duplicateKeys'] !== true) errs.push('duplicateKeys: only true is meaningful');
  const ids = new Set<string>();
  for (const kind of ['ethernets', 'bonds', 'bridges', 'vlans']) {
    const group = value[kind];
    if (group === undefined) continue;
    if (!isObj(group)) { errs.push(`${kind}: not an object`); continue; }
    for (const [id, iface] of Object.entries(group)) {
      if (ids.has(id)) errs.push(`${kind}.${id}: ID used twice`);
      ids.add(id);
      checkInterface(kind, id, iface, errs);
    }
  }
  if (ids.size === 0) errs.push('(root): no interface at all');
  // Every reference (bond/bridge member, VLAN parent) names an ID of this file.
  for (const kind of ['bonds', 'bridges']) {
    const group = value[kind];
    if (!isObj(group)) continue;
    for (const [id, iface] of Object.entries(group)) {
      if (!isObj(iface) || !isStrList(iface['interfaces'])) continue;
      for (const member of iface['interfaces']) if (!ids.has(member)) errs.push(`${kind}.${id}.interfaces: ${member} is not an ID of this file`);
    }
  }
  if (isObj(value['vlans'])) {
    for (const [id, vlan] of Object.entries(value['vlans'])) {
      if (isObj(vlan) && typeof vlan['link'] === 'string' && !ids.has(vlan['link'])) errs.push(`vlans.${id}.link: ${vlan['link']} is not an ID of this file`);
    }
  }
  if (value['routes'] !== undefined) checkRoutes(value['routes'], 'routes', errs);
  if (value['nameservers'] !== undefined) checkNameservers(value['nameservers'], 'nameservers', errs);
  const na = value['notApplied'];
  if (na !== undefined && !(Array.isArray(na) && na.every((n) => isObj(n) && typeof n['key'] === 'string' && n['key'] !== '' && typeof n['reason'] === 'string' && n['reason'] !== ''))) {
    errs.push('notApplied: not a list of {key, reason}');
  }
  return errs;
}
