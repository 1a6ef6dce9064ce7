import { createHash } from 'node:crypto';
import { prng } from '../random.js';

/** Small helpers shared by the Official Account modules. */

/** Limits in mp.md are counted in UTF-8 bytes (a Chinese character is 3). */
export const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

const DAY_MS = 86_400_000;
const SHANGHAI_MS = 8 * 3600_000;

/** The platform's calendar is Beijing time: quotas, statistics and the monthly mass-send cap follow it. */
export function shanghaiDate(ms: number): string {
  return new Date(ms + SHANGHAI_MS).toISOString().slice(0, 10);
}

export function shanghaiMonth(ms: number): string {
  return shanghaiDate(ms).slice(0, 7);
}

/** Midnight (Beijing) of a `YYYY-MM-DD` date, in ms. */
export function dayStart(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) - SHANGHAI_MS;
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (both `YYYY-MM-DD`). */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

/** A real calendar date in `YYYY-MM-DD` form, or undefined. */
export function parseDate(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const t = Date.parse(`${value}T00:00:00Z`);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value ? undefined : value;
}

export { prng };

/** A PRNG seeded by a string (a date, an article): statistics answer the same on every call. */
export function prngFor(key: string): () => number {
  return prng(createHash('sha256').update(key).digest().readUInt32BE(0));
}

/**
 * Openids are 28 characters, the first six shared by every follower of one account
 * (e.g. `oLVPpjqs9BhvzwPj5A-vTYAX3GLc`); the rest is derived from a sequence number so the same
 * follower gets the same openid everywhere.
 */
export const OPENID_PREFIX = 'oLVPpj';
export function openidFor(seq: number): string {
  return OPENID_PREFIX + createHash('sha256').update(`mp-follower:${seq}`).digest('base64url').slice(0, 22);
}

/** A `wx` + 16 hex appid derived from a name. */
export function appidFor(name: string): string {
  return `wx${createHash('sha256').update(`mp-app:${name}`).digest('hex').slice(0, 16)}`;
}

export function idFor(kind: string, seq: number, length: number): string {
  return createHash('sha256').update(`${kind}:${seq}`).digest('base64url').slice(0, length);
}
