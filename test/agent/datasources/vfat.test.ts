// vfat seeds, config drives and context media, made by mkfs.vfat + mcopy/mmd as cloud-localds -f
// vfat and OpenStack's config_drive_format=vfat make them: found through a fake /dev/disk/by-label
// (labels in either case), by --source, by validate, and by the last-resort signature scan.
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverMedium, openExplicitSource } from '../../../src/agent/datasources/contextmedium.js';
import type { Probe } from '../../../src/agent/datasources/datasource.js';
import { normaliseContext } from '../../../src/agent/context/context.js';
import { validateSource } from '../../../src/agent/validate.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { writeIso } from '../../../src/formats/iso9660/writer.js';
import { fakeKey } from '../../helpers/scratch.js';
import { makeFatImage } from '../../helpers/fatimage.js';
import { tempDir } from '../../helpers/tmp.js';

const key = fakeKey('ssh-ed25519', 'vfat');

const NOCLOUD = {
  'meta-data': `instance-id: iid-vfat-1\nlocal-hostname: vfat-seeded\npublic-keys:\n  - ${key}\n`,
  'user-data': '#cloud-config\nruncmd:\n  - [echo, vfat]\n',
  'network-config': 'version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: "52:54:00:aa:bb:cc"\n    addresses: [192.0.2.10/24]\n',
};

const CONFIG_DRIVE = {
  'openstack/latest/meta_data.json': JSON.stringify({ uuid: 'vfat-drive-1', hostname: 'drive-host', public_keys: { k: key } }),
  'openstack/latest/user_data': '#!/bin/sh\necho drive\n',
  'openstack/latest/network_data.json': JSON.stringify({ links: [{ id: 'l0', ethernet_mac_address: '52:54:00:00:00:01' }], networks: [{ id: 'n0', link: 'l0', type: 'ipv4_dhcp' }] }),
};

async function fakeSystem(): Promise<{ base: string; probe: Probe; devices: string[] }> {
  const base = await tempDir();
  for (const d of ['dev/disk/by-label', 'sys/class/block', 'run']) await mkdir(join(base, d), { recursive: true });
  const devices: string[] = [];
  return { base, devices, probe: { devDir: join(base, 'dev'), sysDir: join(base, 'sys'), runDir: join(base, 'run'), waitMs: 0, pollMs: 20, listBlockDevices: () => Promise.resolve([...devices]) } };
}

/** Puts an image at /dev/NAME and, with a label, its udev by-label link. */
async function attach(base: string, name: string, image: string, byLabel?: string): Promise<void> {
  await copyFile(image, join(base, 'dev', name));
  if (byLabel !== undefined) await symlink(`../../${name}`, join(base, 'dev/disk/by-label', byLabel));
}

describe('vfat media', () => {
  it('a FAT12 NoCloud seed labelled cidata (mkfs.vfat -n cidata), found by label: identity, hostname, keys, user data, network-config', async () => {
    const { base, probe } = await fakeSystem();
    await attach(base, 'vdb', await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD }), 'cidata');
    const found = await discoverMedium(probe);
    expect(found?.raw.source).toMatchObject({ kind: 'nocloud', label: 'cidata', scheme: 'fat12', foundBy: 'label cidata' });
    expect(found?.raw.instanceId).toBe('iid-vfat-1');
    const ctx = await normaliseContext(found!.raw, { id: 'x', source: 'metadata' });
    expect(ctx.hostname).toBe('vfat-seeded');
    expect(ctx.sshKeys.keys).toEqual([key]);
    expect(ctx.cloudConfig?.runcmd).toBeDefined();
    expect(ctx.net.origin).toBe('network-config');
    await found?.close();
  });

  it('upper-case labels: a FAT16 CIDATA seed and a FAT32 CONFIG-2 drive; the NoCloud seed is used, the drive named as read and not used (once: the signature scan skips devices read by label)', async () => {
    const { base, probe, devices } = await fakeSystem();
    devices.push('vdb', 'vdc');
    await attach(base, 'vdc', await makeFatImage({ label: 'CONFIG-2', fatBits: 32, sizeKiB: 34 * 1024, files: CONFIG_DRIVE }), 'CONFIG-2');
    await attach(base, 'vdb', await makeFatImage({ label: 'CIDATA', fatBits: 16, sizeKiB: 16384, files: NOCLOUD }), 'CIDATA');
    const found = await discoverMedium(probe);
    expect(found?.raw.source).toMatchObject({ kind: 'nocloud', label: 'CIDATA', scheme: 'fat16' });
    const results = found?.attempts.map((a) => `${a.path}: ${a.result}`) ?? [];
    expect(results).toEqual([`${join(base, 'dev/disk/by-label/CIDATA')}: a nocloud seed (used only when no context medium is found)`, `${join(base, 'dev/disk/by-label/CONFIG-2')}: a config-drive seed (used only when no context medium is found)`]);
    await found?.close();
  });

  it('a FAT32 config drive labelled config-2: meta_data.json, user_data, network_data.json', async () => {
    const { base, probe } = await fakeSystem();
    await attach(base, 'vdd', await makeFatImage({ label: 'config-2', fatBits: 32, sizeKiB: 34 * 1024, files: CONFIG_DRIVE }), 'config-2');
    const found = await discoverMedium(probe);
    expect(found?.raw.source).toMatchObject({ kind: 'config-drive', label: 'config-2', scheme: 'fat32' });
    expect(found?.raw.instanceId).toBe('vfat-drive-1');
    expect(found?.raw.variables).toMatchObject({ SET_HOSTNAME: 'drive-host', USER_DATA_ENCODING: 'base64' });
    expect(found?.raw.networkDocument).toMatchObject({ format: 'network_data.json', file: 'openstack/latest/network_data.json' });
    const ctx = await normaliseContext(found!.raw, { id: 'x', source: 'metadata' });
    expect(ctx.net.model.devices).toEqual([expect.objectContaining({ kind: 'ethernet', match: { macaddress: '52:54:00:00:00:01' }, dhcp4: true })]);
    await found?.close();
  });

  it('an OpenNebula context on vfat (label CONTEXT, context.sh and an init script) wins over a vfat seed; its files are read through the medium', async () => {
    const { base, probe } = await fakeSystem();
    await attach(base, 'vdb', await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD }), 'cidata');
    const context = await makeFatImage({ label: 'CONTEXT', sizeKiB: 1440, files: { 'context.sh': renderContextSh({ SET_HOSTNAME: 'from-vfat-context', INIT_SCRIPTS: 'init.sh' }), 'init.sh': '#!/bin/sh\necho init\n' } });
    await attach(base, 'vde', context, 'CONTEXT');
    const found = await discoverMedium(probe);
    expect(found?.raw.source).toMatchObject({ kind: 'block-device', label: 'CONTEXT', scheme: 'fat12', variableFiles: ['context.sh'] });
    expect(found?.raw.variables['SET_HOSTNAME']).toBe('from-vfat-context');
    expect(found?.raw.medium.names).toEqual(expect.arrayContaining(['context.sh', 'init.sh']));
    expect((await found?.raw.medium.read('INIT.SH', 1000))?.toString()).toBe('#!/bin/sh\necho init\n');
    const file = await found?.raw.medium.open?.('init.sh');
    const chunks: Buffer[] = [];
    for await (const c of file!.chunks()) chunks.push(Buffer.from(c));
    expect(Buffer.concat(chunks).toString()).toContain('echo init');
    await found?.close();
  });

  it('--source on FAT image files (seed, config drive, context); validate reads them too', async () => {
    const seed = await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD });
    const opened = await openExplicitSource(seed);
    expect(opened.raw.source).toMatchObject({ kind: 'nocloud', foundBy: '--source', scheme: 'fat12' });
    await opened.close();
    const drive = await openExplicitSource(await makeFatImage({ label: 'CONFIG-2', fatBits: 16, sizeKiB: 16384, files: CONFIG_DRIVE }));
    expect(drive.raw.instanceId).toBe('vfat-drive-1');
    await drive.close();
    const ctx = await openExplicitSource(await makeFatImage({ sizeKiB: 1440, files: { 'CONTEXT.SH': "SET_HOSTNAME='upper'\n" } }));
    expect(ctx.raw.variables['SET_HOSTNAME']).toBe('upper');
    // named as the FAT image it is, not as an ISO file
    expect(ctx.raw.source).toMatchObject({ kind: 'fat-file', scheme: 'fat12' });
    await ctx.close();
    expect(await validateSource(seed)).toEqual([]);
    const broken = await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: { ...NOCLOUD, 'user-data': '#cloud-config\nruncmd: [unclosed\n' } });
    const found = await validateSource(broken);
    expect(found.some((d) => d.severity === 'error' && d.file === `${broken}/user-data`)).toBe(true);
  });

  it('the medium budget and the file limits hold on vfat', async () => {
    const { base, probe } = await fakeSystem();
    await attach(base, 'vdb', await makeFatImage({ label: 'CONTEXT', sizeKiB: 1440, files: { 'context.sh': `A='${'x'.repeat(5000)}'\n` } }), 'CONTEXT');
    await expect(discoverMedium({ ...probe, mediumMaxBytes: 1000 })).rejects.toMatchObject({ code: 'ERR_CONTEXT_TOO_LARGE' });
    const seed = await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: { ...NOCLOUD, 'user-data': `#cloud-config\n# ${'y'.repeat(4000)}\n` } });
    await expect(openExplicitSource(seed, '/sys', { mediumMaxBytes: 1000 })).rejects.toMatchObject({ code: 'ERR_MEDIUM_BUDGET' });
  });

  it('the last-resort scan takes a FAT labelled as a seed or a medium, never an unlabelled one (an EFI system partition)', async () => {
    const { base, probe, devices } = await fakeSystem();
    await attach(base, 'vda', await makeFatImage({ sizeKiB: 1440, files: { 'context.sh': "SET_HOSTNAME='esp'\n" } }));
    await attach(base, 'vdb', await makeFatImage({ label: 'CIDATA', sizeKiB: 1440, files: NOCLOUD }));
    devices.push('vda', 'vdb');
    const found = await discoverMedium(probe);
    expect(found?.raw.source).toMatchObject({ kind: 'nocloud', foundBy: 'vfat signature (label "CIDATA")' });
    expect(found?.attempts.map((a) => a.path)).not.toContain(join(base, 'dev/vda'));
    await found?.close();
  });

  it('a damaged vfat seed is an attempt with its ERR_FAT_ reason, not a crash; an ISO beside it is still read', async () => {
    const { base, probe } = await fakeSystem();
    const img = await readFile(await makeFatImage({ label: 'cidata', sizeKiB: 1440, files: NOCLOUD }));
    img.writeUInt16LE(1, 22); // a FAT too small for the clusters
    await writeFile(join(base, 'dev/vdb'), img);
    await symlink('../../vdb', join(base, 'dev/disk/by-label/cidata'));
    await writeFile(join(base, 'dev/sr0'), writeIso([{ path: 'context.sh', data: Buffer.from("SET_HOSTNAME='iso'\n") }], { volumeId: 'CONTEXT' }));
    const found = await discoverMedium(probe);
    expect(found?.raw.variables['SET_HOSTNAME']).toBe('iso');
    const none = await fakeSystem();
    await writeFile(join(none.base, 'dev/vdb'), img);
    await symlink('../../vdb', join(none.base, 'dev/disk/by-label/cidata'));
    const attempts: Array<{ path: string; result: string }> = [];
    expect(await discoverMedium(none.probe, attempts)).toBeUndefined();
    expect(attempts.map((a) => a.result).join('\n')).toMatch(/FAT of 512 bytes cannot map/u);
    await found?.close();
  });
});
