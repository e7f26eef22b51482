/**
 * "Did you mean": the known word nearest to a mistyped one (Damerau-Levenshtein distance:
 * a swapped pair of letters is one edit), when it is near enough to be a typo rather than
 * another word: no edit for words of 1-2 letters, 1 for up to 5, 2 beyond; or the one
 * known word it begins (`hafw st` -> status, while `hafw s` begins three and gets none).
 */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

export function nearest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = distance(w, k.toLowerCase());
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  const limit = word.length <= 2 ? 0 : word.length <= 5 ? 1 : 2;
  if (best !== undefined && bestD > 0 && bestD <= limit) return best;
  const prefixed = word.length >= 2 ? known.filter((k) => k.toLowerCase().startsWith(w) && k.toLowerCase() !== w) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** " (did you mean 'status'?)" or nothing. */
export function didYouMean(word: string, known: readonly string[]): string {
  const s = nearest(word, known);
  return s ? ` (did you mean '${s}'?)` : '';
}
