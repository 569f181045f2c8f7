// A hostile guest (or a careless image) with the files vmctx writes replaced by links to sensitive
// files: /etc/resolv.conf, /etc/hosts, /etc/hostname, /etc/sudoers.d and a user's
// authorized_keys as symlinks or hard links to /etc/shadow inside the root, or to a file outside
// it. A whole run: the sensitive files stay byte for byte, nothing is written outside the root,
// and root never ends up owning a user path.
import { link, lstat, mkdir, readFile, rm, symlink, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { vmctx } from '../helpers/cli.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

async function setup(): Promise<{ root: string; outside: string; medium: string }> {
  const root = await scratchRoot();
  const outside = join(await tempDir('vmctx-outside-'), 'secret');
  await writeFile(outside, 'outside the root\n');
  const medium = await tempDir();
  await writeFile(join(medium, 'context.sh'), renderContextSh({
    VMID: '9', SET_HOSTNAME: 'linked', DNS: '192.0.2.1', USERNAME: 'alice', USERNAME_SUDO: 'YES', SSH_PUBLIC_KEY: fakeKey(),
  }));
  return { root, outside, medium };
}

describe('links planted where vmctx writes', () => {
  for (const kind of ['symlink to /etc/shadow', 'symlink outside the root', 'hard link to /etc/shadow'] as const) {
    it(`${kind}: resolv.conf, hosts, hostname, sudoers.d and authorized_keys`, async () => {
      const { root, outside, medium } = await setup();
      const shadow = join(root, 'etc/shadow');
      await mkdir(join(root, 'home/alice/.ssh'), { recursive: true });
      await chown(join(root, 'home/alice/.ssh'), 1000, 1000);
      const plant = async (path: string): Promise<void> => {
        await rm(join(root, path), { recursive: true, force: true });
        if (kind === 'symlink to /etc/shadow') await symlink('/etc/shadow', join(root, path));
        else if (kind === 'symlink outside the root') await symlink(outside, join(root, path));
        else await link(shadow, join(root, path));
      };
      for (const p of ['etc/resolv.conf', 'etc/hosts', 'etc/hostname', 'home/alice/.ssh/authorized_keys']) await plant(p);
      if (kind !== 'hard link to /etc/shadow') {
        await rm(join(root, 'etc/sudoers.d'), { recursive: true, force: true });
        await symlink(kind === 'symlink outside the root' ? join(outside, '..') : '/etc', join(root, 'etc/sudoers.d'));
      }
      const shadowBefore = await readFile(shadow, 'utf8');
      const r = vmctx(['run', '--root', root, '--source', medium, '--json']);
      expect([0, 5]).toContain(r.code);
      // the sensitive files are untouched (users/password may rewrite /etc/shadow itself only through
      // the shadow tools; no password is set here, so it must be byte for byte the same)
      const shadowAfter = await readFile(shadow, 'utf8');
      expect(shadowAfter.split('\n').filter((l) => !l.startsWith('alice:'))).toEqual(shadowBefore.split('\n').filter((l) => !l.startsWith('alice:')));
      expect(shadowAfter).not.toMatch(/nameserver|linked|ssh-ed25519|NOPASSWD/u);
      expect(await readFile(outside, 'utf8')).toBe('outside the root\n');
      // and no file vmctx wrote carries the shadow file's content (a hard link read back, merged and republished 0644)
      for (const p of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) expect(await readFile(join(root, p), 'utf8'), p).not.toMatch(/^root:[^:]*:\d+:/mu);
      // nothing landed next to the outside file either
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(join(outside, '..'))).sort()).toEqual(['secret']);
      // the user's tree is the user's (a planted hard link to /etc/shadow stays root's: vmctx refused it)
      for (const p of kind === 'hard link to /etc/shadow' ? ['home/alice/.ssh'] : ['home/alice/.ssh', 'home/alice/.ssh/authorized_keys']) {
        const st = await lstat(join(root, p)).catch(() => undefined);
        if (st !== undefined && !st.isSymbolicLink()) expect(st.uid, p).toBe(1000);
      }
    });
  }
});
