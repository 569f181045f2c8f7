// YAML documents from a cloud, parsed within bounds: a size and token limit before parsing, and
// duplicate keys found in one pass (the yaml package's own check compares every key of a mapping
// with every other: 40 000 keys took 66 s). Pure.
import { LineCounter, Lexer, isMap, isScalar, parseDocument, visit, type Document, type ParseOptions, type DocumentOptions, type SchemaOptions } from 'yaml';

const MIB = 1024 * 1024;
/** The most text one YAML document may have (after decompression). */
export const MAX_YAML_TEXT = 2 * MIB;
/** The most YAML tokens one document may have (parsing costs about 460 bytes per byte of flow-style YAML). */
export const MAX_YAML_TOKENS = 100_000;

/** Counts tokens up to just past `max` (the lexer is lazy: a huge input is never tokenised whole). */
export function yamlTokens(text: string, max: number = MAX_YAML_TOKENS): number {
  let n = 0;
  const tokens = new Lexer().lex(text);
  while (n <= max && tokens.next().done !== true) n++;
  return n;
}

/** Why `text` is too big to parse as one YAML document (what, the limit), or undefined. */
export function yamlOverLimits(text: string, what: string): string | undefined {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_YAML_TEXT) return `${what} of ${(size / MIB).toFixed(1)} MiB is over the ${MAX_YAML_TEXT / MIB} MiB limit for one document; refused`;
  if (yamlTokens(text) > MAX_YAML_TOKENS) return `${what} has over ${MAX_YAML_TOKENS} YAML tokens, the limit for one document; refused`;
  return undefined;
}

export interface BoundedParse {
  readonly doc: Document;
  /** The first duplicate key, with the offset of its second occurrence. */
  readonly duplicate?: { readonly key: string; readonly offset: number | undefined } | undefined;
}

/**
 * parseDocument with the package's quadratic unique-key check off and the same check done in one
 * pass per mapping (scalar keys; a duplicate is reported, as the package would, not silently taken).
 */
export function parseYamlBounded(text: string, options: ParseOptions & DocumentOptions & SchemaOptions & { lineCounter?: LineCounter } = {}): BoundedParse {
  const doc = parseDocument(text, { ...options, uniqueKeys: false });
  let duplicate: BoundedParse['duplicate'];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return undefined;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (typeof key === 'object' && key !== null) continue;
        if (seen.has(key)) {
          duplicate = { key: String(key), offset: isScalar(pair.key) ? pair.key.range?.[0] : undefined };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return { doc, duplicate };
}

/** A plain value from a bounded parse; throws (with the reason) on a limit, a YAML error or a duplicate key. */
export function parseYamlValue(text: string, what: string, maxAliasCount = 100): unknown {
  const over = yamlOverLimits(text, what);
  if (over !== undefined) throw new Error(over);
  const counter = new LineCounter();
  const { doc, duplicate } = parseYamlBounded(text, { logLevel: 'error', prettyErrors: false, lineCounter: counter });
  const first = doc.errors[0];
  if (first !== undefined) throw new Error(first.message);
  if (duplicate !== undefined) throw new Error(`duplicate key ${JSON.stringify(duplicate.key.slice(0, 60))}${duplicate.offset === undefined ? '' : ` at line ${counter.linePos(duplicate.offset).line}`}`);
  return doc.toJS({ maxAliasCount });
}
