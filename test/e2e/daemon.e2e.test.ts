// Real guest, the daemon: the first boot applies context A; with the guest running, a second
// context ISO is swapped in through the QEMU monitor (`change`), and then a second NIC is
// hot-plugged (`device_add`). vmctx-daemon, woken by its udev rule, applies only what changed:
// the new hostname and key, then the new NIC's address — never the start script or the password.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, readGuestFile } from './guest.js';

const PASSWORD = 'Daemon-Guest-Passw0rd';
let work: string;
let image: string;
const keys: string[] = [];

// printed inside the reporter's E2E-BEGIN/E2E-END block, once the boot is done
const EXTRA = `
echo "DAEMON $(systemctl is-active vmctx-daemon.service)"
echo "SDA-ALIAS $(readlink /dev/sda)"
for i in $(seq 1 120); do [ -S /run/vmctx/daemon.sock ] && break; sleep 0.5; done
echo "POLL $(cat /sys/block/sr0/events_poll_msecs 2>/dev/null) TRIGGERS $(stat -c %a /run/vmctx/triggers 2>&1)"
echo "E2E-DAEMON-READY"
for i in $(seq 1 180); do [ "$(hostname)" = daemon-b ] && break; sleep 0.5; done
if [ "$(hostname)" != daemon-b ]; then
  echo "SWAP-NOT-APPLIED"; journalctl -b -u vmctx-daemon.service --no-pager -o cat | tail -20
  udevadm info /dev/sr0 | grep -E 'ID_CDROM|ID_FS' ; cat /sys/block/sr0/events /sys/block/sr0/events_poll_msecs
  blkid /dev/sr0; journalctl -b --no-pager -o cat | grep -iE 'udev|sr0|cdrom' | tail -10
fi
echo "E2E-SWAP-APPLIED $(hostname)"
for i in $(seq 1 240); do ip -o -4 addr show | grep -q 10.0.3.15 && break; sleep 0.5; done
echo "E2E-NIC-APPLIED $(ip -o -4 addr show scope global | awk '{print $2, $4}' | tr '\\n' ';')"
# the daemon logs its line once the whole check is done, which can be after the address is up
for i in $(seq 1 120); do journalctl -b -u vmctx-daemon.service -o cat | grep -Eq 'daemon: ([a-z-]+, )*net[,:]' && break; sleep 0.5; done
journalctl -b -u vmctx-daemon.service --no-pager -o cat | tail -20
`;

function iso(name: string, vars: Record<string, string>): string {
  const out = join(work, name);
  execFileSync(process.execPath, [BUNDLE, 'make-iso', '-o', out, ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`])]);
  return out;
}

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-daemon-');
  // the image author's additions: a boot hook, a template, the sd* disk aliases
  const hooks = join(work, 'hooks');
  await mkdir(join(hooks, 'per-instance'), { recursive: true });
  await writeFile(join(hooks, 'per-instance', '10-mark'), '#!/bin/sh\necho "hook ran on $SET_HOSTNAME" >> /root/hook.log\n');
  await writeFile(join(work, 'motd.tmpl'), 'This is ${VMCTX_HOSTNAME} (${VMCTX_INSTANCE_ID})\n');
  image = await buildImage(work, {
    withAgent: true,
    files: { '/usr/local/sbin/vmctx-e2e-extra': EXTRA },
    bakeArgs: ['--scripts', hooks, '--template', `${join(work, 'motd.tmpl')}:/etc/motd.vmctx`, '--udev-aliases'],
  });
  for (const name of ['d1', 'd2']) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@e2e`, '-f', join(work, name)]);
    keys.push((await readFile(join(work, `${name}.pub`), 'utf8')).trim());
  }
}, 600_000);

describe('vmctx-daemon in a running guest', () => {
  it('a context CD swapped through the QEMU monitor, then a hot-plugged NIC: applied within seconds, only what changed', async () => {
    const base = { VMID: '501', ETH0_MAC: '52:54:00:12:34:56', DNS: '10.0.2.3', PASSWORD, START_SCRIPT: 'echo start >> /root/start-script.log' };
    const a = iso('a.iso', { ...base, SET_HOSTNAME: 'daemon-a', SSH_PUBLIC_KEY: keys[0] ?? '' });
    const b = iso('b.iso', {
      ...base, SET_HOSTNAME: 'daemon-b', SSH_PUBLIC_KEY: keys.join('\n'),
      ETH1_MAC: '52:54:00:12:34:57', ETH1_IP: '10.0.3.15', ETH1_MASK: '255.255.255.0',
    });
    const timings: Record<string, number> = {};
    const result = await boot(image, work, {
      cdrom: a,
      timeoutMs: 600_000,
      during: async (guest) => {
        await guest.waitFor(/E2E-DAEMON-READY/u);
        const block = await guest.monitor('info block');
        const cd = /^(\S+) \(#block\d+\): .*a\.iso/mu.exec(block)?.[1] ?? /^(ide\d-cd\d)/mu.exec(block)?.[1];
        expect(cd, block).toBeDefined();
        let t0 = Date.now();
        // the guest keeps the tray locked: force it open first (as a provider's "update device" does)
        expect(await guest.monitor(`eject -f ${cd ?? ''}`)).not.toMatch(/error|could not/iu);
        const changed = await guest.monitor(`change ${cd ?? ''} ${b} raw read-only`);
        expect(changed).not.toMatch(/error|could not/iu);
        await guest.waitFor(/E2E-SWAP-APPLIED/u, 150_000);
        timings['swap'] = Date.now() - t0;
        t0 = Date.now();
        // restrict=on: the hot-plugged NIC, like the first, reaches nothing but the host
        await guest.monitor('netdev_add user,id=hp1,restrict=on');
        await guest.monitor('device_add virtio-net-pci,netdev=hp1,mac=52:54:00:12:34:57,id=hpnic');
        await guest.waitFor(/E2E-NIC-APPLIED/u, 120_000);
        timings['nic'] = Date.now() - t0;
      },
    });
    process.stdout.write(`daemon boot report (swap applied after ${timings['swap']} ms, NIC after ${timings['nic']} ms, as seen on the host):\n${result.report}\n`);
    expect(result.report, result.console.slice(-4000)).toMatch(/DAEMON active/u);
    expect(result.report).toMatch(/E2E-SWAP-APPLIED daemon-b/u);
    expect(result.report).toMatch(/E2E-NIC-APPLIED .*\S+ 10\.0\.3\.15\/24;/u);
    // the daemon's own account of each reconfiguration
    const media = /daemon: media(?:, [a-z-]+)*: (.*)/u.exec(result.report)?.[1] ?? '';
    expect(media).toMatch(/hostname/u);
    expect(media).toMatch(/ssh-keys/u);
    expect(media).not.toMatch(/password|users|scripts/u);
    // triggers that come close together share a check ("media, net: …")
    expect(result.report).toMatch(/daemon: (?:[a-z-]+, )*net(?:, [a-z-]+)*: applied network/u);
    // what the guest has afterwards
    expect(await readGuestFile(image, '/etc/hostname')).toBe('daemon-b\n');
    const authorized = (await readGuestFile(image, '/root/.ssh/authorized_keys')) ?? '';
    for (const k of keys) expect(authorized.split(k)).toHaveLength(2);
    expect(await readGuestFile(image, '/root/start-script.log')).toBe('start\n');
    // the image's hook ran once, after the built-in modules; the template followed the hostname
    expect(await readGuestFile(image, '/root/hook.log')).toBe('hook ran on daemon-a\n');
    expect(await readGuestFile(image, '/etc/motd.vmctx')).toBe('This is daemon-b (vmid-501)\n');
    expect(result.report).toMatch(/daemon: media: .*templates \(\/etc\/motd\.vmctx\)/u);
    // --udev-aliases: the virtio root disk also answers to /dev/sda
    expect(result.report).toMatch(/^SDA-ALIAS vda$/mu);
    expect(result.console.includes(PASSWORD)).toBe(false);
  });
});
