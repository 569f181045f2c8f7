// OpenNebula context variables → NetModel: the same meaning as the old mapper (fromcontext.ts) for
// every golden context and every context of its tests, compared per MAC; then what is new — route
// metrics, ETHx_VLAN_ID named (the host tags), DHCP metrics, and a note for every variable not applied.
import { describe, expect, it } from 'vitest';
import { isBookkeepingNote } from '../../src/network/fromdocument.js';
import { mapOpenNebula } from '../../src/network/fromopennebula.js';
import type { Device, NetModel } from '../../src/network/netmodel.js';
import { SCENARIOS } from './golden.test.js';
import { addr, dns, eth, noteRows, route } from './netmodel-helpers.js';

interface Meaning {
  dhcp4: boolean;
  dhcp6: boolean;
  acceptRa: boolean | undefined;
  addresses: string[];
  gateways: string[];
  routes: string[];
  dns: string[];
  search: string[];
  mtu: number | undefined;
}

const rt = (to: string, via: string, metric: number | undefined): string => `${to} via ${via}${metric === undefined ? '' : ` metric ${metric}`}`;

function newMeaning(d: Device): Meaning {
  return {
    dhcp4: d.dhcp4,
    dhcp6: d.dhcp6,
    acceptRa: d.acceptRa,
    addresses: d.addresses.map((a) => `${a.address}/${a.prefix}`),
    gateways: d.routes.filter((r) => r.to.prefix === 0).map((r) => rt('default', r.via ?? '', r.metric)),
    routes: d.routes.filter((r) => r.to.prefix !== 0).map((r) => rt(`${r.to.address}/${r.to.prefix}`, r.via ?? '', r.metric)),
    dns: [...d.nameservers.addresses],
    search: [...d.nameservers.search],
    mtu: d.mtu,
  };
}

function newByNic(model: NetModel): Record<string, Meaning> {
  return Object.fromEntries(model.devices.flatMap((d) => (d.kind === 'ethernet' ? [[d.match.macaddress ?? d.match.name ?? d.id, newMeaning(d)]] : [])));
}

/** Contexts of test/network/fromcontext.test.ts, besides the golden ones. */
const OLD_TEST_CONTEXTS: Record<string, Record<string, string>> = {
  'bad values': {
    ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.300', ETH0_GATEWAY: '10.0.0.1', ETH0_MTU: '99999',
    ETH0_ROUTES: 'garbage, 10.0.0.0/8 via, 192.168.0.0/16 via 10.0.0.254',
    ETH1_MAC: '52:54:00:00:00:02', ETH1_IP: '10.1.0.5', ETH1_MASK: '255.0.255.0',
  },
  'same MAC twice': { ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH1_MAC: '52:54:00:00:00:01', ETH1_IP: '10.0.1.5' },
  'legacy MAC': { ETH0_MAC: '02:00:c0:a8:01:2a', ETH0_IP: '' },
  'MAC only': { ETH0_MAC: '52:54:00:12:34:56' },
  'external, skip': { ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH0_EXTERNAL: 'YES', ETH1_MAC: '52:54:00:00:00:02', ETH1_METHOD: 'skip', ETH1_IP6_METHOD: 'skip', NETCFG_TYPE: 'netplan' },
  'newline injection': {
    ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5\n[Network]\nDNS=6.6.6.6', ETH0_GATEWAY: '10.0.0.1\nup rm -rf /',
    ETH0_DNS: '10.0.0.2\nnameserver=evil', ETH0_SEARCH_DOMAIN: 'a.com\ndns=evil;', ETH0_ROUTES: '10.9.0.0/16 via 10.0.0.9\nup reboot',
    ETH0_MTU: '1500\nMTU=9000', ETH0_IP6: '2001:db8::5\n', ETH0_METHOD: 'static\nreboot', ETH0_IP6_METHOD: 'auto\n[Match]',
  },
  'IPv6 disabled, DHCP both': { ETH0_MAC: '52:54:00:00:00:01', ETH0_IP6_METHOD: 'disable', ETH1_MAC: '52:54:00:00:00:02', ETH1_METHOD: 'dhcp', ETH1_IP6_METHOD: 'dhcp', DNS: '10.0.0.2 fe80::1%eth0', SEARCH_DOMAIN: 'example.com' },
};

// The snapshot was recorded when the old mapper (fromcontext.ts's networkFromContext) was removed,
// from a run where this mapping equalled the old one's per NIC, in DNS, in the variables it rejected
// and in the backend: it keeps that meaning.
describe('OpenNebula → model: the meaning of the old mapper, per NIC', () => {
  for (const [name, vars] of Object.entries({ ...SCENARIOS, ...OLD_TEST_CONTEXTS })) {
    it(name, () => {
      const mapped = mapOpenNebula(vars);
      expect({
        nics: newByNic(mapped.model),
        nameservers: mapped.model.nameservers,
        rejected: mapped.notes.filter((n) => n.what === 'invalid').map((n) => n.path),
        backend: mapped.backend ?? null,
      }).toMatchSnapshot();
      expect(mapped.model.routes).toEqual([]);
    });
  }
});

describe('OpenNebula → model: what is new', () => {
  it('ETHx_ROUTES with a metric (one-context\'s "DST via GW metric N") keeps the metric; ETHx_METRIC is the gateway\'s', () => {
    const r = mapOpenNebula({ ETH0_MAC: '52:54:00:00:00:50', ETH0_IP: '10.0.0.5', ETH0_GATEWAY: '10.0.0.1', ETH0_METRIC: '100', ETH0_ROUTES: '10.10.0.0/16 via 10.0.0.254, 172.20.0.0/14 via 10.0.0.253 metric 50, 2001:db8:9::/48 via 2001:db8::1 METRIC 7' });
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('eth0', { macaddress: '52:54:00:00:00:50' }, {
        addresses: [addr('10.0.0.5/24')],
        routes: [route('default', '10.0.0.1', { metric: 100 }), route('10.10.0.0/16', '10.0.0.254'), route('172.20.0.0/14', '10.0.0.253', { metric: 50 }), route('2001:db8:9::/48', '2001:db8::1', { metric: 7 })],
      }),
    ]);
  });

  it('ETHx_VLAN_ID (OpenNebula sets it for every NIC on a VLAN network, the host tags): named, and the NIC configured untagged', () => {
    const r = mapOpenNebula({ ETH1_MAC: '52:54:00:00:00:61', ETH1_IP: '10.6.0.5', ETH1_MASK: '255.255.0.0', ETH1_GATEWAY: '10.6.0.1', ETH1_DNS: '10.6.0.53', ETH1_MTU: '9000', ETH1_VLAN_ID: '60' });
    expect(noteRows(r.notes)).toEqual([[undefined, 'unused', 'ETH1_VLAN_ID']]);
    expect(r.notes[0]?.message).toContain('the host tags');
    // what OpenNebula writes itself is bookkeeping (listed by show and validate as info), not a warning of every boot
    for (const key of ['ETH1_VLAN_ID', 'ETH1_NETWORK', 'ETH1_VROUTER_IP']) {
      const notes = mapOpenNebula({ ETH1_MAC: '52:54:00:00:00:61', ETH1_IP: '10.6.0.5', [key]: key === 'ETH1_VLAN_ID' ? '60' : '10.6.0.0' }).notes;
      expect(notes.map((n) => [n.path, isBookkeepingNote(n)]), key).toEqual([[key, true]]);
    }
    expect(r.model.devices).toEqual([
      eth('eth1', { macaddress: '52:54:00:00:00:61' }, { mtu: 9000, addresses: [addr('10.6.0.5/16')], routes: [route('default', '10.6.0.1')], nameservers: dns(['10.6.0.53']) }),
    ]);
  });

  it('metrics of DHCP routes; with DHCP the static variables are named as unused', () => {
    const r = mapOpenNebula({ ETH0_MAC: '52:54:00:00:00:20', ETH0_METHOD: 'dhcp', ETH0_IP: '10.0.0.5', ETH0_METRIC: '300', ETH0_IP6_METHOD: 'dhcp', ETH0_IP6_METRIC: '400', ETH0_IP6: '2001:db8::5' });
    expect(r.model.devices).toEqual([
      eth('eth0', { macaddress: '52:54:00:00:00:20' }, { dhcp4: true, dhcp4Overrides: { routeMetric: 300 }, dhcp6: true, acceptRa: true, dhcp6Overrides: { routeMetric: 400 } }),
    ]);
    expect(noteRows(r.notes)).toEqual([[undefined, 'unused', 'ETH0_IP'], [undefined, 'unused', 'ETH0_IP6']]);
  });

  it('names every ETHx_ variable it does not apply: unknown ones, informational ones, external NICs, excluded aliases', () => {
    const lines: Record<string, number> = { ETH0_COLOUR: 7 };
    const r = mapOpenNebula({
      ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH0_NETWORK: '10.0.0.0', ETH0_COLOUR: 'blue', ETH0_VROUTER_IP: '10.0.0.254',
      ETH0_ALIAS0_IP: '10.0.1.5', ETH0_ALIAS0_GATEWAY: '10.0.1.1', ETH0_ALIAS0_MAC: '52:54:00:00:00:01', ETH0_ALIAS1_IP: '10.0.2.5', ETH0_ALIAS1_DETACH: 'YES',
      ETH1_MAC: '52:54:00:00:00:02', ETH1_IP: '10.1.0.5', ETH1_EXTERNAL: 'YES',
    }, 'context.sh', (v) => lines[v]);
    expect(noteRows(r.notes)).toEqual([
      [undefined, 'unused', 'ETH0_ALIAS0_MAC'],
      [undefined, 'unused', 'ETH0_NETWORK'],
      [undefined, 'unused', 'ETH0_VROUTER_IP'],
      [undefined, 'unused', 'ETH1_EXTERNAL'],
      [undefined, 'unknown', 'ETH0_ALIAS0_GATEWAY'],
      [7, 'unknown', 'ETH0_COLOUR'],
    ]);
    expect(r.model.devices).toEqual([eth('eth0', { macaddress: '52:54:00:00:00:01' }, { addresses: [addr('10.0.0.5/24'), addr('10.0.1.5/24')] })]);
  });

  it('ETHx_IP6_GATEWAY wins over the legacy ETHx_GATEWAY6, which is named', () => {
    const r = mapOpenNebula({ ETH0_MAC: '52:54:00:00:00:01', ETH0_IP6: '2001:db8::5', ETH0_IP6_GATEWAY: '2001:db8::1', ETH0_GATEWAY6: '2001:db8::2' });
    expect(noteRows(r.notes)).toEqual([[undefined, 'unused', 'ETH0_GATEWAY6']]);
    expect(r.model.devices).toEqual([eth('eth0', { macaddress: '52:54:00:00:00:01' }, { acceptRa: false, addresses: [addr('2001:db8::5/64')], routes: [route('default', '2001:db8::1')] })]);
  });

  it('StratusLab\'s three NICs: by position (named ethN until the guest says), the global route on eth0, the default route on the public eth1', () => {
    const r = mapOpenNebula(SCENARIOS['stratuslab'] ?? {});
    expect(r.notes).toEqual([]);
    expect(r.model.devices).toEqual([
      eth('eth0', { name: 'eth0', positional: true }, { addresses: [addr('10.1.0.5/16')], routes: [route('10.0.0.0/8', '10.1.0.1')] }),
      eth('eth1', { name: 'eth1', positional: true }, { addresses: [addr('134.158.75.5/24')], routes: [route('default', '10.1.0.1')] }),
      eth('eth2', { name: 'eth2', positional: true }, { addresses: [addr('192.168.7.5/25')] }),
    ]);
  });
});
