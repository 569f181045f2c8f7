import { chmod, chown, link, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHRONY_SOURCES, FSTAB_BLOCK, TIMESYNCD_DROPIN, autoSwapSize, localeModule, mountUnit, mountsModule, ntpModule } from '../../../src/agent/modules/machine.js';
import type { Module, Target } from '../../../src/agent/modules/module.js';
import type { Exec } from '../../../src/host/exec.js';
import { SYSTEMD_MOUNT_OPTIONS } from '../../../src/formats/cc/machine.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { DryRunRoot, RecordingExec } from '../../../src/host/dryrun.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { runAgent } from '../../../src/agent/run.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { contextOf } from '../../helpers/context.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger(undefined);
const MIB = 2 ** 20;

async function apply(module: Module, root: string, yaml: string) {
  const ctx = await contextOf({ USER_DATA: `#cloud-config\n${yaml}` });
  expect(module.isRelevant(ctx)).toBe(true);
  return module.apply(ctx, { root: new DirectoryRoot(root), exec: new HostExec(), live: false }, log);
}
const read = (root: string, path: string): Promise<string> => readFile(join(root, path), 'utf8');
const put = async (root: string, path: string, text: string, mode = 0o644): Promise<void> => {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), text, { mode });
};
const block = (lines: readonly string[]): string => [FSTAB_BLOCK.begin, ...lines, FSTAB_BLOCK.end].join('\n');

const IMAGE_FSTAB = `# /etc/fstab: static file system information.
UUID=1111-2222 / ext4 errors=remount-ro 0 1
# a comment the image keeps
/dev/vdb\t/old\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2
tmpfs /tmp tmpfs defaults 0 0
`;

describe('mounts module (cloud-config mounts and swap)', () => {
  it('cloud-init\'s documented example: fstab entries in a block, the image\'s lines kept, cloud-init\'s own taken over, mount points made, a real swap file', async () => {
    const root = await scratchRoot();
    await put(root, '/etc/fstab', IMAGE_FSTAB);
    const out = await apply(mountsModule, root, `mounts:
  - [ /dev/ephemeral0, /mnt, auto, "defaults,noexec" ]
  - [ sdc, /opt/data ]
  - [ xvdh, /opt/data, auto, "defaults,nofail", "0", "0" ]
  - [ dd, /dev/zero ]
mount_default_fields: [ None, None, auto, "defaults,nofail", "0", "2" ]
swap:
  filename: /my/swapfile
  size: 2M
`);
    expect(await read(root, '/etc/fstab')).toBe(`# /etc/fstab: static file system information.
UUID=1111-2222 / ext4 errors=remount-ro 0 1
# a comment the image keeps
tmpfs /tmp tmpfs defaults 0 0
${block([
  '/dev/ephemeral0\t/mnt\tauto\tdefaults,noexec,nofail,comment=cloudconfig\t0\t2',
  '/dev/sdc\t/opt/data\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2',
  '/dev/xvdh\t/opt/data\tauto\tdefaults,nofail,comment=cloudconfig\t0\t0',
  '/my/swapfile\tnone\tswap\tsw,comment=cloudconfig\t0\t0',
])}
`);
    expect((await stat(join(root, 'mnt'))).isDirectory()).toBe(true);
    expect((await stat(join(root, 'opt/data'))).isDirectory()).toBe(true);
    const swap = await stat(join(root, 'my/swapfile'));
    expect(swap.size).toBe(2 * MIB);
    expect(swap.mode & 0o777).toBe(0o600);
    // mkswap's signature, at the end of the first page
    expect((await readFile(join(root, 'my/swapfile'))).includes('SWAPSPACE2')).toBe(true);
    expect(out.actions).toEqual(['1 fstab line(s) cloud-init wrote ("comment=cloudconfig") replaced by vmctx\'s block', 'swap file /my/swapfile of 2 MiB made']);
    expect(out.changed).toEqual(expect.arrayContaining(['/etc/fstab', '/mnt', '/opt/data', '/my/swapfile']));

    // again: nothing changes (the swap file is kept, the block is the same)
    const again = await apply(mountsModule, root, `mounts:
  - [ /dev/ephemeral0, /mnt, auto, "defaults,noexec" ]
  - [ sdc, /opt/data ]
  - [ xvdh, /opt/data, auto, "defaults,nofail", "0", "0" ]
mount_default_fields: [ None, None, auto, "defaults,nofail", "0", "2" ]
swap: { filename: /my/swapfile, size: 2M }
`);
    expect([again.changed, again.actions]).toEqual([[], []]);
    // a smaller list replaces the block; a null mount point drops the device
    await apply(mountsModule, root, 'mounts:\n  - [ sdc, /opt/data ]\n  - [ sdc, null ]\n  - [ "LABEL=logs", /var/log/app, ext4 ]\n');
    expect(await read(root, '/etc/fstab')).toBe(`# /etc/fstab: static file system information.
UUID=1111-2222 / ext4 errors=remount-ro 0 1
# a comment the image keeps
tmpfs /tmp tmpfs defaults 0 0
${block([`LABEL=logs\t/var/log/app\text4\tdefaults,nofail,comment=cloudconfig\t0\t2`])}
`);
  });

  it('default options: systemd\'s (nofail, after vmctx, _netdev) where the root has systemd, plain nofail elsewhere; an fstab is made when there is none', async () => {
    const withSystemd = await scratchRoot();
    await mkdir(join(withSystemd, 'etc/systemd/system'), { recursive: true });
    await apply(mountsModule, withSystemd, 'mounts:\n  - [ vdb.1, /data ]\n  - [ sdc2, /data2 ]\n  - [ sr0, /media/cdrom, iso9660, "ro" ]\n');
    expect(await read(withSystemd, '/etc/fstab')).toBe(`${block([
      `/dev/vdb1\t/data\tauto\t${SYSTEMD_MOUNT_OPTIONS},comment=cloudconfig\t0\t2`,
      `/dev/sdc2\t/data2\tauto\t${SYSTEMD_MOUNT_OPTIONS},comment=cloudconfig\t0\t2`,
      '/dev/sr0\t/media/cdrom\tiso9660\tro,nofail,comment=cloudconfig\t0\t2',
    ])}\n`);
    const plain = await scratchRoot();
    await put(plain, '/etc/fstab', 'tmpfs /tmp tmpfs defaults 0 0\n');
    await apply(mountsModule, plain, 'mounts:\n  - [ "server:/export", /srv/nfs, nfs ]\n  - [ /dev/vdc, none, swap, sw, "0", "0" ]\n  - [ tmpfs, /scratch, tmpfs, "size=64m" ]\n');
    expect(await read(plain, '/etc/fstab')).toBe(`tmpfs /tmp tmpfs defaults 0 0\n${block(['server:/export\t/srv/nfs\tnfs\tdefaults,nofail,comment=cloudconfig\t0\t2', '/dev/vdc\tnone\tswap\tsw,comment=cloudconfig\t0\t0', 'tmpfs\t/scratch\ttmpfs\tsize=64m,nofail,comment=cloudconfig\t0\t2'])}\n`);
  });

  it('hostile: mount points through symlinks, a clash with the image\'s fstab, cloud names, a swap file through a link or too big — each refused and named', async () => {
    const root = await scratchRoot();
    const outside = await tempDir();
    await put(root, '/etc/fstab', 'UUID=1 / ext4 defaults 0 1\n/dev/vdz /srv ext4 defaults 0 2\n');
    await symlink(outside, join(root, 'data'));
    await symlink('/etc', join(root, 'etcdata'));
    await symlink(outside, join(root, 'swapdir'));
    const out = await apply(mountsModule, root, `mounts:
  - [ /dev/vdb, /data/x ]
  - [ /dev/vdb, /etcdata ]
  - [ /dev/vdc, /srv ]
  - [ ephemeral0, /mnt ]
  - [ /dev/vdd, /ok ]
  - [ /dev/vde, /etc/passwd ]
  - [ /dev/vdf, /home/alice/disk ]
swap: { filename: /swapdir/swap.img, size: 1M }
`);
    expect(out.warnings).toEqual([
      `mounts[0] (line 3): mount point /data/x: /data is a symlink (to ${outside}); skipped (a mount through a link could land anywhere)`,
      'mounts[1] (line 4): mount point /etcdata: /etcdata is a symlink (to /etc); skipped (a mount through a link could land anywhere)',
      'mounts[2] (line 5): /etc/fstab already has "/dev/vdz /srv ext4 defaults 0 2" for /srv; skipped',
      'mounts[3] (line 6): ephemeral0 names a disk from a cloud\'s block-device mapping, which vmctx\'s datasources do not give; skipped',
      'mounts[5] (line 8): mount point /etc/passwd is not a directory; skipped',
      'mounts[6] (line 9): mount point /home/alice/disk: /home/alice is owned by uid 1000 with mode 755 (another user could put a link there); skipped (a mount through a link could land anywhere)',
      `swap (line 10): /swapdir is a symlink (to ${outside}); no swap file made through it`,
    ]);
    expect(await read(root, '/etc/fstab')).toBe(`UUID=1 / ext4 defaults 0 1\n/dev/vdz /srv ext4 defaults 0 2\n${block(['/dev/vdd\t/ok\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2'])}\n`);
    await expect(lstat(join(outside, 'x'))).rejects.toThrow();
    await expect(lstat(join(outside, 'swap.img'))).rejects.toThrow();

    // never fill the disk: a swap file over 90% of the free space is refused, nothing left behind
    const big = await apply(mountsModule, root, 'swap: { filename: /swap.img, size: 64T }\n');
    expect(big.warnings).toEqual([expect.stringMatching(/^swap \(line 2\): a swap file of 67108864 MiB would take over 90% of the \d+ MiB free in \/; refused$/u)]);
    await expect(lstat(join(root, 'swap.img'))).rejects.toThrow();
    // "auto" needs the running system's memory
    expect((await apply(mountsModule, root, 'swap: { size: auto }\n')).warnings).toEqual(['swap (line 2): size "auto" needs the running system\'s memory size; no swap file (give a size)']);

    // an fstab that is a link is never written through
    const linked = await scratchRoot();
    await put(linked, '/etc/fstab.real', 'UUID=1 / ext4 defaults 0 1\n');
    await symlink('fstab.real', join(linked, 'etc/fstab'));
    await expect(apply(mountsModule, linked, 'mounts:\n  - [ /dev/vdb, /data ]\n')).rejects.toMatchObject({ code: 'ERR_PATH_SYMLINK' });
    expect(await read(linked, '/etc/fstab.real')).toBe('UUID=1 / ext4 defaults 0 1\n');
  });

  it('"auto" follows cloud-init\'s formula: memory under 4 GiB, 4 GiB under 16, √GiB above; at most a quarter of the free space, or 90% with maxsize', () => {
    const G = 2 ** 30;
    expect(autoSwapSize(2 * G, 100 * G, undefined)).toBe(2 * G);
    expect(autoSwapSize(8 * G, 100 * G, undefined)).toBe(4 * G);
    expect(autoSwapSize(64 * G, 1000 * G, undefined)).toBe(8 * G);
    expect(autoSwapSize(8 * G, 8 * G, undefined)).toBe(2 * G);
    expect(autoSwapSize(8 * G, 2 * G, 10 * G)).toBe(Math.floor(2 * G * 0.9));
    expect(autoSwapSize(8 * G, 100 * G, G)).toBe(G);
  });
});

describe('locale module', () => {
  it('cloud-init\'s example (locale, locale_configfile): LANG= replaced with the other lines kept, the locale enabled in /etc/locale.gen', async () => {
    const root = await scratchRoot();
    await put(root, '/etc/debian_version', '12.0\n');
    await put(root, '/etc/default/locale', '#  File generated by update-locale\nLANG=C.UTF-8\nLC_TIME=en_GB.UTF-8\n');
    await put(root, '/usr/share/i18n/SUPPORTED', 'de_DE.UTF-8 UTF-8\nde_DE ISO-8859-1\nen_US.UTF-8 UTF-8\n');
    await put(root, '/etc/locale.gen', '# en_US ISO-8859-1\nen_US.UTF-8 UTF-8\n# de_DE.UTF-8 UTF-8\n');
    const out = await apply(localeModule, root, 'locale: de_DE.UTF-8\nlocale_configfile: /etc/default/locale\n');
    expect(await read(root, '/etc/default/locale')).toBe('#  File generated by update-locale\nLANG=de_DE.UTF-8\nLC_TIME=en_GB.UTF-8\n');
    expect(await read(root, '/etc/locale.gen')).toBe('# en_US ISO-8859-1\nen_US.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\n');
    expect(out.warnings).toEqual(['locale (line 2): de_DE.UTF-8 enabled in /etc/locale.gen; locale-gen cannot run in an offline root, so it is generated when locale-gen next runs in the guest']);
    // the same again: nothing to do
    expect((await apply(localeModule, root, 'locale: de_DE.UTF-8\n')).changed).toEqual([]);
    // a name the system does not list is set, with a warning
    const odd = await apply(localeModule, root, 'locale: xx_YY.UTF-8\n');
    expect(odd.warnings).toEqual(['locale (line 2): xx_YY.UTF-8 is not in /usr/share/i18n/SUPPORTED or /etc/locale.gen; set, but it may not exist on this system']);
    expect(await read(root, '/etc/default/locale')).toContain('\nLANG=xx_YY.UTF-8\n');
  });

  it('a system without /etc/default/locale gets /etc/locale.conf; C.UTF-8 needs no generation; "false" leaves the locale', async () => {
    const root = await scratchRoot();
    const out = await apply(localeModule, root, 'locale: C.UTF-8\n');
    expect(out.warnings).toEqual([]);
    expect(await read(root, '/etc/locale.conf')).toBe('LANG=C.UTF-8\n');
    expect(localeModule.isRelevant(await contextOf({ USER_DATA: '#cloud-config\nlocale: "false"\n' }))).toBe(false);
  });
});

describe('machine modules and hostile images', () => {
  it('a locale file linked to /etc/shadow is replaced, never written through; a hard-linked one is not carried over; a drop-in link is replaced', async () => {
    const root = await scratchRoot();
    const shadow = await read(root, '/etc/shadow');
    await put(root, '/etc/debian_version', '12\n');
    await mkdir(join(root, 'etc/default'), { recursive: true });
    await symlink('/etc/shadow', join(root, 'etc/default/locale'));
    const out = await apply(localeModule, root, 'locale: C.UTF-8\n');
    expect(out.warnings).toEqual(['/etc/default/locale was a symlink to /etc/shadow; replaced by a file (never written through)']);
    expect(await read(root, '/etc/default/locale')).toBe('LANG=C.UTF-8\n');
    expect(await read(root, '/etc/shadow')).toBe(shadow);
    // a link to another locale file is followed (some systems link /etc/locale.conf to /etc/default/locale)
    await symlink('default/locale', join(root, 'etc/locale.conf'));
    await apply(localeModule, root, 'locale: POSIX\nlocale_configfile: /etc/locale.conf\n');
    expect([(await lstat(join(root, 'etc/locale.conf'))).isSymbolicLink(), await read(root, '/etc/default/locale')]).toEqual([true, 'LANG=POSIX\n']);

    const hard = await scratchRoot();
    await link(join(hard, 'etc/shadow'), join(hard, 'etc/locale.conf'));
    const out2 = await apply(localeModule, hard, 'locale: C\n');
    expect(out2.warnings).toEqual(['/etc/locale.conf has 2 hard links; its content is not carried over']);
    expect(await read(hard, '/etc/locale.conf')).toBe('LANG=C\n');
    expect(await read(hard, '/etc/shadow')).toBe(shadow);

    const ntp = await scratchRoot();
    await put(ntp, '/lib/systemd/systemd-timesyncd', '', 0o755);
    await mkdir(join(ntp, 'etc/systemd/timesyncd.conf.d'), { recursive: true });
    await symlink('/etc/passwd', join(ntp, TIMESYNCD_DROPIN.slice(1)));
    const passwd = await read(ntp, '/etc/passwd');
    await apply(ntpModule, ntp, 'ntp:\n  servers: [ ntp.example.com ]\n');
    expect((await lstat(join(ntp, TIMESYNCD_DROPIN.slice(1)))).isFile()).toBe(true);
    expect(await read(ntp, '/etc/passwd')).toBe(passwd);
  });
});

describe('ntp module', () => {
  it('systemd-timesyncd: servers and pools in a drop-in; peers named as not applied', async () => {
    const root = await scratchRoot();
    await put(root, '/usr/lib/systemd/systemd-timesyncd', '', 0o755);
    const out = await apply(ntpModule, root, `ntp:
  enabled: true
  servers: [ ntp.example.com, 192.0.2.1 ]
  pools: [ 0.pool.example.org ]
  peers: [ peer.example.com ]
`);
    expect(await read(root, TIMESYNCD_DROPIN)).toBe('# written by vmctx from cloud-config ntp\n[Time]\nNTP=ntp.example.com 192.0.2.1 0.pool.example.org\n');
    expect(out.warnings).toEqual(['ntp (line 2): peers and allow are chrony\'s; systemd-timesyncd has no such settings, ignored']);
  });

  it('chrony (cloud-init\'s example shape): a sources.d file where chrony.conf reads one, else a managed block in chrony.conf', async () => {
    const debian = await scratchRoot();
    await put(debian, '/usr/sbin/chronyd', '', 0o755);
    await put(debian, '/etc/chrony/chrony.conf', 'pool 2.debian.pool.ntp.org iburst\nsourcedir /run/chrony-dhcp\nsourcedir /etc/chrony/sources.d\n');
    const out = await apply(ntpModule, debian, 'ntp:\n  enabled: true\n  ntp_client: chrony\n  servers: [ ntp.example.com ]\n  pools: [ 0.int.pool.ntp.org ]\n');
    expect(await read(debian, CHRONY_SOURCES)).toBe('# written by vmctx from cloud-config ntp\npool 0.int.pool.ntp.org iburst\nserver ntp.example.com iburst\n');
    expect(out.warnings).toEqual(['ntp (line 2): /etc/chrony/chrony.conf has its own server or pool lines; they stay in use beside the ones given (cloud-init would replace the file)']);
    const rhel = await scratchRoot();
    await put(rhel, '/usr/sbin/chronyd', '', 0o755);
    await put(rhel, '/etc/chrony.conf', 'driftfile /var/lib/chrony/drift\n');
    await apply(ntpModule, rhel, 'ntp:\n  servers: [ ntp.example.com ]\n  allow: [ 192.0.2.0/24 ]\n');
    expect(await read(rhel, '/etc/chrony.conf')).toBe(`driftfile /var/lib/chrony/drift\n${[FSTAB_BLOCK.begin, 'server ntp.example.com iburst', 'allow 192.0.2.0/24', FSTAB_BLOCK.end].join('\n')}\n`);
  });

  it('no client installed, or one vmctx does not configure: named, nothing written; enabled: false is not relevant', async () => {
    const root = await scratchRoot();
    expect((await apply(ntpModule, root, 'ntp:\n  servers: [ ntp.example.com ]\n')).warnings).toEqual(['ntp (line 2): no NTP client installed; cloud-init would install one (packages not supported)']);
    await put(root, '/usr/sbin/ntpd', '', 0o755);
    expect((await apply(ntpModule, root, 'ntp:\n  ntp_client: ntp\n  servers: [ ntp.example.com ]\n')).warnings).toEqual(['ntp (line 2): ntp_client ntp is not supported by vmctx (chrony and systemd-timesyncd are); nothing written']);
    expect((await apply(ntpModule, root, 'ntp:\n  ntp_client: chrony\n')).warnings).toEqual(['ntp (line 2): ntp_client chrony is not installed; cloud-init would install it (packages not supported)']);
    await expect(lstat(join(root, 'etc/systemd/timesyncd.conf.d'))).rejects.toThrow();
    expect(ntpModule.isRelevant(await contextOf({ USER_DATA: '#cloud-config\nntp: { enabled: false, servers: [ a.example ] }\n' }))).toBe(false);
  });
});

describe('machine modules in the agent', () => {
  it('run from a context.sh USER_DATA, then skipped while the cloud-config stays the same, run again when it changes', async () => {
    const root = await scratchRoot();
    await put(root, '/usr/lib/systemd/systemd-timesyncd', '', 0o755);
    const src = await tempDir();
    const run = async (yaml: string) => {
      await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '1', USER_DATA: `#cloud-config\n${yaml}` }));
      const report = await runAgent({ root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'local', dryRun: false, exec: new HostExec(), logger: log, console: new ConsoleLines(false), version: 'test', modules: [mountsModule, localeModule, ntpModule] });
      return report.modules.map((m) => `${m.id} ${m.status}`);
    };
    const yaml = 'mounts:\n  - [ /dev/vdb, /data ]\nlocale: C.UTF-8\nntp:\n  servers: [ ntp.example.com ]\n';
    expect(await run(yaml)).toEqual(['mounts applied', 'locale applied', 'ntp applied']);
    expect(await run(yaml)).toEqual(['mounts skipped', 'locale skipped', 'ntp skipped']);
    expect(await run(yaml.replace('/data', '/srv'))).toEqual(['mounts applied', 'locale skipped', 'ntp skipped']);
    expect(await read(root, '/etc/fstab')).toContain('/dev/vdb\t/srv\t');
  });
});

describe('machine modules in a dry run', () => {
  it('plan the fstab block and the swap file without making either; the programs are recorded', async () => {
    const dir = await scratchRoot();
    await put(dir, '/etc/fstab', 'UUID=1 / ext4 defaults 0 1\n');
    const root = new DryRunRoot(new DirectoryRoot(dir));
    const exec = new RecordingExec(new HostExec(), root);
    const ctx = await contextOf({ USER_DATA: '#cloud-config\nmounts:\n  - [ /dev/vdb, /data ]\nswap: { filename: /swap.img, size: 1M }\n' });
    const out = await mountsModule.apply(ctx, { root, exec, live: false, dryRun: true }, log);
    expect(out.changed).toEqual(['/data', '/swap.img', '/etc/fstab']);
    expect(exec.commands.map((c) => c[0]?.split('/').pop())).toEqual(['stat', 'fallocate', 'mkswap']);
    expect(await read(dir, '/etc/fstab')).toBe('UUID=1 / ext4 defaults 0 1\n');
    await expect(lstat(join(dir, 'swap.img'))).rejects.toThrow();
    await expect(lstat(join(dir, 'data'))).rejects.toThrow();
  });
});

describe('machine modules on the running system (live actions recorded; the file tools real)', () => {
  /** stat, fallocate, dd and mkswap run for real on the temp root; the live actions are recorded, never run. */
  function liveTarget(root: string): { target: Target; calls: string[] } {
    const host = new HostExec();
    const real = new Set(['stat', 'fallocate', 'dd', 'mkswap', 'chattr']);
    const calls: string[] = [];
    const exec: Exec = {
      which: async (name) => (real.has(name) ? host.which(name) : `/usr/bin/${name}`),
      run: (file, args, options) => {
        const name = file.split('/').pop() ?? '';
        if (real.has(name)) return host.run(file, args, options);
        calls.push([name, ...args].join(' '));
        return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
      },
    };
    return { target: { root: new DirectoryRoot(root), exec, live: true }, calls };
  }

  it('mounts: daemon-reload, each new local mount mounted (not the mounted one, not the network share), the swap file of "auto" size switched on', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'run/systemd/system'), { recursive: true });
    await mkdir(join(root, 'sys/block/sdb/sdb1'), { recursive: true });
    await put(root, '/proc/self/mounts', '/dev/vda1 / ext4 rw 0 0\n/dev/vdc /already ext4 rw 0 0\n');
    await put(root, '/proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n');
    // 2 MiB of memory: "auto" makes a swap file as big as the memory (cloud-init's rule under 4 GiB)
    await put(root, '/proc/meminfo', 'MemTotal:        2048 kB\nMemFree:         1024 kB\n');
    const { target, calls } = liveTarget(root);
    const ctx = await contextOf({ USER_DATA: '#cloud-config\nmounts:\n  - [ sdb, /data ]\n  - [ /dev/vdc, /already ]\n  - [ "server:/x", /nfs, nfs ]\nswap: { filename: /swap.img, size: auto }\n' });
    const out = await mountsModule.apply(ctx, target, log);
    expect(await read(root, '/etc/fstab')).toBe(`${block([
      `/dev/sdb1\t/data\tauto\t${SYSTEMD_MOUNT_OPTIONS},comment=cloudconfig\t0\t2`,
      `/dev/vdc\t/already\tauto\t${SYSTEMD_MOUNT_OPTIONS},comment=cloudconfig\t0\t2`,
      `server:/x\t/nfs\tnfs\t${SYSTEMD_MOUNT_OPTIONS},comment=cloudconfig\t0\t2`,
      '/swap.img\tnone\tswap\tsw,comment=cloudconfig\t0\t0',
    ])}\n`);
    expect((await stat(join(root, 'swap.img'))).size).toBe(2 * MIB);
    // systemd starts the new mount units without blocking the boot (the network share after the network); the mounted one is left
    expect(calls).toEqual(['systemctl daemon-reload', 'systemctl --no-block start data.mount nfs.mount', 'swapon /swap.img']);
    expect(out.warnings).toEqual([]);

    // without systemd: the local disk is mounted now, the network share is left to the init scripts
    const sysv = await scratchRoot();
    await put(sysv, '/proc/self/mounts', '/dev/vda1 / ext4 rw 0 0\n');
    const plain = liveTarget(sysv);
    await mountsModule.apply(await contextOf({ USER_DATA: '#cloud-config\nmounts:\n  - [ /dev/vdb, /data ]\n  - [ "server:/x", /nfs, nfs ]\n  - [ /dev/vdd, /later, ext4, "noauto" ]\n' }), plain.target, log);
    expect(plain.calls).toEqual(['mount /data']);
  });

  it('an existing swap file is used only when it is root\'s, 0600, one link; another user\'s file (or a loose mode) is refused and named, never chowned into use', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'run/systemd/system'), { recursive: true });
    await put(root, '/proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n');
    await mkdir(join(root, 'var/tmp'), { recursive: true });
    await chmod(join(root, 'var/tmp'), 0o1777);
    // a local user made it first (0666: they could mkswap it, and read root's memory from it later)
    await put(root, '/var/tmp/swapfile', '', 0o666);
    await chmod(join(root, 'var/tmp/swapfile'), 0o666);
    await chown(join(root, 'var/tmp/swapfile'), 1000, 1000);
    const swapOf = (file: string): string => `#cloud-config\nswap: { filename: ${file}, size: 1M }\n`;
    const userFile = liveTarget(root);
    const out = await mountsModule.apply(await contextOf({ USER_DATA: swapOf('/var/tmp/swapfile') }), userFile.target, log);
    expect(out.warnings).toEqual(['swap (line 2): /var/tmp/swapfile is owned by uid 1000 in /var/tmp, which others can write (its owner could put a link in its place); no swap file made through it']);
    expect(await read(root, '/etc/fstab')).not.toContain('swapfile');
    expect(userFile.calls).not.toContainEqual(expect.stringMatching(/^swapon/u));
    const left = await stat(join(root, 'var/tmp/swapfile'));
    expect([left.uid, left.mode & 0o7777, left.size]).toEqual([1000, 0o666, 0]);

    // another user's file in root's own directory (0600, so only its owner reads it): refused as well
    await put(root, '/swap/user.img', '', 0o600);
    await chown(join(root, 'swap/user.img'), 1000, 1000);
    const owned = liveTarget(root);
    expect((await mountsModule.apply(await contextOf({ USER_DATA: swapOf('/swap/user.img') }), owned.target, log)).warnings).toEqual(['swap (line 2): /swap/user.img exists, owned by uid 1000 with mode 600 (a swap file must be root\'s, 0600, with one link); not used, nothing changed in it']);
    expect(owned.calls).not.toContainEqual(expect.stringMatching(/^swapon/u));
    expect((await stat(join(root, 'swap/user.img'))).uid).toBe(1000);

    // root's, but readable by others: refused too
    await put(root, '/loose.img', '', 0o644);
    await chmod(join(root, 'loose.img'), 0o640);
    const loose = liveTarget(root);
    expect((await mountsModule.apply(await contextOf({ USER_DATA: swapOf('/loose.img') }), loose.target, log)).warnings).toEqual(['swap (line 2): /loose.img exists, owned by uid 0 with mode 640 (a swap file must be root\'s, 0600, with one link); not used, nothing changed in it']);
    expect(loose.calls).not.toContainEqual(expect.stringMatching(/^swapon/u));

    // root's 0600 file with one link: kept and switched on (cloud-init keeps a swap file that is there)
    await put(root, '/kept.img', '', 0o600);
    const kept = liveTarget(root);
    const ok = await mountsModule.apply(await contextOf({ USER_DATA: swapOf('/kept.img') }), kept.target, log);
    expect(ok.warnings).toEqual(['swap (line 2): /kept.img exists with 0 bytes (not 1048576); kept as it is']);
    expect(await read(root, '/etc/fstab')).toContain('/kept.img\tnone\tswap\tsw,comment=cloudconfig\t0\t0');
    expect(kept.calls).toContain('swapon /kept.img');

    // a new swap file in the shared directory: root's, 0600, made by Root (never through a link a user put there)
    const fresh = liveTarget(root);
    await mountsModule.apply(await contextOf({ USER_DATA: swapOf('/var/tmp/new.img') }), fresh.target, log);
    const made = await stat(join(root, 'var/tmp/new.img'));
    expect([made.uid, made.mode & 0o7777, made.size]).toEqual([0, 0o600, MIB]);
    expect(fresh.calls).toContain('swapon /var/tmp/new.img');
  });

  it('a mount point in a shared (sticky, world-writable) directory must be root\'s: its owner could swap it for a link; elsewhere a user\'s directory is mounted over', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'var/tmp/mnt'), { recursive: true });
    await chmod(join(root, 'var/tmp'), 0o1777);
    await chown(join(root, 'var/tmp/mnt'), 1000, 1000);
    await mkdir(join(root, 'data'));
    await chown(join(root, 'data'), 1000, 1000);
    const out = await apply(mountsModule, root, 'mounts:\n  - [ /dev/vdb, /var/tmp/mnt ]\n  - [ /dev/vdc, /data ]\n');
    expect(out.warnings).toEqual(['mounts[0] (line 3): mount point /var/tmp/mnt: /var/tmp/mnt is owned by uid 1000 in /var/tmp, which others can write (its owner could put a link in its place); skipped (a mount through a link could land anywhere)']);
    expect(await read(root, '/etc/fstab')).toBe(`${block(['/dev/vdc\t/data\tauto\tdefaults,nofail,comment=cloudconfig\t0\t2'])}\n`);
    // the user's directory is left as it was (the mount hides it; nothing is chowned)
    expect((await stat(join(root, 'data'))).uid).toBe(1000);
  });

  it('mount unit names are systemd-escape --path --suffix=mount', () => {
    expect([mountUnit('/data'), mountUnit('/opt/data'), mountUnit('/var/lib/app-x'), mountUnit('/.hidden/d.1'), mountUnit('/srv/dé'), mountUnit('/')]).toEqual(['data.mount', 'opt-data.mount', 'var-lib-app\\x2dx.mount', '\\x2ehidden-d.1.mount', 'srv-d\\xc3\\xa9.mount', '-.mount']);
  });

  it('locale: locale-gen runs after the locale was enabled; ntp: the running client is try-restarted', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'run/systemd/system'), { recursive: true });
    await put(root, '/etc/default/locale', 'LANG=C.UTF-8\n');
    await put(root, '/usr/share/i18n/SUPPORTED', 'fr_FR.UTF-8 UTF-8\n');
    await put(root, '/etc/locale.gen', '# fr_FR.UTF-8 UTF-8\n');
    await put(root, '/usr/sbin/chronyd', '', 0o755);
    await put(root, '/etc/chrony/chrony.conf', 'sourcedir /etc/chrony/sources.d\n');
    const { target, calls } = liveTarget(root);
    const ctx = await contextOf({ USER_DATA: '#cloud-config\nlocale: fr_FR\nntp:\n  servers: [ ntp.example.com ]\n' });
    expect((await localeModule.apply(ctx, target, log)).warnings).toEqual([]);
    expect(await read(root, '/etc/default/locale')).toBe('LANG=fr_FR\n');
    expect(await read(root, '/etc/locale.gen')).toBe('fr_FR.UTF-8 UTF-8\n');
    await ntpModule.apply(ctx, target, log);
    expect(calls).toEqual(['locale-gen --keep-existing', 'systemctl --no-block try-restart chrony.service chronyd.service']);
    // nothing changed the second time: nothing restarted
    await ntpModule.apply(ctx, target, log);
    expect(calls).toHaveLength(2);
  });
});
