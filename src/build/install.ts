// Puts the agent into a root through the Root interface: the same code serves `vmctx install`
// (a running system or a mounted root), the image builder and the e2e tests.
import { VmctxError } from '../shared/errors.js';
import type { Root } from '../host/root.js';
import finalUnit from '../../systemd/vmctx-final.service?raw';
import localUnit from '../../systemd/vmctx-local.service?raw';
import networkUnit from '../../systemd/vmctx-network.service?raw';
import loaderSource from '../../packaging/load.js?raw';

export const LIB_DIR = '/usr/lib/vmctx';
export const BUNDLE_PATH = `${LIB_DIR}/vmctx.js`;
export const NODE_PATH = `${LIB_DIR}/node`;
/** Runs the bundle with a V8 code cache (see packaging/load.js). */
export const LOADER_PATH = `${LIB_DIR}/load.js`;
export const LAUNCHER_PATH = '/usr/sbin/vmctx';
export const UNIT_DIR = '/usr/lib/systemd/system';

export const UNITS: Readonly<Record<string, { text: string; wantedBy: string }>> = {
  'vmctx-local.service': { text: localUnit, wantedBy: 'sysinit.target' },
  'vmctx-network.service': { text: networkUnit, wantedBy: 'multi-user.target' },
  'vmctx-final.service': { text: finalUnit, wantedBy: 'multi-user.target' },
};

export interface InstallOptions {
  /** The bundle (dist/vmctx.js) to install. */
  readonly bundle: Uint8Array;
  /** A Node runtime binary to ship under /usr/lib/vmctx, or the image's own `node` on PATH. */
  readonly node: { readonly binary: Uint8Array } | { readonly system: string };
}

export interface InstallResult {
  readonly changed: readonly string[];
  readonly initSystem: 'systemd' | 'none';
}

export function launcher(nodePath: string): string {
  return `#!/bin/sh\n# vmctx launcher, written by vmctx install\nexec ${nodePath} ${LOADER_PATH} "$@"\n`;
}

async function detectInit(root: Root): Promise<'systemd' | 'none'> {
  for (const p of ['/usr/lib/systemd/systemd', '/lib/systemd/systemd']) if ((await root.lstat(p)) !== undefined) return 'systemd';
  return 'none';
}

export async function installAgent(root: Root, options: InstallOptions): Promise<InstallResult> {
  const changed: string[] = [];
  const note = (path: string, didChange: boolean): void => {
    if (didChange) changed.push(path);
  };
  if (options.bundle.length < 1000) throw new VmctxError('ERR_USAGE', 'the bundle to install looks empty; run `npm run build` first');
  note(BUNDLE_PATH, (await root.writeFile(BUNDLE_PATH, options.bundle, { mode: 0o644 })).changed);
  note(LOADER_PATH, (await root.writeFile(LOADER_PATH, loaderSource, { mode: 0o644 })).changed);
  let nodePath: string;
  if ('binary' in options.node) {
    note(NODE_PATH, (await root.writeFile(NODE_PATH, options.node.binary, { mode: 0o755 })).changed);
    nodePath = NODE_PATH;
  } else {
    nodePath = options.node.system;
  }
  note(LAUNCHER_PATH, (await root.writeFile(LAUNCHER_PATH, launcher(nodePath), { mode: 0o755 })).changed);
  const initSystem = await detectInit(root);
  if (initSystem === 'systemd') {
    for (const [name, unit] of Object.entries(UNITS)) {
      note(`${UNIT_DIR}/${name}`, (await root.writeFile(`${UNIT_DIR}/${name}`, unit.text, { mode: 0o644 })).changed);
      const wants = `/etc/systemd/system/${unit.wantedBy}.wants/${name}`;
      note(wants, await root.symlink(`${UNIT_DIR}/${name}`, wants));
    }
  }
  return { changed, initSystem };
}

/**
 * Removes what installAgent put in (bundle, loader, runtime, launcher, units and their links, and
 * the code cache). The run state, the logs and /etc/vmctx/config stay: they are the system's
 * record of what was applied, and an administrator's settings. Files vmctx did not write (a unit
 * someone edited in place is still vmctx's name, so it goes; anything else) are not touched.
 */
export async function uninstallAgent(root: Root): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  const rm = async (path: string): Promise<void> => {
    if (await root.remove(path)) removed.push(path);
  };
  for (const [name, unit] of Object.entries(UNITS)) {
    const wants = `/etc/systemd/system/${unit.wantedBy}.wants/${name}`;
    if ((await root.lstat(wants))?.type === 'symlink') await rm(wants);
    await rm(`${UNIT_DIR}/${name}`);
  }
  const launcherText = await root.readText(LAUNCHER_PATH, { maxBytes: 4096 }).catch(() => undefined);
  // the launcher is removed only when it is vmctx's own
  if (launcherText?.includes('# vmctx launcher, written by vmctx install') === true) await rm(LAUNCHER_PATH);
  for (const path of [BUNDLE_PATH, LOADER_PATH, NODE_PATH]) await rm(path);
  for (const name of (await root.readdir('/var/cache/vmctx')) ?? []) if (name.startsWith('vmctx.js.')) await rm(`/var/cache/vmctx/${name}`);
  return { removed };
}
