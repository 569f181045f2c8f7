// Seed media from `vmctx make-iso --nocloud / --config-drive`: laid out as cloud-init's NoCloud and
// ConfigDrive datasources expect, read back by `vmctx show --source` with the context we gave, and
// read exactly as the same seed made by genisoimage (as cloud-localds does) or xorriso.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IsoImage } from '../../src/formats/iso9660/reader.js';
import { bufferSource } from '../../src/formats/iso9660/source.js';
import { configDriveFiles, noCloudFiles, seedKindForLabel } from '../../src/provider/media.js';
import { vmctx } from '../helpers/cli.js';
import { fakeKey } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const key = fakeKey('ssh-ed25519', 'seed');
const USER_DATA = '#cloud-config\nruncmd:\n  - [echo, seeded]\n';
const NETWORK_V2 = 'version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: "52:54:00:aa:bb:cc"\n    addresses: [192.0.2.10/24]\n    gateway4: 192.0.2.1\n    nameservers:\n      addresses: [192.0.2.53]\n      search: [example.org]\n';
const NETWORK_DATA = JSON.stringify({
  links: [{ id: 'l0', type: 'phy', ethernet_mac_address: '52:54:00:00:00:01' }],
  networks: [{ id: 'n0', link: 'l0', type: 'ipv4', ip_address: '198.51.100.7', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '198.51.100.1' }] }],
  services: [{ type: 'dns', address: '198.51.100.53' }],
});

interface Shown {
  source: { label?: string; kind: string; path: string };
  instanceId: string;
  variables: Record<string, string>;
  context: Record<string, unknown>;
  sourceAttempts: unknown;
}

function show(path: string): Shown {
  const r = vmctx(['show', '--source', path, '--json', '--show-secrets']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Shown;
}

/** What a reader makes of a medium, without where it was read from. */
function readAs(shown: Shown): unknown {
  return { ...shown, source: { ...shown.source, path: '(where it was read)' } };
}

async function isoNames(path: string): Promise<string[]> {
  const image = await IsoImage.open(bufferSource(await readFile(path)));
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await image.list(dir)) {
      const p = dir === '/' ? e.name : `${dir.slice(1)}/${e.name}`;
      if (e.isDirectory) await walk(`/${p}`);
      else out.push(p);
    }
  };
  await walk('/');
  return out.sort();
}

/** The files another reader (isoinfo, from genisoimage) sees through Rock Ridge or Joliet, as the kernel's mount would. */
function isoinfoFiles(path: string, scheme: '-R' | '-J'): string[] {
  const listed = run('isoinfo', [scheme, '-f', '-i', path]).toString().split('\n').filter((l) => l !== '');
  return listed.filter((l) => !listed.some((other) => other.startsWith(`${l}/`))).map((l) => l.slice(1)).sort();
}

describe('seed files (pure)', () => {
  it('NoCloud: meta-data generated from --instance-id/--hostname, user-data always there (empty when none), network-config only when given', () => {
    const seed = noCloudFiles({ instanceId: 'iid-abc', hostname: 'web-1' });
    expect(seed.instanceId).toBe('iid-abc');
    expect(seed.files.map((f) => f.path)).toEqual(['meta-data', 'user-data']);
    expect(Buffer.from(seed.files[0]?.data ?? []).toString()).toBe('instance-id: iid-abc\nlocal-hostname: web-1\n');
    expect(seed.files[1]?.data.length).toBe(0);
    // like cloud-localds: iid-local01 when no id is given
    expect(noCloudFiles({}).instanceId).toBe('iid-local01');
  });

  it('refuses what would make a seed no datasource reads, with the option and file named', () => {
    const doc = (text: string, from = 'f'): { data: Buffer; from: string } => ({ data: Buffer.from(text), from });
    expect(() => noCloudFiles({ metaData: doc('local-hostname: x\n', 'md.yaml') })).toThrow(/--meta-data md.yaml: needs an instance-id/u);
    expect(() => noCloudFiles({ metaData: doc('instance-id: [x\n', 'md.yaml') })).toThrow(/--meta-data md.yaml: not YAML/u);
    expect(() => noCloudFiles({ metaData: doc('instance-id: a\n'), instanceId: 'b' })).toThrow(/not both/u);
    expect(() => noCloudFiles({ networkConfig: doc('{"links": []}', 'net.json') })).toThrow(/--network-config net.json: a NoCloud seed takes network config version 1 or 2/u);
    expect(() => noCloudFiles({ hostname: 'bad host' })).toThrow(/--hostname "bad host": not a host name/u);
    expect(() => noCloudFiles({ instanceId: 'a\nb' })).toThrow(/--instance-id/u);
    expect(() => configDriveFiles({ metaData: doc('{"hostname": "x"}', 'md.json') })).toThrow(/md.json: needs a "uuid"/u);
    expect(() => configDriveFiles({ metaData: doc('hostname: x', 'md.json') })).toThrow(/md.json: not JSON/u);
    expect(() => configDriveFiles({ networkConfig: doc(NETWORK_V2, 'net.yaml') })).toThrow(/net.yaml: not JSON/u);
    expect(() => configDriveFiles({ networkConfig: doc('{"version": 2}', 'net.json') })).toThrow(/network_data.json/u);
    expect(seedKindForLabel('CIDATA')).toBe('nocloud');
    expect(seedKindForLabel('config-2')).toBe('config-drive');
    expect(seedKindForLabel('CONTEXT')).toBeUndefined();
  });
});

describe('vmctx make-iso --nocloud / --config-drive', () => {
  it('NoCloud: label cidata, user-data/meta-data/network-config and no context.sh; show reads back what we gave; genisoimage -volid cidata -joliet -rock of the same files reads the same', async () => {
    const dir = await tempDir();
    const files = join(dir, 'files');
    await mkdir(files);
    await writeFile(join(files, 'user-data'), USER_DATA);
    await writeFile(join(files, 'meta-data'), `instance-id: iid-seed-7\nlocal-hostname: seeded\npublic-keys:\n  - ${key}\n`);
    await writeFile(join(files, 'network-config'), NETWORK_V2);
    const ours = join(dir, 'ours.iso');
    const made = vmctx(['make-iso', '-o', ours, '--nocloud', '--user-data', join(files, 'user-data'), '--meta-data', join(files, 'meta-data'), '--network-config', join(files, 'network-config')]);
    expect(made.code).toBe(0);
    expect(made.stderr).toMatch(/label cidata, NoCloud seed, instance iid-seed-7/u);
    expect(await isoNames(ours)).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(isoinfoFiles(ours, '-R')).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(isoinfoFiles(ours, '-J')).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(run('isoinfo', ['-d', '-i', ours]).toString()).toMatch(/^Volume id: cidata$/mu);
    expect(run('isoinfo', ['-R', '-x', '/user-data', '-i', ours]).toString()).toBe(USER_DATA);
    const image = await IsoImage.open(bufferSource(await readFile(ours)));
    expect(image.info.volumeId).toBe('cidata');

    const shown = show(ours);
    expect(shown.source.kind).toBe('nocloud');
    expect(shown.source.label).toBe('cidata');
    expect(shown.instanceId).toBe('iid-seed-7');
    expect(shown.context['hostname']).toBe('seeded');
    expect(shown.context['sshKeys']).toMatchObject({ keys: [key] });
    expect(Buffer.from(shown.variables['USER_DATA'] ?? '', 'base64').toString()).toBe(USER_DATA);
    expect(shown.context['net']).toMatchObject({ origin: 'network-config', model: { devices: [{ match: { macaddress: '52:54:00:aa:bb:cc' }, addresses: [{ address: '192.0.2.10', prefix: 24 }], routes: [{ via: '192.0.2.1' }] }] } });

    // cloud-localds: genisoimage -output seed.iso -volid cidata -joliet -rock user-data meta-data
    const theirs = join(dir, 'theirs.iso');
    run('genisoimage', ['-quiet', '-output', theirs, '-volid', 'cidata', '-joliet', '-rock', 'user-data', 'meta-data', 'network-config'], { cwd: files });
    expect(readAs(show(theirs))).toEqual(readAs(shown));
  });

  it('NoCloud from --instance-id/--hostname', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ud'), USER_DATA);
    const generated = join(dir, 'gen.iso');
    expect(vmctx(['make-iso', '-o', generated, '--nocloud', '--user-data', join(dir, 'ud'), '--instance-id', 'iid-1', '--hostname', 'web-1']).code).toBe(0);
    const shown = show(generated);
    expect(shown.instanceId).toBe('iid-1');
    expect(shown.context['hostname']).toBe('web-1');
  });

  it('--label cidata alone makes a seed (no context.sh, which made show ignore the seed), read as one', async () => {
    const dir = await tempDir();
    const byLabel = join(dir, 'label.iso');
    const made = vmctx(['make-iso', '-o', byLabel, '--label', 'cidata']);
    expect(made.code).toBe(0);
    expect(await isoNames(byLabel)).toEqual(['meta-data', 'user-data']);
    const seed = show(byLabel);
    expect(seed.source.kind).toBe('nocloud');
    expect(seed.instanceId).toBe('iid-local01');
  });

  it('config drive: label config-2, openstack/{2012-08-10,latest} and ec2/latest as nova lays them out; show reads back what we gave; xorriso of the same tree reads the same', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ud'), USER_DATA);
    await writeFile(join(dir, 'meta.json'), JSON.stringify({ uuid: '3f2504e0-4f89-11d3-9a0c-0305e82c3301', hostname: 'drive-host', name: 'drive-host', public_keys: { k: key } }));
    await writeFile(join(dir, 'net.json'), NETWORK_DATA);
    const ours = join(dir, 'ours.iso');
    const made = vmctx(['make-iso', '-o', ours, '--config-drive', '--user-data', join(dir, 'ud'), '--meta-data', join(dir, 'meta.json'), '--network-config', join(dir, 'net.json')]);
    expect(made.code).toBe(0);
    expect(await isoNames(ours)).toEqual([
      'ec2/latest/meta-data.json',
      'ec2/latest/user-data',
      'openstack/2012-08-10/meta_data.json',
      'openstack/2012-08-10/user_data',
      'openstack/latest/meta_data.json',
      'openstack/latest/network_data.json',
      'openstack/latest/user_data',
    ]);
    expect(isoinfoFiles(ours, '-R')).toEqual(await isoNames(ours));
    expect(isoinfoFiles(ours, '-J')).toEqual(await isoNames(ours));
    expect(run('isoinfo', ['-d', '-i', ours]).toString()).toMatch(/^Volume id: config-2$/mu);
    const image = await IsoImage.open(bufferSource(await readFile(ours)));
    expect(image.info.volumeId).toBe('config-2');
    const ec2 = JSON.parse((await image.readFile((await image.stat('ec2/latest/meta-data.json'))!, { maxBytes: 4096 })).toString()) as Record<string, string>;
    expect(ec2).toEqual({ 'instance-id': '3f2504e0-4f89-11d3-9a0c-0305e82c3301', hostname: 'drive-host', 'local-hostname': 'drive-host' });

    const shown = show(ours);
    expect(shown.source.kind).toBe('config-drive');
    expect(shown.instanceId).toBe('iid-3f2504e0-4f89-11d3-9a0c-0305e82c3301');
    expect(shown.context['hostname']).toBe('drive-host');
    expect(shown.context['sshKeys']).toMatchObject({ keys: [key] });
    expect(Buffer.from(shown.variables['USER_DATA'] ?? '', 'base64').toString()).toBe(USER_DATA);
    expect(shown.context['net']).toMatchObject({ origin: 'openstack/latest/network_data.json', model: { devices: [{ match: { macaddress: '52:54:00:00:00:01' }, addresses: [{ address: '198.51.100.7' }], routes: [{ via: '198.51.100.1' }] }] } });

    const tree = join(dir, 'tree');
    for (const v of ['2012-08-10', 'latest']) {
      await mkdir(join(tree, 'openstack', v), { recursive: true });
      await writeFile(join(tree, 'openstack', v, 'meta_data.json'), await readFile(join(dir, 'meta.json')));
      await writeFile(join(tree, 'openstack', v, 'user_data'), USER_DATA);
    }
    await writeFile(join(tree, 'openstack/latest/network_data.json'), NETWORK_DATA);
    const theirs = join(dir, 'theirs.iso');
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', theirs, '-V', 'config-2', '-J', '-R', tree]);
    expect(readAs(show(theirs))).toEqual(readAs(shown));
  });

  it('config drive from --instance-id/--hostname', async () => {
    const dir = await tempDir();
    const out = join(dir, 'cd.iso');
    expect(vmctx(['make-iso', '-o', out, '--config-drive', '--instance-id', 'i-0abc', '--hostname', 'h1']).code).toBe(0);
    const shown = show(out);
    expect(shown.instanceId).toBe('iid-i-0abc');
    expect(shown.context['hostname']).toBe('h1');
  });

  it('mixing a context CD and a seed, or a seed kind and a label it is not found by, is a usage error (exit 2) that says why', async () => {
    const dir = await tempDir();
    const out = join(dir, 'x.iso');
    const cases: Array<[string[], RegExp]> = [
      [['--nocloud', '--var', 'A=1'], /--var: these make a context.sh, which a NoCloud seed \(label cidata\) does not have/u],
      [['--label', 'config-2', '--vars-file', join(dir, 'v')], /--vars-file: these make a context.sh, which a config drive/u],
      [['--user-data', join(dir, 'u')], /--user-data: options of a seed medium; add --nocloud or --config-drive/u],
      [['--nocloud', '--label', 'CONTEXT'], /a NoCloud seed is found by the label cidata/u],
      [['--nocloud', '--config-drive'], /one medium is one kind/u],
      [['--nocloud', '--user-data', join(dir, 'missing')], /--user-data \S+missing: no such file or directory/u],
    ];
    for (const [args, message] of cases) {
      const r = vmctx(['make-iso', '-o', out, ...args]);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
    }
  });
});
