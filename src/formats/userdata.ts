// User data as a container, as cloud-init reads it: gzip (of any of these), MIME multipart, a #!
// script, #cloud-config, #cloud-boothook, #include / #include-once (URLs, returned to be fetched by
// the caller: this file never touches the network), #cloud-config-archive (a YAML list of parts),
// told apart by their first bytes (or a MIME part's type) and unpacked within one decode budget.
// #part-handler, jinja templates, #cloud-config-jsonp and #upstart-job are named as not supported.
// The cloud-config documents found are checked by cloudconfig.ts. Pure.
import { checkCloudConfig, type CloudConfig, type CloudConfigIssue } from './cloudconfig.js';
import { parseYamlValue } from './yamldoc.js';
import { DecodeBudget, MAX_USER_DATA_FILE as MAX_FILE, boundedGunzip, mib } from './decodebudget.js';

export interface UserDataParts {
  readonly cloudConfigs: readonly CloudConfig[];
  /** #! scripts from the user data (a plain body, or MIME parts), boothooks and per-boot / per-once scripts. */
  readonly scripts: readonly UserDataScript[];
  /** #include URLs (http or https, checked), in order, for the caller to fetch and parse as user data. */
  readonly includes: readonly UserDataInclude[];
  readonly issues: readonly string[];
  /** The same issues with their severity, and line and column where the document gives them. */
  readonly located: readonly CloudConfigIssue[];
}

export interface UserDataScript {
  readonly name: string;
  readonly body: Buffer;
  /** Not once per instance: a boothook (every boot, first), per-boot, once ever. */
  readonly frequency?: 'boothook' | 'per-boot' | 'once' | undefined;
}

export interface UserDataInclude {
  readonly url: string;
  /** #include-once: cloud-init fetches it once per instance and keeps it (the run keeps its answer per instance in the state dir). */
  readonly once: boolean;
  /** The part that named it ("user-data", "user-data-part2"). */
  readonly name: string;
}

const MAX_PARTS = 64;
/** URLs one #include part may list. */
export const MAX_INCLUDE_URLS = 16;
/** Containers within containers (gzip in MIME in an archive …). */
const MAX_DEPTH = 4;

/** A URL as it may be shown: scheme, host and path, never its user, password, query or fragment (tokens live there). */
export function shownUrl(text: string): string {
  try {
    const u = new URL(text);
    return `${u.protocol}//${u.host}${u.pathname}`.slice(0, 200);
  } catch {
    return JSON.stringify(text.split(/[?#]/u)[0]?.replace(/\/\/[^/@]*@/u, '//').slice(0, 60) ?? '');
  }
}

/** Why a URL is not fetched (only http and https, no user:password in it), or undefined when it may be. */
export function includeUrlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `a ${u.protocol.replace(/:$/u, '')}: URL; only http and https are fetched`;
  if (u.username !== '' || u.password !== '') return 'a URL with a user name or password in it; not fetched';
  return undefined;
}

/** The type a body's first bytes announce (cloud-init's headers, matched without regard to case). */
const HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['#include-once', 'text/x-include-once-url'],
  ['#include', 'text/x-include-url'],
  ['#cloud-boothook', 'text/cloud-boothook'],
  ['#cloud-config-archive', 'text/cloud-config-archive'],
  ['#cloud-config-jsonp', 'text/cloud-config-jsonp'],
  ['#cloud-config', 'text/cloud-config'],
  ['#part-handler', 'text/part-handler'],
  ['#upstart-job', 'text/upstart-job'],
  ['## template: jinja', 'text/jinja2'],
  ['#!', 'text/x-shellscript'],
];
/** MIME types whose parts are told by their content, as cloud-init does. */
const GUESSED = new Set(['text/plain', 'text/x-not-multipart', 'application/octet-stream', 'application/x-gzip', 'application/gzip']);
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  'text/part-handler': '#part-handler (Python code run by cloud-init)',
  'text/jinja2': 'a jinja template (## template: jinja)',
  'text/cloud-config-jsonp': '#cloud-config-jsonp (JSON patch)',
  'text/upstart-job': '#upstart-job',
};

function typeOf(head: string): string | undefined {
  const lower = head.toLowerCase();
  if (/^content-type:\s*multipart\//imu.test(head) || /^mime-version:/imu.test(head)) return 'multipart';
  return HEADERS.find(([prefix]) => lower.startsWith(prefix))?.[1];
}

/** Splits a MIME multipart body; each part's headers (lower-case) and decoded body. */
function mimeParts(raw: Buffer, issues: { push(message: string): void }, budget: DecodeBudget): Array<{ type: string; filename: string | undefined; body: Buffer; line: number | undefined }> | undefined {
  const text = raw.toString('latin1');
  const headerEnd = text.search(/\r?\n\r?\n/u);
  const head = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const boundary = /boundary="?([^";\r\n]+)"?/iu.exec(head)?.[1];
  if (boundary === undefined) {
    issues.push('MIME user data without a boundary; ignored');
    return undefined;
  }
  const chunks = text.split(`--${boundary}`).slice(1);
  const out: Array<{ type: string; filename: string | undefined; body: Buffer; line: number | undefined }> = [];
  // where each chunk starts in the text, for the line numbers of the parts' documents
  let at = text.indexOf(`--${boundary}`) + boundary.length + 2;
  for (const chunk of chunks) {
    const chunkStart = at;
    at += chunk.length + boundary.length + 2;
    if (chunk.startsWith('--')) break;
    if (out.length >= MAX_PARTS) {
      issues.push(`more than ${MAX_PARTS} MIME parts; the rest ignored`);
      break;
    }
    const part = chunk.replace(/^\r?\n/u, '');
    const end = part.search(/\r?\n\r?\n/u);
    if (end < 0) continue;
    const headers = part.slice(0, end).toLowerCase();
    const bodyText = part.slice(end).replace(/^\r?\n\r?\n/u, '').replace(/\r?\n$/u, '');
    const bodyStart = chunkStart + (chunk.length - part.length) + end + (/^\r?\n\r?\n/u.exec(part.slice(end))?.[0].length ?? 0);
    const line = text.slice(0, bodyStart).split('\n').length - 1;
    const type = /content-type:\s*([^;\s]+)/u.exec(headers)?.[1] ?? 'text/plain';
    const filename = /filename="?([^";\r\n]+)"?/u.exec(part.slice(0, end))?.[1];
    const encoded = /content-transfer-encoding:\s*base64/u.test(headers);
    const body = encoded ? Buffer.from(bodyText, 'base64') : Buffer.from(bodyText, 'latin1');
    if (encoded && !budget.take(body.length)) {
      issues.push(`MIME part ${out.length + 1}: its ${mib(body.length)} would pass what is left of the ${mib(budget.total)} decompressed-bytes budget of this user data (${mib(budget.left)}); ignored`);
      continue;
    }
    // a base64 part's lines are not the file's: its issues name the part instead
    out.push({ type, filename, body, line: encoded ? undefined : line });
  }
  return out;
}

/**
 * Classifies user data: #! script, #cloud-config, #cloud-boothook, #include URLs,
 * #cloud-config-archive, MIME multipart (of those), gzip of any of them. Types vmctx does not
 * apply are named, never dropped silently.
 */
export function parseUserData(raw: Buffer, budget: DecodeBudget = new DecodeBudget(), rootName = 'user-data'): UserDataParts {
  const located: CloudConfigIssue[] = [];
  const issues = { push: (message: string): void => void located.push({ severity: 'warning', message }) };
  const cloudConfig = (text: string, lineOffset: number | undefined, name: string): CloudConfig | undefined => {
    const checked = checkCloudConfig(text, lineOffset ?? 0, budget);
    if (lineOffset !== undefined) for (const i of checked.issues) located.push(i);
    else for (const i of checked.issues) located.push({ severity: i.severity, message: `${name}${i.line === undefined ? '' : ` line ${i.line}`}: ${i.message}` });
    return checked.config;
  };
  const cloudConfigs: CloudConfig[] = [];
  const scripts: UserDataScript[] = [];
  const includes: UserDataInclude[] = [];
  const includeList = (text: string, once: boolean, name: string): void => {
    let listed = 0;
    for (const rawLine of text.split(/\r?\n/u)) {
      let line = rawLine.trim();
      // the URL may follow the header on its own line ("#include http://…")
      for (const prefix of ['#include-once', '#include']) {
        if (line.toLowerCase().startsWith(prefix)) {
          line = line.slice(prefix.length).trim();
          break;
        }
      }
      if (line === '' || line.startsWith('#')) continue;
      const problem = includeUrlProblem(line);
      if (problem !== undefined) {
        issues.push(`${name}: #include ${shownUrl(line)}: ${problem}; refused`);
        continue;
      }
      if (++listed > MAX_INCLUDE_URLS) {
        issues.push(`${name}: more than ${MAX_INCLUDE_URLS} #include URLs; ${shownUrl(line)} and the rest are not fetched`);
        break;
      }
      includes.push({ url: line, once, name });
    }
    if (listed === 0) issues.push(`${name}: #include${once ? '-once' : ''} lists no URL; nothing to fetch`);
  };
  const archive = (text: string, name: string, depth: number): void => {
    let list: unknown;
    try {
      list = parseYamlValue(text, name);
    } catch (error) {
      issues.push(`${name}: #cloud-config-archive is not YAML (${(error as Error).message.split('\n')[0]?.slice(0, 100) ?? ''}); ignored`);
      return;
    }
    if (!Array.isArray(list)) {
      issues.push(`${name}: #cloud-config-archive is not a list of parts; ignored`);
      return;
    }
    if (list.length > MAX_PARTS) issues.push(`${name}: more than ${MAX_PARTS} archive parts; the rest ignored`);
    list.slice(0, MAX_PARTS).forEach((item: unknown, i) => {
      const partName = `${name}-part${i + 1}`;
      // an untyped part is told by its first line, else it is cloud-config (cloud-init's default for archive parts)
      if (typeof item === 'string') {
        visit(Buffer.from(item, 'utf8'), partName, depth + 1, undefined, undefined, 'text/cloud-config');
        return;
      }
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        issues.push(`${partName}: an archive part is a string or a mapping (content, type, filename); ignored`);
        return;
      }
      const entry = item as Record<string, unknown>;
      for (const key of Object.keys(entry)) if (!['content', 'type', 'filename', 'launch-index'].includes(key)) issues.push(`${partName}: unknown archive key ${JSON.stringify(key.slice(0, 40))}; ignored`);
      if (entry['launch-index'] !== undefined) issues.push(`${partName}: "launch-index" is not supported by vmctx (the part is used on every instance)`);
      const content = entry['content'];
      const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content instanceof Uint8Array ? Buffer.from(content) : undefined;
      if (data === undefined) {
        issues.push(`${partName}: archive part without string content; ignored`);
        return;
      }
      const type = typeof entry['type'] === 'string' ? entry['type'].toLowerCase().trim() : undefined;
      const label = typeof entry['filename'] === 'string' && /^[A-Za-z0-9._-]{1,64}$/u.test(entry['filename']) ? `${partName}(${entry['filename']})` : partName;
      visit(data, label, depth + 1, undefined, type === '' ? undefined : type, 'text/cloud-config');
    });
  };
  const apply = (type: string, data: Buffer, name: string, depth: number, line: number | undefined): void => {
    const text = (): string => data.toString('utf8');
    switch (type) {
      case 'text/x-shellscript':
      case 'text/x-shellscript-per-instance':
        scripts.push({ name, body: data });
        return;
      case 'text/x-shellscript-per-boot':
        scripts.push({ name, body: data, frequency: 'per-boot' });
        return;
      case 'text/x-shellscript-per-once':
        scripts.push({ name, body: data, frequency: 'once' });
        return;
      case 'text/cloud-boothook': {
        // the header line is cloud-init's, not the hook's: the hook is what follows it
        const body = /^#cloud-boothook[^\n]*\n/iu.test(data.subarray(0, 64).toString('latin1')) ? data.subarray(data.indexOf(0x0a) + 1) : data;
        scripts.push({ name, body, frequency: 'boothook' });
        return;
      }
      case 'text/cloud-config': {
        const config = cloudConfig(text(), line, name);
        if (config !== undefined) cloudConfigs.push(config);
        return;
      }
      case 'text/x-include-url':
      case 'text/x-include-once-url':
        includeList(text(), type === 'text/x-include-once-url', name);
        return;
      case 'text/cloud-config-archive':
        archive(text(), name, depth);
        return;
      case 'multipart': {
        const parts = mimeParts(data, issues, budget) ?? [];
        // a part's lines are the file's only when this multipart body is the file itself
        parts.forEach((p, i) => {
          visit(p.body, `${name}-part${i + 1}`, depth + 1, line === 0 ? p.line : undefined, p.type);
        });
        return;
      }
      default: {
        const unsupported = NOT_SUPPORTED[type];
        issues.push(unsupported !== undefined ? `${name}: ${unsupported} is not supported by vmctx; ignored` : `${name}: MIME type ${type.slice(0, 60)} is not supported; ignored`);
      }
    }
  };
  /** `fallback`: the type of a part whose first line tells none (an untyped archive part: cloud-config). */
  const visit = (data: Buffer, name: string, depth: number, line: number | undefined, declared: string | undefined, fallback?: string): void => {
    if (depth > MAX_DEPTH) {
      issues.push(`${name}: nested too deeply; ignored`);
      return;
    }
    if (data[0] === 0x1f && data[1] === 0x8b) {
      const inflated = boundedGunzip(data, MAX_FILE, budget);
      if ('reason' in inflated) issues.push(`${name}: gzip data ignored: ${inflated.reason}`);
      // a gzipped body's lines are its uncompressed lines: a top-level document keeps them
      else visit(inflated.data, name, depth + 1, line === 0 ? 0 : undefined, declared, fallback);
      return;
    }
    const head = data.subarray(0, 256).toString('latin1');
    // a MIME part's own type wins, except the generic ones; and a #! body is a script whatever its part says
    const given = declared === undefined || GUESSED.has(declared) ? undefined : declared;
    const type = given ?? typeOf(head) ?? (declared === undefined ? fallback : undefined);
    if (type === undefined) {
      if (declared !== undefined) issues.push(`${name}: a ${declared.slice(0, 60)} part without a known header (#!, #cloud-config, #include, …); ignored`);
      else issues.push(`${name}: neither a #! script, #cloud-config, #cloud-boothook, #include, #cloud-config-archive nor MIME multipart; ignored`);
      return;
    }
    apply(type, data, name, depth, line);
  };
  visit(raw, rootName, 0, 0, undefined);
  return { cloudConfigs, scripts, includes, issues: located.map((i) => i.message), located };
}
