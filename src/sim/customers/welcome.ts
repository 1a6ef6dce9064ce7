import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { CustomerRoute } from './index.js';
import { indexOf } from './relations.js';
import type { CustomerState, SimOutboxEntry, SimWelcomeCode } from './state.js';
import { bytes } from './util.js';

/**
 * Welcome messages (wecom.md §4.4): an add event carries a `welcome_code`, usable once within 20 s of
 * simulated time; afterwards, after expiry, or once the chat started, 41051. Text ≤ 4000 bytes (45002),
 * ≤ 9 attachments of type image, link, miniprogram, video or file (41065 for another type), with their
 * byte limits (40058). What the customer receives goes to the outbox: the text, then each attachment.
 */
export const WELCOME_TTL_MS = 20_000;
const TEXT_MAX = 4000;
const MAX_ATTACHMENTS = 9;
/** Codes are kept a while after expiry (so a late call says 41051, not 41050), then forgotten. */
const KEEP_MS = 24 * 3600_000;

export function issueWelcomeCode(cs: CustomerState, userid: string, externalUserid: string, now: number): string {
  const code = randomBytes(24).toString('base64url');
  cs.welcome_codes.push({ code, userid, external_userid: externalUserid, issued_at: now, used: false });
  return code;
}

/** Drops codes long past use; true when something was dropped. */
export function pruneWelcomeCodes(cs: CustomerState, now: number): boolean {
  const before = cs.welcome_codes.length;
  if (before === 0 || cs.welcome_codes[0]!.issued_at >= now - KEEP_MS) return false;
  cs.welcome_codes = cs.welcome_codes.filter((c) => c.issued_at >= now - KEEP_MS);
  return cs.welcome_codes.length !== before;
}

function str(value: unknown, maxBytes: number, required: boolean): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw new ApiError(40058);
    return undefined;
  }
  if (typeof value !== 'string' || bytes(value) > maxBytes) throw new ApiError(40058);
  return value;
}

/** Checks one attachment; returns its type and payload. */
function attachment(a: unknown): { msgtype: string; payload: Record<string, unknown> } {
  if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new ApiError(40058);
  const msgtype = (a as any).msgtype;
  if (!['image', 'link', 'miniprogram', 'video', 'file'].includes(msgtype)) throw new ApiError(41065);
  const p = (a as any)[msgtype];
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new ApiError(40058);
  switch (msgtype) {
    case 'image':
      if (!str(p.media_id, 256, false) && !str(p.pic_url, 2048, false)) throw new ApiError(40058);
      break;
    case 'link':
      str(p.title, 128, true);
      str(p.picurl, 2048, false);
      str(p.desc, 512, false);
      str(p.url, 2048, true);
      break;
    case 'miniprogram':
      str(p.title, 64, true);
      str(p.pic_media_id, 256, true);
      str(p.appid, 64, true);
      str(p.page, 1024, true);
      break;
    default:
      str(p.media_id, 256, true);
  }
  return { msgtype, payload: p };
}

export const welcomeRoutes: Record<string, CustomerRoute> = {
  'externalcontact/send_welcome_msg': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      if (b.welcome_code === undefined || b.welcome_code === null || b.welcome_code === '') throw new ApiError(41049);
      const code: SimWelcomeCode | undefined = cs.welcome_codes.find((c) => c.code === b.welcome_code);
      if (!code) throw new ApiError(41050);
      let text: string | undefined;
      if (b.text !== undefined && b.text !== null) {
        if (typeof b.text !== 'object' || (b.text.content !== undefined && typeof b.text.content !== 'string')) throw new ApiError(40058);
        text = b.text.content || undefined;
        if (text !== undefined && bytes(text) > TEXT_MAX) throw new ApiError(45002);
      }
      const list: unknown = b.attachments ?? [];
      if (!Array.isArray(list)) throw new ApiError(40058);
      if (list.length > MAX_ATTACHMENTS) throw new ApiError(40058);
      const attachments = list.map(attachment);
      if (text === undefined && attachments.length === 0) throw new ApiError(40058);
      const rel = indexOf(cs).relation(code.userid, code.external_userid);
      if (code.used || req.now > code.issued_at + WELCOME_TTL_MS || !rel || rel.chat_started) throw new ApiError(41051);
      code.used = true;
      const base = { external_userid: code.external_userid, userid: code.userid, at: req.now, via: 'welcome' as const };
      const out: SimOutboxEntry[] = [];
      if (text !== undefined) out.push({ ...base, msgtype: 'text', content: text });
      for (const a of attachments) out.push({ ...base, msgtype: a.msgtype, payload: a.payload });
      cs.outbox.push(...out);
      req.changed();
      return {};
    },
  },
};
