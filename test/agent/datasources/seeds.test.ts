// Local seeds on ISO images made by genisoimage and xorriso (as clouds make them), found by label,
// mapped to the context; a context medium always wins over a seed.
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverMedium, openExplicitSource } from '../../../src/agent/datasources/contextmedium.js';
import type { Probe } from '../../../src/agent/datasources/datasource.js';
import { normaliseContext } from '../../../src/agent/context/context.js';
import { loadContext } from '../../../src/agent/datasources/registry.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { writeIso } from '../../../src/formats/iso9660/writer.js';
import { fakeKey } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';
import { run } from '../../helpers/tools.js';

async function fakeSystem(): Promise<{ base: string; probe: Probe }> {
  const base = await tempDir();
  for (const d of ['dev/disk/by-label', 'sys/class/block', 'run']) await mkdir(join(base, d), { recursive: true });
  return { base, probe: { devDir: join(base, 'dev'), sysDir: join(base, 'sys'), runDir: join(base, 'run'), waitMs: 0, pollMs: 20, listBlockDevices: () => Promise.resolve([]) } };
}

const key = fakeKey('ssh-ed25519', 'seed');

async function noCloudTree(): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'meta-data'), `instance-id: iid-nocloud-1\nlocal-hostname: seeded\npublic-keys:\n  - ${key}\n`);
  await writeFile(join(dir, 'user-data'), '#cloud-config\nruncmd:\n  - [echo, seeded]\n');
  await writeFile(
    join(dir, 'network-config'),
    'version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: "52:54:00:aa:bb:cc"\n    addresses: [192.0.2.10/24]\n    gateway4: 192.0.2.1\n    nameservers:\n      addresses: [192.0.2.53]\n      search: [example.org]\n',
  );
  return dir;
}

async function configDriveTree(): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'openstack/latest'), { recursive: true });
  await writeFile(join(dir, 'openstack/latest/meta_data.json'), JSON.stringify({ uuid: 'cd-uuid-1', hostname: 'drive-host', public_keys: { k: key } }));
  await writeFile(
    join(dir, 'openstack/latest/network_data.json'),
    JSON.stringify({ links: [{ id: 'l0', ethernet_mac_address: '52:54:00:00:00:01' }], networks: [{ id: 'n0', link: 'l0', type: 'ipv4_dhcp' }] }),
  );
  await writeFile(join(dir, 'openstack/latest/user_data'), '#!/bin/sh\necho drive\n');
  return dir;
}

describe('local seeds', () => {
  it('NoCloud on a genisoimage ISO labelled cidata: identity, hostname, keys, user data, network-config v2', async () => {
    const { base, probe } = await fakeSystem();
    run('genisoimage', ['-quiet', '-o', join(base, 'dev/vdb'), '-V', 'cidata', '-J', '-R', await noCloudTree()]);
    await symlink('../../vdb', join(base, 'dev/disk/by-label/cidata'));
    const found = await discoverMedium(probe);
    expect(found?.raw.source.kind).toBe('nocloud');
    const ctx = await normaliseContext(found!.raw, { id: 'x', source: 'metadata' });
    expect(found?.raw.instanceId).toBe('iid-nocloud-1');
    expect(ctx.hostname).toBe('seeded');
    expect(ctx.sshKeys.keys).toEqual([key]);
    expect(ctx.cloudConfig?.runcmd).toBeDefined();
    // the document reaches the context as it is (no ETHn_* detour), mapped with its file
    expect(found?.raw.networkDocument).toMatchObject({ format: 'network-config', file: 'network-config' });
    expect(Object.keys(found?.raw.variables ?? {}).filter((k) => /^ETH\d/u.test(k))).toEqual([]);
    expect(ctx.net.origin).toBe('network-config');
    expect(ctx.net.model.devices).toEqual([
      expect.objectContaining({ kind: 'ethernet', id: 'nic0', match: { macaddress: '52:54:00:aa:bb:cc' }, addresses: [{ address: '192.0.2.10', prefix: 24, family: 4 }], routes: [expect.objectContaining({ to: { address: '0.0.0.0', prefix: 0, family: 4 }, via: '192.0.2.1' })] }),
    ]);
    expect(ctx.dns).toEqual({ nameservers: ['192.0.2.53'], search: ['example.org'] });
    await found?.close();
  });

  it('an OpenStack config drive made by xorriso (label config-2)', async () => {
    const { base, probe } = await fakeSystem();
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', join(base, 'dev/sr1'), '-V', 'config-2', '-J', '-R', await configDriveTree()]);
    await symlink('../../sr1', join(base, 'dev/disk/by-label/config-2'));
    const found = await discoverMedium(probe);
    expect(found?.raw.source.kind).toBe('config-drive');
    expect(found?.raw.instanceId).toBe('cd-uuid-1');
    expect(found?.raw.variables).toMatchObject({ SET_HOSTNAME: 'drive-host', USER_DATA_ENCODING: 'base64' });
    expect(Object.keys(found?.raw.variables ?? {}).filter((k) => /^ETH\d/u.test(k))).toEqual([]);
    expect(found?.raw.networkDocument).toMatchObject({ format: 'network_data.json', file: 'openstack/latest/network_data.json' });
    const ctx = await normaliseContext(found!.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.origin).toBe('openstack/latest/network_data.json');
    expect(ctx.net.model.devices).toEqual([expect.objectContaining({ kind: 'ethernet', match: { macaddress: '52:54:00:00:00:01' }, dhcp4: true })]);
    await found?.close();
  });

  it('a context medium wins over a seed; the seed is named in the attempts', async () => {
    const { base, probe } = await fakeSystem();
    run('genisoimage', ['-quiet', '-o', join(base, 'dev/vdb'), '-V', 'cidata', '-J', '-R', await noCloudTree()]);
    await symlink('../../vdb', join(base, 'dev/disk/by-label/cidata'));
    await writeFile(join(base, 'dev/sr0'), writeIso([{ path: 'context.sh', data: Buffer.from(renderContextSh({ SET_HOSTNAME: 'from-context' })) }], { volumeId: 'CONTEXT' }));
    // the seed is first in device order here: it is still only the fallback
    await writeFile(join(base, 'dev/hdc'), await readFile(join(base, 'dev/vdb')));
    const found = await discoverMedium(probe);
    expect(found?.raw.source.kind).toBe('block-device');
    expect(found?.raw.variables['SET_HOSTNAME']).toBe('from-context');
    expect(found?.attempts.map((a) => a.result).join('\n')).toMatch(/nocloud seed/);
    await found?.close();
  });

  it('seeds as directories with --source; a seed whose meta-data is not YAML gives warnings, not a crash', async () => {
    const dir = await noCloudTree();
    const opened = await openExplicitSource(dir);
    expect(opened.raw.source.kind).toBe('nocloud');
    await writeFile(join(dir, 'meta-data'), 'instance-id: [unclosed\n');
    const bad = await openExplicitSource(dir);
    expect(bad.raw.instanceId).toBeUndefined();
    expect(bad.raw.warnings.some((w) => w.variable === 'meta-data' && /not YAML/u.test(w.message))).toBe(true);
    const drive = await openExplicitSource(await configDriveTree());
    expect(drive.raw.source.kind).toBe('config-drive');
  });

  it('a NoCloud instance-id is used as given (iid-nocloud-1, not iid-iid-nocloud-1); an EC2-style one keeps its iid- namespace', async () => {
    const root = new DirectoryRoot(await scratchRoot());
    const dir = await noCloudTree();
    const loaded = await loadContext({ source: dir, root });
    expect(loaded.context.instanceId).toBe('iid-nocloud-1');
    expect(loaded.context.instanceIdSource).toBe('metadata');
    await loaded.close();
    await writeFile(join(dir, 'meta-data'), 'instance-id: i-0abc\nlocal-hostname: seeded\n');
    const ec2 = await loadContext({ source: dir, root });
    expect(ec2.context.instanceId).toBe('iid-i-0abc');
    await ec2.close();
  });

  it("NoCloud's network documents: the network-config file wins over meta-data network-interfaces, which wins over meta-data network-config; the losers are named", async () => {
    const dir = await noCloudTree();
    const eni = 'network-interfaces: |\n  auto eth0\n  iface eth0 inet static\n    address 198.51.100.5/24\n    gateway 198.51.100.1\n    frobnicate yes\n';
    const v1 = 'network-config:\n  version: 1\n  config:\n    - type: physical\n      name: eth0\n      mac_address: "52:54:00:12:34:56"\n      subnets:\n        - type: static\n          address: 10.0.0.5/24\n          routez: []\n    - type: nameserver\n      address: [10.0.0.53]\n      search: [lan]\n';
    await writeFile(join(dir, 'meta-data'), `instance-id: iid-nocloud-1\n${eni}${v1}`);
    const all = await openExplicitSource(dir);
    expect(all.raw.networkDocument).toMatchObject({ format: 'network-config', file: 'network-config' });
    expect(all.raw.networkDocument?.key).toBeUndefined();
    expect(all.raw.warnings.map((w) => w.message)).toEqual(expect.arrayContaining([
      "meta-data network-interfaces not applied: network-config wins (cloud-init's precedence)",
      "meta-data network-config not applied: network-config wins (cloud-init's precedence)",
    ]));
    await all.close();

    // no network-config file: the ENI text in meta-data, its notes at their lines of meta-data
    await rm(join(dir, 'network-config'));
    const legacy = await openExplicitSource(dir);
    expect(legacy.raw.networkDocument).toMatchObject({ format: 'eni', file: 'meta-data', key: 'network-interfaces' });
    expect(legacy.raw.warnings.map((w) => w.message)).toContain("meta-data network-config not applied: meta-data network-interfaces wins (cloud-init's precedence)");
    const eniCtx = await normaliseContext(legacy.raw, { id: 'x', source: 'metadata' });
    expect(eniCtx.net.origin).toBe('meta-data network-interfaces');
    expect(eniCtx.net.model.devices).toEqual([expect.objectContaining({ id: 'eth0', addresses: [{ address: '198.51.100.5', prefix: 24, family: 4 }] })]);
    const frob = eniCtx.warnings.find((w) => w.message.includes('frobnicate'));
    expect(frob?.network).toMatchObject({ file: 'meta-data', line: 7 });
    expect(frob?.message).toMatch(/^unknown: network-interfaces: .*\(meta-data:7\)/u);
    await legacy.close();

    // only meta-data's network-config: mapped in place, notes at their lines of meta-data
    await writeFile(join(dir, 'meta-data'), `instance-id: iid-nocloud-1\n${v1}`);
    const inMeta = await openExplicitSource(dir);
    expect(inMeta.raw.networkDocument).toMatchObject({ format: 'network-config', file: 'meta-data', key: 'network-config' });
    expect(inMeta.raw.warnings.filter((w) => /not applied/u.test(w.message))).toEqual([]);
    const ctx = await normaliseContext(inMeta.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.model.devices).toEqual([expect.objectContaining({ match: expect.objectContaining({ macaddress: '52:54:00:12:34:56' }) as unknown, addresses: [{ address: '10.0.0.5', prefix: 24, family: 4 }] })]);
    expect(ctx.dns).toEqual({ nameservers: ['10.0.0.53'], search: ['lan'] });
    const routez = ctx.warnings.find((w) => w.message.includes('routez'));
    expect(routez?.network).toMatchObject({ file: 'meta-data', line: 11, what: 'unknown', path: 'network-config.config[0].subnets[0].routez' });
    await inMeta.close();
  });
});
