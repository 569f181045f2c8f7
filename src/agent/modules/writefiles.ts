// cloud-config write_files: each file through the Root (resolved inside the root, never into
// /proc, /sys or /dev), with its owner and mode. A path inside a user's home is written with the
// home's rules (no symlinks, no foreign owners), so a user's planted link cannot redirect it;
// "inside a home" is decided on the path as Root resolves it, never on how it is spelled.
import { parsePasswd } from '../../formats/passwd.js';
import { VmctxError, describeError } from '../../shared/errors.js';
import { placeInHomes, resolvedHomes } from '../../host/guestresolve.js';
import { OutcomeBuilder, type Module } from './module.js';

function groupId(groupText: string, name: string): number | undefined {
  for (const line of groupText.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/u.test(gid)) return Number(gid);
  }
  return undefined;
}

export const writeFilesModule: Module = {
  id: 'write-files',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: 'cloud-config write_files, once per instance',
  isRelevant: (ctx) => (ctx.cloudConfig?.writeFiles.length ?? 0) > 0,
  inputs: (ctx) => ctx.cloudConfig?.writeFiles.map((f) => f.path) ?? [],
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const passwd = parsePasswd((await root.readText('/etc/passwd')) ?? '');
    const groups = (await root.readText('/etc/group')) ?? '';
    const ioErrors: string[] = [];
    const homes = await resolvedHomes(root, passwd);
    for (const file of ctx.cloudConfig?.writeFiles ?? []) {
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
    log.info({ files: out.changed.length, refused: out.warnings.length, failed: ioErrors.length }, 'write_files');
    if (ioErrors.length > 0) throw new VmctxError('ERR_IO', `write_files could not write ${ioErrors.join('; ')}${out.changed.length > 0 ? ` (written: ${out.changed.join(', ')})` : ''}`);
    return out.build();
  },
};
