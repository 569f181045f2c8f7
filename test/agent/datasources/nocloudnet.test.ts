// The nocloud-net datasource: the line parser (every form cloud-init takes, precedence, garbage),
// the seed URL (trailing slash, %s, query, schemes, credentials), and the datasource itself against
// a real HTTP server on 127.0.0.1 (404s, redirects, huge bodies, hangs, the cache, a password in
// the URL) and a file:// seed in a temporary root. Budgets run on the test's clock.
import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, parseConfig, type AgentConfig } from '../../../src/agent/config.js';
import type { Probe } from '../../../src/agent/datasources/datasource.js';
import { MAX_LINE_NOTES, SEED_CACHE_FILE, classifySeed, mergeLines, parseLineConfig, redactUserinfo } from '../../../src/agent/datasources/nocloudnet.js';
import { loadContext, type LoadOptions } from '../../../src/agent/datasources/registry.js';
import { writeIso } from '../../../src/formats/iso9660/writer.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { TestClock } from '../../helpers/clock.js';
import { closedPort } from '../../helpers/metadata.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm3q5m8o7w6n5oJ8sYx0z0wq2xvG3h3bq9l1m2n3o4p seed@test';
const META = `instance-id: iid-seed-1\nlocal-hostname: seed-host\npublic-keys:\n  - ${KEY}\n`;
const USER = '#cloud-config\nwrite_files:\n  - path: /etc/seeded\n    content: yes\n';

describe('the line (SMBIOS serial, kernel command line)', () => {
  it('reads every form: ds=nocloud and ds=nocloud-net, s= and seedfrom=, h= and i=, long keys', () => {
    expect(parseLineConfig('ds=nocloud;s=http://10.0.2.2:8000/')).toEqual({ found: true, values: { seedfrom: 'http://10.0.2.2:8000/' }, notes: [] });
    expect(parseLineConfig('ds=nocloud-net;s=https://a.example/x/').values).toEqual({ seedfrom: 'https://a.example/x/' });
    expect(parseLineConfig('ds=nocloud;seedfrom=file:///srv/seed/').values).toEqual({ seedfrom: 'file:///srv/seed/' });
    expect(parseLineConfig('ds=nocloud;h=web-1;i=iid-7;s=http://h/').values).toEqual({ 'local-hostname': 'web-1', 'instance-id': 'iid-7', seedfrom: 'http://h/' });
    expect(parseLineConfig('ds=nocloud;local-hostname=a;instance-id=b').values).toEqual({ 'local-hostname': 'a', 'instance-id': 'b' });
    // bare ds=nocloud: found, nothing to fetch
    expect(parseLineConfig('ds=nocloud')).toEqual({ found: true, values: {}, notes: [] });
  });

  it('finds the token among the other kernel parameters, quoted for GRUB too; the last one wins', () => {
    const cmdline = 'BOOT_IMAGE=/boot/vmlinuz-6.1 root=UUID=abc ro quiet ds=nocloud;s=http://10.0.0.1/a/ console=ttyS0';
    expect(parseLineConfig(cmdline).values).toEqual({ seedfrom: 'http://10.0.0.1/a/' });
    expect(parseLineConfig('ro "ds=nocloud;s=http://q/" quiet').values).toEqual({ seedfrom: 'http://q/' });
    const twice = parseLineConfig('ds=nocloud;s=http://one/ ds=nocloud;s=http://two/');
    expect(twice.values).toEqual({ seedfrom: 'http://two/' });
    expect(twice.notes).toEqual(['ds=nocloud is given 2 times; the last one is used, as in cloud-init']);
  });

  it('another datasource, a near miss, garbage: not found, and a ds= of another source is named', () => {
    expect(parseLineConfig('ds=ec2;s=http://x/')).toEqual({ found: false, values: {}, notes: ['"ds=ec2" names another datasource than nocloud; nothing for this source'] });
    expect(parseLineConfig('ds=nocloudy;s=http://x/').found).toBe(false);
    expect(parseLineConfig('VMware-56 4d 1a 2b').found).toBe(false);
    expect(parseLineConfig('\u0000\u0001\uFFFD;;;==').found).toBe(false);
    expect(parseLineConfig('').found).toBe(false);
    expect(parseLineConfig('xds=nocloud;s=http://x/').found).toBe(false);
  });

  it('hostile values are named, never used: control characters, huge values, keys without values, unknown keys', () => {
    const huge = `http://h/${'a'.repeat(5000)}/`;
    const line = parseLineConfig(`ds=nocloud;s=${huge};h=;;novalue;dsmode=local;i=iid\u0007x;x y=1`);
    expect(line.found).toBe(true);
    expect(line.values).toEqual({ 'local-hostname': '' });
    expect(line.notes).toEqual([
      'seedfrom: 5010 characters, over the limit of 2048; ignored',
      '"novalue" has no value (KEY=VALUE); ignored',
      'dsmode="local" is not used by vmctx (it uses s/seedfrom, h/local-hostname, i/instance-id); ignored',
      'instance-id: "iid\\u0007x" holds control, space or non-ASCII characters; ignored',
      // (whitespace ends the token: "x" is its last item, "y=1" another kernel parameter)
      '"x" has no value (KEY=VALUE); ignored',
    ]);
  });

  it('a hostile line gives at most MAX_LINE_NOTES notes, then how many more', () => {
    const line = parseLineConfig(`ds=nocloud;${'x;'.repeat(32000)}`);
    expect(line.found).toBe(true);
    expect(line.notes).toHaveLength(MAX_LINE_NOTES + 1);
    expect(line.notes[MAX_LINE_NOTES]).toBe(`and ${32000 - MAX_LINE_NOTES} more notes about this line, not listed`);
    expect(parseLineConfig('ds=nocloud;a=1;b=2').notes).toHaveLength(2);
  });

  it('the SMBIOS serial wins over the command line for a key both give; the command line\'s other keys still apply', () => {
    const merged = mergeLines(parseLineConfig('ds=nocloud;s=http://smbios/'), parseLineConfig('ro ds=nocloud;s=http://cmdline/;h=from-cmdline'));
    expect(Object.fromEntries(merged.values)).toEqual({ seedfrom: { value: 'http://smbios/', origin: 'smbios' }, 'local-hostname': { value: 'from-cmdline', origin: 'cmdline' } });
    expect(merged.notes).toEqual(['seedfrom "http://cmdline/" in the kernel command line is not used: the SMBIOS serial\'s "http://smbios/" wins, as in cloud-init']);
    expect(Object.fromEntries(mergeLines(undefined, parseLineConfig('ds=nocloud;s=http://c/')).values)).toEqual({ seedfrom: { value: 'http://c/', origin: 'cmdline' } });
  });
});

describe('the seed URL', () => {
  it('a / is added when the URL has none at its end and no query; %s stands for the file name; a query is kept', () => {
    const plain = classifySeed('http://10.0.2.2:8000/seed');
    expect(plain).toMatchObject({ kind: 'http', display: 'http://10.0.2.2:8000/seed', base: 'http://10.0.2.2:8000', paths: { 'meta-data': './seed/meta-data', 'user-data': './seed/user-data', 'network-config': './seed/network-config', 'vendor-data': './seed/vendor-data' } });
    expect(classifySeed('http://h/a/')).toMatchObject({ paths: { 'meta-data': './a/meta-data' } });
    expect(classifySeed('http://h/get?vm=7&f=')).toMatchObject({ paths: { 'meta-data': './get?vm=7&f=meta-data' } });
    expect(classifySeed('https://h/%s.yaml')).toMatchObject({ base: 'https://h', paths: { 'user-data': './user-data.yaml', 'network-config': './network-config.yaml' } });
  });

  it('file:// and absolute paths are local seeds; ".." and other hosts are refused', () => {
    expect(classifySeed('file:///srv/seed/')).toEqual({ kind: 'file', display: 'file:///srv/seed/', dir: '/srv/seed' });
    expect(classifySeed('/var/lib/seed')).toEqual({ kind: 'file', display: '/var/lib/seed', dir: '/var/lib/seed' });
    expect(classifySeed('file:///a/%2e%2e/etc/')).toMatchObject({ kind: 'refused', why: 'the path must not contain ".."' });
    expect(classifySeed('file://other/srv/')).toMatchObject({ kind: 'refused' });
    expect(classifySeed('file:///')).toMatchObject({ kind: 'refused', why: 'names the root directory, not a seed directory' });
  });

  it('other schemes, no scheme and fragments are refused with the reason', () => {
    expect(classifySeed('ftp://h/seed/')).toMatchObject({ kind: 'refused', why: 'ftp seeds are not supported by vmctx (http, https and file only)' });
    expect(classifySeed('javascript:alert(1)')).toMatchObject({ kind: 'refused', why: 'a javascript: URL is not a seed (http, https and file only)' });
    expect(classifySeed('seed.example/x')).toMatchObject({ kind: 'refused', why: 'is neither a URL (http, https, file) nor an absolute path' });
    expect(classifySeed('http://h/x#frag')).toMatchObject({ kind: 'refused' });
    expect(classifySeed('http://[zz/')).toMatchObject({ kind: 'refused', why: 'is not a URL' });
  });

  it('user:password is a secret: hidden in what is shown, kept only for the request', () => {
    const s = classifySeed('http://alice:s3cret-pw@10.0.0.9/seed/');
    expect(s).toMatchObject({ kind: 'http', display: 'http://***@10.0.0.9/seed/', base: 'http://alice:s3cret-pw@10.0.0.9', paths: { 'meta-data': './seed/meta-data' } });
    expect(JSON.stringify(s.kind === 'http' ? s.paths : {})).not.toContain('s3cret');
    expect(redactUserinfo('ftp://u:p@h/ and https://x@y/')).toBe('ftp://***@h/ and https://***@y/');
    expect(classifySeed('ftp://bob:hunter22@h/')).toMatchObject({ display: 'ftp://***@h/' });
  });

  it('a long URL is shortened only after its password is hidden (display, merge notes)', () => {
    const pw = `TOPSECRET${'p'.repeat(250)}`;
    const long = classifySeed(`http://alice:${pw}@10.0.0.9/seed/`);
    expect(long).toMatchObject({ kind: 'http', display: 'http://***@10.0.0.9/seed/' });
    expect(long.display).not.toContain('TOPSECRET');
    const merged = mergeLines(parseLineConfig(`ds=nocloud;s=http://a:TOPSECRET${'q'.repeat(80)}@h/`), parseLineConfig('ds=nocloud;s=http://b:x@h2/'));
    expect(merged.notes).toEqual(['seedfrom "http://***@h2/" in the kernel command line is not used: the SMBIOS serial\'s "http://***@h/" wins, as in cloud-init']);
    // an @ in the password: hidden up to the last @ of the authority, as a URL parser reads it
    expect(redactUserinfo('http://a:p@ss@h/x')).toBe('http://***@h/x');
    expect(classifySeed('http://a:p@sSECRET@h/x').display).toBe('http://***@h/x');
    // user:password with no @ (cut off, or mistyped): all of the authority is hidden; a port is not a password
    expect(redactUserinfo('http://alice:TOPSECRET')).toBe('http://***');
    expect(redactUserinfo('see http://alice:TOPSECRET/x and more')).toBe('see http://***/x and more');
    expect(redactUserinfo('http://h:8000/x http://[::1]:80/ http://h/a:b@c')).toBe('http://h:8000/x http://[::1]:80/ http://h/a:b@c');
  });
});

/** A seed server: files by path, or a handler for faults; every request recorded. */
interface SeedServer {
  readonly url: string;
  readonly requests: string[];
  readonly headers: IncomingMessage['headers'][];
  close(): Promise<void>;
}
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => { resolve(); }); });
});

async function seedServer(files: Record<string, string>, fault?: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<SeedServer> {
  const requests: string[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? '?'} ${req.url ?? '?'}`);
    headers.push(req.headers);
    if (fault?.(req, res) === true) return;
    const body = files[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, headers, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => { resolve(); }); }) };
}

/** A probe with no block devices, an SMBIOS serial and a kernel command line of the test's. */
async function lineProbe(lines: { serial?: string; cmdline?: string }, clock = new TestClock()): Promise<Probe> {
  const base = await tempDir();
  for (const d of ['dev/disk/by-label', 'sys/class/block', 'sys/class/dmi/id', 'proc', 'run']) await mkdir(join(base, d), { recursive: true });
  if (lines.serial !== undefined) await writeFile(join(base, 'sys/class/dmi/id/product_serial'), `${lines.serial}\n`);
  if (lines.cmdline !== undefined) await writeFile(join(base, 'proc/cmdline'), `${lines.cmdline}\n`);
  await writeFile(join(base, 'sys/class/dmi/id/chassis_serial'), 'CH-42\n');
  return { devDir: join(base, 'dev'), sysDir: join(base, 'sys'), procDir: join(base, 'proc'), runDir: join(base, 'run'), waitMs: 0, pollMs: 20, listBlockDevices: () => Promise.resolve([]), clock };
}

const config = (over: Partial<AgentConfig> = {}): AgentConfig => ({ ...DEFAULT_CONFIG, datasources: ['nocloud-net'], metadataConnectMs: 10_000, metadataRequestMs: 10_000, metadataBudgetFirstMs: 20_000, metadataBudgetMs: 1000, ...over });

async function load(probe: Probe, extra: Partial<LoadOptions> & { stateRoot?: DirectoryRoot } = {}): Promise<Awaited<ReturnType<typeof loadContext>>> {
  const root = extra.root ?? new DirectoryRoot(await scratchRoot());
  const stateRoot = extra.stateRoot ?? root;
  return loadContext({ source: 'auto', root, probe, config: config(), stage: 'network', cache: { root: stateRoot, dir: '/var/lib/vmctx', write: true }, bootId: 'boot-1', clock: probe.clock, ...extra });
}

const failure = async (p: Promise<unknown>): Promise<{ code: string; message: string; details: { attempts: Array<{ path: string; result: string }>; waitsForNetwork?: boolean } }> => {
  const error: unknown = await p.then(() => undefined, (e: unknown) => e);
  expect(error).toBeDefined();
  return error as never;
};

describe('the nocloud-net datasource over HTTP (a real server on 127.0.0.1)', () => {
  it('the network stage fetches meta-data, user-data, network-config and vendor-data and maps them; the copy is kept', async () => {
    const srv = await seedServer({ '/seed/meta-data': META, '/seed/user-data': USER, '/seed/network-config': 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n', '/seed/vendor-data': '#cloud-config\n' });
    const root = new DirectoryRoot(await scratchRoot());
    const loaded = await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/seed` }), { root });
    const ctx = loaded.context;
    expect(ctx.source).toMatchObject({ kind: 'metadata', path: `${srv.url}/seed`, foundBy: 'nocloud-net: ds=nocloud;s=… in the SMBIOS serial' });
    expect(ctx.instanceId).toBe('iid-seed-1');
    expect(ctx.hostname).toBe('seed-host');
    expect(ctx.sshKeys.keys).toEqual([KEY]);
    expect(ctx.net.origin).toMatch(/network-config/u);
    expect(ctx.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toContain('vendor-data: present (14 bytes), but vmctx applies only the user data; not applied');
    expect(srv.requests).toEqual(['GET /seed/meta-data', 'GET /seed/user-data', 'GET /seed/network-config', 'GET /seed/vendor-data']);
    const cache = JSON.parse((await root.readText(`/var/lib/vmctx/${SEED_CACHE_FILE}`)) ?? '{}') as { url: string; instanceId: string };
    expect(cache).toMatchObject({ url: `${srv.url}/seed`, instanceId: 'iid-seed-1' });
    expect((await root.lstat(`/var/lib/vmctx/${SEED_CACHE_FILE}`))?.mode).toBe(0o600);
    await loaded.close();
  });

  it('the local stage never asks the server: it says the seed waits for the network stage', async () => {
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER });
    const error = await failure(load(await lineProbe({ cmdline: `ro ds=nocloud;s=${srv.url}/` }), { stage: 'local' }));
    expect(error.code).toBe('ERR_NO_CONTEXT');
    expect(error.details.waitsForNetwork).toBe(true);
    expect(error.message).toContain(`; ${srv.url}/ waits for the network stage: an http(s) NoCloud seed (nocloud-net: ds=nocloud;s=… in the kernel command line) is fetched only there`);
    expect(srv.requests).toEqual([]);
  });

  it("the line's h= and i= win over the seed's meta-data, and the replaced values are named", async () => {
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER });
    const loaded = await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/;h=line-host;i=iid-line-9` }));
    expect(loaded.context.instanceId).toBe('iid-line-9');
    expect(loaded.context.hostname).toBe('line-host');
    expect(loaded.context.warnings.map((w) => w.message)).toEqual(expect.arrayContaining([
      '"seed-host" is replaced by h="line-host" from the SMBIOS serial (the line wins over the seed, as in cloud-init)',
      '"iid-seed-1" is replaced by i="iid-line-9" from the SMBIOS serial (the line wins over the seed, as in cloud-init)',
    ]));
    await loaded.close();
  });

  it('__dmi.NAME__ in the URL is the machine\'s DMI value', async () => {
    const srv = await seedServer({ '/CH-42/meta-data': META, '/CH-42/user-data': USER });
    const loaded = await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/__dmi.chassis-serial-number__/` }));
    expect(loaded.context.instanceId).toBe('iid-seed-1');
    expect(srv.requests[0]).toBe('GET /CH-42/meta-data');
    await loaded.close();
  });

  it('no meta-data (404), or no user-data (404): the seed is not used, and said why', async () => {
    const none = await seedServer({});
    let error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=${none.url}/` })));
    expect(error.code).toBe('ERR_NO_CONTEXT');
    expect(error.details.attempts).toContainEqual({ path: `${none.url}/`, result: 'not used: no meta-data there (HTTP 404); a NoCloud seed has meta-data and user-data' });
    const metaOnly = await seedServer({ '/meta-data': META });
    error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=${metaOnly.url}/` })));
    expect(error.details.attempts.map((a) => a.result)).toContain('not used: no user-data there (HTTP 404); a NoCloud seed has meta-data and user-data (an empty file is fine)');
  });

  it('a redirect is not followed: a coded error, the target never asked', async () => {
    const srv = await seedServer({ '/elsewhere/meta-data': META }, (req, res) => {
      if (req.url !== '/meta-data') return false;
      res.writeHead(302, { location: '/elsewhere/meta-data' }).end();
      return true;
    });
    const error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/` })));
    expect(error.code).toBe('ERR_METADATA_REDIRECT');
    expect(error.message).toMatch(/^the NoCloud seed at http:\/\/127\.0\.0\.1:\d+\/: metadata \.\/meta-data: redirect \(HTTP 302\) not followed$/u);
    expect(srv.requests).toEqual(['GET /meta-data']);
  });

  it('a huge meta-data is refused at its declared size; a huge user-data leaves the user data missing (degraded), the rest used', async () => {
    const big = await seedServer({}, (req, res) => {
      if (req.url !== '/meta-data') return false;
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      res.write('instance-id: x\n');
      return true;
    });
    const error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=${big.url}/` })));
    expect(error.code).toBe('ERR_METADATA_TOO_LARGE');
    const srv = await seedServer({ '/meta-data': META }, (req, res) => {
      if (req.url !== '/user-data') return false;
      // declared up front: refused at the header, never waiting on a body (no race with a timeout)
      res.writeHead(200, { 'content-length': String(17 * 1024 * 1024) });
      res.write('#cloud-config\n');
      return true;
    });
    const root = new DirectoryRoot(await scratchRoot());
    // (user "user": only the password is scrubbed from messages, so "user-data" stays readable)
    const loaded = await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url.replace('http://', 'http://user:pa55-word@')}/` }), { root });
    expect(loaded.degraded).toMatch(/user-data did not arrive in the budget/u);
    expect(loaded.context.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toContainEqual(expect.stringMatching(/^user-data: metadata \.\/user-data: the body is 17825792 bytes, over the 16777216-byte limit; the modules that need it wait/u));
    // a partial seed is not kept as the last good copy
    expect(await root.lstat(`/var/lib/vmctx/${SEED_CACHE_FILE}`)).toBeUndefined();
    await loaded.close();
  });

  it('a server that never answers: ERR_METADATA_TIMEOUT within the budget; with a copy of this seed, the copy (degraded)', async () => {
    const hang = await seedServer({}, () => true);
    const clock = new TestClock();
    const error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=${hang.url}/` }, clock), { config: config({ metadataBudgetFirstMs: 600 }) }));
    expect(error.code).toBe('ERR_METADATA_TIMEOUT');
    expect(error.message).toMatch(/^the NoCloud seed at http:\/\/127\.0\.0\.1:\d+\/ \(nocloud-net: ds=nocloud;s=… in the SMBIOS serial\) did not answer within 600 ms/u);
    expect(clock.elapsed).toBeLessThanOrEqual(600);
    // a good fetch, kept; then the server is gone: the copy, said as degraded
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER });
    const root = new DirectoryRoot(await scratchRoot());
    const probe = await lineProbe({ serial: `ds=nocloud;s=${srv.url}/` });
    await load(probe, { root });
    await srv.close();
    const again = await load(probe, { root, bootId: 'boot-2' });
    expect(again.context.instanceId).toBe('iid-seed-1');
    expect(again.context.source.kind).toBe('metadata-cache');
    expect(again.degraded).toMatch(new RegExp(`^the NoCloud seed at ${srv.url.replace(/\./gu, '\\.')}/ did not answer within 1000 ms; used the copy cached `, 'u'));
    // the final stage of the boot that fetched uses that copy without asking
    const sameBoot = await load(probe, { root, stage: 'final' });
    expect(sameBoot.context.source.foundBy).toBe('nocloud-net: ds=nocloud;s=… in the SMBIOS serial, the copy the network stage fetched in this boot');
    expect(sameBoot.degraded).toBeUndefined();
  });

  it('nothing listening: the copy of another seed URL is not used for this one', async () => {
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER });
    const root = new DirectoryRoot(await scratchRoot());
    await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/` }), { root });
    const port = await closedPort();
    const error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=http://127.0.0.1:${port}/` }), { root, bootId: 'boot-2' }));
    expect(error.code).toBe('ERR_METADATA_TIMEOUT');
  });

  it('the copy is keyed on a hash of the full URL: a URL that looks the same once hidden (another password) does not get it', async () => {
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER });
    const root = new DirectoryRoot(await scratchRoot());
    const url = `${srv.url.replace('http://', 'http://ann:first-pw@')}/`;
    await load(await lineProbe({ serial: `ds=nocloud;s=${url}` }), { root });
    const text = (await root.readText(`/var/lib/vmctx/${SEED_CACHE_FILE}`)) ?? '';
    expect(JSON.parse(text)).toMatchObject({ key: createHash('sha256').update(url).digest('hex'), url: url.replace('ann:first-pw@', '***@') });
    expect(text).not.toContain('first-pw');
    await srv.close();
    // same host and port, nothing listening now, another password: shown alike, not the same seed
    const error = await failure(load(await lineProbe({ serial: `ds=nocloud;s=${url.replace('first-pw', 'other-pw')}` }), { root, bootId: 'boot-2' }));
    expect(error.code).toBe('ERR_METADATA_TIMEOUT');
    const again = await load(await lineProbe({ serial: `ds=nocloud;s=${url}` }), { root, bootId: 'boot-2' });
    expect(again.context.source.kind).toBe('metadata-cache');
  });

  it('a new i= and h= on the line apply to the cached copy too (server gone, and the final stage of the same boot)', async () => {
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER });
    const root = new DirectoryRoot(await scratchRoot());
    await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/;i=iid-line-1;h=old-host` }), { root });
    const changed = await lineProbe({ serial: `ds=nocloud;s=${srv.url}/;i=iid-line-2;h=new-host` });
    // the final stage of the boot that fetched, with a line that says otherwise now
    const sameBoot = await load(changed, { root, stage: 'final' });
    expect(sameBoot.context.source.foundBy).toMatch(/the copy the network stage fetched in this boot$/u);
    expect(sameBoot.context.instanceId).toBe('iid-line-2');
    expect(sameBoot.context.hostname).toBe('new-host');
    await srv.close();
    const later = await load(changed, { root, bootId: 'boot-2' });
    expect(later.context.source.kind).toBe('metadata-cache');
    expect(later.context.instanceId).toBe('iid-line-2');
    expect(later.context.hostname).toBe('new-host');
    expect(later.context.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toContain('i= (instance-id): the cached copy\'s instance id "iid-seed-1" is not the line\'s i="iid-line-2"; the line\'s is used (once-per-instance steps follow it)');
    // without i= and h= on the line, the seed's own values (the line's old ones were not cached)
    const plain = await load(await lineProbe({ serial: `ds=nocloud;s=${srv.url}/` }), { root, bootId: 'boot-3' });
    expect(plain.context.instanceId).toBe('iid-seed-1');
    expect(plain.context.hostname).toBe('seed-host');
  });

  it('user:password in the URL goes to the server as Basic auth and nowhere else (attempts, errors, source, cache)', async () => {
    const srv = await seedServer({ '/meta-data': META, '/user-data': USER }, (req, res) => {
      if (req.headers.authorization === `Basic ${Buffer.from('alice:pa55-word').toString('base64')}`) return false;
      res.writeHead(401).end();
      return true;
    });
    const root = new DirectoryRoot(await scratchRoot());
    const url = srv.url.replace('http://', 'http://alice:pa55-word@');
    const loaded = await load(await lineProbe({ cmdline: `ds=nocloud;s=${url}/` }), { root });
    expect(loaded.context.instanceId).toBe('iid-seed-1');
    expect(loaded.context.source.path).toBe(`${srv.url.replace('http://', 'http://***@')}/`);
    const everything = JSON.stringify({ source: loaded.context.source, attempts: loaded.attempts, warnings: loaded.context.warnings, cache: await root.readText(`/var/lib/vmctx/${SEED_CACHE_FILE}`) });
    expect(everything).not.toContain('pa55-word');
    expect(everything).not.toContain('alice');
    // the wrong password: refused by the server, and the error does not carry it either
    const wrong = await failure(load(await lineProbe({ cmdline: `ds=nocloud;s=${srv.url.replace('http://', 'http://alice:wrong-pw@')}/` })));
    expect(wrong.code).toBe('ERR_METADATA_HTTP');
    expect(JSON.stringify(wrong)).not.toContain('wrong-pw');
    expect(wrong.message).not.toContain('wrong-pw');
  });

  it('ds=nocloud without s=: nothing to fetch, and h=/i= without a seed are said as not used', async () => {
    const probe = await lineProbe({ cmdline: 'ro ds=nocloud;h=lonely;i=iid-alone' });
    const error = await failure(load(probe));
    expect(error.details.attempts).toContainEqual({ path: `${probe.procDir ?? ''}/cmdline`, result: 'ds=nocloud without a seed URL (s=): nothing to fetch (a cidata seed disk is the seeds source\'s); local-hostname, instance-id not used (vmctx applies them to a seed named by s=)' });
  });

  it('unknown schemes and garbage lines are named, never fetched, never fatal', async () => {
    for (const [line, why] of [
      ['ds=nocloud;s=ftp://10.0.0.1/seed/', 'ftp seeds are not supported by vmctx'],
      ['ds=nocloud;s=javascript:alert(1)', 'a javascript: URL is not a seed'],
      ['ds=nocloud;s=gopher', 'is neither a URL'],
    ] as const) {
      const error = await failure(load(await lineProbe({ serial: line })));
      expect(error.code).toBe('ERR_NO_CONTEXT');
      expect(error.details.attempts.map((a) => a.result).join('\n')).toContain(why);
    }
    const garbage = await failure(load(await lineProbe({ serial: '\u00ff\u00fe garbage ;;; ds=', cmdline: 'x'.repeat(70 * 1024) })));
    expect(garbage.code).toBe('ERR_NO_CONTEXT');
    expect(garbage.details.attempts.map((a) => a.result)).toContain('over 65536 bytes; not read');
  });
});

describe('a file:// seed (through the root)', () => {
  async function seededRoot(): Promise<DirectoryRoot> {
    const dir = await scratchRoot();
    await mkdir(join(dir, 'srv/seed'), { recursive: true });
    await writeFile(join(dir, 'srv/seed/meta-data'), META);
    await writeFile(join(dir, 'srv/seed/user-data'), USER);
    return new DirectoryRoot(dir);
  }

  it('is read in the local stage, from the root, with the line\'s overrides', async () => {
    const root = await seededRoot();
    const loaded = await load(await lineProbe({ cmdline: 'ro ds=nocloud;s=file:///srv/seed/;h=file-host' }), { root, stage: 'local' });
    expect(loaded.context.source).toMatchObject({ kind: 'nocloud', path: 'file:///srv/seed/', foundBy: 'nocloud-net: ds=nocloud;s=… in the kernel command line' });
    expect(loaded.context.instanceId).toBe('iid-seed-1');
    expect(loaded.context.hostname).toBe('file-host');
    await loaded.close();
  });

  it('a symbolic link is not followed (out of the root or not): the seed is not used, and said why', async () => {
    const root = await seededRoot();
    const outside = await tempDir();
    await writeFile(join(outside, 'meta-data'), 'instance-id: stolen\n');
    await mkdir(join(root.path, 'srv/linked'), { recursive: true });
    await symlink(join(outside, 'meta-data'), join(root.path, 'srv/linked/meta-data'));
    await writeFile(join(root.path, 'srv/linked/user-data'), USER);
    const error = await failure(load(await lineProbe({ cmdline: 'ds=nocloud;s=/srv/linked' }), { root, stage: 'local' }));
    expect(error.details.attempts).toContainEqual({ path: '/srv/linked', result: 'not used: a NoCloud seed needs the files meta-data and user-data in /srv/linked (meta-data: a symbolic link, not followed, user-data: there)' });
  });

  it('a complete seed outside the root, linked to absolutely or relatively (the directory or its files), is never read; the link is named', async () => {
    const root = await seededRoot();
    const outside = await tempDir();
    await writeFile(join(outside, 'meta-data'), 'instance-id: stolen\n');
    await writeFile(join(outside, 'user-data'), USER);
    await symlink(outside, join(root.path, 'srv/abs'));
    await symlink(relative(join(root.path, 'srv'), outside), join(root.path, 'srv/rel'));
    await mkdir(join(root.path, 'srv/files-abs'));
    await mkdir(join(root.path, 'srv/files-rel'));
    for (const f of ['meta-data', 'user-data']) {
      await symlink(join(outside, f), join(root.path, 'srv/files-abs', f));
      await symlink(relative(join(root.path, 'srv/files-rel'), join(outside, f)), join(root.path, 'srv/files-rel', f));
    }
    for (const [seed, says] of [
      ['/srv/abs/', 'not used: /srv/abs is a symbolic link, not followed (a seed directory is read through the root only)'],
      ['file:///srv/rel', 'not used: /srv/rel is a symbolic link, not followed (a seed directory is read through the root only)'],
      ['/srv/files-abs', 'not used: a NoCloud seed needs the files meta-data and user-data in /srv/files-abs (meta-data: a symbolic link, not followed, user-data: a symbolic link, not followed)'],
      ['/srv/files-rel/', 'not used: a NoCloud seed needs the files meta-data and user-data in /srv/files-rel (meta-data: a symbolic link, not followed, user-data: a symbolic link, not followed)'],
    ] as const) {
      const error = await failure(load(await lineProbe({ cmdline: `ds=nocloud;s=${seed}` }), { root, stage: 'local' }));
      expect(error.code).toBe('ERR_NO_CONTEXT');
      expect(error.details.attempts).toContainEqual({ path: seed, result: says });
      expect(JSON.stringify(error)).not.toContain('stolen');
    }
  });
});

describe('order and reporting', () => {
  it('a seed disk (local media) wins; the SMBIOS seed is said as not used', async () => {
    const probe = await lineProbe({ serial: 'ds=nocloud;s=http://10.0.2.2:8000/' });
    const iso = writeIso([{ path: 'meta-data', data: Buffer.from('instance-id: iid-disk\n') }, { path: 'user-data', data: Buffer.from('#cloud-config\n') }], { volumeId: 'cidata' });
    await writeFile(join(probe.devDir, 'vdb'), iso);
    await symlink('../../vdb', join(probe.devDir, 'disk/by-label/cidata'));
    const loaded = await load(probe, { config: config({ datasources: ['medium', 'seeds', 'nocloud-net', 'metadata'] }) });
    expect(loaded.context.instanceId).toBe('iid-disk');
    expect(loaded.attempts).toContainEqual({ path: 'http://10.0.2.2:8000/', result: `not used: the NoCloud seed named by ds=nocloud;s=… in the SMBIOS serial; ${join(probe.devDir, 'disk/by-label/cidata')} (seeds) comes first` });
    expect(loaded.attempts).toContainEqual({ path: 'http://169.254.169.254 http://[fd00:ec2::254]', result: `not used: the HTTP metadata service (not asked); ${join(probe.devDir, 'disk/by-label/cidata')} (seeds) comes first` });
    await loaded.close();
  });

  it('DATASOURCES without nocloud-net: a seed the serial names is said as left out', async () => {
    const error = await failure(load(await lineProbe({ serial: 'ds=nocloud;s=http://10.0.2.2:8000/' }), { config: config({ datasources: ['medium', 'seeds'] }) }));
    expect(error.details.attempts).toContainEqual({ path: 'http://10.0.2.2:8000/', result: 'not used: the NoCloud seed named by ds=nocloud;s=… in the SMBIOS serial; DATASOURCES in /etc/vmctx/config leaves out nocloud-net' });
  });

  it('DATASOURCES: nocloud-net is known, the order is fixed, an unknown name gets a did-you-mean', () => {
    expect(parseConfig('DATASOURCES="metadata nocloud-net"').config.datasources).toEqual(['nocloud-net', 'metadata']);
    expect(DEFAULT_CONFIG.datasources).toEqual(['medium', 'seeds', 'nocloud-net', 'metadata']);
    const r = parseConfig('DATASOURCES="medium nocloud metdata smbios"');
    expect(r.config.datasources).toEqual(['medium']);
    expect(r.warnings).toEqual([
      '/etc/vmctx/config: DATASOURCES: unknown source "nocloud" (did you mean nocloud-net?); known: medium, seeds, nocloud-net, metadata',
      '/etc/vmctx/config: DATASOURCES: unknown source "metdata" (did you mean metadata?); known: medium, seeds, nocloud-net, metadata',
      '/etc/vmctx/config: DATASOURCES: unknown source "smbios"; known: medium, seeds, nocloud-net, metadata',
    ]);
    expect(parseConfig('DATASOURCES=bogus').warnings).toContain('/etc/vmctx/config: DATASOURCES names no known source; using the default (medium seeds nocloud-net metadata)');
  });
});
