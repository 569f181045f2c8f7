// #cloud-config (a subset) and MIME multipart user data: parsed and validated into typed values,
// every unusable item reported and skipped, unknown keys reported, never fatal. Pure.
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { shown } from '../shared/errors.js';
import { classifyPassword, isCryptField } from './crypt.js';
import { normaliseGuestPath } from './guestpath.js';

export interface CloudUser {
  readonly name: string;
  readonly sudo: boolean;
  readonly shell: string | undefined;
  readonly sshAuthorizedKeys: readonly string[];
  readonly lockPasswd: boolean;
  /** A crypt(3) hash (cloud-init's `passwd` is always a hash). */
  readonly passwdHash: string | undefined;
}

export interface CloudPassword {
  readonly user: string;
  readonly kind: 'plain' | 'hash';
  readonly value: string;
}

export interface CloudFile {
  readonly path: string;
  readonly content: Buffer;
  readonly owner: string;
  readonly mode: number;
  readonly append: boolean;
}

export interface CloudConfig {
  readonly hostname: string | undefined;
  readonly sshAuthorizedKeys: readonly string[];
  readonly users: readonly CloudUser[];
  readonly chpasswd: readonly CloudPassword[];
  readonly writeFiles: readonly CloudFile[];
  /** Commands: a string runs through sh -c, a list is an argv. */
  readonly runcmd: ReadonlyArray<string | readonly string[]>;
  readonly bootcmd: ReadonlyArray<string | readonly string[]>;
}

export interface UserDataParts {
  readonly cloudConfigs: readonly CloudConfig[];
  /** #! scripts from the user data (a plain body, or MIME parts). */
  readonly scripts: ReadonlyArray<{ readonly name: string; readonly body: Buffer }>;
  readonly issues: readonly string[];
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/u;
const SHELL = /^\/[A-Za-z0-9._/-]{1,255}$/u;
const KNOWN = new Set(['hostname', 'fqdn', 'ssh_authorized_keys', 'users', 'chpasswd', 'write_files', 'runcmd', 'bootcmd', 'password', 'ssh_pwauth']);
const MAX_FILE = 16 * 1024 * 1024;
const MAX_PARTS = 64;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(yes|true|1)$/iu.test(v));

function commands(value: unknown, key: string, issues: string[]): Array<string | string[]> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push(`${key}: not a list; ignored`);
    return [];
  }
  const out: Array<string | string[]> = [];
  value.forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else if (Array.isArray(item) && item.length > 0 && item.every((a) => typeof a === 'string' || typeof a === 'number')) out.push(item.map(String));
    else issues.push(`${key}[${i}]: not a command (a string or a list of strings); skipped`);
  });
  return out;
}

function keys(value: unknown, where: string, issues: string[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push(`${where}: not a list of keys; ignored`);
    return [];
  }
  return value.filter((k): k is string => {
    if (typeof k === 'string') return true;
    issues.push(`${where}: an entry is not a string; skipped`);
    return false;
  });
}

function permissions(value: unknown): number | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  if (!/^0?[0-7]{3,4}$/u.test(s)) return undefined;
  return parseInt(s, 8) & 0o7777;
}

function fileContent(entry: Obj, issues: string[], where: string): Buffer | undefined {
  const raw = entry['content'] ?? '';
  if (typeof raw !== 'string') {
    issues.push(`${where}: content is not a string; skipped`);
    return undefined;
  }
  const encoding = (str(entry['encoding']) ?? 'text/plain').toLowerCase();
  try {
    let data: Buffer;
    if (['b64', 'base64'].includes(encoding)) data = Buffer.from(raw, 'base64');
    else if (['gz', 'gzip'].includes(encoding)) data = gunzipSync(Buffer.from(raw, 'latin1'), { maxOutputLength: MAX_FILE });
    else if (['gz+b64', 'gz+base64', 'gzip+b64', 'gzip+base64'].includes(encoding)) data = gunzipSync(Buffer.from(raw, 'base64'), { maxOutputLength: MAX_FILE });
    else if (encoding === 'text/plain') data = Buffer.from(raw, 'utf8');
    else {
      issues.push(`${where}: unknown encoding ${JSON.stringify(encoding.slice(0, 20))}; skipped`);
      return undefined;
    }
    if (data.length > MAX_FILE) {
      issues.push(`${where}: content over 16 MiB; skipped`);
      return undefined;
    }
    return data;
  } catch (error) {
    issues.push(`${where}: content does not decode as ${encoding} (${(error as Error).message.slice(0, 80)}); skipped`);
    return undefined;
  }
}

export function parseCloudConfig(text: string, issues: string[]): CloudConfig | undefined {
  let doc: unknown;
  try {
    // logLevel error: the library would print its warnings (with bits of the document) on the console
    doc = parseYaml(text, { schema: 'core', maxAliasCount: 100, prettyErrors: false, logLevel: 'error' });
  } catch (error) {
    issues.push(`cloud-config is not YAML: ${(error as Error).message.split('\n')[0]?.slice(0, 200) ?? ''}`);
    return undefined;
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) {
    issues.push('cloud-config is not a mapping; ignored');
    return undefined;
  }
  for (const key of Object.keys(doc)) if (!KNOWN.has(key)) issues.push(`cloud-config key "${key.slice(0, 40)}" is not supported; ignored`);
  const hostname = str(doc['fqdn']) ?? str(doc['hostname']);
  const users: CloudUser[] = [];
  const rawUsers = doc['users'];
  if (Array.isArray(rawUsers)) {
    rawUsers.forEach((u, i) => {
      if (u === 'default') return;
      const where = `users[${i}]`;
      const entry: Obj | undefined = typeof u === 'string' ? { name: u } : isObj(u) ? u : undefined;
      const name = entry === undefined ? undefined : str(entry['name']);
      if (entry === undefined || name === undefined || !NAME.test(name)) {
        issues.push(`${where}: no valid name (lower-case letters, digits, _ and -); skipped`);
        return;
      }
      const shell = str(entry['shell']);
      if (shell !== undefined && !SHELL.test(shell)) issues.push(`${where}: shell ${JSON.stringify(shell.slice(0, 40))} is not an absolute path; ignored`);
      const passwd = str(entry['passwd']) ?? str(entry['hashed_passwd']);
      if (passwd !== undefined && !isCryptField(passwd)) issues.push(`${where}: passwd is not a crypt(3) hash; ignored`);
      const sudo = entry['sudo'];
      users.push({
        name,
        sudo: sudo === true || (typeof sudo === 'string' && sudo.trim() !== '' && !/^(false|no)$/iu.test(sudo)) || (Array.isArray(sudo) && sudo.length > 0),
        shell: shell !== undefined && SHELL.test(shell) ? shell : undefined,
        sshAuthorizedKeys: keys(entry['ssh_authorized_keys'], `${where}.ssh_authorized_keys`, issues),
        lockPasswd: entry['lock_passwd'] === undefined ? true : truthy(entry['lock_passwd']),
        passwdHash: passwd !== undefined && isCryptField(passwd) ? passwd : undefined,
      });
    });
  } else if (rawUsers !== undefined) issues.push('users: not a list; ignored');
  const chpasswd: CloudPassword[] = [];
  const cp = doc['chpasswd'];
  if (isObj(cp)) {
    const list = cp['list'];
    const lines = typeof list === 'string' ? list.split('\n') : Array.isArray(list) ? list.filter((l): l is string => typeof l === 'string') : [];
    for (const line of lines.map((l) => l.trim()).filter((l) => l !== '')) {
      const colon = line.indexOf(':');
      const user = line.slice(0, colon);
      const value = line.slice(colon + 1);
      if (colon < 1 || !NAME.test(user) || value === '' || /[\r\n\0]/u.test(value)) {
        issues.push(`chpasswd: a line is not "user:password"; skipped`);
        continue;
      }
      if (/^R(ANDOM)?$/iu.test(value)) {
        issues.push(`chpasswd: random passwords for ${user} are not supported; skipped`);
        continue;
      }
      const read = classifyPassword(value);
      if (read.kind === 'invalid') issues.push(`chpasswd: the value for ${user} ${read.reason}; skipped`);
      else chpasswd.push({ user, kind: read.kind, value });
    }
  } else if (cp !== undefined) issues.push('chpasswd: not a mapping; ignored');
  const writeFiles: CloudFile[] = [];
  const wf = doc['write_files'];
  if (Array.isArray(wf)) {
    wf.forEach((f, i) => {
      const where = `write_files[${i}]`;
      if (!isObj(f)) {
        issues.push(`${where}: not a mapping; skipped`);
        return;
      }
      const given = str(f['path']);
      const normal = given === undefined ? undefined : normaliseGuestPath(given);
      if (normal?.ok !== true || normal.path === '/') {
        issues.push(`${where}: path must be absolute without ".."; skipped`);
        return;
      }
      const { path } = normal;
      const content = fileContent(f, issues, where);
      if (content === undefined) return;
      const mode = f['permissions'] === undefined ? 0o644 : permissions(f['permissions']);
      if (mode === undefined) {
        issues.push(`${where}: permissions ${JSON.stringify(shown(f['permissions'], 10))} are not octal; skipped`);
        return;
      }
      const owner = str(f['owner']) ?? 'root:root';
      if (!/^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/u.test(owner)) {
        issues.push(`${where}: owner ${JSON.stringify(owner.slice(0, 40))} is not user[:group]; skipped`);
        return;
      }
      writeFiles.push({ path, content, owner, mode, append: truthy(f['append']) });
    });
  } else if (wf !== undefined) issues.push('write_files: not a list; ignored');
  return {
    hostname,
    sshAuthorizedKeys: keys(doc['ssh_authorized_keys'], 'ssh_authorized_keys', issues),
    users,
    chpasswd,
    writeFiles,
    runcmd: commands(doc['runcmd'], 'runcmd', issues),
    bootcmd: commands(doc['bootcmd'], 'bootcmd', issues),
  };
}

/** Splits a MIME multipart body; each part's headers (lower-case) and decoded body. */
function mimeParts(raw: Buffer, issues: string[]): Array<{ type: string; filename: string | undefined; body: Buffer }> | undefined {
  const text = raw.toString('latin1');
  const headerEnd = text.search(/\r?\n\r?\n/u);
  const head = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const boundary = /boundary="?([^";\r\n]+)"?/iu.exec(head)?.[1];
  if (boundary === undefined) {
    issues.push('MIME user data without a boundary; ignored');
    return undefined;
  }
  const chunks = text.split(`--${boundary}`).slice(1);
  const out: Array<{ type: string; filename: string | undefined; body: Buffer }> = [];
  for (const chunk of chunks) {
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
    const type = /content-type:\s*([^;\s]+)/u.exec(headers)?.[1] ?? 'text/plain';
    const filename = /filename="?([^";\r\n]+)"?/u.exec(part.slice(0, end))?.[1];
    const body = /content-transfer-encoding:\s*base64/u.test(headers) ? Buffer.from(bodyText, 'base64') : Buffer.from(bodyText, 'latin1');
    out.push({ type, filename, body });
  }
  return out;
}

/** Classifies user data: #! script, #cloud-config, MIME multipart (of those), gzip of any of them. */
export function parseUserData(raw: Buffer): UserDataParts {
  const issues: string[] = [];
  const cloudConfigs: CloudConfig[] = [];
  const scripts: Array<{ name: string; body: Buffer }> = [];
  const visit = (data: Buffer, name: string, depth: number): void => {
    if (depth > 2) {
      issues.push(`${name}: nested too deeply; ignored`);
      return;
    }
    if (data[0] === 0x1f && data[1] === 0x8b) {
      try {
        visit(gunzipSync(data, { maxOutputLength: MAX_FILE }), name, depth + 1);
      } catch {
        issues.push(`${name}: gzip data does not decompress (or is over 16 MiB); ignored`);
      }
      return;
    }
    const head = data.subarray(0, 256).toString('latin1');
    if (head.startsWith('#!')) scripts.push({ name, body: data });
    else if (/^#cloud-config\s/u.test(head)) {
      const config = parseCloudConfig(data.toString('utf8'), issues);
      if (config !== undefined) cloudConfigs.push(config);
    } else if (/^content-type:\s*multipart\//imu.test(head) || /^mime-version:/imu.test(head)) {
      const parts = mimeParts(data, issues) ?? [];
      parts.forEach((p, i) => {
        const partName = `${name}-part${i + 1}`;
        if (p.type === 'text/x-shellscript' || p.body.subarray(0, 2).toString('latin1') === '#!') scripts.push({ name: partName, body: p.body });
        else if (p.type === 'text/cloud-config') {
          const config = parseCloudConfig(p.body.toString('utf8'), issues);
          if (config !== undefined) cloudConfigs.push(config);
        } else issues.push(`${partName}: MIME type ${p.type} is not supported; ignored`);
      });
    } else issues.push(`${name}: neither a #! script, #cloud-config nor MIME multipart; ignored`);
  };
  visit(raw, 'user-data', 0);
  return { cloudConfigs, scripts, issues };
}

/** Several cloud-config documents (MIME parts) merged: later scalars win, lists concatenate. */
export function mergeCloudConfigs(configs: readonly CloudConfig[]): CloudConfig | undefined {
  if (configs.length === 0) return undefined;
  return configs.reduce((a, b) => ({
    hostname: b.hostname ?? a.hostname,
    sshAuthorizedKeys: [...a.sshAuthorizedKeys, ...b.sshAuthorizedKeys],
    users: [...a.users, ...b.users],
    chpasswd: [...a.chpasswd, ...b.chpasswd],
    writeFiles: [...a.writeFiles, ...b.writeFiles],
    runcmd: [...a.runcmd, ...b.runcmd],
    bootcmd: [...a.bootcmd, ...b.bootcmd],
  }));
}
