// A block of lines vmctx owns inside a file someone else also edits: found by its markers,
// replaced whole, removed when empty; every line outside it is kept exactly as it was.
import { VmctxError } from '../shared/errors.js';

export interface BlockMarkers {
  readonly begin: string;
  readonly end: string;
}

export function markers(comment: string, name = 'vmctx'): BlockMarkers {
  return { begin: `${comment} BEGIN ${name} managed block: changes inside are replaced`, end: `${comment} END ${name} managed block` };
}

/** A marker line, also with the trailing spaces or CR an editor may leave on it. */
function isMarker(line: string | undefined, marker: string): boolean {
  return line !== undefined && line.trimEnd() === marker;
}

/**
 * A begin marker whose end marker is gone (a hand edit): where the block ends is unknown, so
 * neither the block nor the lines after it can be told apart. Nothing is changed; the file is named.
 */
function unterminated(m: BlockMarkers, lineNo: number, file: string): VmctxError {
  return new VmctxError('ERR_UNSAFE_FILE', `${file} line ${lineNo}: "${m.begin}" has no "${m.end}" line after it, so where vmctx's block ends is unknown; the file is left as it is. Put the END line back (or delete the block) and run again`);
}

/** Lines of the current block (without markers), or undefined when the file has none; throws on a block with no end. */
export function readBlock(text: string, m: BlockMarkers, file = 'the file'): string[] | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => isMarker(l, m.begin));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && isMarker(l, m.end));
  if (end < 0) throw unterminated(m, start + 1, file);
  return lines.slice(start + 1, end);
}

/**
 * Replaces the block's content (or removes the block when `content` is empty). A new block is
 * appended at the end, or placed before the first line matching `before` when given. A begin
 * marker without its end throws (naming `file`) rather than guess and drop the lines after it.
 */
export function replaceBlock(text: string, m: BlockMarkers, content: readonly string[], before?: RegExp, file = 'the file'): string {
  const lines = text === '' ? [] : text.replace(/\n$/u, '').split('\n');
  const kept: string[] = [];
  let insertAt = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (isMarker(line, m.begin)) {
      if (insertAt < 0) insertAt = kept.length;
      let j = i + 1;
      while (j < lines.length && !isMarker(lines[j], m.end)) j++;
      if (j >= lines.length) throw unterminated(m, i + 1, file);
      i = j;
      continue;
    }
    kept.push(line);
  }
  if (insertAt < 0 && before !== undefined) {
    const idx = kept.findIndex((l) => before.test(l));
    if (idx >= 0) insertAt = idx;
  }
  if (insertAt < 0) insertAt = kept.length;
  const block = content.length === 0 ? [] : [m.begin, ...content, m.end];
  const out = [...kept.slice(0, insertAt), ...block, ...kept.slice(insertAt)];
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
