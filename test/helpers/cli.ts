// Runs the built CLI bundle (dist/vmctx.js) as a user would.
import { spawnSync } from 'node:child_process';
import { readdir, readFile, lstat, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const BUNDLE = resolve('dist/vmctx.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function vmctx(args: readonly string[], options: { umask?: string; env?: Record<string, string> } = {}): CliResult {
  const r =
    options.umask === undefined
      ? spawnSync(process.execPath, [BUNDLE, ...args], { encoding: 'utf8', env: { ...process.env, ...options.env } })
      : spawnSync('sh', ['-c', `umask ${options.umask}; exec "$0" "$@"`, process.execPath, BUNDLE, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under dir with its mode and content (symlinks as their target), for before/after comparisons. */
export async function snapshot(dir: string, skip: (path: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const path = `${rel}/${name}`;
      if (skip(path)) continue;
      const st = await lstat(join(dir, path));
      if (st.isDirectory()) {
        out[`${path}/`] = (st.mode & 0o7777).toString(8);
        await walk(path);
      } else if (st.isSymbolicLink()) out[path] = `-> ${await readlink(join(dir, path))}`;
      else out[path] = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs} ${(await readFile(join(dir, path))).toString('base64')}`;
    }
  };
  await walk('');
  return out;
}
