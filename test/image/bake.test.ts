// vmctx bake on real ext images made at test time with mke2fs -d, checked with e2fsck -fn and by
// reading every installed file back with debugfs (no mount anywhere).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

function debugfs(image: string, command: string): string {
  return spawnSync('debugfs', ['-R', command, image], { encoding: 'utf8' }).stdout;
}

function e2fsck(image: string): { code: number | null; out: string } {
  const r = spawnSync('e2fsck', ['-fn', image], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

interface TreeOptions {
  systemd?: boolean;
  glibc?: string;
  rcLocal?: string | { symlinkTo: string };
  extra?: (dir: string) => Promise<void>;
}

/** A small Debian-like root: passwd/shadow with a fixed root password, host keys, logs, history. */
async function tree(options: TreeOptions = {}): Promise<string> {
  const dir = await tempDir();
  for (const d of ['etc/ssh', 'home/alice', 'root', 'var/log/apt', 'lib/x86_64-linux-gnu', 'tmp/sub', 'usr/sbin', 'var/lib/dhcp', 'var/cache/apt/archives', 'etc/udev/rules.d']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n');
  await writeFile(join(dir, 'etc/shadow'), 'root:$6$saltsalt$0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij:19000:0:99999:7:::\nalice:!:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(dir, 'etc/ssh/sshd_config'), 'PermitRootLogin prohibit-password\n');
  await writeFile(join(dir, 'etc/ssh/ssh_host_ed25519_key'), 'private\n', { mode: 0o600 });
  await writeFile(join(dir, 'etc/ssh/ssh_host_ed25519_key.pub'), 'public\n');
  await writeFile(join(dir, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  await writeFile(join(dir, 'etc/udev/rules.d/70-persistent-net.rules'), 'SUBSYSTEM=="net"\n');
  await writeFile(join(dir, 'var/log/syslog'), 'secret log line\n', { mode: 0o640 });
  await writeFile(join(dir, 'var/log/syslog.1'), 'old\n');
  await writeFile(join(dir, 'var/log/apt/history.log'), 'apt log\n');
  await writeFile(join(dir, 'var/lib/dhcp/dhclient.eth0.leases'), 'lease {}\n');
  await writeFile(join(dir, 'var/cache/apt/archives/pkg.deb'), 'deb');
  await writeFile(join(dir, 'root/.bash_history'), 'passwd\n');
  await writeFile(join(dir, 'home/alice/.bash_history'), 'ls\n');
  await writeFile(join(dir, 'tmp/sub/junk'), 'junk\n');
  await writeFile(join(dir, 'usr/sbin/sshd'), '');
  await writeFile(join(dir, 'lib/x86_64-linux-gnu/libc.so.6'), `ELF... GNU C Library (Debian GLIBC ${options.glibc ?? '2.36'}-9) stable release version ${options.glibc ?? '2.36'}.\n`);
  if (options.systemd !== false) {
    await mkdir(join(dir, 'usr/lib/systemd'), { recursive: true });
    await writeFile(join(dir, 'usr/lib/systemd/systemd'), '');
  }
  if (typeof options.rcLocal === 'string') {
    await writeFile(join(dir, 'etc/rc.local'), options.rcLocal);
    await chmod(join(dir, 'etc/rc.local'), 0o644);
  } else if (options.rcLocal !== undefined) await symlink(options.rcLocal.symlinkTo, join(dir, 'etc/rc.local'));
  await options.extra?.(dir);
  return dir;
}

async function image(options: TreeOptions & { type?: string; size?: string; features?: string } = {}): Promise<{ dir: string; img: string }> {
  const dir = await tempDir();
  const img = join(dir, 'disk.img');
  run('mke2fs', ['-F', '-q', '-t', options.type ?? 'ext3', ...(options.features === undefined ? [] : ['-O', options.features]), '-d', await tree(options), img, options.size ?? '64M']);
  return { dir, img };
}

const bakeArgs = (img: string, ...more: string[]): string[] => ['bake', img, '--node', 'system', '--bundle', BUNDLE, ...more];

describe('vmctx bake: a raw ext3 image', () => {
  it('installs vmctx, cleans, stamps; e2fsck is clean; every installed file reads back; the input is untouched', async () => {
    const { dir, img } = await image();
    const before = await sha(img);
    const r = vmctx(bakeArgs(img, '--image-name', 'debian-12', '--image-version', '3', '--json'));
    expect(r.code, r.stderr).toBe(0);
    const out = join(dir, 'disk-vmctx.img');
    expect(await sha(img)).toBe(before);
    expect(e2fsck(out).code).toBe(0);
    const dumped = join(dir, 'dumped.js');
    run('debugfs', ['-R', `dump /usr/lib/vmctx/vmctx.js ${dumped}`, out]);
    expect(await sha(dumped)).toBe(await sha(BUNDLE));
    expect(debugfs(out, 'cat /usr/sbin/vmctx')).toContain('exec /usr/bin/node /usr/lib/vmctx/load.js "$@"');
    expect(debugfs(out, 'stat /usr/sbin/vmctx')).toMatch(/Mode:\s+0755/u);
    expect(debugfs(out, 'cat /usr/lib/systemd/system/vmctx-local.service')).toContain('ExecStart=/usr/sbin/vmctx run --stage local');
    expect(debugfs(out, 'stat /etc/systemd/system/sysinit.target.wants/vmctx-local.service')).toMatch(/Fast link dest: "\/usr\/lib\/systemd\/system\/vmctx-local.service"/u);
    expect(debugfs(out, 'cat /etc/vmctx/config')).toContain('METADATA_BUDGET_MS');
    const id = debugfs(out, 'cat /etc/image-id');
    expect(id).toMatch(/^image_name=debian-12\nimage_version=3\nimage_arch=\S+\nimage_file=disk-vmctx.img\nimage_stamp=[0-9a-f]{4}-[0-9a-f]{4}\nimage_date=\d{14}\nrecipe_name=vmctx-bake\nvmctx_version=/u);
    // sysprep
    expect(debugfs(out, 'ls /etc/ssh')).not.toContain('ssh_host_');
    expect(debugfs(out, 'cat /etc/machine-id')).toBe('');
    expect(debugfs(out, 'cat /var/log/syslog')).toBe('');
    expect(debugfs(out, 'stat /var/log/syslog')).toMatch(/Mode:\s+0640/u);
    expect(debugfs(out, 'ls /var/log')).not.toContain('syslog.1');
    expect(debugfs(out, 'ls /root')).not.toContain('bash_history');
    expect(debugfs(out, 'ls /home/alice')).not.toContain('bash_history');
    expect(debugfs(out, 'ls /var/lib/dhcp')).not.toContain('leases');
    expect(debugfs(out, 'ls /etc/udev/rules.d')).not.toContain('70-persistent');
    expect(debugfs(out, 'ls /tmp')).not.toContain('sub');
    expect(debugfs(out, 'cat /etc/shadow')).toMatch(/^root:!\$6\$saltsalt\$/u);
    const report = JSON.parse(r.stdout) as { sysprep: Array<{ step: string; actions: string[] }> };
    expect(report.sysprep.find((s) => s.step === 'lock-passwords')?.actions).toEqual(['locked the fixed password of root']);
    // --check agrees
    expect(vmctx(['bake', '--check', out]).code).toBe(0);
    const c = vmctx(['bake', '--check', img, '--json']);
    expect(c.code).toBe(7);
    expect((JSON.parse(c.stdout) as { items: Array<{ item: string; status: string }> }).items.filter((i) => i.status === 'FAIL').map((i) => i.item).sort()).toEqual(['SSH host keys', 'fixed passwords']);
  });

  it('the output stays sparse and free blocks are punched out', async () => {
    const { dir, img } = await image({ size: '256M', extra: async (d) => writeFile(join(d, 'big'), Buffer.alloc(20 * 1024 * 1024, 7)) });
    // a file deleted after the image was made leaves its data in the free blocks
    run('debugfs', ['-w', '-R', 'rm /big', img]);
    expect(vmctx(bakeArgs(img)).code).toBe(0);
    const out = join(dir, 'disk-vmctx.img');
    expect(e2fsck(out).code).toBe(0);
    const allocated = (await stat(out)).blocks * 512;
    expect(allocated).toBeLessThan(12 * 1024 * 1024);
    expect((await stat(out)).size).toBe(256 * 1024 * 1024);
  });

  it('--dry-run lists every change and writes nothing', async () => {
    const { dir, img } = await image();
    const before = await sha(img);
    const r = vmctx(bakeArgs(img, '--dry-run'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('create /usr/lib/vmctx/vmctx.js');
    expect(r.stdout).toMatch(/sysprep ssh-host-keys: removed \/etc\/ssh\/ssh_host_ed25519_key/u);
    expect(await sha(img)).toBe(before);
    expect((await readdir(dir)).sort()).toEqual(['disk.img']);
  });

  it('baking twice is idempotent: the same files, one rc.local line (sysvinit image, rc.local before exit 0)', async () => {
    const { dir, img } = await image({ systemd: false, rcLocal: '#!/bin/sh -e\n# local things\necho hi\nexit 0\n' });
    expect(vmctx(bakeArgs(img)).code).toBe(0);
    const once = join(dir, 'disk-vmctx.img');
    const twice = join(dir, 'twice.img');
    expect(vmctx(bakeArgs(once, '-o', twice)).code).toBe(0);
    for (const out of [once, twice]) {
      expect(e2fsck(out).code).toBe(0);
      const rc = debugfs(out, 'cat /etc/rc.local');
      expect(rc).toBe('#!/bin/sh -e\n# local things\necho hi\n# vmctx: apply the VM context\n/usr/sbin/vmctx run --stage all || true\nexit 0\n');
      expect(debugfs(out, 'stat /etc/rc.local')).toMatch(/Mode:\s+0755/u);
      expect(debugfs(out, 'ls /usr/lib/systemd/system 2>&1')).not.toContain('vmctx-local');
    }
  });

  it('an /etc/rc.local or /usr/lib that is an absolute symlink resolves inside the image, never on the host', async () => {
    const hostFile = join(await tempDir(), 'host-rc.local');
    await writeFile(hostFile, 'host file\n');
    const { dir, img } = await image({
      systemd: false,
      rcLocal: { symlinkTo: hostFile },
      extra: async (d) => {
        await mkdir(join(d, 'usr/lib64'), { recursive: true });
        await symlink('/usr/lib64', join(d, 'usr/lib'));
      },
    });
    const r = vmctx(bakeArgs(img));
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(hostFile, 'utf8')).toBe('host file\n');
    const out = join(dir, 'disk-vmctx.img');
    expect(e2fsck(out).code).toBe(0);
    // the link is replaced by the image's own rc.local; /usr/lib/vmctx went to /usr/lib64/vmctx
    expect(debugfs(out, 'cat /etc/rc.local')).toContain('/usr/sbin/vmctx run --stage all');
    expect(debugfs(out, 'ls /usr/lib64')).toContain('vmctx');
  });
});

describe('vmctx bake: compressed and partitioned images', () => {
  for (const [kind, compressCmd] of [
    ['gz', ['gzip', '-k']],
    ['bz2', ['bzip2', '-k']],
    ['xz', ['xz', '-k', '-0']],
  ] as const) {
    it(`a .${kind} image comes out as .${kind}, baked`, async () => {
      const { dir, img } = await image();
      run(compressCmd[0], [...compressCmd.slice(1), img]);
      const r = vmctx(bakeArgs(`${img}.${kind}`));
      expect(r.code, r.stderr).toBe(0);
      const out = join(dir, `disk-vmctx.img.${kind}`);
      run(kind === 'gz' ? 'gzip' : kind === 'bz2' ? 'bzip2' : 'xz', ['-d', out]);
      expect(e2fsck(join(dir, 'disk-vmctx.img')).code).toBe(0);
      expect(debugfs(join(dir, 'disk-vmctx.img'), 'cat /etc/image-id')).toContain('image_file=disk-vmctx.img.');
    });
  }

  it('progress bars for decompressing, zeroing and compressing (what the CLI shows when stderr is a TTY)', async () => {
    const { bake } = await import('../../src/image/bake.js');
    const { img } = await image();
    run('gzip', ['-k', img]);
    const last = new Map<string, [number, number | undefined]>();
    const steps: string[] = [];
    await bake({ input: `${img}.gz`, inPlace: false, bundle: await readFile(BUNDLE), node: 'system', sysprep: false, skip: [], stamp: {}, zeroFree: true, dryRun: false, force: false, progress: { step: (t) => steps.push(t), bytes: (label, done, total) => last.set(label, [done, total]) } });
    for (const step of ['decompressing (gz)', 'zeroing free blocks', 'compressing (gz)']) {
      expect(steps, step).toContain(step);
      const [done, total] = last.get(step) ?? [0, 0];
      expect(total, step).toBeGreaterThan(0);
      expect(done, step).toBe(total);
    }
  });

  it('a .zip image', async () => {
    const { dir, img } = await image();
    run('zip', ['-q', '-j', join(dir, 'disk.zip'), img]);
    const r = vmctx(bakeArgs(join(dir, 'disk.zip')));
    expect(r.code, r.stderr).toBe(0);
    run('unzip', ['-q', '-o', join(dir, 'disk-vmctx.zip'), '-d', join(dir, 'x')]);
    const [inner] = await readdir(join(dir, 'x'));
    expect(e2fsck(join(dir, 'x', inner ?? '')).code).toBe(0);
    expect(debugfs(join(dir, 'x', inner ?? ''), 'ls /usr/lib/vmctx')).toContain('vmctx.js');
  });

  it('a whole-disk image with an MBR: the Linux partition is found (or named with --partition)', async () => {
    const { dir, img } = await image();
    const disk = join(dir, 'whole.img');
    const fsBytes = await readFile(img);
    const mbr = Buffer.alloc(1024 * 1024);
    mbr.writeUInt8(0x83, 446 + 4);
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(fsBytes.length / 512, 446 + 12);
    mbr.writeUInt16LE(0xaa55, 510);
    await writeFile(disk, Buffer.concat([mbr, fsBytes]));
    const r = vmctx(bakeArgs(disk, '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { where: string }).where).toBe('partition 1 (MBR)');
    const out = join(dir, 'whole-vmctx.img');
    const part = join(dir, 'part.img');
    run('dd', [`if=${out}`, `of=${part}`, 'bs=1M', 'skip=1', 'status=none']);
    expect(e2fsck(part).code).toBe(0);
    expect(debugfs(part, 'ls /usr/lib/vmctx')).toContain('vmctx.js');
    expect(vmctx(bakeArgs(disk, '--partition', '2')).stderr).toMatch(/no partition 2/u);
  });
});

describe('vmctx bake: bad input', () => {
  const noOutputLeft = async (dir: string, expected: string[]): Promise<void> => {
    expect((await readdir(dir)).sort()).toEqual(expected.sort());
  };

  it('a zip of random bytes, an ISO, a truncated image: clear errors, nothing written', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'random.bin'), Buffer.alloc(2 * 1024 * 1024, 0x5a));
    run('zip', ['-q', '-j', join(dir, 'random.zip'), join(dir, 'random.bin')]);
    const z = vmctx(bakeArgs(join(dir, 'random.zip')));
    expect(z.code).not.toBe(0);
    expect(z.stderr).toMatch(/ERR_IMAGE: not an ext2\/3\/4 image/u);
    const isoDir = await tempDir();
    await writeFile(join(isoDir, 'context.sh'), "A='1'\n");
    run('genisoimage', ['-quiet', '-o', join(dir, 'cd.iso'), isoDir]);
    expect(vmctx(bakeArgs(join(dir, 'cd.iso'))).stderr).toMatch(/ERR_IMAGE: not an ext2\/3\/4 image/u);
    const { img } = await image();
    const truncated = join(dir, 'short.img');
    await writeFile(truncated, (await readFile(img)).subarray(0, 3 * 1024 * 1024));
    const t = vmctx(bakeArgs(truncated));
    expect(t.code).not.toBe(0);
    expect(t.stderr).toMatch(/ERR_IMAGE: the image is truncated/u);
    await noOutputLeft(dir, ['random.bin', 'random.zip', 'cd.iso', 'short.img']);
  });

  it('ext4 with a feature libext2fs cannot write safely is refused, naming it', async () => {
    const { dir, img } = await image({ type: 'ext4', features: 'inline_data' });
    const r = vmctx(bakeArgs(img));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot write safely: inlineData/u);
    await noOutputLeft(dir, ['disk.img']);
  });

  it('a plain ext4 (Debian defaults: extents, 64bit, metadata_csum) bakes cleanly', async () => {
    const { dir, img } = await image({ type: 'ext4' });
    expect(vmctx(bakeArgs(img)).code).toBe(0);
    expect(e2fsck(join(dir, 'disk-vmctx.img')).code).toBe(0);
  });

  it('a dirty journal is refused unless --force', async () => {
    const { dir, img } = await image();
    run('debugfs', ['-w', '-R', 'feature needs_recovery', img]);
    const r = vmctx(bakeArgs(img));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/journal needs recovery.*--force/u);
    await noOutputLeft(dir, ['disk.img']);
    const forced = vmctx(bakeArgs(img, '--force'));
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/warning: --force/u);
  });

  it('a full file system: a clear error, the input intact, no half-written output', async () => {
    const { dir, img } = await image({ size: '8M', extra: async (d) => writeFile(join(d, 'filler'), Buffer.alloc(5 * 1024 * 1024, 1)) });
    const before = await sha(img);
    const big = join(dir, 'fat-bundle.js');
    await writeFile(big, Buffer.alloc(6 * 1024 * 1024, 0x61));
    const r = vmctx(['bake', img, '--node', 'system', '--bundle', big]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_IO: the image's file system is full: vmctx needs about \d+ MiB and \d+ MiB are free/u);
    expect(await sha(img)).toBe(before);
    await noOutputLeft(dir, ['disk.img', 'fat-bundle.js']);
  });

  it('an image whose glibc is too old for the running Node: a clear error naming what is needed', async () => {
    const { img } = await image({ glibc: '2.17' });
    const r = vmctx(['bake', img, '--bundle', BUNDLE]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/glibc 2\.17.*needs glibc 2\.28.*--node PATH/u);
  });

  it('the image\'s architecture comes from its /bin/sh; the running Node is not shipped into an image of another one', async () => {
    const elf = Buffer.alloc(64);
    elf.writeUInt32BE(0x7f454c46, 0);
    elf[4] = 2;
    elf[5] = 1;
    // an architecture other than this host's
    const [machine, other] = process.arch === 'arm64' ? [0x3e, 'x86_64'] : [0xb7, 'aarch64'];
    elf.writeUInt16LE(machine, 18);
    const { dir, img } = await image({ extra: async (d) => { await mkdir(join(d, 'bin'), { recursive: true }); await writeFile(join(d, 'bin/dash'), elf); await symlink('dash', join(d, 'bin/sh')); } });
    const r = vmctx(['bake', img, '--bundle', BUNDLE]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`the image is ${other} and the running Node is`);
    expect(r.stderr).toContain(`give a Node binary for ${other} with --node PATH`);
    expect(vmctx(bakeArgs(img)).code).toBe(0);
    expect(debugfs(join(dir, 'disk-vmctx.img'), 'cat /etc/image-id')).toContain(`image_arch=${other}\n`);
  });

  it('unknown sysprep steps and an output over the input are usage errors', async () => {
    const { img } = await image();
    expect(vmctx(bakeArgs(img, '--skip', 'nonsense')).stderr).toMatch(/unknown sysprep step/u);
    expect(vmctx(bakeArgs(img, '-o', img)).stderr).toMatch(/--in-place/u);
  });
});

describe('vmctx bake: the image author\'s additions (--scripts, --template, --udev-aliases)', () => {
  it('hooks land 0755 root:root in scripts.d, templates as .tmpl, the disk-alias rule and helper; e2fsck is clean', async () => {
    const { dir, img } = await image();
    const hooks = join(dir, 'hooks');
    await mkdir(join(hooks, 'per-instance'), { recursive: true });
    await mkdir(join(hooks, 'per-boot'), { recursive: true });
    await writeFile(join(hooks, 'per-instance', '10-setup'), '#!/bin/sh\necho setup\n', { mode: 0o600 });
    await writeFile(join(hooks, 'per-boot', '50-every'), '#!/bin/sh\necho boot\n');
    const tmpl = join(dir, 'httpd.conf.tmpl');
    await writeFile(tmpl, 'ServerName ${VMCTX_HOSTNAME}\n');
    const r = vmctx(bakeArgs(img, '--in-place', '--scripts', hooks, '--template', `${tmpl}:/etc/httpd/conf/httpd.conf`, '--udev-aliases'));
    expect(r.code, r.stderr).toBe(0);
    expect(e2fsck(img).code).toBe(0);
    expect(debugfs(img, 'cat /etc/vmctx/scripts.d/per-instance/10-setup')).toBe('#!/bin/sh\necho setup\n');
    expect(debugfs(img, 'stat /etc/vmctx/scripts.d/per-instance/10-setup')).toMatch(/Mode:\s+0755/u);
    expect(debugfs(img, 'stat /etc/vmctx/scripts.d/per-boot/50-every')).toMatch(/User:\s+0\s+Group:\s+0/u);
    expect(debugfs(img, 'cat /etc/vmctx/templates/etc/httpd/conf/httpd.conf.tmpl')).toBe('ServerName ${VMCTX_HOSTNAME}\n');
    expect(debugfs(img, 'cat /usr/lib/udev/rules.d/61-vmctx-disk-aliases.rules')).toContain('PROGRAM="/usr/lib/vmctx/disk-alias %k", SYMLINK+="%c"');
    expect(debugfs(img, 'stat /usr/lib/vmctx/disk-alias')).toMatch(/Mode:\s+0755/u);
  });

  it('refuses a hooks directory with an unknown frequency, a bad hook name, a template path with ..; the image is unchanged', async () => {
    const { dir, img } = await image();
    const before = await sha(img);
    const hooks = join(dir, 'hooks');
    await mkdir(join(hooks, 'sometimes'), { recursive: true });
    expect(vmctx(bakeArgs(img, '--in-place', '--scripts', hooks)).stderr).toMatch(/"sometimes" is not one of per-boot, per-instance, once/u);
    const tmpl = join(dir, 't.tmpl');
    await writeFile(tmpl, 'x');
    expect(vmctx(bakeArgs(img, '--in-place', '--template', `${tmpl}:/etc/../../x`)).stderr).toMatch(/expected SRC:\/absolute\/guest\/path/u);
    expect(await sha(img)).toBe(before);
  });
});

describe('the disk-alias helper (the udev rule\'s logic, on fixtures)', () => {
  it('xvd*/vd* names and partitions map to sd*; anything else, or a real sd device of that name, gives nothing', async () => {
    const { DISK_ALIAS_HELPER_TEXT } = await import('../../src/image/authoring.js');
    const dir = await tempDir();
    await writeFile(join(dir, 'disk-alias'), DISK_ALIAS_HELPER_TEXT, { mode: 0o755 });
    const dev = join(dir, 'dev');
    await mkdir(dev);
    await writeFile(join(dev, 'sdc'), ''); // a real /dev/sdc exists
    await symlink('vdd', join(dev, 'sdd')); // an earlier alias of ours
    const alias = (name: string): { code: number | null; out: string } => {
      const r = spawnSync(join(dir, 'disk-alias'), [name], { encoding: 'utf8', env: { VMCTX_DEV_DIR: dev } });
      return { code: r.status, out: r.stdout };
    };
    expect(alias('vda')).toEqual({ code: 0, out: 'sda\n' });
    expect(alias('vda1')).toEqual({ code: 0, out: 'sda1\n' });
    expect(alias('xvdb2')).toEqual({ code: 0, out: 'sdb2\n' });
    expect(alias('xvdaa')).toEqual({ code: 0, out: 'sdaa\n' });
    expect(alias('vdd')).toEqual({ code: 0, out: 'sdd\n' });
    for (const name of ['vdc', 'sda', 'nvme0n1', 'vd', 'vda;reboot', 'vd$(id)', 'loop0']) expect(alias(name).code, name).toBe(1);
  });
});

describe('vmctx bake: what a person reads (issue 16)', () => {
  it('--dry-run --json lists the changes with sizes, never file contents (the shipped Node binary included)', async () => {
    const { img } = await image({ size: '256M' });
    const r = vmctx(['bake', img, '--bundle', BUNDLE, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeLessThan(256 * 1024);
    const report = JSON.parse(r.stdout) as { changes: Array<Record<string, unknown>>; node: { kind: string; bytes: number } };
    const node = report.changes.find((c) => c['path'] === '/usr/lib/vmctx/node');
    expect(node).toMatchObject({ kind: 'write', mode: '0755' });
    expect(node?.['bytes']).toBeGreaterThan(1024 * 1024);
    for (const c of report.changes) expect(Object.keys(c).filter((k) => k === 'before' || k === 'after')).toEqual([]);
    expect(report.node).toMatchObject({ kind: 'host' });
  });

  it('says when it ships the host\'s Node and how big it is; -q prints only warnings on success', async () => {
    const { img } = await image({ size: '256M' });
    const r = vmctx(['bake', img, '--bundle', BUNDLE, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node: this host's Node v\d+\.\d+\.\d+ shipped as \/usr\/lib\/vmctx\/node \(\d+\.\d MiB\)$/mu);
    const q = vmctx(bakeArgs(img, '-q'));
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toBe('');
    // warnings only (this image's /bin/sh is missing: its architecture is guessed)
    expect(q.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('vmctx: warning: '))).toEqual([]);
  });

  it('--partition 2 on an image without a partition table says so (exit 4)', async () => {
    const { img } = await image();
    const r = vmctx(bakeArgs(img, '--partition', '2'));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/--partition 2: the image has no partition table/u);
  });

  it('a non-image, a missing file and a full file system are input errors with plain messages, not internal ones', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'notes.txt'), 'not an image\n'.repeat(10_000));
    for (const args of [bakeArgs(join(dir, 'notes.txt')), ['bake', '--check', join(dir, 'notes.txt')]]) {
      const r = vmctx(args);
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr).toMatch(/^vmctx: ERR_IMAGE: not an ext2\/3\/4 image/u);
    }
    for (const args of [bakeArgs(join(dir, 'absent.img')), ['bake', '--check', join(dir, 'absent.img')]]) {
      const r = vmctx(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(`vmctx: ERR_USAGE: ${join(dir, 'absent.img')}: no such file\n`);
    }
    const { img } = await image({ size: '8M', extra: async (d) => writeFile(join(d, 'filler'), Buffer.alloc(5 * 1024 * 1024, 1)) });
    await writeFile(join(dir, 'fat-bundle.js'), Buffer.alloc(6 * 1024 * 1024, 0x61));
    const full = vmctx(['bake', img, '--node', 'system', '--bundle', join(dir, 'fat-bundle.js')]);
    expect(full.code).toBe(4);
    expect(full.stderr).toMatch(/^vmctx: ERR_IO: the image's file system is full/u);
    expect(full.stderr).not.toMatch(/vmctx-\d+-|\.tmp-\d+|(\w+): \1:/u);
  });

  it('sysprep package-caches gives a count, not one line per package', async () => {
    const { img } = await image({ extra: async (d) => { for (let i = 0; i < 130; i++) await writeFile(join(d, `var/cache/apt/archives/pkg-${i}.deb`), 'x'.repeat(1000)); } });
    const r = vmctx(bakeArgs(img, '--dry-run'));
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('sysprep package-caches:')) ?? '';
    expect(line).toMatch(/^sysprep package-caches: removed 131 downloaded package\(s\) from \/var\/cache\/apt\/archives \(0\.1 MiB\)$/u);
  });

  it('--check says why an item fails; an image vmctx just baked (raw or .gz) passes its own check', async () => {
    const { img } = await image({ extra: async (d) => { await rm(join(d, 'etc/hosts')); } });
    const c = vmctx(['bake', '--check', img]);
    expect(c.code).toBe(7);
    expect(c.stdout).toMatch(/FAIL\s+\/etc\/hosts\s+\/etc\/hosts: missing/u);
    const { img: good } = await image();
    run('gzip', ['-k', good]);
    expect(vmctx(bakeArgs(`${good}.gz`)).code).toBe(0);
    const r = vmctx(['bake', '--check', join(dirname(good), 'disk-vmctx.img.gz')]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).not.toContain('FAIL');
  });
});
