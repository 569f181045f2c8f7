// vmctx command line: parses flags with commander, calls one command, maps errors to exit codes.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { describeError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';
import { bakeCommand, daemonCommand, installCommand, makeIsoCommand, runCommand, serveMetadataCommand, showCommand, sparsecopyCommand, statusCommand, uninstallCommand, validateCommand } from './commands.js';
import { checkMetadataUrl } from '../agent/config.js';
import { EXIT, exitCodeForError, exitCodesHelp } from './exit.js';
import { byteSize, mkdiskCommand, parseSize, type MkdiskFlags } from './disk.js';

function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new InvalidArgumentError('expected milliseconds from 0 to 600000');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 86_400_000) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** The bundle this process runs (also when started through the loader, where argv[1] is load.js). */
function runningBundle(): string {
  return typeof __filename === 'string' && __filename.endsWith('.js') ? __filename : (process.argv[1] ?? '');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const sourceOption = (): Option =>
  new Option('--source <auto|metadata|PATH>', 'auto: context medium, then seeds (cidata, config-2), then HTTP metadata; metadata: only HTTP; or an ISO or vfat image file, block device or directory').default('auto');
const waitOption = (): Option => new Option('--wait-medium <ms>', 'how long to wait for a context CD the system says is still appearing (default 3000, or MEDIUM_WAIT_MS)').argParser(milliseconds);
const metadataUrlOption = (): Option => new Option('--metadata-url <URL>', 'the HTTP metadata service (default http://169.254.169.254, or METADATA_URL)').argParser(metadataUrl);
const metadataBudgetOption = (): Option => new Option('--metadata-budget <ms>', 'total time for the metadata service (default 10000 on a first boot, 3000 later)').argParser(milliseconds);

function metadataUrl(value: string): string {
  const problem = checkMetadataUrl(value);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return value;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vmctx')
    .description('Contextualization agent for virtual machines')
    .version(VERSION)
    .showHelpAfterError()
    .addHelpText('after', exitCodesHelp())
    .exitOverride();

  program
    .command('run')
    .description('apply the context to this system (or to --root)')
    .addOption(sourceOption())
    .option('--root <DIR>', 'apply to this directory instead of the running system', '/')
    .option('--state-dir <DIR>', 'keep run state here (default: <root>/var/lib/vmctx)')
    .addOption(new Option('--stage <stage>', 'which modules to run').choices(['local', 'network', 'final', 'all']).default('all'))
    .option('--dry-run', 'print what would change (with diffs) and change nothing', false)
    .option('--json', 'print the run report as JSON on stdout', false)
    .option('-v, --verbose', 'also print the table of every module on stdout (each module\'s line on stderr is always there, unless -q)', false)
    .option('-q, --quiet', 'no per-module lines on stderr (the result line only when it is not ok)', false)
    .addOption(waitOption())
    .addOption(metadataUrlOption())
    .addOption(metadataBudgetOption())
    .action(async (flags: { source: string; root: string; stateDir?: string; stage: 'local' | 'network' | 'final' | 'all'; dryRun: boolean; json: boolean; verbose: boolean; quiet: boolean; waitMedium?: number; metadataUrl?: string; metadataBudget?: number }) => {
      setExit(await runCommand(flags));
    });

  program
    .command('validate')
    .description('check a context.sh, user-data, meta-data, network-config, or a whole medium or seed (--source), without applying anything; exit 0 when clean, 4 with problems')
    .argument('[FILE...]', 'files to check (context.sh, user-data, meta-data, meta_data.json, network-config)')
    .option('--source <PATH>', 'a context medium or seed: a directory, or an ISO or vfat image')
    .option('--json', 'JSON output', false)
    .option('-v, --verbose', 'also list the names vmctx knows but does not use', false)
    .action(async (files: string[], flags: { source?: string; json: boolean; verbose: boolean }) => {
      setExit(await validateCommand(files, flags));
    });

  program
    .command('show')
    .description('print the parsed context (secrets redacted unless --show-secrets)')
    .addOption(sourceOption())
    .option('--root <DIR>', 'the system whose identity (DMI) is used', '/')
    .option('--json', 'JSON output', false)
    .option('--state-dir <DIR>', 'where the cached metadata is (default: <root>/var/lib/vmctx)')
    .option('--show-secrets', 'print passwords, tokens and user data as they are', false)
    .addOption(waitOption())
    .addOption(metadataUrlOption())
    .addOption(metadataBudgetOption())
    .action(async (flags: { source: string; root: string; stateDir?: string; json: boolean; showSecrets: boolean; waitMedium?: number; metadataUrl?: string; metadataBudget?: number }) => {
      setExit(await showCommand(flags));
    });

  program
    .command('status')
    .description('this boot: each stage that ran (local, network, final) with its result, modules and times')
    .option('--root <DIR>', 'the system to look at', '/')
    .option('--state-dir <DIR>', 'where the run state is kept')
    .option('--long', 'every module of every stage, a timeline (seconds after boot) and the state', false)
    .option('--json', 'JSON output (the boot record, the last report, the state)', false)
    .option('--wait', 'wait until the boot\'s final stage is done (or will not run), then exit with the boot\'s result', false)
    .addOption(new Option('--timeout <SECONDS>', 'how long --wait waits at most (then exit 8)').argParser(positiveInt).default(2000))
    .action(async (flags: { root: string; stateDir?: string; json: boolean; long: boolean; wait: boolean; timeout: number }) => {
      setExit(await statusCommand(flags));
    });

  program
    .command('make-iso')
    .description('write a context CD (ISO 9660 with Rock Ridge and Joliet) the way OpenNebula does, or a NoCloud seed (--nocloud) or an OpenStack config drive (--config-drive)')
    .requiredOption('-o, --output <FILE>', 'the ISO to write')
    .option('--var <KEY=VALUE>', 'a context variable (repeatable)', collect, [])
    .option('--vars-file <FILE>', 'variables from a context.sh-style file')
    .option('--file <PATH[:NAME]>', 'a file to put on the medium (repeatable)', collect, [])
    .option('--label <LABEL>', 'volume label (default CONTEXT, or _STRATUSLAB with --stratuslab; cidata or config-2 make a seed, never a context.sh)')
    .option('--stratuslab', 'old double-quoted context.sh and the _STRATUSLAB label', false)
    .option('--nocloud', 'a NoCloud seed like cloud-localds makes: label cidata, user-data, meta-data, network-config', false)
    .option('--config-drive', 'an OpenStack config drive: label config-2, openstack/{2012-08-10,latest}/meta_data.json, user_data, network_data.json, ec2/latest/meta-data.json', false)
    .option('--user-data <FILE>', 'seed: the user data (cloud-config, script, MIME); NoCloud gets an empty one without it')
    .option('--meta-data <FILE>', 'seed: the meta-data (NoCloud: YAML with instance-id; config drive: meta_data.json with uuid)')
    .option('--network-config <FILE>', 'seed: network config (NoCloud: version 1 or 2 YAML; config drive: network_data.json)')
    .option('--instance-id <ID>', 'seed without --meta-data: the instance id (default iid-local01 for NoCloud, as cloud-localds; a random UUID for a config drive)')
    .option('--hostname <NAME>', 'seed without --meta-data: the host name (local-hostname; hostname and name)')
    .action(async (flags: { output: string; var: string[]; varsFile?: string; file: string[]; label?: string; stratuslab: boolean; nocloud: boolean; configDrive: boolean; userData?: string; metaData?: string; networkConfig?: string; instanceId?: string; hostname?: string }) => {
      const { var: vars, file: files, ...rest } = flags;
      setExit(await makeIsoCommand({ ...rest, vars, files }));
    });

  program
    .command('serve-metadata')
    .description('serve EC2/OpenStack-style metadata over HTTP (IMDSv2 tokens; fault injection for tests), and OpenNebula\'s OneGate /vm with --onegate')
    .option('--from <DIR|FILE>', 'a directory laid out like the service, or a JSON/YAML description (needed unless --onegate)')
    .option('--listen <HOST:PORT>', 'address to listen on', '127.0.0.1:8169')
    .addOption(new Option('--imdsv2 <policy>', 'required: GETs without a token get 401; optional: IMDSv1 works too').choices(['required', 'optional']).default('optional'))
    .option('--fault <SPEC>', 'inject a fault: kind[:arg][,path=P][,method=M][,after=N][,times=N][,retry-after=S]; kinds delay, status, drop, hang, drip, garbage, huge, redirect (repeatable)', collect, [])
    .option('--onegate', 'also serve OneGate\'s PUT/GET /vm (REPORT_READY), checking X-ONEGATE-TOKEN and X-ONEGATE-VMID; prints each request', false)
    .option('--onegate-token-file <FILE>', 'with --onegate: the file holding the VM\'s token (what its CD\'s token.txt holds)')
    .option('--onegate-vmid <ID>', 'with --onegate: the VM\'s id (its VMID)')
    .option('-q, --quiet', 'do not log requests', false)
    .action(async (flags: { from?: string; listen: string; imdsv2: 'required' | 'optional'; fault: string[]; quiet: boolean; onegate: boolean; onegateTokenFile?: string; onegateVmid?: string }) => {
      setExit(await serveMetadataCommand(flags));
    });

  program
    .command('bake')
    .description('install vmctx into an ext2/3/4 image (raw, .gz, .bz2, .zip, .xz; whole or partitioned), clean it for publishing and stamp /etc/image-id; no root, no mount, no VM')
    .argument('<IMAGE>', 'the image to bake (never written unless --in-place)')
    .option('-o, --output <FILE>', 'where to write the result (default: IMAGE with -vmctx before the extension)')
    .option('--in-place', 'change the (raw) image itself', false)
    .option('--partition <N>', 'the partition holding the root file system (default: the only Linux one)', (v) => {
      if (!/^[1-9]\d{0,2}$/u.test(v)) throw new InvalidArgumentError('a partition number');
      return Number(v);
    })
    .option('--bundle <FILE>', 'the vmctx.js bundle to install (default: the one running)')
    .option('--node <FILE|system>', "a Node binary to ship (default: the image's /usr/bin/node, else the running Node when the image's glibc can run it)")
    .option('--no-sysprep', 'do not clean the image')
    .option('--skip <STEP>', 'leave one cleaning step out (repeatable): ssh-host-keys, machine-id, logs, utmp, histories, vmctx-state, dhcp-leases, udev-net-rules, lock-passwords, package-caches, tmp', collect, [])
    .option('--image-name <NAME>', '/etc/image-id image_name')
    .option('--image-version <V>', '/etc/image-id image_version')
    .option('--recipe-name <NAME>', '/etc/image-id recipe_name')
    .option('--no-zero', 'do not zero the free blocks')
    .addOption(new Option('--compress <KIND>', 'output compression (default: as the input)').choices(['raw', 'gz', 'bz2', 'zip', 'xz']))
    .option('--dry-run', 'list every change and write nothing', false)
    .option('--force', 'write even a file system whose journal needs recovery or that has errors', false)
    .option('--check', 'lint the image (Tycoon requirements, publishing hygiene) without changing it', false)
    .option('--scripts <DIR>', 'boot hooks to add: DIR/{per-boot,per-instance,once}/NAME go to /etc/vmctx/scripts.d (0755, root)')
    .option('--template <SRC:GUESTPATH>', 'a template rendered at boot into GUESTPATH with the context\'s values (repeatable)', collect, [])
    .option('--udev-aliases', 'a udev rule giving xvd*/vd* disks sd* aliases, for software that hard-codes /dev/sdX', false)
    .option('--console <NAMES>', 'root logins on these consoles (e.g. ttyS0,hvc0): added to an existing /etc/securetty, and a serial getty (systemd: serial-getty@NAME enabled; sysvinit: an inittab line)')
    .option('--run <CMD>', 'run CMD in a chroot of the image (root and loop devices needed; /proc, /sys, /dev bound, the host\'s resolv.conf borrowed), before vmctx goes in (repeatable)', collect, [])
    .option('--install <PKG...>', 'install packages with the image\'s apt-get/dnf/yum the same way')
    .addOption(new Option('--run-timeout <SECONDS>', 'deadline for each --run command').argParser(positiveInt).default(1800))
    .option('--zip-entry <NAME>', 'the entry of a .zip that holds the image (needed when it holds several)')
    .option('--json', 'JSON output', false)
    .option('-q, --quiet', 'no progress and no summary: warnings and errors only', false)
    .action(async (image: string, flags: { quiet: boolean; zipEntry?: string; output?: string; inPlace: boolean; partition?: number; bundle?: string; node?: string; sysprep: boolean; skip: string[]; imageName?: string; imageVersion?: string; recipeName?: string; zero: boolean; dryRun: boolean; force: boolean; check: boolean; json: boolean; compress?: 'raw' | 'gz' | 'bz2' | 'zip' | 'xz'; scripts?: string; template: string[]; udevAliases: boolean; console?: string; run: string[]; install?: string[]; runTimeout: number }) => {
      setExit(await bakeCommand(image, { ...flags, bundle: flags.bundle ?? runningBundle() }));
    });

  program
    .command('sparsecopy')
    .description('copy a disk image (file, block device or - for stdin; gz, bz2, zip, xz read) writing holes for zero blocks; a larger destination gets the GPT backup moved to its end')
    .argument('<SRC>', 'the image: a file, a block device, or - (standard input)')
    .argument('<DST>', 'a file (created sparse, truncated to size) or a block device (zero blocks written only where it does not read zero)')
    .option('-f, --size <SIZE>', 'make DST this size (at least SRC\'s): bytes, or with K, M, G, T', (v) => {
      const n = byteSize(v);
      if (n === undefined) throw new InvalidArgumentError('a size: bytes, or a number with K, M, G or T');
      return n;
    })
    .option('--grow-last', 'grow the last partition to fill the destination (GPT; MBR: the last primary)', false)
    .addOption(new Option('--no-extent-map', 'read every byte of a sparse source instead of asking the file system where its holes are').hideHelp())
    .option('--json', 'JSON output', false)
    .option('-q, --quiet', 'no progress and no summary', false)
    .action(async (src: string, dst: string, flags: { size?: number; growLast: boolean; extentMap: boolean; json: boolean; quiet: boolean }) => {
      setExit(await sparsecopyCommand(src, dst, flags));
      });

  program
    .command('mkdisk')
    .description('make a bootable disk image (partition table, GRUB for BIOS and UEFI, kernel from /boot) from an ext2/3/4 file-system image; no root, no mount, no VM')
    .argument('<FS_IMAGE>', 'the file-system image (raw, .gz, .bz2, .zip; never written)')
    .requiredOption('-o, --output <DISK>', 'the disk image to write (.gz/.bz2/.zip: compressed)')
    .option('--size <SIZE>', 'the disk\'s size (e.g. 8G): the root file system is grown to fill it (default: just large enough)', parseSize)
    .addOption(new Option('--table <KIND>', 'partition table').choices(['mbr', 'gpt']).default('mbr'))
    .addOption(new Option('--boot <FIRMWARE>', 'which firmware it boots with: GRUB i386-pc in the MBR gap or a BIOS boot partition, and/or an EFI system partition with BOOTX64.EFI').choices(['bios', 'uefi', 'both']).default('both'))
    .option('--kernel <FILE>', 'a kernel to copy into /boot and boot (default: the newest /boot/vmlinuz-* of the image)')
    .option('--initrd <FILE>', 'its initrd (with --kernel)')
    .option('--cmdline <ARGS>', 'kernel arguments after root=UUID=UUID ro (default: console=tty0 console=ttyS0,115200)')
    .addOption(new Option('--format <FORMAT>', 'disk format').choices(['raw', 'qcow2']).default('raw'))
    .addOption(new Option('--compress <KIND>', 'compression of a raw disk (default: from the output\'s name)').choices(['raw', 'gz', 'bz2', 'zip']))
    .option('--zip-entry <NAME>', 'the entry of a .zip that holds the file system (needed when it holds several)')
    .option('--force', 'use a file system whose journal needs recovery or that has errors', false)
    .option('--overwrite', 'replace the output file when it exists (never the input, never anything but a regular file)', false)
    .option('--json', 'JSON output', false)
    .option('-q, --quiet', 'no progress and no summary: warnings and errors only', false)
    .action(async (image: string, flags: MkdiskFlags) => {
      setExit(await mkdiskCommand(image, flags));
    });

  program
    .command('daemon')
    .description('stay running and re-apply what changes: a swapped context CD, a NIC plugged in or out, the metadata')
    .option('--root <DIR>', 'the system to keep configured', '/')
    .option('--state-dir <DIR>', 'keep run state here (default: <root>/var/lib/vmctx)')
    .addOption(sourceOption())
    .option('--once', 'one check (re-apply what changed), then exit', false)
    .option('--notify <REASON>', 'tell the running daemon something changed (run by the udev rule); quiet when none runs')
    .addOption(metadataUrlOption())
    .addOption(new Option('--poll-interval <SECONDS>', 'metadata poll interval while the context comes from the metadata service').argParser(positiveInt).default(60))
    .addOption(new Option('--debounce <MS>', 'quiet time after a trigger before a check').argParser(positiveInt).hideHelp())
    .option('-q, --quiet', 'no lines on stderr', false)
    .action(async (flags: { source: string; root: string; stateDir?: string; once: boolean; notify?: string; metadataUrl?: string; pollInterval?: number; debounce?: number; quiet: boolean }) => {
      setExit(await daemonCommand(flags));
    });

  program
    .command('install')
    .description('install the agent into this system or a root directory (bundle, launcher, runtime, units)')
    .option('--root <DIR>', 'the root to install into', '/')
    .option('--bundle <FILE>', 'the vmctx.js bundle to install (default: the one running)')
    .option('--node <FILE>', 'the Node binary to ship with it (default: the one running)')
    .option('--no-node', "use the system's /usr/bin/node instead of shipping one")
    .addOption(new Option('--package-layout', 'the tree a package ships: all units and init scripts, default config, nothing enabled').hideHelp())
    .action(async (flags: { root: string; bundle?: string; node?: string | boolean; packageLayout?: boolean }) => {
      // the defaults are this process's own files, named here and not in --help (whose text goes into the man page)
      const node = flags.node === false ? false : typeof flags.node === 'string' ? flags.node : process.execPath;
      setExit(await installCommand({ root: flags.root, bundle: flags.bundle ?? runningBundle(), node, ...(flags.packageLayout === undefined ? {} : { packageLayout: flags.packageLayout }) }));
    });

  program
    .command('uninstall')
    .description('remove the agent from this system or a root directory (its run state, logs and /etc/vmctx/config stay)')
    .option('--root <DIR>', 'the root to remove it from', '/')
    .action(async (flags: { root: string }) => {
      setExit(await uninstallCommand(flags));
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const d = describeError(error);
    process.stderr.write(`vmctx: ${d.code}: ${d.message}\n`);
    return exitCodeForError(error);
  }
}

// A reader that goes away (`vmctx show | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    throw error;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`vmctx: internal error: ${String(error)}\n`);
    process.exitCode = EXIT.internal;
  },
);
