// Managed blocks (formats/managedblock.ts): vmctx's lines inside a file others edit, found by
// markers, replaced whole, removed when empty; every line outside is kept byte for byte.
import { describe, expect, it } from 'vitest';
import { markers, readBlock, replaceBlock } from '../../src/formats/managedblock.js';

const M = markers('#');
const B = M.begin;
const E = M.end;
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

describe('markers', () => {
  it('names the comment syntax and the owner', () => {
    expect(markers('#')).toEqual({ begin: '# BEGIN vmctx managed block: changes inside are replaced', end: '# END vmctx managed block' });
    expect(markers(';', 'other')).toEqual({ begin: '; BEGIN other managed block: changes inside are replaced', end: '; END other managed block' });
  });
});

describe('readBlock', () => {
  it('no block: undefined (also for an empty file)', () => {
    expect(readBlock('', M)).toBeUndefined();
    expect(readBlock(lines('a', 'b'), M)).toBeUndefined();
  });

  it('the lines between the markers, without them', () => {
    expect(readBlock(lines('a', B, 'x', 'y', E, 'b'), M)).toEqual(['x', 'y']);
    expect(readBlock(lines(B, E), M)).toEqual([]);
  });

  it('a begin marker without an end: refused with the file and line, never a guess', () => {
    expect(() => readBlock(lines('a', B, 'x', 'y'), M, '/root/.ssh/authorized_keys')).toThrow(/\/root\/\.ssh\/authorized_keys line 2: .* has no .* line after it/u);
  });

  it('two blocks: the first one', () => {
    expect(readBlock(lines(B, 'one', E, B, 'two', E), M)).toEqual(['one']);
  });

  it('an end marker before any begin is an ordinary line', () => {
    expect(readBlock(lines(E, 'a', B, 'x', E), M)).toEqual(['x']);
  });

  it('a marker that is only part of a line, or another owner\'s, is not ours', () => {
    expect(readBlock(lines(`  ${B}`, 'x', E), M)).toBeUndefined();
    expect(readBlock(lines(`${B} (edited)`, 'x', E), M)).toBeUndefined();
    const other = markers('#', 'other');
    expect(readBlock(lines(other.begin, 'x', other.end), M)).toBeUndefined();
  });

  it('markers an editor left trailing spaces or a CR on are still found (else a key could never be revoked)', () => {
    expect(readBlock(lines(`${B}  `, 'x', `${E}\t`), M)).toEqual(['x']);
    expect(readBlock(`a\r\n${B}\r\nx\r\n${E}\r\n`, M)).toEqual(['x\r']);
  });
});

describe('replaceBlock', () => {
  it('an empty file gets the block, and nothing else', () => {
    expect(replaceBlock('', M, ['x'])).toBe(lines(B, 'x', E));
  });

  it('a new block is appended; a final newline is added when missing', () => {
    expect(replaceBlock(lines('a', 'b'), M, ['x'])).toBe(lines('a', 'b', B, 'x', E));
    expect(replaceBlock('a\nb', M, ['x'])).toBe(lines('a', 'b', B, 'x', E));
  });

  it('an existing block is replaced where it is; lines around it are kept byte for byte', () => {
    const text = lines('  indented\t', '# comment', B, 'old', E, 'after  ', '', 'last');
    expect(replaceBlock(text, M, ['new1', 'new2'])).toBe(lines('  indented\t', '# comment', B, 'new1', 'new2', E, 'after  ', '', 'last'));
  });

  it('empty content removes the block (and only the block)', () => {
    expect(replaceBlock(lines('a', B, 'old', E, 'b'), M, [])).toBe(lines('a', 'b'));
    expect(replaceBlock(lines(B, 'old', E), M, [])).toBe('');
    expect(replaceBlock('', M, [])).toBe('');
  });

  it('with no block and nothing to add the text is kept (a final newline added)', () => {
    expect(replaceBlock(lines('a', 'b'), M, [])).toBe(lines('a', 'b'));
    expect(replaceBlock('a', M, [])).toBe('a\n');
  });

  it('blank lines at the end of the file are kept', () => {
    expect(replaceBlock('a\n\n\n', M, ['x'])).toBe(`a\n\n\n${B}\nx\n${E}\n`);
  });

  it('replacing is idempotent: the same content twice gives the same text', () => {
    const once = replaceBlock(lines('a', 'b'), M, ['x', 'y']);
    expect(replaceBlock(once, M, ['x', 'y'])).toBe(once);
    expect(readBlock(once, M)).toEqual(['x', 'y']);
  });

  it('`before`: a new block goes before the first matching line; an existing block stays where it is', () => {
    const hosts = lines('127.0.0.1 localhost', '127.0.1.1 old-name', '::1 localhost');
    expect(replaceBlock(hosts, M, ['127.0.1.1 new'], /^127\.0\.1\.1\s/u)).toBe(lines('127.0.0.1 localhost', B, '127.0.1.1 new', E, '127.0.1.1 old-name', '::1 localhost'));
    const withBlock = lines('::1 localhost', B, 'old', E, '127.0.1.1 x');
    expect(replaceBlock(withBlock, M, ['new'], /^127\.0\.1\.1\s/u)).toBe(lines('::1 localhost', B, 'new', E, '127.0.1.1 x'));
    // no line matches: appended
    expect(replaceBlock(lines('a'), M, ['x'], /^nomatch/u)).toBe(lines('a', B, 'x', E));
  });

  it('duplicated blocks become one, at the place of the first', () => {
    const text = lines('a', B, 'one', E, 'b', B, 'two', E, 'c');
    expect(replaceBlock(text, M, ['new'])).toBe(lines('a', B, 'new', E, 'b', 'c'));
    expect(replaceBlock(text, M, [])).toBe(lines('a', 'b', 'c'));
  });

  it('a begin marker without an end: refused, naming the file and line (the lines after it are the user\'s, never dropped)', () => {
    expect(() => replaceBlock(lines('a', B, 'x', 'user line'), M, ['new'], undefined, '/etc/hosts')).toThrow(/^\/etc\/hosts line 2: .*the file is left as it is/u);
    expect(() => replaceBlock(lines('a', B, 'x'), M, [])).toThrow(/^the file line 2:/u);
  });

  it('nested begin markers: the block ends at the first end marker; a second end is left as an ordinary line', () => {
    const text = lines('a', B, 'x', B, 'y', E, 'z', E, 'b');
    const out = replaceBlock(text, M, ['new']);
    expect(out).toBe(lines('a', B, 'new', E, 'z', E, 'b'));
    // and it is stable from there on
    expect(replaceBlock(out, M, ['new'])).toBe(out);
  });

  it('a CRLF file: lines outside keep their CR; markers with a CR are ours (no second block)', () => {
    const text = `a\r\n${B}\r\nold key\r\n${E}\r\nb\r\n`;
    expect(replaceBlock(text, M, ['new key'])).toBe(`a\r\n${B}\nnew key\n${E}\nb\r\n`);
    expect(replaceBlock(text, M, [])).toBe('a\r\nb\r\n');
  });

  it('markers with trailing spaces are ours: revoking removes them instead of leaving the old keys', () => {
    const text = lines('mine', `${B} `, 'ssh-ed25519 AAAA old', `${E}  `);
    expect(replaceBlock(text, M, [])).toBe(lines('mine'));
    expect(replaceBlock(text, M, ['ssh-ed25519 AAAA new'])).toBe(lines('mine', B, 'ssh-ed25519 AAAA new', E));
  });

  it('unicode and very long lines pass through untouched', () => {
    const long = 'ü'.repeat(200_000);
    expect(replaceBlock(lines('grüße 世界', long), M, ['🚀'])).toBe(lines('grüße 世界', long, B, '🚀', E));
  });
});
