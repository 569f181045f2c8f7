// After an interrupted run: removes the half-written temporary files (.NAME.vmctx-XXXXXXXXXXXX)
// a run killed between writing and renaming leaves in the directories vmctx writes to.
import { parsePasswd } from '../formats/passwd.js';
import type { Root } from '../host/root.js';

/** Where vmctx writes: after an interrupted run, half-written temporary files are removed here. */
const WRITE_DIRS = [
  '/etc', '/etc/ssh', '/etc/sudoers.d', '/etc/vmctx', '/etc/network', '/etc/network/interfaces.d', '/etc/netplan', '/etc/systemd/network',
  '/etc/systemd/resolved.conf.d', '/etc/NetworkManager/system-connections', '/etc/NetworkManager/conf.d', '/etc/sysconfig', '/etc/sysconfig/network-scripts',
  '/etc/resolvconf/resolv.conf.d', '/root/.ssh', '/var/log/vmctx', '/var/log/vmctx/scripts', '/run/vmctx', '/var/lib/dbus',
];
const TEMP = /^\..+\.vmctx-[0-9a-f]{12}$/u;

/**
 * A run killed between writing a temporary file and renaming it leaves `.NAME.vmctx-XXXXXXXXXXXX`
 * behind. The next write of NAME removes it; this sweep catches the ones whose file is not written
 * again (a script log of a script that is not re-run, a key file that did not change).
 */
export async function sweepStaleTemps(root: Root, stateDir: string): Promise<string[]> {
  const dirs = [...WRITE_DIRS, ...(stateDir === '' ? [] : [stateDir])];
  const passwd = (await root.readText('/etc/passwd', { maxBytes: 16 * 1024 * 1024 }).catch(() => undefined)) ?? '';
  for (const { home } of parsePasswd(passwd)) {
    if (/^\/home\/[^/]+$/u.test(home)) dirs.push(`${home}/.ssh`);
  }
  const removed: string[] = [];
  for (const dir of dirs) {
    const names = await root.readdir(dir).catch(() => undefined);
    for (const name of names ?? []) {
      if (!TEMP.test(name)) continue;
      const path = `${dir}/${name}`;
      const st = await root.lstat(path).catch(() => undefined);
      if ((st?.type === 'file' || st?.type === 'symlink') && (await root.remove(path).catch(() => false))) removed.push(path);
    }
  }
  return removed;
}
