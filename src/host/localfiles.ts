// Files and directories of this machine named on the command line (an input, a state directory, a
// root to check): plain reads and checks by path, outside any guest Root.
import { constants } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import { VmctxError, errnoCode, pathProblem } from '../shared/errors.js';

/**
 * A file named by a command-line option (--vars-file, --bundle…): any problem reading it, or more
 * than `maxBytes`, is a usage error naming the option and the path.
 */
export async function readOptionFile(option: string, path: string, maxBytes = Number.POSITIVE_INFINITY): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    throw new VmctxError('ERR_USAGE', `${option} ${path}: ${pathProblem(error)}`, { cause: error });
  }
  if (data.length > maxBytes) throw new VmctxError('ERR_USAGE', `${option} ${path}: larger than ${maxBytes} bytes`);
  return data;
}

/** Rejects (with the errno error) when nothing is at `path`; follows links as any reader would. */
export async function mustExist(path: string): Promise<void> {
  await stat(path);
}

/** Creates a directory and its parents (the ones it creates get `mode`); an existing one is fine. */
export async function ensureLocalDirectory(path: string, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

/** Whether anything (a file, a directory, a link's target) is at `path`. */
export async function localPathExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Why this process may not write into `dir`: the errno error when the kernel says EACCES or
 * EPERM, undefined otherwise (writable, or a problem — missing, read-only — left to the writer).
 */
export async function writeDenied(dir: string): Promise<NodeJS.ErrnoException | undefined> {
  try {
    await access(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = errnoCode(error);
    return code === 'EACCES' || code === 'EPERM' ? (error as NodeJS.ErrnoException) : undefined;
  }
}
