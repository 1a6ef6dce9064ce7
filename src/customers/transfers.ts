import type { Store } from '../store/store.js';

/**
 * Transfers wxops started. The platform allows each customer at most two on-job transfers in 90 days
 * (wecom.md §4.5); keeping our own history lets a bulk transfer refuse the third before anything is sent.
 */
export const TRANSFERS = 'customer-transfers';
export const TRANSFERS_PER_90_DAYS = 2;
const DAY_MS = 86_400_000;

export interface TransferRecord {
  external_userid: string;
  handover: string;
  takeover: string;
  kind: 'onjob' | 'resigned';
  at: string;
  errcode: number;
}

/** Appends to the history in one atomic step: transfers recorded by another instance at once are kept. */
export async function recordTransfers(store: Store, records: TransferRecord[]): Promise<void> {
  if (!records.length) return;
  await store.update<{ list: TransferRecord[] }>(TRANSFERS, 'all', (cur) => ({ list: [...(cur?.list ?? []), ...records] }));
}

/** How many successful on-job transfers each customer had in the 90 days before `now`. */
export async function recentTransfers(store: Store, now: Date): Promise<Map<string, number>> {
  const since = now.getTime() - 90 * DAY_MS;
  const out = new Map<string, number>();
  for (const r of (await store.get<{ list: TransferRecord[] }>(TRANSFERS, 'all'))?.list ?? []) {
    if (r.kind === 'onjob' && r.errcode === 0 && Date.parse(r.at) >= since) out.set(r.external_userid, (out.get(r.external_userid) ?? 0) + 1);
  }
  return out;
}
