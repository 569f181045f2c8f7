// The real-guest harness: a Debian bookworm root from debootstrap (cached outside the repo and
// rebuilt when its recipe changes), vmctx installed into a copy of it, turned into an ext3 image
// without mounting, booted under QEMU/TCG with user networking restricted to the host, and read
// back after power-off with debugfs.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, chmod, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CACHE = process.env['VMCTX_E2E_CACHE'] ?? '/var/cache/vmctx-e2e';
export const RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  mirror: 'http://deb.debian.org/debian',
  include: ['systemd-sysv', 'openssh-server', 'linux-image-cloud-amd64', 'iproute2', 'udev', 'kmod', 'hostname'],
};
const recipeHash = createHash('sha256').update(JSON.stringify(RECIPE)).digest('hex').slice(0, 12);
export const ROOTFS = join(CACHE, `rootfs-${recipeHash}`);

/** Builds the cached debootstrap root when it is missing (about a minute). */
export async function ensureRootfs(): Promise<string> {
  if (existsSync(join(ROOTFS, '.vmctx-complete'))) return ROOTFS;
  await mkdir(CACHE, { recursive: true });
  const temp = `${ROOTFS}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await run('debootstrap', [`--variant=${RECIPE.variant}`, `--include=${RECIPE.include.join(',')}`, RECIPE.suite, temp, RECIPE.mirror], { maxBuffer: 64 * 1024 * 1024 });
  await writeFile(join(temp, '.vmctx-complete'), JSON.stringify(RECIPE));
  await rm(ROOTFS, { recursive: true, force: true });
  await rename(temp, ROOTFS);
  return ROOTFS;
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

/** The report script: waits for the boot to finish, prints markers on the console, powers off. */
const REPORTER = `#!/bin/sh
systemctl is-system-running --wait >/dev/null 2>&1
{
  echo "E2E-BEGIN"
  systemd-analyze
  systemd-analyze critical-chain ssh.service
  systemctl show -p ActiveState -p Result -p ExecMainStatus -p ExecMainExitTimestampMonotonic vmctx-local.service
  echo "SSH-START $(systemctl show -p ExecMainStartTimestampMonotonic --value ssh.service)"
  systemd-analyze blame --no-pager | grep -E 'vmctx|ssh' 
  journalctl -b -u vmctx-local.service --no-pager -o short-monotonic
  hostname
  echo "ADDR $(ip -o -4 addr show scope global | awk '{print $2, $4}' | tr '\\n' ';')"
  echo "ROUTE $(ip -4 route show default | tr '\\n' ';')"
  echo "NETWORKD $(systemctl is-active systemd-networkd.service)"
  systemctl status --no-pager -n 15 systemd-networkd.service 2>&1 | tail -20
  [ -f /usr/local/sbin/vmctx-e2e-extra ] && bash /usr/local/sbin/vmctx-e2e-extra
  echo "E2E-END"
} > /dev/ttyS0 2>&1
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

export interface ImageOptions {
  /** Install vmctx (the built bundle and this Node) into the image. */
  readonly withAgent: boolean;
  /** Extra files to place (guest path → content). */
  readonly files?: Readonly<Record<string, string>>;
  /** Symbolic links to make (guest path → target), e.g. to enable units. */
  readonly links?: Readonly<Record<string, string>>;
}

/** Stages a copy of the root, installs vmctx and the reporter, and makes an ext3 image of it. */
export async function buildImage(workDir: string, options: ImageOptions): Promise<string> {
  const rootfs = await ensureRootfs();
  const stage = join(workDir, 'stage');
  await rm(stage, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', rootfs, stage]);
  await rm(join(stage, '.vmctx-complete'));
  await mkdir(join(stage, 'usr/local/sbin'), { recursive: true });
  await writeFile(join(stage, 'usr/local/sbin/vmctx-e2e-report'), REPORTER);
  await chmod(join(stage, 'usr/local/sbin/vmctx-e2e-report'), 0o755);
  await writeFile(join(stage, 'etc/systemd/system/vmctx-e2e-report.service'), REPORT_UNIT);
  await mkdir(join(stage, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  await symlink('/etc/systemd/system/vmctx-e2e-report.service', join(stage, 'etc/systemd/system/multi-user.target.wants/vmctx-e2e-report.service'));
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
    await run(process.execPath, [resolve('dist/vmctx.js'), 'bake', image, '--in-place', '--bundle', resolve('dist/vmctx.js'), '--node', process.execPath, '--image-name', 'vmctx-e2e', '--recipe-name', 'vmctx-e2e']);
  }
  return image;
}

export interface BootOptions {
  readonly cdrom?: string;
  /** Appended to the -nic user,… option (guestfwd, net=…); restrict=on is always there. */
  readonly nicExtra?: string;
  /** More raw disks, attached as virtio after the root disk (vdb, vdc, …). */
  readonly disks?: readonly string[];
  readonly mac?: string;
  readonly timeoutMs?: number;
}

export interface BootResult {
  readonly console: string;
  readonly wallMs: number;
  /** The text between the reporter's markers (empty when the guest never got there). */
  readonly report: string;
}

/** Boots the image under TCG until the guest powers itself off (or the timeout). */
export async function boot(image: string, workDir: string, options: BootOptions = {}): Promise<BootResult> {
  const { kernel, initrd } = kernelAndInitrd(ROOTFS);
  const log = join(workDir, `console-${Date.now()}.log`);
  const args = [
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', '2', '-m', '1024',
    '-kernel', kernel, '-initrd', initrd,
    '-append', 'root=/dev/vda rw console=ttyS0 systemd.show_status=false',
    '-drive', `file=${image},format=raw,if=virtio`,
    '-nic', `user,model=virtio-net-pci,mac=${options.mac ?? '52:54:00:12:34:56'},restrict=on${options.nicExtra === undefined ? '' : `,${options.nicExtra}`}`,
    '-display', 'none', '-serial', `file:${log}`, '-monitor', 'none', '-no-reboot',
  ];
  for (const disk of options.disks ?? []) args.push('-drive', `file=${disk},format=raw,if=virtio`);
  if (options.cdrom !== undefined) args.push('-drive', `file=${options.cdrom},media=cdrom,if=ide,index=2,readonly=on`);
  if (options.nicExtra !== undefined && /restrict|hostfwd|smb/u.test(options.nicExtra)) throw new Error('nicExtra must not loosen restrict=on');
  const t0 = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timeout);
  const consoleText = existsSync(log) ? await readFile(log, 'utf8') : '';
  if (code !== 0) throw new Error(`qemu exited with ${code}: ${stderr.slice(0, 2000)}\n--- console tail ---\n${consoleText.slice(-4000)}`);
  const m = /E2E-BEGIN\r?\n([\s\S]*?)E2E-END/u.exec(consoleText);
  return { console: consoleText, wallMs: Date.now() - t0, report: m?.[1] ?? '' };
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
