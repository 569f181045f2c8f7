// /etc/vmctx/config: the agent's own settings, KEY=VALUE lines in context.sh syntax (parsed by the
// same lexer, never executed). Unknown keys and bad values are warnings and fall back to the
// default; a missing file is the defaults. Command-line flags win over the file.
import { isIP } from 'node:net';
import { parseContextSh } from '../formats/contextsh.js';
import { didYouMean } from '../formats/didyoumean.js';
import type { Root } from '../host/root.js';
import { describeError } from '../shared/errors.js';
import { CONFIG_PATH } from '../shared/layout.js';

export { CONFIG_PATH } from '../shared/layout.js';

/** The DATASOURCES names, in the order they are asked. */
export const DATASOURCE_NAMES = ['medium', 'seeds', 'nocloud-net', 'metadata'] as const;
export type DatasourceName = (typeof DATASOURCE_NAMES)[number];

/** The known name a misspelt one was meant to be: a typo (formats/didyoumean), or a name it begins ("nocloud"). */
export function closestName(word: string, names: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  return didYouMean(word, names) ?? (lower.length >= 4 ? names.find((n) => n.startsWith(lower)) : undefined);
}

export interface AgentConfig {
  /** Which sources `--source auto` tries, in this fixed order: medium, seeds, nocloud-net, metadata. */
  readonly datasources: ReadonlyArray<DatasourceName>;
  /** Where the metadata service is: the EC2 addresses (IPv4, then IPv6) unless configured. */
  readonly metadataUrl: string | readonly string[];
  readonly metadataConnectMs: number;
  readonly metadataRequestMs: number;
  /** Total time for the metadata on the first boot of an instance (no cached copy yet). */
  readonly metadataBudgetFirstMs: number;
  /** Total time on later boots (a cached copy exists). */
  readonly metadataBudgetMs: number;
  readonly allowImdsv1: boolean;
  readonly mediumWaitMs: number;
  /** The bytes vmctx takes from one context medium or seed, all its files together. */
  readonly mediumMaxBytes: number;
  /** Provider init scripts (INIT_SCRIPTS / init.sh): per instance (default) or per boot. */
  readonly initScriptsFrequency: 'per-instance' | 'per-boot';
  /** REPORT_READY: the time for telling OneGate, from the first attempt (the boot's final stage spends at most 10 s of it, the daemon the rest). */
  readonly reportReadyBudgetMs: number;
}

export const DEFAULT_CONFIG: AgentConfig = {
  datasources: ['medium', 'seeds', 'nocloud-net', 'metadata'],
  metadataUrl: ['http://169.254.169.254', 'http://[fd00:ec2::254]'],
  metadataConnectMs: 1000,
  metadataRequestMs: 3000,
  metadataBudgetFirstMs: 10_000,
  metadataBudgetMs: 3000,
  allowImdsv1: true,
  mediumWaitMs: 3000,
  mediumMaxBytes: 64 * 1024 * 1024,
  initScriptsFrequency: 'per-instance',
  reportReadyBudgetMs: 60_000,
};

export interface LoadedConfig {
  readonly config: AgentConfig;
  readonly warnings: readonly string[];
}

function ms(value: string, key: string, warnings: string[], fallback: number): number {
  if (/^\d{1,6}$/u.test(value) && Number(value) <= 600_000) return Number(value);
  warnings.push(`${CONFIG_PATH}: ${key}="${value.slice(0, 40)}" is not milliseconds (0-600000); using ${fallback}`);
  return fallback;
}

/** A byte count: digits with an optional K, M or G (powers of 1024), from 64K to 16G. */
function bytes(value: string, key: string, warnings: string[], fallback: number): number {
  const m = /^(\d{1,11})([KMG]?)$/u.exec(value.trim().toUpperCase());
  const n = m === null ? NaN : Number(m[1]) * 1024 ** ['', 'K', 'M', 'G'].indexOf(m[2] ?? '');
  if (n >= 64 * 1024 && n <= 16 * 1024 ** 3) return n;
  warnings.push(`${CONFIG_PATH}: ${key}="${value.slice(0, 40)}" is not a size from 64K to 16G (bytes, or with K, M or G); using ${fallback}`);
  return fallback;
}

/** Checks a metadata URL: http only, an IP literal host (never a name to resolve). */
export function checkMetadataUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:') return 'must be an http:// URL';
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  // a name would be resolved through DNS, which whoever spoofs the network can answer
  if (isIP(url.hostname.replace(/^\[|\]$/gu, '')) === 0) return `must name the service by IP address, not by a name to resolve (${url.hostname.slice(0, 60)})`;
  return undefined;
}

export function parseConfig(text: string | Buffer): LoadedConfig {
  const warnings: string[] = [];
  const c: { -readonly [K in keyof AgentConfig]: AgentConfig[K] } = { ...DEFAULT_CONFIG };
  let vars: Record<string, string>;
  try {
    vars = parseContextSh(typeof text === 'string' ? Buffer.from(text) : text).variables;
  } catch (error) {
    return { config: DEFAULT_CONFIG, warnings: [`${CONFIG_PATH}: ${describeError(error).message}; using the defaults`] };
  }
  for (const [key, value] of Object.entries(vars)) {
    switch (key) {
      case 'DATASOURCES': {
        const list = value.split(/[\s,]+/u).filter((w) => w !== '');
        const known = list.filter((w): w is DatasourceName => (DATASOURCE_NAMES as readonly string[]).includes(w));
        for (const w of list.filter((x) => !(DATASOURCE_NAMES as readonly string[]).includes(x))) {
          const near = closestName(w, DATASOURCE_NAMES);
          warnings.push(`${CONFIG_PATH}: DATASOURCES: unknown source "${w.slice(0, 40)}"${near === undefined ? '' : ` (did you mean ${near}?)`}; known: ${DATASOURCE_NAMES.join(', ')}`);
        }
        if (known.length === 0) warnings.push(`${CONFIG_PATH}: DATASOURCES names no known source; using the default (${DEFAULT_CONFIG.datasources.join(' ')})`);
        else c.datasources = DATASOURCE_NAMES.filter((d) => known.includes(d));
        break;
      }
      case 'METADATA_URL': {
        const problem = checkMetadataUrl(value);
        if (problem === undefined) c.metadataUrl = value;
        else warnings.push(`${CONFIG_PATH}: METADATA_URL ${problem}; using the default addresses`);
        break;
      }
      case 'METADATA_CONNECT_TIMEOUT_MS':
        c.metadataConnectMs = ms(value, key, warnings, c.metadataConnectMs);
        break;
      case 'METADATA_REQUEST_TIMEOUT_MS':
        c.metadataRequestMs = ms(value, key, warnings, c.metadataRequestMs);
        break;
      case 'METADATA_BUDGET_FIRST_BOOT_MS':
        c.metadataBudgetFirstMs = ms(value, key, warnings, c.metadataBudgetFirstMs);
        break;
      case 'METADATA_BUDGET_MS':
        c.metadataBudgetMs = ms(value, key, warnings, c.metadataBudgetMs);
        break;
      case 'REPORT_READY_BUDGET_MS':
        c.reportReadyBudgetMs = ms(value, key, warnings, c.reportReadyBudgetMs);
        break;
      case 'MEDIUM_WAIT_MS':
        c.mediumWaitMs = ms(value, key, warnings, c.mediumWaitMs);
        break;
      case 'MEDIUM_MAX_BYTES':
        c.mediumMaxBytes = bytes(value, key, warnings, c.mediumMaxBytes);
        break;
      case 'METADATA_IMDSV1':
        if (value === 'allow' || value === 'deny') c.allowImdsv1 = value === 'allow';
        else warnings.push(`${CONFIG_PATH}: METADATA_IMDSV1 is allow or deny`);
        break;
      case 'INIT_SCRIPTS_FREQUENCY':
        if (value === 'per-instance' || value === 'per-boot') c.initScriptsFrequency = value;
        else warnings.push(`${CONFIG_PATH}: INIT_SCRIPTS_FREQUENCY is per-instance or per-boot`);
        break;
      default:
        warnings.push(`${CONFIG_PATH}: unknown setting ${key}; ignored`);
    }
  }
  return { config: c, warnings };
}

export async function loadConfig(root: Root): Promise<LoadedConfig> {
  let text: Buffer | undefined;
  try {
    text = await root.readFile(CONFIG_PATH, { maxBytes: 64 * 1024 });
  } catch (error) {
    return { config: DEFAULT_CONFIG, warnings: [`${CONFIG_PATH}: ${describeError(error).message}; using the defaults`] };
  }
  return text === undefined ? { config: DEFAULT_CONFIG, warnings: [] } : parseConfig(text);
}
