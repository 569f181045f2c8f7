// `vmctx bake`: puts the agent into an ext2/3/4 image (raw, .gz, .bz2, .zip, .xz; whole file system or a
// partition) without root, mount or VM: libext2fs in WebAssembly behind the Root interface.
// The input is never written (unless --in-place): the work happens on a temporary copy next to
// the output, renamed into place only when everything succeeded; a failure removes it.
// The parts live next to it: compression.ts, sparsewriter.ts, mount.ts, elfarch.ts, nodechoice.ts,
// imageid.ts, rclocal.ts, zerofree.ts, files.ts, sysprep.ts, chroot.ts.
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { VmctxError } from '../shared/errors.js';
import { CONFIG_PATH, CONFIG_TEMPLATE } from '../shared/layout.js';
import { DryRunRoot, type PlannedChange } from '../host/dryrun.js';
import type { Root } from '../host/root.js';
import { FileDisk } from './disk.js';
import { checkComplete, checkWritable, locateFileSystem, type Located } from './extimage.js';
import type { ProgressSink } from './progress.js';
import { ImageRoot } from './imageroot.js';
import { installCommand, runCommandsInImage, runPrerequisites } from './chroot.js';
import { addDiskAliases, addHooks, addTemplate, readHooksDir, readTemplateSpec } from './authoring.js';
import { installAgent } from './install.js';
import { runSysprep } from './sysprep.js';
import { compress, decompressTo, imageCompression, type Compression } from './compression.js';
import { checkInput, checkOutput, defaultOutput, outOfRoom } from './files.js';
import { mountImage } from './mount.js';
import { hostArch, imageArch } from './elfarch.js';
import { chooseNode, describeNode, type NodeInfo, type NodeRequest } from './nodechoice.js';
import { makeStamp, renderImageId, type StampRequest } from './imageid.js';
import { installRcLocal } from './rclocal.js';
import { zeroFree } from './zerofree.js';
import { applyConsoles, parseConsoles, readConsoleSetup } from './consoles.js';

export type { Compression } from './compression.js';

export interface BakeOptions {
  readonly input: string;
  readonly output?: string | undefined;
  readonly inPlace: boolean;
  readonly partition?: number | undefined;
  readonly bundle: Buffer;
  /** A Node binary to ship; "system" to use the image's /usr/bin/node; undefined: decide. */
  readonly node?: NodeRequest;
  readonly sysprep: boolean;
  /** Sysprep steps turned off by name. */
  readonly skip: readonly string[];
  readonly stamp: StampRequest;
  readonly zeroFree: boolean;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly compress?: Compression | undefined;
  readonly progress?: ProgressSink | undefined;
  /** The entry of a .zip that holds the image (needed when it holds several). */
  readonly zipEntry?: string | undefined;
  /** A directory of boot hooks ({per-boot,per-instance,once}/NAME) to put in /etc/vmctx/scripts.d. */
  readonly scripts?: string | undefined;
  /** SRC:GUESTPATH pairs for /etc/vmctx/templates. */
  readonly templates?: readonly string[] | undefined;
  /** Install the udev rule giving xvd* and vd* disks sd* aliases. */
  readonly udevAliases?: boolean | undefined;
  /** Commands to run in a chroot of the image (as root, on loop devices), before vmctx goes in. */
  readonly run?: readonly string[] | undefined;
  /** Packages to install with the image's package manager (the same way). */
  readonly install?: readonly string[] | undefined;
  readonly runTimeoutSeconds?: number | undefined;
  /** --console: consoles to make root logins on (securetty entries, a serial getty); names checked (ERR_CONSOLE_NAME). */
  readonly consoles?: readonly string[] | undefined;
  /** Where the commands' output goes (default: stderr). */
  readonly runOutput?: ((chunk: Buffer) => void) | undefined;
}

export interface BakeResult {
  readonly output: string;
  readonly where: string;
  readonly fsKind: string;
  readonly installed: readonly string[];
  readonly sysprep: ReadonlyArray<{ readonly step: string; readonly actions: readonly string[] }>;
  readonly stamp: Readonly<Record<string, string>>;
  readonly warnings: readonly string[];
  readonly changes?: readonly PlannedChange[];
  /** The Node the image runs vmctx with: its own, this host's (shipped), or one given with --node. */
  readonly node: NodeInfo;
  readonly zeroedBytes: number;
  readonly durationMs: number;
  /** --console: what was left as it was, and why (a missing securetty, hvc0 under systemd …). */
  readonly consoleNotes: readonly string[];
}

/** A planned change as JSON can carry it: what and where, sizes, never file contents. */
export interface ChangeSummary {
  readonly path: string;
  readonly kind: PlannedChange['kind'];
  readonly mode?: string;
  readonly bytes?: number;
  readonly bytesBefore?: number;
  readonly target?: string;
}

export function changeSummary(c: PlannedChange): ChangeSummary {
  return {
    path: c.path,
    kind: c.kind,
    ...(c.mode === undefined ? {} : { mode: c.mode.toString(8).padStart(4, '0') }),
    ...(c.kind === 'write' && c.after !== undefined ? { bytes: c.after.length } : {}),
    ...(c.kind === 'write' && c.before !== undefined ? { bytesBefore: c.before.length } : {}),
    ...(c.kind === 'symlink' && c.after !== undefined ? { target: c.after.toString('utf8') } : {}),
  };
}

/** Directories the tmp cleaning empties: a link there (to where vmctx's config would go) loses what it points to at boot. */
const EMPTIED_AT_BOOT = ['/tmp', '/var/tmp', '/run', '/var/run', '/dev/shm'];

/** A warning when /etc/vmctx is a link into a directory emptied at boot (vmctx's config and hooks would be lost there). */
async function configDirWarning(image: ImageRoot): Promise<string | undefined> {
  const configDir = await image.lstat('/etc/vmctx');
  if (configDir?.type !== 'symlink' || configDir.linkTarget === undefined) return undefined;
  const target = posix.resolve('/etc', configDir.linkTarget);
  const emptied = EMPTIED_AT_BOOT.find((d) => target === d || target.startsWith(`${d}/`));
  return emptied === undefined ? undefined : `/etc/vmctx is a link to ${target}, inside ${emptied}, which is emptied at boot: vmctx's config and hooks there will be lost; make /etc/vmctx a directory`;
}

export async function bake(options: BakeOptions): Promise<BakeResult> {
  const t0 = Date.now();
  const progress = options.progress;
  const step = (text: string): void => progress?.step(text);
  const warnings: string[] = [];
  // --run/--install need root and loop devices: said before anything else is looked at
  const commands = [...(options.install === undefined || options.install.length === 0 ? [] : [installCommand(options.install)]), ...(options.run ?? [])];
  if (commands.length > 0) {
    if (options.dryRun) throw new VmctxError('ERR_USAGE', '--run and --install change the image: they have no dry run');
    const missing = await runPrerequisites(options.input);
    if (missing !== undefined) throw new VmctxError('ERR_PRIVILEGE', `--run/--install: ${missing}. Nothing was changed`);
  }
  checkInput(options.input);
  const inKind = imageCompression(options.input);
  const outKind = options.compress ?? inKind;
  if (options.inPlace && inKind !== 'raw') throw new VmctxError('ERR_USAGE', '--in-place works on raw images only');
  if (options.zipEntry !== undefined && inKind !== 'zip') throw new VmctxError('ERR_USAGE', '--zip-entry is for .zip images only');
  const output = options.inPlace ? options.input : (options.output ?? defaultOutput(options.input, inKind, outKind));
  // bake replaces an output that is there (a file only), never the input
  if (!options.inPlace) checkOutput(options.input, output, true, ' (use --in-place for that)');
  const work = options.inPlace || options.dryRun && inKind === 'raw' ? options.input : join(dirname(output), `.${basename(output)}.vmctx-${process.pid}-${randomBytes(3).toString('hex')}.raw`);
  const temps: string[] = work === options.input ? [] : [work];
  // what the author adds is read and checked before the image is touched
  const hooks = options.scripts === undefined ? [] : await readHooksDir(options.scripts);
  const consoles = options.consoles === undefined ? undefined : parseConsoles(options.consoles.join(','));
  const templates = await Promise.all((options.templates ?? []).map(readTemplateSpec));
  try {
    if (work !== options.input) warnings.push(...(await decompressTo(options.input, inKind, work, { progress, zipEntry: options.zipEntry })));
    if (commands.length > 0) {
      // the commands first: what they install (a distribution's nodejs, say) is there when vmctx goes in
      step(`running ${commands.length} command(s) in a chroot of the image`);
      warnings.push(...(await runCommandsInImage(work, { partition: options.partition, force: options.force, commands, timeoutSeconds: options.runTimeoutSeconds ?? 1800, output: options.runOutput ?? ((c) => process.stderr.write(c)), inPlace: work === options.input })));
    }
    const disk = FileDisk.open(work, options.dryRun ? 'overlay' : 'write');
    let located: Located;
    let result: Omit<BakeResult, 'output' | 'durationMs'>;
    try {
      located = locateFileSystem(disk, options.partition);
      checkComplete(located, disk.size);
      warnings.push(...checkWritable(located.superblock, options.force));
      step(`${located.superblock.kind} file system (${located.where}), ${Math.round((located.superblock.blocks * located.superblock.blockSize) / 1024 / 1024)} MiB`);
      const mounted = await mountImage(disk, located);
      const { fs } = mounted;
      const umount = (): Promise<void> => mounted.umount();
      let umounted = false;
      try {
        const image = new ImageRoot(fs, `${options.input}${located.offset === 0 ? '' : `@${located.offset}`}`);
        const root: Root = options.dryRun ? new DryRunRoot(image) : image;
        const arch = await imageArch(image);
        if (arch === undefined && options.stamp.image_arch === undefined) warnings.push('cannot tell the image\'s architecture from /bin/sh; image_arch is this host\'s');
        const node = await chooseNode(image, options.node, warnings, arch);
        const sb = located.superblock;
        const needed = options.bundle.length + ('binary' in node ? node.binary.length : 0) + 1024 * 1024;
        const free = sb.freeBlocks * sb.blockSize;
        if (needed > free) throw new VmctxError('ERR_IO', `the image's file system is full: vmctx needs about ${Math.ceil(needed / 1048576)} MiB and ${Math.floor(free / 1048576)} MiB are free; grow it first (resize2fs) — nothing was changed`);
        // --console's files are read before anything is written (one that cannot be read stops bake here)
        const consoleSetup = consoles === undefined ? undefined : await readConsoleSetup(root);
        // cleaning comes first: nothing it removes (a /tmp that a link of the image points into) can take what vmctx installs
        const sysprep = options.sysprep ? await runSysprep(image, options.skip, step) : [];
        const nodeInfo = describeNode(node, options.node);
        step(nodeInfo.line);
        step('installing vmctx');
        const installed = await installAgent(root, { bundle: options.bundle, node });
        const changed = [...installed.changed];
        if (installed.initSystem !== 'systemd' && (await installRcLocal(root))) changed.push('/etc/rc.local');
        const linkWarning = await configDirWarning(image);
        if (linkWarning !== undefined) warnings.push(linkWarning);
        if ((await root.lstat(CONFIG_PATH)) === undefined) {
          await root.writeFile(CONFIG_PATH, CONFIG_TEMPLATE, { mode: 0o644 });
          changed.push(CONFIG_PATH);
        }
        changed.push(...(await addHooks(root, hooks)));
        for (const t of templates) changed.push(await addTemplate(root, t));
        if (options.udevAliases === true) changed.push(...(await addDiskAliases(root)));
        const consoleNotes: string[] = [];
        if (consoles !== undefined) {
          const c = await applyConsoles(root, consoles, consoleSetup);
          changed.push(...c.changed);
          consoleNotes.push(...c.notes);
        }
        const stamp = makeStamp(options.stamp, options.input, output, arch ?? hostArch(), new Date());
        await root.writeFile('/etc/image-id', renderImageId(stamp), { mode: 0o644 });
        changed.push('/etc/image-id');
        if (options.zeroFree && !options.dryRun) {
          step('finding free blocks');
          await fs.trim();
        }
        await umount();
        umounted = true;
        const zeroed = options.zeroFree && !options.dryRun ? await zeroFree(work, disk, progress) : 0;
        result = { consoleNotes, where: located.where, fsKind: located.superblock.kind, installed: changed, node: nodeInfo.node, sysprep, stamp, warnings, zeroedBytes: zeroed, ...(root instanceof DryRunRoot ? { changes: root.changes } : {}) };
      } finally {
        if (!umounted) await umount().catch(() => undefined);
      }
      await disk.flush();
    } finally {
      disk.close();
    }
    if (!options.dryRun && work !== options.input) {
      if (outKind === 'raw') await rename(work, output);
      else {
        step(`compressing (${outKind})`);
        const tmpOut = `${work}.${outKind}`;
        temps.push(tmpOut);
        await compress(work, outKind, tmpOut, basename(output).replace(/\.zip$/u, ''), progress);
        await rename(tmpOut, output);
      }
    }
    return { output: options.dryRun ? '(dry run: nothing written)' : output, durationMs: Date.now() - t0, ...result };
  } catch (error) {
    throw outOfRoom(error, output);
  } finally {
    for (const t of temps) await rm(t, { force: true }).catch(() => undefined);
  }
}

