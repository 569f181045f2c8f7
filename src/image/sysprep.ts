// Cleaning an image for publishing, each step listed and individually switchable: per-server data
// (host keys, machine id, leases, udev NIC names, vmctx state), traces (logs, utmp/wtmp, shell
// histories, package caches, /tmp) and fixed passwords on accounts that can log in (locked).
import { posix } from 'node:path';
import { VmctxError } from '../shared/errors.js';
import type { Root } from '../host/root.js';
import { fixedPasswordAccounts } from '../formats/logins.js';
import type { ImageRoot } from './imageroot.js';

export interface SysprepStep {
  readonly id: string;
  readonly description: string;
  run(root: ImageRoot): Promise<string[]>;
}

/** Accounts of the image that can log in with a password baked into it (read from its /etc/shadow and /etc/passwd). */
export async function accountsWithFixedPasswords(root: Root): Promise<string[]> {
  const shadow = (await root.readText('/etc/shadow', { maxBytes: 16 * 1024 * 1024 })) ?? '';
  const passwd = (await root.readText('/etc/passwd', { maxBytes: 16 * 1024 * 1024 })) ?? '';
  return fixedPasswordAccounts(passwd, shadow);
}

/** Files in a directory (not following links), matched by name. */
async function filesIn(root: Root, dir: string, match: (name: string) => boolean): Promise<string[]> {
  const names = (await root.readdir(dir)) ?? [];
  const out: string[] = [];
  for (const name of names) {
    if (!match(name)) continue;
    const path = posix.join(dir, name);
    if ((await root.lstat(path))?.type === 'file') out.push(path);
  }
  return out;
}

async function removeAll(root: Root, paths: readonly string[]): Promise<string[]> {
  const done: string[] = [];
  for (const p of paths) if (await root.remove(p)) done.push(`removed ${p}`);
  return done;
}

/** Whether a directory to clean is a real directory: a link there is never followed out of it. */
async function isRealDir(root: Root, dir: string): Promise<boolean> {
  return (await root.lstat(dir))?.type === 'directory';
}

/** Every regular file below a directory (links are not followed), depth-limited. */
async function walkFiles(root: Root, dir: string, depth = 0): Promise<string[]> {
  if (depth > 8 || !(await isRealDir(root, dir))) return [];
  const out: string[] = [];
  for (const name of (await root.readdir(dir)) ?? []) {
    const path = posix.join(dir, name);
    const st = await root.lstat(path);
    if (st?.type === 'file') out.push(path);
    else if (st?.type === 'directory') out.push(...(await walkFiles(root, path, depth + 1)));
  }
  return out;
}

export const SYSPREP_STEPS: readonly SysprepStep[] = [
  {
    id: 'ssh-host-keys',
    description: 'remove SSH host keys (each instance makes its own at first boot)',
    run: async (root) => removeAll(root, await filesIn(root, '/etc/ssh', (n) => /^ssh_host_.*_key(\.pub)?$/u.test(n))),
  },
  {
    id: 'machine-id',
    description: 'empty /etc/machine-id (systemd makes a new one at first boot); remove the D-Bus copy',
    run: async (root) => {
      const out: string[] = [];
      const st = await root.lstat('/etc/machine-id');
      if (st?.type === 'file' && st.size > 0) {
        await root.writeFile('/etc/machine-id', '', { mode: st.mode });
        out.push('emptied /etc/machine-id');
      }
      if ((await root.lstat('/var/lib/dbus/machine-id'))?.type === 'file') out.push(...(await removeAll(root, ['/var/lib/dbus/machine-id'])));
      return out;
    },
  },
  {
    id: 'logs',
    description: 'truncate the logs under /var/log (wtmp, btmp, lastlog included); remove rotated ones',
    run: async (root) => {
      const out: string[] = [];
      for (const file of await walkFiles(root, '/var/log')) {
        if (/\.(\d+|gz|xz|bz2|old)$/u.test(file)) out.push(...(await removeAll(root, [file])));
        else if (await root.truncate(file)) out.push(`truncated ${file}`);
      }
      return out;
    },
  },
  {
    id: 'utmp',
    description: 'remove a stale /var/run/utmp',
    run: async (root) => removeAll(root, (await root.lstat('/var/run'))?.type === 'directory' ? ['/var/run/utmp'] : []),
  },
  {
    id: 'histories',
    description: 'remove shell histories of root and the users in /home',
    run: async (root) => {
      const homes = ['/root', ...((await root.readdir('/home')) ?? []).map((n) => `/home/${n}`)];
      const out: string[] = [];
      for (const home of homes) {
        if ((await root.lstat(home))?.type !== 'directory') continue;
        out.push(...(await removeAll(root, await filesIn(root, home, (n) => /^\.(bash|zsh|sh|python|mysql|psql|lesshst|viminfo)(_history)?$|^\.\w+_history$/u.test(n)))));
      }
      return out;
    },
  },
  {
    id: 'vmctx-state',
    description: 'remove vmctx run state and cached metadata (/var/lib/vmctx)',
    run: async (root) => ((await root.removeTree('/var/lib/vmctx')) > 0 ? ['removed /var/lib/vmctx'] : []),
  },
  {
    id: 'dhcp-leases',
    description: 'remove DHCP leases (dhclient, NetworkManager, systemd-networkd)',
    run: async (root) => {
      const out: string[] = [];
      for (const dir of ['/var/lib/dhcp', '/var/lib/dhclient', '/var/lib/NetworkManager', '/var/lib/systemd/network', '/var/lib/dhcpcd']) {
        out.push(...(await removeAll(root, await filesIn(root, dir, (n) => /lease/u.test(n)))));
      }
      return out;
    },
  },
  {
    id: 'udev-net-rules',
    description: 'remove udev persistent NIC naming (70-persistent-net.rules)',
    run: async (root) => removeAll(root, ['/etc/udev/rules.d/70-persistent-net.rules', '/etc/udev/rules.d/75-persistent-net-generator.rules']),
  },
  {
    id: 'lock-passwords',
    description: 'lock fixed passwords of accounts that can log in (the context sets one at first boot)',
    run: async (root) => {
      const locked = await accountsWithFixedPasswords(root);
      if (locked.length === 0) return [];
      const shadow = (await root.readText('/etc/shadow', { maxBytes: 16 * 1024 * 1024 })) ?? '';
      const st = await root.lstat('/etc/shadow');
      const lines = shadow.split('\n').map((line) => {
        const fields = line.split(':');
        if (fields[0] !== undefined && locked.includes(fields[0]) && fields[1] !== undefined && !fields[1].startsWith('!')) fields[1] = `!${fields[1]}`;
        return fields.join(':');
      });
      await root.writeFile('/etc/shadow', lines.join('\n'), { mode: st?.mode ?? 0o640, owner: st === undefined ? undefined : { uid: st.uid, gid: st.gid } });
      return locked.map((u) => `locked the fixed password of ${u}`);
    },
  },
  {
    id: 'package-caches',
    description: 'remove downloaded packages and package lists caches (apt, yum, dnf)',
    run: async (root) => {
      // a count per cache, not one line per package (an image can hold hundreds)
      const out: string[] = [];
      const count = async (dir: string, match: (n: string) => boolean, what: string): Promise<void> => {
        if (!(await isRealDir(root, dir))) return;
        const files = await filesIn(root, dir, match);
        let bytes = 0;
        for (const f of files) bytes += (await root.lstat(f))?.size ?? 0;
        const removed = (await removeAll(root, files)).length;
        if (removed > 0) out.push(`removed ${removed} ${what} from ${dir} (${(bytes / 1048576).toFixed(1)} MiB)`);
      };
      await count('/var/cache/apt/archives', (n) => n.endsWith('.deb'), 'downloaded package(s)');
      await count('/var/cache/apt', (n) => n.endsWith('.bin'), 'package list cache(s)');
      for (const dir of ['/var/cache/yum', '/var/cache/dnf']) {
        if (!(await isRealDir(root, dir))) continue;
        const n = await root.removeTree(dir);
        if (n > 0) out.push(`removed ${dir} (${n} entries)`);
      }
      return out;
    },
  },
  {
    id: 'tmp',
    description: 'empty /tmp and /var/tmp',
    run: async (root) => {
      const out: string[] = [];
      for (const dir of ['/tmp', '/var/tmp']) {
        // /tmp as a link is left alone: what it points to is not /tmp
        if (!(await isRealDir(root, dir))) continue;
        for (const name of (await root.readdir(dir)) ?? []) {
          if ((await root.removeTree(posix.join(dir, name))) > 0) out.push(`removed ${posix.join(dir, name)}`);
        }
      }
      return out;
    },
  },
];

/** Every step not skipped, in order, each announced; what each did. An unknown name in `skip` is a usage error, said before anything runs. */
export async function runSysprep(image: ImageRoot, skip: readonly string[], announce: (text: string) => void): Promise<Array<{ step: string; actions: string[] }>> {
  const unknown = skip.filter((s) => !SYSPREP_STEPS.some((x) => x.id === s));
  if (unknown.length > 0) throw new VmctxError('ERR_USAGE', `unknown sysprep step(s): ${unknown.join(', ')} (steps: ${SYSPREP_STEPS.map((s) => s.id).join(', ')})`);
  const done: Array<{ step: string; actions: string[] }> = [];
  for (const step of SYSPREP_STEPS) {
    if (skip.includes(step.id)) continue;
    announce(`sysprep: ${step.id}`);
    // in a dry run the disk is an in-memory overlay: the steps run for real on it and say what they did
    done.push({ step: step.id, actions: await step.run(image) });
  }
  return done;
}
