// Real guest without systemd: Debian with sysvinit as init and ifupdown for the network, vmctx baked
// in (bake sees no systemd and adds the /etc/rc.local hook, as the seed documents do it), booted
// with a context CD made by `vmctx make-iso`. The same first-boot result as with the units.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE } from '../helpers/cli.js';
import { cryptMatches } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, readGuestFile, statGuestFile } from './guest.js';

const PASSWORD = 'Sysv-Guest-Passw0rd';
let work: string;
let image: string;
let iso: string;
let key: string;

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-sysv-');
  image = await buildImage(work, { withAgent: true, flavour: 'sysvinit' });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sysv@e2e', '-f', join(work, 'k')]);
  key = (await readFile(join(work, 'k.pub'), 'utf8')).trim();
  iso = join(work, 'ctx.iso');
  const vars = {
    VMID: '401',
    SET_HOSTNAME: 'sysv-guest.e2e.example',
    ETH0_MAC: '52:54:00:12:34:56',
    ETH0_IP: '10.0.2.15',
    ETH0_MASK: '255.255.255.0',
    ETH0_GATEWAY: '10.0.2.2',
    DNS: '10.0.2.3',
    SSH_PUBLIC_KEY: key,
    USERNAME: 'sysvuser',
    PASSWORD,
    START_SCRIPT: 'echo "start script ran on $SET_HOSTNAME" >> /root/start-script.log',
  };
  execFileSync(process.execPath, [BUNDLE, 'make-iso', '-o', iso, ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`])]);
}, 600_000);

describe('a Debian guest with sysvinit (no systemd): vmctx through the rc.local hook', () => {
  it('bake put in the rc.local hook and the LSB scripts (not enabled: rc.local is the activation)', async () => {
    const rcLocal = (await readGuestFile(image, '/etc/rc.local')) ?? '';
    expect(rcLocal).toContain('# vmctx: apply the VM context\n/usr/sbin/vmctx run --stage all || true\n');
    expect((await statGuestFile(image, '/etc/rc.local'))?.mode).toBe('0755');
    expect((await statGuestFile(image, '/etc/init.d/vmctx-local'))?.mode).toBe('0755');
    expect(await readGuestFile(image, '/usr/lib/systemd/system/vmctx-local.service')).toBeUndefined();
  });

  it('first boot: static address on the NIC matched by MAC, gateway, DNS, hostname, keys, user and password, START_SCRIPT once', async () => {
    const result = await boot(image, work, { cdrom: iso, flavour: 'sysvinit' });
    process.stdout.write(`sysvinit first boot report:\n${result.report}\n`);
    expect(result.report, result.console.slice(-4000)).toMatch(/^INIT init$/mu);
    expect(result.report).toMatch(/^sysv-guest\.e2e\.example$/mu);
    expect(result.report).toMatch(/ADDR \S+ 10\.0\.2\.15\/24;/u);
    expect(result.report).toMatch(/ROUTE default via 10\.0\.2\.2 /u);
    expect(result.report).toMatch(/SSHD running/u);
    expect(result.report).toMatch(/result: ok/u);
    expect(result.console).toMatch(/context from \/dev\/\S+ \(label CONTEXT\), instance vmid-401/u);
    expect(await readGuestFile(image, '/etc/hostname')).toBe('sysv-guest.e2e.example\n');
    expect(await readGuestFile(image, '/etc/resolv.conf')).toContain('nameserver 10.0.2.3\n');
    const ifaces = (await readGuestFile(image, '/etc/network/interfaces.d/50-vmctx')) ?? '';
    expect(ifaces, ifaces).toMatch(/address 10\.0\.2\.15/u);
    const passwd = (await readGuestFile(image, '/etc/passwd')) ?? '';
    const line = passwd.split('\n').find((l) => l.startsWith('sysvuser:')) ?? '';
    expect(line).toMatch(/^sysvuser:x:\d+:\d+:/u);
    const uid = Number(line.split(':')[2]);
    expect(await readGuestFile(image, '/home/sysvuser/.ssh/authorized_keys')).toContain(key);
    expect(await statGuestFile(image, '/home/sysvuser/.ssh/authorized_keys')).toEqual({ mode: '0600', uid, gid: uid });
    const hash = ((await readGuestFile(image, '/etc/shadow')) ?? '').split('\n').find((l) => l.startsWith('sysvuser:'))?.split(':')[1] ?? '';
    expect(cryptMatches(hash, PASSWORD)).toBe(true);
    expect(await readGuestFile(image, '/root/start-script.log')).toBe('start script ran on sysv-guest.e2e.example\n');
    expect(result.console.includes(PASSWORD)).toBe(false);
    expect((await readGuestFile(image, '/var/log/vmctx.log'))?.includes(PASSWORD)).toBe(false);
  });

  it('second boot of the same disk: nothing runs twice', async () => {
    const result = await boot(image, work, { cdrom: iso, flavour: 'sysvinit' });
    expect(result.report, result.console.slice(-3000)).toMatch(/^sysv-guest\.e2e\.example$/mu);
    expect(result.report).toMatch(/ADDR \S+ 10\.0\.2\.15\/24;/u);
    expect(await readGuestFile(image, '/root/start-script.log')).toBe('start script ran on sysv-guest.e2e.example\n');
    expect(((await readGuestFile(image, '/home/sysvuser/.ssh/authorized_keys')) ?? '').split(key)).toHaveLength(2);
  });
  it('the disk booted with a StratusLab medium (_STRATUSLAB, double-quoted context.sh, configuration.sh, init.sh): a new instance, the old variables understood', async () => {
    const medium = join(work, 'stratuslab');
    await mkdir(medium, { recursive: true });
    // StratusLab's own style: double quotes, the network in configuration.sh, a provider init.sh
    await writeFile(join(medium, 'configuration.sh'), 'IP_PRIVATE="10.0.2.16"\nNETMASK_PRIVATE="/24"\nDEFAULT_GATEWAY="10.0.2.2"\n');
    await writeFile(join(medium, 'init.sh'), '#!/bin/sh\necho "init.sh ran for $HOSTNAME" >> /root/stratuslab-init.log\n');
    const iso = join(work, 'stratuslab.iso');
    execFileSync(process.execPath, [BUNDLE, 'make-iso', '--stratuslab', '-o', iso, '--var', 'VMID=402', '--var', 'HOSTNAME=stratus-node', '--var', `PUBLIC_KEY=${key}`, '--file', join(medium, 'configuration.sh'), '--file', join(medium, 'init.sh')]);
    const result = await boot(image, work, { cdrom: iso, flavour: 'sysvinit' });
    process.stdout.write(`sysvinit StratusLab boot report:\n${result.report}\n`);
    expect(result.console, result.console.slice(-3000)).toMatch(/context from \/dev\/\S+ \(label _STRATUSLAB\), instance vmid-402/u);
    expect(result.report).toMatch(/^stratus-node$/mu);
    // IP_PRIVATE on the first NIC (no MAC in StratusLab contexts: by position), "/24" understood
    expect(result.report).toMatch(/ADDR \S+ 10\.0\.2\.16\/24;/u);
    expect(result.report).toMatch(/ROUTE default via 10\.0\.2\.2 /u);
    expect(((await readGuestFile(image, '/root/.ssh/authorized_keys')) ?? '').split(key)).toHaveLength(2);
    expect(await readGuestFile(image, '/root/stratuslab-init.log')).toBe('init.sh ran for stratus-node\n');
    // the earlier instance's START_SCRIPT did not run again
    expect(await readGuestFile(image, '/root/start-script.log')).toBe('start script ran on sysv-guest.e2e.example\n');
  });

});
