// Text a person reads: the run table (`run -v`), the boot's status (`status`, `status --long`) and
// the context view (`show`). Pure functions of the reports, so their exact output is tested.
import type { BootProgress, BootRecord, StageModule, StageName, StageRecord } from '../agent/bootrecord.js';
import { STAGE_ORDER } from '../agent/bootrecord.js';
import type { Context } from '../agent/context/context.js';
import type { ModuleReport, RunReport } from '../agent/report.js';
import type { Device, NetModel, RouteSpec } from '../network/netmodel.js';
import type { NetworkPlan } from '../network/plan.js';
import type { ResolvedNet } from '../network/resolvenet.js';

/** Left-aligned columns, each as wide as its widest cell; trailing spaces trimmed. */
export function table(rows: ReadonlyArray<readonly string[]>, right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 && !right.has(i) ? cell : right.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

const ms = (n: number): string => `${Math.round(n * 10) / 10} ms`;

function moduleWhat(m: Pick<ModuleReport, 'changed' | 'error' | 'reason' | 'status'>): string {
  if (m.error !== undefined) return `${m.error.code}: ${m.error.message}`;
  if (m.changed.length > 0) return `changed ${m.changed.join(', ')}`;
  return m.reason;
}

function moduleRows(modules: ReadonlyArray<StageModule | ModuleReport>): string[] {
  return table(modules.map((m) => [m.id, m.status, ms(m.durationMs), moduleWhat(m)]), new Set([2])).map((l) => `  ${l}`);
}

/** `run -v`: the result, where the context came from, and one row per module. */
export function runTable(report: RunReport): string {
  const lines = [`result: ${report.result}${report.error === undefined ? '' : ` (${report.error.code}: ${report.error.message})`}`];
  // what was looked at and why it was not used (the other sources), as `show` says it
  for (const a of report.sourceAttempts) lines.push(`looked at: ${a.path}: ${a.result}`);
  if (report.source !== undefined) lines.push(`source: ${report.source.path} (${report.source.foundBy})`, `instance: ${report.instanceId ?? '?'} (from ${report.instanceIdSource ?? '?'})`);
  lines.push(...moduleRows(report.modules));
  const t = report.timings;
  lines.push(`total: ${report.durationMs} ms${t === undefined ? '' : ` (context after ${t.contextMs ?? '-'} ms; the runtime started ${t.processToRunMs} ms before the run)`}`);
  return `${lines.join('\n')}\n`;
}

/** The one line `run` ends with on stderr: the result and what the modules did, counted. */
export function runResultLine(report: RunReport): string {
  return `result: ${report.result} in ${report.durationMs} ms${report.modules.length === 0 ? '' : ` (${counts(report.modules)})`}`;
}

function counts(modules: ReadonlyArray<{ status: string }>): string {
  const order = ['applied', 'unchanged', 'failed', 'skipped', 'not-relevant'];
  const n = new Map<string, number>();
  for (const m of modules) n.set(m.status, (n.get(m.status) ?? 0) + 1);
  return order.filter((s) => n.has(s)).map((s) => `${n.get(s) ?? 0} ${s === 'not-relevant' ? 'not relevant' : s}`).join(', ');
}

const sec = (s: number | undefined): string => (s === undefined ? '-' : `${s.toFixed(3)} s`);

/** Why a stage has no entry this boot. */
function notRun(stage: StageName, markers: { needNetwork: boolean; finalIdle: boolean }): string {
  if (stage === 'network') return markers.needNetwork ? 'not run yet (the local stage asked for it)' : 'not needed (no /run/vmctx/need-network: the local stage found a context, or none was looked for)';
  if (stage === 'final') return markers.finalIdle ? 'skipped (no final-stage work this boot: /run/vmctx/final-idle)' : 'not run yet';
  return 'not run yet';
}

export interface StatusView {
  readonly progress: BootProgress;
  readonly record: BootRecord | undefined;
  readonly markers: { readonly needNetwork: boolean; readonly finalIdle: boolean };
}

/** The stages shown: local, network, final (or one "all" run), with those that did not run. */
function shownStages(record: BootRecord | undefined): StageName[] {
  const ran = new Set((record?.stages ?? []).map((s) => s.stage));
  if (ran.has('all') && !ran.has('local') && !ran.has('network') && !ran.has('final')) return ['all'];
  return STAGE_ORDER.filter((s) => s !== 'all' || ran.has('all'));
}

function stageTimes(s: StageRecord): [string, string] {
  if (s.startSec !== undefined && s.endSec !== undefined) return [sec(s.startSec), sec(s.endSec)];
  return [s.startedAt.slice(11, 23), s.finishedAt.slice(11, 23)];
}

/** `status`: the boot in a few lines; `status --long`: with a timeline and every module of every stage. */
export function statusText(view: StatusView, long: boolean): string {
  const { progress, record, markers } = view;
  const stages = new Map((record?.stages ?? []).map((s) => [s.stage, s]));
  const lines = [`status: ${progress.state}${progress.state === 'done' ? '' : ` (${progress.why})`}`];
  if (progress.result !== undefined) lines.push(`result: ${progress.result}`);
  const known = record?.stages.find((s) => s.instanceId !== undefined);
  if (known !== undefined) lines.push(`instance: ${known.instanceId ?? '?'} (context from ${known.source ?? '?'})`);
  if (long && record !== undefined) {
    lines.push(`boot: ${record.bootAt === undefined ? 'time unknown (no /proc/uptime or /proc/stat in this root): times are wall-clock' : `${record.bootAt} (from ${record.bootClock === 'btime' ? '/proc/stat btime' : '/proc/uptime'}); times are seconds after it`}`);
  }
  const rows: string[][] = [['stage', 'result', 'start', 'end', 'took', 'modules']];
  for (const name of shownStages(record)) {
    const s = stages.get(name);
    if (s === undefined) rows.push([name, notRun(name, markers)]);
    else rows.push([name, s.result, ...stageTimes(s), `${s.durationMs} ms`, counts(s.modules) || (s.error === undefined ? '-' : `${s.error.code}: ${s.error.message}`)]);
  }
  // rows of stages that did not run are a stage name and a sentence: kept out of the column widths
  const nameWidth = Math.max(...rows.map((r) => (r[0] ?? '').length));
  const formatted = table(rows.filter((r) => r.length > 2).map((r) => [(r[0] ?? '').padEnd(nameWidth), ...r.slice(1)]), new Set([2, 3, 4]));
  let i = 0;
  for (const r of rows) lines.push(r.length > 2 ? (formatted[i++] ?? '') : `${(r[0] ?? '').padEnd(nameWidth)}  ${r[1] ?? ''}`);
  if (!long) return `${lines.join('\n')}\n`;
  const ran = (record?.stages ?? []).slice();
  if (ran.length > 0) {
    const at = (s: StageRecord, end: boolean): string => (end ? (s.endSec === undefined ? s.finishedAt : `+${sec(s.endSec)}`) : s.startSec === undefined ? s.startedAt : `+${sec(s.startSec)}`);
    lines.push('', record?.bootAt === undefined ? 'timeline:' : 'timeline (after boot):');
    const events = ran.flatMap((s) => [
      [at(s, false), `${s.stage} stage started`],
      [at(s, true), `${s.stage} stage finished: ${s.result} (${s.durationMs} ms)`],
    ]);
    lines.push(...table(events).map((l) => `  ${l}`));
  }
  for (const s of ran) {
    lines.push('', `${s.stage} stage: ${s.result}${s.source === undefined ? '' : `, context from ${s.source}`}${s.instanceId === undefined ? '' : `, instance ${s.instanceId}`}`);
    if (s.error !== undefined) lines.push(`  ${s.error.code}: ${s.error.message}`);
    if (s.degraded !== undefined) lines.push(`  warning: ${s.degraded}`);
    lines.push(...moduleRows(s.modules));
  }
  return `${lines.join('\n')}\n`;
}

const routeText = (r: RouteSpec): string =>
  `${r.to.prefix === 0 ? `gateway${r.to.family === 6 ? '6' : ''} ${r.via ?? '-'}` : `route ${r.to.address}/${r.to.prefix}${r.via === undefined ? '' : ` via ${r.via}`}`}${r.metric === undefined ? '' : ` metric ${r.metric}`}${r.table === undefined ? '' : ` table ${r.table}`}`;

/** How the device is found or made: "MAC …", "bond active-backup of a, b", "vlan 5 on bond0"; with the live name. */
function deviceKind(d: Device, live: string | undefined): string {
  if (d.kind === 'bond') return `bond${d.parameters.mode === undefined ? '' : ` ${d.parameters.mode}`} of ${d.interfaces.join(', ') || 'no members'}`;
  if (d.kind === 'bridge') return `bridge of ${d.interfaces.join(', ') || 'no members'}`;
  if (d.kind === 'vlan') return `vlan ${d.vlanId} on ${d.link}`;
  const m = d.match;
  const how = [m.macaddress === undefined ? '' : m.macaddress, m.positional === true && m.macaddress === undefined ? 'by position' : '', m.name === undefined || m.positional === true ? '' : `name ${m.name}`, m.driver === undefined ? '' : `driver ${m.driver}`].filter((x) => x !== '');
  return [how.join(', ') || 'any NIC', live === undefined ? '' : `here ${live}`, d.setName === undefined ? '' : `renamed ${d.setName}`].filter((x) => x !== '').join('; ');
}

function networkLines(model: NetModel, plan: NetworkPlan, names: ReadonlyMap<string, string> | undefined): string[] {
  const lines: string[] = [];
  for (const d of model.devices) {
    const addrs = d.addresses.map((a) => `${a.address}/${a.prefix}`).join(' ');
    const extra = [
      d.dhcp4 ? 'dhcp4' : '',
      d.dhcp6 ? 'dhcp6' : '',
      d.acceptRa === true ? 'ipv6 auto' : '',
      d.linkLocal !== undefined && d.linkLocal.length === 0 ? 'no link-local' : '',
      ...d.routes.map(routeText),
      d.mtu === undefined ? '' : `mtu ${d.mtu}`,
      d.nameservers.addresses.length === 0 ? '' : `dns ${d.nameservers.addresses.join(' ')}`,
      d.nameservers.search.length === 0 ? '' : `search ${d.nameservers.search.join(' ')}`,
    ].filter((x) => x !== '');
    lines.push(`  ${d.id} (${deviceKind(d, names?.get(d.id))}): ${addrs === '' ? 'no address' : addrs}${extra.length === 0 ? '' : `; ${extra.join(', ')}`}`);
  }
  if (lines.length === 0) lines.push('  - (none)');
  for (const r of model.routes) lines.push(`  ${routeText(r)} (on no device)`);
  const dns = model.nameservers;
  if (dns.addresses.length > 0 || dns.search.length > 0) lines.push(`  dns: ${dns.addresses.join(' ') || '-'}; search: ${dns.search.join(' ') || '-'}`);
  if (plan.backend !== undefined) lines.push(`  backend: ${plan.backend}`);
  return lines;
}

/** `show`'s text: where the context came from, and what it asks for — network, users, keys, scripts — and its problems. */
export function showText(ctx: Context, extra: { attempts: ReadonlyArray<{ path: string; result: string }>; degraded?: string | undefined; variables: Readonly<Record<string, string>>; resolved?: ResolvedNet | undefined }): string {
  const lines: string[] = [];
  for (const a of extra.attempts) lines.push(`looked at: ${a.path}: ${a.result}`);
  lines.push(`source: ${ctx.source.path} (${ctx.source.foundBy}${ctx.source.label === undefined ? '' : `, label ${ctx.source.label}`})`);
  if (extra.degraded !== undefined) lines.push(`warning: ${extra.degraded}`);
  lines.push(`instance: ${ctx.instanceId} (from ${ctx.instanceIdSource})`, `hostname: ${ctx.hostname ?? '-'}`);
  lines.push(`dns: ${ctx.dns.nameservers.join(' ') || '-'}; search: ${ctx.dns.search.join(' ') || '-'}`);
  lines.push(`network (from ${ctx.net.origin}):`, ...networkLines(extra.resolved?.model ?? ctx.net.model, ctx.net, extra.resolved?.names));
  const u = ctx.user;
  const userBits = [u.shell === undefined ? '' : `shell ${u.shell}`, u.sudo === true ? 'sudo' : '', u.lockPassword ? 'password locked' : '', u.expirePassword ? 'password expires at first login' : ''].filter((x) => x !== '');
  lines.push('users:');
  lines.push(`  ${ctx.username}${userBits.length === 0 ? '' : ` (${userBits.join(', ')})`}: ${ctx.sshKeys.keys.length} ssh key(s)${ctx.password === undefined ? '' : `, password from ${ctx.password.source} (${ctx.password.kind})`}`);
  for (const x of ctx.accounts.users) {
    if (!x.fromCloudConfig) continue;
    const bits = ['cloud-config users', x.system ? 'system' : '', x.groups.length > 0 ? `groups ${x.groups.join(',')}` : '', x.sudo.length > 0 ? 'sudo' : '', x.lock ? 'password locked' : '', x.password === undefined ? '' : `password (${x.password.kind})`].filter((b) => b !== '');
    lines.push(`  ${x.name} (${bits.join(', ')}): ${x.keys.length} ssh key(s)`);
  }
  for (const g of ctx.accounts.groups) lines.push(`  group ${g.name}${g.members.length === 0 ? '' : `: ${g.members.join(', ')}`}`);
  for (const p of ctx.accounts.passwords) lines.push(`  password for ${p.user} from ${p.origin.replace(/ \(line \d+\)$/u, '')} (${p.kind}${p.expire ? ', expired' : ''})`);
  if (ctx.accounts.sshPwauth !== undefined) lines.push(`  ssh password authentication: ${ctx.accounts.sshPwauth ? 'yes' : 'no'}`);
  lines.push('scripts:');
  if (ctx.scripts.length === 0) lines.push('  - (none)');
  for (const s of ctx.scripts) lines.push(`  ${s.name} (from ${s.variable}${s.provider ? ', the provider\'s' : ''}; ${s.argv === undefined ? `${s.body.length} bytes` : 'a command'})`);
  // the network's notes that are not among the context's warnings already (what is not applied as
  // written), and those of matching the NICs to this system's (`resolved`, on the running system)
  const problems = ctx.warnings.map((w) => `${w.file === undefined ? '' : `${w.file}${w.line === undefined ? '' : `:${w.line}`}: `}${w.variable === undefined ? '' : `${w.variable}: `}${w.message}`);
  for (const n of [...ctx.net.notes, ...(extra.resolved?.notes ?? [])]) {
    if (!ctx.warnings.some((w) => (w.variable === n.path && w.message === n.message) || w.network === n || (w.network?.path === n.path && w.network.message === n.message))) problems.push(`${n.file}${n.line === undefined ? '' : `:${n.line}`}: ${n.path}: ${n.what}: ${n.message}`);
  }
  lines.push(problems.length === 0 ? 'problems: none found' : `problems (${problems.length}):`);
  for (const p of problems) lines.push(`  ${p}`);
  lines.push('variables:');
  for (const [k, v] of Object.entries(extra.variables)) lines.push(`  ${k}=${JSON.stringify(v)}`);
  return `${lines.join('\n')}\n`;
}
