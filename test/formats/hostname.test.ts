// Hostname sanitising (formats/hostname.ts): [-a-zA-Z0-9.] only, labels 1–63, at most 253 in all.
import { describe, expect, it } from 'vitest';
import { isValidHostname, sanitiseHostname } from '../../src/formats/hostname.js';

describe('sanitiseHostname', () => {
  it('keeps a valid name as it is, unchanged (case included)', () => {
    for (const name of ['web1', 'web-1.example.com', 'Web1.Example.COM', 'a', '123', '1-2-3.4', 'xn--bcher-kva.example']) {
      expect(sanitiseHostname(name), name).toEqual({ name, changed: false });
    }
  });

  // [raw, sanitised]
  const table: Array<[string, string]> = [
    ['my_host', 'my-host'],
    ['my host', 'my-host'],
    ['my   host', 'my-host'],
    ['  web1  ', 'web1'],
    ['web1\n', 'web1'],
    ['web1\r\n', 'web1'],
    ['web1.example.com.', 'web1.example.com'],
    ['.web1', 'web1'],
    ['web1..example', 'web1.example'],
    ['-web1-', 'web1'],
    ['--web1--.--x--', 'web1.x'],
    ['web_1.my_domain', 'web-1.my-domain'],
    ['häst', 'h-st'],
    ['服务器1', '1'],
    ['web1 🚀', 'web1'],
    ['web1;rm -rf /', 'web1-rm--rf'],
    ['$(reboot)', 'reboot'],
    ['web1\0evil', 'web1-evil'],
  ];
  it.each(table)('%j becomes %j, and says it changed', (raw, name) => {
    expect(sanitiseHostname(raw)).toEqual({ name, changed: true });
  });

  it('a label longer than 63 characters is cut to 63, and a dash left at the cut goes', () => {
    expect(sanitiseHostname('a'.repeat(64)).name).toBe('a'.repeat(63));
    expect(sanitiseHostname(`${'a'.repeat(62)}-bcd.example`).name).toBe(`${'a'.repeat(62)}.example`);
    expect(sanitiseHostname(`${'a'.repeat(63)}.example`)).toEqual({ name: `${'a'.repeat(63)}.example`, changed: false });
  });

  it('a name longer than 253 characters loses whole labels from its end', () => {
    const label = 'b'.repeat(63);
    const long = [label, label, label, label, 'tail'].join('.');
    expect(long.length).toBeGreaterThan(253);
    const { name, changed } = sanitiseHostname(long);
    expect(changed).toBe(true);
    expect(name).toBe([label, label, label].join('.'));
    expect(name!.length).toBeLessThanOrEqual(253);
    // exactly 253 is kept
    const exact = [label, label, label, 'c'.repeat(61)].join('.');
    expect(exact.length).toBe(253);
    expect(sanitiseHostname(exact)).toEqual({ name: exact, changed: false });
  });

  it('a very long input with no usable characters, or nothing at all, gives no name', () => {
    expect(sanitiseHostname('')).toEqual({ name: undefined, changed: false });
    expect(sanitiseHostname('   ')).toEqual({ name: undefined, changed: true });
    expect(sanitiseHostname('...')).toEqual({ name: undefined, changed: true });
    expect(sanitiseHostname('---')).toEqual({ name: undefined, changed: true });
    expect(sanitiseHostname('🚀'.repeat(10_000))).toEqual({ name: undefined, changed: true });
  });

  it('what it makes is always a valid hostname (sanitising twice changes nothing)', () => {
    for (const [raw] of table) {
      const { name } = sanitiseHostname(raw);
      expect(sanitiseHostname(name!), raw).toEqual({ name, changed: false });
      expect(name).toMatch(/^[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/u);
    }
  });
});

describe('isValidHostname', () => {
  it('accepts exactly what sanitising leaves alone', () => {
    expect(isValidHostname('web1.example.com')).toBe(true);
    expect(isValidHostname('a'.repeat(63))).toBe(true);
    expect(isValidHostname('a'.repeat(64))).toBe(false);
    expect(isValidHostname('web1.')).toBe(false);
    expect(isValidHostname('web_1')).toBe(false);
    expect(isValidHostname(' web1')).toBe(false);
    expect(isValidHostname('-web1')).toBe(false);
    expect(isValidHostname('web1..x')).toBe(false);
    expect(isValidHostname('')).toBe(false);
  });
});
