// The sweep after an interrupted run: only vmctx's temporary names, only in the directories it
// writes (users' ~/.ssh found through /etc/passwd by the passwd codec), links removed, never followed.
import { chown, lchown, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepStaleTemps } from '../../src/agent/sweep.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { tempDir } from '../helpers/tmp.js';

describe('sweepStaleTemps', () => {
  it('removes .NAME.vmctx-XXXXXXXXXXXX in write dirs, the state dir and /home users\' .ssh; leaves the rest', async () => {
    const dir = await tempDir();
    for (const d of ['etc', 'home/alice/.ssh', 'home/bob/.ssh', 'srv/carol/.ssh', 'var/lib/vmctx', 'tmp']) await mkdir(join(dir, d), { recursive: true });
    await writeFile(
      join(dir, 'etc/passwd'),
      ['root:x:0:0:root:/root:/bin/bash', 'alice:x:1000:1000::/home/alice:/bin/sh', 'carol:x:1002:1002::/srv/carol:/bin/sh', 'broken:x:notanumber:1::/home/bob:/bin/sh', ''].join('\n'),
    );
    const temp = '.authorized_keys.vmctx-0123456789ab';
    await writeFile(join(dir, 'etc/.hostname.vmctx-aaaaaaaaaaaa'), 'half');
    await writeFile(join(dir, 'etc/.hostname.vmctx-short'), 'kept: not our name');
    await writeFile(join(dir, 'home/alice/.ssh', temp), 'half');
    await writeFile(join(dir, 'home/bob/.ssh', temp), 'kept: bob is not a valid passwd entry');
    await writeFile(join(dir, 'srv/carol/.ssh', temp), 'kept: not under /home');
    await writeFile(join(dir, 'var/lib/vmctx/.state.json.vmctx-bbbbbbbbbbbb'), 'half');
    await symlink('/tmp/elsewhere', join(dir, 'etc/.resolv.conf.vmctx-cccccccccccc'));
    const removed = await sweepStaleTemps(new DirectoryRoot(dir), '/var/lib/vmctx');
    expect(removed.sort()).toEqual(['/etc/.hostname.vmctx-aaaaaaaaaaaa', '/etc/.resolv.conf.vmctx-cccccccccccc', `/home/alice/.ssh/${temp}`, '/var/lib/vmctx/.state.json.vmctx-bbbbbbbbbbbb']);
    expect(await readdir(join(dir, 'etc'))).toContain('.hostname.vmctx-short');
    expect(await readdir(join(dir, 'home/bob/.ssh'))).toEqual([temp]);
    expect(await readdir(join(dir, 'srv/carol/.ssh'))).toEqual([temp]);
  });

  it("a user's ~/.ssh that is her link to a root directory: not followed, nothing removed there", async () => {
    const dir = await tempDir();
    for (const d of ['etc', 'home/mallory', 'srv/backup']) await mkdir(join(dir, d), { recursive: true });
    await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nmallory:x:1000:1000::/home/mallory:/bin/sh\n');
    await chown(join(dir, 'home/mallory'), 1000, 1000);
    await symlink('/srv/backup', join(dir, 'home/mallory/.ssh'));
    await lchown(join(dir, 'home/mallory/.ssh'), 1000, 1000);
    // root's file with vmctx's temporary-name shape, in a directory vmctx never writes
    await writeFile(join(dir, 'srv/backup/.db.vmctx-dddddddddddd'), 'root owns this');
    expect(await sweepStaleTemps(new DirectoryRoot(dir), '')).toEqual([]);
    expect(await readdir(join(dir, 'srv/backup'))).toEqual(['.db.vmctx-dddddddddddd']);
    // the same link owned by root (an image author's) is followed: the rule is about whose link it is
    await lchown(join(dir, 'home/mallory/.ssh'), 0, 0);
    await chown(join(dir, 'home/mallory'), 0, 0);
    expect(await sweepStaleTemps(new DirectoryRoot(dir), '')).toEqual(['/home/mallory/.ssh/.db.vmctx-dddddddddddd']);
  });
});
