// Real guest, issue 24: no context medium at all; QEMU's `-smbios type=1,serial=ds=nocloud;s=URL`
// names a NoCloud seed on a node HTTP server on the host's loopback, which the guest reaches through
// slirp's guestfwd at 10.0.2.100:80 (restrict=on stays). One boot of Debian 13 (trixie, netplan): the
// local stage reads the serial and waits for the network, the network stage fetches meta-data,
// user-data, network-config (and asks for vendor-data) and applies them; the final stage uses the
// copy fetched in this boot. Read back from the disk after power-off.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, guestfwdRelay, readGuestFile, type BootResult, type Flavour } from './guest.js';

const FLAVOUR: Flavour = 'trixie-netplan';
const SEED_HOST = '10.0.2.100';
const SERIAL = `ds=nocloud;s=http://${SEED_HOST}:80/`;
const INSTANCE_ID = 'iid-smbios-24';
const HOSTNAME = 'smbios-guest';
const WRITTEN = '/var/lib/e2e-smbios/hello.txt';
const NIC = 'ens3';
const RUNCMD_OUT = '/var/lib/e2e-smbios/runcmd.txt';
/** The guest needs a network before it can fetch its seed: DHCP by systemd-networkd, as an image author would ship it. */
const DHCP_NETWORK = '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n';
/**
 * No drop-in and no /etc/vmctx/config: the units' timeouts and the metadata budget are the product's
 * defaults, so this boot tests what users get (vmctx-network.service's TimeoutStartSec, the 10 s
 * first-boot budget).
 */
const EXTRA = `#!/bin/sh
echo "NETSTAGE $(systemctl show -p ActiveState --value vmctx-network.service) $(systemctl show -p Result --value vmctx-network.service) $(systemctl show -p ExecMainStatus --value vmctx-network.service)"
journalctl -b -u vmctx-network.service --no-pager -o cat | tail -30
echo "SERIAL $(cat /sys/class/dmi/id/product_serial)"
`;

let work: string;
let image: string;
let server: Server;
let relay: string;
let key: string;
const requests: string[] = [];
let result: BootResult;

beforeAll(async () => {
  // (not "smbios" in the name: the harness refuses a nicExtra (the relay's path) that says smb)
  work = await tempDir('vmctx-e2e-dmiseed-');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'smbios@e2e', '-f', join(work, 'k')]);
  key = (await readFile(join(work, 'k.pub'), 'utf8')).trim();
  const files: Record<string, string> = {
    '/meta-data': `instance-id: ${INSTANCE_ID}\nlocal-hostname: ${HOSTNAME}\npublic-keys:\n  - ${key}\n`,
    // runcmd gives the final stage work, so it runs and shows it uses the network stage's copy
    '/user-data': `#cloud-config\nwrite_files:\n  - path: ${WRITTEN}\n    content: "seed from the SMBIOS serial\\n"\n    permissions: '0644'\nruncmd:\n  - [sh, -c, 'echo runcmd-ran > ${RUNCMD_OUT}']\n`,
    '/network-config': `version: 2\nethernets:\n  ${NIC}:\n    dhcp4: true\n`,
  };
  server = createServer((req, res) => {
    requests.push(`${req.method ?? '?'} ${req.url ?? '?'}`);
    const body = req.method === 'GET' ? files[req.url ?? ''] : undefined;
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay = await guestfwdRelay(work, (server.address() as AddressInfo).port);
  image = await buildImage(work, {
    withAgent: true,
    flavour: FLAVOUR,
    files: { '/etc/systemd/network/99-dhcp.network': DHCP_NETWORK, '/usr/local/sbin/vmctx-e2e-extra': EXTRA },
    links: {
      '/etc/systemd/system/multi-user.target.wants/systemd-networkd.service': '/lib/systemd/system/systemd-networkd.service',
      '/etc/systemd/system/sockets.target.wants/systemd-networkd.socket': '/lib/systemd/system/systemd-networkd.socket',
      '/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service': '/lib/systemd/system/systemd-networkd-wait-online.service',
    },
  });
}, 600_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
});

describe('issue 24: a NoCloud seed named by the SMBIOS serial, fetched over guestfwd, in a real guest', () => {
  it('boots with only the serial: the local stage waits, the network stage fetches the seed and names its source', async () => {
    // QEMU splits -smbios at commas only: the ";" of the serial goes through as it is (no shell here)
    result = await boot(image, work, { flavour: FLAVOUR, smbios: [`type=1,serial=${SERIAL}`], nicExtra: `guestfwd=tcp:${SEED_HOST}:80-${relay}`, timeoutMs: 1_500_000 });
    const tail = result.console.slice(-6000);
    process.stdout.write(`smbios e2e: boot to power-off ${result.wallMs} ms; seed server requests: ${JSON.stringify(requests)}\n${result.report}\n`);
    expect(result.report, tail).toContain(`SERIAL ${SERIAL}`);
    // the local stage saw the serial and left the seed to the network stage
    expect(result.console, tail).toMatch(/waits for the network stage: an http\(s\) NoCloud seed \(nocloud-net: ds=nocloud;s=… in the SMBIOS serial\)/u);
    expect(result.report, tail).toMatch(/NETSTAGE active success 0/u);
    expect(result.console).toMatch(new RegExp(`context from http://10\\.0\\.2\\.100:80/ \\(nocloud-net: ds=nocloud;s=… in the SMBIOS serial\\), instance ${INSTANCE_ID}`, 'u'));
    // the final stage used this boot's fetch
    expect(result.console).toMatch(/context from http:\/\/10\.0\.2\.100:80\/ \(nocloud-net: ds=nocloud;s=… in the SMBIOS serial, the copy the network stage fetched in this boot\)/u);
    // vmctx status names the source
    expect(result.report).toMatch(new RegExp(`instance: ${INSTANCE_ID} \\(context from http://10\\.0\\.2\\.100:80/ \\(nocloud-net: ds=nocloud;s=… in the SMBIOS serial`, 'u'));
    expect(result.console).not.toMatch(/vmctx-\w+\.service: (Failed|start operation timed out)/u);
  }, 1_600_000);

  it('the seed server saw GETs of the four seed files only (no token PUT, no other path)', () => {
    // the network stage fetched (the daemon's checks after the boot may ask again)
    // (a request cut by its timeout under load is asked again: the order, not the count, is checked)
    expect(requests.indexOf('GET /meta-data'), JSON.stringify(requests)).toBe(0);
    for (const path of ['/user-data', '/network-config', '/vendor-data']) expect(requests).toContain(`GET ${path}`);
    expect(requests.filter((r) => !['GET /meta-data', 'GET /user-data', 'GET /network-config', 'GET /vendor-data'].includes(r))).toEqual([]);
  });

  it('applied: the hostname, the write_files file, the key; the seed cached for a later boot', async () => {
    expect.soft(await readGuestFile(image, '/etc/hostname')).toBe(`${HOSTNAME}\n`);
    expect.soft(await readGuestFile(image, WRITTEN)).toBe('seed from the SMBIOS serial\n');
    expect.soft(await readGuestFile(image, RUNCMD_OUT)).toBe('runcmd-ran\n');
    expect.soft(await readGuestFile(image, '/root/.ssh/authorized_keys')).toContain(key);
    const cache = await readGuestFile(image, '/var/lib/vmctx/nocloud-net-cache.json');
    expect.soft(cache).toContain(INSTANCE_ID);
  });
});
