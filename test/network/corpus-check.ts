// The mechanical corpus check for mapper tests: every interface, address, route, DNS entry and
// parameter of a NAME.expect.json must be in the mapped model, and every notApplied key must be a
// note at its line. Returns the differences as text, so a test states the known ones exactly.
import type { MappedNetwork, Device, RouteSpec } from '../../src/network/netmodel.js';
import type { CorpusExpect, ExpectInterface, ExpectRoute } from './corpus/expect.js';

/** An IP address in RFC 5952 form (lower case, longest zero run compressed). */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const g = groups.map((x) => parseInt(x, 16).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

const cidr = (a: { address: string; prefix: number }): string => `${canonicalIp(a.address)}/${a.prefix}`;
const canonicalCidr = (s: string): string => {
  const [ip = '', p = ''] = s.split('/');
  return `${canonicalIp(ip)}/${p}`;
};
const camel = (k: string): string => k.replace(/-([a-z])/gu, (_, c: string) => c.toUpperCase());

function routeMatches(e: ExpectRoute, r: RouteSpec): boolean {
  const to = r.to.prefix === 0 ? 'default' : cidr(r.to);
  const eTo = e.to === 'default' || e.to === '0.0.0.0/0' || e.to === '::/0' ? 'default' : canonicalCidr(e.to);
  return to === eTo && (e.via === undefined ? r.via === undefined : r.via !== undefined && canonicalIp(r.via) === canonicalIp(e.via))
    && r.metric === e.metric && r.table === e.table && (e['on-link'] ?? false) === (r.onLink ?? false) && e.scope === r.scope;
}

function checkIp(at: string, e: ExpectInterface, d: Device, mapped: MappedNetwork, out: string[]): void {
  if ((e.dhcp4 ?? false) !== d.dhcp4) out.push(`${at}: dhcp4 ${String(d.dhcp4)}, expected ${String(e.dhcp4 ?? false)}`);
  if ((e.dhcp6 ?? false) !== d.dhcp6) out.push(`${at}: dhcp6 ${String(d.dhcp6)}, expected ${String(e.dhcp6 ?? false)}`);
  if (e['accept-ra'] !== undefined && e['accept-ra'] !== d.acceptRa) out.push(`${at}: accept-ra ${String(d.acceptRa)}, expected ${String(e['accept-ra'])}`);
  if (e.mtu !== d.mtu) out.push(`${at}: mtu ${String(d.mtu)}, expected ${String(e.mtu)}`);
  if (e.macaddress !== d.macaddress) out.push(`${at}: macaddress ${String(d.macaddress)}, expected ${String(e.macaddress)}`);
  const have = d.addresses.map(cidr);
  for (const a of e.addresses ?? []) if (!have.includes(canonicalCidr(a))) out.push(`${at}: address ${a} missing (have ${have.join(' ')})`);
  for (const a of have) if (!(e.addresses ?? []).map(canonicalCidr).includes(a)) out.push(`${at}: address ${a} not expected`);
  for (const r of e.routes ?? []) if (!d.routes.some((x) => routeMatches(r, x))) out.push(`${at}: route ${JSON.stringify(r)} missing`);
  if (d.routes.length !== (e.routes ?? []).length) out.push(`${at}: ${d.routes.length} routes, expected ${(e.routes ?? []).length}`);
  for (const a of e.nameservers?.addresses ?? []) if (!d.nameservers.addresses.map(canonicalIp).includes(canonicalIp(a))) out.push(`${at}: nameserver ${a} missing`);
  for (const s of e.nameservers?.search ?? []) if (!d.nameservers.search.includes(s)) out.push(`${at}: search ${s} missing`);
  for (const [k, o] of [['dhcp4-overrides', d.dhcp4Overrides], ['dhcp6-overrides', d.dhcp6Overrides]] as const) {
    const want = e[k] ?? {};
    for (const [key, value] of Object.entries(want)) {
      const got = (o as Record<string, unknown> | undefined)?.[camel(key)];
      if (got !== value) out.push(`${at}: ${k}.${key} ${String(got)}, expected ${String(value)}`);
    }
    for (const key of Object.keys(o ?? {})) if (!Object.keys(want).map(camel).includes(key)) out.push(`${at}: ${k}.${key} not expected`);
  }
  if (e['routing-policy'] !== undefined && !mapped.notes.some((n) => n.path.includes('routing-policy') || n.message.includes('routing-policy'))) out.push(`${at}: routing-policy neither in the model nor in a note`);
}

type AnyIface = ExpectInterface & {
  match?: { name?: string; macaddress?: string; driver?: string };
  'set-name'?: string;
  interfaces?: string[];
  parameters?: Record<string, unknown>;
  id?: number;
  link?: string;
};

/** Differences between an expect file and a mapped document ([] when it has everything). `file` is the notes' file name. */
export function corpusMismatches(e: CorpusExpect, mapped: MappedNetwork): string[] {
  const out: string[] = [];
  const devices = mapped.model.devices;
  const groups = [['ethernets', 'ethernet'], ['bonds', 'bond'], ['bridges', 'bridge'], ['vlans', 'vlan']] as const;
  const expectedIds = new Set<string>();
  for (const [group, kind] of groups) {
    for (const [id, x] of Object.entries((e[group] ?? {}) as Record<string, AnyIface>)) {
      expectedIds.add(id);
      const at = `${group}.${id}`;
      const d = devices.find((y) => y.id === id);
      if (d === undefined) {
        out.push(`${at}: missing`);
        continue;
      }
      if (d.kind !== kind) {
        out.push(`${at}: is a ${d.kind}`);
        continue;
      }
      checkIp(at, x, d, mapped, out);
      if (d.kind === 'ethernet') {
        const m = x.match ?? {};
        if (m.macaddress !== d.match.macaddress || m.name !== d.match.name || m.driver !== d.match.driver) out.push(`${at}: match ${JSON.stringify(d.match)}, expected ${JSON.stringify(m)}`);
        const setName = x['set-name'];
        if (setName !== d.setName) out.push(`${at}: set-name ${String(d.setName)}, expected ${String(setName)}`);
      }
      if (d.kind === 'bond' || d.kind === 'bridge') {
        const members = x.interfaces ?? [];
        if (JSON.stringify([...d.interfaces].sort()) !== JSON.stringify([...members].sort())) out.push(`${at}: interfaces ${d.interfaces.join(' ')}, expected ${members.join(' ')}`);
        const params = d.parameters as Record<string, unknown>;
        const want = x.parameters ?? {};
        for (const [k, v] of Object.entries(want)) if (JSON.stringify(params[camel(k)]) !== JSON.stringify(v)) out.push(`${at}: parameter ${k} ${JSON.stringify(params[camel(k)])}, expected ${JSON.stringify(v)}`);
        for (const k of Object.keys(params)) if (!Object.keys(want).map(camel).includes(k)) out.push(`${at}: parameter ${k} not expected`);
      }
      if (d.kind === 'vlan' && (d.vlanId !== x.id || d.link !== x.link)) out.push(`${at}: VLAN ${d.vlanId} on ${d.link}, expected ${String(x.id)} on ${String(x.link)}`);
    }
  }
  for (const d of devices) if (!expectedIds.has(d.id)) out.push(`${d.id}: a ${d.kind} not expected`);
  for (const r of e.routes ?? []) if (!mapped.model.routes.some((x) => routeMatches(r, x))) out.push(`routes: ${JSON.stringify(r)} missing`);
  for (const a of e.nameservers?.addresses ?? []) if (!mapped.model.nameservers.addresses.includes(a)) out.push(`nameservers: ${a} missing`);
  for (const s of e.nameservers?.search ?? []) if (!mapped.model.nameservers.search.includes(s)) out.push(`nameservers: search ${s} missing`);
  for (const n of e.notApplied ?? []) {
    // "FILE:LINE KEYWORD…" (ENI) or a document path
    const m = /^([^:\s]+):(\d+) (.+)$/u.exec(n.key);
    const found = m === null
      ? mapped.notes.some((x) => x.path === n.key)
      : mapped.notes.some((x) => x.file === m[1] && x.line === Number(m[2]) && (m[3] ?? '').startsWith(x.path));
    if (!found) out.push(`notApplied ${n.key}: no note`);
  }
  return out;
}
