// "Did you mean …?" for a misspelt key or check id: the closest known word, when it is close.

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known word closest to `word` (hyphens and underscores alike, case aside), or undefined when none is close. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const norm = (w: string): string => w.toLowerCase().replaceAll("_", "-");
  const target = norm(word);
  let best: { word: string; d: number } | undefined;
  for (const candidate of known) {
    if (candidate === word) continue;
    const d = distance(target, norm(candidate));
    if (d <= Math.max(2, Math.floor(target.length / 3)) && (!best || d < best.d)) best = { word: candidate, d };
  }
  return best?.word;
}

/** " — did you mean x?" or "". */
export function didYouMean(word: string, known: Iterable<string>): string {
  const found = closest(word, known);
  return found === undefined ? "" : ` — did you mean ${found}?`;
}
