// Scripts: provider init scripts, START_SCRIPT, SCRIPT_EXEC and #! user data, run once per
// instance on the running system (never for an offline --root: a context's code must not run on
// the image builder's host). A crash in the middle is never followed by a second run on the same
// instance. Each script's exit status goes in the report, its output in a 0600 log.
import { isSecretName } from '../../shared/secret.js';
import { VmctxError, describeError } from '../../shared/errors.js';
import type { ScriptResult, StreamedFile } from '../../host/scripts.js';
import type { Logger } from '../../shared/logger.js';
import type { Context } from '../context/context.js';
import { commandScripts, type ScriptSource } from '../context/scripts.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { ensureOwnDir } from '../../host/owndir.js';

export const SCRIPT_LOG_DIR = '/var/log/vmctx/scripts';
export const DEFAULT_SCRIPT_TIMEOUT_MS = 300_000;
const MAX_ENV_VALUE = 64 * 1024;
/** The most names of the medium placed next to a script (each is a file in the tmpfs work directory). */
export const MAX_WORK_FILES = 10_000;
const MAX_FILE_WARNINGS = 20;
/** Variables a context must never set for a script: they change how programs and shells behave. */
const RESERVED_ENV = new Set(['PATH', 'HOME', 'LANG', 'LC_ALL', 'IFS', 'ENV', 'BASH_ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'CDPATH', 'GLOBIGNORE', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'NODE_OPTIONS', 'PYTHONPATH', 'PERL5LIB']);

export interface ScriptReport {
  readonly name: string;
  readonly variable: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly log: string;
}

interface ScriptModuleSpec {
  readonly id: string;
  readonly stage: Module['stage'];
  readonly frequency: Module['frequency'];
  readonly onInterrupted: Module['onInterrupted'];
  readonly description: string;
  readonly needs?: Module['needs'];
  readonly select: (ctx: Context) => readonly ScriptSource[];
  /** More environment for these scripts (a boothook's INSTANCE_ID, as cloud-init gives it). */
  readonly env?: (ctx: Context) => Readonly<Record<string, string>>;
}

/** The environment a script gets: a clean base, the context's variables (secrets only when allowed). */
export function scriptEnv(ctx: Context, secrets: boolean): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', VMCTX_INSTANCE_ID: ctx.instanceId };
  for (const [key, value] of Object.entries(ctx.variables)) {
    if (RESERVED_ENV.has(key) || value.length > MAX_ENV_VALUE) continue;
    if (isSecretName(key) && !secrets) continue;
    env[key] = value;
  }
  return env;
}

export interface ScriptToRun {
  readonly name: string;
  /** Where it came from, for the log header and the report (START_SCRIPT, scripts.d/per-boot, …). */
  readonly variable: string;
  readonly body: Buffer;
  readonly argv?: readonly string[];
  /** Whether it may see the context's secrets. */
  readonly secrets: boolean;
  readonly files: ReadonlyMap<string, Buffer | StreamedFile>;
  /** Added to the environment (never over the reserved names). */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

/** Runs one script with the scripts' rules (deadline, 0600 log of the first 1 MiB, report line). */
export async function executeScript(ctx: Context, target: Target, log: Logger, out: OutcomeBuilder, script: ScriptToRun, logName = script.name): Promise<ScriptReport> {
  const runner = target.scripts;
  if (runner === undefined) throw new VmctxError('ERR_MODULE', 'scripts run only on the running system');
  const result: ScriptResult = await runner.run({
    name: script.name,
    body: script.body,
    ...(script.argv === undefined ? {} : { argv: script.argv }),
    env: { ...scriptEnv(ctx, script.secrets), ...Object.fromEntries(Object.entries(script.env ?? {}).filter(([k]) => !RESERVED_ENV.has(k))) },
    timeoutMs: target.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS,
    files: script.files,
  });
  const logPath = `${SCRIPT_LOG_DIR}/${logName}.log`;
  const header = `# vmctx: ${script.name} (${script.variable}) run by ${result.interpreter} for instance ${ctx.instanceId}: ${result.timedOut ? 'killed at its deadline' : `exit ${result.exitCode ?? `signal ${result.signal ?? '?'}`}`} after ${result.durationMs} ms${result.outputTruncated ? '; output cut at 1 MiB' : ''}\n`;
  for (const dir of ['/var/log/vmctx', SCRIPT_LOG_DIR]) out.warnings.push(...(await ensureOwnDir(target.root, dir, 0o700)).map((r) => `repaired: ${r}`));
  out.changedIf(logPath, (await target.root.writeFile(logPath, Buffer.concat([Buffer.from(header), result.output]), { mode: 0o600 })).changed);
  out.actions.push(`ran ${script.name}`);
  for (const problem of result.fileProblems ?? []) if (!out.warnings.includes(problem)) out.warnings.push(problem);
  if (result.timedOut) out.warnings.push(`${script.name} did not finish within ${Math.round((target.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS) / 1000)} s and was killed`);
  else if (result.exitCode !== 0) out.warnings.push(`${script.name} exited with ${result.exitCode ?? `signal ${result.signal ?? '?'}`} (see ${logPath})`);
  log.info({ script: script.name, exitCode: result.exitCode, timedOut: result.timedOut, durationMs: result.durationMs }, 'script ran');
  return { name: script.name, variable: script.variable, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut, durationMs: result.durationMs, log: logPath };
}

interface BudgetReport {
  readonly code: 'ERR_MEDIUM_BUDGET';
  readonly limit: unknown;
  /** The file at which the medium's budget was passed, then other files that did not fit (the first 100). */
  readonly notCopied: readonly string[];
  readonly notCopiedCount: number;
}

/**
 * The medium's files as they will be copied (read from the medium only when a script's work
 * directory is filled), within the medium's byte budget. What is not copied is a warning: the
 * first file past the budget with the budget, the others by name; a link or unreadable file each.
 */
async function mediumFiles(ctx: Context, out: OutcomeBuilder): Promise<{ files: Map<string, Buffer | StreamedFile>; providerOnly: Map<string, Buffer | StreamedFile>; budget: BudgetReport | undefined }> {
  const files = new Map<string, Buffer | StreamedFile>();
  const providerOnly = new Map<string, Buffer | StreamedFile>();
  const overBudget: string[] = [];
  let firstOver: VmctxError | undefined;
  const problems: string[] = [];
  const names = ctx.medium.names;
  if (names.length > MAX_WORK_FILES) out.warnings.push(`the medium has ${names.length} names; only the first ${MAX_WORK_FILES} are placed next to the scripts`);
  for (const name of names.slice(0, MAX_WORK_FILES)) {
    let data: Buffer | StreamedFile | undefined;
    try {
      data = ctx.medium.open === undefined ? await ctx.medium.read(name, 64 * 1024 * 1024) : await ctx.medium.open(name);
    } catch (error) {
      if (error instanceof VmctxError && error.code === 'ERR_MEDIUM_BUDGET') {
        firstOver ??= error;
        overBudget.push(name);
      } else problems.push(`${name}: not placed next to the scripts: ${describeError(error).message}`);
      continue;
    }
    if (data === undefined) continue;
    if (['context.sh', 'configuration.sh', 'token.txt'].includes(name)) providerOnly.set(name, data);
    else files.set(name, data);
  }
  if (firstOver !== undefined) {
    const more = overBudget.slice(1);
    const list = more.slice(0, MAX_FILE_WARNINGS).join(', ') + (more.length > MAX_FILE_WARNINGS ? `, … (${more.length - MAX_FILE_WARNINGS} more)` : '');
    out.warnings.push(`ERR_MEDIUM_BUDGET: ${firstOver.message}${more.length === 0 ? '' : `, nor were ${more.length} more file(s) past it: ${list}`}`);
  }
  out.warnings.push(...problems.slice(0, MAX_FILE_WARNINGS));
  if (problems.length > MAX_FILE_WARNINGS) out.warnings.push(`… and ${problems.length - MAX_FILE_WARNINGS} more files of the medium not placed next to the scripts`);
  const budget: BudgetReport | undefined = firstOver === undefined ? undefined : { code: 'ERR_MEDIUM_BUDGET', limit: firstOver.details['limit'], notCopied: overBudget.slice(0, 100), notCopiedCount: overBudget.length };
  return { files, providerOnly, budget };
}

function scriptModule(spec: ScriptModuleSpec): Module {
  return {
  id: spec.id,
  stage: spec.stage,
  frequency: spec.frequency,
  onInterrupted: spec.onInterrupted,
  liveOnly: true,
  description: spec.description,
  ...(spec.needs === undefined ? {} : { needs: spec.needs }),
  isRelevant: (ctx) => spec.select(ctx).length > 0,
  inputs: (ctx) => spec.select(ctx).map((s) => s.name),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    if (target.scripts === undefined) throw new VmctxError('ERR_MODULE', 'scripts run only on the running system');
    // the medium's files (FILES_DS and the rest) next to every script; the variable files and the
    // OneGate token only for the provider's own scripts
    const { files, providerOnly, budget } = await mediumFiles(ctx, out);
    const reports: ScriptReport[] = [];
    for (const script of spec.select(ctx)) {
      reports.push(await executeScript(ctx, target, log, out, { name: script.name, variable: script.variable, body: script.body, ...(script.argv === undefined ? {} : { argv: script.argv }), secrets: script.provider, files: script.provider ? new Map([...files, ...providerOnly]) : files, env: spec.env?.(ctx) }));
    }
    out.details = { scripts: reports, ...(budget === undefined ? {} : { mediumBudget: budget }) };
    return out.build();
  },
  };
}

export const scriptsModule = scriptModule({
  id: 'scripts',
  needs: ['user-data'],
  stage: 'final',
  frequency: 'per-instance',
  onInterrupted: 'skip',
  description: 'provider init scripts, START_SCRIPT, SCRIPT_EXEC, #! user data and cloud-config runcmd, once per instance',
  select: (ctx) => ctx.scripts.filter((s) => s.frequency === undefined && (ctx.initScriptsFrequency !== 'per-boot' || s.variable !== 'INIT_SCRIPTS')),
});

/**
 * #cloud-boothook parts (and text/cloud-boothook MIME parts): on every boot, before the other
 * scripts of the final stage, with INSTANCE_ID in the environment as cloud-init gives it.
 * (cloud-init runs them earlier, in its network stage; vmctx runs user code in the final stage only.)
 */
export const boothooksModule = scriptModule({
  id: 'boothooks',
  needs: ['user-data'],
  stage: 'final',
  frequency: 'per-boot',
  onInterrupted: 'rerun',
  description: 'user-data #cloud-boothook parts, on every boot, before the other scripts',
  select: (ctx) => ctx.scripts.filter((s) => s.frequency === 'boothook'),
  env: (ctx) => ({ INSTANCE_ID: ctx.instanceId }),
});

/** text/x-shellscript-per-boot user-data parts: on every boot, after the per-instance scripts. */
export const perBootScriptsModule = scriptModule({
  id: 'user-scripts-per-boot',
  needs: ['user-data'],
  stage: 'final',
  frequency: 'per-boot',
  onInterrupted: 'skip',
  description: 'user-data text/x-shellscript-per-boot parts, on every boot',
  select: (ctx) => ctx.scripts.filter((s) => s.frequency === 'per-boot'),
});

/** text/x-shellscript-per-once user-data parts: once for the life of the system, not again for a new instance. */
export const onceScriptsModule = scriptModule({
  id: 'user-scripts-once',
  needs: ['user-data'],
  stage: 'final',
  frequency: 'once',
  onInterrupted: 'skip',
  description: 'user-data text/x-shellscript-per-once parts, once ever',
  select: (ctx) => ctx.scripts.filter((s) => s.frequency === 'once'),
});

/** The provider's init scripts on every boot, as one-context could be told to (INIT_SCRIPTS_FREQUENCY=per-boot). */
export const bootInitScriptsModule = scriptModule({
  id: 'init-scripts',
  stage: 'final',
  frequency: 'per-boot',
  onInterrupted: 'skip',
  description: 'the provider init scripts on every boot (only with INIT_SCRIPTS_FREQUENCY=per-boot)',
  select: (ctx) => (ctx.initScriptsFrequency === 'per-boot' ? ctx.scripts.filter((s) => s.variable === 'INIT_SCRIPTS') : []),
});

export const bootcmdModule = scriptModule({
  id: 'bootcmd',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'per-boot',
  onInterrupted: 'rerun',
  description: 'cloud-config bootcmd, early in every boot',
  select: (ctx) => commandScripts('bootcmd', ctx.cloudConfig?.bootcmd ?? []),
});
