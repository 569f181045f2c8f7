// A hostile user inside the guest: the home's ~/.ssh is swapped between a directory and symlinks
// (to /etc inside the root, and to a directory outside it) while vmctx writes the user's keys, in a
// loop. Nothing may land outside the user's tree, root must never end up owning a user path, and
// every refusal must be a clean, named error. Also: the modes of every file vmctx writes do not
// depend on the umask it runs under.
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sshKeysModule } from '../../src/agent/modules/sshkeys.js';
import type { Target } from '../../src/agent/modules/module.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { describeError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { vmctx } from '../helpers/cli.js';
import { contextOf } from '../helpers/context.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const ROUNDS = Number(process.env['HOSTILE_ROUNDS'] ?? 300);

/** Every path under dir with its owner, not following links. */
async function owners(dir: string, rel = ''): Promise<Array<{ path: string; uid: number; link: boolean }>> {
  const out: Array<{ path: string; uid: number; link: boolean }> = [];
  for (const name of await readdir(join(dir, rel)).catch(() => [] as string[])) {
    const p = join(rel, name);
    const st = await lstat(join(dir, p)).catch(() => undefined);
    if (st === undefined) continue;
    out.push({ path: p, uid: st.uid, link: st.isSymbolicLink() });
    if (st.isDirectory()) out.push(...(await owners(dir, p)));
  }
  return out;
}

describe('hostile guest user: ~/.ssh swapped for symlinks while keys are written', () => {
  // Found by the 300-round run in session 3: a symlink swapped for a directory between lstat and
  // readlink surfaced as a raw EINVAL. Now it is ERR_PATH_CHANGED; this hammers that window alone.
  it('regression EINVAL-readlink-race: an entry flipping between symlink and directory is only ever a named error', { timeout: 120_000 }, async () => {
    const root = await scratchRoot();
    const p = join(root, 'home/alice/flip');
    const swapper = spawn(process.execPath, ['-e', `const fs = require('fs'); const p = ${JSON.stringify(p)};
      for (let i = 0; ; i++) { try { fs.rmSync(p, { recursive: true, force: true }); } catch {} try { if (i % 2) fs.mkdirSync(p); else fs.symlinkSync('/etc', p); } catch {} }`], { stdio: 'ignore' });
    const r = new DirectoryRoot(root);
    const codes = new Set<string>();
    try {
      for (let i = 0; i < 3000; i++) {
        for (const op of [() => r.lstat('/home/alice/flip'), () => r.readText('/home/alice/flip/hostname')]) {
          try {
            await op();
            codes.add('ok');
          } catch (error) {
            codes.add(describeError(error).code);
          }
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    for (const code of codes) expect(['ok', 'ERR_PATH_CHANGED', 'ERR_PATH_NOT_DIR', 'ERR_PATH_SYMLINK', 'ENOENT', 'EISDIR', 'ERR_UNSAFE_FILE']).toContain(code);
  });

  it(`${ROUNDS} writes against a swapping loop: nothing outside the user's tree, no root-owned user path`, { timeout: 300_000 }, async () => {
    const root = await scratchRoot();
    const outside = await tempDir();
    const etcBefore = (await readdir(join(root, 'etc'))).sort();
    const home = join(root, 'home/alice');
    // the attacker: uid 1000, as in a real guest (the scratch root's parent lets it through). As
    // root, its own mkdir-then-chown could be cut off by the final kill and leave a root-owned
    // directory that vmctx never made (seen once in CI)
    await chmod(join(root, '..'), 0o711);
    const swapper = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); const p = ${JSON.stringify(join(home, '.ssh'))};
         const targets = ['/etc', ${JSON.stringify(outside)}, '../../../etc', null];
         for (let i = 0; ; i++) {
           try { fs.rmSync(p, { recursive: true, force: true }); } catch {}
           const t = targets[i % targets.length];
           try { if (t === null) fs.mkdirSync(p, { mode: 0o700 }); else fs.symlinkSync(t, p); } catch {}
         }`,
      ],
      { stdio: 'ignore', uid: 1000, gid: 1000 },
    );
    const target: Target = { root: new DirectoryRoot(root), exec: new HostExec(), live: false };
    const log = createLogger(undefined);
    const outcomes = new Map<string, number>();
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const ctx = await contextOf({ USERNAME: 'alice', SSH_PUBLIC_KEY: fakeKey('ssh-ed25519', `round-${i}`) });
        try {
          await sshKeysModule.apply(ctx, target, log);
          outcomes.set('written', (outcomes.get('written') ?? 0) + 1);
        } catch (error) {
          const code = describeError(error).code;
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    // nothing reached /etc or the directory outside the root
    expect((await readdir(join(root, 'etc'))).sort()).toEqual(etcBefore);
    expect(await readdir(outside)).toEqual([]);
    // nothing in the user's home is root's (a planted path never became root-owned)
    for (const e of await owners(home)) if (!e.link) expect(e, JSON.stringify(e)).toMatchObject({ uid: 1000 });
    // the refusals are named errors, never crashes of another kind
    for (const code of outcomes.keys()) expect(['written', 'ERR_PATH_SYMLINK', 'ERR_PATH_OWNER', 'ERR_PATH_NOT_DIR', 'ERR_PATH_INVALID', 'ERR_UNSAFE_FILE', 'ENOENT', 'ERR_PATH_LOOP', 'ERR_PATH_CHANGED']).toContain(code);
    expect(outcomes.get('written') ?? 0).toBeGreaterThan(0);
    // the attacker really got in the way (some writes were refused)
    expect([...outcomes.keys()].filter((k) => k !== 'written').length).toBeGreaterThan(0);
  });
});

describe('modes do not depend on the umask', () => {
  it('every file and directory vmctx creates has the same mode under umask 000 and umask 077', async () => {
    const src = await tempDir();
    await writeFile(
      join(src, 'context.sh'),
      renderContextSh({
        VMID: '5',
        SET_HOSTNAME: 'umask-host',
        DNS: '192.0.2.53',
        ETH0_MAC: '52:54:00:00:00:05',
        ETH0_IP: '192.0.2.5',
        SSH_PUBLIC_KEY: fakeKey(),
        USERNAME: 'alice',
        USERNAME_SUDO: 'YES',
        PASSWORD: 'Umask-Passw0rd',
        USER_DATA: '#cloud-config\nwrite_files:\n  - path: /etc/app/app.conf\n    content: "x\\n"\n    permissions: "0640"\n',
      }),
    );
    const modes = async (umask: string): Promise<Record<string, string>> => {
      const root = await scratchRoot();
      await mkdir(join(root, 'etc/sudoers.d'), { recursive: true });
      const before = new Set((await owners(root)).map((e) => e.path));
      const r = vmctx(['run', '--source', src, '--root', root, '-q'], { umask });
      expect(r.code, r.stderr).toBe(0);
      const out: Record<string, string> = {};
      for (const e of await owners(root)) {
        if (before.has(e.path) || e.link) continue;
        out[e.path] = ((await lstat(join(root, e.path))).mode & 0o7777).toString(8);
      }
      return out;
    };
    const open = await modes('000');
    const closed = await modes('077');
    // host keys are random files, but their modes are fixed too; the lists must match exactly
    expect(open).toEqual(closed);
    expect(Object.keys(open).length).toBeGreaterThan(8);
    expect(open['etc/app/app.conf']).toBe('640');
    expect(open['var/log/vmctx.log']).toBe('600');
    expect(open['var/lib/vmctx']).toBe('700');
    // nothing world-writable anywhere
    for (const [p, m] of Object.entries(open)) expect((parseInt(m, 8) & 0o002) === 0, p).toBe(true);
  });
});
