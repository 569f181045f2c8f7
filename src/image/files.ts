// The files bake works on: the input checked before anything else, the output's default name, a full disk said plainly.
import { statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { VmctxError, errnoCode } from '../shared/errors.js';
import type { Compression } from './compression.js';
import { NOT_AN_IMAGE } from './extimage.js';

/** IMAGE.raw.gz → IMAGE-vmctx.raw(.EXT of the output's compression). */
export function defaultOutput(input: string, compression: Compression, outKind: Compression): string {
  const ext = compression === 'raw' ? '' : `.${compression}`;
  const outExt = outKind === 'raw' ? '' : `.${outKind}`;
  const base = ext !== '' && input.endsWith(ext) ? input.slice(0, -ext.length) : input;
  const dot = basename(base).lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, base.length - (basename(base).length - dot)) : base;
  const suffix = dot > 0 ? basename(base).slice(dot) : '';
  return `${stem}-vmctx${suffix}${outExt}`;
}

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

/** Whether two paths name the same file (device and inode: through a link, a hard link, another spelling). */
export function sameFile(a: string, b: string): boolean {
  const x = statSync(a, { throwIfNoEntry: false });
  const y = statSync(b, { throwIfNoEntry: false });
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}

/**
 * The output may be written: never the input however it is spelled, only ever a regular file
 * (a device node or a directory there would be replaced by the rename), and one that exists only
 * with `overwrite` (ERR_USAGE otherwise).
 */
export function checkOutput(input: string, output: string, overwrite: boolean, hint = ''): void {
  if (input === output || sameFile(input, output)) throw new VmctxError('ERR_USAGE', `-o ${output}: that is the input itself; the input is never written${hint}`);
  const st = statSync(output, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isFile()) throw new VmctxError('ERR_USAGE', `-o ${output}: exists and is not a regular file; give a file name`);
  if (!overwrite) throw new VmctxError('ERR_USAGE', `-o ${output}: exists; --overwrite to replace it`);
}

/** A full disk during the work, said plainly (no temporary file names). */
export function outOfRoom(error: unknown, output: string): unknown {
  if (errnoCode(error) !== 'ENOSPC') return error;
  return new VmctxError('ERR_IO', `no space left on the disk holding ${dirname(output)}; nothing was written`, { cause: error });
}
