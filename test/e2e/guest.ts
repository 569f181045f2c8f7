// The real-guest harness: a Debian bookworm root from debootstrap (cached outside the repo and
// rebuilt when its recipe changes), vmctx installed into a copy of it, turned into an ext3 image
// without mounting, booted under QEMU/TCG with user networking restricted to the host, and read
// back after power-off with debugfs.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CACHE = process.env['VMCTX_E2E_CACHE'] ?? '/var/cache/vmctx-e2e';
/** nodejs is there for the packages (Depends: nodejs); the baked agent ships its own Node. */
export const RECIPES = {
  systemd: {
    suite: 'bookworm',
    variant: 'minbase',
    mirror: 'http://deb.debian.org/debian',
    include: ['systemd-sysv', 'openssh-server', 'linux-image-cloud-amd64', 'iproute2', 'udev', 'kmod', 'hostname', 'nodejs'],
  },
  // an image without systemd: sysvinit as init, ifupdown for the network, /etc/rc.local at the end of the boot
  sysvinit: {
    suite: 'bookworm',
    variant: 'minbase',
    mirror: 'http://deb.debian.org/debian',
    include: ['sysvinit-core', 'openssh-server', 'linux-image-cloud-amd64', 'iproute2', 'udev', 'kmod', 'hostname', 'ifupdown', 'procps', 'nodejs'],
  },
  // the boot benchmark's peer: the same root with Debian's cloud-init (its OpenNebula datasource);
  // python3-cffi-backend named because debootstrap does not resolve the virtual package it provides
  cloudinit: {
    suite: 'bookworm',
    variant: 'minbase',
    mirror: 'http://deb.debian.org/debian',
    include: ['systemd-sysv', 'openssh-server', 'linux-image-cloud-amd64', 'iproute2', 'udev', 'kmod', 'hostname', 'nodejs', 'cloud-init', 'python3-cffi-backend'],
  },
  // Debian 13 with netplan.io (vmctx renders netplan YAML when netplan is installed); netplan's
  // default renderer, systemd-networkd, is part of trixie's systemd package (not enabled)
  'trixie-netplan': {
    suite: 'trixie',
    variant: 'minbase',
    mirror: 'http://deb.debian.org/debian',
    include: ['systemd-sysv', 'openssh-server', 'linux-image-cloud-amd64', 'iproute2', 'udev', 'kmod', 'hostname', 'nodejs', 'netplan.io'],
  },
  // Debian 13 with NetworkManager (enabled by its package) and no netplan, so vmctx renders
  // keyfiles; dbus named because debootstrap does not resolve the virtual system bus NM depends on
  'trixie-nm': {
    suite: 'trixie',
    variant: 'minbase',
    mirror: 'http://deb.debian.org/debian',
    include: ['systemd-sysv', 'openssh-server', 'linux-image-cloud-amd64', 'iproute2', 'udev', 'kmod', 'hostname', 'nodejs', 'network-manager', 'dbus'],
  },
} as const;
export type Flavour = keyof typeof RECIPES;
export const RECIPE = RECIPES.systemd;

export function rootfsPath(flavour: Flavour = 'systemd'): string {
  const hash = createHash('sha256').update(JSON.stringify(RECIPES[flavour])).digest('hex').slice(0, 12);
  return join(CACHE, `rootfs-${hash}`);
}
export const ROOTFS = rootfsPath('systemd');

/** Builds the cached debootstrap root when it is missing (about a minute). */
export async function ensureRootfs(flavour: Flavour = 'systemd'): Promise<string> {
  const rootfs = rootfsPath(flavour);
  const recipe = RECIPES[flavour];
  if (existsSync(join(rootfs, '.vmctx-complete'))) return rootfs;
  await mkdir(CACHE, { recursive: true });
  const temp = `${rootfs}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await run('debootstrap', [`--variant=${recipe.variant}`, `--include=${recipe.include.join(',')}`, recipe.suite, temp, recipe.mirror], { maxBuffer: 64 * 1024 * 1024 });
  await writeFile(join(temp, '.vmctx-complete'), JSON.stringify(recipe));
  await rm(rootfs, { recursive: true, force: true });
  await rename(temp, rootfs);
  return rootfs;
}

export function kernelAndInitrd(rootfs: string): { kernel: string; initrd: string } {
  const boot = readdirSyncSorted(join(rootfs, 'boot'));
  const kernel = boot.find((n) => n.startsWith('vmlinuz-'));
  const initrd = boot.find((n) => n.startsWith('initrd.img-'));
  if (kernel === undefined || initrd === undefined) throw new Error(`no kernel/initrd in ${rootfs}/boot`);
  return { kernel: join(rootfs, 'boot', kernel), initrd: join(rootfs, 'boot', initrd) };
}

function readdirSyncSorted(dir: string): string[] {
  return execFileSync('ls', ['-1', dir], { encoding: 'utf8' }).split('\n').filter((n) => n !== '').sort();
}

/**
 * The report script: waits for the boot to finish, prints markers on a serial port of its own,
 * powers off. It writes to /dev/ttyS1 (the host's report file), not the console: ttyS1 has no
 * getty and no kernel messages, so a serial getty starting on ttyS0 cannot hang the reporter's
 * tty up in the middle of a report (seen once in about eight CI runs as an empty report).
 */
const REPORTER = `#!/bin/sh
systemctl is-system-running --wait >/dev/null 2>&1
{
  echo "E2E-BEGIN"
  systemd-analyze
  systemd-analyze critical-chain ssh.service
  systemctl show -p ActiveState -p Result -p ExecMainStatus -p ExecMainExitTimestampMonotonic vmctx-local.service
  echo "SSH-START $(systemctl show -p ExecMainStartTimestampMonotonic --value ssh.service)"
  echo "MULTI-USER-AT $(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)"
  systemd-analyze blame --no-pager | grep -E 'vmctx|ssh|cloud-' 
  # when each agent unit started (µs since the kernel started), to tell the boot path from after it
  for u in $(systemctl list-units --all --plain --no-legend 'vmctx-*' 'cloud-*' | awk '{print $1}'); do echo "UNIT-START $u $(systemctl show -p InactiveExitTimestampMonotonic --value "$u")"; done
  journalctl -b -u vmctx-local.service --no-pager -o short-monotonic
  hostname
  echo "ADDR $(ip -o -4 addr show scope global | awk '{print $2, $4}' | tr '\\n' ';')"
  echo "ROUTE $(ip -4 route show default | tr '\\n' ';')"
  echo "NETWORKD $(systemctl is-active systemd-networkd.service)"
  systemctl status --no-pager -n 15 systemd-networkd.service 2>&1 | tail -20
  [ -f /usr/local/sbin/vmctx-e2e-extra ] && bash /usr/local/sbin/vmctx-e2e-extra
  # the boot as vmctx saw it: every stage with its modules and times (vmctx status --long)
  if [ -x /usr/sbin/vmctx ]; then echo "VMCTX-STATUS-BEGIN"; /usr/sbin/vmctx status --long; echo "VMCTX-STATUS-END $?"; fi
  echo "E2E-END"
} > /dev/ttyS1 2>&1
systemctl poweroff
`;

const REPORT_UNIT = `[Unit]
Description=vmctx e2e: report and power off once the boot is done
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/bin/systemd-run --no-block /usr/local/sbin/vmctx-e2e-report

[Install]
WantedBy=multi-user.target
`;

/** For images without systemd: run from inittab once runlevel 2 (and so rc.local) is done. */
const SYSV_REPORTER = `#!/bin/sh
{
  echo "E2E-BEGIN"
  echo "INIT $(cat /proc/1/comm)"
  hostname
  echo "ADDR $(ip -o -4 addr show scope global | awk '{print $2, $4}' | tr '\\n' ';')"
  echo "ROUTE $(ip -4 route show default | tr '\\n' ';')"
  echo "SSHD $(pidof sshd >/dev/null && echo running)"
  /etc/init.d/vmctx-final status >/dev/null 2>&1; echo "LSB-STATUS $?"
  /usr/sbin/vmctx status 2>&1 | head -40
  echo "E2E-END"
} > /dev/ttyS1 2>&1
sync
/sbin/poweroff
`;

export interface ImageOptions {
  /** Install vmctx (the built bundle and this Node) into the image. */
  readonly withAgent: boolean;
  /** systemd (default) or sysvinit as init. */
  readonly flavour?: Flavour;
  /** More `vmctx bake` arguments (--scripts, --template, --udev-aliases). */
  readonly bakeArgs?: readonly string[];
  /** Extra files to place (guest path → content). */
  readonly files?: Readonly<Record<string, string>>;
  /** Symbolic links to make (guest path → target), e.g. to enable units. */
  readonly links?: Readonly<Record<string, string>>;
}

/** Stages a copy of the root, installs vmctx and the reporter, and makes an ext3 image of it. */
export async function buildImage(workDir: string, options: ImageOptions): Promise<string> {
  const flavour = options.flavour ?? 'systemd';
  const rootfs = await ensureRootfs(flavour);
  const stage = join(workDir, 'stage');
  await rm(stage, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', rootfs, stage]);
  await rm(join(stage, '.vmctx-complete'));
  await mkdir(join(stage, 'usr/local/sbin'), { recursive: true });
  if (flavour !== 'sysvinit') {
    await writeFile(join(stage, 'usr/local/sbin/vmctx-e2e-report'), REPORTER);
    await chmod(join(stage, 'usr/local/sbin/vmctx-e2e-report'), 0o755);
    await writeFile(join(stage, 'etc/systemd/system/vmctx-e2e-report.service'), REPORT_UNIT);
    await mkdir(join(stage, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    await symlink('/etc/systemd/system/vmctx-e2e-report.service', join(stage, 'etc/systemd/system/multi-user.target.wants/vmctx-e2e-report.service'));
    // no serial getty on the console: it is not needed (the report has ttyS1) and a getty's
    // hang-up must never touch a port a test reads
    await rm(join(stage, 'etc/systemd/system/serial-getty@ttyS0.service'), { force: true });
    await symlink('/dev/null', join(stage, 'etc/systemd/system/serial-getty@ttyS0.service'));
    await rm(join(stage, 'etc/systemd/system/serial-getty@ttyS1.service'), { force: true });
    await symlink('/dev/null', join(stage, 'etc/systemd/system/serial-getty@ttyS1.service'));
  } else {
    await writeFile(join(stage, 'usr/local/sbin/vmctx-e2e-report'), SYSV_REPORTER);
    await chmod(join(stage, 'usr/local/sbin/vmctx-e2e-report'), 0o755);
    // after `l2:2:wait:/etc/init.d/rc 2` (which ends with rc.local) has finished
    const inittab = await readFile(join(stage, 'etc/inittab'), 'utf8');
    await writeFile(join(stage, 'etc/inittab'), `${inittab.replace(/^([1-6]):(\d+):respawn:\/sbin\/getty.*$/gmu, '#$&')}e2:2:once:/usr/local/sbin/vmctx-e2e-report\n`);
  }
  // a root password nobody knows, and no getty on the serial console to wait for
  await writeFile(join(stage, 'etc/hostname'), 'debian-image\n');
  for (const [path, content] of Object.entries(options.files ?? {})) {
    await mkdir(join(stage, path, '..'), { recursive: true });
    await writeFile(join(stage, path), content);
  }
  for (const [path, target] of Object.entries(options.links ?? {})) {
    await mkdir(join(stage, path, '..'), { recursive: true });
    await rm(join(stage, path), { force: true });
    await symlink(target, join(stage, path));
  }
  const image = join(workDir, 'disk.ext3');
  await run('mke2fs', ['-F', '-q', '-t', 'ext3', '-d', stage, '-L', 'root', image, '2G']);
  await rm(stage, { recursive: true, force: true });
  if (options.withAgent) {
    // the way image authors do it: vmctx bake, no mount, no root (this Node is shipped in the image)
    await run(process.execPath, [resolve('dist/vmctx.js'), 'bake', image, '--in-place', '--bundle', resolve('dist/vmctx.js'), '--node', process.execPath, '--image-name', 'vmctx-e2e', '--recipe-name', 'vmctx-e2e', ...(options.bakeArgs ?? [])]);
  }
  return image;
}

export interface BootOptions {
  readonly cdrom?: string;
  /** Which root's kernel to boot (default: the systemd one). */
  readonly flavour?: Flavour;
  /**
   * Runs while the guest is up, with a QEMU monitor (HMP) and a way to wait for console text;
   * the guest still powers itself off when its reporter is done.
   */
  readonly during?: (guest: RunningGuest) => Promise<void>;
  /** Appended to the -nic user,… option (guestfwd, net=…); restrict=on is always there. */
  readonly nicExtra?: string;
  /** More raw disks, attached as virtio after the root disk (vdb, vdc, …). */
  readonly disks?: readonly string[];
  readonly mac?: string;
  /**
   * More virtio-net NICs, each at a fixed PCI slot (so its name in the guest is fixed: slot 8 is
   * ens8), all on one QEMU hub that has no host side: the guest's frames stay among these NICs.
   */
  readonly extraNics?: readonly ExtraNic[];
  readonly timeoutMs?: number;
  /**
   * How the guest starts: 'kernel' (default) boots the root's kernel with QEMU's -kernel and the
   * root disk as /dev/vda; 'bios' (SeaBIOS) and 'uefi' (OVMF, Debian's ovmf) boot the disk itself,
   * which must be a whole disk with its own boot loader (vmctx mkdisk).
   */
  readonly firmware?: 'kernel' | 'bios' | 'uefi';
  /** The root disk's format (default raw). */
  readonly rootFormat?: 'raw' | 'qcow2';
  /** SMBIOS entries, each one -smbios argument (e.g. `type=1,serial=ds=nocloud;s=http://10.0.2.100:8000/`). */
  readonly smbios?: readonly string[];
}

/** OVMF's code (read-only) and its variables template, from Debian's ovmf package. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** QEMU arguments for how the guest starts (kernel, SeaBIOS or OVMF) and its root disk. */
export async function firmwareArgs(image: string, workDir: string, options: BootOptions): Promise<string[]> {
  const firmware = options.firmware ?? 'kernel';
  const drive = ['-drive', `file=${image},format=${options.rootFormat ?? 'raw'},if=virtio`];
  // the firmware boots the root disk first (bootindex): not the CD, not PXE on the NIC
  const bootDrive = ['-drive', `file=${image},format=${options.rootFormat ?? 'raw'},if=none,id=rootdisk`, '-device', 'virtio-blk-pci,drive=rootdisk,bootindex=0'];
  if (firmware === 'kernel') {
    const { kernel, initrd } = kernelAndInitrd(rootfsPath(options.flavour ?? 'systemd'));
    return ['-kernel', kernel, '-initrd', initrd, '-append', 'root=/dev/vda rw console=ttyS0 systemd.show_status=false', ...drive];
  }
  if (firmware === 'bios') return [...bootDrive];
  // each boot gets its own copy of the variables store (OVMF writes its boot entries there)
  const vars = join(workDir, `ovmf-vars-${Date.now()}.fd`);
  await copyFile(OVMF_VARS, vars);
  return ['-machine', 'q35', '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`, ...bootDrive];
}

export interface ExtraNic {
  readonly mac: string;
  /**
   * PCI slot on bus 0, 4–31 (0–3: host bridge, ISA/IDE, VGA, the user-mode NIC). The virtio disks
   * take the free slots from 4 up, so pick 8 and above; QEMU refuses a slot already taken.
   */
  readonly slot: number;
}

/** The hub the extra NICs share (any number: QEMU makes it on first use). */
const EXTRA_NIC_HUB = 18;

/** QEMU arguments for the extra NICs: a hub port each, no netdev with a host side. */
export function extraNicArgs(nics: readonly ExtraNic[]): string[] {
  const slots = new Set<number>();
  return nics.flatMap((nic, i) => {
    if (!/^52:54:00(:[0-9a-f]{2}){3}$/u.test(nic.mac)) throw new Error(`extraNics: ${nic.mac} is not a locally administered QEMU MAC (52:54:00:xx:xx:xx, lower case)`);
    if (!Number.isInteger(nic.slot) || nic.slot < 4 || nic.slot > 31 || slots.has(nic.slot)) throw new Error(`extraNics: PCI slot ${nic.slot} is taken or out of 4–31`);
    slots.add(nic.slot);
    return ['-netdev', `hubport,id=extranic${i},hubid=${EXTRA_NIC_HUB}`, '-device', `virtio-net-pci,netdev=extranic${i},mac=${nic.mac},addr=0x${nic.slot.toString(16)}`];
  });
}

export interface BootResult {
  /** The console (ttyS0), then the reporter's own port (ttyS1): everything the guest printed. */
  readonly console: string;
  readonly wallMs: number;
  /** The text between the reporter's markers (empty when the guest never got there). */
  readonly report: string;
}

/** Boots the image under TCG until the guest powers itself off (or the timeout). */
export interface RunningGuest {
  /** Sends one HMP command and returns its output. */
  monitor(command: string): Promise<string>;
  /** Resolves when the console shows text matching the pattern (rejects after the timeout). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/**
 * TCG now and then hangs a guest kernel in its first second (seen: stuck for good right after
 * "clocksource: Switched to clocksource hpet"). Nothing has touched the disk by then, so such a
 * boot is started again (at most twice) rather than failing the suite after its timeout.
 */
const KERNEL_STALL_MS = 120_000;
/** A firmware boot (SeaBIOS or OVMF, then GRUB) spends part of that window before the kernel starts. */
const FIRMWARE_STALL_MS = 240_000;
const stallWindow = (options: BootOptions): number => ((options.firmware ?? 'kernel') === 'kernel' ? KERNEL_STALL_MS : FIRMWARE_STALL_MS);

export async function boot(image: string, workDir: string, options: BootOptions = {}): Promise<BootResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await bootOnce(image, workDir, options);
    if (result !== 'kernel-stalled') return result;
    if (attempt >= 3) throw new Error(`the guest kernel stalled before starting /init on ${attempt} boots in a row`);
    process.stderr.write(`qemu: the guest kernel stalled before /init for ${stallWindow(options) / 1000} s (a TCG hang); booting again\n`);
  }
}

async function bootOnce(image: string, workDir: string, options: BootOptions): Promise<BootResult | 'kernel-stalled'> {
  const log = join(workDir, `console-${Date.now()}.log`);
  const reportLog = join(workDir, `report-${Date.now()}.log`);
  const readBoth = async (): Promise<string> => `${existsSync(log) ? await readFile(log, 'utf8') : ''}\n${existsSync(reportLog) ? await readFile(reportLog, 'utf8') : ''}`;
  const monitorPath = join(workDir, `monitor-${Date.now()}.sock`);
  const args = [
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', '2', '-m', '1024',
    ...(await firmwareArgs(image, workDir, options)),
    '-nic', `user,model=virtio-net-pci,mac=${options.mac ?? '52:54:00:12:34:56'},restrict=on${options.nicExtra === undefined ? '' : `,${options.nicExtra}`}`,
    '-display', 'none', '-serial', `file:${log}`, '-serial', `file:${reportLog}`, '-monitor', options.during === undefined ? 'none' : `unix:${monitorPath},server=on,wait=off`, '-no-reboot',
  ];
  for (const disk of options.disks ?? []) args.push('-drive', `file=${disk},format=raw,if=virtio`);
  for (const entry of options.smbios ?? []) args.push('-smbios', entry);
  args.push(...extraNicArgs(options.extraNics ?? []));
  if (options.cdrom !== undefined) {
    // q35 has AHCI, not PIIX IDE, and Debian's cloud kernel has no AHCI driver: a virtio-scsi CD there
    if (options.firmware === 'uefi') args.push('-device', 'virtio-scsi-pci,id=cdscsi', '-drive', `file=${options.cdrom},media=cdrom,if=none,id=ctxcd,readonly=on`, '-device', 'scsi-cd,bus=cdscsi.0,drive=ctxcd');
    else args.push('-drive', `file=${options.cdrom},media=cdrom,if=ide,index=2,readonly=on`);
  }
  if (options.nicExtra !== undefined && /restrict|hostfwd|smb/u.test(options.nicExtra)) throw new Error('nicExtra must not loosen restrict=on');
  const t0 = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const stall = { hit: false };
  const stallCheck = setTimeout(() => {
    void readFile(log, 'utf8').catch(() => '').then((text) => {
      if (/Run \/init as init process/u.test(text)) return;
      stall.hit = true;
      child.kill('SIGKILL');
    });
  }, stallWindow(options));
  let duringError: Error | undefined;
  if (options.during !== undefined) {
    let exited = false;
    void closed.then(() => (exited = true));
    const guest: RunningGuest = {
      monitor: (command) => hmp(monitorPath, command),
      async waitFor(pattern, ms = 240_000) {
        const deadline = Date.now() + ms;
        for (;;) {
          const text = await readBoth();
          const m = pattern.exec(text);
          if (m !== null) return m;
          if (exited || Date.now() > deadline) throw new Error(`the console never showed ${String(pattern)}${exited ? ' (the guest is gone)' : ''}\n--- console tail ---\n${text.slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      },
    };
    try {
      await options.during(guest);
    } catch (error) {
      duringError = error instanceof Error ? error : new Error(JSON.stringify(error));
      child.kill('SIGKILL');
    }
  }
  const code = await closed;
  clearTimeout(timeout);
  clearTimeout(stallCheck);
  if (stall.hit) return 'kernel-stalled';
  if (duringError !== undefined) throw duringError;
  const consoleText = await readBoth();
  if (code !== 0) throw new Error(`qemu exited with ${code}: ${stderr.slice(0, 2000)}\n--- console tail ---\n${consoleText.slice(-4000)}`);
  const m = /E2E-BEGIN\r?\n([\s\S]*?)E2E-END/u.exec(consoleText);
  // an empty report would fail later as `expected '' to …`, far from the cause: say it here
  if (m?.[1] === undefined) throw new Error(`the guest powered off without a report: no E2E-BEGIN/END on ttyS1 (reporter not run, or cut off)\n--- console tail ---\n${consoleText.slice(-4000)}`);
  return { console: consoleText, wallMs: Date.now() - t0, report: m[1] };
}

/** One human-monitor command over the monitor's unix socket; the reply up to the next prompt. */
async function hmp(path: string, command: string): Promise<string> {
  const { createConnection } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = '';
    let sent = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`monitor: no answer to ${command}`));
    }, 15_000);
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (!sent && text.includes('(qemu) ')) {
        sent = true;
        text = '';
        socket.write(`${command}\n`);
      } else if (sent && text.includes('(qemu) ')) {
        clearTimeout(timer);
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Reads a file out of the powered-off image (no mount). Undefined when absent. */
export async function readGuestFile(image: string, path: string): Promise<string | undefined> {
  const { stdout, stderr } = await run('debugfs', ['-R', `cat ${path}`, image], { maxBuffer: 64 * 1024 * 1024 });
  if (/File not found|not found by ext2_lookup/u.test(stderr)) return undefined;
  return stdout;
}

/** `stat` of a guest path from debugfs: mode (octal string), uid and gid. */
export async function statGuestFile(image: string, path: string): Promise<{ mode: string; uid: number; gid: number } | undefined> {
  const { stdout } = await run('debugfs', ['-R', `stat ${path}`, image]);
  const m = /Mode:\s+(\d+)\s/u.exec(stdout);
  const u = /User:\s+(\d+)\s+Group:\s+(\d+)/u.exec(stdout);
  if (m === null || u === null) return undefined;
  return { mode: m[1] ?? '', uid: Number(u[1]), gid: Number(u[2]) };
}

/** Writes (replaces) a file in the powered-off image through debugfs; its directory must exist. */
export async function writeGuestFile(image: string, workDir: string, path: string, content: string): Promise<void> {
  const local = join(workDir, `put-${Date.now()}`);
  await writeFile(local, content);
  await run('debugfs', ['-w', '-R', `rm ${path}`, image]).catch(() => undefined);
  await run('debugfs', ['-w', '-R', `write ${local} ${path}`, image]);
  await rm(local);
}

/** The target of a symlink in the powered-off image, or undefined. */
export async function readGuestLink(image: string, path: string): Promise<string | undefined> {
  const { stdout } = await run('debugfs', ['-R', `stat ${path}`, image]);
  return /Fast link dest: "([^"]*)"/u.exec(stdout)?.[1];
}

/**
 * A guestfwd target that reaches a server on the host's 127.0.0.1:PORT: one relay process per
 * guest connection (QEMU's `cmd:`). A chardev target (`tcp:127.0.0.1:PORT`) is a single connection
 * QEMU opens at start and shares with every guest connection: node's HTTP server drops it when no
 * request comes within its headersTimeout (60 s, answered 408) — before a slow boot gets to the
 * network — and one `Connection: close` ends it for the rest of the boot.
 */
export async function guestfwdRelay(workDir: string, port: number): Promise<string> {
  const relay = join(workDir, 'relay.cjs');
  await writeFile(relay, RELAY);
  // QEMU splits its options at commas and runs the command with /bin/sh: neither may hold one
  if (/[,\s'"$;&|<>]/u.test(`${process.execPath}${relay}`)) throw new Error(`the relay's path cannot go in a QEMU option: ${process.execPath} ${relay}`);
  return `cmd:${process.execPath} ${relay} ${port}`;
}

const RELAY = `const net = require('node:net');
const s = net.connect(Number(process.argv[2]), '127.0.0.1');
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on('error', () => process.exit(1));
s.on('close', () => process.exit(0));
`;

/** A guest report's "== NAME" sections, carriage returns dropped. */
export function sections(report: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = report.replace(/\r/gu, '').split(/^== (\S+)\n/mu);
  for (let i = 1; i + 1 < parts.length; i += 2) out.set(parts[i] ?? '', parts[i + 1] ?? '');
  return out;
}
