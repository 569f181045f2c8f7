// Strict base64 (formats/base64.ts): whitespace is ignored, everything else not base64 is refused.
import { describe, expect, it } from 'vitest';
import { decodeStrictBase64 } from '../../src/formats/base64.js';

const text = (value: string): string | undefined => decodeStrictBase64(value)?.toString('utf8');

describe('decodeStrictBase64', () => {
  it('decodes canonical base64, with one, two or no padding characters', () => {
    expect(text('aGVsbG8=')).toBe('hello');
    expect(text('aGk=')).toBe('hi');
    expect(text('aGV5')).toBe('hey');
    expect(text('YQ==')).toBe('a');
    expect(text('+/+/')).toBe(Buffer.from([0xfb, 0xff, 0xbf]).toString('utf8'));
    expect([...(decodeStrictBase64('+/+/') ?? [])]).toEqual([0xfb, 0xff, 0xbf]);
  });

  it('ignores whitespace anywhere: line breaks (LF and CRLF, as `base64` wraps at 76), tabs, leading and trailing spaces', () => {
    const body = 'echo "contextualised"\n'.repeat(20);
    const wrapped = Buffer.from(body).toString('base64').replace(/.{76}/gu, '$&\r\n');
    expect(wrapped).toContain('\r\n');
    expect(text(wrapped)).toBe(body);
    expect(text('  aGVs\tbG8=\n')).toBe('hello');
    expect(text('aGVsbG8 =')).toBe('hello');
    expect(text('a G V s b G 8 =')).toBe('hello');
  });

  it('decodes unicode content and binary content byte for byte', () => {
    const unicode = 'grüße, 世界 🚀';
    expect(text(Buffer.from(unicode).toString('base64'))).toBe(unicode);
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(decodeStrictBase64(binary.toString('base64'))?.equals(binary)).toBe(true);
  });

  it('decodes a very long value (1 MiB) whole', () => {
    const big = Buffer.alloc(1024 * 1024, 0xa5);
    expect(decodeStrictBase64(big.toString('base64'))?.equals(big)).toBe(true);
  });

  it('refuses empty and whitespace-only values (nothing is not a script)', () => {
    expect(decodeStrictBase64('')).toBeUndefined();
    expect(decodeStrictBase64('   ')).toBeUndefined();
    expect(decodeStrictBase64('\r\n\t')).toBeUndefined();
  });

  // Node's own decoder skips all of these silently and returns something
  it.each([
    ['missing padding', 'aGVsbG8'],
    ['one character too many', 'aGVsbG8=a'],
    ['a lone character', 'a'],
    ['three padding characters', 'YQ==='],
    ['padding alone', '=='],
    ['four padding characters', '===='],
    ['padding in the middle', 'aGk=aGk='],
    ['padding then data', 'YQ==YQ=='],
    ['URL-safe alphabet (-)', 'a-b_'],
    ['URL-safe alphabet (_)', 'ab_c'],
    ['a dot', 'aGVs.bG8='],
    ['a non-ASCII letter', 'aGVsbG8é'],
    ['a NUL byte', 'aGVs\0bG8='],
    ['a data: URL prefix', 'data:text/plain;base64,aGVsbG8='],
    ['plain text that looks like words', 'not base64!'],
  ])('refuses %s', (_why, value) => {
    expect(decodeStrictBase64(value)).toBeUndefined();
  });

  it('what Node alone does with a value it refuses: skips the bad characters without a word', () => {
    expect(Buffer.from('aGVs.bG8=', 'base64').toString('utf8')).toBe('hello');
    expect(decodeStrictBase64('aGVs.bG8=')).toBeUndefined();
  });
});
