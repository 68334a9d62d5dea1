/** The known name nearest to `name` (Levenshtein distance), for "did you mean"; null when none is known. */
export function closest(name: string, known: Iterable<string>): { name: string; distance: number } | null {
  let best: { name: string; distance: number } | null = null;
  for (const k of known) {
    const distance = editDistance(name, k);
    if (best === null || distance < best.distance) best = { name: k, distance };
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}
