// `vmctx mkdisk`: the command's options read and checked, the result printed (the work is image/mkdisk.ts).
import { InvalidArgumentError } from 'commander';
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
  json: boolean;
  quiet: boolean;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** A size: bytes, or a number with K, M, G or T (powers of 1024; KiB/MiB/GiB/TiB and a trailing B read the same). */
/** A size in bytes: a number of bytes, or with K, M, G or T (binary; "iB"/"B" allowed); undefined when it is not one. */
export function byteSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/iu.exec(value.trim());
  const unit = UNITS[(m?.[2] ?? '').toUpperCase()];
  const n = m === null || unit === undefined ? Number.NaN : Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
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
