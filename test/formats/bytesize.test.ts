// The one byte-size parser: cloud-init's forms (swap sizes, growpart) and, with iec, the --size options' KiB … TiB.
import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../src/formats/bytesize.js';
import { byteSize } from '../../src/cli/disk.js';
import { humanBytes } from '../../src/formats/cc/machine.js';

const MIB = 2 ** 20;

describe('parseByteSize', () => {
  it('cloud-init forms: digits, a fraction, K/M/G/T (either case), B alone or after the unit, spaces around', () => {
    expect(['123', '1.5G', '512M', '64k', '2T', '100B', '2 GB', ' 7 ', '0', '100BB'].map((t) => parseByteSize(t))).toEqual([123, 1.5 * 2 ** 30, 512 * MIB, 65536, 2 * 2 ** 40, 100, 2 * 2 ** 30, 7, 0, 100]);
  });

  it('not sizes: words, signs, units cloud-init does not know, KiB without iec', () => {
    expect(['lots', '-1', '1P', '1e3', '', 'M', '4KiB', '1.'].map((t) => parseByteSize(t))).toEqual(Array(8).fill(undefined));
  });

  it('iec: KiB … TiB too, never "iB" without a unit', () => {
    expect(['4KiB', '512MiB', '8GiB', '1TiB', '8G'].map((t) => parseByteSize(t, { iec: true }))).toEqual([4096, 512 * MIB, 8 * 2 ** 30, 2 ** 40, 8 * 2 ** 30]);
    expect(['4iB', '4BiB'].map((t) => parseByteSize(t, { iec: true }))).toEqual([undefined, undefined]);
  });

  it('its two callers keep their forms: humanBytes takes numbers and 0, byteSize KiB and only more than 0', () => {
    expect([humanBytes(4096), humanBytes(0), humanBytes('1.5G'), humanBytes('8GiB'), humanBytes(-1)]).toEqual([4096, 0, 1.5 * 2 ** 30, undefined, undefined]);
    expect([byteSize('8GiB'), byteSize('512M'), byteSize('0'), byteSize('1e9'), byteSize(' 4K ')]).toEqual([8 * 2 ** 30, 512 * MIB, undefined, undefined, 4096]);
  });
});
