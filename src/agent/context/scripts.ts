// The scripts a context asks to run: provider init scripts on the medium (INIT_SCRIPTS, default
// init.sh), START_SCRIPT(_BASE64), StratusLab's SCRIPT_EXEC, and #! user data. Names from the
// context are plain file names on the medium: no "/", no "..", no leading "-".
// The user data's #include URLs are fetched here (the parser only lists them), through the
// fetcher the caller gives (the run's, bounded by the metadata budget); each fetched document is
// user data again, to a depth and count limit. Without a fetcher (`vmctx validate`, the local
// stage) the URLs are named and the user data counts as not complete yet. A fetch that fails (no
// answer, 5xx, timeout, the budget, a redirect, a cap) leaves it incomplete too, so no on-change
// module takes a failure for content removed; only HTTP 404/410, the server's word that the
// document is not there, counts as an empty document. #include-once answers are kept per instance
// by the fetcher (registry.ts), as cloud-init keeps them.
import { decodeStrictBase64 } from '../../formats/base64.js';
import { mergeCloudConfigs, type CloudConfig } from '../../formats/cloudconfig.js';
import { parseUserData, shownUrl, type UserDataInclude, type UserDataScript } from '../../formats/userdata.js';
import { DecodeBudget } from '../../formats/decodebudget.js';
import { describeError } from '../../shared/errors.js';
import type { ContextWarning, MediumFiles, ScriptSource, UserDataResult } from './types.js';

export type { ScriptSource, UserDataResult } from './types.js';


const MEDIUM_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/u;
const MAX_SCRIPT = 16 * 1024 * 1024;
/** The most bytes one #include URL may answer with (as the metadata service's user data). */
export const MAX_INCLUDE_BYTES = 16 * 1024 * 1024;
/** URLs fetched for one user data, all depths together. */
export const MAX_INCLUDES = 16;
/** The bytes all #include answers of one user data may bring together. */
export const MAX_INCLUDE_TOTAL = 32 * 1024 * 1024;
/** #include in a fetched document in a fetched document …: at most this deep. */
export const MAX_INCLUDE_DEPTH = 3;

/**
 * Fetches one #include URL (http/https, no redirects, bounded); never throws. `once`: an
 * #include-once URL, whose first answer is kept for the instance. `gone`: the server said the
 * document does not exist (HTTP 404/410).
 */
export type IncludeFetcher = (url: string, once?: boolean) => Promise<{ readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly reason: string; readonly gone?: boolean | undefined }>;

export interface ScriptsOptions {
  /** Fetches #include URLs; absent: they are named, not fetched (validate, the local stage). */
  readonly include?: IncludeFetcher | undefined;
}


/** cloud-config commands as scripts: a string is shell code (the user's, by intent), a list an argv. */
export function commandScripts(prefix: string, commands: ReadonlyArray<string | readonly string[]>): ScriptSource[] {
  return commands.map((c, i) =>
    typeof c === 'string'
      ? { name: `${prefix}-${i + 1}`, body: Buffer.from(`${c}\n`, 'utf8'), provider: false, variable: prefix }
      : { name: `${prefix}-${i + 1}`, body: Buffer.alloc(0), argv: [...c], provider: false, variable: prefix },
  );
}

export async function scriptsFromContext(v: Readonly<Record<string, string>>, medium: MediumFiles, warnings: ContextWarning[], options: ScriptsOptions = {}): Promise<UserDataResult> {
  const out: ScriptSource[] = [];
  let cloudConfig: CloudConfig | undefined;
  let includes: UserDataResult['includes'];
  const initRaw = v['INIT_SCRIPTS'];
  const names = initRaw === undefined ? (medium.names.includes('init.sh') ? ['init.sh'] : []) : initRaw.split(/\s+/u).filter((n) => n !== '');
  for (const name of names) {
    if (!MEDIUM_NAME.test(name) || name.includes('..')) {
      warnings.push({ variable: 'INIT_SCRIPTS', message: `${JSON.stringify(name.slice(0, 60))} is not a plain file name on the medium; not run` });
      continue;
    }
    let body: Buffer | undefined;
    try {
      body = await medium.read(name, MAX_SCRIPT);
    } catch (error) {
      // over 16 MiB, past the medium's byte budget, a link, unreadable: said, and not run
      const d = describeError(error);
      warnings.push({ variable: 'INIT_SCRIPTS', message: `${name} could not be read (${d.code}: ${d.message}); not run` });
      continue;
    }
    if (body === undefined) warnings.push({ variable: 'INIT_SCRIPTS', message: `${name} is not on the medium; not run` });
    else out.push({ name, body, provider: true, variable: 'INIT_SCRIPTS' });
  }
  // START_SCRIPT_BASE64 wins over START_SCRIPT
  let start: { body: Buffer; variable: string } | undefined;
  const b64 = v['START_SCRIPT_BASE64'];
  if (b64 !== undefined && b64.trim() !== '') {
    const decoded = decodeStrictBase64(b64);
    if (decoded === undefined) warnings.push({ variable: 'START_SCRIPT_BASE64', message: 'is not valid base64; START_SCRIPT is used if given' });
    else start = { body: decoded, variable: 'START_SCRIPT_BASE64' };
  }
  const plain = v['START_SCRIPT'];
  if (start === undefined && plain !== undefined && plain.trim() !== '') start = { body: Buffer.from(plain, 'utf8'), variable: 'START_SCRIPT' };
  if (start !== undefined) out.push({ name: 'START_SCRIPT', body: start.body, provider: false, variable: start.variable });
  const exec = v['SCRIPT_EXEC'];
  if (exec !== undefined && exec.trim() !== '') out.push({ name: 'SCRIPT_EXEC', body: Buffer.from(`${exec}\n`, 'utf8'), provider: false, variable: 'SCRIPT_EXEC' });
  for (const [key, encKey] of [['USER_DATA', 'USER_DATA_ENCODING'], ['USERDATA', 'USERDATA_ENCODING']] as const) {
    const raw = v[key];
    if (raw === undefined || raw === '') continue;
    let body: Buffer | undefined = Buffer.from(raw, 'utf8');
    if ((v[encKey] ?? '').toLowerCase() === 'base64') {
      body = decodeStrictBase64(raw);
      if (body === undefined) {
        warnings.push({ variable: key, message: `${encKey}=base64 but the value is not valid base64; ignored` });
        continue;
      }
    }
    const budget = new DecodeBudget();
    const parts = parseUserData(body, budget);
    for (const issue of parts.located) warnings.push({ variable: key, message: issue.message, ...(issue.line === undefined ? {} : { file: key, line: issue.line, col: issue.col }), ...(issue.severity === 'error' ? { severity: issue.severity } : {}) });
    const included = await fetchIncludes(parts.includes, key, budget, warnings, options.include);
    if (parts.includes.length > 0) includes = included.unfetched ? 'pending' : 'fetched';
    const scripts = [...parts.scripts, ...included.scripts];
    scripts.forEach((s, i) => out.push({ name: scripts.length === 1 && s.name === 'user-data' ? key : `${key}-${i + 1}`, body: s.body, provider: false, variable: key, ...(s.frequency === undefined ? {} : { frequency: s.frequency }) }));
    cloudConfig = mergeCloudConfigs([...parts.cloudConfigs, ...included.cloudConfigs]);
    // a loop, not push(...list): a spread of a long list overflows the call stack
    if (cloudConfig !== undefined) for (const script of commandScripts('runcmd', cloudConfig.runcmd)) out.push(script);
    break;
  }
  return { scripts: out, cloudConfig, ...(includes === undefined ? {} : { includes }) };
}

/** What is said of an #include URL that is not fetched (the same words in the run's local stage and in `vmctx validate`). */
export function includeNotFetched(include: UserDataInclude): string {
  return `${include.name}: #include ${shownUrl(include.url)}: not fetched here (vmctx validate and the local stage do not fetch; the run fetches it in the network stage)`;
}

/**
 * Fetches the #include URLs in order (breadth first), each answer parsed as user data with the
 * same decode budget; failures are warnings naming the URL (scheme, host, path: never its query).
 */
async function fetchIncludes(first: readonly UserDataInclude[], variable: string, budget: DecodeBudget, warnings: ContextWarning[], fetch: IncludeFetcher | undefined): Promise<{ cloudConfigs: CloudConfig[]; scripts: UserDataScript[]; unfetched: boolean }> {
  const cloudConfigs: CloudConfig[] = [];
  const scripts: UserDataScript[] = [];
  const queue = first.map((i) => ({ ...i, depth: 1 }));
  const seen = new Set<string>();
  let fetched = 0;
  let unfetched = false;
  let total = 0;
  for (let inc = queue.shift(); inc !== undefined; inc = queue.shift()) {
    const shown = shownUrl(inc.url);
    const warn = (message: string): void => void warnings.push({ variable, message: `${inc.name}: #include ${shown}: ${message}` });
    if (fetch === undefined) {
      // not a problem of the user data: the run's local stage logs that its modules wait for the network stage
      unfetched = true;
      continue;
    }
    if (seen.has(inc.url)) {
      warn('already included; not fetched again');
      continue;
    }
    seen.add(inc.url);
    if (inc.depth > MAX_INCLUDE_DEPTH) {
      warn(`an #include ${MAX_INCLUDE_DEPTH} levels deep; not fetched`);
      continue;
    }
    if (++fetched > MAX_INCLUDES) {
      // a limit of the user data itself, the same on every boot: not a reason to wait
      warn(`more than ${MAX_INCLUDES} URLs to fetch for one user data; not fetched`);
      continue;
    }
    const got = await fetch(inc.url, inc.once);
    if (!got.ok) {
      // HTTP 404/410 is the server's word that the document is not there: it counts as removed
      // (empty). Any other failure (no answer, 5xx, timeout, budget, redirect, cap) says nothing
      // of the document: the user data is incomplete and its modules wait, so that an on-change
      // module never takes a failed fetch for content removed.
      if (got.gone === true) warn(`${got.reason}; the document is not there, so it counts as empty`);
      else {
        unfetched = true;
        warn(`${got.reason}; not used (the modules that need the user data wait)`);
      }
      continue;
    }
    total += got.body.length;
    if (total > MAX_INCLUDE_TOTAL) {
      unfetched = true;
      warn(`the #include answers together pass ${MAX_INCLUDE_TOTAL / 1024 / 1024} MiB; not used (the modules that need the user data wait)`);
      continue;
    }
    const name = `include ${shown}`;
    const parts = parseUserData(got.body, budget, name);
    // positions in a fetched document are its own: the message names it (and the line)
    for (const issue of parts.located) warnings.push({ variable, message: issue.line === undefined ? issue.message : `${name} line ${issue.line}: ${issue.message}`, ...(issue.severity === 'error' ? { severity: issue.severity } : {}) });
    for (const c of parts.cloudConfigs) cloudConfigs.push(c);
    for (const s of parts.scripts) scripts.push(s);
    for (const next of parts.includes) queue.push({ ...next, depth: inc.depth + 1 });
  }
  return { cloudConfigs, scripts, unfetched };
}
