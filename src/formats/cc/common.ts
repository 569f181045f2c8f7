// What the cloud-config parts share: the Issues (every problem at its line and column), the key
// checks against what vmctx applies and what cloud-init documents, and the small value readers. Pure.
import { LineCounter, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import { didYouMean } from '../didyoumean.js';

/** Entries taken from each list (runcmd, bootcmd, write_files, users, chpasswd list, keys); the rest are reported. */
export const MAX_ENTRIES = 1000;

export type Severity = 'error' | 'warning';

/** A problem found in a cloud-config document, at the key (or list item) it is about. */
export interface CloudConfigIssue {
  readonly severity: Severity;
  readonly message: string;
  /** 1-based, in the file the document came from (a MIME part's lines are the whole body's). */
  readonly line?: number | undefined;
  readonly col?: number | undefined;
}

export type Obj = Record<string, unknown>;
export type Path = ReadonlyArray<string | number>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
export const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(yes|true|1)$/iu.test(v));
export const quoted = (key: string): string => JSON.stringify(key.slice(0, 40));

/** Where keys and list items are in the YAML text: every issue names its line and column. */
export class Issues {
  readonly list: CloudConfigIssue[] = [];
  #doc: Document | undefined;
  readonly #counter: LineCounter;
  readonly #lineOffset: number;

  constructor(counter: LineCounter, lineOffset: number) {
    this.#counter = counter;
    this.#lineOffset = lineOffset;
  }

  set doc(doc: Document) {
    this.#doc = doc;
  }

  /** Line and column of the key (a mapping entry) or the item (a list entry) at path. */
  at(path: Path): { line?: number; col?: number } {
    let node: unknown = this.#doc?.contents;
    let offset = isNode(node) ? node.range?.[0] : undefined;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(step));
        if (pair === undefined) break;
        offset = isNode(pair.key) ? pair.key.range?.[0] : offset;
        node = pair.value;
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step];
        if (!isNode(item)) break;
        offset = item.range?.[0];
        node = item;
      } else break;
    }
    return offset === undefined ? {} : this.pos(offset);
  }

  pos(offset: number): { line: number; col: number } {
    const p = this.#counter.linePos(offset);
    return { line: p.line + this.#lineOffset, col: p.col };
  }

  warn(message: string, path: Path = []): void {
    this.list.push({ severity: 'warning', message, ...this.at(path) });
  }

  error(message: string, where: { line?: number; col?: number } = {}): void {
    this.list.push({ severity: 'error', message, ...where });
  }
}

/**
 * Checks the keys of one mapping against what vmctx applies and what cloud-init documents:
 * unknown keys get a did-you-mean, documented ones we do not apply "not supported". Returns the
 * misspellings (unknown key → the applied key it looks like).
 */
export function checkKeys(entry: Obj, applied: readonly string[], unsupported: readonly string[], where: string, path: Path, issues: Issues): Map<string, string> {
  const typos = new Map<string, string>();
  for (const key of Object.keys(entry)) {
    if (applied.includes(key)) continue;
    const prefix = where === '' ? 'cloud-config key' : `${where}: key`;
    if (unsupported.includes(key)) {
      // cloud-init's old spellings with "-" of keys vmctx reads with "_"
      const modern = key.replaceAll('-', '_');
      const hint = modern !== key && applied.includes(modern) ? ` (vmctx reads ${quoted(modern)})` : '';
      issues.warn(`${prefix} ${quoted(key)} is not supported by vmctx${hint}; ignored`, [...path, key]);
      continue;
    }
    const guess = didYouMean(key, [...applied, ...unsupported]);
    if (guess !== undefined && applied.includes(guess)) typos.set(key, guess);
    issues.warn(`${where === '' ? 'unknown cloud-config key' : `${where}: unknown key`} ${quoted(key)}${guess === undefined ? '' : ` (did you mean ${quoted(guess)}?)`}; ignored`, [...path, key]);
  }
  return typos;
}

/** The first MAX_ENTRIES of a list; the rest reported (key and count) at the first one left out. */
export function capped<T>(list: readonly T[], where: string, path: Path, issues: Issues): readonly T[] {
  if (list.length <= MAX_ENTRIES) return list;
  issues.warn(`${where}: ${list.length} entries, over the limit of ${MAX_ENTRIES}; the ${list.length - MAX_ENTRIES} after the first ${MAX_ENTRIES} are ignored`, [...path, MAX_ENTRIES]);
  return list.slice(0, MAX_ENTRIES);
}

export function keys(value: unknown, where: string, path: Path, issues: Issues): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.warn(`${where}: not a list of keys; ignored`, path);
    return [];
  }
  return capped(value, where, path, issues).filter((k, i): k is string => {
    if (typeof k === 'string') return true;
    issues.warn(`${where}: an entry is not a string; skipped`, [...path, i]);
    return false;
  });
}

