import { z } from 'zod';
import type { OrgTree } from '../core/org.js';
import type { Store } from '../store/store.js';

/**
 * Welcome messages (wecom.md §4.4): sent by `wxops serve` with the add event's welcome_code, which is
 * good for 20 s and once. The most specific configuration wins: the member's, then the nearest
 * department's, then the default. Limits are the platform's, in bytes.
 */
export const WELCOME = 'welcome';
export const WELCOME_TEXT_BYTES = 4000;
export const WELCOME_ATTACHMENTS = 9;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const maxBytes = (n: number, what: string) => z.string().refine((s) => bytes(s) <= n, { message: `${what}最多 ${n} 字节 / ${what === '标题' ? 'a title' : 'a description'} is at most ${n} bytes` });
const url = z.string().regex(/^https?:\/\/\S+$/i, { message: '网址必须以 http:// 或 https:// 开头 / a URL must start with http:// or https://' });

export const attachmentSchema = z.discriminatedUnion('msgtype', [
  z.object({ msgtype: z.literal('link'), link: z.object({ title: z.string().min(1).pipe(maxBytes(128, '标题')), url, picurl: url.optional(), desc: maxBytes(512, '描述').optional() }) }),
  z.object({
    msgtype: z.literal('miniprogram'),
    miniprogram: z.object({ title: z.string().min(1).pipe(maxBytes(64, '标题')), appid: z.string().regex(/^wx[0-9a-f]{16}$/, { message: '小程序 AppID 形如 wx 加 16 位十六进制 / a mini program AppID is wx and 16 hex digits' }), page: z.string().min(1), pic_media_id: z.string().min(1) }),
  }),
  z.object({ msgtype: z.literal('image'), image: z.object({ media_id: z.string().min(1).optional(), pic_url: url.optional() }).refine((i) => !!(i.media_id || i.pic_url), { message: '图片需要 media_id 或网址 / an image needs a media_id or a URL' }) }),
]);
export type Attachment = z.infer<typeof attachmentSchema>;

export interface WelcomeMessage {
  text: string;
  attachments: Attachment[];
  set_by: string;
  set_at: string;
}

export type WelcomeScope = { kind: 'default' } | { kind: 'dept'; id: number } | { kind: 'member'; userid: string };

export function scopeKey(s: WelcomeScope): string {
  return s.kind === 'default' ? 'default' : s.kind === 'dept' ? `dept:${s.id}` : `member:${s.userid.toLowerCase()}`;
}

export async function allWelcomes(store: Store): Promise<Map<string, WelcomeMessage>> {
  const out = new Map<string, WelcomeMessage>();
  for (const w of await store.list<WelcomeMessage & { key: string }>(WELCOME)) out.set(w.key, w);
  return out;
}

/** The welcome a member's new customer gets, and which setting it came from. */
export function chooseWelcome(all: Map<string, WelcomeMessage>, org: OrgTree, userid: string): { key: string; message: WelcomeMessage } | undefined {
  const own = all.get(`member:${userid.toLowerCase()}`);
  if (own) return { key: `member:${userid.toLowerCase()}`, message: own };
  const depts = org.all.filter((d) => org.directMemberIds(d.id).some((u) => u.toLowerCase() === userid.toLowerCase())).map((d) => d.id);
  // The nearest department up the tree from any of the member's departments.
  let best: { key: string; message: WelcomeMessage; depth: number } | undefined;
  for (const d of depts) {
    let depth = 0;
    for (let cur = org.get(d); cur; cur = org.get(cur.parentid), depth++) {
      const w = all.get(`dept:${cur.id}`);
      if (w && (!best || depth < best.depth)) best = { key: `dept:${cur.id}`, message: w, depth };
      if (w) break;
    }
  }
  if (best) return { key: best.key, message: best.message };
  const fallback = all.get('default');
  return fallback ? { key: 'default', message: fallback } : undefined;
}

/** The `send_welcome_msg` body (wecom.md §4.4). */
export function welcomeBody(code: string, w: WelcomeMessage): Record<string, unknown> {
  return { welcome_code: code, ...(w.text ? { text: { content: w.text } } : {}), ...(w.attachments.length ? { attachments: w.attachments } : {}) };
}
