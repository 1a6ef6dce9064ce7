import { ApiError } from '../errors.js';
import type { FaultConfig } from '../faults.js';
import { findFollower } from './followers.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpMassJob, MpOutboxEntry, MpState } from './types.js';
import { bytes, shanghaiMonth } from './util.js';

/**
 * Mass messages (mp.md §5) and customer-service messages (§7), and the outbox: what each follower
 * received, so tests see the follower's side.
 *
 * Mass sends are jobs: accepted at once ("send job submission success"), SENDING for MASS_DURATION_MS
 * of simulated time, then SEND_SUCCESS, when the account's server gets MASSSENDJOBFINISH. This is a
 * verified service account: each follower receives at most 4 mass messages a calendar month; past
 * that they are filtered out of the job (FilterCount = recipients after filtering, SentCount +
 * ErrorCount = FilterCount; followers who left since are errors). A tag without followers is still a
 * valid job — that is the client's to notice.
 */
export const MASS_DURATION_MS = 2000;
export const MASS_PER_MONTH = 4;
const CS_WINDOW_MS = 48 * 3600_000;
const CS_PER_INTERACTION = 20;
const TEXT_MAX = 2048;
const CLIENTMSGID_MAX = 64;
const CLIENTMSGID_RETRY_MS = 60_000;
const OUTBOX_MAX = 20_000;

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const filled = (v: unknown): v is string => typeof v === 'string' && v !== '';

export function record(mp: MpState, entry: MpOutboxEntry): void {
  mp.outbox.push(entry);
  if (mp.outbox.length > OUTBOX_MAX) mp.outbox.splice(0, mp.outbox.length - OUTBOX_MAX);
}

function material(req: MpRequest, id: unknown, type: 'image' | 'voice' | 'video'): string {
  if (!filled(id) || !req.mp.materials.some((m) => m.media_id === id && m.type === type)) throw new ApiError(40007);
  return id;
}

function article(req: MpRequest, mediaId: unknown) {
  const a = req.mp.articles.find((x) => x.media_id === mediaId);
  if (!filled(mediaId) || !a) throw new ApiError(40007);
  return a;
}

/** The mass message's payload (`{media_id}`, `{content}` …), checked against what exists. */
function massPayload(req: MpRequest): { msgtype: string; payload: Record<string, unknown>; summary: string } {
  const msgtype = req.body.msgtype;
  const p = isObject(req.body[msgtype]) ? (req.body[msgtype] as Record<string, any>) : undefined;
  switch (msgtype) {
    case 'mpnews': {
      const a = article(req, p?.media_id);
      return { msgtype, payload: { media_id: a.media_id }, summary: a.title };
    }
    case 'text':
      if (!filled(p?.content)) throw new ApiError(44004);
      if (bytes(p.content) > TEXT_MAX) throw new ApiError(45002);
      return { msgtype, payload: { content: p.content }, summary: p.content };
    case 'image':
    case 'voice':
      return { msgtype, payload: { media_id: material(req, p?.media_id, msgtype) }, summary: msgtype };
    case 'images': {
      const ids = p?.media_ids;
      if (!Array.isArray(ids) || ids.length === 0) throw new ApiError(40007);
      return { msgtype, payload: { media_ids: ids.map((id) => material(req, id, 'image')) }, summary: 'images' };
    }
    case 'mpvideo':
      return { msgtype, payload: { media_id: material(req, p?.media_id, 'video') }, summary: 'video' };
    case 'wxcard':
      if (!filled(p?.card_id)) throw new ApiError(47001);
      return { msgtype, payload: { card_id: p.card_id }, summary: 'wxcard' };
    default:
      throw new ApiError(40008);
  }
}

/** 45067 too long, 45066 a retry within a minute, 45065 (with the job's msg_id) already sent. */
function checkClientMsgId(req: MpRequest): string | undefined {
  const id = req.body.clientmsgid;
  if (id === undefined || id === null || id === '') return undefined;
  if (typeof id !== 'string') throw new ApiError(47001);
  if (id.length > CLIENTMSGID_MAX) throw new ApiError(45067);
  const earlier = req.mp.mass_jobs.find((j) => j.clientmsgid === id);
  if (earlier) {
    if (req.now - earlier.submitted_at < CLIENTMSGID_RETRY_MS) throw new ApiError(45066);
    throw new ApiError(45065, { msg_id: earlier.msg_id });
  }
  return id;
}

function submit(req: MpRequest, job: Omit<MpMassJob, 'msg_id' | 'submitted_at' | 'status'>): Record<string, unknown> {
  const full: MpMassJob = { ...job, msg_id: req.mp.next_msg_id++, submitted_at: req.now, status: 'SENDING' };
  if (job.msgtype === 'mpnews') full.msg_data_id = req.mp.next_msg_data_id++;
  req.mp.mass_jobs.push(full);
  req.changed();
  return { msg_id: full.msg_id, ...(full.msg_data_id !== undefined ? { msg_data_id: full.msg_data_id } : {}) };
}

function findJob(req: MpRequest): MpMassJob {
  const id = Number(req.body.msg_id);
  const job = req.mp.mass_jobs.find((j) => j.msg_id === id);
  if (!job) throw new ApiError(61451);
  return job;
}

/** Finishes every job whose time has come; returns them so their MASSSENDJOBFINISH can be delivered. */
export function settleMass(mp: MpState, now: number): MpMassJob[] {
  const finished: MpMassJob[] = [];
  for (const job of mp.mass_jobs) {
    if (job.status !== 'SENDING' || now < job.submitted_at + MASS_DURATION_MS) continue;
    const at = job.submitted_at + MASS_DURATION_MS;
    const month = shanghaiMonth(at);
    let filter = 0;
    let sent = 0;
    let error = 0;
    for (const openid of job.targets) {
      const f = findFollower(mp, openid);
      if (!f) continue;
      if (f.mass_month !== month) {
        f.mass_month = month;
        f.mass_count = 0;
      }
      if (f.mass_count >= MASS_PER_MONTH) continue;
      filter++;
      if (f.subscribe !== 1) {
        error++;
        continue;
      }
      f.mass_count++;
      sent++;
      const text = job.msgtype === 'text' ? String(job.payload.content) : undefined;
      const title = job.msgtype === 'mpnews' ? mp.articles.find((a) => a.media_id === job.payload.media_id)?.title : undefined;
      record(mp, { openid, at, via: 'mass', msgtype: job.msgtype, content: text ?? title, msg_id: job.msg_id, message: { msgtype: job.msgtype, [job.msgtype]: job.payload } });
    }
    job.status = 'SEND_SUCCESS';
    job.result = { total: job.targets.length, filter, sent, error };
    finished.push(job);
  }
  return finished;
}

/** Customer-service message payloads (mp.md §7). Temporary media is not modelled: any media_id passes. */
function customPayload(req: MpRequest, faults: FaultConfig): { msgtype: string; payload: Record<string, any>; summary?: string } {
  const msgtype = req.body.msgtype;
  const p = isObject(req.body[msgtype]) ? (req.body[msgtype] as Record<string, any>) : undefined;
  if (typeof msgtype !== 'string' || !p) throw new ApiError(msgtype === undefined ? 47001 : 40008);
  switch (msgtype) {
    case 'text':
      if (!filled(p.content)) throw new ApiError(44004);
      if (bytes(p.content) > TEXT_MAX) throw new ApiError(45002);
      return { msgtype, payload: { content: p.content }, summary: p.content };
    case 'image':
    case 'voice':
    case 'video':
      if (!filled(p.media_id)) throw new ApiError(40007);
      return { msgtype, payload: p };
    case 'music':
      return { msgtype, payload: p, summary: p.title };
    case 'news': {
      const list = p.articles;
      if (!Array.isArray(list) || list.length === 0) throw new ApiError(47001);
      if (list.length > 1) throw new ApiError(45008);
      return { msgtype, payload: p, summary: list[0]?.title };
    }
    case 'mpnews':
      return { msgtype, payload: { media_id: article(req, p.media_id).media_id }, summary: article(req, p.media_id).title };
    case 'mpnewsarticle': {
      const a = req.mp.articles.find((x) => x.article_id === p.article_id);
      if (!a) throw new ApiError(40007);
      return { msgtype, payload: { article_id: a.article_id }, summary: a.title };
    }
    case 'msgmenu':
      if (!Array.isArray(p.list) || p.list.length === 0) throw new ApiError(47001);
      return { msgtype, payload: p, summary: p.head_content };
    case 'wxcard':
      if (!filled(p.card_id)) throw new ApiError(47001);
      return { msgtype, payload: p };
    case 'miniprogrampage': {
      const app = filled(p.appid) ? req.mp.miniprograms.find((m) => m.appid === p.appid) : undefined;
      if (!app) throw new ApiError(40166);
      if (app.status !== 1) throw new ApiError(faults.mp_unlinked_weapp_errcode ?? 85005);
      if (!filled(p.pagepath)) throw new ApiError(40165);
      if (!filled(p.title) || !filled(p.thumb_media_id)) throw new ApiError(47001);
      return { msgtype, payload: p, summary: p.title };
    }
    default:
      throw new ApiError(40008);
  }
}

/** A follower who may be written to now: 40003 not ours, 45015 gone or silent for 48 h. */
function reachable(req: MpRequest, openid: unknown) {
  const f = findFollower(req.mp, openid);
  if (!f) throw new ApiError(40003);
  if (f.subscribe !== 1 || f.last_interaction === null || req.now - f.last_interaction > CS_WINDOW_MS) throw new ApiError(45015);
  return f;
}

export const massRoutes: Record<string, MpRoute> = {
  'message/mass/sendall': {
    method: 'POST',
    ok: 'send job submission success',
    handler(req) {
      const filter = req.body.filter;
      if (!isObject(filter)) throw new ApiError(47001);
      const { msgtype, payload } = massPayload(req);
      const clientmsgid = checkClientMsgId(req);
      const toAll = filter.is_to_all === true;
      let tagId: number | undefined;
      if (!toAll) {
        tagId = Number(filter.tag_id ?? filter.group_id);
        if (!Number.isInteger(tagId) || (tagId !== 2 && !req.mp.tags.some((t) => t.id === tagId))) throw new ApiError(45159);
      }
      const targets = req.mp.followers.filter((f) => f.subscribe === 1 && (toAll || f.tagid_list.includes(tagId!))).map((f) => f.openid);
      return submit(req, { kind: 'sendall', msgtype, payload, to_all: toAll, tag_id: tagId, targets, clientmsgid });
    },
  },
  'message/mass/send': {
    method: 'POST',
    ok: 'send job submission success',
    handler(req) {
      const list = req.body.touser;
      if (!Array.isArray(list)) throw new ApiError(47001);
      const targets = [...new Set(list)];
      if (targets.length < 2) throw new ApiError(40130);
      if (targets.length > 10_000) throw new ApiError(40032);
      if (targets.some((o) => !findFollower(req.mp, o))) throw new ApiError(40003);
      const { msgtype, payload } = massPayload(req);
      const clientmsgid = checkClientMsgId(req);
      return submit(req, { kind: 'send', msgtype, payload, to_all: false, targets: targets as string[], clientmsgid });
    },
  },
  'message/mass/preview': {
    method: 'POST',
    ok: 'preview success',
    handler(req) {
      // We know no WeChat IDs (微信号): previews go to an openid.
      if (req.body.towxname !== undefined && req.body.touser === undefined) throw new ApiError(40132);
      const f = findFollower(req.mp, req.body.touser);
      if (!f) throw new ApiError(40003);
      if (f.subscribe !== 1) throw new ApiError(43004);
      const { msgtype, payload, summary } = massPayload(req);
      const msg_id = req.mp.next_msg_id++;
      record(req.mp, { openid: f.openid, at: req.now, via: 'preview', msgtype, content: summary, msg_id, message: { msgtype, [msgtype]: payload } });
      req.changed();
      return { msg_id };
    },
  },
  'message/mass/get': {
    method: 'POST',
    bare: true,
    handler(req) {
      const job = findJob(req);
      return { msg_id: job.msg_id, msg_status: job.status };
    },
  },
  'message/mass/delete': {
    method: 'POST',
    handler(req) {
      const job = findJob(req);
      // Only sent mpnews and video can be deleted (from the history and followers' chats).
      if (job.status !== 'SEND_SUCCESS' || !['mpnews', 'mpvideo'].includes(job.msgtype)) throw new ApiError(61451);
      job.status = 'DELETE';
      for (const e of req.mp.outbox) if (e.msg_id === job.msg_id && e.via === 'mass') e.deleted = true;
      req.changed();
      return {};
    },
  },
  'message/custom/send': {
    method: 'POST',
    handler(req) {
      const { msgtype, payload, summary } = customPayload(req, req.faults);
      const f = reachable(req, req.body.touser);
      if (f.cs_sent >= CS_PER_INTERACTION) throw new ApiError(45047);
      f.cs_sent++;
      record(req.mp, { openid: f.openid, at: req.now, via: 'custom', msgtype, content: summary, message: { msgtype, [msgtype]: payload } });
      req.changed();
      return {};
    },
  },
  'message/custom/typing': {
    method: 'POST',
    handler(req) {
      if (req.body.command !== 'Typing' && req.body.command !== 'CancelTyping') throw new ApiError(47001);
      reachable(req, req.body.touser);
      return {};
    },
  },
};
