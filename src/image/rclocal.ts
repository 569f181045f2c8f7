// The /etc/rc.local hook that starts vmctx on images without systemd: one marked line before the last "exit 0".
import type { Root } from '../host/root.js';
import { LAUNCHER_PATH } from './install.js';

const RC_LOCAL_LINE = `${LAUNCHER_PATH} run --stage all || true`;
const RC_LOCAL_MARK = '# vmctx: apply the VM context';

/** Adds the hook (and makes rc.local executable); true when the file changed. */
export async function installRcLocal(root: Root): Promise<boolean> {
  const existing = (await root.readText('/etc/rc.local', { maxBytes: 1024 * 1024 })) ?? '#!/bin/sh -e\n\nexit 0\n';
  if (existing.includes(RC_LOCAL_LINE)) {
    const st = await root.lstat('/etc/rc.local');
    if (st !== undefined && (st.mode & 0o111) === 0) return (await root.writeFile('/etc/rc.local', existing, { mode: 0o755 })).changed;
    return false;
  }
  const lines = existing.split('\n');
  // before the last "exit 0", as the seed documents put it; at the end when there is none
  let at = -1;
  for (let i = lines.length - 1; i >= 0; i--) if (/^\s*exit\s+0\s*$/u.test(lines[i] ?? '')) {
    at = i;
    break;
  }
  const hook = [RC_LOCAL_MARK, RC_LOCAL_LINE];
  if (at === -1) lines.push(...hook);
  else lines.splice(at, 0, ...hook);
  const text = lines.join('\n');
  return (await root.writeFile('/etc/rc.local', text.endsWith('\n') ? text : `${text}\n`, { mode: 0o755 })).changed;
}
