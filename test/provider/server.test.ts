import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFault, type MetadataServer } from '../../src/provider/server.js';
import { lookup, treeFromDescription } from '../../src/provider/tree.js';
import { BUNDLE } from '../helpers/cli.js';
import { description, startServer } from '../helpers/metadata.js';
import { fakeKey } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const servers: MetadataServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function token(url: string): Promise<string> {
  const res = await fetch(`${url}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('metadata tree', () => {
  it('lays out EC2 meta-data with listings, public-keys N=name and per-format key files', () => {
    const k0 = fakeKey('ssh-rsa');
    const tree = treeFromDescription(description({}, [k0]));
    expect(lookup(tree, '/latest/meta-data/')?.toString()).toBe(['block-device-mapping/', 'instance-id', 'local-hostname', 'local-ipv4', 'placement/', 'public-ipv4', 'public-keys/'].join('\n'));
    expect(lookup(tree, '/latest/meta-data/public-keys/')?.toString()).toBe('0=key0');
    expect(lookup(tree, '/latest/meta-data/public-keys/0/')?.toString()).toBe('openssh-key');
    expect(lookup(tree, '/latest/meta-data/public-keys/0/openssh-key')?.toString()).toBe(k0);
    expect(lookup(tree, '/latest/meta-data/block-device-mapping/ephemeral0')?.toString()).toBe('sda2');
    expect(lookup(tree, '/latest/nothing')).toBeUndefined();
  });

  it('generates OpenStack documents when asked', () => {
    const tree = treeFromDescription(description({ password: 'pw', openstack: { network_data: { links: [] } } }, [fakeKey()]));
    const meta = JSON.parse(lookup(tree, '/openstack/latest/meta_data.json')?.toString() ?? '{}') as Record<string, unknown>;
    expect(meta['uuid']).toBe('i-0123456789abcdef0');
    expect(meta['admin_pass']).toBe('pw');
    expect(lookup(tree, '/openstack/latest/password')?.toString()).toBe('pw');
    expect(lookup(tree, '/openstack/latest/user_data')?.toString()).toContain('#!/bin/sh');
  });

  it("serves the EC2 NIC tree as IMDS lays it out: MACs as sub-directories, a NIC's keys listed, lists one item a line", () => {
    const d = description();
    const tree = treeFromDescription({ ...d, 'meta-data': { ...d['meta-data'], network: { interfaces: { macs: { '02:00:00:00:00:01': { 'device-number': 0, 'local-ipv4s': ['10.0.0.5', '10.0.0.6'] }, '02:00:00:00:00:02': { 'device-number': 1 } } } } } });
    expect(lookup(tree, '/latest/meta-data/network/interfaces/macs/')?.toString()).toBe('02:00:00:00:00:01/\n02:00:00:00:00:02/');
    expect(lookup(tree, '/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/')?.toString()).toBe('device-number\nlocal-ipv4s');
    expect(lookup(tree, '/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/local-ipv4s')?.toString()).toBe('10.0.0.5\n10.0.0.6');
  });

  it('parses fault specs and refuses unknown ones', () => {
    expect(parseFault('status:503,retry-after=3600')).toEqual({ kind: 'status', arg: '503', retryAfter: '3600' });
    expect(parseFault('status:401,after=3,path=/latest/meta-data')).toEqual({ kind: 'status', arg: '401', after: 3, path: '/latest/meta-data' });
    expect(() => parseFault('explode')).toThrow(/unknown kind/);
    expect(() => parseFault('huge:lots')).toThrow(/not a size/);
  });
});

describe('vmctx serve-metadata (node:http on 127.0.0.1)', () => {
  it('IMDSv2 required: GET without a token is 401, with one is 200; tokens need a TTL; PUT only', async () => {
    const { server, url } = await startServer(description());
    servers.push(server);
    expect((await fetch(`${url}/latest/meta-data/instance-id`)).status).toBe(401);
    expect((await fetch(`${url}/latest/api/token`, { method: 'PUT' })).status).toBe(400);
    expect((await fetch(`${url}/latest/api/token`)).status).toBe(405);
    const t = await token(url);
    const res = await fetch(`${url}/latest/meta-data/instance-id`, { headers: { 'x-aws-ec2-metadata-token': t } });
    expect(await res.text()).toBe('i-0123456789abcdef0');
    expect((await fetch(`${url}/latest/meta-data/instance-id`, { headers: { 'x-aws-ec2-metadata-token': 'forged' } })).status).toBe(401);
  });

  it('faults: 503 with Retry-After, 401 after N requests, times-limited faults', async () => {
    const { server, url } = await startServer(description(), {
      imdsv2: 'optional',
      faults: [parseFault('status:503,retry-after=3600,path=/latest/user-data,times=1'), parseFault('status:401,after=2,path=/latest/meta-data/local-hostname')],
    });
    servers.push(server);
    const first = await fetch(`${url}/latest/user-data`);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('3600');
    expect((await fetch(`${url}/latest/user-data`)).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/latest/meta-data/local-hostname`)).status);
    expect(statuses).toEqual([200, 200, 401, 401]);
  });

  it('runs as a command from a directory tree, prints where it listens, and stops on SIGTERM', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'latest/meta-data'), { recursive: true });
    await writeFile(join(dir, 'latest/meta-data/instance-id'), 'i-fromdir');
    const child = spawn(process.execPath, [BUNDLE, 'serve-metadata', '--from', dir, '--listen', '127.0.0.1:0', '--imdsv2', 'optional', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /listening (\S+)/u.exec(buf);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.on('exit', (code) => { reject(new Error(`exited ${String(code)}`)); });
    });
    expect(await (await fetch(`${url}/latest/meta-data/instance-id`)).text()).toBe('i-fromdir');
    expect(await (await fetch(`${url}/latest/meta-data/`)).text()).toBe('instance-id');
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
