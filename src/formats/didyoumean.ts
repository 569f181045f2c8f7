// "Did you mean …?": the closest known name to a misspelled one, by Damerau-Levenshtein distance
// (optimal string alignment: insert, delete, substitute, swap two neighbours). Pure.

/** Edits between a and b; a swap of two neighbouring characters counts as one edit. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // three rows are enough: the swap looks two rows back
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1);
      current[j] = d;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length] ?? 0;
}

/**
 * How many edits still count as a typo of a word this long: one for short words (up to 7
 * characters), then one more per 6 characters, at most 3. "contnet" → "content" (a swap) and
 * "SET_HOSTNAM" → "SET_HOSTNAME" pass; "foo" is never "bar".
 */
export function typoBudget(length: number): number {
  return Math.min(3, Math.max(1, Math.floor((length - 2) / 6) + 1));
}

/**
 * The known name closest to `word` (case-insensitive), when it is within the typo budget of the
 * word's length; undefined when nothing is that close. Ties go to the earlier candidate.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const budget = typoBudget(word.length);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // a length gap larger than the budget can never be within it
    if (Math.abs(candidate.length - word.length) > budget) continue;
    const d = editDistance(w, candidate.toLowerCase());
    if (d === 0) return candidate;
    if (d <= budget && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
