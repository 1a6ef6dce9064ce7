import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

/**
 * Follow-up records (跟进记录): the platform has no API for them, so wxops keeps them. Members write
 * about their own customers; department admins read their department's (policy decides who may).
 */
export const RECORDS = 'customer-records';
export const MAX_NOTE_CHARS = 1000;

export interface FollowUpRecord {
  id: string;
  external_userid: string;
  customer_name: string;
  userid: string;
  note: string;
  at: string;
}

export async function addRecord(store: Store, r: Omit<FollowUpRecord, 'id'>): Promise<FollowUpRecord> {
  const record = { ...r, id: `${Date.parse(r.at).toString(36)}-${randomBytes(3).toString('hex')}` };
  await store.put(RECORDS, record.id, record);
  return record;
}

export async function findRecords(store: Store, f: { userids?: string[]; since?: string; external_userid?: string }): Promise<FollowUpRecord[]> {
  const users = f.userids ? new Set(f.userids.map((u) => u.toLowerCase())) : undefined;
  return (await store.list<FollowUpRecord>(RECORDS))
    .filter((r) => (!users || users.has(r.userid.toLowerCase())) && (!f.since || r.at >= f.since) && (!f.external_userid || r.external_userid === f.external_userid))
    .sort((a, b) => b.at.localeCompare(a.at));
}
