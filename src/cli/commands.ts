// The command implementations behind the CLI: each parses nothing itself (commander did), calls
// into agent/provider code, prints, and returns an exit code. Only main.ts calls process.exit.
import { FINAL_IDLE_PATH, NEED_NETWORK_PATH, runAgent } from '../agent/run.js';
import { REPORT_PATH, guestPathMessage, type RunReport } from '../agent/report.js';
import { lockHolder } from '../agent/lock.js';
import { loadContext } from '../agent/datasources/registry.js';
import { bootProgress, bootResult, readBootRecord, stageRecord, waitForBoot, type BootMarkers, type BootRecord } from '../agent/bootrecord.js';
import { runResultLine, runTable, showText, statusText } from './render.js';
import { defaultProbe } from '../agent/datasources/contextmedium.js';
import type { Stage } from '../agent/modules/module.js';
import { StateStore } from '../agent/state.js';
import { describeReady, readReadyRecord } from '../agent/modules/reportready.js';
import { DryRunRoot, RecordingExec, renderChange } from '../host/dryrun.js';
import { HostExec } from '../host/exec.js';
import { listGuestNics } from '../host/nics.js';
import { HostScriptRunner } from '../host/scripts.js';
import { configuredModel, resolveNet } from '../network/resolvenet.js';
import { DirectoryRoot, onHost, type Root } from '../host/root.js';
import { VmctxError, describeError, errnoCode } from '../shared/errors.js';
import { ConsoleLines, createLogger, type Logger } from '../shared/logger.js';
import { REDACTED, Secret, redactVariables } from '../shared/secret.js';
import type { Accounts } from '../agent/context/types.js';
import { VERSION } from '../shared/version.js';
import { EXIT, exitCodeFor, exitCodeForContextFailure, isImageInputError } from './exit.js';
import { metadataWaitingLine, terminalProgress } from './progress.js';
import { howStarted, installAgent, uninstallAgent } from '../image/install.js';
import { loadConfig } from '../agent/config.js';
import { DAEMON_SOCKET, REASON, notifyDaemon } from '../agent/daemon.js';
import { reconfigureOnce, serveDaemon, type DaemonControl } from '../agent/daemonpolicy.js';
import { formatWarning } from '../agent/context/context.js';
import { ensureLocalDirectory, mustExist, readOptionFile, writeDenied } from '../host/localfiles.js';
import { bootedBySystemd, unitProperties } from '../host/systemd.js';
import type { MakeIsoOptions } from '../provider/contextcd.js';

export const LOG_PATH = '/var/log/vmctx.log';
export const STATE_DIR = '/var/lib/vmctx';

export interface RunFlags {
  source: string;
  root: string;
  stateDir?: string;
  stage: Stage | 'all';
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
  /** The module table on stdout too (the per-module lines on stderr are always there unless quiet). */
  verbose?: boolean | undefined;
  waitMedium?: number | undefined;
  metadataUrl?: string | undefined;
  metadataBudget?: number | undefined;
}

function out(text: string): void {
  process.stdout.write(text);
}

function stateFor(flags: { root: string; stateDir?: string | undefined }, root: Root): { stateRoot: Root; stateDir: string } {
  if (flags.stateDir !== undefined) return { stateRoot: new DirectoryRoot(flags.stateDir), stateDir: '' };
  return { stateRoot: root, stateDir: STATE_DIR };
}

/** The agent's log file under the root; on failure, a console warning and console-only logging. */
async function openLog(root: DirectoryRoot, consoleLines: ConsoleLines, write = true): Promise<{ logger: Logger; close(): Promise<void> }> {
  let handle: Awaited<ReturnType<DirectoryRoot['openAppend']>> | undefined;
  try {
    if (write) handle = await root.openAppend(LOG_PATH, 0o600);
  } catch (error) {
    consoleLines.line(`warning: cannot open ${LOG_PATH}: ${guestPathMessage(describeError(error).message, LOG_PATH)}; logging to the console only`);
  }
  const logger = createLogger(handle?.fd);
  return {
    logger,
    async close() {
      logger.flush();
      await handle?.close();
    },
  };
}

/**
 * A real run writes system files under the root: one this user cannot write (not root, on /) is
 * said up front, by its path, rather than as EACCES from deep inside. A read-only or missing root
 * is left to the run, which reports it per file.
 */
async function checkWritableRoot(dir: string): Promise<void> {
  const error = await writeDenied(dir);
  if (error !== undefined) {
    const code = error.code ?? 'EACCES';
    const uid = process.getuid?.();
    throw new VmctxError(
      'ERR_PRIVILEGE',
      uid === 0
        ? `cannot write to the root directory ${dir} (${code}); nothing was applied`
        : `vmctx run needs root: it writes system files (/etc, /run/vmctx, /var/lib/vmctx) under ${dir}, which this user (uid ${uid ?? '?'}) cannot write; nothing was applied. Run it as root, or with --dry-run to see what it would change`,
      { cause: error },
    );
  }
}

export async function runCommand(flags: RunFlags): Promise<number> {
  if (!flags.dryRun) await checkWritableRoot(flags.root);
  const realRoot = new DirectoryRoot(flags.root);
  const root: Root = flags.dryRun ? new DryRunRoot(realRoot) : realRoot;
  const state = stateFor(flags, realRoot);
  const stateRoot = flags.dryRun ? new DryRunRoot(state.stateRoot) : state.stateRoot;
  const consoleLines = new ConsoleLines(!flags.quiet);
  if (flags.stateDir !== undefined && !flags.dryRun) await ensureLocalDirectory(flags.stateDir, 0o700);
  // a dry run writes nothing, not even the log
  const log = await openLog(realRoot, consoleLines, !flags.dryRun);
  const { logger } = log;
  const exec = flags.dryRun ? new RecordingExec(new HostExec(), root instanceof DryRunRoot ? root : undefined) : new HostExec();
  try {
    const report = await runAgent({
      root,
      stateRoot,
      stateDir: state.stateDir,
      source: flags.source,
      stage: flags.stage,
      dryRun: flags.dryRun,
      exec,
      logger,
      console: consoleLines,
      ...(flags.waitMedium === undefined ? {} : { probe: { ...defaultProbe, waitMs: flags.waitMedium } }),
      metadataUrl: flags.metadataUrl,
      metadataBudgetMs: flags.metadataBudget,
      version: VERSION,
      ...(realRoot.isLive ? { listNics: listGuestNics, scripts: new HostScriptRunner() } : {}),
    });
    // each module's result is printed once: its line on stderr as it finishes (the boot console);
    // the whole table on stdout only when asked (-v), the report with --json
    // with --json, stdout is one JSON document: a dry run's plan goes inside it (paths, kinds,
    // modes and sizes — never contents, which may be secrets), not as text after it
    const plan = flags.dryRun && root instanceof DryRunRoot ? root : undefined;
    if (flags.json) out(`${JSON.stringify(plan === undefined ? report : { ...report, dryRun: dryRunJson(plan, exec) }, null, 2)}\n`);
    else if (flags.verbose === true) out(runTable(report));
    // quiet: no module lines, and the result only when it is not ok — then with why (said nowhere else)
    if (!flags.quiet) process.stderr.write(`vmctx: ${runResultLine(report)}\n`);
    else if (report.result !== 'ok') process.stderr.write(`vmctx: ${runResultLine(report)}${report.error === undefined ? '' : `: ${report.error.message}`}\n`);
    if (plan !== undefined && !flags.json) {
      out(plan.changes.length === 0 ? 'dry run: nothing would change\n' : `dry run: ${plan.changes.length} change(s) would be made:\n`);
      for (const change of plan.changes) out(renderChange(change));
      if (exec instanceof RecordingExec) for (const c of exec.commands) out(`would run: ${c.join(' ')}\n`);
    }
    return exitCodeFor(report.result);
  } finally {
    await log.close();
  }
}

/** A dry run's plan for --json: each change without its content, and the commands it would run. */
/** ctx.accounts for `show --json`: as it is, with each password's value revealed only when asked. */
function accountsView(accounts: Accounts, showSecrets: boolean): object {
  const secret = (s: Secret): string => (showSecrets ? s.reveal() : REDACTED);
  return {
    defaultUser: accounts.defaultUser,
    users: accounts.users.map((u) => ({ ...u, password: u.password === undefined ? null : { ...u.password, secret: secret(u.password.secret) } })),
    groups: accounts.groups,
    passwords: accounts.passwords.map((p) => ({ ...p, secret: secret(p.secret) })),
    sshPwauth: accounts.sshPwauth ?? null,
  };
}

function dryRunJson(root: DryRunRoot, exec: unknown): { changes: object[]; commands: string[][] } {
  return {
    changes: root.changes.map((c) => ({
      path: c.path,
      kind: c.kind === 'write' ? (c.before === undefined ? 'create' : 'modify') : c.kind,
      ...(c.mode === undefined ? {} : { mode: c.mode.toString(8).padStart(4, '0') }),
      ...(c.owner === undefined ? {} : { owner: `${c.owner.uid}:${c.owner.gid}` }),
      ...(c.kind === 'write' ? { bytes: c.after?.length ?? 0 } : {}),
      ...(c.kind === 'symlink' ? { target: c.after?.toString('utf8') ?? '' } : {}),
    })),
    commands: exec instanceof RecordingExec ? exec.commands.map((cmd) => [...cmd]) : [],
  };
}

export interface ShowFlags {
  source: string;
  root: string;
  stateDir?: string | undefined;
  json: boolean;
  showSecrets: boolean;
  waitMedium?: number | undefined;
  metadataUrl?: string | undefined;
  metadataBudget?: number | undefined;
}

/** The waiting line before a metadata request, on a terminal only (never with --json). */
function metadataWaitNotice(json: boolean): ((url: string, budgetMs: number) => void) | undefined {
  const progress = terminalProgress(process.stderr, { json });
  return progress === undefined ? undefined : (url, budgetMs) => {
    progress.waiting(metadataWaitingLine(url, budgetMs));
  };
}

export async function showCommand(flags: ShowFlags): Promise<number> {
  const root = new DirectoryRoot(flags.root);
  let loaded;
  try {
    const { config, warnings } = await loadConfig(root);
    for (const w of warnings) process.stderr.write(`vmctx: warning: ${w}\n`);
    const state = stateFor(flags, root);
    loaded = await loadContext({
      source: flags.source,
      root,
      probe: { ...defaultProbe, waitMs: flags.waitMedium ?? config.mediumWaitMs },
      config,
      cache: { root: state.stateRoot, dir: state.stateDir, write: false },
      metadataUrl: flags.metadataUrl,
      metadataBudgetMs: flags.metadataBudget,
      onMetadataWait: metadataWaitNotice(flags.json),
    });
  } catch (error) {
    const d = describeError(error);
    process.stderr.write(`vmctx: ${d.code}: ${d.message}\n`);
    return exitCodeForContextFailure(error);
  }
  try {
    const ctx = loaded.context;
    // on the running system, show the devices as they resolve (by MAC, position, glob) to this guest's NICs
    const resolved = root.isLive ? resolveNet(configuredModel(ctx.net.model), await listGuestNics(), { keepAbsent: true, matchesByMac: true }) : undefined;
    const network = { origin: ctx.net.origin, ...(ctx.net.backend === undefined ? {} : { backend: ctx.net.backend }), model: resolved?.model ?? ctx.net.model, names: Object.fromEntries(resolved?.names ?? []), notes: [...ctx.net.notes, ...(resolved?.notes ?? [])] };
    const view = {
      source: ctx.source,
      sourceAttempts: loaded.attempts,
      ...(loaded.degraded === undefined ? {} : { degraded: loaded.degraded }),
      instanceId: ctx.instanceId,
      variables: flags.showSecrets ? ctx.variables : redactVariables(ctx.variables),
      context: {
        instanceIdSource: ctx.instanceIdSource,
        hostname: ctx.hostname ?? null,
        dns: ctx.dns,
        username: ctx.username,
        user: ctx.user,
        password: ctx.password === undefined ? null : { source: ctx.password.source, kind: ctx.password.kind },
        sshKeys: ctx.sshKeys,
        // the accounts, groups and passwords from every source; a password only with --show-secrets
        accounts: accountsView(ctx.accounts, flags.showSecrets),
        network,
        // the NetModel the source's network document (or the variables) mapped into
        net: ctx.net,
        mediumFiles: ctx.medium.names,
        warnings: ctx.warnings,
        unused: ctx.unused,
      },
    };
    // the same lines as `run` and `validate` print, on stderr
    for (const w of ctx.warnings) process.stderr.write(`vmctx: ${formatWarning(w)}\n`);
    if (flags.json) {
      out(`${JSON.stringify(view, null, 2)}\n`);
    } else {
      // the NICs as the context gives them; matching them to this system's is listed among the problems
      out(showText(ctx, { attempts: loaded.attempts, degraded: loaded.degraded, variables: view.variables, resolved }));
      if (ctx.unused.length > 0) out(`not used by vmctx: ${ctx.unused.join(' ')}\n`);
    }
    return EXIT.ok;
  } finally {
    await loaded.close();
  }
}

export interface StatusFlags {
  root: string;
  stateDir?: string | undefined;
  json: boolean;
  long?: boolean | undefined;
  /** Block until the boot's final stage is done (or will not run), then exit with the boot's result. */
  wait?: boolean | undefined;
  /** Seconds --wait waits at most (exit 8 when it runs out). */
  timeout?: number | undefined;
}

/** vmctx-final.service as systemd sees it on the running system: failed, skipped by a condition, done, or still to come. */
async function finalUnitState(root: Root): Promise<BootMarkers['finalUnit']> {
  if (!root.isLive || !(await bootedBySystemd())) return undefined;
  const v = await unitProperties('vmctx-final.service', ['ActiveState', 'Result', 'ConditionResult', 'ConditionTimestampMonotonic']);
  if (v === undefined) return undefined;
  if (v['ActiveState'] === 'failed') return 'failed';
  if (v['ConditionResult'] === 'no' && Number(v['ConditionTimestampMonotonic'] ?? '0') > 0) return 'skipped';
  if (v['ActiveState'] === 'active') return 'done';
  return 'pending';
}

async function bootView(root: Root): Promise<{ record: BootRecord | undefined; markers: BootMarkers; report: RunReport | undefined; reportDamaged: boolean }> {
  const text = await root.readText(REPORT_PATH).catch(() => undefined);
  let report: RunReport | undefined;
  let reportDamaged = false;
  try {
    report = text === undefined ? undefined : (JSON.parse(text) as RunReport);
  } catch {
    reportDamaged = true;
  }
  // a report from before boot records existed still tells of its one stage
  const record = (await readBootRecord(root)) ?? (report === undefined || report.dryRun ? undefined : { bootId: report.bootId ?? '', stages: [stageRecord(report)] });
  const exists = async (path: string): Promise<boolean> => (await root.lstat(path).catch(() => undefined)) !== undefined;
  const markers: BootMarkers = {
    needNetwork: await exists(NEED_NETWORK_PATH),
    finalIdle: await exists(FINAL_IDLE_PATH),
    running: (await lockHolder(root)) !== undefined,
    finalUnit: await finalUnitState(root),
  };
  return { record, markers, report, reportDamaged };
}

/** This boot's id, when the root has one (a scratch root may not: then no record is called another boot's). */
async function currentBootId(root: DirectoryRoot): Promise<string | undefined> {
  const id = (await root.readText('/proc/sys/kernel/random/boot_id', { maxBytes: 64 }).catch(() => undefined))?.trim();
  return id === undefined || id === '' ? undefined : id;
}

export async function statusCommand(flags: StatusFlags): Promise<number> {
  const root = new DirectoryRoot(flags.root);
  const { stateRoot, stateDir } = stateFor(flags, root);
  let view = await bootView(root);
  let timedOut = false;
  if (flags.wait === true) {
    const waited = await waitForBoot(
      async () => {
        view = await bootView(root);
        return bootProgress(view.record, view.markers);
      },
      { timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000, now: () => Date.now(), sleep: (ms) => new Promise((r) => { setTimeout(r, ms); }) },
    );
    timedOut = waited.timedOut;
  }
  const state = new StateStore(stateRoot, stateDir);
  await state.load();
  const { record, markers, report } = view;
  if (view.reportDamaged) process.stderr.write(`vmctx: ${REPORT_PATH} is damaged\n`);
  if (record === undefined && Object.keys(state.data.modules).length === 0 && state.data.run === undefined && flags.wait !== true) {
    process.stderr.write(`vmctx: no run recorded (${REPORT_PATH} and the state are absent)\n`);
    return EXIT.noContext;
  }
  const progress = bootProgress(record, markers);
  // OneGate's ready report (REPORT_READY=YES): reported at, pending with the last error, or why not
  const ready = await readReadyRecord(stateRoot, stateDir);
  if (flags.json) {
    out(`${JSON.stringify({ status: progress.state, result: progress.result ?? null, why: progress.why, boot: record ?? null, markers, lastRun: report ?? null, state: state.data, ready: ready ?? null }, null, 2)}\n`);
  } else {
    out(statusText({ progress, record, markers }, flags.long === true));
    if (ready !== undefined) out(`ready: ${describeReady(ready, { bootId: await currentBootId(root), at: Date.now() })}\n`);
    // a run that holds no lock any more and never cleared its marker crashed or was killed
    const unfinished = state.data.run;
    if (markers.running) out(`a run is in progress (pid ${(await lockHolder(root)) ?? '?'})\n`);
    else if (unfinished !== undefined) {
      out(`last run: stage ${unfinished.stage}, started ${unfinished.startedAt}, never finished (crashed or killed); the next run re-applies what is safe to. See the journal (journalctl -u 'vmctx-*') and ${LOG_PATH}\n`);
    }
    if (flags.long === true) {
      out('\nstate (across boots):\n');
      const width = Math.max(0, ...Object.keys(state.data.modules).map((id) => id.length));
      for (const [id, r] of Object.entries(state.data.modules)) {
        out(`  ${id.padEnd(width)}  ${r.status.padEnd(11)}  ${r.finishedAt ?? r.startedAt}  instance ${r.instanceId}${r.error === undefined ? '' : `  ${r.error.code}: ${r.error.message}`}\n`);
      }
    }
  }
  if (flags.wait !== true) return EXIT.ok;
  if (timedOut) {
    process.stderr.write(`vmctx: the boot was not done after ${flags.timeout ?? 0} s: ${progress.why}\n`);
    return EXIT.busy;
  }
  if (progress.result === 'gave-up') return EXIT.internal;
  return exitCodeFor(bootResult(record?.stages ?? []));
}

export type MakeIsoFlags = MakeIsoOptions;

/** `vmctx make-iso`: a context CD or a seed, written atomically to -o. */
export async function makeIsoCommand(flags: MakeIsoFlags): Promise<number> {
  // the provider tools are loaded only by their commands: the agent's boot runs never pay for them
  const { makeIso } = await import('../provider/contextcd.js');
  const made = await makeIso(flags);
  process.stderr.write(`vmctx: wrote ${flags.output} (${made.bytes} bytes, label ${made.label}, ${made.what})\n`);
  return EXIT.ok;
}

export interface InstallFlags {
  root: string;
  bundle: string;
  node: string | false;
  packageLayout?: boolean;
}

/** Installs the agent into a root (the running system by default). */
export async function installCommand(flags: InstallFlags): Promise<number> {
  const bundle = await readOptionFile('--bundle', flags.bundle);
  const node = flags.node === false ? { system: '/usr/bin/node' } : { binary: await readOptionFile('--node', flags.node) };
  const root = new DirectoryRoot(flags.root);
  const result = await installAgent(root, { bundle, node, packageLayout: flags.packageLayout === true });
  if (flags.packageLayout === true) {
    process.stderr.write(`vmctx: package tree in ${flags.root}: ${result.changed.join(', ')}\n`);
    return EXIT.ok;
  }
  process.stderr.write(`vmctx: installed into ${flags.root}; ${result.changed.length === 0 ? 'nothing changed' : `changed ${result.changed.join(', ')}`}\n`);
  process.stderr.write(`vmctx: at boot: ${await howStarted(root, result.initSystem)}\n`);
  return EXIT.ok;
}

export interface ServeMetadataFlags {
  from?: string | undefined;
  listen: string;
  imdsv2: 'required' | 'optional';
  fault: string[];
  quiet: boolean;
  onegate?: boolean;
  onegateTokenFile?: string | undefined;
  onegateVmid?: string | undefined;
}

/** Serves EC2/OpenStack metadata until SIGINT/SIGTERM. */
export async function serveMetadataCommand(flags: ServeMetadataFlags): Promise<number> {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/u.exec(flags.listen);
  if (m === null) throw new VmctxError('ERR_USAGE', `--listen ${flags.listen}: expected HOST:PORT (IPv6 as [ADDR]:PORT)`);
  const host = m[1] ?? m[2] ?? '127.0.0.1';
  const port = Number(m[3]);
  // the provider and image tools are loaded only by their commands: the agent's boot runs never pay for them
  const { MetadataServer, parseFault } = await import('../provider/server.js');
  const { loadTree } = await import('../provider/tree.js');
  if (flags.from === undefined && flags.onegate !== true) throw new VmctxError('ERR_USAGE', 'serve-metadata needs --from (the metadata to serve), --onegate, or both');
  let onegate: { token: string; vmid: string } | undefined;
  if (flags.onegate === true) {
    if (flags.onegateTokenFile === undefined || flags.onegateVmid === undefined) throw new VmctxError('ERR_USAGE', '--onegate needs --onegate-token-file and --onegate-vmid');
    onegate = { token: (await readOptionFile('--onegate-token-file', flags.onegateTokenFile, 4096)).toString('utf8').trim(), vmid: flags.onegateVmid };
  } else if (flags.onegateTokenFile !== undefined || flags.onegateVmid !== undefined) throw new VmctxError('ERR_USAGE', '--onegate-token-file and --onegate-vmid go with --onegate');
  const server = new MetadataServer({
    tree: flags.from === undefined ? new Map<string, Buffer>() : await loadTree(flags.from),
    imdsv2: flags.imdsv2,
    faults: flags.fault.map(parseFault),
    ...(onegate === undefined ? {} : { onegate }),
    ...(flags.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
  });
  let where;
  try {
    where = await server.listen(host, port);
  } catch (error) {
    await server.close().catch(() => undefined);
    const code = errnoCode(error) ?? '';
    const why: Record<string, string> = {
      EADDRINUSE: 'the port is in use (another process listens there); choose another port, or port 0 for any free one',
      EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
      EADDRNOTAVAIL: 'not an address of this machine',
      ENOTFOUND: 'no such host',
      EAI_AGAIN: 'the host name does not resolve now',
    };
    const reason = why[code];
    if (reason === undefined) throw error;
    throw new VmctxError('ERR_USAGE', `--listen ${flags.listen}: cannot listen there: ${reason}`, { cause: error });
  }
  process.stderr.write(`vmctx: serving ${flags.from === undefined ? 'no metadata' : `metadata from ${flags.from}`}${onegate === undefined ? '' : `, OneGate /vm for VM ${onegate.vmid}`} on ${where.url} (IMDSv2 ${flags.imdsv2})\n`);
  // the line tests and scripts wait for (the port matters when --listen asked for port 0)
  out(`listening ${where.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => { resolve(); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return EXIT.ok;
}

export interface BakeFlags {
  output?: string;
  inPlace: boolean;
  partition?: number;
  bundle: string;
  node?: string;
  sysprep: boolean;
  skip: string[];
  imageName?: string;
  imageVersion?: string;
  recipeName?: string;
  zero: boolean;
  dryRun: boolean;
  force: boolean;
  check: boolean;
  json: boolean;
  compress?: 'raw' | 'gz' | 'bz2' | 'zip' | 'xz';
  scripts?: string;
  template: string[];
  udevAliases: boolean;
  console?: string;
  run: string[];
  install?: string[];
  runTimeout: number;
  quiet?: boolean;
  zipEntry?: string;
}

/** `vmctx bake IMAGE`: install vmctx into an image (or lint it with --check). */
export async function bakeCommand(image: string, flags: BakeFlags): Promise<number> {
  const { bake, changeSummary } = await import('../image/bake.js');
  const { checkImage } = await import('../image/check.js');
  const quiet = flags.quiet === true;
  // bars and step lines on a terminal only, never with --json or -q
  const progress = terminalProgress(process.stderr, { json: flags.json, quiet });
  try {
    if (flags.check && flags.console !== undefined) throw new VmctxError('ERR_USAGE', '--console changes the image, --check only reads it: run them one after the other');
    if (flags.check) {
      const { items, where } = await checkImage(image, flags.partition, { progress, zipEntry: flags.zipEntry });
      progress?.finish();
      const failed = items.some((i) => i.status === 'FAIL');
      if (flags.json) out(`${JSON.stringify({ image, where, ok: !failed, items }, null, 2)}\n`);
      else if (!quiet || failed) {
        out(`${image} (${where})\n`);
        for (const i of items) if (!quiet || i.status === 'FAIL') out(`  ${i.status.padEnd(4)}  ${i.item.padEnd(22)} ${i.detail}\n`);
        out(failed ? 'check: FAILED\n' : 'check: ok\n');
      }
      return failed ? EXIT.checkFailed : EXIT.ok;
    }
    const result = await bake({
      input: image,
      output: flags.output,
      inPlace: flags.inPlace,
      partition: flags.partition,
      bundle: await readOptionFile('--bundle', flags.bundle),
      node: flags.node === undefined ? undefined : flags.node === 'system' ? 'system' : { binary: await readOptionFile('--node', flags.node), source: flags.node },
      sysprep: flags.sysprep,
      skip: flags.skip.flatMap((s) => s.split(',')).filter((s) => s !== ''),
      stamp: {
        ...(flags.imageName === undefined ? {} : { image_name: flags.imageName }),
        ...(flags.imageVersion === undefined ? {} : { image_version: flags.imageVersion }),
        ...(flags.recipeName === undefined ? {} : { recipe_name: flags.recipeName }),
      },
      zeroFree: flags.zero,
      dryRun: flags.dryRun,
      force: flags.force,
      scripts: flags.scripts,
      templates: flags.template,
      udevAliases: flags.udevAliases,
      consoles: flags.console === undefined ? undefined : [flags.console],
      run: flags.run,
      install: flags.install,
      runTimeoutSeconds: flags.runTimeout,
      compress: flags.compress,
      zipEntry: flags.zipEntry,
      progress,
    });
    progress?.finish();
    if (flags.json) {
      // changes as paths, kinds and sizes: never the content of a file (the Node binary is 100 MB)
      out(`${JSON.stringify({ ...result, ...(result.changes === undefined ? {} : { changes: result.changes.map(changeSummary) }) }, null, 2)}\n`);
      return EXIT.ok;
    }
    for (const w of result.warnings) process.stderr.write(`vmctx: warning: ${w}\n`);
    if (quiet) return EXIT.ok;
    out(`${flags.dryRun ? 'would bake' : 'baked'} ${image} → ${result.output} (${result.fsKind}, ${result.where}) in ${result.durationMs} ms\n`);
    const n = result.node;
    out(`node: ${n.kind === 'image' ? `the image's own (${n.path})` : `${n.kind === 'host' ? `this host's Node ${n.version ?? ''}` : n.from ?? ''} shipped as ${n.path} (${((n.bytes ?? 0) / 1048576).toFixed(1)} MiB)`}\n`);
    out(`installed: ${result.installed.length === 0 ? 'nothing changed' : result.installed.join(', ')}\n`);
    for (const s of result.sysprep) out(`sysprep ${s.step}: ${s.actions.length === 0 ? 'nothing to do' : s.actions.join('; ')}\n`);
    for (const note of result.consoleNotes) out(`console: ${note}\n`);
    if (result.zeroedBytes > 0) out(`zeroed ${(result.zeroedBytes / 1048576).toFixed(1)} MiB of free blocks\n`);
    out(`/etc/image-id: image_stamp=${result.stamp['image_stamp'] ?? ''} image_date=${result.stamp['image_date'] ?? ''}\n`);
    if (result.changes !== undefined) for (const c of result.changes) out(renderChange(c));
    return EXIT.ok;
  } catch (error) {
    progress?.finish();
    if (isImageInputError(error)) {
      process.stderr.write(`vmctx: ${error.code}: ${error.message}\n`);
      return EXIT.invalidContext;
    }
    if (error instanceof VmctxError && error.code === 'ERR_CONSOLE_READ') {
      process.stderr.write(`vmctx: ${error.code}: ${error.message}; nothing was written\n`);
      return EXIT.invalidContext;
    }
    if (error instanceof VmctxError && error.code === 'ERR_CONSOLE_NAME') {
      process.stderr.write(`vmctx: ${error.code}: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

/** `vmctx sparsecopy SRC DST`: a sparse copy, what it copied and skipped said after. */
export async function sparsecopyCommand(src: string, dst: string, flags: { size?: number; growLast: boolean; extentMap: boolean; json: boolean; quiet: boolean }): Promise<number> {
  const { sparsecopy } = await import('../image/sparsecopy.js');
  const progress = terminalProgress(process.stderr, { json: flags.json, quiet: flags.quiet });
  try {
    const r = await sparsecopy({ source: src, dest: dst, size: flags.size, growLast: flags.growLast, extentMap: flags.extentMap, progress });
    progress?.finish();
    if (flags.json) out(`${JSON.stringify(r, null, 2)}\n`);
    else if (!flags.quiet) {
      const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
      out(`copied ${src} → ${dst}${r.compression === 'raw' ? '' : ` (${r.compression} decompressed)`}: ${mib(r.sourceBytes)}; data ${mib(r.dataBytes)} written, holes ${mib(r.holeBytes)} skipped (${r.holeMethod === 'extent-map' ? `${mib(r.holesUnread)} of them never read: the file system's extent map` : 'found by reading and comparing every byte'})\n`);
      if (r.destKind === 'block device') out(`block device: ${mib(r.holesVerified)} of holes read back, ${mib(r.zerosWritten)} of zeros written where it did not read zero\n`);
      if (r.destBytes !== r.sourceBytes) out(`${dst}: ${mib(r.destBytes)}\n`);
      for (const a of r.table?.actions ?? []) out(`${a}\n`);
    }
    return EXIT.ok;
  } catch (error) {
    progress?.finish();
    // refused or unreadable input (too small, the same file, a damaged GPT): said, exit 4 as bake's
    if (error instanceof VmctxError && (error.code.startsWith('ERR_SPARSECOPY_') || isImageInputError(error))) {
      process.stderr.write(`vmctx: ${error.code}: ${error.message}\n`);
      return EXIT.invalidContext;
    }
    throw error;
  }
}

/** Removes the agent from this system or a root directory (state, logs and config stay). */
export async function uninstallCommand(flags: { root: string }): Promise<number> {
  const { removed } = await uninstallAgent(new DirectoryRoot(flags.root));
  process.stderr.write(`vmctx: uninstalled from ${flags.root}: ${removed.length === 0 ? 'nothing was installed' : `removed ${removed.join(', ')}`}; run state, logs and /etc/vmctx/config kept\n`);
  return EXIT.ok;
}

export interface DaemonFlags {
  source: string;
  root: string;
  stateDir?: string | undefined;
  once: boolean;
  notify?: string | undefined;
  metadataUrl?: string | undefined;
  pollInterval?: number | undefined;
  debounce?: number | undefined;
  quiet: boolean;
}

/** SIGTERM and SIGINT stop the daemon, SIGHUP makes it look again; `dispose` takes the handlers away. */
function daemonSignals(): DaemonControl & { dispose(): void } {
  let hangup: (() => void) | undefined;
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  const onHup = (): void => { hangup?.(); };
  const dispose = (): void => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', onHup);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', onHup);
  return { stopped: stopped.then(dispose), onHangup: (look) => { hangup = look; }, dispose };
}

/**
 * `vmctx daemon`: re-applies the on-change modules when the context CD changes, a NIC comes or
 * goes, or (remote contexts) the metadata changes. `--once`: one check, then exit. `--notify R`:
 * tell a running daemon (what the udev rule runs); quiet and exit 0 when none runs.
 */
export async function daemonCommand(flags: DaemonFlags): Promise<number> {
  const realRoot = new DirectoryRoot(flags.root);
  if (flags.notify !== undefined) {
    if (!REASON.test(flags.notify)) throw new VmctxError('ERR_USAGE', `--notify takes one short lower-case word (e.g. media, net), not ${JSON.stringify(flags.notify.slice(0, 40))}`);
    await notifyDaemon(onHost(realRoot, DAEMON_SOCKET), flags.notify);
    return EXIT.ok;
  }
  const state = stateFor(flags, realRoot);
  if (flags.stateDir !== undefined) await ensureLocalDirectory(flags.stateDir, 0o700);
  const consoleLines = new ConsoleLines(!flags.quiet);
  const log = await openLog(realRoot, consoleLines);
  const options = { root: realRoot, ...state, source: flags.source, metadataUrl: flags.metadataUrl, logger: log.logger, version: VERSION, console: consoleLines };
  try {
    if (flags.once) return exitCodeFor(await reconfigureOnce(options));
    const signals = daemonSignals();
    try {
      await serveDaemon({ ...options, pollMs: flags.pollInterval === undefined ? undefined : flags.pollInterval * 1000, debounceMs: flags.debounce }, signals);
    } finally {
      signals.dispose();
    }
    return EXIT.ok;
  } finally {
    await log.close();
  }
}

export interface ValidateFlags {
  source?: string | undefined;
  json: boolean;
  verbose: boolean;
}

/** `vmctx validate`: every problem with file:line:col; exit 0 clean, 4 when there are problems. */
export async function validateCommand(files: readonly string[], flags: ValidateFlags): Promise<number> {
  if (flags.source === undefined && files.length === 0) throw new VmctxError('ERR_USAGE', 'validate: give files to check, or --source PATH (a directory, or an ISO or vfat image)');
  // a path that is not there is a mistake in the command line, not in the context
  for (const path of [...(flags.source === undefined ? [] : [flags.source]), ...files]) {
    await mustExist(path).catch((error: unknown) => {
      throw new VmctxError('ERR_USAGE', `validate: ${path}: ${describeError(error).message}`, { cause: error });
    });
  }
  const { formatDiagnostic, sortDiagnostics, validateFile, validateSource } = await import('../agent/validate.js');
  const all = [];
  if (flags.source !== undefined) for (const d of await validateSource(flags.source)) all.push(d);
  for (const file of files) for (const d of await validateFile(file)) all.push(d);
  const shown = sortDiagnostics(all).filter((d) => flags.verbose || d.severity !== 'info');
  const problems = all.filter((d) => d.severity !== 'info');
  if (flags.json) out(`${JSON.stringify({ ok: problems.length === 0, problems: problems.length, diagnostics: shown }, null, 2)}\n`);
  else {
    for (const d of shown) out(`${formatDiagnostic(d)}\n`);
    const errors = problems.filter((d) => d.severity === 'error').length;
    process.stderr.write(problems.length === 0 ? 'vmctx: valid: no problems found\n' : `vmctx: ${errors} error(s), ${problems.length - errors} warning(s)\n`);
  }
  return problems.length === 0 ? EXIT.ok : EXIT.invalidContext;
}
