// #cloud-config (a subset): one document's keys parsed and validated into typed values, every
// unusable item reported and skipped, unknown keys reported, never fatal. Pure. Each group of keys
// has its own part in cc/ (accounts, files, system); this file composes them. The user-data
// container around it (gzip, MIME multipart, #! scripts) is userdata.ts.
import { LineCounter, visit } from 'yaml';
import { MAX_YAML_TEXT, MAX_YAML_TOKENS, parseYamlBounded, yamlTokens } from './yamldoc.js';
import { DecodeBudget, mib } from './decodebudget.js';
import { type CloudConfigIssue, Issues, MAX_ENTRIES, capped, checkKeys, isObj, keys } from './cc/common.js';
import { ACCOUNT_KEYS, ACCOUNT_UNSUPPORTED, type CloudAccounts, parseAccounts } from './cc/users.js';
import { FILE_KEYS, FILE_UNSUPPORTED, type CloudFile, parseWriteFiles } from './cc/files.js';
import { SYSTEM_KEYS, type CloudSystem, parseSystem } from './cc/system.js';
import { MACHINE_KEYS, type CloudMachine, parseMachine } from './cc/machine.js';

export type { CloudConfigIssue, Severity } from './cc/common.js';
export type { CloudAccounts, CloudPassword, CloudUser } from './cc/users.js';
export type { CloudFile } from './cc/files.js';
export type { CloudSystem } from './cc/system.js';
export type { CloudMachine } from './cc/machine.js';
export { MAX_ENTRIES };

export interface CloudConfig extends CloudAccounts, CloudSystem, CloudMachine {
  readonly sshAuthorizedKeys: readonly string[];
  readonly writeFiles: readonly CloudFile[];
  /** Commands: a string runs through sh -c, a list is an argv. */
  readonly runcmd: ReadonlyArray<string | readonly string[]>;
  readonly bootcmd: ReadonlyArray<string | readonly string[]>;
}

/** A cloud-config text longer than this is refused before YAML parsing (which costs ~460 bytes a byte). */
export const MAX_CLOUD_CONFIG_TEXT = MAX_YAML_TEXT;
/** YAML tokens (keys, items, scalars, indicators) one document may have: its parse memory grows with them. */
export { MAX_YAML_TOKENS };
/** Words in one list command (an argv). */
export const MAX_ARGV = 1000;
/** Alias uses per document (yaml's maxAliasCount): aliases repeat data without costing text. */
export const MAX_ALIASES = 32;

/** The cloud-config keys vmctx applies, per level: this file's own and each part's. */
const CORE_KEYS = ['ssh_authorized_keys', 'runcmd', 'bootcmd'] as const;
export const APPLIED_KEYS = {
  top: [...CORE_KEYS, ...ACCOUNT_KEYS.top, ...FILE_KEYS.top, ...SYSTEM_KEYS.top, ...MACHINE_KEYS.top],
  users: ACCOUNT_KEYS.users,
  chpasswd: ACCOUNT_KEYS.chpasswd,
  write_files: FILE_KEYS.write_files,
} as const;

/** Every top-level key cloud-init documents (its config modules' schema) that vmctx did not apply at first; the applied ones are filtered out. */
const DOCUMENTED_TOP = [
    'allow_public_ssh_keys', 'ansible', 'apk_repos', 'apt', 'apt_pipelining', 'apt_reboot_if_required', 'apt_update', 'apt_upgrade', 'authkey_hash', 'autoinstall',
    'byobu_by_default', 'ca-certs', 'ca_certs', 'chef', 'cloud_config_modules', 'cloud_final_modules', 'cloud_init_modules', 'create_hostname_file', 'device_aliases',
    'disable_ec2_metadata', 'disable_root', 'disable_root_opts', 'disk_setup', 'drivers', 'fan', 'final_message', 'fs_setup', 'groups', 'growpart', 'grub-dpkg',
    'grub_dpkg', 'keyboard', 'landscape', 'launch-index', 'locale', 'locale_configfile', 'lxd', 'manage_etc_hosts', 'manage_resolv_conf', 'mcollective', 'merge_how',
    'merge_type', 'mount_default_fields', 'mounts', 'no_ssh_fingerprints', 'ntp', 'output', 'package_reboot_if_required', 'package_update', 'package_upgrade',
    'packages', 'password', 'phone_home', 'power_state', 'prefer_fqdn_over_hostname', 'preserve_hostname', 'puppet', 'random_seed', 'reporting', 'resize_rootfs',
    'resolv_conf', 'rh_subscription', 'rpi', 'rsyslog', 'salt_minion', 'snap', 'spacewalk', 'ssh', 'ssh_deletekeys', 'ssh_fp_console_blacklist', 'ssh_genkeytypes',
    'ssh_import_id', 'ssh_key_console_blacklist', 'ssh_keys', 'ssh_publish_hostkeys', 'ssh_pwauth', 'ssh_quiet_keygen', 'swap', 'system_info', 'timezone',
    'ubuntu_advantage', 'ubuntu_pro', 'updates', 'user', 'vendor_data', 'wireguard', 'yum_repo_dir', 'yum_repos', 'zypper',
];
/** Keys cloud-init documents that vmctx does not apply: a "not supported" warning, never "unknown". */
export const UNSUPPORTED_KEYS = {
  top: DOCUMENTED_TOP.filter((k) => !(APPLIED_KEYS.top as readonly string[]).includes(k)),
  users: ACCOUNT_UNSUPPORTED.users,
  chpasswd: ACCOUNT_UNSUPPORTED.chpasswd,
  write_files: FILE_UNSUPPORTED.write_files,
};


function commands(value: unknown, key: string, issues: Issues): Array<string | string[]> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.warn(`${key}: not a list; ignored`, [key]);
    return [];
  }
  const out: Array<string | string[]> = [];
  capped(value, key, [key], issues).forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else if (Array.isArray(item) && item.length > MAX_ARGV) issues.warn(`${key}[${i}]: a command of ${item.length} words, over the limit of ${MAX_ARGV}; skipped`, [key, i]);
    else if (Array.isArray(item) && item.length > 0 && item.every((a) => typeof a === 'string' || typeof a === 'number')) out.push(item.map(String));
    else issues.warn(`${key}[${i}]: not a command (a string or a list of strings); skipped`, [key, i]);
  });
  return out;
}

/** The first line of a YAML library message, without its own " at line …" suffix. */
function yamlMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/u, '').slice(0, 200);
}

/**
 * Parses and checks one cloud-config document. Every issue carries its line and column (counted
 * from `lineOffset`, for a document that starts further down a file). `config` is undefined when
 * the text is not YAML or not a mapping (an error), never otherwise.
 */
export function checkCloudConfig(text: string, lineOffset = 0, budget: DecodeBudget = new DecodeBudget()): { config: CloudConfig | undefined; issues: CloudConfigIssue[] } {
  const counter = new LineCounter();
  const issues = new Issues(counter, lineOffset);
  // refused before parsing: a parse costs hundreds of bytes of memory per byte of text
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_CLOUD_CONFIG_TEXT) {
    issues.error(`cloud-config of ${mib(size)} is over the ${mib(MAX_CLOUD_CONFIG_TEXT)} limit for one document; refused (nothing from it is applied)`, { line: 1 + lineOffset, col: 1 });
    return { config: undefined, issues: issues.list };
  }
  if (yamlTokens(text, MAX_YAML_TOKENS) > MAX_YAML_TOKENS) {
    issues.error(`cloud-config has over ${MAX_YAML_TOKENS} YAML tokens, the limit for one document; refused (nothing from it is applied)`, { line: 1 + lineOffset, col: 1 });
    return { config: undefined, issues: issues.list };
  }
  let doc: unknown;
  try {
    // logLevel error: the library would print its warnings (with bits of the document) on the console
    const { doc: parsed, duplicate } = parseYamlBounded(text, { schema: 'core', prettyErrors: false, logLevel: 'error', lineCounter: counter });
    issues.doc = parsed;
    if (parsed.errors.length > 0) {
      // the first error only: the ones after it mostly follow from it
      const e = parsed.errors[0];
      if (e !== undefined) issues.error(`cloud-config is not YAML: ${yamlMessage(e)}`, issues.pos(e.pos[0]));
      return { config: undefined, issues: issues.list };
    }
    if (duplicate !== undefined) {
      issues.error(`cloud-config is not YAML: the key ${JSON.stringify(duplicate.key.slice(0, 60))} appears twice in one mapping`, duplicate.offset === undefined ? { line: 1 + lineOffset, col: 1 } : issues.pos(duplicate.offset));
      return { config: undefined, issues: issues.list };
    }
    for (const w of parsed.warnings.slice(0, 10)) issues.list.push({ severity: 'warning', message: `YAML: ${yamlMessage(w)}`, ...issues.pos(w.pos[0]) });
    try {
      // yaml counts the anchor itself as one use: +1 lets exactly MAX_ALIASES aliases through
      doc = parsed.toJS({ maxAliasCount: MAX_ALIASES + 1 });
    } catch (error) {
      if (!(error instanceof ReferenceError) || !/excessive alias count/iu.test(error.message)) throw error;
      // yaml's maxAliasCount: aliases would repeat data past what the text costs
      let at: number | undefined;
      let seen = 0;
      visit(parsed, { Alias: (_key, node) => (++seen > MAX_ALIASES ? ((at = node.range?.[0]), visit.BREAK) : undefined) });
      issues.error(`cloud-config uses aliases (*name) more than the limit of ${MAX_ALIASES} uses; refused (nothing from it is applied)`, at === undefined ? { line: 1 + lineOffset, col: 1 } : issues.pos(at));
      return { config: undefined, issues: issues.list };
    }
  } catch (error) {
    issues.error(`cloud-config is not YAML: ${yamlMessage(error)}`);
    return { config: undefined, issues: issues.list };
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) {
    issues.error('cloud-config is not a mapping; ignored', issues.at([]));
    return { config: undefined, issues: issues.list };
  }
  checkKeys(doc, APPLIED_KEYS.top, UNSUPPORTED_KEYS.top, '', [], issues);
  const config: CloudConfig = {
    ...parseSystem(doc, issues),
    ...parseMachine(doc, issues),
    ...parseAccounts(doc, issues),
    ...parseWriteFiles(doc, issues, budget),
    sshAuthorizedKeys: keys(doc['ssh_authorized_keys'], 'ssh_authorized_keys', ['ssh_authorized_keys'], issues),
    runcmd: commands(doc['runcmd'], 'runcmd', issues),
    bootcmd: commands(doc['bootcmd'], 'bootcmd', issues),
  };
  return { config, issues: issues.list };
}

/** checkCloudConfig with the issues as plain messages (appended to `issues`). */
export function parseCloudConfig(text: string, issues: string[]): CloudConfig | undefined {
  const checked = checkCloudConfig(text);
  for (const issue of checked.issues) issues.push(issue.message);
  return checked.config;
}
/** Several cloud-config documents (MIME parts) merged: later values win, lists concatenate. */
export function mergeCloudConfigs(configs: readonly CloudConfig[]): CloudConfig | undefined {
  if (configs.length === 0) return undefined;
  return configs.reduce((a, b) => {
    const merged: Record<string, unknown> = { ...a };
    for (const [key, value] of Object.entries(b)) {
      const before = merged[key];
      if (Array.isArray(before) && Array.isArray(value)) merged[key] = [...(before as unknown[]), ...(value as unknown[])];
      else if (value !== undefined) merged[key] = value;
    }
    return merged as unknown as CloudConfig;
  });
}
