import type { MassStatus } from '../platform/mp/types.js';
import type { Store } from '../store/store.js';

/** Pushes wxops sent, kept for the monthly per-follower limit, `push status` and the job's final counts. */
export const PUSHES = 'mp-pushes';

export interface PushResult {
  status: string;
  total: number;
  filtered: number;
  sent: number;
  errors: number;
}

export interface PushRecord {
  msg_id: string;
  tag_id: number;
  tag_name: string;
  msgtype: string;
  summary: string;
  recipients: string[];
  ad: boolean;
  sent_by: string;
  sent_at: string;
  status: MassStatus | 'SUBMITTED';
  /** From the MASSSENDJOBFINISH callback, when `serve` received it. */
  result?: PushResult;
}

/** The callback's final counts, kept with the push they belong to. */
export async function recordPushResult(store: Store, msgId: string, result: PushResult): Promise<void> {
  if (!(await store.get<PushRecord>(PUSHES, msgId))) return;
  await store.update<PushRecord>(PUSHES, msgId, (record) => (record ? { ...record, result } : undefined));
}

/** Sets a push's status without losing a result the callback recorded meanwhile (on any instance). */
export async function recordPushStatus(store: Store, msgId: string, status: PushRecord['status'], fallback: PushRecord): Promise<void> {
  await store.update<PushRecord>(PUSHES, msgId, (record) => ({ ...(record ?? fallback), status }));
}
