// The per-name checks of context variables, shared by `vmctx validate`, `show` and `run`: each
// name is one vmctx applies, one it knows but only carries (informational), one it does not
// support (a warning), or unknown — a warning with a did-you-mean when it looks like a typo,
// otherwise a name for the scripts and templates (informational). Pure.
import { didYouMean } from '../../formats/didyoumean.js';
import type { ContextWarning } from './types.js';

/** Global variables vmctx applies (their values are checked where they are used). */
export const APPLIED_VARIABLES = [
  'DNS', 'SEARCH_DOMAIN', 'NETCFG_TYPE', 'SET_HOSTNAME', 'HOSTNAME', 'TIMEZONE',
  'USERNAME', 'USERNAME_SHELL', 'USERNAME_SUDO', 'GRANT_SUDO', 'USERNAME_PASSWORD_RESET', 'USERNAME_PASSWORD_EXPIRE',
  'CRYPTED_PASSWORD_BASE64', 'PASSWORD_BASE64', 'CRYPTED_PASSWORD', 'PASSWORD',
  'SSH_PUBLIC_KEY', 'SSH_KEY', 'EC2_PUBLIC_KEY', 'PUBLIC_KEY', 'STRATUSLAB_REMOTE_KEY', 'ROOT_PUBKEY', 'USER_PUBKEY',
  'START_SCRIPT', 'START_SCRIPT_BASE64', 'INIT_SCRIPTS', 'SCRIPT_EXEC', 'USER_DATA', 'USERDATA', 'USER_DATA_ENCODING', 'USERDATA_ENCODING',
  'VMID', 'GROW_FS', 'GROW_ROOTFS', 'EPHEMERAL0_DEVICE',
  // report-ready (the report-ready module); VMCTX_READY_PORT is vmctx's own
  'REPORT_READY', 'READY_SCRIPT', 'READY_SCRIPT_PATH', 'ONEGATE_ENDPOINT', 'ONEGATE_TOKEN', 'VMCTX_READY_PORT',
  'IP_PRIVATE', 'NETMASK_PRIVATE', 'IP_PUBLIC', 'NETMASK_PUBLIC', 'IP_EXTRA', 'NETMASK_EXTRA', 'GLOBAL_NETWORK', 'GLOBAL_NETMASK', 'DEFAULT_GATEWAY', 'NETMASK',
] as const;

/** Known names vmctx reads for nothing (the provider's bookkeeping, or values for scripts): no warning. */
export const INFORMATIONAL_VARIABLES = [
  'DISK_ID', 'TARGET', 'NETWORK', 'FILES_DS', 'TOKEN', 'CONTEXT_METHOD',
  'EC2_INSTANCE_ID', 'EC2_AVAILABILITY_ZONE', 'EC2_LOCAL_IPV4', 'EC2_PUBLIC_IPV4',
] as const;

/** Documented provider settings vmctx does not carry out: a warning (the setting is lost). */
export const UNSUPPORTED_VARIABLES = ['DNS_HOSTNAME', 'EC2_HOSTNAME', 'GATEWAY_IFACE'] as const;

/** ETHx_<suffix>: what the network model reads per NIC. */
export const APPLIED_NIC_SUFFIXES = [
  'MAC', 'IP', 'MASK', 'GATEWAY', 'METRIC', 'MTU', 'DNS', 'SEARCH_DOMAIN', 'METHOD', 'ROUTES', 'IP6', 'IP6_ULA', 'IP6_PREFIX_LENGTH',
  'IP6_GATEWAY', 'GATEWAY6', 'IP6_METRIC', 'IP6_METHOD', 'EXTERNAL', 'VLAN_ID',
] as const;
export const INFORMATIONAL_NIC_SUFFIXES = ['NETWORK', 'NETWORK_ADDRESS', 'CONTEXT_FORCE_IPV4', 'VROUTER_IP', 'VROUTER_IP6', 'VROUTER_MANAGEMENT', 'NAME'] as const;
/** ETHx_ALIASy_<suffix>. */
export const APPLIED_ALIAS_SUFFIXES = ['IP', 'MASK', 'IP6', 'IP6_ULA', 'IP6_PREFIX_LENGTH', 'EXTERNAL', 'DETACH'] as const;
export const INFORMATIONAL_ALIAS_SUFFIXES = ['MAC', 'NETWORK', 'NETWORK_ADDRESS', 'GATEWAY', 'GATEWAY6', 'DNS', 'SEARCH_DOMAIN', 'MTU', 'VLAN_ID', 'IP6_GATEWAY'] as const;

export type VariableKind = 'applied' | 'informational' | 'unsupported' | 'unknown';

const has = (list: readonly string[], name: string): boolean => list.includes(name);
const NIC = /^(ETH\d{1,4}_)(ALIAS\d{1,4}_)?(.+)$/u;

/** What vmctx does with a variable of this name; for an unknown one, the known name it looks like. */
export function classifyVariable(name: string): { kind: VariableKind; guess?: string } {
  const nic = NIC.exec(name);
  if (nic !== null) {
    const [, prefix = '', alias, suffix = ''] = nic;
    const applied: readonly string[] = alias === undefined ? APPLIED_NIC_SUFFIXES : APPLIED_ALIAS_SUFFIXES;
    const informational: readonly string[] = alias === undefined ? INFORMATIONAL_NIC_SUFFIXES : INFORMATIONAL_ALIAS_SUFFIXES;
    if (has(applied, suffix)) return { kind: 'applied' };
    if (has(informational, suffix)) return { kind: 'informational' };
    const guess = didYouMean(suffix, [...applied, ...informational]);
    return guess === undefined ? { kind: 'unknown' } : { kind: 'unknown', guess: `${prefix}${alias ?? ''}${guess}` };
  }
  if (has(APPLIED_VARIABLES, name)) return { kind: 'applied' };
  if (has(INFORMATIONAL_VARIABLES, name)) return { kind: 'informational' };
  if (has(UNSUPPORTED_VARIABLES, name)) return { kind: 'unsupported' };
  // "ETHO_IP" (a letter O): a NIC variable with its prefix mistyped
  const guess = didYouMean(name, [...APPLIED_VARIABLES, ...UNSUPPORTED_VARIABLES, ...INFORMATIONAL_VARIABLES, ...APPLIED_NIC_SUFFIXES.map((s) => `ETH0_${s}`)]);
  return guess === undefined ? { kind: 'unknown' } : { kind: 'unknown', guess };
}

export interface VariableChecks {
  /** Typos and unsupported settings: console and report. */
  readonly warnings: ContextWarning[];
  /** Names vmctx carries but does not apply (informational or the scripts' own): report and `show` only. */
  readonly unused: string[];
}

/**
 * Checks every variable name. `where` gives the file, line and column of a name's assignment
 * (context.sh), when the source has them.
 */
export function checkVariables(variables: Readonly<Record<string, string>>, where: (name: string) => { file?: string; line?: number; col?: number } = () => ({})): VariableChecks {
  const warnings: ContextWarning[] = [];
  const unused: string[] = [];
  for (const name of Object.keys(variables)) {
    const c = classifyVariable(name);
    if (c.kind === 'applied') continue;
    if (c.kind === 'informational' || (c.kind === 'unknown' && c.guess === undefined)) {
      unused.push(name);
      continue;
    }
    const message = c.kind === 'unsupported' ? 'is not supported by vmctx; ignored' : `unknown variable (did you mean ${c.guess ?? ''}?); not applied`;
    warnings.push({ variable: name, message, ...where(name) });
  }
  warnings.push(...readyChecks(variables, where));
  return { warnings, unused };
}

/** The names only report-ready reads: set while REPORT_READY is not YES, they do nothing (said so). */
const READY_ONLY = ['READY_SCRIPT', 'READY_SCRIPT_PATH', 'VMCTX_READY_PORT', 'ONEGATE_TOKEN'] as const;

function readyChecks(variables: Readonly<Record<string, string>>, where: (name: string) => { file?: string; line?: number; col?: number }): ContextWarning[] {
  const warnings: ContextWarning[] = [];
  const set = (name: string): boolean => (variables[name] ?? '').trim() !== '';
  if ((variables['REPORT_READY'] ?? '').trim().toUpperCase() !== 'YES') {
    for (const name of READY_ONLY) {
      if (set(name)) warnings.push({ variable: name, message: `is read only for the ready report, and REPORT_READY is not YES; not used by vmctx${name === 'ONEGATE_TOKEN' ? ' (scripts still see it when they opt in to secrets)' : ''}`, ...where(name) });
    }
  } else if (set('READY_SCRIPT') && set('READY_SCRIPT_PATH')) {
    warnings.push({ variable: 'READY_SCRIPT', message: 'READY_SCRIPT_PATH is set too and is the one run; READY_SCRIPT is not used', ...where('READY_SCRIPT') });
  }
  return warnings;
}
