// `vmctx bake`: puts the agent into an ext2/3/4 image (raw, .gz, .bz2, .zip; whole file system or a
// partition) without root, mount or VM: libext2fs in WebAssembly behind the Root interface.
// The input is never written (unless --in-place): the work happens on a temporary copy next to
// the output, renamed into place only when everything succeeded; a failure removes it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, openSync, closeSync, ftruncateSync, statSync, statfsSync, writeSync, readSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { VmctxError, describeError, errnoCode } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';
import { CONFIG_PATH, CONFIG_TEMPLATE } from '../shared/layout.js';
import { DryRunRoot, type PlannedChange } from '../host/dryrun.js';
import type { Root } from '../host/root.js';
import { HostExec } from '../host/exec.js';
import { FileDisk } from './disk.js';
import { NOT_AN_IMAGE, checkComplete, checkWritable, declaredImageSize, locateFileSystem, type Located } from './extimage.js';
import type { ProgressSink } from './progress.js';
import { ImageRoot, type ExtFs } from './imageroot.js';
import { installCommand, runInImage, runPrerequisites } from './chroot.js';
import { addDiskAliases, addHooks, addTemplate, readHooksDir, readTemplateSpec } from './authoring.js';
import { installAgent, LAUNCHER_PATH, NODE_PATH } from './install.js';
import { SYSPREP_STEPS } from './sysprep.js';

export type Compression = 'raw' | 'gz' | 'bz2' | 'zip';

export interface BakeOptions {
  readonly input: string;
  readonly output?: string | undefined;
  readonly inPlace: boolean;
  readonly partition?: number | undefined;
  readonly bundle: Buffer;
  /** A Node binary to ship; "system" to use the image's /usr/bin/node; undefined: decide. */
  readonly node?: { readonly binary: Buffer; readonly source: string } | 'system' | undefined;
  readonly sysprep: boolean;
  /** Sysprep steps turned off by name. */
  readonly skip: readonly string[];
  readonly stamp: Readonly<Partial<Record<'image_name' | 'image_version' | 'recipe_name' | 'image_arch', string>>>;
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
  readonly node: { readonly kind: 'image' | 'host' | 'given'; readonly path: string; readonly from?: string; readonly version?: string; readonly bytes?: number };
  readonly zeroedBytes: number;
  readonly durationMs: number;
}

const RC_LOCAL_LINE = `${LAUNCHER_PATH} run --stage all || true`;
const RC_LOCAL_MARK = '# vmctx: apply the VM context';

export function detectCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gz';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bz2';
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return 'zip';
  return 'raw';
}

/** The compression of an image file, from its first bytes. */
export function imageCompression(path: string): Compression {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return detectCompression(head);
}

function defaultOutput(input: string, compression: Compression, outKind: Compression): string {
  const ext = compression === 'raw' ? '' : `.${compression}`;
  const outExt = outKind === 'raw' ? '' : `.${outKind}`;
  const base = ext !== '' && input.endsWith(ext) ? input.slice(0, -ext.length) : input;
  const dot = basename(base).lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, base.length - (basename(base).length - dot)) : base;
  const suffix = dot > 0 ? basename(base).slice(dot) : '';
  return `${stem}-vmctx${suffix}${outExt}`;
}

const host = new HostExec();
const which = (name: string): Promise<string | undefined> => host.which(name);

const ZERO_BLOCK = Buffer.alloc(64 * 1024);
/** How much of a decompressed stream is looked at before anything is written. */
const HEAD_BYTES = 64 * 1024;
/** Room left on the output's disk, whatever the image needs. */
const FREE_MARGIN = 1024 * 1024;

/** Thrown by the writer when the stream goes on past the image's declared end (it stops reading there). */
class ReachedDeclaredEnd extends Error {}

function freeBytesAt(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

function noRoom(dir: string, free: number): VmctxError {
  return new VmctxError('ERR_IO', `not enough free space in ${dir} for the image (${Math.floor(free / 1048576)} MiB free); make room or write elsewhere with -o — nothing was written`, { details: { dir, free } });
}

/**
 * A writable that keeps all-zero blocks as holes, so a decompressed image stays sparse. It looks
 * at the first 64 KiB before writing anything: no ext superblock and no partition table there is
 * an error at once (a bomb of repeated bytes is never inflated), and the stream is cut at the size
 * the image declares and stopped when it would fill the output's disk.
 */
class SparseWriter extends Writable {
  readonly #fd: number;
  readonly #dir: string;
  readonly #free: number;
  readonly #report: ((done: number, total: number | undefined) => void) | undefined;
  #head: Buffer[] = [];
  #headLength = 0;
  #limit: number | undefined;
  #pos = 0;
  #allocated = 0;
  constructor(path: string, report?: (done: number, total: number | undefined) => void) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.#dir = dirname(path);
    this.#free = freeBytesAt(this.#dir);
    this.#report = report;
    this.#fd = openSync(path, 'w', 0o600);
  }
  /** Bytes the stream produced that were kept (holes included). */
  get written(): number {
    return this.#pos;
  }
  #inspect(): void {
    const head = Buffer.concat(this.#head);
    const declared = declaredImageSize(head);
    if (declared === undefined) throw new VmctxError('ERR_IMAGE', `${NOT_AN_IMAGE} (in the first ${Math.round(head.length / 1024)} KiB; nothing more was read)`);
    this.#limit = declared.bytes;
    this.#head = [];
    this.#emit(head);
  }
  #emit(data: Buffer): void {
    const limit = this.#limit ?? Number.POSITIVE_INFINITY;
    const chunk = this.#pos + data.length > limit ? data.subarray(0, Math.max(0, limit - this.#pos)) : data;
    const block = 64 * 1024;
    for (let off = 0; off < chunk.length; off += block) {
      const part = chunk.subarray(off, Math.min(off + block, chunk.length));
      if (!part.equals(ZERO_BLOCK.subarray(0, part.length))) {
        if (this.#allocated + part.length > this.#free - FREE_MARGIN) throw noRoom(this.#dir, this.#free);
        let done = 0;
        while (done < part.length) done += writeSync(this.#fd, part, done, part.length - done, this.#pos + done);
        this.#allocated += part.length;
      }
      this.#pos += part.length;
    }
    this.#report?.(this.#pos, this.#limit);
    if (chunk.length < data.length) {
      ftruncateSync(this.#fd, this.#pos);
      throw new ReachedDeclaredEnd();
    }
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    try {
      if (this.#limit !== undefined) this.#emit(chunk);
      else {
        this.#head.push(chunk);
        this.#headLength += chunk.length;
        if (this.#headLength >= HEAD_BYTES) this.#inspect();
      }
      cb();
    } catch (error) {
      cb(error as Error);
    }
  }
  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    try {
      closeSync(this.#fd);
    } catch {
      // closed by _final already
    }
    cb(error);
  }
  override _final(cb: (error?: Error | null) => void): void {
    try {
      if (this.#limit === undefined) this.#inspect();
      ftruncateSync(this.#fd, this.#pos);
      cb();
    } catch (error) {
      cb(error as Error);
    }
  }
}

/** Reads a file as a stream, reporting how much of it has been read. */
function meteredRead(path: string, total: number, label: string, progress: ProgressSink | undefined): Readable {
  const stream = createReadStream(path);
  if (progress === undefined) return stream;
  let done = 0;
  stream.on('data', (chunk: Buffer | string) => {
    done += chunk.length;
    progress.bytes(label, done, total);
  });
  return stream;
}

/** Runs a tool with argv only, its stdout piped into `sink`; stderr kept for the error. */
async function toolStream(program: string, args: readonly string[], sink: Writable, input?: Readable): Promise<void> {
  const child = spawn(program, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (input !== undefined) void pipeline(input, child.stdin).catch(() => undefined);
  else child.stdin.end();
  try {
    await pipeline(child.stdout, sink);
  } catch (error) {
    // the sink refused (not an image, the declared end, no room): the tool is stopped, not waited for
    child.kill('SIGKILL');
    input?.destroy();
    await exited.catch(() => undefined);
    throw error;
  }
  const code = await exited;
  if (code !== 0) throw new VmctxError('ERR_IMAGE', `${basename(program)} ${args.join(' ')} exited with ${code ?? '?'}: ${stderr.trim().slice(0, 300)}`);
}

/** unzip takes names as patterns: each wildcard character is put in brackets to stand for itself. */
function zipPattern(name: string): string {
  return name.replace(/[*?[\]]/gu, (c) => `[${c}]`);
}

/** The entries of a zip (names, directories left out), read with zipinfo/unzip -Z1. */
async function zipEntries(input: string): Promise<string[]> {
  const unzip = await which('unzip');
  if (unzip === undefined) throw new VmctxError('ERR_IMAGE', 'a .zip image needs unzip installed');
  const chunks: Buffer[] = [];
  await toolStream(unzip, ['-Z1', '--', input], new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks).toString('utf8').split('\n').filter((n) => n !== '' && !n.endsWith('/'));
}

export interface DecompressOptions {
  readonly progress?: ProgressSink | undefined;
  /** The entry of a .zip holding the image (required when the zip has several). */
  readonly zipEntry?: string | undefined;
}

/**
 * Decompresses (or copies) an image into a sparse raw file, checking it is an image from its first
 * bytes and stopping at its declared end or when the disk would fill. Returns warnings.
 */
export async function decompressTo(input: string, kind: Compression, dest: string, options: DecompressOptions = {}): Promise<string[]> {
  const progress = options.progress;
  if (kind === 'raw') {
    // checked before a byte is copied: an image, and room for it (its allocated blocks: cp keeps holes)
    const head = Buffer.alloc(HEAD_BYTES);
    const fd = openSync(input, 'r');
    try {
      readSync(fd, head, 0, HEAD_BYTES, 0);
    } finally {
      closeSync(fd);
    }
    if (declaredImageSize(head) === undefined) throw new VmctxError('ERR_IMAGE', NOT_AN_IMAGE);
    const st = statSync(input);
    const free = freeBytesAt(dirname(dest));
    if (Math.min(st.size, st.blocks * 512) > free - FREE_MARGIN) throw noRoom(dirname(dest), free);
    const label = 'copying the image (sparse)';
    progress?.step(label);
    // cp writes in order: how far the copy got is the size of what it wrote so far
    const meter = progress === undefined ? undefined : setInterval(() => {
      const size = statSync(dest, { throwIfNoEntry: false })?.size;
      if (size !== undefined && size < st.size) progress.bytes(label, size, st.size);
    }, 200);
    try {
      // cp keeps holes (SEEK_HOLE) and clones where the file system can
      await toolStream('cp', ['--sparse=always', '--reflink=auto', '--', input, dest], new Writable({ write: (_c, _e, cb) => { cb(); } }));
    } finally {
      clearInterval(meter);
    }
    progress?.bytes(label, st.size, st.size);
    return [];
  }
  const label = `decompressing (${kind})`;
  progress?.step(label);
  const sink = new SparseWriter(dest, progress === undefined ? undefined : (done, total) => {
    progress.bytes(label, done, total);
  });
  try {
    if (kind === 'gz') {
      const pigz = await which('pigz');
      if (pigz !== undefined) await toolStream(pigz, ['-dc'], sink, createReadStream(input));
      else await pipeline(createReadStream(input), createGunzip(), sink);
    } else if (kind === 'bz2') {
      const tool = (await which('lbzip2')) ?? (await which('bzip2'));
      if (tool === undefined) throw new VmctxError('ERR_IMAGE', 'a .bz2 image needs lbzip2 or bzip2 installed');
      await toolStream(tool, ['-dc'], sink, createReadStream(input));
    } else {
      const entries = await zipEntries(input);
      let entry = options.zipEntry;
      if (entry === undefined) {
        if (entries.length > 1) throw new VmctxError('ERR_USAGE', `the zip holds ${entries.length} entries (${entries.slice(0, 20).join(', ')}${entries.length > 20 ? ', …' : ''}); name the image with --zip-entry NAME`);
        entry = entries[0];
        if (entry === undefined) throw new VmctxError('ERR_IMAGE', 'the zip holds no file');
      } else if (!entries.includes(entry)) {
        throw new VmctxError('ERR_USAGE', `--zip-entry ${entry}: no such entry in the zip (entries: ${entries.slice(0, 20).join(', ')}${entries.length > 20 ? ', …' : ''})`);
      }
      const unzip = await which('unzip');
      if (unzip === undefined) throw new VmctxError('ERR_IMAGE', 'a .zip image needs unzip installed');
      await toolStream(unzip, ['-p', '--', input, zipPattern(entry)], sink);
    }
  } catch (error) {
    if (error instanceof ReachedDeclaredEnd) return [`the decompressed image goes on past its declared size (${sink.written} bytes); the rest was not read`];
    throw error;
  }
  return [];
}

async function compress(raw: string, kind: Compression, dest: string, nameInZip: string, progress?: ProgressSink): Promise<void> {
  const source = (): Readable => meteredRead(raw, statSync(raw).size, `compressing (${kind})`, progress);
  if (kind === 'gz') {
    const pigz = await which('pigz');
    if (pigz !== undefined) await toolStream(pigz, ['-c'], createWriteStream(dest, { mode: 0o644 }), source());
    else await pipeline(source(), createGzip({ level: 6 }), createWriteStream(dest, { mode: 0o644 }));
  } else if (kind === 'bz2') {
    const tool = (await which('lbzip2')) ?? (await which('bzip2'));
    if (tool === undefined) throw new VmctxError('ERR_IMAGE', 'writing .bz2 needs lbzip2 or bzip2 installed');
    await toolStream(tool, ['-c'], createWriteStream(dest, { mode: 0o644 }), source());
  } else if (kind === 'zip') {
    const zip = await which('zip');
    if (zip === undefined) throw new VmctxError('ERR_IMAGE', 'writing .zip needs zip installed');
    // zip reads the entry from stdin (-) and names it with -fz-/the rename below is not possible,
    // so the raw file is linked under the wanted name in a private directory first
    const dir = `${dest}.d`;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    try {
      await link(raw, join(dir, nameInZip));
      await toolStream(zip, ['-q', '-j', '-', join(dir, nameInZip)], createWriteStream(dest, { mode: 0o644 }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** glibc version of the image ("2.36"), or why it could not be found. */
async function imageLibc(root: Root): Promise<{ version?: string; musl?: boolean }> {
  for (const dir of ['/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib/aarch64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib']) {
    const names = (await root.readdir(dir)) ?? [];
    if (names.some((n) => n.startsWith('ld-musl'))) return { musl: true };
    const legacy = names.map((n) => /^libc-(\d+\.\d+)\.so$/u.exec(n)?.[1]).find((v) => v !== undefined);
    if (legacy !== undefined) return { version: legacy };
    if (names.includes('libc.so.6')) {
      const data = await root.readFile(`${dir}/libc.so.6`, { maxBytes: 16 * 1024 * 1024 }).catch(() => undefined);
      const m = data === undefined ? null : /GNU C Library [^\n]*?version (\d+\.\d+)/u.exec(data.toString('latin1'));
      if (m?.[1] !== undefined) return { version: m[1] };
    }
  }
  return {};
}

const ELF_MACHINES: Readonly<Record<number, string>> = { 0x03: 'i386', 0x28: 'armhf', 0x3e: 'x86_64', 0xb7: 'aarch64', 0xf3: 'riscv64' };
const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386', arm: 'armhf', riscv64: 'riscv64' };

/** The image's architecture, from the ELF header of its /bin/sh (links followed inside the image). */
async function imageArch(root: Root): Promise<string | undefined> {
  const elf = await root.readFile('/bin/sh', { maxBytes: 64 * 1024 * 1024 }).catch(() => undefined);
  if (elf === undefined || elf.length < 20 || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const machine = elf[5] === 2 ? elf.readUInt16BE(18) : elf.readUInt16LE(18);
  return ELF_MACHINES[machine];
}

/** What the running Node needs: glibc 2.28 for Node 18-22's official builds. */
const NODE_MIN_GLIBC = [2, 28] as const;

async function chooseNode(root: Root, options: BakeOptions, warnings: string[], arch: string | undefined): Promise<{ binary: Buffer } | { system: string }> {
  if (options.node === 'system') return { system: '/usr/bin/node' };
  if (options.node !== undefined) return { binary: options.node.binary };
  const own = await root.lstat('/usr/bin/node');
  if (own !== undefined) {
    warnings.push('the image has /usr/bin/node; vmctx uses it (vmctx needs Node 18 or later: --node PATH ships another)');
    return { system: '/usr/bin/node' };
  }
  const hostArch = NODE_ARCH[process.arch] ?? process.arch;
  if (arch !== undefined && arch !== hostArch) throw new VmctxError('ERR_IMAGE', `the image is ${arch} and the running Node is ${hostArch}; give a Node binary for ${arch} with --node PATH (or install nodejs in the image)`);
  const libc = await imageLibc(root);
  if (libc.musl === true) throw new VmctxError('ERR_IMAGE', 'the image uses musl libc and has no /usr/bin/node; give a musl build of Node with --node PATH (or install nodejs in the image)');
  if (libc.version === undefined) throw new VmctxError('ERR_IMAGE', 'cannot tell the image\'s C library version and it has no /usr/bin/node; give a Node binary that runs there with --node PATH');
  const [major = 0, minor = 0] = libc.version.split('.').map(Number);
  if (major < NODE_MIN_GLIBC[0] || (major === NODE_MIN_GLIBC[0] && minor < NODE_MIN_GLIBC[1])) {
    throw new VmctxError('ERR_IMAGE', `the image has glibc ${libc.version}; the running Node (${process.version}) needs glibc ${NODE_MIN_GLIBC.join('.')} or later. Give a Node built for older systems with --node PATH`);
  }
  return { binary: await readFile(process.execPath) };
}

function stampId(): string {
  const hex = randomBytes(4).toString('hex');
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

function dateStamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

const STAMP_VALUE = /^[A-Za-z0-9._+:@-]{1,128}$/u;

/** /etc/image-id in the Eucalyptus format (key=value lines). */
export function renderImageId(fields: Readonly<Record<string, string>>): string {
  return `${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

async function installRcLocal(root: Root): Promise<boolean> {
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

export interface Ext2fsLib {
  mount(disk: unknown, offset: number): Promise<{ promises: ExtFs }>;
  umount(fs: unknown): Promise<void>;
}

/** The ext2fs library (CommonJS: its functions sit on the module or on its default export). */
export async function loadExt2fs(): Promise<Ext2fsLib> {
  const imported = (await import('ext2fs')) as Partial<Ext2fsLib> & { default?: Ext2fsLib };
  if (typeof imported.mount === 'function' && typeof imported.umount === 'function') return { mount: imported.mount, umount: imported.umount };
  if (imported.default !== undefined) return imported.default;
  throw new VmctxError('ERR_IMAGE', 'the ext2fs library did not load');
}

export async function mountImage(disk: FileDisk, located: Located): Promise<{ fs: ExtFs; umount(): Promise<void> }> {
  const ext2fs = await loadExt2fs();
  let mounted;
  try {
    mounted = await ext2fs.mount(disk, located.offset);
  } catch (error) {
    throw new VmctxError('ERR_IMAGE', `libext2fs cannot open the file system (${located.where}): ${describeError(error).message.slice(0, 200)}`, { cause: error });
  }
  return { fs: mounted.promises, umount: () => ext2fs.umount(mounted) };
}

/** Punches holes where the file system said blocks are free (zeroes them when that fails). */
async function zeroFree(path: string, disk: FileDisk, progress: ProgressSink | undefined): Promise<number> {
  const fallocate = await which('fallocate');
  let bytes = 0;
  const total = disk.discarded.reduce((sum, [, length]) => sum + length, 0);
  progress?.step('zeroing free blocks');
  // the ranges are absolute already: ext2fs adds the partition offset before calling discard
  for (const [abs, length] of disk.discarded) {
    bytes += length;
    if (fallocate !== undefined) {
      const r = await new Promise<number | null>((resolve) => {
        const c = spawn(fallocate, ['--punch-hole', '--keep-size', '--offset', String(abs), '--length', String(length), path], { stdio: 'ignore' });
        c.on('close', resolve);
        c.on('error', () => {
          resolve(1);
        });
      });
      if (r !== 0) disk.zero(abs, length);
    } else disk.zero(abs, length);
    progress?.bytes('zeroing free blocks', bytes, total);
  }
  return bytes;
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

/** The input is there and a file: a missing one is a usage error, named without errno noise. */
export function checkInput(input: string): void {
  let st;
  try {
    st = statSync(input);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') throw new VmctxError('ERR_USAGE', `${input}: no such file`);
    if (code === 'EACCES') throw new VmctxError('ERR_USAGE', `${input}: permission denied`);
    throw error;
  }
  if (!st.isFile() && !st.isBlockDevice()) throw new VmctxError('ERR_IMAGE', `${input}: ${NOT_AN_IMAGE} (not a regular file)`);
}

/** A full disk during the work, said plainly (no temporary file names). */
function outOfRoom(error: unknown, output: string): unknown {
  if (errnoCode(error) !== 'ENOSPC') return error;
  return new VmctxError('ERR_IO', `no space left on the disk holding ${dirname(output)}; nothing was written`, { cause: error });
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
  if (!options.inPlace && output === options.input) throw new VmctxError('ERR_USAGE', 'the output would overwrite the input; use --in-place for that');
  const work = options.inPlace || options.dryRun && inKind === 'raw' ? options.input : join(dirname(output), `.${basename(output)}.vmctx-${process.pid}-${randomBytes(3).toString('hex')}.raw`);
  const temps: string[] = work === options.input ? [] : [work];
  // what the author adds is read and checked before the image is touched
  const hooks = options.scripts === undefined ? [] : await readHooksDir(options.scripts);
  const templates = await Promise.all((options.templates ?? []).map(readTemplateSpec));
  try {
    if (work !== options.input) warnings.push(...(await decompressTo(options.input, inKind, work, { progress, zipEntry: options.zipEntry })));
    if (commands.length > 0) {
      // the commands first: what they install (a distribution's nodejs, say) is there when vmctx goes in
      const probe = FileDisk.open(work, 'overlay');
      let where: Located;
      try {
        where = locateFileSystem(probe, options.partition);
        checkComplete(where, probe.size);
        warnings.push(...checkWritable(where.superblock, options.force));
      } finally {
        probe.close();
      }
      step(`running ${commands.length} command(s) in a chroot of the image`);
      const status = await runInImage({ image: work, offset: where.offset, commands, timeoutSeconds: options.runTimeoutSeconds ?? 1800, output: options.runOutput ?? ((c) => process.stderr.write(c)) });
      if (status !== 0) {
        throw new VmctxError('ERR_RUN_FAILED', `a command in the image ${status === 124 ? 'did not finish in time and was killed' : `exited with ${status}`}; ${work === options.input ? 'the image keeps what it did before failing' : 'nothing was written'}`);
      }
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
        const node = await chooseNode(image, options, warnings, arch);
        const sb = located.superblock;
        const needed = options.bundle.length + ('binary' in node ? node.binary.length : 0) + 1024 * 1024;
        const free = sb.freeBlocks * sb.blockSize;
        if (needed > free) throw new VmctxError('ERR_IO', `the image's file system is full: vmctx needs about ${Math.ceil(needed / 1048576)} MiB and ${Math.floor(free / 1048576)} MiB are free; grow it first (resize2fs) — nothing was changed`);
        // cleaning comes first: nothing it removes (a /tmp that a link of the image points into) can take what vmctx installs
        const sysprep: Array<{ step: string; actions: string[] }> = [];
        if (options.sysprep) {
          const unknown = options.skip.filter((s) => !SYSPREP_STEPS.some((x) => x.id === s));
          if (unknown.length > 0) throw new VmctxError('ERR_USAGE', `unknown sysprep step(s): ${unknown.join(', ')} (steps: ${SYSPREP_STEPS.map((s) => s.id).join(', ')})`);
          for (const sysprepStep of SYSPREP_STEPS) {
            if (options.skip.includes(sysprepStep.id)) continue;
            step(`sysprep: ${sysprepStep.id}`);
            // in a dry run the disk is an in-memory overlay: the steps run for real on it and say what they did
            sysprep.push({ step: sysprepStep.id, actions: await sysprepStep.run(image) });
          }
        }
        const nodeInfo = describeNode(node, options);
        step(nodeInfo.line);
        step('installing vmctx');
        const installed = await installAgent(root, { bundle: options.bundle, node });
        const changed = [...installed.changed];
        if (installed.initSystem !== 'systemd' && (await installRcLocal(root))) changed.push('/etc/rc.local');
        const configDir = await image.lstat('/etc/vmctx');
        if (configDir?.type === 'symlink' && configDir.linkTarget !== undefined) {
          const target = posix.resolve('/etc', configDir.linkTarget);
          const emptied = EMPTIED_AT_BOOT.find((d) => target === d || target.startsWith(`${d}/`));
          if (emptied !== undefined) warnings.push(`/etc/vmctx is a link to ${target}, inside ${emptied}, which is emptied at boot: vmctx's config and hooks there will be lost; make /etc/vmctx a directory`);
        }
        if ((await root.lstat(CONFIG_PATH)) === undefined) {
          await root.writeFile(CONFIG_PATH, CONFIG_TEMPLATE, { mode: 0o644 });
          changed.push(CONFIG_PATH);
        }
        changed.push(...(await addHooks(root, hooks)));
        for (const t of templates) changed.push(await addTemplate(root, t));
        if (options.udevAliases === true) changed.push(...(await addDiskAliases(root)));
        const now = new Date();
        const stamp: Record<string, string> = {
          image_name: options.stamp.image_name ?? basename(options.input).replace(/\.(gz|bz2|zip)$/u, '').replace(/\.(img|raw|ext[234])$/u, ''),
          image_version: options.stamp.image_version ?? '1',
          image_arch: options.stamp.image_arch ?? arch ?? NODE_ARCH[process.arch] ?? process.arch,
          image_file: basename(output),
          image_stamp: stampId(),
          image_date: dateStamp(now),
          recipe_name: options.stamp.recipe_name ?? 'vmctx-bake',
          vmctx_version: VERSION,
        };
        for (const [k, v] of Object.entries(stamp)) {
          if (!STAMP_VALUE.test(v)) throw new VmctxError('ERR_USAGE', `${k}=${JSON.stringify(v.slice(0, 40))}: letters, digits and . _ + : @ - only`);
        }
        await root.writeFile('/etc/image-id', renderImageId(stamp), { mode: 0o644 });
        changed.push('/etc/image-id');
        if (options.zeroFree && !options.dryRun) {
          step('finding free blocks');
          await fs.trim();
        }
        await umount();
        umounted = true;
        const zeroed = options.zeroFree && !options.dryRun ? await zeroFree(work, disk, progress) : 0;
        result = { where: located.where, fsKind: located.superblock.kind, installed: changed, node: nodeInfo.node, sysprep, stamp, warnings, zeroedBytes: zeroed, ...(root instanceof DryRunRoot ? { changes: root.changes } : {}) };
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

/** Which Node the image gets, for the result and a line of progress. */
function describeNode(node: { binary: Buffer } | { system: string }, options: BakeOptions): { node: BakeResult['node']; line: string } {
  if ('system' in node) return { node: { kind: 'image', path: node.system }, line: `using the image's own Node (${node.system})` };
  const mib = (node.binary.length / 1048576).toFixed(1);
  if (options.node !== undefined && options.node !== 'system') return { node: { kind: 'given', path: NODE_PATH, from: options.node.source, bytes: node.binary.length }, line: `shipping the Node binary ${options.node.source} (${mib} MiB) as ${NODE_PATH}` };
  return { node: { kind: 'host', path: NODE_PATH, from: process.execPath, version: process.version, bytes: node.binary.length }, line: `the image has no /usr/bin/node: shipping this host's Node ${process.version} (${mib} MiB) as ${NODE_PATH}` };
}
