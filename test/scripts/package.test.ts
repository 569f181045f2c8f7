// `npm run package` (scripts/package.mjs): the man page names no path of the build machine, lists
// every exit code and has EXAMPLES; the .deb, .rpm and install.sh ask for the Node version that
// package.json's engines gives; lintian finds no error in the .deb.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit.js';

const PACKAGES = resolve('dist/packages');
let pkg: { version: string; engines: { node: string } };
let deb: string;

beforeAll(async () => {
  pkg = JSON.parse(await readFile('package.json', 'utf8')) as typeof pkg;
  deb = join(PACKAGES, `vmctx_${pkg.version}_all.deb`);
  execFileSync(process.execPath, ['scripts/package.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
}, 120_000);

/** One file of the .deb's data, as dpkg would install it. */
function debFile(path: string): Buffer {
  return execFileSync('sh', ['-c', 'dpkg-deb --fsys-tarfile "$0" | tar -xO "$1"', deb, `.${path}`], { maxBuffer: 64 * 1024 * 1024 });
}

describe('the man page', () => {
  it('names no path of the machine that built it (the --bundle/--node defaults are described, not printed)', () => {
    const page = gunzipSync(debFile('/usr/share/man/man8/vmctx.8.gz')).toString('utf8');
    expect(page).toMatch(/^\.SS\nbake\n/mu);
    expect(page).toContain('the vmctx.js bundle to install (default: the one running)');
    for (const local of [process.cwd(), resolve('dist/vmctx.js'), process.execPath === '/usr/bin/node' ? process.cwd() : process.execPath]) expect(page).not.toContain(local);
    expect(page).not.toMatch(/default: "\/[^"]/u);
  });

  it('lists every exit code, 0 to 9, with its meaning, and has EXAMPLES', () => {
    const page = gunzipSync(debFile('/usr/share/man/man8/vmctx.8.gz')).toString('utf8');
    const section = page.split('.SH EXIT STATUS\n')[1]?.split('\n.SH ')[0] ?? '';
    const codes = [...section.matchAll(/^\.TP\n\.B (\d+)\n(.+)$/gmu)].map((m) => Number(m[1]));
    expect(codes).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(codes).toEqual(Object.values(EXIT).sort((a, b) => a - b));
    expect(section).toMatch(/^\.B 8\n.*status --wait: the boot was not done within --timeout$/mu);
    const examples = page.split('.SH EXAMPLES\n')[1]?.split('\n.SH ')[0] ?? '';
    expect(examples.match(/^\.TP\n\.B vmctx /gmu)?.length).toBeGreaterThanOrEqual(5);
    expect(examples).toContain('.B vmctx status \\-\\-wait\n');
    // groff reads it without a warning
    const groff = spawnSync('sh', ['-c', 'gunzip -c | groff -man -Tutf8 -ww -z'], { input: debFile('/usr/share/man/man8/vmctx.8.gz'), encoding: 'utf8' });
    expect(groff.stderr).toBe('');
  });
});

describe('the packages ask for the Node that package.json names', () => {
  it('.deb Depends, .rpm Requires and install.sh all say engines.node (the bundle runs on Debian 12\'s Node 18)', () => {
    const major = /^>=(\d+)$/u.exec(pkg.engines.node)?.[1];
    expect(major).toBe('18');
    expect(execFileSync('dpkg-deb', ['-f', deb, 'Depends'], { encoding: 'utf8' }).trim()).toBe(`nodejs (>= ${major})`);
    const requires = execFileSync('rpm', ['-qp', '--requires', join(PACKAGES, `vmctx-${pkg.version}-1.noarch.rpm`)], { encoding: 'utf8' });
    expect(requires).toMatch(new RegExp(`^nodejs >= ${major}$`, 'mu'));
    const installSh = execFileSync('tar', ['-xzOf', join(PACKAGES, `vmctx-${pkg.version}.tar.gz`), `vmctx-${pkg.version}/install.sh`], { encoding: 'utf8' });
    expect(installSh).toContain(`vmctx needs Node.js ${major} or later`);
  });
});

describe('lintian', () => {
  it('reports no error on the .deb', () => {
    const r = spawnSync('lintian', ['--tag-display-limit', '0', deb], { encoding: 'utf8' });
    const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('E: '));
    expect(errors).toEqual([]);
    // lintian fails (exit 1) on an error; 2 would be lintian itself failing
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});
