// cloud-config write_files: each file through the Root (resolved inside the root, never into
// /proc, /sys or /dev), with its owner and mode. A path inside a user's home is written with the
// home's rules (no symlinks, no foreign owners), so a user's planted link cannot redirect it;
// "inside a home" is decided on the path as Root resolves it, never on how it is spelled.
// Entries with `defer: true` are written by a second module in the final stage, after the users
// exist (cloud-init's write_files_deferred); a config drive's `files` go the same way, as root's.
import { parsePasswd } from '../../formats/passwd.js';
import { VmctxError, describeError } from '../../shared/errors.js';
import { placeInHomes, resolvedHomes } from '../../host/guestresolve.js';
import type { Logger } from '../../shared/logger.js';
import type { Context } from '../context/context.js';
import { OutcomeBuilder, type Module, type ModuleOutcome, type Target } from './module.js';

/** One file to write: the guest path, bytes, "user[:group]", mode, append. */
interface FileToWrite {
  readonly path: string;
  readonly content: Buffer;
  readonly owner: string;
  readonly mode: number;
  readonly append: boolean;
}

function groupId(groupText: string, name: string): number | undefined {
  for (const line of groupText.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/u.test(gid)) return Number(gid);
  }
  return undefined;
}

/** Writes the files through the Root with the homes' rules; an I/O failure fails the module (tried again next run). */
async function writeAll(files: readonly FileToWrite[], what: string, target: Target, log: Logger): Promise<ModuleOutcome> {
  const out = new OutcomeBuilder();
  const { root } = target;
  const passwd = parsePasswd((await root.readText('/etc/passwd')) ?? '');
  const groups = (await root.readText('/etc/group')) ?? '';
  const ioErrors: string[] = [];
  const homes = await resolvedHomes(root, passwd);
  for (const file of files) {
    const [userName = 'root', groupName] = file.owner.split(':');
    const user = passwd.find((e) => e.name === userName);
    const gid = groupName === undefined ? user?.gid : groupId(groups, groupName);
    if (user === undefined || gid === undefined) {
      out.warnings.push(`${file.path}: owner ${file.owner} does not exist; not written`);
      continue;
    }
    try {
      const { path, tree: userTree } = await placeInHomes(root, file.path, homes);
      let data = file.content;
      if (file.append) {
        const current = await root.readFile(path, { userTree, maxBytes: 64 * 1024 * 1024 });
        if (current !== undefined) data = Buffer.concat([current, file.content]);
      }
      out.changedIf(file.path, (await root.writeFile(path, data, { mode: file.mode, owner: { uid: user.uid, gid }, userTree })).changed);
    } catch (error) {
      const d = describeError(error);
      // the system could not write (full, read-only, I/O error): the module fails and is tried
      // again next run; a path vmctx refuses (a link out of the root, /proc) stays refused
      if (!d.code.startsWith('ERR_PATH') && d.code !== 'ERR_UNSAFE_FILE') ioErrors.push(`${file.path}: ${d.message}`);
      else out.warnings.push(`${file.path}: not written: ${d.message}`);
    }
  }
  log.info({ files: out.changed.length, refused: out.warnings.length, failed: ioErrors.length }, what);
  if (ioErrors.length > 0) throw new VmctxError('ERR_IO', `${what} could not write ${ioErrors.join('; ')}${out.changed.length > 0 ? ` (written: ${out.changed.join(', ')})` : ''}`);
  return out.build();
}

const early = (ctx: Context): FileToWrite[] => ctx.cloudConfig?.writeFiles.filter((f) => !f.defer) ?? [];
const deferred = (ctx: Context): FileToWrite[] => ctx.cloudConfig?.writeFiles.filter((f) => f.defer) ?? [];

export const writeFilesModule: Module = {
  id: 'write-files',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: 'cloud-config write_files, once per instance',
  isRelevant: (ctx) => early(ctx).length > 0,
  inputs: (ctx) => early(ctx).map((f) => f.path),
  apply: (ctx, target, log) => writeAll(early(ctx), 'write_files', target, log),
};

/** write_files entries with defer: true, in the final stage: their owners may be users the run created. */
export const deferredWriteFilesModule: Module = {
  id: 'write-files-deferred',
  needs: ['user-data'],
  stage: 'final',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: 'cloud-config write_files with defer: true, in the final stage (after the users), once per instance',
  isRelevant: (ctx) => deferred(ctx).length > 0,
  inputs: (ctx) => deferred(ctx).map((f) => f.path),
  apply: (ctx, target, log) => writeAll(deferred(ctx), 'write_files (deferred)', target, log),
};

/**
 * An OpenStack config drive's `files` (meta_data.json files → openstack/content/NNNN): root:root,
 * 0660 as cloud-init writes these injected files (they often hold credentials), through write_files'
 * confinement.
 */
const seedFiles = (ctx: Context): FileToWrite[] => (ctx.seedFiles ?? []).map((f) => ({ path: f.path, content: f.content, owner: 'root:root', mode: 0o660, append: false }));

export const seedFilesModule: Module = {
  id: 'config-drive-files',
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: 'the config drive\'s files (meta_data.json "files"), once per instance',
  isRelevant: (ctx) => seedFiles(ctx).length > 0,
  inputs: (ctx) => seedFiles(ctx).map((f) => f.path),
  apply: (ctx, target, log) => writeAll(seedFiles(ctx), 'config drive files', target, log),
};
