// The model's entry checks (addresses, masks, MACs, names, DNS), the key-tracking reader, and the
// helpers renderers will use (dependency order, masters, gateways' devices).
import { describe, expect, it } from 'vitest';
import { formatNote, parseNetworkDoc } from '../../src/network/docreader.js';
import {
  checkAddress,
  checkDestination,
  checkGlob,
  checkIfName,
  checkMac,
  checkNameserver,
  checkSearchDomain,
  dependencyOrder,
  deviceForGateway,
  ipv6MaskToPrefix,
  masterOf,
  sameNetwork,
  vlansOn,
  type NetModel,
} from '../../src/network/netmodel.js';
import { addr, bond, dns, eth, vlan } from './netmodel-helpers.js';

describe('values entering the model', () => {
  it('addresses: CIDR, a netmask of either family, defaults only where the format has them', () => {
    expect(checkAddress('10.0.0.5/24')).toEqual({ ok: true, value: addr('10.0.0.5/24') });
    expect(checkAddress('10.0.0.5', '255.255.255.252')).toEqual({ ok: true, value: addr('10.0.0.5/30') });
    expect(checkAddress('2001:DB8::5', 'ffff:ffff:ffff:ff00::')).toEqual({ ok: true, value: addr('2001:db8::5/56') });
    expect(checkAddress('10.0.0.5', undefined, true)).toEqual({ ok: true, value: addr('10.0.0.5/24') });
    expect(checkAddress('2001:db8::5', undefined, true)).toEqual({ ok: true, value: addr('2001:db8::5/64') });
    expect(checkAddress('10.0.0.5').ok).toBe(false);
    expect(checkAddress('10.0.0.5/33').ok).toBe(false);
    expect(checkAddress('10.0.0.5', '255.0.255.0').ok).toBe(false);
    expect(checkAddress('010.0.0.5/24').ok).toBe(false);
    expect(checkAddress('fe80::1%eth0/64').ok).toBe(false);
    expect(checkAddress('10.0.0.5/24\nDNS=1.1.1.1').ok).toBe(false);
  });

  it('IPv6 netmasks: contiguous only', () => {
    expect(['ffff:ffff:ffff:ffff::', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:fe00::'].map(ipv6MaskToPrefix)).toEqual([64, 0, 128, 23]);
    expect(['ffff:0:ffff::', '10.0.0.0', 'x'].map(ipv6MaskToPrefix)).toEqual([undefined, undefined, undefined]);
  });

  it('destinations: "default" takes the family of the gateway; a bare address is a host route', () => {
    expect(checkDestination('default', undefined, 6)).toEqual({ ok: true, value: addr('::/0') });
    expect(checkDestination('default')).toEqual({ ok: true, value: addr('0.0.0.0/0') });
    expect(checkDestination('192.0.2.7')).toEqual({ ok: true, value: addr('192.0.2.7/32') });
    expect(checkDestination('10.176.0.0', '255.240.0.0')).toEqual({ ok: true, value: addr('10.176.0.0/12') });
  });

  it('MACs, interface names, globs, DNS servers and search domains', () => {
    expect(checkMac('52-54-00-AB-CD-EF')).toEqual({ ok: true, value: '52:54:00:ab:cd:ef' });
    expect(checkMac('00:00:00:00:00:00').ok).toBe(false);
    expect(checkMac('52:54:00:ab:cd').ok).toBe(false);
    expect(['eth0', 'bond0.200', 'a-very-long-name', 'eth 0', 'eth0\n', 'a/b', '..'].map((n) => checkIfName(n).ok)).toEqual([true, true, false, false, false, false, false]);
    expect(['enp2*', 'en[ps]?s0', 'eth0;rm'].map((n) => checkGlob(n).ok)).toEqual([true, true, false]);
    expect(checkNameserver('FEDC::1')).toEqual({ ok: true, value: 'fedc::1' });
    expect(checkNameserver('fe80::1%eth0')).toEqual({ ok: true, value: 'fe80::1%eth0' });
    expect(checkNameserver('8.8.8.256').ok).toBe(false);
    expect(['lab', 'corp.example.', '10.0.0.1', 'bad domain', 'a..b'].map((d) => checkSearchDomain(d))).toEqual([
      { ok: true, value: 'lab' }, { ok: true, value: 'corp.example' }, { ok: false, reason: 'is not a domain name' }, { ok: false, reason: 'is not a domain name' }, { ok: false, reason: 'is not a domain name' },
    ]);
  });

  it('sameNetwork for both families, including an IPv4-mapped IPv6 address', () => {
    expect(sameNetwork(addr('10.0.0.5/24'), '10.0.0.1')).toBe(true);
    expect(sameNetwork(addr('10.0.0.5/24'), '10.0.1.1')).toBe(false);
    expect(sameNetwork(addr('2001:db8:1::5/64'), '2001:db8:1::1')).toBe(true);
    expect(sameNetwork(addr('2001:db8:1::5/64'), '2001:db8:2::1')).toBe(false);
    expect(sameNetwork(addr('::ffff:10.0.0.5/120'), '::ffff:10.0.0.9')).toBe(true);
  });
});

describe('the key-tracking reader', () => {
  it('reports each unread key once, at the outermost level, with its line; read keys and covered entries are silent', () => {
    const parsed = parseNetworkDoc('a: 1\nb:\n  c: 2\n  d: {e: 3}\nf: [ {g: 1}, {h: 2} ]\n', 'doc');
    if (!parsed.ok) throw new Error('parse');
    const top = parsed.root.map();
    top?.get('a');
    top?.get('b')?.map()?.get('c');
    const f = top?.get('f')?.items();
    f?.[0]?.cover();
    parsed.tracker.finish(parsed.root);
    expect(parsed.tracker.notes.map((n) => [n.line, n.what, n.path])).toEqual([[4, 'unknown', 'b.d'], [5, 'unknown', 'f[1].h']]);
  });

  it('typed reads report a wrong type as invalid and count the key as read', () => {
    const parsed = parseNetworkDoc('n: abc\nb: maybe\nl: 5\nm: [1]\n', 'doc');
    if (!parsed.ok) throw new Error('parse');
    const top = parsed.root.map();
    expect(top?.get('n')?.int(0, 10)).toBeUndefined();
    expect(top?.get('b')?.bool()).toBeUndefined();
    expect(top?.get('l')?.items()).toBeUndefined();
    expect(top?.get('m')?.text()).toBeUndefined();
    parsed.tracker.finish(parsed.root);
    expect(parsed.tracker.notes.map((n) => [n.line, n.what, n.message])).toEqual([
      [1, 'invalid', '"abc" is not a number from 0 to 10; skipped'],
      [2, 'invalid', '"maybe" is not true or false; skipped'],
      [3, 'invalid', 'is not a list; skipped'],
      [4, 'invalid', 'a list is not a text value; skipped'],
    ]);
  });

  it('a document over the size limit is refused before parsing', () => {
    const r = parseNetworkDoc(`a: "${'x'.repeat(3 * 1024 * 1024)}"\n`, 'network-config');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.notes[0]?.message).toMatch(/over the 2 MiB limit/);
  });
});

describe('helpers for renderers', () => {
  const model: NetModel = {
    devices: [
      vlan('bond0.10', 10, 'bond0', { addresses: [addr('192.0.2.10/24')] }),
      bond('bond0', ['a', 'b'], { mode: 'active-backup' }),
      eth('a', { macaddress: '52:54:00:00:00:0a' }),
      eth('b', { macaddress: '52:54:00:00:00:0b' }),
    ],
    routes: [],
    nameservers: dns([]),
  };

  it('dependency order puts members before the bond and the bond before its VLAN', () => {
    expect(dependencyOrder(model).map((d) => d.id)).toEqual(['a', 'b', 'bond0', 'bond0.10']);
  });

  it('masters, VLANs and the device for a gateway', () => {
    expect(masterOf(model, 'a')?.id).toBe('bond0');
    expect(masterOf(model, 'bond0')).toBeUndefined();
    expect(vlansOn(model, 'bond0').map((v) => v.id)).toEqual(['bond0.10']);
    expect(deviceForGateway(model, '192.0.2.1')?.id).toBe('bond0.10');
    expect(deviceForGateway(model, '198.51.100.1')).toBeUndefined();
  });
});

describe('notes as shown', () => {
  it('kind, key, file:line, message', () => {
    expect(formatNote({ path: 'network.ethernets.eth0.critical', file: 'network-config', line: 9, what: 'not supported', message: 'critical is not supported' })).toBe('not supported: network.ethernets.eth0.critical (network-config:9): critical is not supported');
    expect(formatNote({ path: '', file: 'network_data.json', line: undefined, what: 'invalid', message: 'is not JSON' })).toBe('invalid: (document) (network_data.json): is not JSON');
  });
});
