#!/usr/bin/env node
// `npm run package`: the .deb (dpkg-deb), the .rpm (rpmbuild, from Debian's rpm package) and a
// tarball with install.sh, all from one tree that `vmctx install --package-layout` lays out (the
// same code that bake and `vmctx install` use). Output: dist/packages/.
//
// The packages use the distribution's Node (Depends/Requires nodejs, the version from package.json's
// engines.node: the bundle runs on Node 18, Debian 12's) and enable the units (or, without systemd,
// the LSB init scripts) in their maintainer scripts. VMCTX_PACKAGE_OUT writes them elsewhere.
// The .deb passes lintian without errors.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const VERSION = pkg.version;
const NAME = 'vmctx';
const OUT = resolve(process.env.VMCTX_PACKAGE_OUT ?? 'dist/packages');
const WORK = `${OUT}-work`;
/** The oldest Node the bundle runs on: package.json's engines.node (">=N"), the one place it is said. */
const NODE_MAJOR = (() => {
  const m = /^>=\s*(\d+)$/u.exec(pkg.engines?.node ?? '');
  if (m === null) throw new Error(`package.json engines.node must be ">=N", not ${JSON.stringify(pkg.engines?.node)}`);
  return Number(m[1]);
})();
const BUNDLE = resolve('dist/vmctx.js');
const UNITS = ['vmctx-local.service', 'vmctx-network.service', 'vmctx-final.service', 'vmctx-daemon.service', 'vmctx-hostkeys.service'];
const CONFLICTS = ['cloud-init', 'one-context', 'opennebula-context'];
const SUMMARY = 'contextualization agent for virtual machines';
const DESCRIPTION = `Applies a VM's context at boot: network (every NIC, matched by MAC,
in the distribution's own format), DNS, hostname, SSH keys, users, a first-boot
password, user data and start scripts, from an OpenNebula/StratusLab context CD
(read without mounting), a NoCloud or config-drive seed, or an EC2/OpenStack
metadata service. A daemon re-applies the context when the CD, the NICs or the
metadata change.`;

const EXAMPLES = [
  ['vmctx show', 'Print the context this VM was given (secrets redacted), and the problems found in it.'],
  ['vmctx status --long', 'This boot: each stage (local, network, final) with its modules, results and times.'],
  ['vmctx status --wait', 'Wait until the boot\'s vmctx work is done; exit with its result (for scripts).'],
  ['vmctx run --dry-run --source context.iso --root /srv/guest', 'Show what applying a context to a guest tree would change, with diffs, changing nothing.'],
  ['vmctx make-iso -o ctx.iso --var SET_HOSTNAME=web-1 --var SSH_PUBLIC_KEY="$(cat ~/.ssh/id_ed25519.pub)"', 'Write an OpenNebula-style context CD.'],
  ['vmctx bake debian-12.img.bz2 --image-name web', 'Install vmctx into a disk image and clean it for publishing.'],
];

function sh(cmd, args, options = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
}

function need(tool, debPackage) {
  try {
    sh('sh', ['-c', `command -v ${tool}`]);
  } catch {
    throw new Error(`${tool} is missing: apt-get install ${debPackage}`);
  }
}

/** groff man page from the CLI's own --help texts. */
function manPage() {
  const help = (args) => sh(process.execPath, [BUNDLE, ...args, '--help']).replace(/\\/gu, '\\\\').replace(/^([.'])/gmu, '\\&$1');
  const top = help([]);
  const commands = [...top.matchAll(/^ {2}([a-z][a-z-]+)\b/gmu)].map((m) => m[1]).filter((c) => c !== 'help');
  const lines = [
    `.TH VMCTX 8 "" "vmctx ${VERSION}" "System Administration"`,
    '.SH NAME',
    `vmctx \\- ${SUMMARY}`,
    '.SH SYNOPSIS',
    '.B vmctx',
    '.I command',
    '[options]',
    '.SH DESCRIPTION',
    DESCRIPTION.replace(/\n/gu, ' '),
    '.PP',
    'At boot the systemd units vmctx-local, vmctx-network and vmctx-final (or the init scripts vmctx-local and vmctx-final) run the stages;',
    'vmctx-daemon re-applies changes. vmctx=off on the kernel command line or /etc/vmctx/disabled turns it off. Settings: /etc/vmctx/config.',
    '.SH COMMANDS',
    '.nf',
    top.trimEnd(),
    '.fi',
  ];
  for (const command of commands) lines.push('.SS', command, '.nf', help([command]).trimEnd(), '.fi');
  // every exit code, from the "Exit codes:" block of --help (src/cli/exit.ts)
  const codes = [...(top.split(/^Exit codes:$/mu)[1] ?? '').matchAll(/^ {2}(\d+) {2}(.+)$/gmu)];
  if (codes.length === 0) throw new Error('vmctx --help lists no exit codes');
  lines.push('.SH EXIT STATUS');
  for (const [, code, meaning] of codes) lines.push('.TP', `.B ${code}`, meaning);
  lines.push('.SH EXAMPLES');
  for (const [command, what] of EXAMPLES) lines.push('.TP', `.B ${command.replace(/\\/gu, '\\\\').replace(/-/gu, '\\-')}`, what);
  lines.push(
    '.SH FILES',
    '/etc/vmctx/config, /var/lib/vmctx (state), /var/log/vmctx.log, /run/vmctx/report.json (the last run), /run/vmctx/boot.json (every stage of this boot), /run/vmctx/daemon.sock',
  );
  const text = `${lines.join('\n')}\n`;
  // the text comes from --help on this machine: none of its own paths may end up in the page
  for (const local of [process.cwd(), BUNDLE]) if (text.includes(local)) throw new Error(`the man page names ${local}, a path of the build machine`);
  return text;
}

/** The installed tree, under WORK/root. */
function stageTree() {
  const root = join(WORK, 'root');
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  sh(process.execPath, [BUNDLE, 'install', '--root', root, '--no-node', '--package-layout'], { stdio: ['ignore', 'pipe', 'pipe'] });
  mkdirSync(join(root, 'usr/share/man/man8'), { recursive: true });
  writeFileSync(join(root, 'usr/share/man/man8/vmctx.8.gz'), gzipSync(manPage(), { level: 9 }));
  const doc = join(root, 'usr/share/doc/vmctx');
  mkdirSync(doc, { recursive: true });
  if (pkg.license !== 'Apache-2.0') throw new Error(`copyright: write the ${pkg.license} license text here`);
  // machine-readable (DEP-5), pointing at the system's copy of the license text
  writeFileSync(join(doc, 'copyright'), [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${NAME}`,
    'Source: https://github.com/vmctx/vmctx',
    '',
    'Files: *',
    'Copyright: 2024-2026 the vmctx developers',
    'License: Apache-2.0',
    ' On Debian systems, the full text of the Apache License, Version 2.0 can be',
    ' found in the file /usr/share/common-licenses/Apache-2.0.',
    '',
  ].join('\n'));
  // a native package's changelog (Debian's format), compressed reproducibly
  const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 0) * 1000 || Date.parse('2026-01-01T00:00:00Z')).toUTCString().replace('GMT', '+0000');
  const changelog = `${NAME} (${VERSION}) unstable; urgency=medium\n\n  * vmctx ${VERSION}; see /usr/share/doc/vmctx/README.md.\n\n -- vmctx developers <vmctx@users.noreply.github.com>  ${date}\n`;
  writeFileSync(join(doc, 'changelog.gz'), gzipSync(changelog, { level: 9 }));
  cpSync('README.md', join(doc, 'README.md'));
  return root;
}

const POSTINST = `#!/bin/sh
# vmctx: enable the boot units (systemd) or the init scripts (sysvinit); start nothing now —
# vmctx applies a context at boot, not while a package is installed.
set -e
if [ "$1" = configure ]; then
	if [ -d /usr/lib/systemd/system ] && command -v deb-systemd-helper >/dev/null 2>&1; then
		for unit in ${UNITS.join(' ')}; do deb-systemd-helper enable "$unit" >/dev/null || true; done
	fi
	if command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d vmctx-local defaults >/dev/null || true
		update-rc.d vmctx-final defaults >/dev/null || true
	fi
	if [ -d /run/udev ] && command -v udevadm >/dev/null 2>&1; then udevadm control --reload-rules >/dev/null 2>&1 || true; fi
	if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
if [ "$1" = remove ]; then
	if [ -d /run/systemd/system ]; then
		deb-systemd-invoke stop vmctx-daemon.service >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/vmctx-final ]; then
		invoke-rc.d vmctx-final stop >/dev/null 2>&1 || true
	fi
fi
exit 0
`;

const POSTRM = `#!/bin/sh
set -e
# as debhelper does: masked on remove (the unit files are gone), forgotten on purge
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	for unit in ${UNITS.join(' ')}; do deb-systemd-helper mask "$unit" >/dev/null 2>&1 || true; done
fi
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	for unit in ${UNITS.join(' ')}; do deb-systemd-helper purge "$unit" >/dev/null 2>&1 || true; deb-systemd-helper unmask "$unit" >/dev/null 2>&1 || true; done
fi
if [ "$1" = purge ]; then
	update-rc.d vmctx-local remove >/dev/null 2>&1 || true
	update-rc.d vmctx-final remove >/dev/null 2>&1 || true
	# the run state, the code cache and the log; /etc/vmctx goes with dpkg's conffiles
	rm -rf /var/lib/vmctx /var/cache/vmctx /var/log/vmctx /var/log/vmctx.log
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
exit 0
`;

function buildDeb(tree) {
  need('dpkg-deb', 'dpkg');
  const dir = join(WORK, 'deb');
  cpSync(tree, dir, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(dir, 'DEBIAN'));
  const size = Number(sh('du', ['-sk', '--exclude=DEBIAN', dir]).split(/\s/u)[0]);
  writeFileSync(join(dir, 'DEBIAN/control'), [
    `Package: ${NAME}`,
    `Version: ${VERSION}`,
    'Architecture: all',
    'Maintainer: vmctx developers <vmctx@users.noreply.github.com>',
    `Installed-Size: ${size}`,
    `Depends: nodejs (>= ${NODE_MAJOR})`,
    'Recommends: e2fsprogs, iproute2',
    `Conflicts: ${CONFLICTS.join(', ')}`,
    `Replaces: ${CONFLICTS.join(', ')}`,
    'Section: admin',
    'Priority: optional',
    'Homepage: https://github.com/vmctx/vmctx',
    `Description: ${SUMMARY}`,
    ...DESCRIPTION.split('\n').map((l) => ` ${l}`),
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'DEBIAN/conffiles'), ['/etc/vmctx/config', '/etc/init.d/vmctx-local', '/etc/init.d/vmctx-final', ''].join('\n'));
  for (const [name, text] of Object.entries({ postinst: POSTINST, prerm: PRERM, postrm: POSTRM })) {
    writeFileSync(join(dir, 'DEBIAN', name), text);
    chmodSync(join(dir, 'DEBIAN', name), 0o755);
  }
  const out = join(OUT, `${NAME}_${VERSION}_all.deb`);
  sh('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', dir, out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

function buildRpm(tree) {
  need('rpmbuild', 'rpm');
  const top = join(WORK, 'rpm');
  for (const d of ['BUILD', 'RPMS', 'SOURCES', 'SPECS', 'SRPMS', 'BUILDROOT']) mkdirSync(join(top, d), { recursive: true });
  const files = sh('find', ['.', '-mindepth', '1', '(', '-type', 'f', '-o', '-type', 'l', ')'], { cwd: tree }).split('\n').filter(Boolean).map((p) => p.slice(1)).sort();
  const entry = (path) => {
    if (path === '/etc/vmctx/config') return '%config(noreplace) %attr(0644,root,root) /etc/vmctx/config';
    if (path.startsWith('/etc/init.d/')) return `%config(noreplace) %attr(0755,root,root) ${path}`;
    if (path === '/usr/sbin/vmctx') return `%attr(0755,root,root) ${path}`;
    if (path.startsWith('/usr/share/doc/')) return `%doc %attr(0644,root,root) ${path}`;
    return `%attr(0644,root,root) ${path}`;
  };
  const spec = `Name: ${NAME}
Version: ${VERSION}
Release: 1
Summary: ${SUMMARY}
License: ${pkg.license}
URL: https://github.com/vmctx/vmctx
BuildArch: noarch
Requires: nodejs >= ${NODE_MAJOR}
${CONFLICTS.map((c) => `Conflicts: ${c}`).join('\n')}
AutoReqProv: no

%description
${DESCRIPTION}

%install
mkdir -p %{buildroot}
cp -a ${tree}/. %{buildroot}/

%post
if [ $1 -eq 1 ]; then
  if [ -d /usr/lib/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl enable ${UNITS.join(' ')} >/dev/null 2>&1 || :; fi
  if command -v chkconfig >/dev/null 2>&1 && [ ! -d /run/systemd/system ]; then chkconfig --add vmctx-local || :; chkconfig --add vmctx-final || :; fi
fi

%preun
if [ $1 -eq 0 ]; then
  if command -v systemctl >/dev/null 2>&1; then systemctl --no-reload disable --now vmctx-daemon.service >/dev/null 2>&1 || :; systemctl --no-reload disable ${UNITS.join(' ')} >/dev/null 2>&1 || :; fi
  if command -v chkconfig >/dev/null 2>&1; then chkconfig --del vmctx-local || :; chkconfig --del vmctx-final || :; fi
fi

%files
%dir %attr(0755,root,root) /usr/lib/vmctx
%dir %attr(0755,root,root) /etc/vmctx
${files.map(entry).join('\n')}
`;
  const specPath = join(top, 'SPECS/vmctx.spec');
  writeFileSync(specPath, spec);
  sh('rpmbuild', ['-bb', '--quiet', '--nodeps', '--define', `_topdir ${top}`, '--define', '__os_install_post %{nil}', '--define', '_build_id_links none', '--define', '_binary_payload w9.xzdio', specPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const rpm = join(top, `RPMS/noarch/${NAME}-${VERSION}-1.noarch.rpm`);
  const out = join(OUT, `${NAME}-${VERSION}-1.noarch.rpm`);
  cpSync(rpm, out);
  return out;
}

const INSTALL_SH = `#!/bin/sh
# vmctx ${VERSION}: install (or --uninstall) from this tarball, for systems without a deb or rpm.
#   ./install.sh [--root DIR] [--node PATH] [--uninstall]
# Needs Node.js ${NODE_MAJOR} or later (/usr/bin/node, or --node PATH to use another). Enables the systemd
# units, or the init scripts (update-rc.d / chkconfig), or an /etc/rc.local hook; starts nothing.
set -eu
ROOT=/
NODE=/usr/bin/node
UNINSTALL=
while [ $# -gt 0 ]; do
	case "$1" in
	--root) ROOT="$2"; shift 2 ;;
	--node) NODE="$2"; shift 2 ;;
	--uninstall) UNINSTALL=1; shift ;;
	*) echo "usage: $0 [--root DIR] [--node PATH] [--uninstall]" >&2; exit 2 ;;
	esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
R=\${ROOT%/}
UNITS="${UNITS.join(' ')}"

if [ -n "$UNINSTALL" ]; then
	for u in $UNITS; do
		rm -f "$R/etc/systemd/system/multi-user.target.wants/$u" "$R/etc/systemd/system/sysinit.target.wants/$u"
	done
	(cd "$HERE/root" && find . -type f -o -type l) | while read -r f; do
		case "$f" in ./etc/vmctx/config) continue ;; esac
		rm -f "$R/\${f#./}"
	done
	grep -q '^# vmctx launcher' "$R/usr/sbin/vmctx" 2>/dev/null && rm -f "$R/usr/sbin/vmctx"
	rm -rf "$R/var/cache/vmctx"
	for d in rc0.d rc1.d rc2.d rc3.d rc4.d rc5.d rc6.d rcS.d; do rm -f "$R/etc/$d/"[SK][0-9][0-9]vmctx-local "$R/etc/$d/"[SK][0-9][0-9]vmctx-final; done
	if [ -f "$R/etc/rc.local" ]; then sed -i '/# vmctx: apply the VM context/d; /\\/usr\\/sbin\\/vmctx run --stage all/d' "$R/etc/rc.local"; fi
	echo "vmctx removed from $ROOT (state in /var/lib/vmctx and /etc/vmctx/config kept)"
	exit 0
fi

if [ "$ROOT" = / ]; then
	"$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= ${NODE_MAJOR} ? 0 : 1)' || { echo "vmctx needs Node.js ${NODE_MAJOR} or later ($NODE)" >&2; exit 1; }
fi
(cd "$HERE/root" && find . -type d) | while read -r d; do mkdir -p "$R/\${d#./}"; done
(cd "$HERE/root" && find . -type f) | while read -r f; do
	case "$f" in ./etc/vmctx/config) [ -e "$R/etc/vmctx/config" ] && continue ;; esac
	cp -p "$HERE/root/\${f#./}" "$R/\${f#./}"
done
printf '#!/bin/sh\\n# vmctx launcher, written by vmctx install\\nexec %s /usr/lib/vmctx/load.js "$@"\\n' "$NODE" > "$R/usr/sbin/vmctx"
chmod 0755 "$R/usr/sbin/vmctx" "$R/etc/init.d/vmctx-local" "$R/etc/init.d/vmctx-final"

if [ -x "$R/usr/lib/systemd/systemd" ] || [ -x "$R/lib/systemd/systemd" ]; then
	mkdir -p "$R/etc/systemd/system/sysinit.target.wants" "$R/etc/systemd/system/multi-user.target.wants"
	ln -sf /usr/lib/systemd/system/vmctx-local.service "$R/etc/systemd/system/sysinit.target.wants/vmctx-local.service"
	for u in vmctx-network.service vmctx-final.service vmctx-daemon.service vmctx-hostkeys.service; do
		ln -sf "/usr/lib/systemd/system/$u" "$R/etc/systemd/system/multi-user.target.wants/$u"
	done
	echo "vmctx installed into $ROOT: systemd units enabled"
elif [ "$ROOT" = / ] && command -v update-rc.d >/dev/null 2>&1; then
	update-rc.d vmctx-local defaults && update-rc.d vmctx-final defaults
	echo "vmctx installed: init scripts enabled (update-rc.d)"
elif [ "$ROOT" = / ] && command -v chkconfig >/dev/null 2>&1; then
	chkconfig --add vmctx-local && chkconfig --add vmctx-final
	echo "vmctx installed: init scripts enabled (chkconfig)"
else
	# the seed documents' form: before the last "exit 0" of /etc/rc.local
	if ! grep -q '/usr/sbin/vmctx run --stage all' "$R/etc/rc.local" 2>/dev/null; then
		[ -f "$R/etc/rc.local" ] || printf '#!/bin/sh -e\\n\\nexit 0\\n' > "$R/etc/rc.local"
		if grep -q '^[[:space:]]*exit 0[[:space:]]*$' "$R/etc/rc.local"; then
			awk 'BEGIN{n=0} {l[++n]=$0} /^[[:space:]]*exit 0[[:space:]]*$/{last=n} END{for(i=1;i<=n;i++){if(i==last){print "# vmctx: apply the VM context"; print "/usr/sbin/vmctx run --stage all || true"} print l[i]}}' "$R/etc/rc.local" > "$R/etc/rc.local.vmctx-new"
			mv "$R/etc/rc.local.vmctx-new" "$R/etc/rc.local"
		else
			printf '# vmctx: apply the VM context\\n/usr/sbin/vmctx run --stage all || true\\n' >> "$R/etc/rc.local"
		fi
		chmod 0755 "$R/etc/rc.local"
	fi
	echo "vmctx installed into $ROOT: /etc/rc.local hook"
fi
`;

function buildTarball(tree) {
  const name = `${NAME}-${VERSION}`;
  const dir = join(WORK, 'tar', name);
  mkdirSync(dir, { recursive: true });
  cpSync(tree, join(dir, 'root'), { recursive: true, verbatimSymlinks: true });
  // the launcher is written by install.sh for the Node it is given
  rmSync(join(dir, 'root/usr/sbin/vmctx'));
  writeFileSync(join(dir, 'install.sh'), INSTALL_SH);
  chmodSync(join(dir, 'install.sh'), 0o755);
  const out = join(OUT, `${name}.tar.gz`);
  sh('tar', ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-czf', out, '-C', join(WORK, 'tar'), name]);
  return out;
}

if (!existsSync(BUNDLE)) throw new Error('dist/vmctx.js is missing: run `npm run build` first');
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const tree = stageTree();
for (const out of [buildDeb(tree), buildRpm(tree), buildTarball(tree)]) process.stdout.write(`${out}\n`);
rmSync(WORK, { recursive: true, force: true });
