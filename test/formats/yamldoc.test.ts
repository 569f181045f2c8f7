// Bounded YAML: the limits before parsing and the one-pass duplicate-key check.
import { describe, expect, it } from 'vitest';
import { MAX_YAML_TEXT, MAX_YAML_TOKENS, parseYamlBounded, parseYamlValue, yamlOverLimits, yamlTokens } from '../../src/formats/yamldoc.js';
import { checkMetadataDocument } from '../../src/agent/context/documents.js';

describe('bounded YAML', () => {
  it('!!binary is bytes with the core schema the cloud-config, meta-data and validate parsers use (and with YAML 1.1)', () => {
    const text = 'a: !!binary |\n  AAEC/w==\nb: text\n';
    for (const options of [{ schema: 'core' as const }, { version: '1.1' as const }]) {
      const { doc } = parseYamlBounded(text, options);
      expect(doc.errors).toEqual([]);
      expect(doc.warnings).toEqual([]);
      const value = doc.toJS() as Record<string, unknown>;
      expect(value['a']).toBeInstanceOf(Uint8Array);
      expect([...(value['a'] as Uint8Array)]).toEqual([0, 1, 2, 255]);
    }
    expect(parseYamlValue(text, 'meta-data')).toMatchObject({ b: 'text' });
    // a document's key checks (validate's positions) read a !!binary value without a problem
    expect(checkMetadataDocument('meta-data', 'meta-data', Buffer.from(`instance-id: i\n${text}`))).toEqual([
      expect.objectContaining({ severity: 'info', message: 'key "a" is not used by vmctx' }),
      expect.objectContaining({ severity: 'info', message: 'key "b" is not used by vmctx' }),
    ]);
  });

  it('a duplicate key is found (by our own pass, the package check is off) and named with its line', () => {
    const { duplicate } = parseYamlBounded('a: 1\nb:\n  c: 1\n  c: 2\n');
    expect(duplicate?.key).toBe('c');
    expect(() => parseYamlValue('a: 1\nb:\n  c: 1\n  c: 2\n', 'meta-data')).toThrow('duplicate key "c" at line 4');
    expect(parseYamlBounded('a: 1\nb: {c: 1, d: 2}\n').duplicate).toBeUndefined();
  });

  it('a document of 12 000 distinct keys, under the token limit, is read (the package check made this quadratic: 20 000 keys took 13 s) with the same value', () => {
    const text = `instance-id: i-1\n${Array.from({ length: 12_000 }, (_, i) => `k${i}: v`).join('\n')}\n`;
    expect(yamlOverLimits(text, 'meta-data')).toBeUndefined();
    const value = parseYamlValue(text, 'meta-data') as Record<string, string>;
    expect(Object.keys(value)).toHaveLength(12_001);
    expect(value['k11999']).toBe('v');
  });

  it('over the text or token limit: refused before parsing, with the limit named', () => {
    expect(yamlOverLimits('x'.repeat(MAX_YAML_TEXT + 1), 'meta-data')).toMatch(/over the 2 MiB limit for one document; refused/u);
    const tokens = `${Array.from({ length: MAX_YAML_TOKENS }, () => '- [a]').join('\n')}\n`;
    expect(yamlTokens(tokens)).toBeGreaterThan(MAX_YAML_TOKENS);
    expect(yamlOverLimits(tokens, 'network-config')).toMatch(/over 100000 YAML tokens/u);
    expect(() => parseYamlValue(tokens, 'network-config')).toThrow(/YAML tokens/u);
  });

  it('the document checks (validate, the seed readers) report a duplicate key and an oversize document as errors', () => {
    const dup = checkMetadataDocument('meta-data', 'meta-data', Buffer.from('instance-id: a\nlocal-hostname: b\ninstance-id: c\n'));
    expect(dup).toEqual([expect.objectContaining({ line: 3, severity: 'error', message: 'meta-data is not YAML: the key "instance-id" appears twice in one mapping' })]);
    const big = checkMetadataDocument('network-config', 'network-config', Buffer.from('x'.repeat(MAX_YAML_TEXT + 1)));
    expect(big).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringMatching(/over .*limit/u) as unknown })]);
  });
});
