/**
 * The benches' statistics, each with one definition, so every figure in bench/ output and in the
 * docs means the same thing.
 *
 * - `percentile(xs, p)` is the nearest-rank sample: the sorted sample at index ⌊p/100 × n⌋,
 *   clamped to the last. It is always an observed value, never an interpolation.
 * - `median(xs)` is `percentile(xs, 50)`: the middle sample for an odd count, the upper of the
 *   two middle ones for an even count (benches take an odd number of rounds).
 * - `spread(xs)` is the smallest and largest sample and their difference.
 *
 * Each function sorts a copy, so callers may pass samples in the order they were taken. An empty
 * input gives NaN: a bench that measured nothing should show it, not a zero.
 */

/** The samples in ascending order (a copy). */
export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** The nearest-rank `p`th percentile (`p` in [0, 100]) of samples already in ascending order. */
export function percentileOfSorted(ascending: readonly number[], p: number): number {
  if (ascending.length === 0) return NaN;
  return ascending[Math.min(ascending.length - 1, Math.floor((p / 100) * ascending.length))] ?? NaN;
}

/** The nearest-rank `p`th percentile (`p` in [0, 100]). */
export function percentile(xs: readonly number[], p: number): number {
  return percentileOfSorted(sorted(xs), p);
}

/** The median: the 50th nearest-rank percentile. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** The smallest and largest samples, and the range between them. */
export function spread(xs: readonly number[]): { readonly min: number; readonly max: number; readonly range: number } {
  if (xs.length === 0) return { min: NaN, max: NaN, range: NaN };
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max, range: max - min };
}
