import { PlatformError } from '../../core/errors.js';
import { pages } from '../paginate.js';
import type { WecomClient } from './client.js';

/**
 * Customer contact (客户联系, wecom.md §4–5), with the customer-contact secret. Reads are methods here;
 * writes are plan steps that `executePlan` runs through the same client.
 */
export interface ExternalContact {
  external_userid: string;
  name: string;
  type: number;
  gender?: number;
  avatar?: string;
  unionid?: string;
  position?: string;
  corp_name?: string;
  corp_full_name?: string;
}

export interface FollowInfo {
  userid: string;
  remark?: string;
  description?: string;
  createtime?: number;
  tag_id?: string[];
  tags?: { group_name?: string; tag_name?: string; tag_id: string; type?: number }[];
  remark_corp_name?: string;
  remark_mobiles?: string[];
  add_way?: number;
  oper_userid?: string;
  state?: string;
}

/** One customer with every member who follows them. */
export interface Customer {
  external_contact: ExternalContact;
  follow_user: FollowInfo[];
}

export interface CorpTagGroup {
  group_id: string;
  group_name: string;
  create_time?: number;
  order?: number;
  tag: { id: string; name: string; create_time?: number; order?: number }[];
}

export interface ContactWay {
  config_id: string;
  type: number;
  scene: number;
  remark?: string;
  state?: string;
  user?: string[];
  party?: number[];
  qr_code?: string;
  is_temp?: boolean;
  expires_in?: number;
}

export interface BehaviorDay {
  stat_time: number;
  new_apply_cnt: number;
  new_contact_cnt: number;
  chat_cnt: number;
  message_cnt: number;
  reply_percentage?: number;
  avg_reply_time?: number;
  negative_feedback_cnt: number;
}

/** One (customer, member) relation as batch/get_by_user answers it. */
export interface BatchRow {
  external_contact: ExternalContact;
  follow_info: FollowInfo;
}

/** batch/get_by_user takes at most 100 members and returns at most 100 relations per call. */
export const BATCH_USERS = 100;
export const BATCH_LIMIT = 100;

/**
 * The member lists of batch/get_by_user calls, in the order cursor chains take them: the members are
 * spread over `chains` groups, and each group is cut into lists of at most 100 (more members than
 * chains × 100 means longer chains).
 */
export function batchMemberLists(userids: string[], chains: number): string[][] {
  const groups: string[][] = Array.from({ length: chains }, () => []);
  userids.forEach((u, i) => groups[i % chains]!.push(u));
  return groups.flatMap((g) => Array.from({ length: Math.ceil(g.length / BATCH_USERS) }, (_, k) => g.slice(k * BATCH_USERS, (k + 1) * BATCH_USERS)));
}

export class CustomerApi {
  constructor(readonly client: WecomClient) {}

  private get(api: string, query?: Record<string, string | number | undefined>) {
    return this.client.call(api, { secret: 'customer', method: 'GET', query });
  }

  /** `rawArray`: that array of the answer comes back as bytes, one Buffer per element (http.ts). */
  private post(api: string, body: unknown, rawArray?: string) {
    return this.client.call(api, { secret: 'customer', method: 'POST', body, rawArray });
  }

  /** Members enabled for customer contact. */
  async followUsers(): Promise<string[]> {
    return (await this.get('externalcontact/get_follow_user_list')).follow_user ?? [];
  }

  /** One customer and their followers, or undefined for an unknown id (40096 / 84061). */
  async customer(externalUserid: string): Promise<Customer | undefined> {
    try {
      const r = await this.get('externalcontact/get', { external_userid: externalUserid });
      return { external_contact: r.external_contact, follow_user: r.follow_user ?? [] };
    } catch (err) {
      if (err instanceof PlatformError && (err.errcode === 40096 || err.errcode === 84061)) return undefined;
      throw err;
    }
  }

  /**
   * Every relation of `userids`, page by page. The members are spread over as many cursor chains as the
   * client keeps in flight for this API (the platform's concurrency), so a large company is read in about
   * (calls ÷ chains) round trips. Twice that many workers take the chains' groups of members, so whenever
   * a call returns, another worker's request is already waiting for its slot. Pages are handed to
   * `onPage` as they arrive so a caller can stream instead of holding everything.
   */
  forEachPage(userids: string[], onPage: (rows: BatchRow[]) => void, opts: { chains?: number } = {}): Promise<void> {
    return this.batchPages<BatchRow>(userids, onPage, opts);
  }

  /**
   * The same pages with each relation as the bytes the platform sent (one JSON object, on one line),
   * unparsed: for writing them out as they are (backups).
   */
  forEachRawPage(userids: string[], onPage: (rows: Buffer[]) => void, opts: { chains?: number } = {}): Promise<void> {
    return this.batchPages<Buffer>(userids, onPage, { ...opts, raw: true });
  }

  private async batchPages<R>(userids: string[], onPage: (rows: R[]) => void, opts: { chains?: number; raw?: boolean }): Promise<void> {
    const api = 'externalcontact/batch/get_by_user';
    const chains = Math.max(1, Math.min(opts.chains ?? this.client.concurrencyFor(api), userids.length));
    const queue = batchMemberLists(userids, chains);
    const rawArray = opts.raw ? 'external_contact_list' : undefined;
    const worker = async (): Promise<void> => {
      for (let group = queue.shift(); group; group = queue.shift()) {
        const list = group;
        for await (const rows of pages<R>(
          async (cursor) => {
            const r = await this.post(api, { userid_list: list, cursor: cursor ?? '', limit: BATCH_LIMIT }, rawArray);
            return { items: r.external_contact_list ?? [], next: r.next_cursor };
          },
          { api },
        )) {
          onPage(rows);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(2 * chains, queue.length) }, worker));
  }

  /**
   * Every customer of `userids`, each with all of their followers among them. A large company has
   * hundreds of thousands of relations, so each is kept compact: the fields wxops shows, without avatars
   * and empty values, and with repeated member and tag ids stored once.
   */
  async customersOf(userids: string[]): Promise<Customer[]> {
    const byId = new Map<string, Customer>();
    const shared = new Map<string, string>();
    const once = (v: string): string => shared.get(v) ?? (shared.set(v, v), v);
    await this.forEachPage(userids, (rows) => {
      for (const row of rows) {
        const e = row.external_contact;
        const c = byId.get(e.external_userid);
        // An array literal is allocated at its size; a push onto [] would reserve room for 17.
        if (c) c.follow_user.push(compactFollow(row.follow_info, once));
        else byId.set(e.external_userid, { external_contact: compactContact(e), follow_user: [compactFollow(row.follow_info, once)] });
      }
    });
    return [...byId.values()];
  }

  async corpTags(): Promise<CorpTagGroup[]> {
    return (await this.post('externalcontact/get_corp_tag_list', {})).tag_group ?? [];
  }

  async contactWays(): Promise<ContactWay[]> {
    const ids: string[] = [];
    for await (const page of pages<string>(
      async (cursor) => {
        const r = await this.post('externalcontact/list_contact_way', { cursor: cursor ?? '', limit: 1000 });
        return { items: (r.contact_way ?? []).map((w: { config_id: string }) => w.config_id), next: r.next_cursor };
      },
      { api: 'externalcontact/list_contact_way' },
    )) {
      ids.push(...page);
    }
    return Promise.all(ids.map(async (config_id) => (await this.post('externalcontact/get_contact_way', { config_id })).contact_way as ContactWay));
  }

  async behavior(userids: string[], start: number, end: number): Promise<BehaviorDay[]> {
    return (await this.post('externalcontact/get_user_behavior_data', { userid: userids, start_time: start, end_time: end })).behavior_data ?? [];
  }

  async transferResult(kind: 'onjob' | 'resigned', handover: string, takeover: string): Promise<{ external_userid: string; status: number; takeover_time?: number }[]> {
    const api = kind === 'onjob' ? 'externalcontact/transfer_result' : 'externalcontact/resigned/transfer_result';
    type Row = { external_userid: string; status: number; takeover_time?: number };
    const out: Row[] = [];
    for await (const page of pages<Row>(
      async (cursor) => {
        const r = await this.post(api, { handover_userid: handover, takeover_userid: takeover, cursor: cursor ?? '' });
        return { items: r.customer ?? [], next: r.next_cursor };
      },
      { api },
    )) {
      out.push(...page);
    }
    return out;
  }

  async unassigned(): Promise<{ handover_userid: string; external_userid: string; dimission_time?: number }[]> {
    type Row = { handover_userid: string; external_userid: string; dimission_time?: number };
    const out: Row[] = [];
    for await (const page of pages<Row>(
      async (cursor) => {
        const r = await this.post('externalcontact/get_unassigned_list', { cursor: cursor ?? '', page_size: 1000 });
        return { items: r.info ?? [], next: r.is_last ? '' : r.next_cursor };
      },
      { api: 'externalcontact/get_unassigned_list' },
    )) {
      out.push(...page);
    }
    return out;
  }
}

function compactContact(e: ExternalContact): ExternalContact {
  const out: ExternalContact = { external_userid: e.external_userid, name: e.name, type: e.type };
  if (e.corp_name) out.corp_name = e.corp_name;
  if (e.position) out.position = e.position;
  return out;
}

function compactFollow(f: FollowInfo, once: (v: string) => string): FollowInfo {
  const out: FollowInfo = { userid: once(f.userid) };
  if (f.remark) out.remark = f.remark;
  if (f.description) out.description = f.description;
  if (f.createtime) out.createtime = f.createtime;
  const tags = f.tags ? f.tags.map((x) => x.tag_id) : f.tag_id;
  if (tags?.length) out.tag_id = tags.map(once);
  if (f.remark_corp_name) out.remark_corp_name = f.remark_corp_name;
  if (f.remark_mobiles?.some(Boolean)) out.remark_mobiles = f.remark_mobiles;
  if (f.add_way !== undefined) out.add_way = f.add_way;
  if (f.state) out.state = once(f.state);
  return out;
}
