// bake --check's console, RHEL network and libc6-xen items, and bake --console, on ext images made
// with mke2fs -d from systemd-like, sysvinit-like and RHEL-like trees; e2fsck after every change,
// the changed files read back with debugfs.
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const debugfs = (img: string, command: string): string => spawnSync('debugfs', ['-R', command, img], { encoding: 'utf8' }).stdout;
const e2fsck = (img: string): number | null => spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' }).status;

/** A 32-bit x86 ELF header (all an ELF class check reads). */
function elf32(): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 1; // ELFCLASS32
  b[5] = 1; // little endian
  b[6] = 1;
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(3, 18); // EM_386
  return b;
}

type Kind = 'systemd' | 'sysvinit' | 'rhel';

async function tree(kind: Kind, extra?: (dir: string) => Promise<void>): Promise<string> {
  const dir = await tempDir();
  for (const d of ['etc/ssh', 'etc/pam.d', 'home', 'root', 'usr/sbin', 'sbin', 'lib/x86_64-linux-gnu', 'var/log']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(dir, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(dir, 'etc/ssh/sshd_config'), 'PermitRootLogin prohibit-password\n');
  await writeFile(join(dir, 'usr/sbin/sshd'), '');
  await writeFile(join(dir, 'lib/x86_64-linux-gnu/libc.so.6'), 'ELF... GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n');
  if (kind === 'systemd') {
    // Debian 12: no securetty, PAM without pam_securetty, /sbin/init a link to systemd (a 64-bit ELF)
    await mkdir(join(dir, 'usr/lib/systemd/system'), { recursive: true });
    await copyFile('/bin/true', join(dir, 'usr/lib/systemd/systemd'));
    await symlink('/usr/lib/systemd/systemd', join(dir, 'sbin/init'));
    await writeFile(join(dir, 'usr/lib/systemd/system/serial-getty@.service'), '[Unit]\nDescription=Serial Getty on %I\n[Install]\nWantedBy=getty.target\n');
    await writeFile(join(dir, 'etc/pam.d/login'), 'auth optional pam_faildelay.so delay=3000000\n# auth requisite pam_securetty.so\n@include common-auth\n');
  } else if (kind === 'sysvinit') {
    // an old Debian: securetty without the serial consoles, PAM using it, inittab with T0 commented, 32-bit
    await writeFile(join(dir, 'sbin/init'), elf32());
    await writeFile(join(dir, 'sbin/getty'), '');
    await writeFile(join(dir, 'etc/securetty'), '# /etc/securetty\nconsole\ntty1\ntty2\n', { mode: 0o600 });
    await writeFile(join(dir, 'etc/pam.d/login'), 'auth requisite pam_securetty.so\n@include common-auth\n');
    await writeFile(join(dir, 'etc/inittab'), 'id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n1:2345:respawn:/sbin/getty 38400 tty1\n#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n');
  } else {
    // CentOS 7-like: network-scripts with ifcfg-eth0 only, no /etc/sysconfig/network, 32-bit with libc6-xen.conf
    await mkdir(join(dir, 'etc/sysconfig/network-scripts'), { recursive: true });
    await mkdir(join(dir, 'etc/ld.so.conf.d'), { recursive: true });
    await writeFile(join(dir, 'etc/redhat-release'), 'CentOS Linux release 7.9.2009 (Core)\n');
    await writeFile(join(dir, 'etc/sysconfig/network-scripts/ifcfg-eth0'), 'DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n');
    await writeFile(join(dir, 'etc/ld.so.conf.d/libc6-xen.conf'), 'hwcap 1 nosegneg\n');
    await writeFile(join(dir, 'sbin/init'), elf32());
    await writeFile(join(dir, 'etc/securetty'), 'console\nttyS0\nhvc0\nxvc0\ntty1\n', { mode: 0o600 });
    await writeFile(join(dir, 'etc/inittab'), 'id:3:initdefault:\n');
    await mkdir(join(dir, 'etc/init'), { recursive: true });
    await writeFile(join(dir, 'etc/init/ttyS0.conf'), 'exec /sbin/agetty ttyS0\n');
  }
  await extra?.(dir);
  return dir;
}

async function image(kind: Kind, extra?: (dir: string) => Promise<void>): Promise<string> {
  const dir = await tempDir();
  const img = join(dir, 'disk.img');
  run('mke2fs', ['-F', '-q', '-t', 'ext4', '-d', await tree(kind, extra), img, '64M']);
  return img;
}

function check(img: string): { code: number | null; items: Record<string, { status: string; detail: string }> } {
  const r = vmctx(['bake', '--check', img, '--json']);
  const items = (JSON.parse(r.stdout) as { items: Array<{ item: string; status: string; detail: string }> }).items;
  return { code: r.code, items: Object.fromEntries(items.map((i) => [i.item, { status: i.status, detail: i.detail }])) };
}

const statuses = (items: Record<string, { status: string }>, names: readonly string[]): Record<string, string> => Object.fromEntries(names.map((n) => [n, items[n]?.status ?? 'absent']));
const ROWS = ['/etc/securetty', 'serial console login', 'RHEL network files', '/etc/sysconfig/network', 'ifcfg-eth0', 'ifcfg-eth1', 'libc6-xen.conf'];
const bakeArgs = (img: string, ...more: string[]): string[] => ['bake', img, '--node', 'system', '--bundle', BUNDLE, ...more];

describe('bake --check: consoles, RHEL network files, libc6-xen', () => {
  it('a systemd image without securetty (as Debian 12): securetty ok, serial login warn; 64-bit; not RHEL', async () => {
    const c = check(await image('systemd'));
    expect(statuses(c.items, ROWS)).toEqual({ '/etc/securetty': 'ok', 'serial console login': 'warn', 'RHEL network files': 'ok', '/etc/sysconfig/network': 'absent', 'ifcfg-eth0': 'absent', 'ifcfg-eth1': 'absent', 'libc6-xen.conf': 'ok' });
    expect(c.items['/etc/securetty']?.detail).toMatch(/PAM does not use pam_securetty/u);
    expect(c.items['serial console login']?.detail).toMatch(/ttyS0 gets none/u);
    expect(c.items['libc6-xen.conf']?.detail).toMatch(/^64-bit image \(\/sbin\/init\)/u);
  });

  it('systemd: a console= on the kernel command line, or securetty missing while PAM uses pam_securetty', async () => {
    const c = check(await image('systemd', async (d) => {
      await mkdir(join(d, 'etc/default'), { recursive: true });
      await writeFile(join(d, 'etc/default/grub'), 'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"\n');
      await writeFile(join(d, 'etc/pam.d/login'), 'auth requisite pam_securetty.so\n');
    }));
    expect(c.items['serial console login']).toEqual({ status: 'ok', detail: 'console=ttyS0 in /etc/default/grub: systemd-getty-generator starts serial-getty@ there' });
    expect(c.items['/etc/securetty']?.status).toBe('warn');
  });

  it('a sysvinit image with a login on tty1 only: securetty (tty1) ok naming the consoles it lacks, no inittab getty FAILs, 32-bit x86 without libc6-xen.conf warns', async () => {
    const c = check(await image('sysvinit'));
    expect(c.code).toBe(7);
    expect(statuses(c.items, ['/etc/securetty', 'serial console login', 'libc6-xen.conf'])).toEqual({ '/etc/securetty': 'ok', 'serial console login': 'FAIL', 'libc6-xen.conf': 'warn' });
    expect(c.items['/etc/securetty']?.detail).toBe('lists tty1 (tty1 and every console with a login here); not ttyS0, hvc0, xvc0, which have no login set up in this image (bake --console NAME adds both)');
    expect(c.items['libc6-xen.conf']?.detail).toMatch(/^32-bit x86 image \(\/sbin\/init\) without/u);
  });

  it('securetty lacking a console the image has a login on (an inittab getty, a console= in the boot config) FAILs, naming where', async () => {
    const c = check(await image('sysvinit', async (d) => {
      await writeFile(join(d, 'etc/inittab'), 'id:2:initdefault:\n1:2345:respawn:/sbin/getty 38400 tty1\nT0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n');
      await mkdir(join(d, 'etc/default'), { recursive: true });
      await writeFile(join(d, 'etc/default/grub'), 'GRUB_CMDLINE_LINUX="console=tty0 console=hvc0"\n');
    }));
    expect(c.items['/etc/securetty']).toEqual({ status: 'FAIL', detail: 'lacks ttyS0 (login: /etc/inittab), hvc0 (login: console=hvc0 in /etc/default/grub): root cannot log in there (bake --console adds them)' });
    expect(c.items['serial console login']?.status).toBe('ok');
  });

  it('an ELF /sbin/init over 64 MiB: its class is read from its first bytes (not the whole file)', async () => {
    const c = check(await image('sysvinit', async (d) => {
      await truncate(join(d, 'sbin/init'), 65 * 1024 * 1024);
    }));
    expect(c.items['libc6-xen.conf']?.detail).toMatch(/^32-bit x86 image \(\/sbin\/init\) without/u);
  });

  it('a securetty or inittab that cannot be read is reported (not taken as absent); --console refuses with ERR_CONSOLE_READ and writes nothing', async () => {
    // over the 1 MiB a console file may have; and a directory where the file should be
    const big = await image('sysvinit', async (d) => {
      await writeFile(join(d, 'etc/securetty'), `tty1\nttyS0\n${'#'.repeat(1024 * 1024)}\n`);
    });
    const c = check(big);
    expect(c.items['/etc/securetty']?.status).toBe('FAIL');
    expect(c.items['/etc/securetty']?.detail).toMatch(/^\/etc\/securetty cannot be read: .*over the limit/u);
    const r = vmctx(bakeArgs(big, '--console', 'ttyS0'));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_CONSOLE_READ: \/etc\/securetty cannot be read: .*; nothing was written/u);
    expect(await stat(join(big, '..', 'disk-vmctx.img')).catch(() => undefined)).toBeUndefined();
    const dir = await image('sysvinit', async (d) => {
      await rm(join(d, 'etc/inittab'));
      await mkdir(join(d, 'etc/inittab'));
    });
    const login = check(dir).items['serial console login'];
    expect(login?.status).toBe('warn');
    expect(login?.detail).toMatch(/^\/etc\/inittab cannot be read: /u);
    const inPlace = vmctx(bakeArgs(dir, '--in-place', '--console', 'ttyS0'));
    expect(inPlace.code).toBe(4);
    expect(inPlace.stderr).toMatch(/ERR_CONSOLE_READ: \/etc\/inittab cannot be read/u);
    // --in-place: refused before vmctx went in (the file system's mount count aside, nothing changed)
    expect(e2fsck(dir)).toBe(0);
    expect(check(dir).items['vmctx installed']?.status).toBe('warn');
    expect(debugfs(dir, 'cat /etc/securetty')).toBe('# /etc/securetty\nconsole\ntty1\ntty2\n');
  });

  it('a RHEL-like image: /etc/sysconfig/network missing FAILs (network-scripts), ifcfg-eth0 ok, ifcfg-eth1 warns; 32-bit with libc6-xen.conf ok; an upstart getty', async () => {
    const c = check(await image('rhel'));
    expect(statuses(c.items, ROWS)).toEqual({ '/etc/securetty': 'ok', 'serial console login': 'ok', 'RHEL network files': 'absent', '/etc/sysconfig/network': 'FAIL', 'ifcfg-eth0': 'ok', 'ifcfg-eth1': 'warn', 'libc6-xen.conf': 'ok' });
    expect(c.items['/etc/sysconfig/network']?.detail).toMatch(/network service of initscripts/u);
    const fixed = check(await image('rhel', async (d) => {
      await writeFile(join(d, 'etc/sysconfig/network'), 'NETWORKING=yes\n');
      await writeFile(join(d, 'etc/sysconfig/network-scripts/ifcfg-eth1'), 'DEVICE=eth1\n');
    }));
    expect(statuses(fixed.items, ['/etc/sysconfig/network', 'ifcfg-eth0', 'ifcfg-eth1'])).toEqual({ '/etc/sysconfig/network': 'ok', 'ifcfg-eth0': 'ok', 'ifcfg-eth1': 'ok' });
  });

  it('upstart (RHEL 6-like) without a serial job FAILs; --console ttyS0 adds /etc/init/vmctx-ttyS0.conf', async () => {
    const img = await image('rhel', async (d) => {
      await rm(join(d, 'etc/init/ttyS0.conf'));
      await writeFile(join(d, 'sbin/agetty'), '');
    });
    expect(check(img).items['serial console login']).toEqual({ status: 'FAIL', detail: 'upstart: no serial getty job in /etc/init (bake --console ttyS0 adds one)' });
    expect(vmctx(bakeArgs(img, '--console', 'ttyS0')).code).toBe(0);
    const out = join(img, '..', 'disk-vmctx.img');
    expect(e2fsck(out)).toBe(0);
    expect(debugfs(out, 'cat /etc/init/vmctx-ttyS0.conf')).toContain('exec /sbin/agetty -L ttyS0 115200 vt100\n');
    expect(debugfs(out, 'cat /etc/inittab')).toBe('id:3:initdefault:\n');
    expect(check(out).items['serial console login']?.status).toBe('ok');
  });
});

describe('bake --console', () => {
  it('systemd: serial-getty@ttyS0 enabled as systemctl would (a link to the template in getty.target.wants); hvc0 left to the generator', async () => {
    const img = await image('systemd');
    const r = vmctx(bakeArgs(img, '--console', 'ttyS0,hvc0'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('console: hvc0: systemd-getty-generator starts serial-getty@hvc0 whenever /dev/hvc0 exists; not enabled');
    expect(r.stdout).toContain('console: /etc/securetty absent: root may log in on any terminal already; not created');
    const out = join(img, '..', 'disk-vmctx.img');
    expect(e2fsck(out)).toBe(0);
    expect(debugfs(out, 'stat /etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service')).toContain('Fast link dest: "/usr/lib/systemd/system/serial-getty@.service"');
    expect(debugfs(out, 'ls /etc/systemd/system/getty.target.wants')).not.toContain('hvc0');
    expect(debugfs(out, 'ls /etc')).not.toContain('securetty');
    const c = check(out);
    expect(c.items['serial console login']).toEqual({ status: 'ok', detail: 'serial-getty@ttyS0 enabled (getty.target.wants)' });
    expect(c.items['/etc/securetty']?.status).toBe('ok');
  });

  it('sysvinit: securetty entries appended once, inittab getty lines with unique ids; --check passes the console items; again: nothing added', async () => {
    const img = await image('sysvinit');
    const r = vmctx(bakeArgs(img, '--console', 'ttyS0,hvc0,xvc0,tty1'));
    expect(r.code, r.stderr).toBe(0);
    const out = join(img, '..', 'disk-vmctx.img');
    expect(e2fsck(out)).toBe(0);
    expect(debugfs(out, 'cat /etc/securetty')).toBe('# /etc/securetty\nconsole\ntty1\ntty2\nttyS0\nhvc0\nxvc0\n');
    expect(debugfs(out, 'stat /etc/securetty')).toMatch(/Mode:\s+0600/u);
    const inittab = debugfs(out, 'cat /etc/inittab');
    expect(inittab).toBe('id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n1:2345:respawn:/sbin/getty 38400 tty1\n#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n# vmctx bake --console\nT0:23:respawn:/sbin/getty -L ttyS0 115200 vt100\nT1:23:respawn:/sbin/getty -L hvc0 115200 vt100\nT2:23:respawn:/sbin/getty -L xvc0 115200 vt100\n');
    const c = check(out);
    expect(statuses(c.items, ['/etc/securetty', 'serial console login'])).toEqual({ '/etc/securetty': 'ok', 'serial console login': 'ok' });
    // once more on the result: nothing is duplicated
    const again = vmctx(bakeArgs(out, '--in-place', '--console', 'ttyS0,hvc0', '--json'));
    expect(again.code, again.stderr).toBe(0);
    const installed = (JSON.parse(again.stdout) as { installed: string[] }).installed;
    expect(installed).not.toContain('/etc/securetty');
    expect(installed).not.toContain('/etc/inittab');
    expect(debugfs(out, 'cat /etc/inittab').match(/ttyS0 115200/gu)).toHaveLength(1);
    expect(e2fsck(out)).toBe(0);
  });

  it('systemd: a masked serial-getty@ttyS0 is not a login (check warns); --console unmasks it as systemctl unmask would', async () => {
    const img = await image('systemd', async (d) => {
      await mkdir(join(d, 'etc/systemd/system/getty.target.wants'), { recursive: true });
      await symlink('/dev/null', join(d, 'etc/systemd/system/serial-getty@ttyS0.service'));
      await symlink('/usr/lib/systemd/system/serial-getty@.service', join(d, 'etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service'));
    });
    expect(check(img).items['serial console login']?.status).toBe('warn');
    const r = vmctx(bakeArgs(img, '--console', 'ttyS0', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { installed: string[] }).installed).toContain('/etc/systemd/system/serial-getty@ttyS0.service (unmasked)');
    const out = join(img, '..', 'disk-vmctx.img');
    expect(e2fsck(out)).toBe(0);
    expect(debugfs(out, 'ls /etc/systemd/system')).not.toMatch(/serial-getty@ttyS0\.service/u);
    expect(check(out).items['serial console login']?.status).toBe('ok');
  });

  it('--console ttyS0,hvc0 on the sysvinit image makes both console rows ok; xvc0 (no login there) named, not required', async () => {
    const img = await image('sysvinit');
    expect(vmctx(bakeArgs(img, '--console', 'ttyS0,hvc0')).code).toBe(0);
    const c = check(join(img, '..', 'disk-vmctx.img'));
    expect(c.items['/etc/securetty']).toEqual({ status: 'ok', detail: 'lists tty1, ttyS0, hvc0 (tty1 and every console with a login here); not xvc0, which have no login set up in this image (bake --console NAME adds both)' });
    expect(c.items['serial console login']?.status).toBe('ok');
  });

  it('a console name that is not one: ERR_CONSOLE_NAME, exit 2, nothing written', async () => {
    const img = await image('systemd');
    for (const bad of ['ttyS0,../../etc/x', 'tty S0', 'hvc0;reboot']) {
      const r = vmctx(bakeArgs(img, '--console', bad));
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/ERR_CONSOLE_NAME: --console: ".*" is not a console name/u);
    }
    expect(await stat(join(img, '..', 'disk-vmctx.img')).catch(() => undefined)).toBeUndefined();
    const both = vmctx(['bake', '--check', img, '--console', 'ttyS0']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/ERR_USAGE: --console changes the image, --check only reads it/u);
  });

  it('--dry-run --console lists the changes and writes nothing', async () => {
    const img = await image('sysvinit');
    const r = vmctx(bakeArgs(img, '--dry-run', '--console', 'ttyS0'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\/etc\/inittab/u);
    expect(r.stdout).toMatch(/\/etc\/securetty/u);
    expect(debugfs(img, 'cat /etc/inittab')).not.toContain('ttyS0 115200');
  });
});
