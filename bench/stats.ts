/** Small helpers shared by the benchmarks: percentiles and aligned output. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function fmtMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

export function line(name: string, value: string, goal?: string, pass?: boolean): void {
  const verdict = pass === undefined ? '' : pass ? '  ✓ goal met' : '  ✗ goal missed';
  console.log(`  ${name.padEnd(44)} ${value}${goal ? `   (goal: ${goal})` : ''}${verdict}`);
}
