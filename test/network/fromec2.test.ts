// EC2 metadata NIC data → NetModel: the corpus's ec2/ documents checked mechanically against their
// expect files, plus the order, metric, secondary-address and policy-routing rules one by one.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ec2NicOrder, mapEc2Network, mapEc2Nics, readEc2Network } from '../../src/network/fromec2.js';
import { corpusMismatches } from './corpus-check.js';
import { expectErrors, type CorpusExpect } from './corpus/expect.js';
import { addr, eth, noteRows, route } from './netmodel-helpers.js';

const DIR = join(import.meta.dirname, 'corpus', 'ec2');

/**
 * Where vmctx knowingly differs from cloud-init: secondary IPv6 addresses get their subnet's prefix
 * (cloud-init looks up subnet-ipv6-cidr-block, which IMDS does not publish, and falls back to /128).
 */
const REFINED: Record<string, string[]> = {
  'multi-ip.json': [
    'ethernets.0e:41:7a:10:30:01: address 2001:db8:81:1:bbbb:4444:5555:6666/128 missing (have 10.81.5.70/20 2001:db8:81:1:cccc:5555:6666:7777/64 2001:db8:81:1:bbbb:4444:5555:6666/64)',
    'ethernets.0e:41:7a:10:30:01: address 2001:db8:81:1:cccc:5555:6666:7777/128 missing (have 10.81.5.70/20 2001:db8:81:1:cccc:5555:6666:7777/64 2001:db8:81:1:bbbb:4444:5555:6666/64)',
    'ethernets.0e:41:7a:10:30:01: address 2001:db8:81:1:cccc:5555:6666:7777/64 not expected',
    'ethernets.0e:41:7a:10:30:01: address 2001:db8:81:1:bbbb:4444:5555:6666/64 not expected',
  ],
};

describe('EC2 corpus: every expected NIC, address, route and override is in the model', () => {
  const docs = readdirSync(DIR).filter((f) => !f.endsWith('.expect.json'));
  it('has the five documents', () => {
    expect(docs.length).toBe(5);
  });
  for (const doc of docs) {
    it(doc, () => {
      const e = JSON.parse(readFileSync(join(DIR, doc.replace(/\.json$/u, '.expect.json')), 'utf8')) as CorpusExpect;
      expect(expectErrors(e)).toEqual([]);
      const mapped = mapEc2Network(JSON.parse(readFileSync(join(DIR, doc), 'utf8')), doc);
      expect(corpusMismatches(e, mapped)).toEqual(REFINED[doc] ?? []);
    });
  }
});

describe('EC2 NICs → model', () => {
  it('orders by (network-card, device-number, MAC), a missing value last', () => {
    expect(ec2NicOrder({
      'aa:00:00:00:00:03': { localIpv4s: [], ipv6s: [], subnetIpv6CidrBlocks: [] },
      'aa:00:00:00:00:02': { networkCard: 1, deviceNumber: 0, localIpv4s: [], ipv6s: [], subnetIpv6CidrBlocks: [] },
      'aa:00:00:00:00:01': { networkCard: 0, deviceNumber: 1, localIpv4s: [], ipv6s: [], subnetIpv6CidrBlocks: [] },
      'aa:00:00:00:00:00': { networkCard: 0, deviceNumber: 0, localIpv4s: [], ipv6s: [], subnetIpv6CidrBlocks: [] },
      'aa:00:00:00:00:04': { deviceNumber: 0, localIpv4s: [], ipv6s: [], subnetIpv6CidrBlocks: [] },
    })).toEqual(['aa:00:00:00:00:00', 'aa:00:00:00:00:01', 'aa:00:00:00:00:02', 'aa:00:00:00:00:04', 'aa:00:00:00:00:03']);
  });

  it('a dual-stack secondary NIC: metric 200, secondary addresses with their subnets\' prefixes, subnet routes of both families in table 101, policy rules named', () => {
    const r = mapEc2Nics({
      '0e:00:00:00:00:01': { deviceNumber: 0, localIpv4s: ['10.0.0.5'], subnetIpv4CidrBlock: '10.0.0.0/24', ipv6s: [], subnetIpv6CidrBlocks: [] },
      '0e:00:00:00:00:02': {
        deviceNumber: 1, localIpv4s: ['10.0.1.5', '10.0.1.6'], subnetIpv4CidrBlock: '10.0.1.0/24',
        ipv6s: ['2001:db8:1::5', '2001:db8:1::6', '2001:db8:9::6'], subnetIpv6CidrBlocks: ['2001:db8:1::/64'],
      },
    }, 'macs');
    const overrides = { routeMetric: 200, useRoutes: true };
    expect(r.model.devices).toEqual([
      eth('0e:00:00:00:00:01', { macaddress: '0e:00:00:00:00:01' }, { dhcp4: true, dhcp4Overrides: { routeMetric: 100 } }),
      eth('0e:00:00:00:00:02', { macaddress: '0e:00:00:00:00:02' }, {
        dhcp4: true, dhcp6: true, dhcp4Overrides: overrides, dhcp6Overrides: overrides,
        addresses: [addr('10.0.1.6/24'), addr('2001:db8:1::6/64'), addr('2001:db8:9::6/128')],
        routes: [route('10.0.1.0/24', undefined, { table: 101 }), route('2001:db8:1::/64', undefined, { table: 101 })],
      }),
    ]);
    expect(noteRows(r.notes)).toEqual([
      [undefined, 'invalid', 'interfaces.macs.0e:00:00:00:00:02.ipv6s'],
      [undefined, 'not supported', 'interfaces.macs.0e:00:00:00:00:02.device-number'],
    ]);
    expect(r.notes[1]?.message).toMatch(/^routing-policy \(from 10\.0\.1\.5, 10\.0\.1\.6, 2001:db8:1::5, 2001:db8:1::6, 2001:db8:9::6 lookup table 101\)/u);
  });

  it('reads IMDS text (one item per line) and names informational, unknown and bad keys', () => {
    const read = readEc2Network({ interfaces: { macs: {
      '0E:00:00:00:00:01': { 'device-number': '0', 'local-ipv4s': '10.0.0.5\n10.0.0.6\n', 'subnet-ipv4-cidr-block': '10.0.0.0/16', 'vpc-id': 'vpc-1', colour: 'blue', 'network-card': 'x' },
      'not-a-mac': {},
    } } }, 'macs');
    expect(read.nics).toEqual({ '0e:00:00:00:00:01': { deviceNumber: 0, localIpv4s: ['10.0.0.5', '10.0.0.6'], subnetIpv4CidrBlock: '10.0.0.0/16', ipv6s: [], subnetIpv6CidrBlocks: [] } });
    expect(noteRows(read.notes)).toEqual([
      [undefined, 'invalid', 'interfaces.macs.0E:00:00:00:00:01.network-card'],
      [undefined, 'unused', 'interfaces.macs.0E:00:00:00:00:01.vpc-id'],
      [undefined, 'unknown', 'interfaces.macs.0E:00:00:00:00:01.colour'],
      [undefined, 'invalid', 'interfaces.macs.not-a-mac'],
    ]);
    expect(mapEc2Nics(read.nics).model.devices).toEqual([eth('0e:00:00:00:00:01', { macaddress: '0e:00:00:00:00:01' }, { dhcp4: true, addresses: [addr('10.0.0.6/16')] })]);
    expect(noteRows(mapEc2Network({ interfaces: {} }).notes)).toEqual([[undefined, 'invalid', 'interfaces.macs']]);
  });
});
