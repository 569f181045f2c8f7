// Sizes written as people write them: "512M", "1.5G", "64k", "100B", a number of bytes (powers of 1024).

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([BKMGT]?)(i?B)?\s*$/iu;

/**
 * A size in bytes (rounded down), undefined when the text is not one: digits with an optional
 * fraction, then K, M, G or T (or B), then an optional B — as cloud-init's human2bytes reads them.
 * `iec` also takes KiB, MiB, GiB and TiB (what `--size` options accept).
 */
export function parseByteSize(text: string, options: { readonly iec?: boolean } = {}): number | undefined {
  const m = SIZE.exec(text);
  if (m === null) return undefined;
  const unit = (m[2] ?? '').toUpperCase() || 'B';
  // "KiB": only with iec, and only after K, M, G or T ("4iB" and "BiB" are nothing)
  if ((m[3] ?? '').length === 2 && (options.iec !== true || unit === 'B')) return undefined;
  const bytes = Math.floor(Number(m[1]) * 1024 ** 'BKMGT'.indexOf(unit));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
