// Image authors' boot-time hooks: executables in /etc/vmctx/scripts.d/{per-boot,per-instance,once}/
// run in name order (00-…, 10-…: the init-style sequencing ConVirt's per-image scripts used), after
// the built-in modules of the final stage, with the context's variables in their environment — no
// secrets unless the hook has the line `# vmctx-env: secrets` near its top — and the scripts'
// rules: a deadline, a 0600 log of the first 1 MiB of output, a line in the report each.
//
// A hook is run only when it is a regular file, executable, owned by root and writable by nobody
// else (anything else would let a user get code run as root at boot); a hook that fails those
// checks, or whose #! line names an interpreter that is not there, is reported and the rest run.
import { interpreterOf } from '../../host/scripts.js';
import type { Context } from '../context/context.js';
import { executeScript, type ScriptReport } from './scripts.js';
import { rootOnlyProblem } from './live.js';
import { OutcomeBuilder, type Module } from './module.js';
import { HOOKS_DIR, HOOK_FREQUENCIES, HOOK_NAME, type HookFrequency } from '../../shared/layout.js';

const MAX_HOOK = 16 * 1024 * 1024;
const SECRETS_OPT_IN = /^#\s*vmctx-env:\s*secrets\s*$/mu;

function hooksModule(frequency: HookFrequency): Module {
  const dir = `${HOOKS_DIR}/${frequency}`;
  return {
    id: `hooks-${frequency}`,
    stage: 'final',
    frequency,
    // a hook is not known to be idempotent: after a crash in the middle it is not run twice
    onInterrupted: frequency === 'per-boot' ? 'rerun' : 'skip',
    liveOnly: true,
    description: `the image's hooks in ${dir}, in name order`,
    isRelevant: () => true,
    // nothing recorded (and nothing to be interrupted) while the image has no hooks of this kind
    hasWork: async (_ctx, target) => ((await target.root.readdir(dir)) ?? []).some((n) => !n.startsWith('.')),
    inputs: () => null,
    async apply(ctx: Context, target, log) {
      const out = new OutcomeBuilder();
      const { root } = target;
      const names = ((await root.readdir(dir)) ?? []).filter((n) => !n.startsWith('.')).sort();
      const reports: ScriptReport[] = [];
      for (const name of names) {
        const path = `${dir}/${name}`;
        if (!HOOK_NAME.test(name) || name.endsWith('~') || /\.(dpkg-[a-z]+|rpm[a-z]+|bak|orig|disabled)$/u.test(name)) {
          out.warnings.push(`${path}: not run (a backup or an unusual name)`);
          continue;
        }
        const st = await root.lstat(path);
        if (st?.type !== 'file') {
          out.warnings.push(`${path}: not run (not a regular file${st?.type === 'symlink' ? ': a symlink' : ''})`);
          continue;
        }
        if ((st.mode & 0o111) === 0) {
          out.warnings.push(`${path}: not run (not executable; chmod +x to enable it)`);
          continue;
        }
        const owner = rootOnlyProblem(st);
        if (owner !== undefined) {
          out.warnings.push(`${path}: not run (${owner}: a hook must be root's and writable only by root)`);
          continue;
        }
        const body = await root.readFile(path, { maxBytes: MAX_HOOK });
        if (body === undefined) continue;
        if (body[0] === 0x23 && body[1] === 0x21) {
          const { program } = interpreterOf(body);
          const line = body.subarray(0, Math.max(0, body.indexOf(0x0a))).toString('utf8');
          if (!line.startsWith(`#!${program}`) || (await root.lstat(program)) === undefined) {
            out.warnings.push(`${path}: not run (its first line ${JSON.stringify(line.slice(0, 80))} names no interpreter this system has)`);
            continue;
          }
        }
        const secrets = SECRETS_OPT_IN.test(body.subarray(0, 4096).toString('utf8'));
        reports.push(await executeScript(ctx, target, log, out, { name, variable: `scripts.d/${frequency}`, body, secrets, files: new Map() }, `hooks-${frequency}-${name}`));
      }
      out.details = { hooks: reports };
      return out.build();
    },
  };
}

export const hookModules: readonly Module[] = HOOK_FREQUENCIES.map(hooksModule);
