// Puts the agent into a root through the Root interface: the same code serves `vmctx install`
// (a running system or a mounted root), the image builder and the e2e tests.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmctxError } from '../shared/errors.js';
import { CONFIG_PATH, CONFIG_TEMPLATE } from '../shared/layout.js';
import type { Root } from '../host/root.js';
import finalUnit from '../../systemd/vmctx-final.service?raw';
import localUnit from '../../systemd/vmctx-local.service?raw';
import networkUnit from '../../systemd/vmctx-network.service?raw';
import daemonUnit from '../../systemd/vmctx-daemon.service?raw';
import hostKeysUnit from '../../systemd/vmctx-hostkeys.service?raw';
import loaderSource from '../../packaging/load.js?raw';
import udevRule from '../../packaging/90-vmctx.rules?raw';
import initScript from '../../packaging/sysvinit/vmctx-final?raw';
import initLocalScript from '../../packaging/sysvinit/vmctx-local?raw';
import { ensureOwnDir } from '../host/owndir.js';
import { HostExec } from '../host/exec.js';

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
  'vmctx-daemon.service': { text: daemonUnit, wantedBy: 'multi-user.target' },
  'vmctx-hostkeys.service': { text: hostKeysUnit, wantedBy: 'multi-user.target' },
};

/** Tells the daemon when a CD changes or a NIC comes or goes (see packaging/90-vmctx.rules). */
export const UDEV_RULE_PATH = '/usr/lib/udev/rules.d/90-vmctx.rules';
/** LSB init scripts for systems without systemd (enabled by the packages with update-rc.d). */
export const INIT_SCRIPTS: Readonly<Record<string, string>> = {
  '/etc/init.d/vmctx-local': initLocalScript,
  '/etc/init.d/vmctx-final': initScript,
};

export interface InstallOptions {
  /** The bundle (dist/vmctx.js) to install. */
  readonly bundle: Uint8Array;
  /** A Node runtime binary to ship under /usr/lib/vmctx, or the image's own `node` on PATH. */
  readonly node: { readonly binary: Uint8Array } | { readonly system: string };
  /**
   * The tree a package ships (deb, rpm, tarball): every unit and both init scripts whatever the
   * root looks like, the default /etc/vmctx/config, and nothing enabled — the package's
   * maintainer scripts enable what the system it lands on uses.
   */
  readonly packageLayout?: boolean;
}

/** The V8 code cache load.js keeps (and rewrites when V8 rejects it). */
export const CODE_CACHE_PATH = '/var/cache/vmctx/vmctx.js.v8cache';

/** What the warm-up run applies (to nothing: a dry run): a typical OpenNebula context. */
const WARM_UP_CONTEXT = [
  "VMID='1'", "SET_HOSTNAME='warm-up'", "NETWORK='YES'", "ETH0_MAC='02:00:00:00:00:01'", "ETH0_IP='192.0.2.2'", "ETH0_MASK='255.255.255.0'",
  "ETH0_GATEWAY='192.0.2.1'", "DNS='192.0.2.1'", "USERNAME='warmup'", "PASSWORD='not-a-secret'",
  "SSH_PUBLIC_KEY='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1vY2sta2V5LWZvci13YXJtLXVwLW9ubHktMDAwMDAwMA== warm-up'", '',
].join('\n');

/**
 * Makes the code cache the first boot would otherwise make for itself (compiling the 1.3 MB bundle
 * costs about half a second of an emulated guest's first boot): the shipped runtime runs the
 * bundle once, here, through the same loader. Only that binary's cache is any use (V8 checks its
 * version and flags, and the source), and only the Node running vmctx now is run for it: another
 * --node binary, or the image's own Node, gets none (the guest makes it on its first run, as
 * before). Undefined when none was made.
 */
async function buildCodeCache(bundle: Uint8Array, node: InstallOptions['node']): Promise<Uint8Array | undefined> {
  if (!('binary' in node)) return undefined;
  // only this very runtime, already trusted to run vmctx here: a --node binary is shipped, never run
  const own = await readFile(process.execPath).catch(() => undefined);
  if (own === undefined || !Buffer.from(node.binary.buffer, node.binary.byteOffset, node.binary.byteLength).equals(own)) return undefined;
  const work = await mkdtemp(join(tmpdir(), 'vmctx-codecache-'));
  try {
    await writeFile(join(work, 'vmctx.js'), bundle);
    await writeFile(join(work, 'load.js'), loaderSource);
    // A dry run of the local stage into an empty scratch root (it changes nothing, starts no
    // program): the cache then holds the functions a boot's run compiles, not only the top level.
    await mkdir(join(work, 'root/etc'), { recursive: true });
    await writeFile(join(work, 'root/etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await mkdir(join(work, 'context'));
    await writeFile(join(work, 'context/context.sh'), WARM_UP_CONTEXT);
    const args = [join(work, 'load.js'), 'run', '--stage', 'local', '--dry-run', '--root', join(work, 'root'), '--source', join(work, 'context')];
    // its output is not wanted: a little of it is kept (and dropped) rather than passed on
    const ran = await new HostExec().run(process.execPath, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', VMCTX_CACHE_DIR: join(work, 'cache') }, timeoutMs: 30_000, maxOutput: 4096 }).catch(() => undefined);
    if (ran === undefined || ran.signal !== null) return undefined;
    return await readFile(join(work, 'cache', 'vmctx.js.v8cache')).catch(() => undefined);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
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
  // the first boot skips compiling the bundle (a package's runtime is the target's: no cache)
  const codeCache = options.packageLayout === true ? undefined : await buildCodeCache(options.bundle, options.node);
  if (codeCache !== undefined) {
    for (const repaired of await ensureOwnDir(root, '/var/cache/vmctx', 0o700)) note(`${repaired} (repaired)`, true);
    note(CODE_CACHE_PATH, (await root.writeFile(CODE_CACHE_PATH, codeCache, { mode: 0o600, noFollow: true })).changed);
  }
  note(UDEV_RULE_PATH, (await root.writeFile(UDEV_RULE_PATH, udevRule, { mode: 0o644 })).changed);
  if (options.packageLayout === true) {
    for (const [path, text] of Object.entries(INIT_SCRIPTS)) note(path, (await root.writeFile(path, text, { mode: 0o755 })).changed);
    for (const [name, unit] of Object.entries(UNITS)) note(`${UNIT_DIR}/${name}`, (await root.writeFile(`${UNIT_DIR}/${name}`, unit.text, { mode: 0o644 })).changed);
    note(CONFIG_PATH, (await root.writeFile(CONFIG_PATH, CONFIG_TEMPLATE, { mode: 0o644 })).changed);
    return { changed, initSystem: 'none' };
  }
  const initSystem = await detectInit(root);
  if (initSystem !== 'systemd' && (await root.lstat('/etc/init.d')) !== undefined) {
    // for `service vmctx status` and update-rc.d; bake activates vmctx through rc.local, which
    // needs no tool run inside the image
    for (const [path, text] of Object.entries(INIT_SCRIPTS)) note(path, (await root.writeFile(path, text, { mode: 0o755 })).changed);
  }
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
 * How the installed vmctx gets started at boot in this root, in words (for `install --root` on a
 * root without systemd, where nothing is enabled by install itself).
 */
export async function howStarted(root: Root, initSystem: InstallResult['initSystem']): Promise<string> {
  if (initSystem === 'systemd') return 'systemd starts it: the vmctx units are enabled';
  const rcLocal = await root.readText('/etc/rc.local', { maxBytes: 1024 * 1024 }).catch(() => undefined);
  if (rcLocal?.includes(`${LAUNCHER_PATH} run`) === true) return `no systemd: /etc/rc.local starts it (${LAUNCHER_PATH} run)`;
  const scripts = [];
  for (const path of Object.keys(INIT_SCRIPTS)) if ((await root.lstat(path)) !== undefined) scripts.push(path);
  if (scripts.length > 0) {
    return `no systemd: nothing starts vmctx at boot yet. The init scripts ${scripts.join(' and ')} are in place but not enabled: enable them in that system (update-rc.d vmctx-local defaults; update-rc.d vmctx-final defaults), or add "${LAUNCHER_PATH} run --stage all" to its /etc/rc.local`;
  }
  return `no systemd and no /etc/init.d: nothing starts vmctx at boot. Run "${LAUNCHER_PATH} run --stage all" from that system's boot scripts (rc.local or its init system)`;
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
  await rm(UDEV_RULE_PATH);
  for (const [path, text] of Object.entries(INIT_SCRIPTS)) {
    // only our own scripts (unchanged or edited, they carry the LSB name)
    const current = await root.readText(path, { maxBytes: 1024 * 1024 }).catch(() => undefined);
    if (current !== undefined && (current === text || current.includes('# Provides:          vmctx'))) await rm(path);
  }
  const launcherText = await root.readText(LAUNCHER_PATH, { maxBytes: 4096 }).catch(() => undefined);
  // the launcher is removed only when it is vmctx's own
  if (launcherText?.includes('# vmctx launcher, written by vmctx install') === true) await rm(LAUNCHER_PATH);
  for (const path of [BUNDLE_PATH, LOADER_PATH, NODE_PATH]) await rm(path);
  for (const name of (await root.readdir('/var/cache/vmctx')) ?? []) if (name.startsWith('vmctx.js.')) await rm(`/var/cache/vmctx/${name}`);
  return { removed };
}
