/**
 * Calendar days as the platforms count them: China time (UTC+8, no daylight saving), `YYYY-MM-DD`.
 * Statistics, counters, pushes, the digest and backups all cut days this way.
 */
const CHINA_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** The China-time calendar day of an instant. */
export function chinaDate(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The day `n` days after `date` (before, when `n` is negative). */
export function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}
