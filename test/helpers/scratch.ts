// A small fake guest root for tests: passwd, hosts, sshd_config, /root and a user's home.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export async function scratchRoot(options: { resolvConf?: 'file' | 'resolved' | 'none'; network?: 'ifupdown' | 'none' } = {}): Promise<string> {
  const root = join(await tempDir('vmctx-root-'), 'root');
  await mkdir(join(root, 'etc/ssh'), { recursive: true });
  await mkdir(join(root, 'root'), { mode: 0o700 });
  await mkdir(join(root, 'home/alice'), { recursive: true });
  await chown(join(root, 'home/alice'), 1000, 1000);
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n');
  // what useradd -R / chpasswd -R need of a real system
  await writeFile(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\nalice:!:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nsudo:x:27:\nalice:x:1000:\n');
  await writeFile(join(root, 'etc/gshadow'), 'root:*::\nsudo:*::\nalice:!::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc/login.defs'), 'UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nUSERGROUPS_ENAB yes\nENCRYPT_METHOD SHA512\n');
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await writeFile(join(root, 'etc/ssh/sshd_config'), 'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\n');
  if ((options.network ?? 'ifupdown') === 'ifupdown') {
    await mkdir(join(root, 'sbin'));
    await writeFile(join(root, 'sbin/ifup'), '#!/bin/sh\n', { mode: 0o755 });
    await mkdir(join(root, 'etc/network/interfaces.d'), { recursive: true });
    await writeFile(join(root, 'etc/network/interfaces'), 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n');
  }
  const resolv = options.resolvConf ?? 'file';
  if (resolv === 'file') await writeFile(join(root, 'etc/resolv.conf'), 'nameserver 192.0.2.53\noptions edns0\n');
  return root;
}

/** A structurally valid public key line (type + base64 blob naming the type). */
export function fakeKey(type = 'ssh-ed25519', comment = 'test@host'): string {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  const blob = Buffer.concat([len, name, Buffer.from([0, 0, 0, 32]), randomBytes(32)]);
  return `${type} ${blob.toString('base64')} ${comment}`;
}

/**
 * A scratch root shaped like a minimal Debian where a run looks: scratchRoot's accounts and files
 * plus /etc/skel, an empty /etc/machine-id (as Debian images ship it), /etc/sudoers.d, the mail
 * spool, /var/lib, /var/log, /run and /tmp.
 */
export async function debianRoot(): Promise<string> {
  const root = await scratchRoot();
  for (const dir of ['etc/skel', 'etc/sudoers.d', 'etc/default', 'var/lib', 'var/log', 'var/mail', 'run', 'tmp', 'usr/bin']) await mkdir(join(root, dir), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await chown(join(root, 'var/mail'), 0, 8);
  await chmod(join(root, 'var/mail'), 0o2775);
  await writeFile(join(root, 'etc/skel/.profile'), '# ~/.profile\n');
  await writeFile(join(root, 'etc/skel/.bashrc'), '# ~/.bashrc\n');
  await writeFile(join(root, 'etc/machine-id'), '', { mode: 0o444 });
  await writeFile(join(root, 'usr/bin/bash'), '', { mode: 0o755 });
  await symlink('usr/bin', join(root, 'bin'));
  return root;
}
