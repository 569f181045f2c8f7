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
