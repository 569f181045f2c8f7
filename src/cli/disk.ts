// `vmctx mkdisk`: the command's options read and checked, the result printed (the work is image/mkdisk.ts).
import { InvalidArgumentError } from 'commander';
import { parseByteSize } from '../formats/bytesize.js';
import { isVmctxError } from '../shared/errors.js';
import { EXIT, isImageInputError } from './exit.js';
import { terminalProgress } from './progress.js';

export interface MkdiskFlags {
  output: string;
  size?: number;
  table: 'mbr' | 'gpt';
  boot: 'bios' | 'uefi' | 'both';
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  format: 'raw' | 'qcow2';
  compress?: 'raw' | 'gz' | 'bz2' | 'zip';
  zipEntry?: string;
  force: boolean;
  overwrite: boolean;
  json: boolean;
  quiet: boolean;
}

/** A size in bytes: a number of bytes, or with K, M, G or T (powers of 1024; KiB … TiB and a trailing B read the same); undefined when it is not one (or 0). */
export function byteSize(value: string): number | undefined {
  const n = parseByteSize(value, { iec: true });
  return n !== undefined && n > 0 ? n : undefined;
}

export function parseSize(value: string): number {
  const n = byteSize(value);
  if (n === undefined || n < 1024 * 1024) throw new InvalidArgumentError('a size such as 4G, 512M or a number of bytes (at least 1M)');
  return n;
}

export async function mkdiskCommand(input: string, flags: MkdiskFlags): Promise<number> {
  const { mkdisk } = await import('../image/mkdisk.js');
  const progress = terminalProgress(process.stderr, { json: flags.json, quiet: flags.quiet });
  try {
    const r = await mkdisk({
      input,
      output: flags.output,
      size: flags.size,
      table: flags.table,
      boot: flags.boot,
      kernel: flags.kernel,
      initrd: flags.initrd,
      cmdline: flags.cmdline,
      format: flags.format,
      compress: flags.compress,
      zipEntry: flags.zipEntry,
      force: flags.force,
      overwrite: flags.overwrite,
      progress,
    });
    progress?.finish();
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return EXIT.ok;
    }
    for (const w of r.warnings) process.stderr.write(`vmctx: warning: ${w}\n`);
    if (flags.quiet) return EXIT.ok;
    const mib = (b: number): string => `${Math.round(b / 1048576)} MiB`;
    process.stdout.write(`made ${r.output} (${r.format}${r.compression === 'raw' ? '' : `, ${r.compression}`}, ${mib(r.diskBytes)}, ${r.table.toUpperCase()}, boot ${r.boot}) in ${r.durationMs} ms\n`);
    for (const p of r.partitions) process.stdout.write(`  partition ${p.index}: ${p.role.padEnd(9)} sectors ${p.start}–${p.start + p.sectors - 1} (${mib(p.sectors * 512)})\n`);
    process.stdout.write(`root: ${r.fsKind} UUID=${r.uuid}, ${mib(r.fsBytes)}${r.grown ? ' (grown)' : ''}\n`);
    process.stdout.write(`kernel: /boot/${r.kernel}${r.initrd === undefined ? ' (no initrd)' : `, initrd /boot/${r.initrd}`}\ncmdline: ${r.cmdline}\n`);
    return EXIT.ok;
  } catch (error) {
    progress?.finish();
    if (isImageInputError(error) || (isVmctxError(error) && error.code.startsWith('ERR_MKDISK_'))) {
      process.stderr.write(`vmctx: ${error.code}: ${error.message}\n`);
      return EXIT.invalidContext;
    }
    throw error;
  }
}
