// Real guest, issue 24 item 1: vfat seeds and config drives, read without mounting. One boot of a
// Debian 13 (trixie, netplan) image with two extra virtio disks made by mkfs.vfat + mcopy/mmd:
//   vdb: a NoCloud seed labelled `cidata` (FAT12): meta-data (instance-id, local-hostname),
//        user-data (a cloud-config with a user and her key, and a write_files entry), and
//        network-config v2;
//   vdc: an OpenStack config drive labelled `CONFIG-2` (FAT16, upper case as many tools make it):
//        openstack/latest/meta_data.json, user_data, network_data.json.
// The NoCloud seed is applied (hostname, the file, the user's authorized_keys); the config drive
// is read too and named in the run's report as a seed that was seen and not used (the NoCloud
// seed came first), so both FAT layouts are read by the agent in the real guest.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeFatImage } from '../helpers/fatimage.js';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, readGuestFile, sections, statGuestFile, type BootResult, type Flavour } from './guest.js';

const FLAVOUR: Flavour = 'trixie-netplan';
const INSTANCE_ID = 'iid-vfat-24';
const HOSTNAME = 'vfat-guest';
const DRIVE_UUID = 'config-drive-24';
const DRIVE_HOSTNAME = 'drive-guest';
const NIC = 'ens3';
const FILE_PATH = '/var/lib/e2e-vfat/hello.txt';
const FILE_TEXT = 'written from a vfat NoCloud seed\n';

/** Run by the harness's reporter before power-off: the run's report (on /run, gone after power-off). */
const PROBE = `#!/bin/bash
echo "== report"
cat /run/vmctx/report.json 2>&1; echo
echo "== labels"
ls -1 /dev/disk/by-label/ 2>&1
echo "== end"
`;

interface Attempt {
  readonly path: string;
  readonly result: string;
}

let work: string;
let image: string;
let key: string;
let result: BootResult;
let s = new Map<string, string>();

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-vfat-');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dora@e2e', '-f', join(work, 'dora')]);
  key = (await readFile(join(work, 'dora.pub'), 'utf8')).trim();
  image = await buildImage(work, { withAgent: true, flavour: FLAVOUR, files: { '/usr/local/sbin/vmctx-e2e-extra': PROBE } });
}, 600_000);

describe('issue 24: a vfat NoCloud seed and a vfat config drive in a real guest', () => {
  it('boots with both disks; the cidata seed is the context', async () => {
    const seed = await makeFatImage(
      {
        label: 'cidata',
        sizeKiB: 1440,
        files: {
          'meta-data': `instance-id: ${INSTANCE_ID}\nlocal-hostname: ${HOSTNAME}\n`,
          'user-data': `#cloud-config\nusers:\n  - name: dora\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - ${key}\nwrite_files:\n  - path: ${FILE_PATH}\n    permissions: '0644'\n    content: |\n      ${FILE_TEXT.trim()}\n`,
          'network-config': `version: 2\nethernets:\n  ${NIC}:\n    dhcp4: true\n`,
        },
      },
      'cidata.img',
    );
    const drive = await makeFatImage(
      {
        label: 'CONFIG-2',
        fatBits: 16,
        sizeKiB: 16384,
        files: {
          'openstack/latest/meta_data.json': JSON.stringify({ uuid: DRIVE_UUID, hostname: DRIVE_HOSTNAME, name: DRIVE_HOSTNAME }),
          'openstack/latest/user_data': '#cloud-config\nwrite_files:\n  - path: /var/lib/e2e-vfat/from-drive.txt\n    content: must not be written\n',
          'openstack/latest/network_data.json': JSON.stringify({ links: [], networks: [] }),
        },
      },
      'config-2.img',
    );
    // alone the boot takes about 3 minutes under TCG; the harness allows for a machine shared with other guests
    result = await boot(image, work, { flavour: FLAVOUR, disks: [seed, drive], timeoutMs: 900_000 });
    s = sections(result.report);
    process.stdout.write(`vfat e2e: boot to power-off ${result.wallMs} ms\n${result.report}\n`);
    const tail = result.console.slice(-6000);
    expect(s.has('end'), `the probe did not finish\n${tail}`).toBe(true);
    expect(s.get('labels')?.split('\n'), tail).toEqual(expect.arrayContaining(['cidata', 'CONFIG-2']));
    expect(result.console).toMatch(new RegExp(`vmctx: context from /dev/disk/by-label/cidata \\(label cidata\\), instance ${INSTANCE_ID}`, 'u'));
    expect(result.console).not.toMatch(/vmctx-\w+\.service: (Failed|start operation timed out)/u);
  }, 1_200_000);

  it('the seed is applied: hostname, the write_files entry, the user with her key', async () => {
    expect(result.report).toMatch(new RegExp(`^${HOSTNAME}$`, 'mu'));
    expect((await readGuestFile(image, '/etc/hostname'))?.trim()).toBe(HOSTNAME);
    expect(await readGuestFile(image, FILE_PATH)).toBe(FILE_TEXT);
    expect(await readGuestFile(image, '/var/lib/e2e-vfat/from-drive.txt')).toBeUndefined();
    const passwd = await readGuestFile(image, '/etc/passwd');
    expect(passwd?.split('\n').some((l) => l.startsWith('dora:') && l.endsWith(':/home/dora:/bin/bash')), passwd).toBe(true);
    expect((await readGuestFile(image, '/home/dora/.ssh/authorized_keys'))?.split('\n')).toContain(key);
    expect((await statGuestFile(image, '/home/dora/.ssh/authorized_keys'))?.mode).toBe('0600');
  });

  it('the report names the vfat seed as the source (fat12, label cidata) and the CONFIG-2 drive as read and not used', () => {
    const report = JSON.parse(s.get('report') ?? '{}') as { source?: { kind?: string; label?: string; scheme?: string; path?: string }; sourceAttempts?: Attempt[]; instanceId?: string };
    expect(report.source).toMatchObject({ kind: 'nocloud', label: 'cidata', scheme: 'fat12', path: '/dev/disk/by-label/cidata' });
    expect(report.instanceId).toBe(INSTANCE_ID);
    expect(report.sourceAttempts).toEqual(expect.arrayContaining([{ path: '/dev/disk/by-label/CONFIG-2', result: 'a config-drive seed (used only when no context medium is found)' }]));
    // `vmctx status --long`, as the reporter printed it: the stages took their context from the seed
    expect(result.report).toMatch(/context from \/dev\/disk\/by-label\/cidata/u);
  });
});
