// cloud-config write_files: each entry's path, content (text, base64, gzip; a YAML !!binary value
// as bytes, gzip of bytes too), owner, mode, append and defer, validated; every unusable entry
// reported at its line and skipped. Pure.
import { shown } from '../../shared/errors.js';
import { normaliseGuestPath } from '../guestpath.js';
import { DecodeBudget, MAX_USER_DATA_FILE as MAX_FILE, boundedGunzip, mib } from '../decodebudget.js';
import { type Issues, type Obj, type Path, capped, checkKeys, isObj, quoted, str, truthy } from './common.js';

export interface CloudFile {
  readonly path: string;
  readonly content: Buffer;
  readonly owner: string;
  readonly mode: number;
  readonly append: boolean;
  /** Written in the final stage, after the users are created (cloud-init's write_files_deferred). */
  readonly defer: boolean;
}

/** The keys this part applies: top level and within its mappings. */
export const FILE_KEYS = {
  top: ['write_files'],
  write_files: ['path', 'content', 'encoding', 'permissions', 'owner', 'append', 'defer'],
} as const;

/**
 * Keys cloud-init documents within write_files entries that vmctx does not apply. `source` (a URL
 * fetched by cloud-init, falling back to `content`) is not fetched: write_files is applied in the
 * local stage, before the network, and a file's bytes from the network would also escape the
 * checks `vmctx validate` can make. The entry's `content`, cloud-init's fallback, is written.
 */
export const FILE_UNSUPPORTED = {
  write_files: ['source'],
} as const;

function permissions(value: unknown): number | undefined {
  const s = str(value);
  if (s === undefined) return undefined;
  if (!/^0?[0-7]{3,4}$/u.test(s)) return undefined;
  return parseInt(s, 8) & 0o7777;
}

const GZIP = ['gz', 'gzip'];
const GZIP_B64 = ['gz+b64', 'gz+base64', 'gzip+b64', 'gzip+base64'];
const B64 = ['b64', 'base64'];

/**
 * The entry's bytes. A string is text, base64 or gzip as `encoding` says; a YAML `!!binary` value is
 * bytes already (written as they are, or inflated with a gzip encoding; with a base64 encoding
 * its bytes are base64 text, decoded, as cloud-init does).
 */
function fileContent(entry: Obj, issues: Issues, where: string, path: Path, budget: DecodeBudget): Buffer | undefined {
  const raw = entry['content'] ?? '';
  const binary = raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  if (typeof raw !== 'string' && binary === undefined) {
    issues.warn(`${where}: content is not a string or !!binary; skipped`, [...path, 'content']);
    return undefined;
  }
  const encoding = (str(entry['encoding']) ?? 'text/plain').toLowerCase();
  const text = typeof raw === 'string' ? raw : undefined;
  try {
    if (GZIP.includes(encoding) || GZIP_B64.includes(encoding)) {
      const packed = GZIP.includes(encoding) ? binary ?? Buffer.from(text ?? '', 'latin1') : Buffer.from(text ?? binary?.toString('latin1') ?? '', 'base64');
      // inflated only as far as the 16 MiB file limit and what is left of the user data's budget
      const inflated = boundedGunzip(packed, MAX_FILE, budget);
      if ('reason' in inflated) {
        issues.warn(`${where}: ${encoding} content skipped: ${inflated.reason}`, [...path, 'content']);
        return undefined;
      }
      return inflated.data;
    }
    let data: Buffer;
    if (B64.includes(encoding)) data = Buffer.from(text ?? binary?.toString('latin1') ?? '', 'base64');
    else if (encoding === 'text/plain') data = binary ?? Buffer.from(text ?? '', 'utf8');
    else {
      issues.warn(`${where}: unknown encoding ${JSON.stringify(encoding.slice(0, 20))}; skipped`, [...path, 'encoding']);
      return undefined;
    }
    if (data.length > MAX_FILE) {
      issues.warn(`${where}: content over 16 MiB; skipped`, [...path, 'content']);
      return undefined;
    }
    // an alias can repeat one content in many entries: each copy takes from the budget
    if (!budget.take(data.length)) {
      issues.warn(`${where}: content skipped: its ${mib(data.length)} would pass what is left of the ${mib(budget.total)} decompressed-bytes budget of this user data (${mib(budget.left)})`, [...path, 'content']);
      return undefined;
    }
    return data;
  } catch (error) {
    issues.warn(`${where}: content does not decode as ${encoding} (${(error as Error).message.slice(0, 80)}); skipped`, [...path, 'content']);
    return undefined;
  }
}

export function parseWriteFiles(doc: Obj, issues: Issues, budget: DecodeBudget): { writeFiles: readonly CloudFile[] } {
  const writeFiles: CloudFile[] = [];
  const wf = doc['write_files'];
  if (Array.isArray(wf)) {
    capped(wf, 'write_files', ['write_files'], issues).forEach((f, i) => {
      const where = `write_files[${i}]`;
      const path = ['write_files', i];
      if (!isObj(f)) {
        issues.warn(`${where}: not a mapping; skipped`, path);
        return;
      }
      const typos = checkKeys(f, FILE_KEYS.write_files, FILE_UNSUPPORTED.write_files, where, path, issues);
      const given = str(f['path']);
      const normal = given === undefined ? undefined : normaliseGuestPath(given);
      if (normal?.ok !== true || normal.path === '/') {
        issues.warn(`${where}: path must be absolute without ".."; skipped`, [...path, 'path']);
        return;
      }
      const filePath = normal.path;
      // an entry without content is an empty file on purpose, unless the content is plainly
      // there under a misspelled key or a source vmctx cannot fetch: then writing an empty file
      // would truncate what the user meant to fill, so the entry is skipped (and says why)
      if (f['content'] === undefined) {
        const misspelt = [...typos].find(([, guess]) => guess === 'content')?.[0];
        if (misspelt !== undefined) {
          // one line for the one mistake: the unknown-key warning becomes the skip warning
          const at = issues.list.findIndex((i) => i.message.startsWith(`${where}: unknown key ${quoted(misspelt)}`));
          if (at >= 0) issues.list.splice(at, 1);
          issues.warn(`${where}: unknown key ${quoted(misspelt)} (did you mean "content"?); the entry has no content, so ${filePath.slice(0, 80)} is not written (not even empty)`, [...path, misspelt]);
          return;
        }
        if (f['source'] !== undefined) {
          // one line for the one key: the entry's "not supported" warning becomes the skip warning
          const at = issues.list.findIndex((i) => i.message.startsWith(`${where}: key "source" is not supported`));
          if (at >= 0) issues.list.splice(at, 1);
          issues.warn(`${where}: content from "source" (a URL) is not supported by vmctx and the entry has no "content" to fall back on; skipped rather than writing an empty ${filePath.slice(0, 80)}`, [...path, 'source']);
          return;
        }
      } else if (f['source'] !== undefined) {
        const at = issues.list.findIndex((i) => i.message.startsWith(`${where}: key "source" is not supported`));
        if (at >= 0) issues.list.splice(at, 1);
        issues.warn(`${where}: content from "source" (a URL) is not supported by vmctx; the entry's "content" is written instead (cloud-init's fallback when the source cannot be read)`, [...path, 'source']);
      }
      const content = fileContent(f, issues, where, path, budget);
      if (content === undefined) return;
      const mode = f['permissions'] === undefined ? 0o644 : permissions(f['permissions']);
      if (mode === undefined) {
        issues.warn(`${where}: permissions ${JSON.stringify(shown(f['permissions'], 10))} are not octal; skipped`, [...path, 'permissions']);
        return;
      }
      const owner = str(f['owner']) ?? 'root:root';
      if (!/^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/u.test(owner)) {
        issues.warn(`${where}: owner ${JSON.stringify(owner.slice(0, 40))} is not user[:group]; skipped`, [...path, 'owner']);
        return;
      }
      if (f['defer'] !== undefined && typeof f['defer'] !== 'boolean') issues.warn(`${where}: defer is not true or false; taken as ${truthy(f['defer'])}`, [...path, 'defer']);
      writeFiles.push({ path: filePath, content, owner, mode, append: truthy(f['append']), defer: truthy(f['defer']) });
    });
  } else if (wf !== undefined) issues.warn('write_files: not a list; ignored', ['write_files']);
  return { writeFiles };
}
