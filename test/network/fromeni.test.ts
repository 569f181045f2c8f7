// ENI text → NetModel: the corpus's eni/ documents checked mechanically against their expect files,
// and the cases cloud-init gets wrong or rejects (dual-stack stanzas, inet6 dhcp, bonds/bridges/VLANs).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { formatNote } from '../../src/network/docreader.js';
import { mapEni } from '../../src/network/fromeni.js';
import { corpusMismatches } from './corpus-check.js';
import { expectErrors, type CorpusExpect } from './corpus/expect.js';
import { addr, bond, bridge, dns, eth, noteRows, route, vlan } from './netmodel-helpers.js';

const DIR = join(import.meta.dirname, 'corpus', 'eni');

/** The document's ENI text and the file name its notes carry (meta-data: the network-interfaces value). */
function load(name: string): { text: string; file: string } {
  const raw = readFileSync(join(DIR, name), 'utf8');
  if (name.endsWith('.yaml')) return { text: String((parse(raw) as Record<string, unknown>)['network-interfaces']), file: 'network-interfaces' };
  return { text: raw, file: name };
}

describe('ENI corpus: every expected interface, address, route, DNS entry and parameter is in the model; every notApplied key is a note', () => {
  const docs = readdirSync(DIR).filter((f) => !f.endsWith('.expect.json'));
  it('has the six documents', () => {
    expect(docs.length).toBe(6);
  });
  for (const doc of docs) {
    it(doc, () => {
      const e = JSON.parse(readFileSync(join(DIR, doc.replace(/\.(txt|yaml)$/u, '.expect.json')), 'utf8')) as CorpusExpect;
      expect(expectErrors(e)).toEqual([]);
      const { text, file } = load(doc);
      const mapped = mapEni(text, file);
      expect(corpusMismatches(e, mapped)).toEqual([]);
    });
  }
});

/** Keywords whose meaning is in the model (every other documented keyword must produce a note). */
const APPLIED = [
  'auto', 'iface', 'address', 'netmask', 'metric', 'gateway', 'mtu', 'hostname', 'hwaddress', 'dns-nameservers', 'dns-search', 'bridge_ports', 'bridge_ageing',
  'bridge_bridgeprio', 'bridge_fd', 'bridge_hello', 'bridge_maxage', 'bridge_stp', 'bridge_hw', 'bridge_pathcost', 'bridge_portprio', 'bond-master', 'bond-slaves',
  'bond-mode', 'bond-miimon', 'bond-lacp-rate', 'bond-xmit-hash-policy', 'bond-primary', 'bond-updelay', 'bond-downdelay', 'vlan-raw-device',
];

describe('ENI documented keywords: each is applied or named, none unknown or invalid', () => {
  it('every keyword of keys/eni.json, on every line of the corpus that uses it', () => {
    const keys = Object.keys(JSON.parse(readFileSync(join(DIR, '..', 'keys', 'eni.json'), 'utf8')) as Record<string, string>);
    const unaccounted: string[] = [];
    for (const doc of readdirSync(DIR).filter((f) => !f.endsWith('.expect.json'))) {
      const { text, file } = load(doc);
      const { notes } = mapEni(text, file);
      expect(notes.filter((n) => n.what === 'unknown' || n.what === 'invalid').map(formatNote)).toEqual([]);
      text.split('\n').forEach((line, i) => {
        const key = line.trim().split(/\s+/u)[0] ?? '';
        if (!keys.includes(key) || APPLIED.includes(key)) return;
        if (!notes.some((n) => n.line === i + 1)) unaccounted.push(`${file}:${i + 1} ${key}`);
      });
    }
    expect(unaccounted).toEqual([]);
    expect(keys.filter((k) => !APPLIED.includes(k)).sort()).toEqual([
      'bootfile', 'bridge_gcinit', 'bridge_maxwait', 'broadcast', 'client', 'down', 'endpoint', 'frame', 'hwaddr', 'leasehours', 'leasetime', 'local', 'media',
      'netnum', 'network', 'pointtopoint', 'post-down', 'post-up', 'pre-down', 'pre-up', 'provider', 'server', 'source', 'source-directory', 'ttl', 'up', 'vendor',
    ]);
  });
});

describe('ENI text → model', () => {
  it('dual stack in two stanzas (cloud-init rejects it), an alias, inet6 auto with dhcp, several addresses, metrics on gateway and DHCP', () => {
    const r = mapEni([
      'auto eth0 eth1',
      'iface eth0 inet static',
      '\taddress 192.0.2.5/24',
      '\tgateway 192.0.2.1',
      '\tmetric 50',
      'iface eth0 inet6 static',
      '  address 2001:db8::5',
      '  netmask 64',
      '  gateway 2001:db8::1',
      '  accept_ra 0',
      'iface eth0:1 inet static',
      '  address 192.0.2.6',
      '  netmask 255.255.255.128',
      'iface eth1 inet dhcp',
      '  metric 200',
      'iface eth1 inet6 auto',
      '  dhcp 1',
      '  dns-nameservers 2001:db8::53 \\',
      '    192.0.2.53',
    ].join('\n'), 'network-interfaces');
    expect(r.notes).toEqual([]);
    expect(r.model).toEqual({
      devices: [
        eth('eth0', { name: 'eth0' }, {
          acceptRa: false,
          addresses: [addr('192.0.2.5/24'), addr('2001:db8::5/64'), addr('192.0.2.6/25')],
          routes: [route('default', '192.0.2.1', { metric: 50 }), route('default', '2001:db8::1')],
        }),
        eth('eth1', { name: 'eth1' }, { dhcp4: true, dhcp4Overrides: { routeMetric: 200 }, dhcp6: true, acceptRa: true, nameservers: dns(['2001:db8::53', '192.0.2.53']) }),
      ],
      routes: [],
      nameservers: dns([]),
    });
  });

  it('VLANs by NAME.ID and vlanID, a bridge over an undeclared NIC, a bond by bond-slaves, MACs on virtual devices', () => {
    const r = mapEni([
      'auto eth0.10 vlan20 br0 bond0',
      'iface eth0.10 inet dhcp',
      'iface vlan20 inet manual',
      '  vlan-raw-device eth0',
      'iface br0 inet manual',
      '  bridge-ports eth2',
      '  bridge-stp off',
      'iface bond0 inet static',
      '  bond-slaves eth3 eth4',
      '  bond-mode active-backup',
      '  bond-primary eth3',
      '  hwaddress ether 02:00:00:00:00:01',
      '  address 10.0.0.2/8',
    ].join('\n'), 'interfaces');
    expect(noteRows(r.notes)).toEqual([]);
    expect(r.model.devices).toEqual([
      vlan('eth0.10', 10, 'eth0', { dhcp4: true }),
      vlan('vlan20', 20, 'eth0'),
      bridge('br0', ['eth2'], { stp: false }),
      bond('bond0', ['eth3', 'eth4'], { mode: 'active-backup', primary: 'eth3' }, { macaddress: '02:00:00:00:00:01', addresses: [addr('10.0.0.2/8')] }),
      eth('eth0', { name: 'eth0' }),
      eth('eth2', { name: 'eth2' }),
      eth('eth3', { name: 'eth3' }),
      eth('eth4', { name: 'eth4' }),
    ]);
  });

  it('names every keyword it does not apply, with its line: options outside a stanza, mappings, unknown options, bad values, no auto line', () => {
    const r = mapEni([
      'address 10.0.0.1',
      'mapping eth0',
      '  script /usr/local/sbin/map-scheme',
      'allow-ovs br-int',
      'iface eth0 inet static',
      '  address 10.0.0.300/24',
      '  gateway fe80::1%eth0',
      '  wpa-ssid home',
      '  mtu 20',
      '  dns-nameservers 10.0.0.53 not-an-ip',
      '  hostname x',
      'iface eth1 inet6 dhcp',
      '  address 2001:db8::9/64',
      'iface eth2 inet static',
      '  address 2001:db8::9/64',
      'auto eth9',
    ].join('\n'), 'interfaces');
    expect(noteRows(r.notes)).toEqual([
      [1, 'invalid', 'address'],
      [2, 'not supported', 'mapping'],
      [3, 'invalid', 'script'],
      [4, 'not supported', 'allow-ovs'],
      [5, 'not supported', 'iface eth0'],
      [6, 'invalid', 'address'],
      [7, 'invalid', 'gateway'],
      [8, 'unknown', 'wpa-ssid'],
      [9, 'invalid', 'mtu'],
      [10, 'invalid', 'dns-nameservers'],
      [11, 'unused', 'hostname'],
      [12, 'not supported', 'iface eth1'],
      [13, 'unused', 'address'],
      [14, 'not supported', 'iface eth2'],
      [15, 'invalid', 'address'],
      [16, 'unused', 'auto eth9'],
    ]);
    expect(r.notes.map(formatNote)[1]).toBe('not supported: mapping (interfaces:2): mapping stanzas (a script that picks the configuration) are not supported; never run');
    expect(r.model.devices).toEqual([
      eth('eth0', { name: 'eth0' }, { nameservers: dns(['10.0.0.53']) }),
      eth('eth1', { name: 'eth1' }, { dhcp6: true }),
      eth('eth2', { name: 'eth2' }),
    ]);
  });

  it('a static stanza without an address is named; control characters never reach a note', () => {
    const r = mapEni('auto eth0\niface eth0 inet static\n  mtu 1400\n  x\u001b[31m y\n', 'interfaces');
    expect(r.notes.map((n) => [n.line, n.what, n.path])).toEqual([[2, 'invalid', 'iface eth0'], [4, 'unknown', 'x?[31m']]);
    expect(r.model.devices).toEqual([eth('eth0', { name: 'eth0' }, { mtu: 1400 })]);
  });

  it('members that repeat the bond\'s options (as cloud-init\'s ENI renderer writes them) stay members; the options there are named', () => {
    const r = mapEni('auto bond0\niface eth0 inet manual\n  bond-master bond0\n  bond-mode active-backup\niface bond0 inet dhcp\n  bond-mode active-backup\n  bond-slaves none\n', 'interfaces');
    expect(noteRows(r.notes)).toEqual([[4, 'unused', 'bond-mode']]);
    expect(r.model.devices).toEqual([eth('eth0', { name: 'eth0' }), bond('bond0', ['eth0'], { mode: 'active-backup' }, { dhcp4: true })]);
  });

  it('the loopback stanza is accepted without a word; options on it are named', () => {
    const r = mapEni('auto lo\niface lo inet loopback\n  address 127.0.0.2/8\n', 'interfaces');
    expect(noteRows(r.notes)).toEqual([[3, 'not supported', 'address']]);
    expect(r.model.devices).toEqual([]);
  });

  it('the corpus check fails when a model lacks what the expect file says', () => {
    const e = JSON.parse(readFileSync(join(DIR, 'dual-stack.expect.json'), 'utf8')) as CorpusExpect;
    const mapped = mapEni('auto lan0\niface lan0 inet static\n  address 10.41.0.5/24\n', 'dual-stack.txt');
    expect(corpusMismatches(e, mapped)).toEqual([
      'ethernets.lan0: address 2001:db8:41::5/64 missing (have 10.41.0.5/24)',
      'ethernets.lan0: route {"to":"default","via":"10.41.0.1"} missing',
      'ethernets.lan0: route {"to":"default","via":"2001:db8:41::1"} missing',
      'ethernets.lan0: 0 routes, expected 2',
    ]);
  });
});
