import { z } from 'zod';
import { t, type Text } from '../core/i18n.js';

/**
 * What the account says back to a follower (mp.md §6.4, §7). Text, link, image and news go back as the
 * passive reply; a mini program card cannot be a passive reply, so it is sent as a customer-service
 * message right after an empty answer.
 */
export type Reply =
  | { type: 'text'; content: string }
  | { type: 'link'; text: string; url: string }
  | { type: 'image'; media_id: string }
  | { type: 'news'; title: string; url: string; description?: string; picurl?: string }
  | { type: 'miniprogram'; title: string; appid: string; pagepath: string; thumb_media_id: string };

/** The platform counts text in bytes (mp.md §6.4: about 2048 bytes per text reply). */
export const MAX_TEXT_BYTES = 2048;
export const MAX_URL_BYTES = 1024;
export const MAX_TITLE_CHARS = 64;

export const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const chars = (s: string): number => [...s].length;

const url = z
  .string()
  .refine((s) => /^https?:\/\/[^\s]+$/i.test(s), { message: '网址必须以 http:// 或 https:// 开头 / a URL must start with http:// or https://' })
  .refine((s) => bytes(s) <= MAX_URL_BYTES, { message: `网址最长 ${MAX_URL_BYTES} 字节 / a URL is at most ${MAX_URL_BYTES} bytes` });
const title = z
  .string()
  .min(1)
  .refine((s) => chars(s) <= MAX_TITLE_CHARS, { message: `标题最多 ${MAX_TITLE_CHARS} 个字 / a title is at most ${MAX_TITLE_CHARS} characters` });
const mediaId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { message: 'media_id 是 1–128 个字母、数字、_ 或 - / a media_id is 1–128 letters, digits, _ or -' });

export const replySchema: z.ZodType<Reply> = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('text'),
    content: z
      .string()
      .min(1)
      .refine((s) => bytes(s) <= MAX_TEXT_BYTES, { message: `文本回复最长 ${MAX_TEXT_BYTES} 字节（约 680 个汉字）/ a text reply is at most ${MAX_TEXT_BYTES} bytes` }),
  }),
  z.object({ type: z.literal('link'), text: z.string().min(1), url }).refine((r) => bytes(linkText(r)) <= MAX_TEXT_BYTES, {
    message: `链接回复最长 ${MAX_TEXT_BYTES} 字节 / a link reply is at most ${MAX_TEXT_BYTES} bytes`,
  }),
  z.object({ type: z.literal('image'), media_id: mediaId }),
  z.object({ type: z.literal('news'), title, url, description: z.string().max(120).optional(), picurl: url.optional() }),
  z.object({
    type: z.literal('miniprogram'),
    title,
    appid: z.string().regex(/^wx[0-9a-f]{16}$/, { message: '小程序 AppID 形如 wx 加 16 位十六进制 / a mini program AppID is wx and 16 hex digits' }),
    pagepath: z.string().min(1).refine((s) => bytes(s) <= MAX_URL_BYTES, { message: `页面路径最长 ${MAX_URL_BYTES} 字节 / a page path is at most ${MAX_URL_BYTES} bytes` }),
    thumb_media_id: mediaId,
  }),
]);

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** WeChat renders `<a href>` inside text messages as a tappable link. */
export function linkText(r: { text: string; url: string }): string {
  return `<a href="${escapeHtml(r.url)}">${escapeHtml(r.text)}</a>`;
}

/** One line for lists and plans. */
export function describeReply(r: Reply): Text {
  const short = (s: string) => (chars(s) > 40 ? `${[...s].slice(0, 40).join('')}…` : s);
  switch (r.type) {
    case 'text':
      return t('文本：{c}', 'text: {c}', { c: short(r.content) });
    case 'link':
      return t('链接：{c} → {u}', 'link: {c} → {u}', { c: short(r.text), u: r.url });
    case 'image':
      return t('图片：{m}', 'image: {m}', { m: r.media_id });
    case 'news':
      return t('图文：{c} → {u}', 'article card: {c} → {u}', { c: short(r.title), u: r.url });
    case 'miniprogram':
      return t('小程序卡片：{c}（{a} {p}）', 'mini program card: {c} ({a} {p})', { c: short(r.title), a: r.appid, p: r.pagepath });
  }
}

/** The passive reply body fields (mp.md §6.4), or undefined when the reply must go as a customer-service message. */
export type PassiveReply =
  | { type: 'text'; content: string }
  | { type: 'image'; mediaId: string }
  | { type: 'news'; articles: { title: string; description?: string; picurl?: string; url: string }[] };

export function passiveReply(r: Reply): PassiveReply | undefined {
  switch (r.type) {
    case 'text':
      return { type: 'text', content: r.content };
    case 'link':
      return { type: 'text', content: linkText(r) };
    case 'image':
      return { type: 'image', mediaId: r.media_id };
    case 'news':
      return { type: 'news', articles: [{ title: r.title, description: r.description, picurl: r.picurl, url: r.url }] };
    case 'miniprogram':
      return undefined;
  }
}

/** The `message/custom/send` body for a reply (mp.md §7). */
export function customMessage(openid: string, r: Reply): Record<string, unknown> {
  switch (r.type) {
    case 'text':
      return { touser: openid, msgtype: 'text', text: { content: r.content } };
    case 'link':
      return { touser: openid, msgtype: 'text', text: { content: linkText(r) } };
    case 'image':
      return { touser: openid, msgtype: 'image', image: { media_id: r.media_id } };
    case 'news':
      return { touser: openid, msgtype: 'news', news: { articles: [{ title: r.title, description: r.description, url: r.url, picurl: r.picurl }] } };
    case 'miniprogram':
      return { touser: openid, msgtype: 'miniprogrampage', miniprogrampage: { title: r.title, appid: r.appid, pagepath: r.pagepath, thumb_media_id: r.thumb_media_id } };
  }
}
