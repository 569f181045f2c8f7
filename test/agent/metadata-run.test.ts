// The whole agent on a scratch root with the HTTP metadata as its only source (a real server on
// 127.0.0.1): stages, the cache, partial metadata, secrets.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Probe } from '../../src/agent/datasources/datasource.js';
import { runAgent } from '../../src/agent/run.js';
import { type RunReport } from '../../src/agent/report.js';
import type { Stage } from '../../src/agent/modules/module.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { HostScriptRunner } from '../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { parseFault, type MetadataServer } from '../../src/provider/server.js';
import { treeFromDescription } from '../../src/provider/tree.js';
import { vmctx } from '../helpers/cli.js';
import { closedPort, description, startServer } from '../helpers/metadata.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const servers: MetadataServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function noDevices(): Promise<Probe> {
  const empty = await tempDir();
  return { devDir: empty, sysDir: empty, runDir: empty, waitMs: 0, pollMs: 10, listBlockDevices: () => Promise.resolve([]) };
}

async function run(root: string, url: string, stage: Stage | 'all', budgetMs = 3000): Promise<RunReport> {
  return runAgent({
    root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: 'auto', stage, dryRun: false,
    exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
    probe: await noDevices(), metadataUrl: url, metadataBudgetMs: budgetMs,
    scripts: new HostScriptRunner(await tempDir()), scriptTimeoutMs: 20_000,
  });
}

const mod = (r: RunReport, id: string) => r.modules.find((m) => m.id === id);

describe('agent with HTTP metadata', () => {
  it('local stage never uses the network; the network stage applies the local modules from metadata; final runs the user data from this boot\'s copy', async () => {
    const key = fakeKey();
    const { server, url } = await startServer(description({ 'user-data': '#!/bin/sh\necho ran-user-data\n' }, [key]));
    servers.push(server);
    const root = await scratchRoot();
    // one boot: the stages share the kernel's boot id
    await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
    await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${randomUUID()}\n`);
    const local = await run(root, url, 'local');
    expect(local.result).toBe('no-context');
    expect(server.requests).toEqual([]);
    const net = await run(root, url, 'network');
    expect(net.result).toBe('ok');
    expect(net.source?.kind).toBe('metadata');
    expect(net.instanceId).toBe('iid-i-0123456789abcdef0');
    expect(mod(net, 'hostname')?.status).toBe('applied');
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toContain(key);
    expect(mod(net, 'scripts')).toBeUndefined();
    const cache = join(root, 'var/lib/vmctx/metadata-cache.json');
    expect((await stat(cache)).mode & 0o777).toBe(0o600);
    const requestsBefore = server.requests.length;
    const fin = await run(root, url, 'final');
    expect(server.requests.length).toBe(requestsBefore); // the final stage used the copy this boot fetched
    expect(fin.source?.kind).toBe('metadata-cache');
    expect(mod(fin, 'scripts')?.status).toBe('applied');
    expect(await readFile(join(root, 'var/log/vmctx/scripts/USER_DATA.log'), 'utf8')).toContain('ran-user-data');
  });

  it('a reboot during a metadata outage keeps the instance: cached copy, nothing re-runs, its own result', async () => {
    const { server, url } = await startServer(description({ 'user-data': '#!/bin/sh\necho once\n' }, [fakeKey()]));
    const root = await scratchRoot();
    const first = await run(root, url, 'all');
    expect(first.result).toBe('ok');
    await server.close();
    const second = await run(root, url, 'all', 600);
    expect(second.result).toBe('metadata-incomplete');
    expect(second.instanceId).toBe(first.instanceId);
    expect(second.degraded).toMatch(/did not answer within 600 ms; used the copy cached/);
    expect(mod(second, 'scripts')?.status).toBe('skipped');
    expect(['skipped', 'unchanged']).toContain(mod(second, 'hostname')?.status);
  });

  it('no medium and nothing listening: a clear result within the budget, nothing applied', async () => {
    const root = await scratchRoot();
    const port = await closedPort();
    const t0 = Date.now();
    const r = await run(root, `http://127.0.0.1:${port}`, 'all', 700);
    expect(Date.now() - t0).toBeLessThan(700 + 2000);
    expect(r.result).toBe('metadata-incomplete');
    expect(r.error?.code).toBe('ERR_METADATA_TIMEOUT');
    expect(r.modules).toEqual([]);
  });

  it('partial metadata (user data never arrives): the modules that need it wait, the next run applies it', async () => {
    const d = description({ 'user-data': '#!/bin/sh\necho late\n' }, [fakeKey()]);
    const { server, url } = await startServer(d, { faults: [parseFault('hang,path=/latest/user-data')] });
    servers.push(server);
    const root = await scratchRoot();
    const first = await run(root, url, 'all', 1500);
    expect(first.result).toBe('metadata-incomplete');
    expect(mod(first, 'ssh-keys')?.status).toBe('applied');
    expect(mod(first, 'scripts')).toMatchObject({ status: 'skipped' });
    expect(mod(first, 'scripts')?.reason).toMatch(/user-data did not arrive/);
    server.setFaults([]);
    const second = await run(root, url, 'all', 3000);
    expect(second.result).toBe('ok');
    expect(mod(second, 'scripts')).toMatchObject({ status: 'applied' });
    expect(mod(second, 'ssh-keys')?.status).toBe('skipped');
  });

  it('a clone (new instance id from the service) runs the per-instance work again', async () => {
    const d = description({ 'user-data': '#!/bin/sh\necho x\n' }, [fakeKey()]);
    const { server, url } = await startServer(d);
    servers.push(server);
    const root = await scratchRoot();
    expect(mod(await run(root, url, 'all'), 'scripts')?.status).toBe('applied');
    expect(mod(await run(root, url, 'all'), 'scripts')?.status).toBe('skipped');
    const meta = d['meta-data'] ?? {};
    server.setTree(treeFromDescription({ ...d, 'meta-data': { ...meta, 'instance-id': 'i-clone' } }));
    const clone = await run(root, url, 'all');
    expect(clone.instanceId).toBe('iid-i-clone');
    expect(mod(clone, 'scripts')?.status).toBe('applied');
  });

  it('the metadata password lands in /etc/shadow only: not in the cache, the report, the logs or the state', async () => {
    const password = 'Md-pass-\'quote"-ünï';
    const { server, url } = await startServer(description({ password }, [fakeKey()]));
    servers.push(server);
    const root = await scratchRoot();
    const r = await run(root, url, 'all');
    expect(mod(r, 'password')?.status).toBe('applied');
    const shadow = (await readFile(join(root, 'etc/shadow'), 'utf8')).split('\n').find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
    expect(shadow).toMatch(/^\$6\$/u);
    const found = spawnSync('grep', ['-rlF', '-e', password, '-e', shadow, root], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(found.map((p) => p.slice(root.length))).toEqual(['/etc/shadow']);
  }, 30_000);

  it('the CLI: exit 6 when the budget runs out with nothing; the local stage exits 3 without touching the network', async () => {
    const root = await scratchRoot();
    const port = await closedPort();
    const r = vmctx(['run', '--root', root, '--metadata-url', `http://127.0.0.1:${port}`, '--metadata-budget', '500', '--wait-medium', '0', '-q', '--json']);
    expect(r.code).toBe(6);
    expect((JSON.parse(r.stdout) as RunReport).error?.code).toBe('ERR_METADATA_TIMEOUT');
    const local = vmctx(['run', '--root', root, '--stage', 'local', '--metadata-url', `http://127.0.0.1:${port}`, '--wait-medium', '0', '-q', '--json']);
    expect(local.code).toBe(3);
    expect(vmctx(['run', '--root', root, '--metadata-url', 'ftp://x/']).code).toBe(2);
  });
});
