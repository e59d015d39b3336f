/** Percentiles for the fleet bench's processes (kept apart so that the plain node ones load nothing else). */

/** The `q` quantile (0..1) of `values`, nearest rank; `NaN` when empty. */
export const percentile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}
