// `vmctx bake IMAGE --run CMD` / `--install PKG…`: the seed documents' "loop-mount the image, bind
// /proc, /sys, /dev, chroot, apt-get/yum, clean up, unmount" as one flag.
//
// Everything happens in a private mount namespace (unshare --mount): the loop mount (autoclear, so
// the loop device goes with it), the binds and the borrowed resolv.conf exist only there, and
// vanish with the namespace however the run ends — a failing command, a timeout, SIGTERM, even
// SIGKILL of the process group. The user's command reaches the chroot's /bin/sh as one argv
// element; the helper script below is fixed text and never built from data.
import { existsSync } from 'node:fs';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostExec, streamProcess } from '../host/exec.js';
import { VmctxError } from '../shared/errors.js';
import { onInterrupt } from '../shared/interrupt.js';
import { FileDisk } from './disk.js';
import { checkComplete, checkWritable, locateFileSystem, type Located } from './extimage.js';

/** How long `losetup -j` may take to list the loop devices. */
const LOSETUP_DEADLINE_MS = 10_000;
/** Beyond the commands' own time: mounting, cleaning the package caches (up to 300 s), unmounting. */
const SETUP_DEADLINE_MS = 600_000;
/** What the helper exits with when a command ran out of time (timeout(1)'s status), and so do we when the whole run does. */
const TIMED_OUT = 124;

/** A package name as apt and dnf take it (no options, no shell). */
const PACKAGE = /^[A-Za-z0-9][A-Za-z0-9.+:~_@-]{0,127}$/u;

/**
 * Runs inside the new mount namespace as root. $1 image, $2 byte offset, $3 mount point, $4
 * timeout in seconds, then the commands, each one argument. The image's own resolv.conf is never
 * changed: a regular file gets the host's bind-mounted over it; a symlink or no file gets a tmpfs
 * over /run and /etc/resolv.conf's target created there, or, with no /etc/resolv.conf at all, an
 * empty placeholder that is removed afterwards.
 */
const HELPER = `set -u
img=$1; off=$2; mnt=$3; limit=$4; shift 4
# this shell is PID 1 of a PID namespace of its own: when it ends, the kernel ends every process
# left in it (whatever process group or session they made), and the mounts go with the namespace.
# vmctx holds our stdin open; when vmctx ends, even by SIGKILL, the read ends, every process here
# but this shell is killed (init ignores it from inside), and this shell cleans up and ends.
# (an asynchronous list's stdin is /dev/null: the pipe goes in on fd 3)
exec 3<&0
( cat <&3 >/dev/null 2>&1; kill -9 -1 ) &
exec 3<&-
watchdog=$!
mount --make-rprivate / 2>/dev/null
mount -o loop,offset="$off" "$img" "$mnt" || { echo "vmctx: cannot loop-mount the image" >&2; exit 90; }
for d in proc sys dev; do [ -d "$mnt/$d" ] || { echo "vmctx: the image has no /$d directory" >&2; exit 91; }; done
mount -t proc proc "$mnt/proc" && mount --rbind /sys "$mnt/sys" && mount --rbind /dev "$mnt/dev" || { echo "vmctx: cannot bind /proc, /sys, /dev" >&2; exit 92; }
[ -d "$mnt/dev/pts" ] && mount --bind /dev/pts "$mnt/dev/pts" 2>/dev/null
placeholder=
if [ -L "$mnt/etc/resolv.conf" ]; then
  mount -t tmpfs -o mode=0755 tmpfs "$mnt/run"
  target=$(readlink "$mnt/etc/resolv.conf")
  case "$target" in
    /run/*|../run/*) rel=\${target#/}; rel=\${rel#../}; mkdir -p "$mnt/$(dirname "$rel")"; cat /etc/resolv.conf > "$mnt/$rel" ;;
    *) echo "vmctx: warning: /etc/resolv.conf points at $target; the command runs without a borrowed one" >&2 ;;
  esac
elif [ -f "$mnt/etc/resolv.conf" ]; then
  mount --bind /etc/resolv.conf "$mnt/etc/resolv.conf"
elif [ ! -e "$mnt/etc/resolv.conf" ] && [ -d "$mnt/etc" ]; then
  : > "$mnt/etc/resolv.conf" && placeholder=1 && mount --bind /etc/resolv.conf "$mnt/etc/resolv.conf"
fi
status=0
for cmd in "$@"; do
  echo "vmctx: running in the image: $cmd" >&2
  timeout --kill-after=10 "$limit" chroot "$mnt" /bin/sh -c "$cmd" </dev/null
  status=$?
  [ $status -eq 0 ] || break
done
if [ $status -eq 0 ]; then
  if [ -x "$mnt/usr/bin/apt-get" ]; then timeout 300 chroot "$mnt" apt-get clean </dev/null; fi
  if [ -x "$mnt/usr/bin/dnf" ]; then timeout 300 chroot "$mnt" dnf clean all </dev/null >/dev/null 2>&1;
  elif [ -x "$mnt/usr/bin/yum" ]; then timeout 300 chroot "$mnt" yum clean all </dev/null >/dev/null 2>&1; fi
fi
# leave the image as found (processes the command left behind end with this namespace)
if [ -n "$placeholder" ]; then umount "$mnt/etc/resolv.conf" 2>/dev/null; rm -f "$mnt/etc/resolv.conf"; fi
umount -R -l "$mnt" 2>/dev/null
kill "$watchdog" 2>/dev/null
exit $status
`;

export interface RunInImageOptions {
  /** The raw image file (the work copy bake made, or the image itself with --in-place). */
  readonly image: string;
  /** Byte offset of the file system (a partition). */
  readonly offset: number;
  readonly commands: readonly string[];
  readonly timeoutSeconds: number;
  /** Where the command's output goes (streamed). */
  readonly output: (chunk: Buffer) => void;
}

/** The --install packages as one command for whichever package manager the image has. */
export function installCommand(packages: readonly string[]): string {
  for (const p of packages) if (!PACKAGE.test(p)) throw new VmctxError('ERR_USAGE', `--install ${JSON.stringify(p.slice(0, 40))}: not a package name`);
  // the names were checked above (letters, digits and . + : ~ _ @ - only): no quoting is needed
  const names = packages.join(' ');
  return `if command -v apt-get >/dev/null 2>&1; then export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends ${names}; `
    + `elif command -v dnf >/dev/null 2>&1; then dnf install -y ${names}; elif command -v yum >/dev/null 2>&1; then yum install -y ${names}; `
    + `else echo "vmctx: the image has no apt-get, dnf or yum" >&2; exit 127; fi`;
}

/** Says what is missing for --run (root, loop devices, the tools), or nothing. */
export async function runPrerequisites(image: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'it needs root (loop devices, mount, chroot); run it as root, or bake without --run/--install';
  if (!existsSync('/dev/loop-control')) return 'this system has no loop devices (/dev/loop-control)';
  const exec = new HostExec();
  for (const tool of ['unshare', 'mount', 'umount', 'chroot', 'timeout', 'losetup']) if ((await exec.which(tool)) === undefined) return `${tool} is not installed`;
  const losetup = (await exec.which('losetup')) ?? 'losetup';
  const attached = (await exec.run(losetup, ['-j', image], { timeoutMs: LOSETUP_DEADLINE_MS })).stdout.trim();
  if (attached !== '') return `the image is attached to a loop device already (${attached.split(':')[0] ?? ''}): it is in use elsewhere; unmount and detach it first`;
  return undefined;
}

/**
 * Runs the commands in a chroot of the image; resolves with their exit status (0: all ran; 124:
 * one ran out of its time, or the whole run out of its deadline — every command's time, plus
 * SETUP_DEADLINE_MS — and was killed).
 */
export async function runInImage(options: RunInImageOptions): Promise<number> {
  const mnt = await mkdtemp(join(tmpdir(), 'vmctx-bake-mnt-'));
  // SIGINT/SIGTERM to vmctx: the namespace's processes are killed, the mounts go with it
  const stop = new AbortController();
  const forwarding = onInterrupt(() => {
    stop.abort();
  });
  try {
    let code: number;
    try {
      const r = await streamProcess('unshare', ['--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child=SIGKILL', '--', '/bin/sh', '-c', HELPER, 'vmctx-run', options.image, String(options.offset), mnt, String(options.timeoutSeconds), ...options.commands], {
        timeoutMs: options.commands.length * (options.timeoutSeconds + 10) * 1000 + SETUP_DEADLINE_MS,
        // stdin: a pipe vmctx never writes to; it closes when vmctx ends, however it ends
        stdin: 'hold',
        stdout: options.output,
        stderr: options.output,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
        signal: stop.signal,
      });
      code = r.code ?? (r.signal === null ? 1 : 128);
    } catch (error) {
      if (error instanceof VmctxError && error.code === 'ERR_EXEC_TIMEOUT') return TIMED_OUT;
      throw error;
    }
    if (code >= 90 && code <= 92) throw new VmctxError('ERR_IMAGE', 'the image could not be prepared for --run (see the lines above); nothing ran');
    return code;
  } finally {
    forwarding();
    // rmdir, never rm -r: were anything still mounted there, it would not be deleted through
    await rmdir(mnt).catch(() => undefined);
  }
}

export interface CommandsInImageOptions {
  readonly partition?: number | undefined;
  readonly force: boolean;
  readonly commands: readonly string[];
  readonly timeoutSeconds: number;
  readonly output: (chunk: Buffer) => void;
  /** The work is on the input itself (--in-place): a failure leaves what the commands did. */
  readonly inPlace: boolean;
}

/** bake's --run/--install: finds the file system on the raw image, runs the commands there; returns warnings, throws ERR_RUN_FAILED when one failed. */
export async function runCommandsInImage(image: string, options: CommandsInImageOptions): Promise<string[]> {
  const probe = FileDisk.open(image, 'overlay');
  let where: Located;
  let warnings: string[];
  try {
    where = locateFileSystem(probe, options.partition);
    checkComplete(where, probe.size);
    warnings = checkWritable(where.superblock, options.force);
  } finally {
    probe.close();
  }
  const status = await runInImage({ image, offset: where.offset, commands: options.commands, timeoutSeconds: options.timeoutSeconds, output: options.output });
  if (status !== 0) {
    throw new VmctxError('ERR_RUN_FAILED', `a command in the image ${status === TIMED_OUT ? 'did not finish in time and was killed' : `exited with ${status}`}; ${options.inPlace ? 'the image keeps what it did before failing' : 'nothing was written'}`);
  }
  return warnings;
}
