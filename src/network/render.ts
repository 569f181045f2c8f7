// Network renderers: pure functions from the model to files in each distro's own format.
// Interfaces are matched by MAC wherever the format allows it; names are used otherwise.
import { createHash } from 'node:crypto';
import { prefixToMask } from './ip.js';
import type { Address, Backend, InterfaceConfig, NetworkModel, RenderedFile } from './model.js';

export const HEADER = 'Managed by vmctx from the VM context; replaced at each contextualization.';

export interface Rendered {
  readonly files: Map<string, RenderedFile>;
  /** KEY=VALUE settings to merge into an existing file (sysconfig's /etc/sysconfig/network). */
  readonly merges: Map<string, Record<string, string>>;
}

/** Files vmctx owns for a backend: the module removes those it no longer renders. */
export const OWNED: Readonly<Record<Backend, { dir: string; match: RegExp; headerCheck: boolean }>> = {
  networkd: { dir: '/etc/systemd/network', match: /^10-vmctx-.+\.network$/u, headerCheck: false },
  netplan: { dir: '/etc/netplan', match: /^50-vmctx\.yaml$/u, headerCheck: false },
  interfaces: { dir: '/etc/network/interfaces.d', match: /^50-vmctx$/u, headerCheck: false },
  scripts: { dir: '/etc/sysconfig/network-scripts', match: /^(ifcfg|route6?)-/u, headerCheck: true },
  nm: { dir: '/etc/NetworkManager/system-connections', match: /^vmctx-.+\.nmconnection$/u, headerCheck: false },
};

/** A NIC with something to set: an address, DHCP/SLAAC, a disabled IPv6, routes or an MTU. A MAC alone is not. */
export const configured = (nic: InterfaceConfig): boolean =>
  nic.ipv4.method === 'dhcp' ||
  (nic.ipv4.method === 'static' && nic.ipv4.addresses.length > 0) ||
  ['auto', 'dhcp', 'disable'].includes(nic.ipv6.method) ||
  (nic.ipv6.method === 'static' && nic.ipv6.addresses.length > 0) ||
  nic.routes.length > 0 ||
  nic.mtu !== undefined;
const cidr = (a: Address): string => `${a.address}/${a.prefix}`;
/** Stable per-NIC key for formats that match by MAC: the provider's index, whatever the guest calls it. */
export const nicKey = (nic: InterfaceConfig): string => `eth${nic.index}`;
const origin = (nic: InterfaceConfig): string => `context NIC ETH${nic.index}${nic.mac === undefined ? '' : `, MAC ${nic.mac}`}`;

function dnsOf(model: NetworkModel, nic: InterfaceConfig): { servers: string[]; search: string[] } {
  return { servers: [...new Set(nic.dns)], search: [...new Set(nic.search)] };
}

export function renderNetworkd(model: NetworkModel): Rendered {
  const files = new Map<string, RenderedFile>();
  for (const nic of model.interfaces.filter(configured)) {
    const lines = [`# ${HEADER}`, `# ${origin(nic)}`, '[Match]', nic.mac === undefined ? `Name=${nic.name}` : `MACAddress=${nic.mac}`, ''];
    if (nic.mtu !== undefined) lines.push('[Link]', `MTUBytes=${nic.mtu}`, '');
    const dhcp4 = nic.ipv4.method === 'dhcp';
    const dhcp6 = nic.ipv6.method === 'dhcp';
    const net = ['[Network]', `DHCP=${dhcp4 && dhcp6 ? 'yes' : dhcp4 ? 'ipv4' : dhcp6 ? 'ipv6' : 'no'}`];
    if (nic.ipv6.method === 'auto' || nic.ipv6.method === 'dhcp') net.push('IPv6AcceptRA=yes');
    else if (nic.ipv6.method === 'static') net.push('IPv6AcceptRA=no');
    else if (nic.ipv6.method === 'disable') net.push('IPv6AcceptRA=no', 'LinkLocalAddressing=no');
    const { servers, search } = dnsOf(model, nic);
    for (const s of servers) net.push(`DNS=${s}`);
    if (search.length > 0) net.push(`Domains=${search.join(' ')}`);
    lines.push(...net, '');
    const addresses = [...(nic.ipv4.method === 'static' ? nic.ipv4.addresses : []), ...(nic.ipv6.method === 'static' ? nic.ipv6.addresses : [])];
    for (const a of addresses) lines.push('[Address]', `Address=${cidr(a)}`, '');
    const gateways = [
      nic.ipv4.method === 'static' && nic.ipv4.gateway !== undefined ? { gw: nic.ipv4.gateway, metric: nic.ipv4.metric } : undefined,
      nic.ipv6.method === 'static' && nic.ipv6.gateway !== undefined ? { gw: nic.ipv6.gateway, metric: nic.ipv6.metric } : undefined,
    ];
    for (const g of gateways) if (g !== undefined) lines.push('[Route]', `Gateway=${g.gw}`, ...(g.metric === undefined ? [] : [`Metric=${g.metric}`]), '');
    for (const r of nic.routes) lines.push('[Route]', `Destination=${r.to}/${r.prefix}`, `Gateway=${r.via}`, ...(r.metric === undefined ? [] : [`Metric=${r.metric}`]), '');
    files.set(`/etc/systemd/network/10-vmctx-${nicKey(nic)}.network`, { content: `${lines.join('\n').trimEnd()}\n`, mode: 0o644 });
  }
  return { files, merges: new Map() };
}

export function renderNetplan(model: NetworkModel): Rendered {
  const files = new Map<string, RenderedFile>();
  const q = (s: string): string => `"${s}"`;
  const out = [`# ${HEADER}`, 'network:', '  version: 2', '  ethernets:'];
  const nics = model.interfaces.filter(configured);
  for (const nic of nics) {
    const id = `vmctx-${nicKey(nic)}`;
    out.push(`    # ${origin(nic)}`, `    ${id}:`);
    if (nic.mac === undefined) out.push('      match:', `        name: ${q(nic.name)}`);
    else out.push('      match:', `        macaddress: ${q(nic.mac)}`);
    out.push(`      dhcp4: ${nic.ipv4.method === 'dhcp'}`, `      dhcp6: ${nic.ipv6.method === 'dhcp'}`);
    if (nic.ipv6.method === 'auto' || nic.ipv6.method === 'dhcp') out.push('      accept-ra: true');
    else if (nic.ipv6.method === 'static' || nic.ipv6.method === 'disable') out.push('      accept-ra: false');
    if (nic.ipv6.method === 'disable') out.push('      link-local: []');
    const addresses = [...(nic.ipv4.method === 'static' ? nic.ipv4.addresses : []), ...(nic.ipv6.method === 'static' ? nic.ipv6.addresses : [])];
    if (addresses.length > 0) out.push('      addresses:', ...addresses.map((a) => `        - ${q(cidr(a))}`));
    if (nic.mtu !== undefined) out.push(`      mtu: ${nic.mtu}`);
    const routes: string[] = [];
    const route = (to: string, via: string, metric: number | undefined): void => {
      routes.push(`        - to: ${q(to)}`, `          via: ${q(via)}`, ...(metric === undefined ? [] : [`          metric: ${metric}`]));
    };
    if (nic.ipv4.method === 'static' && nic.ipv4.gateway !== undefined) route('0.0.0.0/0', nic.ipv4.gateway, nic.ipv4.metric);
    if (nic.ipv6.method === 'static' && nic.ipv6.gateway !== undefined) route('::/0', nic.ipv6.gateway, nic.ipv6.metric);
    for (const r of nic.routes) route(`${r.to}/${r.prefix}`, r.via, r.metric);
    if (routes.length > 0) out.push('      routes:', ...routes);
    const { servers, search } = dnsOf(model, nic);
    if (servers.length > 0 || search.length > 0) {
      out.push('      nameservers:');
      if (servers.length > 0) out.push(`        addresses: [${servers.map(q).join(', ')}]`);
      if (search.length > 0) out.push(`        search: [${search.map(q).join(', ')}]`);
    }
  }
  if (nics.length > 0) files.set('/etc/netplan/50-vmctx.yaml', { content: `${out.join('\n')}\n`, mode: 0o600 });
  return { files, merges: new Map() };
}

export function renderInterfaces(model: NetworkModel): Rendered {
  const files = new Map<string, RenderedFile>();
  const out = [`# ${HEADER}`];
  const nics = model.interfaces.filter(configured);
  for (const nic of nics) {
    out.push('', `# ${origin(nic)}`, `auto ${nic.name}`);
    const { servers, search } = dnsOf(model, nic);
    const extras = (first: boolean): string[] => [
      ...(first && nic.mtu !== undefined ? [`    mtu ${nic.mtu}`] : []),
      ...(first && servers.length > 0 ? [`    dns-nameservers ${servers.join(' ')}`] : []),
      ...(first && search.length > 0 ? [`    dns-search ${search.join(' ')}`] : []),
    ];
    let first = true;
    if (nic.ipv4.method === 'dhcp') {
      out.push(`iface ${nic.name} inet dhcp`, ...extras(first));
      first = false;
    } else if (nic.ipv4.method === 'static') {
      for (const [i, a] of nic.ipv4.addresses.entries()) {
        out.push(`iface ${nic.name} inet static`, `    address ${cidr(a)}`);
        if (i === 0 && nic.ipv4.gateway !== undefined) out.push(`    gateway ${nic.ipv4.gateway}`, ...(nic.ipv4.metric === undefined ? [] : [`    metric ${nic.ipv4.metric}`]));
        if (i === 0) {
          out.push(...extras(first));
          for (const r of nic.routes.filter((x) => !x.via.includes(':'))) {
            const metric = r.metric === undefined ? [] : ['metric', String(r.metric)];
            out.push(`    up ip route add ${[`${r.to}/${r.prefix}`, 'via', r.via, 'dev', nic.name, ...metric].join(' ')}`);
            out.push(`    down ip route del ${[`${r.to}/${r.prefix}`, 'via', r.via, 'dev', nic.name, ...metric].join(' ')}`);
          }
          first = false;
        }
      }
      if (nic.ipv4.addresses.length === 0 && first) {
        out.push(`iface ${nic.name} inet manual`, ...extras(first));
        first = false;
      }
    }
    if (nic.ipv6.method === 'static') {
      for (const [i, a] of nic.ipv6.addresses.entries()) {
        out.push(`iface ${nic.name} inet6 static`, `    address ${cidr(a)}`, '    autoconf 0', '    accept_ra 0');
        if (i === 0 && nic.ipv6.gateway !== undefined) out.push(`    gateway ${nic.ipv6.gateway}`, ...(nic.ipv6.metric === undefined ? [] : [`    metric ${nic.ipv6.metric}`]));
        if (i === 0) {
          for (const r of nic.routes.filter((x) => x.via.includes(':'))) out.push(`    up ip -6 route add ${r.to}/${r.prefix} via ${r.via} dev ${nic.name}`);
          out.push(...extras(first));
          first = false;
        }
      }
    } else if (nic.ipv6.method === 'auto') {
      out.push(`iface ${nic.name} inet6 auto`, ...extras(first));
      first = false;
    } else if (nic.ipv6.method === 'dhcp') {
      out.push(`iface ${nic.name} inet6 dhcp`, ...extras(first));
      first = false;
    } else if (nic.ipv6.method === 'disable') {
      if (first) out.push(`iface ${nic.name} inet manual`);
      out.push(`    pre-up sysctl -q -w net.ipv6.conf.${nic.name}.disable_ipv6=1`);
    }
  }
  if (nics.length > 0) files.set('/etc/network/interfaces.d/50-vmctx', { content: `${out.join('\n')}\n`, mode: 0o644 });
  return { files, merges: new Map() };
}

export function renderSysconfig(model: NetworkModel): Rendered {
  const files = new Map<string, RenderedFile>();
  const dir = '/etc/sysconfig/network-scripts';
  let defaultGateway: string | undefined;
  for (const nic of model.interfaces.filter(configured)) {
    const kv: Array<[string, string]> = [['DEVICE', nic.name]];
    if (nic.mac !== undefined) kv.push(['HWADDR', nic.mac]);
    kv.push(['TYPE', 'Ethernet'], ['ONBOOT', 'yes']);
    const v4 = nic.ipv4;
    kv.push(['BOOTPROTO', v4.method === 'dhcp' ? 'dhcp' : 'none']);
    const [primary, ...aliases] = v4.method === 'static' ? v4.addresses : [];
    if (primary !== undefined) kv.push(['IPADDR', primary.address], ['PREFIX', String(primary.prefix)], ['NETMASK', prefixToMask(primary.prefix)]);
    if (v4.method === 'static' && v4.gateway !== undefined) {
      kv.push(['GATEWAY', v4.gateway]);
      defaultGateway ??= v4.gateway;
    }
    if (v4.metric !== undefined) kv.push(['METRIC', String(v4.metric)]);
    if (nic.mtu !== undefined) kv.push(['MTU', String(nic.mtu)]);
    const v6 = nic.ipv6;
    if (v6.method === 'skip') {
      // leave IPv6 to the distribution's defaults
    } else if (v6.method === 'disable') kv.push(['IPV6INIT', 'no']);
    else {
      kv.push(['IPV6INIT', 'yes'], ['IPV6_AUTOCONF', v6.method === 'auto' ? 'yes' : 'no']);
      if (v6.method === 'dhcp') kv.push(['DHCPV6C', 'yes']);
      const [first6, ...more6] = v6.method === 'static' ? v6.addresses : [];
      if (first6 !== undefined) kv.push(['IPV6ADDR', cidr(first6)]);
      if (more6.length > 0) kv.push(['IPV6ADDR_SECONDARIES', `"${more6.map(cidr).join(' ')}"`]);
      if (v6.method === 'static' && v6.gateway !== undefined) kv.push(['IPV6_DEFAULTGW', v6.gateway]);
    }
    const { servers, search } = dnsOf(model, nic);
    servers.forEach((s, i) => kv.push([`DNS${i + 1}`, s]));
    if (search.length > 0) kv.push(['DOMAIN', `"${search.join(' ')}"`]);
    if (servers.length > 0) kv.push(['PEERDNS', 'no']);
    const body = (pairs: Array<[string, string]>, note: string): string => `# ${HEADER}\n# ${note}\n${pairs.map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
    files.set(`${dir}/ifcfg-${nic.name}`, { content: body(kv, origin(nic)), mode: 0o644 });
    aliases.forEach((a, i) => {
      files.set(`${dir}/ifcfg-${nic.name}:${i}`, {
        content: body([['DEVICE', `${nic.name}:${i}`], ['ONBOOT', 'yes'], ['BOOTPROTO', 'none'], ['IPADDR', a.address], ['PREFIX', String(a.prefix)], ['NETMASK', prefixToMask(a.prefix)]], `alias ${i} of ${origin(nic)}`),
        mode: 0o644,
      });
    });
    const r4 = nic.routes.filter((r) => !r.via.includes(':'));
    const r6 = nic.routes.filter((r) => r.via.includes(':'));
    const routeLines = (rs: typeof nic.routes): string => rs.map((r) => `${r.to}/${r.prefix} via ${r.via} dev ${nic.name}${r.metric === undefined ? '' : ` metric ${r.metric}`}`).join('\n');
    if (r4.length > 0) files.set(`${dir}/route-${nic.name}`, { content: `# ${HEADER}\n${routeLines(r4)}\n`, mode: 0o644 });
    if (r6.length > 0) files.set(`${dir}/route6-${nic.name}`, { content: `# ${HEADER}\n${routeLines(r6)}\n`, mode: 0o644 });
  }
  const merges = new Map<string, Record<string, string>>();
  if (files.size > 0) merges.set('/etc/sysconfig/network', { NETWORKING: 'yes', ...(defaultGateway === undefined ? {} : { GATEWAY: defaultGateway }) });
  return { files, merges };
}

/** A stable UUID for a connection, so re-rendering gives byte-identical files. */
function connectionUuid(nic: InterfaceConfig): string {
  const h = createHash('sha256').update(`vmctx:${nic.index}:${nic.mac ?? nic.name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function renderNetworkManager(model: NetworkModel): Rendered {
  const files = new Map<string, RenderedFile>();
  for (const nic of model.interfaces.filter(configured)) {
    const id = `vmctx-${nicKey(nic)}`;
    const lines = [`# ${HEADER}`, `# ${origin(nic)}`, '[connection]', `id=${id}`, `uuid=${connectionUuid(nic)}`, 'type=ethernet', 'autoconnect=true', 'autoconnect-priority=50'];
    if (nic.mac === undefined) lines.push(`interface-name=${nic.name}`);
    lines.push('', '[ethernet]');
    if (nic.mac !== undefined) lines.push(`mac-address=${nic.mac}`);
    if (nic.mtu !== undefined) lines.push(`mtu=${nic.mtu}`);
    const { servers, search } = dnsOf(model, nic);
    const v4servers = servers.filter((s) => !s.includes(':'));
    const v6servers = servers.filter((s) => s.includes(':'));
    const v4 = nic.ipv4;
    lines.push('', '[ipv4]', `method=${v4.method === 'static' ? (v4.addresses.length > 0 ? 'manual' : 'disabled') : v4.method === 'dhcp' ? 'auto' : 'disabled'}`);
    if (v4.method === 'static') v4.addresses.forEach((a, i) => lines.push(`address${i + 1}=${cidr(a)}`));
    if (v4.method === 'static' && v4.gateway !== undefined) lines.push(`gateway=${v4.gateway}`);
    if (v4.metric !== undefined) lines.push(`route-metric=${v4.metric}`);
    nic.routes.filter((r) => !r.via.includes(':')).forEach((r, i) => lines.push(`route${i + 1}=${r.to}/${r.prefix},${r.via}${r.metric === undefined ? '' : `,${r.metric}`}`));
    if (v4servers.length > 0) lines.push(`dns=${v4servers.join(';')};`);
    if (search.length > 0) lines.push(`dns-search=${search.join(';')};`);
    const v6 = nic.ipv6;
    const v6method = { static: v6.addresses.length > 0 ? 'manual' : 'ignore', auto: 'auto', dhcp: 'dhcp', disable: 'disabled', skip: 'ignore' }[v6.method];
    lines.push('', '[ipv6]', `method=${v6method}`);
    if (v6.method === 'static') v6.addresses.forEach((a, i) => lines.push(`address${i + 1}=${cidr(a)}`));
    if (v6.method === 'static' && v6.gateway !== undefined) lines.push(`gateway=${v6.gateway}`);
    if (v6.metric !== undefined) lines.push(`route-metric=${v6.metric}`);
    nic.routes.filter((r) => r.via.includes(':')).forEach((r, i) => lines.push(`route${i + 1}=${r.to}/${r.prefix},${r.via}${r.metric === undefined ? '' : `,${r.metric}`}`));
    if (v6servers.length > 0) lines.push(`dns=${v6servers.join(';')};`);
    files.set(`/etc/NetworkManager/system-connections/${id}.nmconnection`, { content: `${lines.join('\n')}\n`, mode: 0o600 });
  }
  return { files, merges: new Map() };
}

export const RENDERERS: Readonly<Record<Backend, (model: NetworkModel) => Rendered>> = {
  networkd: renderNetworkd,
  netplan: renderNetplan,
  interfaces: renderInterfaces,
  scripts: renderSysconfig,
  nm: renderNetworkManager,
};
