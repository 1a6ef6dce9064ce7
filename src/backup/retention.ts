import { hostname } from 'node:os';
import { rmSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { t } from '../core/i18n.js';
import { chinaDate } from '../core/dates.js';
import { CATALOGUE, listBackups, type BackupSummary } from './format.js';
import type { Store } from '../store/store.js';

/**
 * Retention (`WXOPS_BACKUP_KEEP`, default `7d,4w`): keep the newest backup of each of the last N China-time
 * days (`Nd`) and of each of the last M weeks, Monday to Sunday (`Mw`). The newest backup is always kept.
 */
export const DEFAULT_KEEP = '7d,4w';

export interface KeepRule {
  days: number;
  weeks: number;
}

export function parseKeep(value: string | undefined): KeepRule {
  const s = (value ?? '').trim() || DEFAULT_KEEP;
  const rule: KeepRule = { days: 0, weeks: 0 };
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)\s*([dw])$/i.exec(part);
    if (!m) {
      throw new InputError(
        'BACKUP_KEEP_INVALID',
        t('WXOPS_BACKUP_KEEP 写法如 7d,4w（保留最近 7 天每天一份、最近 4 周每周一份），“{p}” 不对。', 'WXOPS_BACKUP_KEEP reads like 7d,4w (the newest of each of the last 7 days and of the last 4 weeks); “{p}” is not that.', { p: part }),
      );
    }
    if (m[2]!.toLowerCase() === 'd') rule.days = Number(m[1]);
    else rule.weeks = Number(m[1]);
  }
  return rule;
}

const DAY = 86_400_000;

/** Days since 1970-01-01 of a China-time day `YYYY-MM-DD`. */
function dayNumber(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / DAY);
}

/** The Monday (as a day number) of the week a day number falls in. 1970-01-01 was a Thursday. */
function weekNumber(dayNo: number): number {
  return Math.floor((dayNo + 3) / 7);
}

/** Which backups to keep, given the backups (any order) and now. */
export function selectKept(backups: { id: string; created_at: string }[], now: Date, rule: KeepRule): Set<string> {
  const sorted = [...backups].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  const keep = new Set<string>();
  if (sorted[0]) keep.add(sorted[0].id);
  const today = dayNumber(chinaDate(now));
  const thisWeek = weekNumber(today);
  const days = new Set<number>();
  const weeks = new Set<number>();
  for (const b of sorted) {
    const d = dayNumber(chinaDate(new Date(b.created_at)));
    const w = weekNumber(d);
    if (today - d < rule.days && d <= today && !days.has(d)) (days.add(d), keep.add(b.id));
    if (thisWeek - w < rule.weeks && w <= thisWeek && !weeks.has(w)) (weeks.add(w), keep.add(b.id));
  }
  return keep;
}

/** Deletes the backups the rule does not keep; returns the ids removed. */
export function applyRetention(dataDir: string, now: Date, rule: KeepRule): { kept: string[]; removed: string[] } {
  const all: BackupSummary[] = listBackups(dataDir);
  const keep = selectKept(
    all.map((b) => ({ id: b.id, created_at: b.manifest.created_at })),
    now,
    rule,
  );
  const removed: string[] = [];
  for (const b of all) {
    if (keep.has(b.id)) continue;
    rmSync(b.dir, { recursive: true, force: true });
    removed.push(b.id);
  }
  return { kept: all.filter((b) => keep.has(b.id)).map((b) => b.id), removed };
}

/** Takes removed backups out of the shared catalogue (this host's entries: each instance prunes its own). */
export async function uncatalogue(store: Store, removed: string[]): Promise<void> {
  for (const id of removed) await store.delete(CATALOGUE, `${hostname()}:${id}`);
}
