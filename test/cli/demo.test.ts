// The README's first command keeps working: `npm run demo` in a fresh copy of the repository (its
// files as git knows them, the installed node_modules linked) builds vmctx and tells its story
// (the CD, the dry run, the real run, a second run changing nothing), exit 0. A broken step is
// named with the reason, exit 1, and never a stack trace.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errnoCode } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/tmp.js';

/** A copy of the repository as a clone would have it (tracked and new, not ignored files: no dist/, no demo/). */
async function freshCopy(): Promise<string> {
  const repo = resolve('.');
  const copy = join(await tempDir('vmctx-clone-'), 'vmctx');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repo }).toString().split('\0').filter((f) => f !== '' && f !== 'node_modules');
  for (const f of files) {
    await mkdir(dirname(join(copy, f)), { recursive: true });
    // a file deleted in the work tree but still in the index is not in a clone either
    await copyFile(join(repo, f), join(copy, f)).catch((e: unknown) => {
      if (errnoCode(e) !== 'ENOENT') throw e;
    });
  }
  await symlink(join(repo, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

const npmDemo = (cwd: string) => spawnSync('npm', ['run', 'demo'], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 240_000 });
const STACK = /^\s+at .+:\d+:\d+\)?$/mu;

describe('npm run demo (as the README says)', () => {
  it('builds, tells the story and exits 0 on a fresh copy; a missing build or a failing step is said in a line, never a stack trace', { timeout: 300_000 }, async () => {
    const copy = await freshCopy();
    const r = npmDemo(copy);
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.status, output).toBe(0);
    expect(output).not.toMatch(STACK);
    for (const heading of ['1. The context CD', '2. What would change: a dry run', '3. What changed: the real run', '4. A second run: nothing left to do', '5. Another system', 'Done.']) expect(r.stdout).toContain(heading);
    // the dry run predicted every path the real run changed (the demo checks), and the second run changed none
    expect(r.stdout).toMatch(/On disk (\d+) paths changed: exactly the \1 the dry run listed/u);
    expect(r.stdout).toMatch(/result ok: 0 paths changed/u);
    // the dry run lists what the real run changes beyond the text files, secrets not shown
    expect(r.stdout).toMatch(/modify .*\/etc\/machine-id/u);
    expect(r.stdout).toMatch(/\/etc\/shadow \(secret\)/u);
    expect(r.stdout).toContain('/etc/ssh/ssh_host_* (6 files)');
    expect(r.stdout).not.toContain('demo-only-password');
    // each result once: the real run is a short list, not the run command's table and its console lines
    expect(r.stdout.match(/^ {3}hostname +\/etc\/hostname, \/etc\/hosts$/gmu)).toHaveLength(1);
    expect(await readFile(join(copy, 'demo/root/etc/hostname'), 'utf8')).toBe('web-42.example.com\n');
    expect(await readFile(join(copy, 'demo/root/etc/network/interfaces.d/50-vmctx'), 'utf8')).toContain('address 10.0.0.42/24');
    expect(await readFile(join(copy, 'demo/root-networkd/etc/systemd/resolved.conf.d/90-vmctx.conf'), 'utf8')).toContain('DNS=10.0.0.2 10.0.0.3');

    // run before the build, the script says what to do
    await rm(join(copy, 'dist'), { recursive: true });
    const early = spawnSync(process.execPath, ['scripts/demo.mjs'], { cwd: copy, encoding: 'utf8' });
    expect(early.status).toBe(1);
    expect(early.stderr).toContain('dist/vmctx.js is missing: build it first (npm run build)');

    // a step that fails is named with vmctx's own reason; exit 1, no stack trace
    await writeFile(join(copy, 'examples/opennebula/context.sh'), "SET_HOSTNAME='web'\nX=$(reboot)\n");
    const broken = npmDemo(copy);
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toMatch(/demo: making the CD failed: `vmctx make-iso .*` exited with \d/u);
    expect(`${broken.stdout}\n${broken.stderr}`).not.toMatch(STACK);
  });
});
