// A guest user (uid 1000) against a whole run: links planted in shared directories (sticky /tmp,
// /var/tmp, a world-writable drop directory), home paths spelled differently (`/home//alice`,
// a trailing slash in /etc/passwd, a link into the home), and vmctx's own directories handed to
// that user with links to /etc/shadow in them. /etc/shadow must stay byte for byte, mode and owner.
import { execFileSync } from 'node:child_process';
import { chmod, chown, lchown, link, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

interface Shadow {
  readonly text: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

async function shadowOf(root: string): Promise<Shadow> {
  const path = join(root, 'etc/shadow');
  const st = await stat(path);
  return { text: await readFile(path, 'utf8'), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** A context directory whose user data is this cloud-config. */
async function medium(cloudConfig: string): Promise<string> {
  const dir = await tempDir('vmctx-medium-');
  await writeFile(join(dir, 'context.sh'), renderContextSh({ VMID: '17', USER_DATA: `#cloud-config\n${cloudConfig}` }));
  return dir;
}

/** A directory of the root with this mode (chmod after mkdir: the umask would drop the 1777). */
async function sharedDir(root: string, path: string, mode: number): Promise<string> {
  const dir = join(root, path);
  await mkdir(dir, { recursive: true });
  await chmod(dir, mode);
  return dir;
}

/** A symlink made by uid 1000. */
async function planted(target: string, path: string): Promise<void> {
  await symlink(target, path);
  await lchown(path, 1000, 1000);
}

interface Run {
  readonly code: number | null;
  readonly warnings: string[];
  readonly report: { warnings: { message: string }[]; modules: { id: string; warnings: string[] }[] };
}

function run(root: string, source: string): Run {
  const r = vmctx(['run', '--root', root, '--source', source, '--json', '-q']);
  const report = JSON.parse(r.stdout) as Run['report'];
  const warnings = report.modules.find((m) => m.id === 'write-files')?.warnings ?? [];
  return { code: r.code, warnings, report };
}

describe('item 1: links in shared directories are not followed', () => {
  for (const [dir, mode] of [['tmp', 0o1777], ['var/tmp', 0o1777], ['srv/drop', 0o777]] as const) {
    for (const owner of [undefined, 'alice'] as const) {
      it(`write_files /${dir}/setup.sh (0755${owner === undefined ? '' : `, owner ${owner}`}) over uid 1000's link to /etc/shadow in a ${mode.toString(8)} /${dir}: the link is replaced, /etc/shadow untouched`, async () => {
        const root = await scratchRoot();
        const shared = await sharedDir(root, dir, mode);
        await planted('/etc/shadow', join(shared, 'setup.sh'));
        const before = await shadowOf(root);
        const script = '#!/bin/sh\necho configured\n';
        const r = run(root, await medium(`write_files:\n  - path: /${dir}/setup.sh\n    permissions: '0755'\n${owner === undefined ? '' : `    owner: ${owner}\n`}    content: |\n      #!/bin/sh\n      echo configured\n`));
        expect(r.code).toBe(0);
        expect(await shadowOf(root)).toEqual(before);
        // the write replaced the link by the file asked for
        const st = await lstat(join(shared, 'setup.sh'));
        expect(st.isFile()).toBe(true);
        expect(st.mode & 0o7777).toBe(0o755);
        expect(st.uid).toBe(owner === undefined ? 0 : 1000);
        expect(await readFile(join(shared, 'setup.sh'), 'utf8')).toBe(script);
      });
    }
  }

  it('a link of uid 1000 as a directory in sticky /tmp (/tmp/d -> /etc) is never followed: the file is refused with the reason', async () => {
    const root = await scratchRoot();
    const tmp = await sharedDir(root, 'tmp', 0o1777);
    await planted('/etc', join(tmp, 'd'));
    const before = await shadowOf(root);
    const r = run(root, await medium("write_files:\n  - path: /tmp/d/shadow\n    owner: alice\n    content: 'alice::0:0:::::\\n'\n"));
    expect(r.code).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    expect(r.warnings.join('\n')).toMatch(/\/tmp\/d: is a symlink owned by uid 1000 in a world-writable sticky directory .*refusing to follow it/u);
  });

  it('append: true to uid 1000\'s link (or to a second hard link of /etc/shadow) in /tmp is refused: nothing of /etc/shadow is copied out', async () => {
    const root = await scratchRoot();
    const tmp = await sharedDir(root, 'tmp', 0o1777);
    await planted('/etc/shadow', join(tmp, 'sym'));
    await link(join(root, 'etc/shadow'), join(tmp, 'hard'));
    const before = await shadowOf(root);
    const r = run(root, await medium('write_files:\n  - path: /tmp/sym\n    owner: alice\n    append: true\n    content: "x\\n"\n  - path: /tmp/hard\n    owner: alice\n    append: true\n    content: "x\\n"\n'));
    expect(r.code).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    for (const name of ['sym', 'hard']) {
      // (the planted link itself points at the host's /etc/shadow: only a file vmctx made is read)
      const st = await lstat(join(tmp, name));
      const text = st.isFile() && st.uid === 1000 ? await readFile(join(tmp, name), 'utf8') : '';
      expect(st.isSymbolicLink() || st.uid === 0, name).toBe(true);
      expect(text, name).not.toMatch(/^root:/mu);
    }
    expect(r.warnings.join('\n')).toMatch(/\/tmp\/sym: not written: .*symlink owned by uid 1000/u);
    expect(r.warnings.join('\n')).toMatch(/\/tmp\/hard: not written: .*2 hard links/u);
  });

  it('/dev/shm is never written, link or not', async () => {
    const root = await scratchRoot();
    const shm = await sharedDir(root, 'dev/shm', 0o1777);
    await planted('/etc/shadow', join(shm, 'x'));
    const before = await shadowOf(root);
    const r = run(root, await medium("write_files:\n  - path: /dev/shm/x\n    content: 'x'\n"));
    expect(r.code).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    expect(r.warnings.join('\n')).toMatch(/never writes into \/proc, \/sys or \/dev/u);
  });
});

describe('item 2: whose home a path is in is decided on the resolved path', () => {
  const spellings = ['/home//alice/.bashrc', '/home/./alice/.bashrc', '//home/alice/.bashrc', '/home/alice/../alice/.bashrc', '/home/alice/.bashrc'];
  it(`with ~alice/.bashrc -> /etc/shadow, append + owner alice through ${spellings.join(', ')}: /etc/shadow untouched`, async () => {
    const root = await scratchRoot();
    await planted('/etc/shadow', join(root, 'home/alice/.bashrc'));
    const before = await shadowOf(root);
    const entries = spellings.map((p) => `  - path: ${JSON.stringify(p)}\n    owner: alice\n    append: true\n    content: "echo hi\\n"\n`).join('');
    const r = run(root, await medium(`write_files:\n${entries}`));
    expect(r.code).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    // each one said why (the ".." one at the parser, the rest as a link in alice's home)
    expect(r.warnings.filter((w) => /symlink inside a user-owned tree/u.test(w))).toHaveLength(4);
    expect(r.report.warnings.map((w) => w.message).join('\n')).toMatch(/write_files\[3\]: path must be absolute without "\.\."/u);
  });

  it('a file another user left in alice\'s home is not appended to and handed to alice, however the path is spelled', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'home/alice/notes'), 'bob private\n', { mode: 0o600 });
    await chown(join(root, 'home/alice/notes'), 1001, 1001);
    const r = run(root, await medium('write_files:\n  - path: /home//alice/notes\n    owner: alice\n    append: true\n    content: "x\\n"\n'));
    expect(r.code).toBe(0);
    const st = await stat(join(root, 'home/alice/notes'));
    expect([st.uid, await readFile(join(root, 'home/alice/notes'), 'utf8')]).toEqual([1001, 'bob private\n']);
    expect(r.warnings.join('\n')).toMatch(/\/home\/alice\/notes: not written: .*owned by uid 1001/u);
  });

  it('a home written "/home/alice/" in /etc/passwd, and a root-made link /srv/alice -> /home/alice, are alice\'s home too', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice/:/bin/bash\n');
    await mkdir(join(root, 'srv'));
    await symlink('/home/alice', join(root, 'srv/alice'));
    await writeFile(join(root, 'home/alice/bobs'), 'bob private\n', { mode: 0o600 });
    await chown(join(root, 'home/alice/bobs'), 1001, 1001);
    await planted('/etc/shadow', join(root, 'home/alice/.profile'));
    const before = await shadowOf(root);
    const r = run(root, await medium('write_files:\n  - path: /home/alice/.profile\n    owner: alice\n    append: true\n    content: "x\\n"\n  - path: /srv/alice/bobs\n    owner: alice\n    append: true\n    content: "x\\n"\n  - path: /srv/alice/new\n    owner: alice\n    content: "made\\n"\n'));
    expect(r.code).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    expect(await readFile(join(root, 'home/alice/bobs'), 'utf8')).toBe('bob private\n');
    expect(r.warnings.join('\n')).toMatch(/\/home\/alice\/.profile: not written: .*user-owned tree/u);
    expect(r.warnings.join('\n')).toMatch(/\/srv\/alice\/bobs: not written: .*owned by uid 1001/u);
    // a plain new file in the home is written, as alice's
    const made = await stat(join(root, 'home/alice/new'));
    expect([made.uid, await readFile(join(root, 'home/alice/new'), 'utf8')]).toEqual([1000, 'made\n']);
  });
});

describe("item 3: vmctx's own directories owned by another user are repaired before use", () => {
  it('/run/vmctx of uid 1000 with report.json -> /etc/shadow: /etc/shadow untouched, the directory root\'s again, and the run says so', async () => {
    const root = await scratchRoot();
    const run = join(root, 'run/vmctx');
    await mkdir(run, { recursive: true });
    await chown(run, 1000, 1000);
    await planted('/etc/shadow', join(run, 'report.json'));
    await planted('/etc/shadow', join(run, 'run.lock'));
    const before = await shadowOf(root);
    const r = vmctx(['run', '--root', root, '--source', await medium("write_files:\n  - path: /etc/motd\n    content: 'hi'\n"), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    const st = await stat(run);
    expect([st.uid, st.mode & 0o022]).toEqual([0, 0]);
    const report = (await lstat(join(run, 'report.json')));
    expect(report.isFile()).toBe(true);
    const messages = (JSON.parse(await readFile(join(run, 'report.json'), 'utf8')) as { warnings: { message: string }[] }).warnings.map((w) => w.message).join('\n');
    expect(messages).toMatch(/repaired: \/run\/vmctx was owned by uid 1000 with mode 755; made root's, mode 755/u);
    expect(messages).toMatch(/repaired: \/run\/vmctx\/report.json \(a symlink of uid 1000 pointing to \/etc\/shadow\) removed/u);
    expect(r.stderr).toMatch(/warning: repaired: \/run\/vmctx was owned by uid 1000/u);
  });

  it('a world-writable state directory with state.json -> /etc/shadow, and /var/log/vmctx.log a hard link of /etc/shadow: /etc/shadow untouched', async () => {
    const root = await scratchRoot();
    const state = await sharedDir(root, 'var/lib/vmctx', 0o777);
    await chown(state, 1000, 1000);
    await planted('/etc/shadow', join(state, 'state.json'));
    await mkdir(join(root, 'var/log'), { recursive: true });
    await link(join(root, 'etc/shadow'), join(root, 'var/log/vmctx.log'));
    const before = await shadowOf(root);
    const r = vmctx(['run', '--root', root, '--source', await medium("write_files:\n  - path: /etc/motd\n    content: 'hi'\n"), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
    const st = await stat(state);
    expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o700]);
    expect((await lstat(join(state, 'state.json'))).isFile()).toBe(true);
    expect(r.stderr).toMatch(/cannot open \/var\/log\/vmctx.log: .*2 hard links/u);
    expect(r.stderr).toMatch(/repaired: \/var\/lib\/vmctx was owned by uid 1000 with mode 777/u);
  });

  it("the code cache directory of uid 1000: the loader neither reads nor writes it, and a run repairs it", async () => {
    const root = await scratchRoot();
    execFileSync(process.execPath, [BUNDLE, 'install', '--root', root, '--no-node'], { stdio: 'ignore' });
    const cache = await sharedDir(root, 'var/cache/vmctx', 0o777);
    await chown(cache, 1000, 1000);
    await writeFile(join(cache, 'vmctx.js.v8cache'), 'planted by uid 1000');
    await chown(join(cache, 'vmctx.js.v8cache'), 1000, 1000);
    const version = execFileSync(process.execPath, [join(root, 'usr/lib/vmctx/load.js'), '--version'], { env: { ...process.env, VMCTX_CACHE_DIR: cache }, encoding: 'utf8' });
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+$/u);
    // nothing written into the other user's directory (before: a root-made cache renamed over the planted one)
    expect(await readdir(cache)).toEqual(['vmctx.js.v8cache']);
    expect(await readFile(join(cache, 'vmctx.js.v8cache'), 'utf8')).toBe('planted by uid 1000');
    const r = vmctx(['run', '--root', root, '--source', await medium("write_files:\n  - path: /etc/motd\n    content: 'hi'\n"), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const st = await stat(cache);
    expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o700]);
    expect(await readdir(cache)).toEqual([]);
    expect(r.stderr).toMatch(/repaired: \/var\/cache\/vmctx\/vmctx.js.v8cache \(a file of uid 1000\) removed/u);
  });
});
