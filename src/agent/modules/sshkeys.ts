// SSH keys: the context's public keys in a block vmctx owns inside ~/.ssh/authorized_keys (or a
// whole file under authorized_keys.d/ when sshd reads one), replaced atomically as the user's
// file; lines outside the block are never touched, removed keys are revoked.
import { posix } from 'node:path';
import { markers, readBlock, replaceBlock } from '../../formats/managedblock.js';
import { parsePasswd, type PasswdEntry } from '../../formats/passwd.js';
import { expandAuthorizedKeysPath, globMatch, parseSshdConfig } from '../../formats/sshdconfig.js';
import { checkAuthorizedKey } from '../../formats/sshkeys.js';
import { normaliseGuestPath } from '../../formats/guestpath.js';
import { resolvedHomes } from '../../host/guestresolve.js';
import { VmctxError, isVmctxError } from '../../shared/errors.js';
import type { Root, UserTree } from '../../host/root.js';
import type { Context } from '../context/context.js';
import { OutcomeBuilder, type Module } from './module.js';

export const KEYS_BLOCK = markers('#');
const DEFAULT_KEY_FILES = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];
const MAX_INCLUDE_DEPTH = 4;

export interface KeyTarget {
  readonly user: PasswdEntry;
  /** Guest path of the file vmctx writes. */
  readonly file: string;
  /** Whether vmctx owns the whole file (authorized_keys.d) or a block inside a shared file. */
  readonly ownsFile: boolean;
  /** The shared authorized_keys file, where a block may be left from an earlier layout. */
  readonly sharedFile: string;
  /** The home as Root resolves it (a root-made link such as /home/alice -> /data/alice followed), as write_files does. */
  readonly home: string;
}

/** The global AuthorizedKeysFile entries of sshd_config (with Includes), or sshd's default. */
async function authorizedKeysFiles(root: Root): Promise<string[]> {
  const visit = async (path: string, depth: number): Promise<string[] | undefined> => {
    if (depth > MAX_INCLUDE_DEPTH) return undefined;
    const text = await root.readText(path, { maxBytes: 1024 * 1024 }).catch(() => undefined);
    if (text === undefined) return undefined;
    for (const d of parseSshdConfig(text)) {
      if (d.inMatch) break;
      if (d.keyword === 'authorizedkeysfile' && d.args.length > 0) return [...d.args];
      if (d.keyword === 'include') {
        for (const pattern of d.args) {
          const full = pattern.startsWith('/') ? pattern : `/etc/ssh/${pattern}`;
          const dir = posix.dirname(full);
          const names = (await root.readdir(dir)) ?? [];
          for (const name of names.filter((n) => globMatch(posix.basename(full), n))) {
            const found = await visit(posix.join(dir, name), depth + 1);
            if (found !== undefined) return found;
          }
        }
      }
    }
    return undefined;
  };
  return (await visit('/etc/ssh/sshd_config', 0)) ?? DEFAULT_KEY_FILES;
}

/** The account the keys belong to: USERNAME when it exists in the root, else root. */
export async function keyUser(ctx: Context, root: Root, warnings: string[]): Promise<PasswdEntry> {
  const passwd = parsePasswd((await root.readText('/etc/passwd', { maxBytes: 16 * 1024 * 1024 })) ?? '');
  const wanted = passwd.find((e) => e.name === ctx.username);
  if (wanted !== undefined) return wanted;
  if (ctx.username !== 'root') warnings.push(`user "${ctx.username.slice(0, 32)}" does not exist in this system; keys go to root`);
  return passwd.find((e) => e.name === 'root') ?? { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' };
}

export async function keyTarget(ctx: Context, root: Root, warnings: string[]): Promise<KeyTarget> {
  return keyTargetFor(await keyUser(ctx, root, warnings), root, warnings);
}

export async function keyTargetFor(user: PasswdEntry, root: Root, warnings: string[]): Promise<KeyTarget> {
  const normal = normaliseGuestPath(user.home === '' ? '/' : user.home);
  if (!normal.ok || normal.path === '/') throw new VmctxError('ERR_MODULE', `user ${user.name} has no usable home directory (${JSON.stringify(user.home)})`);
  // the same home write_files uses: the passwd text normalised, then the links Root would follow
  const home = (await resolvedHomes(root, [{ uid: user.uid, home: normal.path }]))[0]?.base ?? normal.path;
  const sharedFile = posix.join(home, '.ssh/authorized_keys');
  const entries = (await authorizedKeysFiles(root))
    .map((p) => expandAuthorizedKeysPath(p, user.name, home))
    .filter((p): p is string => p !== undefined && !p.includes('*') && !p.includes('..'))
    .map((p) => posix.normalize(p));
  const dropIn = entries.find((p) => p.startsWith(`${home}/.ssh/authorized_keys.d/`));
  if (dropIn !== undefined) return { user, file: dropIn, ownsFile: true, sharedFile, home };
  const inHome = entries.find((p) => p.startsWith(`${home}/`));
  if (inHome === undefined) warnings.push(`sshd reads no key file inside ${home}; writing ${sharedFile} anyway`);
  return { user, file: inHome ?? sharedFile, ownsFile: false, sharedFile, home };
}

/** Reads a key file in the user's tree; a symlink reads as empty (it will be replaced), a hard link is refused. */
async function readUserFile(root: Root, path: string, tree: UserTree, warnings: string[]): Promise<string> {
  try {
    return (await root.readText(path, { userTree: tree, maxBytes: 4 * 1024 * 1024 })) ?? '';
  } catch (error) {
    if (isVmctxError(error, 'ERR_PATH_SYMLINK') && (await root.lstat(path))?.type === 'symlink') {
      warnings.push(`${path} was a symlink; it is replaced by a regular file and its target left alone`);
      return '';
    }
    throw error;
  }
}

export const sshKeysModule: Module = {
  id: 'ssh-keys',
  needs: ['public-keys', 'user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'SSH public keys from the context into the user\'s authorized keys',
  isRelevant: () => true,
  inputs: (ctx) => ({ user: ctx.username, keys: ctx.sshKeys.keys, extra: ctx.accounts.users.map((u) => [u.name, u.keys]) }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const primary = await keyTarget(ctx, root, out.warnings);
    await installKeys(root, primary, ctx.sshKeys.keys, out);
    log.info({ user: primary.user.name, file: primary.file, keys: ctx.sshKeys.keys.length, sources: ctx.sshKeys.sources }, 'authorized keys updated');
    // cloud-config users with keys of their own (the default user's are among ctx.sshKeys already when it is root)
    const passwd = parsePasswd((await root.readText('/etc/passwd', { maxBytes: 16 * 1024 * 1024 })) ?? '');
    for (const account of ctx.accounts.users) {
      if (account.keys.length === 0) continue;
      const entry = passwd.find((e) => e.name === account.name);
      if (entry === undefined) {
        out.warnings.push(`${account.origin}: the account does not exist; its keys were not installed`);
        continue;
      }
      const keys: string[] = [];
      for (const line of account.keys) {
        const check = checkAuthorizedKey(line);
        if (check.ok) keys.push(check.line);
        else out.warnings.push(`${account.origin}: a key was skipped: ${check.reason}`);
      }
      // the default user's file holds the context's keys too: one block with both
      const all = entry.name === primary.user.name ? [...ctx.sshKeys.keys, ...keys.filter((k) => !ctx.sshKeys.keys.includes(k))] : keys;
      try {
        await installKeys(root, await keyTargetFor(entry, root, out.warnings), all, out);
      } catch (error) {
        if (!isVmctxError(error, 'ERR_MODULE')) throw error;
        out.warnings.push(`${account.origin}: keys not installed: ${error.message}`);
      }
    }
    return out.build();
  },
};

/** Writes (or revokes) the keys of one account: the owned file or the managed block. */
async function installKeys(root: Root, t: KeyTarget, keys: readonly string[], out: OutcomeBuilder): Promise<void> {
  const owner = { uid: t.user.uid, gid: t.user.gid };
  const { home } = t;
  const tree: UserTree = { base: home, uid: t.user.uid };
  if ((await root.lstat(home)) === undefined) {
    if (keys.length === 0) return;
    throw new VmctxError('ERR_MODULE', `home directory ${home} of ${t.user.name} does not exist`);
  }
  const writeBlockFile = async (path: string, content: readonly string[]): Promise<void> => {
    const current = await readUserFile(root, path, tree, out.warnings);
    if (content.length === 0 && readBlock(current, KEYS_BLOCK, path) === undefined) return;
    const next = replaceBlock(current, KEYS_BLOCK, content, undefined, path);
    if (next === '' && current === '') return;
    await ensureDirs(root, home, posix.dirname(path), owner, tree, out);
    const result = await root.writeFile(path, next, { mode: 0o600, owner, userTree: tree });
    out.changedIf(path, result.changed);
  };
  if (t.ownsFile) {
    if (keys.length > 0) {
      await ensureDirs(root, home, posix.dirname(t.file), owner, tree, out);
      const body = `# Managed by vmctx: keys from the VM context. This file is replaced at each contextualization.\n${keys.join('\n')}\n`;
      out.changedIf(t.file, (await root.writeFile(t.file, body, { mode: 0o600, owner, userTree: tree })).changed);
    } else if (await root.remove(t.file, { userTree: tree })) {
      out.changedIf(t.file, true);
    }
    // a block left by an earlier layout would keep revoked keys alive
    if ((await root.lstat(t.sharedFile))?.type === 'file') await writeBlockFile(t.sharedFile, []);
  } else {
    await writeBlockFile(t.file, keys);
  }
}

/** Creates (or fixes the modes of) each directory from the home down to `dir`, as the user's. */
async function ensureDirs(root: Root, home: string, dir: string, owner: { uid: number; gid: number }, tree: UserTree, out: OutcomeBuilder): Promise<void> {
  const rel = posix.relative(home, dir);
  if (rel === '' || rel.startsWith('..')) return;
  let path = home;
  for (const part of rel.split('/')) {
    path = posix.join(path, part);
    out.changedIf(path, await root.ensureDir(path, { mode: 0o700, owner, userTree: tree }));
  }
}
