import { createHash } from 'node:crypto';
import { ApiError } from '../errors.js';
import { prng } from '../random.js';

/** Small helpers of the 客户联系 modules. */

export const chars = (s: string): number => [...s].length;
export const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
export const seconds = (ms: number): number => Math.floor(ms / 1000);

export const DAY_MS = 86_400_000;
const SHANGHAI_MS = 8 * 3600_000;

/** Beijing midnight (ms) of the day `ms` falls in: the platform's statistics days. */
export function beijingMidnight(ms: number): number {
  return Math.floor((ms + SHANGHAI_MS) / DAY_MS) * DAY_MS - SHANGHAI_MS;
}

export function beijingDate(ms: number): string {
  return new Date(ms + SHANGHAI_MS).toISOString().slice(0, 10);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` letters and digits drawn from a PRNG seeded by `seed`: cheap, so 100,000 ids take milliseconds. */
export function alnum(seed: number, length: number): string {
  const rand = prng(seed);
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[Math.floor(rand() * 62)];
  return out;
}

/** A 32-bit seed from a string. */
export function seedOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/**
 * external_userid: `wm` + 30 letters and digits, the first eight shared by every customer of the corp
 * (as on the platform, e.g. `wmAJ2GCAAA…`), the rest derived from a sequence number.
 */
const CORP_PART = 'Xk3aCgAA';
export function externalUseridFor(seq: number, salt = 0): string {
  return `wm${CORP_PART}${alnum((Math.imul(seq + 1, 0x9e3779b1) ^ (salt * 0x85ebca6b)) >>> 0, 22)}`;
}

/** Corp tag and tag-group ids: `et` + 30 letters and digits. */
export function tagIdFor(seq: number): string {
  return `et${CORP_PART}${alnum(seedOf(`corp-tag:${seq}`), 22)}`;
}

/** 「联系我」 config_id: 32 hex digits. */
export function configIdFor(seq: number): string {
  return createHash('sha256').update(`contact-way:${seq}`).digest('hex').slice(0, 32);
}

/** A string field that may be absent; present but not a string (or too long) is 40058. */
export function optString(value: unknown, maxChars: number, errcode = 40058): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || chars(value) > maxChars) throw new ApiError(errcode);
  return value;
}

/** Opaque cursors: base64url of a few fields; anything else is 50100 (invalid cursor). */
export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(parts.join('.'), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: unknown, fields: number): string[] | undefined {
  if (cursor === undefined || cursor === null || cursor === '') return undefined;
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new ApiError(50100);
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('.');
  if (parts.length !== fields) throw new ApiError(50100);
  return parts;
}

/** A non-negative integer from a cursor part, else 50100. */
export function cursorInt(part: string | undefined): number {
  const n = Number(part);
  if (!Number.isInteger(n) || n < 0) throw new ApiError(50100);
  return n;
}
