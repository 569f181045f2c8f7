// Real guest, network: a minimal Debian (systemd-networkd installed, not enabled; no ifupdown,
// netplan or NetworkManager) boots with an OpenNebula context CD made by `vmctx make-iso` whose
// ETH0_MAC is the guest NIC's MAC and a static address. It must come up with exactly that address,
// gateway and DNS on the first boot and after a reboot, with the USERNAME user (the key and the
// password) and START_SCRIPT run once; a changed ETH0_IP applied at run time moves the address
// live.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { BUNDLE } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { cryptMatches } from '../helpers/tools.js';
import { boot, buildImage, readGuestFile, writeGuestFile } from './guest.js';

const MAC = '52:54:00:ab:cd:ef';
const PASSWORD = 'Net-Guest-Passw0rd';
// QEMU user networking: 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3; DHCP would give .15
const CONTEXT = {
  VMID: '202',
  SET_HOSTNAME: 'net-guest',
  ETH0_MAC: MAC.toUpperCase(),
  ETH0_IP: '10.0.2.77',
  ETH0_MASK: '255.255.255.0',
  ETH0_GATEWAY: '10.0.2.2',
  ETH0_DNS: '10.0.2.3',
  ETH0_SEARCH_DOMAIN: 'net.e2e',
  // a second NIC the guest does not have: reported and skipped, the rest applies
  ETH1_MAC: '52:54:00:00:00:99',
  ETH1_IP: '192.168.99.5',
  USERNAME: 'netuser',
  PASSWORD,
  START_SCRIPT: 'echo "start script ran on $SET_HOSTNAME" >> /root/start-script.log',
};
let key = '';

let work: string;
let image: string;
let iso: string;

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-net-');
  image = await buildImage(work, { withAgent: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'net@e2e', '-f', join(work, 'key')]);
  key = (await readFile(join(work, 'key.pub'), 'utf8')).trim();
  // the provider side: an OpenNebula-style CONTEXT medium made by vmctx itself, on /dev/sr0
  iso = join(work, 'ctx.iso');
  execFileSync(process.execPath, [BUNDLE, 'make-iso', '-o', iso, ...Object.entries({ ...CONTEXT, SSH_PUBLIC_KEY: key }).flatMap(([k, v]) => ['--var', `${k}=${v}`])]);
}, 600_000);

function field(report: string, name: string): string {
  return new RegExp(`^${name} (.*)$`, 'mu').exec(report)?.[1]?.trim() ?? '';
}

describe('network in a real guest (systemd-networkd)', () => {
  let networkFile: string | undefined;

  it('first boot: exactly the context address, gateway and DNS on the NIC with that MAC', async () => {
    const result = await boot(image, work, { cdrom: iso, mac: MAC });
    process.stdout.write(`network first boot:\n${result.report}\n`);
    expect(field(result.report, 'NETWORKD')).toBe('active');
    const addr = field(result.report, 'ADDR');
    expect(addr, result.console.slice(-4000)).toMatch(/^\S+ 10\.0\.2\.77\/24;$/u);
    expect(field(result.report, 'ROUTE')).toMatch(/^default via 10\.0\.2\.2 dev \S+ proto static/u);
    expect(await readGuestFile(image, '/etc/resolv.conf')).toContain('nameserver 10.0.2.3\nsearch net.e2e\n');
    expect(result.console).toMatch(/ethernets\.eth1: no interface with MAC 52:54:00:00:00:99 on this system/u);
    networkFile = await readGuestFile(image, '/etc/systemd/network/10-vmctx-01-eth0.network');
    expect(networkFile).toContain(`\nPermanentMACAddress=${MAC}\n`);
    expect(await readGuestFile(image, '/etc/hostname')).toBe('net-guest\n');
    // SSH_PUBLIC_KEY goes to USERNAME when there is one (OpenNebula's contract; root gets it when
    // there is none: the daemon scenario's make-iso media), with the context's password
    expect(await readGuestFile(image, '/home/netuser/.ssh/authorized_keys')).toContain(key);
    expect((await readGuestFile(image, '/root/.ssh/authorized_keys')) ?? '').not.toContain(key);
    const hash = ((await readGuestFile(image, '/etc/shadow')) ?? '').split('\n').find((l) => l.startsWith('netuser:'))?.split(':')[1] ?? '';
    expect(cryptMatches(hash, PASSWORD)).toBe(true);
    expect(await readGuestFile(image, '/root/start-script.log')).toBe('start script ran on net-guest\n');
  });

  it('second boot: the same address, nothing re-applied', async () => {
    const result = await boot(image, work, { cdrom: iso, mac: MAC });
    expect(field(result.report, 'ADDR')).toMatch(/^\S+ 10\.0\.2\.77\/24;$/u);
    expect(result.console).not.toMatch(/vmctx: network: applied/u);
    // START_SCRIPT ran once per instance, not again on a reboot
    expect(await readGuestFile(image, '/root/start-script.log')).toBe('start script ran on net-guest\n');
  });

  it('a changed ETH0_IP applied at run time moves the address live and removes nothing else', async () => {
    const changed = renderContextSh({ ...CONTEXT, SSH_PUBLIC_KEY: key, ETH0_IP: '10.0.2.88' });
    const hook = `#!/bin/bash
mkdir -p /root/ctx2
cat > /root/ctx2/context.sh <<'CTX'
${changed}CTX
/usr/sbin/vmctx run --source /root/ctx2 --stage local -q > /root/live.out 2>&1
echo "LIVE-EXIT $?"
sleep 2
echo "LIVE-ADDR $(ip -o -4 addr show scope global | awk '{print $2, $4}' | tr '\\n' ';')"
echo "LIVE-ROUTE $(ip -4 route show default | tr '\\n' ';')"
echo "LIVE-HOSTNAME $(hostname)"
`;
    await writeGuestFile(image, work, '/usr/local/sbin/vmctx-e2e-extra', hook);
    const result = await boot(image, work, { cdrom: iso, mac: MAC });
    process.stdout.write(`network live change:\n${result.report}\n${(await readGuestFile(image, '/root/live.out')) ?? ''}\n`);
    expect(field(result.report, 'LIVE-EXIT')).toBe('0');
    expect(field(result.report, 'LIVE-ADDR')).toMatch(/^\S+ 10\.0\.2\.88\/24;$/u);
    expect(field(result.report, 'LIVE-ROUTE')).toMatch(/^default via 10\.0\.2\.2 /u);
    expect(field(result.report, 'LIVE-HOSTNAME')).toBe('net-guest');
    expect(await readGuestFile(image, '/etc/resolv.conf')).toContain('nameserver 10.0.2.3\n');
    expect(await readGuestFile(image, '/etc/hostname')).toBe('net-guest\n');
  });
});
