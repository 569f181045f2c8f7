// The HTTP metadata datasource against vmctx's own server on 127.0.0.1, one test per fault the
// issue names. The budget runs on the test's clock (it moves only when the client waits between
// retries), so "gives up within the budget" is asserted on that clock, exactly, never measured.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchMetadata, rawFromCache, readCache, writeCache, type MetadataOptions } from '../../../src/agent/datasources/metadata.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import type { NetworkDocument } from '../../../src/network/plan.js';
import { normaliseContext } from '../../../src/agent/context/context.js';
import { parseFault, type MetadataServer } from '../../../src/provider/server.js';
import { closedPort, description, startServer } from '../../helpers/metadata.js';
import { fakeKey, scratchRoot } from '../../helpers/scratch.js';
import { TestClock } from '../../helpers/clock.js';

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(...args: Parameters<typeof startServer>): Promise<{ server: MetadataServer; url: string }> {
  const started = await startServer(...args);
  servers.push(started.server);
  return started;
}

function opts(url: string | string[], budgetMs = 3000, extra: Partial<MetadataOptions> = {}, clock = new TestClock()): MetadataOptions {
  return { url, deadline: clock.now() + budgetMs, clock, connectMs: 500, requestMs: 1000, allowImdsv1: true, ...extra };
}

/** The outcome of a fetch, and how much of the test clock it used. */
async function timed<T>(p: Promise<T>, clock: TestClock): Promise<{ ms: number; value?: T; error?: unknown }> {
  try {
    const value = await p;
    return { ms: clock.elapsed, value };
  } catch (error) {
    return { ms: clock.elapsed, error };
  }
}

describe('HTTP metadata: EC2 layout', () => {
  it('IMDSv2: one token for the whole run; instance id, hostname, every key of every index and format, user data, ephemeral, password', async () => {
    const k0 = fakeKey('ssh-rsa', 'zero');
    const k1 = fakeKey('ssh-ed25519', 'one');
    const k1b = fakeKey('ecdsa-sha2-nistp256', 'one-b');
    const d = description({ password: 's3cr3t' }, [k0]);
    const md = d['meta-data'] ?? {};
    md['public-keys'] = [{ name: 'a', 'openssh-key': k0 }, { name: 'b', 'openssh-key': k1, 'ecdsa-key': k1b }];
    const { server, url } = await serve(d);
    const got = await fetchMetadata(opts(url));
    const v = got.raw.variables;
    expect(got.raw.instanceId).toBe('i-0123456789abcdef0');
    expect(v['SET_HOSTNAME']).toBe('web-1.example.org');
    expect(v['SSH_PUBLIC_KEY']?.split('\n').sort()).toEqual([k0, k1, k1b].sort());
    expect(Buffer.from(v['USER_DATA'] ?? '', 'base64').toString()).toBe('#!/bin/sh\necho hello from user data\n');
    expect(v['USER_DATA_ENCODING']).toBe('base64');
    expect(v['EPHEMERAL0_DEVICE']).toBe('sda2');
    expect(v['EC2_LOCAL_IPV4']).toBe('10.1.2.3');
    expect(v['PASSWORD']).toBe('s3cr3t');
    expect(got.missing).toEqual([]);
    expect(server.requests.filter((r) => r.startsWith('PUT')).length).toBe(1);
    expect(got.raw.source.foundBy).toMatch(/IMDSv2/);
  });

  it('falls back to IMDSv1 when the token endpoint is absent (404/405), unless policy forbids it', async () => {
    const { url } = await serve(description(), { imdsv2: 'optional', faults: [parseFault('status:404,path=/latest/api/token')] });
    const got = await fetchMetadata(opts(url));
    expect(got.raw.source.foundBy).toMatch(/IMDSv1/);
    expect(got.raw.instanceId).toBe('i-0123456789abcdef0');
    await expect(fetchMetadata(opts(url, 3000, { allowImdsv1: false }))).rejects.toMatchObject({ code: 'ERR_METADATA_HTTP' });
  });

  it('403 on the token means metadata is disabled: stop at once', async () => {
    const { server, url } = await serve(description(), { faults: [parseFault('status:403,path=/latest/api/token')] });
    const clock = new TestClock();
    const r = await timed(fetchMetadata(opts(url, 5000, {}, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_DISABLED' });
    expect(r.ms).toBe(0); // no retry, no wait
    expect(server.requests).toEqual(['PUT /latest/api/token']); // one token request, shared by the parallel GETs
  });

  it('nothing listening (connection refused): gives up within the budget', async () => {
    const port = await closedPort();
    const clock = new TestClock();
    const r = await timed(fetchMetadata(opts(`http://127.0.0.1:${port}`, 800, {}, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_TIMEOUT' });
    // it retried with backoff (100, 200, 400 ms) and gave up before a wait would pass the budget
    expect(clock.sleeps).toEqual([100, 200, 400]);
    expect(r.ms).toBeLessThanOrEqual(800);
  });

  it('several addresses (169.254.169.254, then [fd00:ec2::254]): tried in turn until one answers, which is then kept', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const { url } = await serve(description());
    const got = await fetchMetadata(opts([dead, url], 5000));
    expect(got.raw.instanceId).toBe('i-0123456789abcdef0');
    expect(got.raw.source.path).toBe(url);
  });

  it('a server that accepts and never answers: gives up within the budget', async () => {
    const { url } = await serve(description(), { faults: [parseFault('hang')] });
    const clock = new TestClock();
    // each hung request is abandoned after requestMs (a real timer of the HTTP client), then retried
    const r = await timed(fetchMetadata(opts(url, 1500, { requestMs: 200 }, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_TIMEOUT' });
    expect(clock.sleeps).toEqual([100, 200, 400]);
    expect(r.ms).toBeLessThanOrEqual(1500);
  });

  it('a hung request never outlasts the budget that remains (requestMs far above it): each try is cut at the budget left', async () => {
    const { url } = await serve(description(), { faults: [parseFault('hang')] });
    const clock = new TestClock();
    // the request timer is real: 300 ms, then 200 ms (the budget left after the 100 ms wait), not 10 minutes each
    const r = await timed(fetchMetadata(opts(url, 300, { requestMs: 600_000 }, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_TIMEOUT' });
    expect(clock.sleeps).toEqual([100]);
  });

  it('503 forever with Retry-After: 3600: retries with a capped wait, gives up within the budget', async () => {
    const { server, url } = await serve(description(), { faults: [parseFault('status:503,retry-after=3600')] });
    const clock = new TestClock();
    const r = await timed(fetchMetadata(opts(url, 2500, {}, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_TIMEOUT' });
    // Retry-After: 3600 is capped at 2 s; a second wait would pass the budget, so it stops there
    expect(clock.sleeps).toEqual([2000]);
    expect(r.ms).toBeLessThanOrEqual(2500);
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('503 a few times, then answers: the retries succeed', async () => {
    const { url } = await serve(description(), { faults: [parseFault('status:503,times=3,path=/latest/meta-data/instance-id')] });
    const got = await fetchMetadata(opts(url, 5000));
    expect(got.raw.instanceId).toBe('i-0123456789abcdef0');
  });

  it('401 on every GET: refreshes the token once, then fails clearly', async () => {
    const { server, url } = await serve(description(), { faults: [parseFault('status:401,method=GET')] });
    const clock = new TestClock();
    const r = await timed(fetchMetadata(opts(url, 5000, {}, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_HTTP' });
    expect((r.error as Error).message).toMatch(/401/);
    expect(server.requests.filter((x) => x.startsWith('PUT')).length).toBe(2);
  });

  it('a 2 GB user data: bounded read, a clear error for that item, the rest is used', async () => {
    const { url } = await serve(description({}, [fakeKey()]), { faults: [parseFault('huge:2G,path=/latest/user-data')] });
    const before = process.memoryUsage().rss;
    const got = await fetchMetadata(opts(url, 5000));
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expect(got.raw.variables['USER_DATA']).toBeUndefined();
    expect(got.raw.warnings.map((w) => w.message).join('\n')).toMatch(/over the 16777216-byte limit/);
    expect(got.raw.variables['SSH_PUBLIC_KEY']).toBeDefined();
  });

  it('a key list with garbage entries: the valid keys are kept, the rest never reaches the variables unchecked', async () => {
    const good = fakeKey('ssh-ed25519', 'good');
    const d = description();
    (d['meta-data'] ?? {})['public-keys'] = [{ name: 'good', 'openssh-key': good }, { name: 'bad', 'openssh-key': 'not a key\ncommand="rm -rf /" ssh-rsa AAAA' }];
    const { url } = await serve(d);
    const got = await fetchMetadata(opts(url));
    // every line is offered; normaliseContext checks each (see the run test below)
    expect(got.raw.variables['SSH_PUBLIC_KEY']).toContain(good);
  });

  it('a hostname with newlines is ignored with a warning', async () => {
    const d = description();
    (d['meta-data'] ?? {})['local-hostname'] = 'evil\nhost';
    const { url } = await serve(d);
    const got = await fetchMetadata(opts(url));
    expect(got.raw.variables['SET_HOSTNAME']).toBeUndefined();
    expect(got.raw.warnings.some((w) => w.variable === 'meta-data/local-hostname')).toBe(true);
  });

  it('a redirect to another host is not followed', async () => {
    let hits = 0;
    const other: Server = createServer((_req, res) => {
      hits += 1;
      res.end('i-elsewhere');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.2', resolve));
    servers.push({ close: () => new Promise<void>((resolve) => other.close(() => { resolve(); })) });
    const port = (other.address() as { port: number }).port;
    const { url } = await serve(description(), { imdsv2: 'optional', faults: [parseFault(`redirect:http://127.0.0.2:${port}/,path=/latest/meta-data/instance-id`)] });
    const clock = new TestClock();
    const r = await timed(fetchMetadata(opts(url, 3000, {}, clock)), clock);
    expect(r.error).toMatchObject({ code: 'ERR_METADATA_REDIRECT' });
    expect(hits).toBe(0);
  });

  it('a password field present but empty: no password, a warning', async () => {
    const { url } = await serve(description({ password: '' }));
    const got = await fetchMetadata(opts(url));
    expect(got.raw.variables['PASSWORD']).toBeUndefined();
    expect(got.raw.warnings.some((w) => /present but empty/u.test(w.message))).toBe(true);
  });

  it('dropped connections are retried; a slow-drip body runs into the request timeout and that item is missing', async () => {
    const { url } = await serve(description(), { faults: [parseFault('drop,times=2,path=/latest/meta-data/instance-id'), parseFault('drip:5,path=/latest/user-data')] });
    const got = await fetchMetadata(opts(url, 2500, { requestMs: 800 }));
    expect(got.raw.instanceId).toBe('i-0123456789abcdef0');
    expect(got.missing).toContain('user-data');
  });

  it('garbage bodies: an instance id that is binary junk is refused', async () => {
    const { url } = await serve(description(), { faults: [parseFault('garbage,path=/latest/meta-data/instance-id')] });
    await expect(fetchMetadata(opts(url))).rejects.toMatchObject({ code: 'ERR_METADATA_INVALID' });
  });
});

describe('HTTP metadata: the EC2 NIC tree', () => {
  const nics = {
    '02:00:00:00:00:01': { mac: '02:00:00:00:00:01', 'device-number': '0', 'local-ipv4s': ['10.1.2.3', '10.1.2.30'], 'subnet-ipv4-cidr-block': '10.1.2.0/24', ipv6s: '2001:db8::10', 'subnet-ipv6-cidr-blocks': '2001:db8::/64', 'interface-id': 'eni-1', 'vpc-id': 'vpc-1' },
    '02:00:00:00:00:02': { mac: '02:00:00:00:00:02', 'device-number': '1', 'local-ipv4s': '10.1.3.4', 'subnet-ipv4-cidr-block': '10.1.3.0/24' },
  };
  const withNics = (): ReturnType<typeof description> => {
    const d = description();
    return { ...d, 'meta-data': { ...d['meta-data'], network: { interfaces: { macs: nics } } } };
  };

  it('every NIC by MAC, fetched in parallel, as the ec2 document; the primary on DHCP with its secondary address, the second NIC after it', async () => {
    const { server, url } = await serve(withNics());
    const got = await fetchMetadata(opts(url));
    expect(got.missing).toEqual([]);
    expect(got.raw.networkDocument).toMatchObject({ format: 'ec2', file: 'meta-data/network/interfaces/macs' });
    const doc = JSON.parse(got.raw.networkDocument?.text ?? '{}') as { interfaces: { macs: Record<string, Record<string, string>> } };
    expect(doc.interfaces.macs['02:00:00:00:00:01']).toMatchObject({ 'device-number': '0', 'local-ipv4s': '10.1.2.3\n10.1.2.30', 'subnet-ipv4-cidr-block': '10.1.2.0/24', ipv6s: '2001:db8::10', 'interface-id': '' });
    // only the keys that are network config are fetched; the others are carried by name
    expect(server.requests).not.toContain('GET /latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/interface-id');
    const ctx = await normaliseContext(got.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.origin).toBe('meta-data/network/interfaces/macs');
    expect(ctx.net.model.devices).toEqual([
      expect.objectContaining({ id: '02:00:00:00:00:01', match: { macaddress: '02:00:00:00:00:01' }, dhcp4: true, dhcp6: true, addresses: [{ address: '10.1.2.30', prefix: 24, family: 4 }] }),
      expect.objectContaining({ id: '02:00:00:00:00:02', dhcp4: true, dhcp6: false, addresses: [] }),
    ]);
    // the informational keys (interface-id, vpc-id) are bookkeeping: in the plan, not warnings
    expect(ctx.net.notes.some((n) => n.path.endsWith('interface-id'))).toBe(true);
    expect(ctx.warnings.filter((w) => w.network !== undefined)).toEqual([expect.objectContaining({ message: expect.stringMatching(/^not supported: .*device-number .*routing-policy/u) as unknown })]);
  });

  it('no NIC tree (an EC2-compatible service without one): no document, nothing missing', async () => {
    const { url } = await serve(description());
    const got = await fetchMetadata(opts(url));
    expect(got.raw.networkDocument).toBeUndefined();
    expect(got.missing).toEqual([]);
  });

  it('a NIC that hangs: reported and missing within the budget, the other NIC kept; a listing line that is not a MAC is named, never fetched', async () => {
    const d = withNics();
    const md = d['meta-data'] as { network: { interfaces: { macs: Record<string, unknown> } } };
    md.network.interfaces.macs['not-a-mac'] = { 'device-number': '7' };
    const { server, url } = await serve(d, { faults: [parseFault('hang,path=/latest/meta-data/network/interfaces/macs/02:00:00:00:00:02/local-ipv4s')] });
    const clock = new TestClock();
    const r = await timed(fetchMetadata(opts(url, 3000, { requestMs: 500 }, clock)), clock);
    const got = r.value;
    expect(got?.missing).toContain('network');
    expect(r.ms).toBeLessThanOrEqual(3000);
    expect(got?.raw.warnings.some((w) => w.variable === 'meta-data/network/interfaces/macs/02:00:00:00:00:02/')).toBe(true);
    const doc = JSON.parse(got?.raw.networkDocument?.text ?? '{}') as { interfaces: { macs: Record<string, unknown> } };
    expect(Object.keys(doc.interfaces.macs).sort()).toEqual(['02:00:00:00:00:01', 'not-a-mac']);
    expect(server.requests.some((q) => q.includes('not-a-mac'))).toBe(false);
    const ctx = await normaliseContext(got!.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.model.devices.map((x) => x.id)).toEqual(['02:00:00:00:00:01']);
    expect(ctx.warnings.some((w) => w.network?.path === 'interfaces.macs.not-a-mac')).toBe(true);
  });
});

describe('HTTP metadata: OpenStack layout', () => {
  const network = {
    links: [{ id: 'tap1', type: 'phy', ethernet_mac_address: '52:54:00:12:34:56', mtu: 1450 }],
    networks: [{ id: 'n1', link: 'tap1', type: 'ipv4', ip_address: '10.0.2.77', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }] }],
    services: [{ type: 'dns', address: '10.0.2.3' }],
  };

  it('meta_data.json, user_data, password → variables; network_data.json → the network document, mapped into the model', async () => {
    const key = fakeKey();
    const { url } = await serve({ ...description({ password: 'os-pass' }, []), openstack: { meta_data: { uuid: '3a7e2f2c-0000-4000-8000-000000000001', hostname: 'os-host', public_keys: { mine: key } }, network_data: network } });
    const got = await fetchMetadata(opts(url));
    const v = got.raw.variables;
    expect(got.raw.instanceId).toBe('3a7e2f2c-0000-4000-8000-000000000001');
    expect(v['SET_HOSTNAME']).toBe('os-host');
    expect(v['SSH_PUBLIC_KEY']).toBe(key);
    expect(v['PASSWORD']).toBe('os-pass');
    expect(Object.keys(v).filter((k) => /^ETH\d|^DNS$/u.test(k))).toEqual([]);
    expect(got.raw.networkDocument).toEqual({ format: 'network_data.json', file: 'openstack/latest/network_data.json', text: JSON.stringify(network) });
    const ctx = await normaliseContext(got.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.origin).toBe('openstack/latest/network_data.json');
    expect(ctx.net.model.devices).toEqual([
      expect.objectContaining({ kind: 'ethernet', match: { macaddress: '52:54:00:12:34:56' }, mtu: 1450, addresses: [{ address: '10.0.2.77', prefix: 24, family: 4 }], routes: [expect.objectContaining({ via: '10.0.2.2' })] }),
    ]);
    expect(ctx.dns.nameservers).toEqual(['10.0.2.3']);
  });

  it('network_data.json that is not JSON: an error naming the file in the context, no network, the rest is used', async () => {
    const { url } = await serve({ ...description(), openstack: { meta_data: { uuid: 'u-1', hostname: 'h' } } }, { faults: [parseFault('garbage,path=/openstack/latest/network_data.json')] });
    const got = await fetchMetadata(opts(url));
    expect(got.raw.instanceId).toBe('u-1');
    expect(Object.keys(got.raw.variables).some((k) => k.startsWith('ETH'))).toBe(false);
    const ctx = await normaliseContext(got.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.model.devices).toEqual([]);
    expect(ctx.warnings.filter((w) => w.network?.file === 'openstack/latest/network_data.json')).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringMatching(/^invalid: \(document\) \(openstack\/latest\/network_data\.json(:\d+)?\): is not (YAML or JSON|a JSON object)/u) as unknown })]);
  });

  it('meta_data.json that is not JSON and no EC2 instance id: refused as invalid', async () => {
    const { url } = await serve({ openstack: { meta_data: { uuid: 'x' } } }, { imdsv2: 'optional', faults: [parseFault('garbage,path=/openstack/latest/meta_data.json')] });
    await expect(fetchMetadata(opts(url))).rejects.toMatchObject({ code: 'ERR_METADATA_INVALID' });
  });
});

describe('the metadata cache', () => {
  it('keeps the network document (a reboot during an outage configures the same network); a cached document it cannot use is named', async () => {
    const { url } = await serve({ ...description(), openstack: { meta_data: { uuid: 'u-1', hostname: 'h' }, network_data: { links: [{ id: 'l0', type: 'phy', ethernet_mac_address: '52:54:00:00:00:09' }], networks: [{ id: 'n0', link: 'l0', type: 'ipv4_dhcp' }] } } });
    const got = await fetchMetadata(opts(url));
    const state = new DirectoryRoot(await scratchRoot());
    await writeCache(state, '/var/lib/vmctx', got.raw, 'boot-1');
    const cache = await readCache(state, '/var/lib/vmctx');
    const raw = rawFromCache(cache!, 'test');
    expect(raw.networkDocument).toEqual(got.raw.networkDocument);
    const ctx = await normaliseContext(raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.model.devices).toEqual([expect.objectContaining({ match: { macaddress: '52:54:00:00:00:09' }, dhcp4: true })]);
    const broken = rawFromCache({ ...cache!, networkDocument: { format: 'yaml', file: 'x', text: 1 } as unknown as NetworkDocument }, 'test');
    expect(broken.networkDocument).toBeUndefined();
    expect(broken.warnings).toEqual([expect.objectContaining({ variable: 'metadata-cache.json', message: expect.stringMatching(/network document .*not applied/u) as unknown })]);
  });
});
