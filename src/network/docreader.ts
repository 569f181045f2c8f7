// A key-tracking reader over one YAML (or JSON) network document: every read marks its key, and at
// the end every key nobody read is reported with its path, file and line, so no key is ever
// dropped without a word. Pure.
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Pair, type YAMLMap } from 'yaml';
import { didYouMean } from '../formats/didyoumean.js';
import { parseYamlBounded, yamlOverLimits } from '../formats/yamldoc.js';

/**
 * unknown: a key the format does not have (a typo, or a newer format); not supported: a key of the
 * format vmctx does not apply; invalid: a value that is wrong, skipped (the rest applies); unused:
 * a known, informational key with nothing to apply (OpenStack's network_id).
 */
export type NoteKind = 'unknown' | 'not supported' | 'invalid' | 'unused';

export interface NetworkNote {
  /** Where in the document: "network.ethernets.eno1.match.driver", "links[2].bond_mode". */
  readonly path: string;
  readonly file: string;
  /** 1-based line of the key (or of the item), when the document has lines. */
  readonly line: number | undefined;
  readonly what: NoteKind;
  readonly message: string;
}

/** Notes in document order (by line, then as found). */
export function sortNotes(notes: readonly NetworkNote[]): NetworkNote[] {
  return notes.map((n, i) => ({ n, i })).sort((a, b) => (a.n.line ?? Infinity) - (b.n.line ?? Infinity) || a.i - b.i).map((x) => x.n);
}

/** A note as the console and the report show it: `not supported: KEY (file:line): message`. */
export function formatNote(n: NetworkNote): string {
  const key = n.path === '' ? '(document)' : n.path;
  return `${n.what}: ${key} (${n.file}${n.line === undefined ? '' : `:${n.line}`}): ${n.message}`;
}

/** A place in the document a note can point at. */
export interface Where {
  readonly path: string;
  readonly line: number | undefined;
}

const SHOWN = 60;
/** The most aliases one document may use (as formats/yamldoc.ts's parseYamlValue allows). */
export const MAX_ALIASES = 100;
/** A value as it may appear in a message: JSON-quoted, cut at 60 characters. */
export function shownValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) as string | undefined) ?? String(value);
  return JSON.stringify(text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text);
}

/** Notes of one document, and the set of pairs that were read. */
export class DocTracker {
  readonly notes: NetworkNote[] = [];
  private readonly read = new WeakSet<Pair>();
  private readonly covered = new WeakSet<object>();

  constructor(
    readonly file: string,
    private readonly counter: LineCounter | undefined,
  ) {}

  /** Set by parseNetworkDoc: the document aliases resolve in. */
  doc: Document | undefined;

  private aliases = 0;

  /** An alias as the node it names; past MAX_ALIASES, nothing (and one note), so a document of aliases cannot multiply the work. */
  resolveAlias(node: unknown): unknown {
    if (!isAlias(node) || this.doc === undefined) return node;
    this.aliases += 1;
    if (this.aliases === MAX_ALIASES + 1) this.note({ path: '', line: this.lineOf(node) }, 'invalid', `uses more than ${MAX_ALIASES} aliases (*name); the rest are not followed`);
    return this.aliases > MAX_ALIASES ? null : (node.resolve(this.doc) ?? null);
  }

  lineOf(node: unknown): number | undefined {
    if (this.counter === undefined || typeof node !== 'object' || node === null) return undefined;
    const range = (node as { range?: readonly number[] | null }).range;
    const start = range?.[0];
    return start === undefined ? undefined : this.counter.linePos(start).line;
  }

  note(where: Where, what: NoteKind, message: string): void {
    this.notes.push({ path: where.path, file: this.file, line: where.line, what, message });
  }

  markRead(pair: Pair): void {
    this.read.add(pair);
  }

  /** Everything below this node counts as read (an entry skipped whole, already reported). */
  cover(node: unknown): void {
    if (typeof node === 'object' && node !== null) this.covered.add(node);
  }

  /**
   * Reports every key below `root` that was not read, as unknown (with the closest known key of
   * its mapping when `known` gives one) — only the outermost unread key, not each key inside it.
   */
  finish(root: Value, known: (path: string) => readonly string[] = () => []): void {
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null || this.covered.has(node)) return;
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = keyText(pair);
          const at = join(path, key);
          if (!this.read.has(pair)) {
            const guess = didYouMean(key, known(path));
            this.note({ path: at, line: this.lineOf(pair.key) }, 'unknown', `unknown key ${shownValue(key)}${guess === undefined || guess === key ? '' : ` (did you mean ${JSON.stringify(guess)}?)`}; not applied`);
            continue;
          }
          walk(pair.value, at);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          walk(item, `${path}[${i}]`);
        });
      }
    };
    walk(root.node, root.where.path);
  }
}

function keyText(pair: Pair): string {
  const k = pair.key;
  // as written: YAML 1.1 reads a plain `y:` or `1:` as a boolean or number, the name is the text
  if (isScalar(k)) return typeof k.value === 'string' ? k.value : ((k as { source?: string }).source ?? String(k.value));
  return String(k);
}

const join = (path: string, key: string): string => (path === '' ? key : /^[A-Za-z0-9_-]+$/u.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** One node of the document with its path: typed reads that report a wrong type as invalid. */
export class Value {
  readonly node: unknown;

  constructor(
    readonly t: DocTracker,
    node: unknown,
    readonly where: Where,
  ) {
    // an alias (*name) reads as the node it names, as PyYAML reads it
    this.node = t.resolveAlias(node);
  }

  get path(): string {
    return this.where.path;
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  invalid<T = never>(message: string): T | undefined {
    this.t.note(this.where, 'invalid', message);
    this.t.cover(this.node);
    return undefined;
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  unsupported<T = never>(message: string): T | undefined {
    this.t.note(this.where, 'not supported', message);
    this.t.cover(this.node);
    return undefined;
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
  unused<T = never>(message: string): T | undefined {
    this.t.note(this.where, 'unused', message);
    this.t.cover(this.node);
    return undefined;
  }

  /** Counts everything below as read (after reporting the whole entry). */
  cover(): void {
    this.t.cover(this.node);
  }

  isNull(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  isMap(): boolean {
    return isMap(this.node);
  }

  isSeq(): boolean {
    return isSeq(this.node);
  }

  isScalar(): boolean {
    return isScalar(this.node);
  }

  map(what = 'a mapping'): MapReader | undefined {
    if (isMap(this.node)) return new MapReader(this.t, this.node, this.where);
    return this.invalid(`is not ${what}; skipped`);
  }

  /** The items of a sequence; a single scalar is taken as a list of one when `single` allows it. */
  items(single = false): Value[] | undefined {
    if (isSeq(this.node)) return this.node.items.map((item, i) => new Value(this.t, item, { path: `${this.where.path}[${i}]`, line: this.t.lineOf(item) ?? this.where.line }));
    if (single && isScalar(this.node) && this.node.value !== null) return [this];
    return this.invalid('is not a list; skipped');
  }

  /** The raw scalar: the text as written for a plain scalar YAML 1.1 read as a number (an unquoted MAC). */
  private scalar(): { value: unknown; source: string | undefined } | undefined {
    if (!isScalar(this.node)) return undefined;
    return { value: this.node.value, source: (this.node as { source?: string }).source };
  }

  /** The scalar's string value, without judging it (undefined for anything else). */
  peek(): string | undefined {
    const s = this.scalar();
    return typeof s?.value === 'string' ? s.value : undefined;
  }

  /** A string (a number is taken as written: `vlan_id: 10`, an unquoted MAC); else invalid. */
  text(what = 'a text value'): string | undefined {
    const s = this.scalar();
    if (s !== undefined && typeof s.value === 'string') return s.value;
    if (s !== undefined && typeof s.value === 'number') return s.source ?? String(s.value);
    return this.invalid(`${this.shown()} is not ${what}; skipped`);
  }

  /** true/false, or YAML 1.1's yes/no/on/off (cloud-init reads YAML 1.1), or "true"/"false"/"on"/"off"/"1"/"0" in quotes. */
  bool(): boolean | undefined {
    const s = this.scalar();
    if (s !== undefined && typeof s.value === 'boolean') return s.value;
    if (s !== undefined && (typeof s.value === 'string' || typeof s.value === 'number')) {
      const v = String(s.value).toLowerCase();
      if (['true', 'yes', 'on', '1', 'y'].includes(v)) return true;
      if (['false', 'no', 'off', '0', 'n'].includes(v)) return false;
    }
    return this.invalid(`${this.shown()} is not true or false; skipped`);
  }

  /** A whole number from min to max (a number or a string of digits); else invalid. */
  int(min: number, max: number, what = 'a number'): number | undefined {
    const s = this.scalar();
    let n: number | undefined;
    if (s !== undefined && typeof s.value === 'number' && Number.isInteger(s.value)) n = s.value;
    else if (s !== undefined && typeof s.value === 'string' && /^\d{1,10}$/u.test(s.value.trim())) n = Number(s.value.trim());
    if (n !== undefined && n >= min && n <= max) return n;
    return this.invalid(`${this.shown()} is not ${what} from ${min} to ${max}; skipped`);
  }

  /** The value for a message. */
  shown(): string {
    const s = this.scalar();
    if (s !== undefined) return shownValue(typeof s.value === 'number' ? (s.source ?? s.value) : s.value);
    if (isMap(this.node)) return 'a mapping';
    if (isSeq(this.node)) return 'a list';
    return 'nothing';
  }
}

/** A mapping: reading a key marks it read; keys never read are reported by DocTracker.finish. */
export class MapReader {
  constructor(
    readonly t: DocTracker,
    readonly node: YAMLMap,
    readonly where: Where,
  ) {}

  /** The last pair with this key: a key written twice counts as written last (as cloud-init's PyYAML reads it). */
  private pair(key: string): Pair | undefined {
    return this.node.items.findLast((p) => isPair(p) && keyText(p) === key);
  }

  private valueOf(pair: Pair, key: string): Value {
    return new Value(this.t, pair.value, { path: join(this.where.path, key), line: this.t.lineOf(pair.key) });
  }

  has(key: string): boolean {
    return this.pair(key) !== undefined;
  }

  /** The value of `key`, marked read; undefined when absent. A key with no value (`dhcp4:`) is a null Value. */
  get(key: string): Value | undefined {
    const pair = this.pair(key);
    if (pair === undefined) return undefined;
    this.t.markRead(pair);
    return this.valueOf(pair, key);
  }

  /** The first of several spellings present (`bond-mode`, `bond_mode`, `mode`), marked read. */
  getAny(keys: readonly string[]): Value | undefined {
    for (const key of keys) {
      const v = this.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The keys present, in document order, none marked read. */
  keys(): string[] {
    return [...new Set(this.node.items.map(keyText))];
  }

  /** Every entry, each marked read, in document order. */
  entries(): [string, Value][] {
    // a key written twice counts once, as written last
    return this.node.items.filter((pair) => this.pair(keyText(pair)) === pair).map((pair) => {
      const key = keyText(pair);
      this.t.markRead(pair);
      return [key, this.valueOf(pair, key)];
    });
  }

  /** Marks a known key of the format that vmctx does not apply: reported as not supported. */
  unsupported(key: string, message: string): void {
    this.get(key)?.unsupported(message);
  }

  /** Marks a known informational key: reported as unused. */
  unused(key: string, message: string): void {
    this.get(key)?.unused(message);
  }
}

/** A parsed document ready to read, or why it could not be parsed. */
export type ParsedDoc = { readonly ok: true; readonly root: Value; readonly tracker: DocTracker } | { readonly ok: false; readonly notes: readonly NetworkNote[] };

/**
 * Parses a network document (YAML 1.1 as cloud-init reads it, or JSON) within the bounds of
 * formats/yamldoc.ts, with a line for every key. A syntax error, a limit or a duplicate key is an
 * invalid note on the whole document.
 */
export function parseNetworkDoc(text: string, file: string): ParsedDoc {
  const fail = (line: number | undefined, message: string): ParsedDoc => ({ ok: false, notes: [{ path: '', file, line, what: 'invalid', message }] });
  const over = yamlOverLimits(text, file);
  if (over !== undefined) return fail(undefined, over);
  const counter = new LineCounter();
  const { doc } = parseYamlBounded(text, { version: '1.1', logLevel: 'error', prettyErrors: false, lineCounter: counter });
  const first = doc.errors[0];
  if (first !== undefined) return fail(counter.linePos(first.pos[0]).line, `is not YAML or JSON (${first.message.split('\n')[0]?.slice(0, 100) ?? ''}); nothing applied`);
  const tracker = new DocTracker(file, counter);
  tracker.doc = doc;
  // a key written twice in one mapping: the last applies (PyYAML's reading), the earlier is named
  const duplicates = (node: unknown, path: string): void => {
    if (isSeq(node)) node.items.forEach((item, i) => { duplicates(item, `${path}[${i}]`); });
    if (!isMap(node)) return;
    const last = new Map<string, Pair>();
    for (const pair of node.items) last.set(keyText(pair), pair);
    for (const pair of node.items) {
      const key = keyText(pair);
      const final = last.get(key);
      if (final !== undefined && final !== pair) {
        tracker.markRead(pair);
        tracker.cover(pair.value);
        tracker.note({ path: join(path, key), line: tracker.lineOf(pair.key) }, 'invalid', `the key ${shownValue(key)} is written again on line ${tracker.lineOf(final.key) ?? '?'}; this one is not used (the last one applies)`);
      } else duplicates(pair.value, join(path, key));
    }
  };
  duplicates(doc.contents, '');
  return { ok: true, root: new Value(tracker, doc.contents, { path: '', line: tracker.lineOf(doc.contents) }), tracker };
}
