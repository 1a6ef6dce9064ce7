import { findUser } from '../contacts/users.js';
import { ApiError } from '../errors.js';
import type { SimState, SimUser } from '../state.js';
import { isFollowUser, member } from './common.js';
import type { CustomerRoute } from './index.js';
import { addRelation, indexOf, removeRelations } from './relations.js';
import type { CustomerState, SimRelation, SimTransfer } from './state.js';
import { chars, cursorInt, decodeCursor, encodeCursor, seconds } from './util.js';

/**
 * Transfer (继承, wecom.md §4.5). A transfer starts waiting (status 2) and completes 24 h of simulated
 * time later (status 1): the relation then moves to the taker, keeping remark, description and tags.
 * Per-customer errcodes (global errcode table): 40096 unknown customer, 40131 not a customer of the
 * handover member, 40129 already being transferred, 40128 transferred too often — an on-job customer
 * at most twice in 90 days. Request errcodes: 40130 same member both sides, 40097 (resigned) the
 * handover member has not left, 84074 taker not enabled for 客户联系, 41054 taker not active.
 */
export const TRANSFER_MS = 24 * 3600_000;
const WINDOW_MS = 90 * 86_400_000;
const PER_WINDOW = 2;
const MAX_IDS = 100;
const RESULT_PAGE = 1000;
const UNASSIGNED_PAGE = 1000;

function taker(state: SimState, cs: CustomerState, userid: unknown): SimUser {
  const u = member(state, userid);
  if (u.status !== 1) throw new ApiError(41054);
  if (!isFollowUser(state, cs, u.userid)) throw new ApiError(84074);
  return u;
}

function idList(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IDS || value.some((v) => typeof v !== 'string')) throw new ApiError(40058, { customer: [] });
  return [...new Set(value as string[])];
}

function start(cs: CustomerState, kind: SimTransfer['kind'], handover: string, takeover: string, ids: string[], now: number, message?: string) {
  const index = indexOf(cs);
  const waiting = new Set(cs.transfers.filter((t) => t.status === 2).map((t) => t.external_userid));
  return ids.map((external_userid) => {
    const errcode = (() => {
      if (!index.customers.has(external_userid)) return 40096;
      if (!index.relation(handover, external_userid)) return 40131;
      if (waiting.has(external_userid)) return 40129;
      if (kind === 'onjob') {
        const recent = cs.transfers.filter((t) => t.kind === 'onjob' && t.external_userid === external_userid && t.started_at > now - WINDOW_MS).length;
        if (recent >= PER_WINDOW) return 40128;
      }
      return 0;
    })();
    if (errcode === 0) {
      cs.transfers.push({ kind, handover_userid: handover, takeover_userid: takeover, external_userid, started_at: now, status: 2, ...(message ? { message } : {}) });
      waiting.add(external_userid);
    }
    return { external_userid, errcode };
  });
}

function results(cs: CustomerState, kind: SimTransfer['kind'], body: Record<string, any>) {
  if (typeof body.handover_userid !== 'string' || body.handover_userid === '' || typeof body.takeover_userid !== 'string' || body.takeover_userid === '') throw new ApiError(41009, { customer: [] });
  const h = body.handover_userid.toLowerCase();
  const t = body.takeover_userid.toLowerCase();
  const rows = cs.transfers.filter((x) => x.kind === kind && x.handover_userid.toLowerCase() === h && x.takeover_userid.toLowerCase() === t);
  const parts = decodeCursor(body.cursor, 1);
  const from = parts ? cursorInt(parts[0]) : 0;
  const page = rows.slice(from, from + RESULT_PAGE);
  return {
    customer: page.map((x) => ({ external_userid: x.external_userid, status: x.status, takeover_time: x.takeover_time ?? seconds(x.started_at + TRANSFER_MS) })),
    next_cursor: from + RESULT_PAGE < rows.length ? encodeCursor([from + RESULT_PAGE]) : '',
  };
}

/** Completes due transfers; true when something changed. */
export function settleTransfers(state: SimState, cs: CustomerState, now: number): boolean {
  const due = cs.transfers.filter((t) => t.status === 2 && t.started_at + TRANSFER_MS <= now);
  if (due.length === 0) return false;
  const index = indexOf(cs);
  const gone = new Set<SimRelation>();
  for (const t of due) {
    const at = t.started_at + TRANSFER_MS;
    t.status = 1;
    t.takeover_time = seconds(at);
    const from = index.relation(t.handover_userid, t.external_userid);
    if (!from || gone.has(from)) continue;
    const existing = index.relation(t.takeover_userid, t.external_userid);
    if (existing) {
      existing.tags = [...new Set([...existing.tags, ...from.tags])];
    } else {
      const { seq: _seq, userid: _u, createtime: _c, add_way: _a, oper_userid: _o, chat_started: _s, ...kept } = from;
      addRelation(cs, { ...kept, userid: t.takeover_userid, createtime: seconds(at), add_way: 202, oper_userid: t.handover_userid, tags: [...from.tags] });
    }
    gone.add(from);
    if (t.kind === 'onjob') {
      const name = findUser(state, t.takeover_userid)?.name ?? t.takeover_userid;
      cs.outbox.push({
        external_userid: t.external_userid,
        userid: t.takeover_userid,
        at,
        via: 'transfer',
        msgtype: 'text',
        content: t.message ?? `您好，您的服务已升级，后续将由我的同事${name}@示例科技有限公司接替我的工作，继续为您服务。`,
      });
    }
  }
  removeRelations(cs, gone);
  return true;
}

export const transferRoutes: Record<string, CustomerRoute> = {
  'externalcontact/transfer_customer': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const handover = member(req.state, b.handover_userid);
      const to = taker(req.state, cs, b.takeover_userid);
      if (handover.userid === to.userid) throw new ApiError(40130, { customer: [] });
      const ids = idList(b.external_userid);
      if (b.transfer_success_msg !== undefined && b.transfer_success_msg !== null && (typeof b.transfer_success_msg !== 'string' || chars(b.transfer_success_msg) > 200)) {
        throw new ApiError(40058, { customer: [] });
      }
      const out = start(cs, 'onjob', handover.userid, to.userid, ids, req.now, b.transfer_success_msg || undefined);
      req.changed();
      return { customer: out };
    },
  },

  'externalcontact/transfer_result': {
    method: 'POST',
    handler: (req, cs) => results(cs, 'onjob', req.body),
  },

  'externalcontact/resigned/transfer_customer': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      if (typeof b.handover_userid !== 'string' || b.handover_userid === '') throw new ApiError(41009, { customer: [] });
      if (findUser(req.state, b.handover_userid)) throw new ApiError(40097, { customer: [] });
      const left = cs.departed.find((d) => d.userid.toLowerCase() === b.handover_userid.toLowerCase());
      if (!left) throw new ApiError(40003, { customer: [] });
      const to = taker(req.state, cs, b.takeover_userid);
      if (left.userid === to.userid) throw new ApiError(40130, { customer: [] });
      const ids = idList(b.external_userid);
      const out = start(cs, 'resigned', left.userid, to.userid, ids, req.now);
      req.changed();
      return { customer: out };
    },
  },

  'externalcontact/resigned/transfer_result': {
    method: 'POST',
    handler: (req, cs) => results(cs, 'resigned', req.body),
  },

  'externalcontact/get_unassigned_list': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const size = b.page_size === undefined || b.page_size === null ? UNASSIGNED_PAGE : Number(b.page_size);
      if (!Number.isInteger(size) || size < 1 || size > UNASSIGNED_PAGE) throw new ApiError(40058, { info: [] });
      const index = indexOf(cs);
      const moving = new Set(cs.transfers.filter((t) => t.status === 2).map((t) => `${t.handover_userid.toLowerCase()}\n${t.external_userid}`));
      const rows: { handover_userid: string; external_userid: string; dimission_time: number }[] = [];
      for (const d of cs.departed) {
        for (const r of index.relationsOf(d.userid)) {
          if (moving.has(`${d.userid.toLowerCase()}\n${r.external_userid}`)) continue;
          rows.push({ handover_userid: d.userid, external_userid: r.external_userid, dimission_time: seconds(d.at) });
        }
      }
      const parts = decodeCursor(b.cursor, 1);
      let from: number;
      if (parts) from = cursorInt(parts[0]);
      else {
        const pageId = b.page_id === undefined || b.page_id === null ? 0 : Number(b.page_id);
        if (!Number.isInteger(pageId) || pageId < 0) throw new ApiError(40058, { info: [] });
        from = pageId * size;
      }
      const info = rows.slice(from, from + size);
      const isLast = from + size >= rows.length;
      return { info, is_last: isLast, next_cursor: isLast ? '' : encodeCursor([from + size]) };
    },
  },
};
