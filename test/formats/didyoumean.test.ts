import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, typoBudget } from '../../src/formats/didyoumean.js';

describe('did you mean', () => {
  it('Damerau-Levenshtein: a swap of neighbours is one edit, as are insert, delete, substitute', () => {
    expect(editDistance('contnet', 'content')).toBe(1);
    expect(editDistance('SET_HOSTNAM', 'SET_HOSTNAME')).toBe(1);
    expect(editDistance('ssh_authorised_keys', 'ssh_authorized_keys')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('ca', 'abc')).toBe(3); // optimal string alignment: no edit of a swapped pair
  });

  it('the budget grows with the length: short names allow one edit, long ones up to three', () => {
    expect([3, 7, 8, 11, 19, 40].map(typoBudget)).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('suggests the closest known name, case-insensitively, and nothing for names far from all', () => {
    const known = ['SET_HOSTNAME', 'HOSTNAME', 'SSH_PUBLIC_KEY', 'PASSWORD'];
    expect(didYouMean('SET_HOSTNAM', known)).toBe('SET_HOSTNAME');
    expect(didYouMean('set_hostname', known)).toBe('SET_HOSTNAME');
    expect(didYouMean('SSH_PUBLC_KEY', known)).toBe('SSH_PUBLIC_KEY');
    expect(didYouMean('PASWORD', known)).toBe('PASSWORD');
    expect(didYouMean('MY_APP_CONFIG', known)).toBeUndefined();
    expect(didYouMean('foo', ['bar', 'baz'])).toBeUndefined();
    expect(didYouMean('contnet', ['path', 'content', 'encoding'])).toBe('content');
  });
});
