import { describe, expect, it } from 'vitest';
import { formatNameserver, nameserverOf, parseNameserver } from '../../src/formats/dns.js';

describe('DNS server codec', () => {
  // [input, formatted (resolv.conf / resolved DNS=) or undefined when refused, reason pattern]
  const table: Array<[string, string | undefined, RegExp?]> = [
    ['10.0.0.2', '10.0.0.2'],
    ['0.0.0.0', '0.0.0.0'],
    ['2001:db8::53', '2001:db8::53'],
    ['2001:DB8::53', '2001:db8::53'],
    ['[2001:db8::53]', '2001:db8::53'],
    ['::ffff:10.0.0.2', '::ffff:10.0.0.2'],
    ['fe80::1', 'fe80::1'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['FE80::1%eth0', 'fe80::1%eth0'],
    ['[fe80::1%eth0]', 'fe80::1%eth0'],
    ['fe80::1%2', 'fe80::1%2'],
    ['febf::1%enp0s3', 'febf::1%enp0s3'],
    ['fe80::1%br-lan.10', 'fe80::1%br-lan.10'],
    ['fec0::1%eth0', undefined, /only a link-local/u],
    ['2001:db8::1%eth0', undefined, /only a link-local/u],
    ['::1%lo', undefined, /only a link-local/u],
    ['fe80::1%', undefined, /zone/u],
    ['fe80::1%eth0:1', undefined, /zone/u],
    ['fe80::1%a-very-long-interface', undefined, /zone/u],
    ['fe80::1%eth0%eth1', undefined, /zone/u],
    ['10.0.0.2%eth0', undefined, /not an IP address/u],
    ['010.0.0.2', undefined, /not an IP address/u],
    ['10.0.0.256', undefined, /not an IP address/u],
    ['dns.example.com', undefined, /not an IP address/u],
    ['[10.0.0.2]', '10.0.0.2'],
    ['[2001:db8::53', undefined, /not an IP address/u],
    ['', undefined, /not an IP address/u],
  ];
  for (const [input, formatted, reason] of table) {
    it(`${JSON.stringify(input)} → ${formatted ?? 'refused'}`, () => {
      const r = parseNameserver(input);
      if (formatted === undefined) {
        expect(r.ok).toBe(false);
        if (!r.ok && reason !== undefined) expect(r.reason).toMatch(reason);
      } else {
        expect(r.ok && formatNameserver(r.server)).toBe(formatted);
        // what vmctx writes reads back as the same server
        expect(nameserverOf(formatted)).toEqual(r.ok ? r.server : undefined);
      }
    });
  }
  it('splits the zone from the address', () => {
    expect(nameserverOf('fe80::1%eth0')).toEqual({ family: 6, address: 'fe80::1', zone: 'eth0' });
    expect(nameserverOf('10.0.0.2')).toEqual({ family: 4, address: '10.0.0.2', zone: undefined });
  });
});
