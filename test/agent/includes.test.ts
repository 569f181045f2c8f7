// #include in user data, fetched by the context layer from a real HTTP server on 127.0.0.1: the
// fetched cloud-config and scripts join the context; a redirect is not followed, a hang ends at the
// budget, a body over the cap is refused, a non-http scheme is never asked for; every failure
// names the URL without its query. Without a fetcher (validate, the local stage) the URLs are named
// and the user data counts as missing, so its modules wait; a failed fetch (not a 404) on a later
// boot keeps them waiting rather than removing what the document gave; #include-once is kept per
// instance; ssh_keys from an include reach the host keys in the network stage.
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseContext, type Context } from '../../src/agent/context/context.js';
import type { IncludeFetcher } from '../../src/agent/context/scripts.js';
import { fetchUrl } from '../../src/host/urlfetch.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateFile, validateSource } from '../../src/agent/validate.js';
import { tempDir } from '../helpers/tmp.js';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { runAgent } from '../../src/agent/run.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { scratchRoot } from '../helpers/scratch.js';
import { TestClock } from '../helpers/clock.js';
import { emptyMedium } from '../helpers/context.js';

const requests: string[] = [];
let server: Server;
let base: string;
const hanging: ServerResponse[] = [];

let ccStatus = 200;
let hostKeysDoc = '';
let onceServed = 0;
const routes: Record<string, (res: ServerResponse) => void> = {
  '/cc': (res) => {
    if (ccStatus !== 200) {
      res.writeHead(ccStatus);
      res.end();
    } else res.end('#cloud-config\nhostname: fromincl\nusers:\n  - name: bob\n    sudo: "ALL=(ALL) NOPASSWD:ALL"\n');
  },
  '/hostkeys': (res) => res.end(hostKeysDoc),
  '/once': (res) => {
    // a one-time-token URL: it answers once
    if (onceServed++ > 0) {
      res.writeHead(403);
      res.end();
    } else res.end('#cloud-config\nwrite_files:\n  - path: /etc/once\n    content: once only\n');
  },
  '/config.yaml': (res) => res.end('#cloud-config\nbootcmd:\n  - [echo, included]\nwrite_files:\n  - path: /etc/included\n    content: from the include\n'),
  '/script.sh': (res) => res.end('#!/bin/sh\necho included script\n'),
  '/nested': (res) => res.end(`#include\n${base}/config.yaml\n`),
  '/redirect': (res) => {
    res.writeHead(302, { location: '/config.yaml' });
    res.end();
  },
  '/hang': (res) => void hanging.push(res),
  '/big': (res) => res.end(Buffer.alloc(2048, 0x61)),
  '/bigchunked': (res) => {
    res.write(Buffer.alloc(1500, 0x61));
    res.end(Buffer.alloc(1500, 0x61));
  },
  '/missing': (res) => {
    res.writeHead(404);
    res.end();
  },
};

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    const route = routes[(req.url ?? '').split('?')[0] ?? ''];
    if (route === undefined) {
      res.writeHead(500);
      res.end();
    } else route(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
});

function fetcher(clock = new TestClock(), budgetMs = 2000, maxBytes = 1024): IncludeFetcher {
  const deadline = clock.now() + budgetMs;
  return (url) => fetchUrl(url, { deadline, clock, connectMs: 500, requestMs: 300, maxBytes });
}

function contextWith(userData: string, include: IncludeFetcher | undefined): Promise<Context> {
  return normaliseContext(
    { source: { kind: 'nocloud', path: '/seed', foundBy: 'test', variableFiles: ['meta-data', 'user-data'] }, variables: { USER_DATA: Buffer.from(userData).toString('base64'), USER_DATA_ENCODING: 'base64' }, lines: {}, warnings: [], medium: emptyMedium() },
    { id: 'iid-1', source: 'metadata' },
    { include },
  );
}

const messages = (ctx: Context): string[] => ctx.warnings.map((w) => w.message);

describe('#include fetched by the run', () => {
  it('a cloud-config and a script served on 127.0.0.1 join the context (a nested #include too, once)', async () => {
    const ctx = await contextWith(`#include\n${base}/config.yaml\n${base}/script.sh\n${base}/nested\n`, fetcher());
    expect(messages(ctx)).toEqual([`include ${base}/nested: #include ${base}/config.yaml: already included; not fetched again`]);
    expect(ctx.cloudConfig?.bootcmd).toEqual([['echo', 'included']]);
    expect(ctx.cloudConfig?.writeFiles.map((f) => [f.path, f.content.toString()])).toEqual([['/etc/included', 'from the include']]);
    expect(ctx.scripts.map((s) => [s.name, s.body.toString()])).toEqual([['USER_DATA-1', '#!/bin/sh\necho included script\n']]);
    expect(ctx.missing).toEqual([]);
  });

  it('one URL listed twice is fetched once', async () => {
    requests.length = 0;
    const ctx = await contextWith(`#include\n${base}/script.sh\n${base}/script.sh\n`, fetcher());
    expect(requests).toEqual(['/script.sh']);
    expect(messages(ctx)).toEqual([`user-data: #include ${base}/script.sh: already included; not fetched again`]);
  });

  it('a redirect is not followed and is named; a 404 is named', async () => {
    requests.length = 0;
    const ctx = await contextWith(`#include\n${base}/redirect?secret=1\n${base}/missing\n`, fetcher());
    expect(requests).toEqual(['/redirect?secret=1', '/missing']);
    expect(messages(ctx)).toEqual([
      `user-data: #include ${base}/redirect: redirect (HTTP 302); redirects are not followed; not used (the modules that need the user data wait)`,
      `user-data: #include ${base}/missing: HTTP 404; the document is not there, so it counts as empty`,
    ]);
    expect(ctx.cloudConfig).toBeUndefined();
  });

  it('a server that never answers ends at the budget (its request time), named; the next URL is still fetched', async () => {
    const ctx = await contextWith(`#include\n${base}/hang\n${base}/script.sh\n`, fetcher(new TestClock(), 100));
    expect(messages(ctx)).toEqual([`user-data: #include ${base}/hang: no answer within 100 ms; not used (the modules that need the user data wait)`]);
    expect(ctx.scripts).toHaveLength(1);
  });

  it('once the budget has run out (by the injected clock) nothing more is asked for', async () => {
    const clock = new TestClock();
    const include = fetcher(clock, 1000);
    await clock.sleep(1500);
    requests.length = 0;
    const ctx = await contextWith(`#include\n${base}/script.sh\n`, include);
    expect(requests).toEqual([]);
    expect(messages(ctx)).toEqual([`user-data: #include ${base}/script.sh: the time budget for fetching ran out before it was asked for; not used (the modules that need the user data wait)`]);
  });

  it('a body over the byte cap is refused, declared (content-length) or streamed', async () => {
    const ctx = await contextWith(`#include\n${base}/big\n${base}/bigchunked\n`, fetcher());
    expect(messages(ctx)).toEqual([
      `user-data: #include ${base}/big: the body is 2048 bytes, over the 1024-byte limit; not used (the modules that need the user data wait)`,
      `user-data: #include ${base}/bigchunked: the body is over the 1024-byte limit; not used (the modules that need the user data wait)`,
    ]);
  });

  it('file:// and ftp:// are refused by the parser and by the fetcher itself, never asked for', async () => {
    requests.length = 0;
    const ctx = await contextWith('#include\nfile:///etc/shadow\nftp://127.0.0.1/x\n', fetcher());
    expect(messages(ctx)).toEqual([
      'user-data: #include file:///etc/shadow: a file: URL; only http and https are fetched; refused',
      'user-data: #include ftp://127.0.0.1/x: a ftp: URL; only http and https are fetched; refused',
      'user-data: #include lists no URL; nothing to fetch',
    ]);
    expect(await fetchUrl('file:///etc/passwd', { deadline: Date.now() + 1000, connectMs: 100, requestMs: 100, maxBytes: 10 })).toEqual({ ok: false, reason: 'file: URLs are not fetched (only http and https)' });
  });

  it('without a fetcher (validate, the local stage) the URLs are not fetched and the user data counts as missing', async () => {
    requests.length = 0;
    const ctx = await contextWith(`#include\n${base}/config.yaml?token=abc\n`, undefined);
    expect(requests).toEqual([]);
    // not a warning: the run's local stage logs that the modules wait for the network stage
    expect(messages(ctx)).toEqual([]);
    expect(ctx.missing).toEqual(['user-data']);
    expect(JSON.stringify(ctx.warnings)).not.toContain('token=abc');
  });

  it('vmctx validate names each URL once (a seed, a user-data file) and asks the server for nothing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'meta-data'), 'instance-id: iid-v\n');
    await writeFile(join(dir, 'user-data'), `#include\n${base}/config.yaml?token=abc\nftp://h.example/x\n`);
    requests.length = 0;
    const expected = [
      { file: join(dir, 'user-data'), severity: 'warning', message: 'user-data: #include ftp://h.example/x: a ftp: URL; only http and https are fetched; refused' },
      { file: join(dir, 'user-data'), severity: 'info', message: `user-data: #include ${base}/config.yaml: not fetched here (vmctx validate and the local stage do not fetch; the run fetches it in the network stage)` },
    ];
    const seed = await validateSource(dir);
    expect(seed.filter((d) => d.message.includes('#include')).map((d) => ({ file: d.file, severity: d.severity, message: d.message }))).toEqual(expected);
    const file = await validateFile(join(dir, 'user-data'));
    expect(file.map((d) => ({ file: d.file, severity: d.severity, message: d.message }))).toEqual(expected);
    expect(requests).toEqual([]);
    expect(JSON.stringify([seed, file])).not.toContain('token=abc');
  });

  it('a seed whose user data is an #include: the local stage waits (and asks for the network stage), the network stage fetches and writes', async () => {
    const seed = await tempDir();
    await writeFile(join(seed, 'meta-data'), 'instance-id: iid-inc\n');
    await writeFile(join(seed, 'user-data'), `#include\n${base}/config.yaml\n`);
    const root = await scratchRoot();
    const run = (stage: 'local' | 'network' | 'final') => runAgent({
      root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: seed, stage, dryRun: false,
      exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
    });
    requests.length = 0;
    const local = await run('local');
    expect(requests).toEqual([]);
    expect(local.modules.find((m) => m.id === 'write-files')).toMatchObject({ status: 'skipped' });
    await expect(stat(join(root, 'etc/included'))).rejects.toThrow();
    expect((await stat(join(root, 'run/vmctx/need-network'))).isFile()).toBe(true);
    const network = await run('network');
    expect(requests).toEqual(['/config.yaml']);
    expect(network.modules.find((m) => m.id === 'write-files')).toMatchObject({ status: 'applied' });
    expect(await readFile(join(root, 'etc/included'), 'utf8')).toBe('from the include');
    // the network stage runs only the local modules that needed the user data
    expect(network.modules.map((m) => m.id)).not.toContain('network');
    expect(network.modules.map((m) => m.id)).toContain('users');
    // the answer is kept for this boot (0600 in a 0700 directory): the final stage does not ask again
    const kept = await readdir(join(root, 'run/vmctx/includes'));
    expect(kept).toHaveLength(1);
    expect((await stat(join(root, 'run/vmctx/includes'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'run/vmctx/includes', kept[0] ?? ''))).mode & 0o777).toBe(0o600);
    await run('final');
    expect(requests).toEqual(['/config.yaml']);
  });

  const runIn = (root: string, seed: string) => (stage: 'local' | 'network' | 'final') => runAgent({
    root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: seed, stage, dryRun: false,
    exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
  });
  const newBoot = (root: string) => rm(join(root, 'run/vmctx'), { recursive: true, force: true });

  it('an #include that fails on a later boot (503) is not taken for removed content: the sudo rule and the hostname stay, the URL is named', async () => {
    const seed = await tempDir();
    await writeFile(join(seed, 'meta-data'), 'instance-id: iid-fail\n');
    await writeFile(join(seed, 'user-data'), `#include\n${base}/cc?token=t0\n`);
    const root = await scratchRoot();
    const run = runIn(root, seed);
    ccStatus = 200;
    await run('local');
    await run('network');
    expect(await readFile(join(root, 'etc/sudoers.d/90-vmctx-users'), 'utf8')).toContain('bob');
    expect((await readFile(join(root, 'etc/hostname'), 'utf8')).trim()).toBe('fromincl');
    await newBoot(root);
    ccStatus = 503;
    try {
      await run('local');
      const network = await run('network');
      expect(network.warnings.map((w) => w.message)).toContain(`user-data: #include ${base}/cc: HTTP 503; not used (the modules that need the user data wait)`);
      expect(JSON.stringify(network)).not.toContain('token=t0');
      expect(network.modules.find((m) => m.id === 'users')).toMatchObject({ status: 'skipped' });
      expect(await readFile(join(root, 'etc/sudoers.d/90-vmctx-users'), 'utf8')).toContain('bob');
      expect((await readFile(join(root, 'etc/hostname'), 'utf8')).trim()).toBe('fromincl');
    } finally {
      ccStatus = 200;
    }
  });

  it('an #include answered 404 counts as the document removed (the definitive answer): the user data is complete', async () => {
    const ctx = await contextWith(`#include\n${base}/missing\n`, fetcher());
    expect(messages(ctx)).toEqual([`user-data: #include ${base}/missing: HTTP 404; the document is not there, so it counts as empty`]);
    expect(ctx.missing).toEqual([]);
    const failed = await contextWith(`#include\n${base}/nothere-500\n`, fetcher());
    expect(failed.missing).toEqual(['user-data']);
  });

  it('on an instance first run a pending #include stops the on-change modules in the local stage: the hostname is set once, by the network stage', async () => {
    const seed = await tempDir();
    await writeFile(join(seed, 'meta-data'), 'instance-id: iid-first\nlocal-hostname: fromseed\n');
    await writeFile(join(seed, 'user-data'), `Content-Type: multipart/mixed; boundary="B"\nMIME-Version: 1.0\n\n--B\nContent-Type: text/cloud-config\n\nhostname: partial\n--B\nContent-Type: text/x-include-url\n\n${base}/cc\n--B--\n`);
    const root = await scratchRoot();
    const run = runIn(root, seed);
    const local = await run('local');
    for (const id of ['hostname', 'users', 'write-files']) expect(local.modules.find((m) => m.id === id)).toMatchObject({ status: 'skipped' });
    expect(await readFile(join(root, 'etc/hostname'), 'utf8').catch(() => '')).not.toContain('partial');
    const network = await run('network');
    expect(network.modules.find((m) => m.id === 'hostname')).toMatchObject({ status: 'applied' });
    expect((await readFile(join(root, 'etc/hostname'), 'utf8')).trim()).toBe('fromincl');
  });

  it('#include-once: the first answer is kept per instance (0600 in 0700) and read on later boots, never asked again', async () => {
    const seed = await tempDir();
    await writeFile(join(seed, 'meta-data'), 'instance-id: iid-once\n');
    await writeFile(join(seed, 'user-data'), `#include-once\n${base}/once\n`);
    const root = await scratchRoot();
    const run = runIn(root, seed);
    onceServed = 0;
    await run('local');
    await run('network');
    expect(await readFile(join(root, 'etc/once'), 'utf8')).toBe('once only');
    const dir = join(root, 'var/lib/vmctx/include-once');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const [inst] = await readdir(dir);
    expect((await stat(join(dir, inst ?? ''))).mode & 0o777).toBe(0o700);
    const [file] = await readdir(join(dir, inst ?? ''));
    expect((await stat(join(dir, inst ?? '', file ?? ''))).mode & 0o777).toBe(0o600);
    await newBoot(root);
    requests.length = 0;
    await run('local');
    const network = await run('network');
    expect(requests).toEqual([]);
    expect(network.warnings).toEqual([]);
    expect(onceServed).toBe(1);
  });

  it("ssh_keys in an #include'd document: the local stage makes host keys (sshd never starts without), the network stage writes the given ones; a late ssh_genkeytypes is said", async () => {
    const dir = await tempDir();
    execFileSync('ssh-keygen', ['-q', '-N', '', '-C', 'given', '-t', 'ed25519', '-f', join(dir, 'ed')]);
    const priv = await readFile(join(dir, 'ed'), 'utf8');
    const pub = (await readFile(join(dir, 'ed.pub'), 'utf8')).trim();
    hostKeysDoc = `#cloud-config\nssh_keys:\n  ed25519_private: |\n${priv.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n  ed25519_public: ${pub}\n`;
    const seed = await tempDir();
    await writeFile(join(seed, 'meta-data'), 'instance-id: iid-keys\n');
    await writeFile(join(seed, 'user-data'), `#include\n${base}/hostkeys\n`);
    const root = await scratchRoot();
    const run = runIn(root, seed);
    const keys = async (): Promise<string[]> => (await readdir(join(root, 'etc/ssh'))).filter((n) => n.startsWith('ssh_host_')).sort();
    const local = await run('local');
    expect(local.modules.find((m) => m.id === 'ssh-host-keys')).toMatchObject({ status: 'applied' });
    expect(await keys()).toContain('ssh_host_ed25519_key');
    expect(await readFile(join(root, 'etc/ssh/ssh_host_ed25519_key'), 'utf8')).not.toBe(priv);
    const network = await run('network');
    expect(network.modules.find((m) => m.id === 'ssh-host-keys-late')).toMatchObject({ status: 'applied' });
    expect(await readFile(join(root, 'etc/ssh/ssh_host_ed25519_key'), 'utf8')).toBe(priv);
    expect(await keys()).toEqual(['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    expect(JSON.stringify(network)).not.toContain('PRIVATE KEY');

    hostKeysDoc = '#cloud-config\nssh_genkeytypes: [ed25519]\n';
    const seed2 = await tempDir();
    await writeFile(join(seed2, 'meta-data'), 'instance-id: iid-gen\n');
    await writeFile(join(seed2, 'user-data'), `#include\n${base}/hostkeys\n`);
    const root2 = await scratchRoot();
    const run2 = runIn(root2, seed2);
    await run2('local');
    const late = await run2('network');
    const report = late.modules.find((m) => m.id === 'ssh-host-keys-late');
    expect(report).toMatchObject({ status: 'unchanged' });
    expect(report?.warnings.join('\n')).toMatch(/^ssh_genkeytypes \(ed25519\) came with #include'd user data, fetched after the host keys were made \(.*ecdsa.*\).*not applied/u);
  });
});
