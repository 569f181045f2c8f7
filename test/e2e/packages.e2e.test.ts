// The packages from `npm run package`, installed for real: the .deb with dpkg inside fresh
// debootstrap roots (systemd and sysvinit; their maintainer scripts enable the units or insserv
// orders the init scripts), removed and purged again; the .rpm's metadata and file list read with
// rpm; the tarball's install.sh into both roots and back out.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { ensureRootfs } from './guest.js';

const PACKAGES = resolve('dist/packages');
const VERSION = (JSON.parse(execFileSync('cat', ['package.json'], { encoding: 'utf8' })) as { version: string }).version;
const DEB_NAME = `vmctx_${VERSION}_all.deb`;
const RPM = join(PACKAGES, `vmctx-${VERSION}-1.noarch.rpm`);
const TARBALL = join(PACKAGES, `vmctx-${VERSION}.tar.gz`);
const UNITS = ['vmctx-local.service', 'vmctx-network.service', 'vmctx-final.service', 'vmctx-daemon.service', 'vmctx-hostkeys.service'];
const FILES: Record<string, number> = {
  '/usr/lib/vmctx/vmctx.js': 0o644,
  '/usr/lib/vmctx/load.js': 0o644,
  '/usr/sbin/vmctx': 0o755,
  '/etc/vmctx/config': 0o644,
  '/etc/init.d/vmctx-local': 0o755,
  '/etc/init.d/vmctx-final': 0o755,
  '/usr/lib/udev/rules.d/90-vmctx.rules': 0o644,
  '/usr/share/man/man8/vmctx.8.gz': 0o644,
  ...Object.fromEntries(UNITS.map((u) => [`/usr/lib/systemd/system/${u}`, 0o644])),
};

let work: string;
const roots: Record<'systemd' | 'sysvinit', string> = { systemd: '', sysvinit: '' };

/** The host's environment minus what points at host files (the roots have their own). */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_') && k !== 'SSL_CERT_FILE'));

function sh(cmd: string, args: readonly string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: ENV });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A fresh copy of a cached debootstrap root, with the packages reachable inside it. */
function copyRoot(flavour: 'systemd' | 'sysvinit', name: string): string {
  const dir = join(work, name);
  execFileSync('cp', ['-a', '--reflink=auto', roots[flavour], dir]);
  execFileSync('cp', ['-r', PACKAGES, join(dir, 'tmp/packages')]);
  return dir;
}

async function mode(root: string, path: string): Promise<number | undefined> {
  return (await lstat(join(root, path)).catch(() => undefined))?.mode;
}

beforeAll(async () => {
  work = await tempDir('vmctx-pkg-');
  execFileSync(process.execPath, ['scripts/package.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  roots.systemd = await ensureRootfs('systemd');
  roots.sysvinit = await ensureRootfs('sysvinit');
}, 900_000);

describe('the .deb', () => {
  it('installs cleanly into a fresh systemd root: files and modes, units enabled, runs on Debian\'s Node; remove and purge clean up', async () => {
    const root = copyRoot('systemd', 'deb-systemd');
    const install = sh('chroot', [root, 'dpkg', '-i', `/tmp/packages/${DEB_NAME}`]);
    expect(install.code, install.out).toBe(0);
    expect(install.out).not.toMatch(/warning|error/iu);
    for (const [path, want] of Object.entries(FILES)) expect(((await mode(root, path)) ?? 0) & 0o7777, path).toBe(want);
    // deb-systemd-helper links through /lib (merged /usr on bookworm)
    expect(await readlink(join(root, 'etc/systemd/system/sysinit.target.wants/vmctx-local.service'))).toMatch(/^(\/usr)?\/lib\/systemd\/system\/vmctx-local\.service$/u);
    for (const u of ['vmctx-network.service', 'vmctx-final.service', 'vmctx-daemon.service', 'vmctx-hostkeys.service']) {
      expect(await readlink(join(root, `etc/systemd/system/multi-user.target.wants/${u}`))).toBe(`/lib/systemd/system/${u}`.replace(/^\/lib/u, (await readlink(join(root, 'etc/systemd/system/sysinit.target.wants/vmctx-local.service'))).startsWith('/usr') ? '/usr/lib' : '/lib'));
    }
    const version = sh('chroot', [root, '/usr/sbin/vmctx', '--version']);
    expect(version).toEqual({ code: 0, out: `${VERSION}\n` });
    expect(sh('chroot', [root, 'dpkg-query', '-W', '-f', '${Status} ${Version}', 'vmctx']).out).toBe(`install ok installed ${VERSION}`);
    // a conffile the administrator edited survives remove; purge takes everything
    const remove = sh('chroot', [root, 'dpkg', '-r', 'vmctx']);
    expect(remove.code, remove.out).toBe(0);
    expect(existsSync(join(root, 'usr/lib/vmctx/vmctx.js'))).toBe(false);
    expect(existsSync(join(root, 'usr/sbin/vmctx'))).toBe(false);
    expect(existsSync(join(root, 'etc/vmctx/config'))).toBe(true);
    const purge = sh('chroot', [root, 'dpkg', '-P', 'vmctx']);
    expect(purge.code, purge.out).toBe(0);
    expect(existsSync(join(root, 'etc/vmctx'))).toBe(false);
    for (const u of UNITS) {
      for (const t of ['sysinit', 'multi-user']) expect(existsSync(join(root, `etc/systemd/system/${t}.target.wants/${u}`))).toBe(false);
    }
  });

  it('installs cleanly into a fresh sysvinit root: insserv orders vmctx-local before networking and ssh, vmctx-final before ssh; LSB status works', async () => {
    const root = copyRoot('sysvinit', 'deb-sysv');
    const install = sh('chroot', [root, 'dpkg', '-i', `/tmp/packages/${DEB_NAME}`]);
    expect(install.code, install.out).toBe(0);
    const order = async (dir: string): Promise<string[]> => (await readdir(join(root, 'etc', dir))).filter((n) => /^S\d\d/u.test(n)).sort();
    const rcS = await order('rcS.d');
    const at = (list: string[], name: string): number => list.findIndex((n) => n.slice(3) === name);
    expect(at(rcS, 'vmctx-local'), rcS.join(' ')).toBeGreaterThanOrEqual(0);
    expect(Number(rcS[at(rcS, 'vmctx-local')]?.slice(1, 3))).toBeLessThan(Number(rcS[at(rcS, 'networking')]?.slice(1, 3)));
    expect(Number(rcS[at(rcS, 'vmctx-local')]?.slice(1, 3))).toBeGreaterThan(Number(rcS[at(rcS, 'mountall.sh')]?.slice(1, 3)));
    const rc2 = await order('rc2.d');
    expect(Number(rc2[at(rc2, 'vmctx-final')]?.slice(1, 3)), rc2.join(' ')).toBeLessThan(Number(rc2[at(rc2, 'ssh')]?.slice(1, 3)));
    expect((await readdir(join(root, 'etc/rc0.d'))).some((n) => /^K\d\dvmctx-final$/u.test(n))).toBe(true);
    // LSB status: 3 while the daemon is not running, with vmctx's own account
    const status = sh('chroot', [root, '/etc/init.d/vmctx-final', 'status']);
    expect(status.code).toBe(3);
    expect(status.out).toMatch(/vmctx daemon: not running/u);
    // disabled by the switch: start does nothing and says so
    execFileSync('touch', [join(root, 'etc/vmctx/disabled')]);
    expect(sh('chroot', [root, '/etc/init.d/vmctx-local', 'start'])).toEqual({ code: 0, out: 'vmctx: disabled\n' });
    const purge = sh('chroot', [root, 'dpkg', '-P', 'vmctx']);
    expect(purge.code, purge.out).toBe(0);
    for (const dir of ['rcS.d', 'rc2.d', 'rc0.d']) expect((await readdir(join(root, 'etc', dir))).filter((n) => n.includes('vmctx'))).toEqual([]);
  });
});

describe('the .rpm', () => {
  it('rpm -qip: name, version, license, Requires nodejs >= 18, Conflicts cloud-init and one-context', () => {
    const info = sh('rpm', ['-qip', RPM]);
    expect(info.code, info.out).toBe(0);
    expect(info.out).toMatch(/^Name\s*: vmctx$/mu);
    expect(info.out).toMatch(new RegExp(`^Version\\s*: ${VERSION.replace(/\./gu, '\\.')}$`, 'mu'));
    expect(info.out).toMatch(/^Architecture: noarch$/mu);
    expect(info.out).toMatch(/^License\s*: Apache-2\.0$/mu);
    expect(sh('rpm', ['-qp', '--requires', RPM]).out).toMatch(/^nodejs >= 18$/mu);
    const conflicts = sh('rpm', ['-qp', '--conflicts', RPM]).out.split('\n');
    expect(conflicts).toEqual(expect.arrayContaining(['cloud-init', 'one-context']));
    expect(sh('rpm', ['-qp', '--scripts', RPM]).out).toMatch(/systemctl enable vmctx-local\.service/u);
  });

  it('rpm -qlp: exactly the right files, with the right modes, owners and config flags', () => {
    const list = sh('rpm', ['-qp', '--qf', '[%{FILEMODES:octal}|%{FILEUSERNAME}:%{FILEGROUPNAME}|%{FILEFLAGS:fflags}|%{FILENAMES}\n]', RPM]);
    expect(list.code, list.out).toBe(0);
    const rows = new Map(list.out.trim().split('\n').map((l) => {
      const [m = '', owner = '', flags = '', path = ''] = l.split('|');
      return [path, { mode: Number.parseInt(m, 8) & 0o7777, owner, flags }];
    }));
    for (const [path, want] of Object.entries(FILES)) {
      expect(rows.get(path), path).toMatchObject({ mode: want, owner: 'root:root' });
    }
    expect(rows.get('/etc/vmctx/config')?.flags).toMatch(/c/u);
    expect(rows.get('/etc/vmctx/config')?.flags).toMatch(/n/u);
    expect(sh('rpm', ['-qlp', RPM]).out.trim().split('\n').filter((p) => !p.startsWith('/usr/share/doc/')).sort()).toEqual(
      [...Object.keys(FILES), '/etc/vmctx', '/usr/lib/vmctx'].sort(),
    );
  });
});

describe('the tarball', () => {
  it('install.sh into a systemd root and a sysvinit root, then --uninstall: back to what was there', async () => {
    const extract = join(work, 'tar');
    execFileSync('mkdir', ['-p', extract]);
    execFileSync('tar', ['-xzf', TARBALL, '-C', extract]);
    const installer = join(extract, `vmctx-${VERSION}`, 'install.sh');
    for (const flavour of ['systemd', 'sysvinit'] as const) {
      const root = copyRoot(flavour, `tar-${flavour}`);
      const before = sh('find', [root, '-xdev', '-path', `${root}/tmp`, '-prune', '-o', '-print']).out;
      const rcBefore = await readFile(join(root, 'etc/rc.local'), 'utf8').catch(() => undefined);
      const r = sh('sh', [installer, '--root', root]);
      expect(r.code, r.out).toBe(0);
      expect(sh('chroot', [root, '/usr/sbin/vmctx', '--version']).out).toBe(`${VERSION}\n`);
      for (const path of Object.keys(FILES)) if (!path.includes('man8')) expect(existsSync(join(root, path)), path).toBe(true);
      if (flavour === 'systemd') {
        expect(r.out).toMatch(/systemd units enabled/u);
        expect(await readlink(join(root, 'etc/systemd/system/sysinit.target.wants/vmctx-local.service'))).toBe('/usr/lib/systemd/system/vmctx-local.service');
      } else {
        expect(r.out).toMatch(/rc\.local hook/u);
        expect(await readFile(join(root, 'etc/rc.local'), 'utf8')).toContain('/usr/sbin/vmctx run --stage all || true\n');
      }
      const u = sh('sh', [installer, '--root', root, '--uninstall']);
      expect(u.code, u.out).toBe(0);
      const after = sh('find', [root, '-xdev', '-path', `${root}/tmp`, '-prune', '-o', '-print']).out;
      // what stays: the administrator's config and the directories
      const extra = after.split('\n').filter((p) => !before.split('\n').includes(p));
      for (const p of extra) expect(p.replace(root, ''), `left behind: ${p}`).toMatch(/^\/(etc\/vmctx(\/config)?|usr\/lib\/vmctx|usr\/lib\/udev(\/rules\.d)?|usr\/share\/doc\/vmctx|usr\/share\/man(\/man8)?|etc\/systemd\/system\/sysinit\.target\.wants|usr\/lib\/systemd\/system)$/u);
      expect(await readFile(join(root, 'etc/rc.local'), 'utf8').catch(() => undefined)).toBe(rcBefore);
    }
  });
});
