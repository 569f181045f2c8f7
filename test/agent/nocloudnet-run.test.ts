// The agent with a NoCloud seed named by the kernel command line, over a real HTTP server on
// 127.0.0.1, stage by stage as a boot runs them: the local stage asks for the network stage (even
// with the metadata service left out of DATASOURCES), the network stage applies the local modules
// from the seed, the final stage uses this boot's copy.
import { randomUUID } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/agent/config.js';
import type { Probe } from '../../src/agent/datasources/datasource.js';
import type { Stage } from '../../src/agent/modules/module.js';
import { runAgent } from '../../src/agent/run.js';
import type { RunReport } from '../../src/agent/report.js';
import { runTable } from '../../src/cli/render.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { HostScriptRunner } from '../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => { resolve(); }); });
});

async function probe(cmdline: string): Promise<Probe> {
  const base = await tempDir();
  await mkdir(join(base, 'proc'));
  await writeFile(join(base, 'proc/cmdline'), `${cmdline}\n`);
  return { devDir: base, sysDir: base, procDir: join(base, 'proc'), runDir: base, waitMs: 0, pollMs: 10, listBlockDevices: () => Promise.resolve([]) };
}

describe('agent with a NoCloud seed URL on the kernel command line', () => {
  it('local asks for the network stage; network applies hostname and keys from the seed; final uses the copy of this boot', async () => {
    const key = fakeKey();
    const requests: string[] = [];
    const files: Record<string, string> = {
      '/s/meta-data': `instance-id: iid-run-24\nlocal-hostname: seeded\npublic-keys:\n  - ${key}\n`,
      '/s/user-data': '#!/bin/sh\necho ran-seed-user-data\n',
    };
    const server = createServer((req, res) => {
      requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const body = files[req.url ?? ''];
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200).end(body);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/s/`;
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/vmctx'), { recursive: true });
    await writeFile(join(root, 'etc/vmctx/config'), 'DATASOURCES="medium seeds nocloud-net"\n');
    await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
    await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${randomUUID()}\n`);
    const p = await probe(`BOOT_IMAGE=/vmlinuz ro ds=nocloud-net;s=${url}`);
    const run = async (stage: Stage): Promise<RunReport> => runAgent({
      root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: 'auto', stage, dryRun: false,
      exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test', probe: p,
      scripts: new HostScriptRunner(await tempDir()), scriptTimeoutMs: 20_000,
    });
    const local = await run('local');
    expect(local.result).toBe('no-context');
    expect(requests).toEqual([]);
    // the network stage's unit runs only when this marker is there
    await access(join(root, 'run/vmctx/need-network'));
    const net = await run('network');
    expect(net.result).toBe('ok');
    expect(net.source).toMatchObject({ kind: 'metadata', path: url, foundBy: 'nocloud-net: ds=nocloud;s=… in the kernel command line' });
    expect(net.modules.find((m) => m.id === 'hostname')?.status).toBe('applied');
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('seeded\n');
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toContain(key);
    // run -v says where the context came from
    expect(runTable(net)).toContain(`source: ${url} (nocloud-net: ds=nocloud;s=… in the kernel command line)`);
    const before = requests.length;
    const fin = await run('final');
    expect(requests.length).toBe(before);
    expect(fin.source?.foundBy).toBe('nocloud-net: ds=nocloud;s=… in the kernel command line, the copy the network stage fetched in this boot');
    expect(await readFile(join(root, 'var/log/vmctx/scripts/USER_DATA.log'), 'utf8')).toContain('ran-seed-user-data');
  });
});

describe('the units a boot runs the stages in', () => {
  it("the network stage's unit gives at least the local stage's time plus the first-boot metadata budget (it does more)", async () => {
    const timeout = async (unit: string): Promise<number> => Number(/^TimeoutStartSec=(\d+)$/mu.exec(await readFile(join(import.meta.dirname, '../../systemd', unit), 'utf8'))?.[1]);
    const local = await timeout('vmctx-local.service');
    expect(local).toBeGreaterThan(0);
    expect(await timeout('vmctx-network.service')).toBeGreaterThanOrEqual(local + DEFAULT_CONFIG.metadataBudgetFirstMs / 1000);
  });
});
