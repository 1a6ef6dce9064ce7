import { createHash, randomUUID } from 'node:crypto';
import type { ControlHandler } from '../control.js';
import { ApiError } from '../errors.js';
import type { OpenRequest, Simulator } from '../server.js';

/**
 * The group robot webhook (消息推送, formerly 群机器人; wecom.md §6.3): `POST /cgi-bin/webhook/send?key=KEY`
 * with no access token — the key is the credential (unknown → 93000). text (≤ 2048 bytes), markdown and
 * markdown_v2 (≤ 4096 bytes; over → 40058 `markdown.content exceed max length 4096`), image (`base64` +
 * `md5` of the raw bytes: mismatch → 301019, > 2 MB → 40009, not JPG/PNG → 40005), news (1–8 articles)
 * and template_card; file/voice need a media_id from `webhook/upload_media`, which the simulator does not
 * offer (40007). At most 20 messages in any rolling minute per robot (simulated clock) → 45009.
 *
 * Every accepted message is recorded (in memory) for the platform's side:
 * - `GET /_sim/webhook/messages?key=` → `{messages:[{n, key, at, msgtype, content?, mentioned_list?,
 *   mentioned_mobile_list?, image?:{bytes, md5, type, path, url}, articles?, template_card?}]}`
 *   (all robots when `key` is left out); `DELETE` clears them.
 * - `GET /_sim/webhook/images/<n>.png|.jpg` serves an image message's decoded bytes.
 * - `GET /_sim/webhook/robots` lists the robots; `POST /_sim/webhook/robots {key?, name?}` adds one
 *   (a fresh key unless given) → `{ok, key, name, url}`.
 */
export const TEXT_MAX = 2048;
export const MARKDOWN_MAX = 4096;
export const IMAGE_MAX = 2 * 1024 * 1024;
export const PER_MINUTE = 20;
const NEWS_MAX = 8;
const KEEP = 2000;
const KEY = /^[A-Za-z0-9-]{8,64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface WebhookMessage {
  n: number;
  key: string;
  at: number;
  msgtype: string;
  content?: string;
  mentioned_list?: string[];
  mentioned_mobile_list?: string[];
  image?: { bytes: number; md5: string; type: 'png' | 'jpg'; path: string; url: string };
  articles?: { title: string; description?: string; url: string; picurl?: string }[];
  template_card?: Record<string, unknown>;
}

interface Robot {
  key: string;
  name: string;
  /** Simulated times of accepted messages in the last minute (the rolling window). */
  sent: number[];
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function invalid(text: string): never {
  throw new ApiError(40058, {}, 200, `${text}. invalid Request Parameter`);
}

function fail(message: string): never {
  throw new Error(message);
}

export class WebhookRobots {
  private readonly robots = new Map<string, Robot>();
  private messages: WebhookMessage[] = [];
  private readonly images = new Map<number, { type: 'png' | 'jpg'; body: Buffer }>();
  private seq = 0;

  constructor(private readonly sim: Simulator) {
    this.add(sim.credentials.webhook_key, '运维告警群');
    sim.addOpenRoutes({ 'webhook/send': { method: 'POST', handler: (req) => this.send(req) } });
    for (const [key, handler] of Object.entries(this.control())) sim.addControl(key, handler);
    sim.addFile('/_sim/webhook/images/', (path) => {
      const m = /^\/_sim\/webhook\/images\/(\d+)\.(png|jpg)$/.exec(path);
      const img = m ? this.images.get(Number(m[1])) : undefined;
      if (!img || img.type !== m![2]) return undefined;
      return { contentType: img.type === 'png' ? 'image/png' : 'image/jpeg', body: img.body };
    });
  }

  private add(key: string, name: string): Robot {
    const robot = { key, name, sent: [] };
    this.robots.set(key, robot);
    return robot;
  }

  private send(req: OpenRequest): Record<string, unknown> {
    const robot = this.robots.get(req.query.get('key') ?? '');
    if (!robot) throw new ApiError(93000);
    const body = req.json();
    const limit = this.sim.faults.config.webhook_limit_per_min ?? PER_MINUTE;
    robot.sent = robot.sent.filter((t) => t > req.now - 60_000);
    if (robot.sent.length >= limit) throw new ApiError(45009);
    const msg = this.validate(body);
    robot.sent.push(req.now);
    const n = ++this.seq;
    const record: WebhookMessage = { n, key: robot.key, at: req.now, ...msg.fields };
    if (msg.image) {
      const path = `/_sim/webhook/images/${n}.${msg.image.type}`;
      this.images.set(n, msg.image);
      record.image = { bytes: msg.image.body.length, md5: msg.image.md5, type: msg.image.type, path, url: `${this.sim.baseUrl ?? ''}${path}` };
    }
    this.messages.push(record);
    if (this.messages.length > KEEP) {
      for (const old of this.messages.splice(0, this.messages.length - KEEP)) this.images.delete(old.n);
    }
    return {};
  }

  /** The platform's checks per msgtype; what gets recorded. */
  private validate(body: any): { fields: Omit<WebhookMessage, 'n' | 'key' | 'at'>; image?: { type: 'png' | 'jpg'; body: Buffer; md5: string } } {
    const msgtype = body.msgtype;
    switch (msgtype) {
      case 'text': {
        const t = body.text;
        if (!t || typeof t !== 'object' || typeof t.content !== 'string' || t.content === '') throw new ApiError(44004);
        if (bytes(t.content) > TEXT_MAX) invalid(`text.content exceed max length ${TEXT_MAX}`);
        const mentioned = stringList(t.mentioned_list, 'text.mentioned_list');
        const mobiles = stringList(t.mentioned_mobile_list, 'text.mentioned_mobile_list');
        return { fields: { msgtype, content: t.content, ...(mentioned && { mentioned_list: mentioned }), ...(mobiles && { mentioned_mobile_list: mobiles }) } };
      }
      case 'markdown':
      case 'markdown_v2': {
        const m = body[msgtype];
        if (!m || typeof m !== 'object' || typeof m.content !== 'string' || m.content === '') throw new ApiError(44004);
        if (bytes(m.content) > MARKDOWN_MAX) invalid(`${msgtype}.content exceed max length ${MARKDOWN_MAX}`);
        return { fields: { msgtype, content: m.content } };
      }
      case 'image': {
        const i = body.image;
        if (!i || typeof i !== 'object' || typeof i.base64 !== 'string' || i.base64 === '') invalid('image.base64 missing');
        if (typeof i.md5 !== 'string' || !/^[0-9a-fA-F]{32}$/.test(i.md5)) invalid('image.md5 missing or not 32 hex digits');
        const b64 = i.base64.replace(/\s+/g, '');
        if (b64.length % 4 === 1 || !BASE64.test(b64)) invalid('image.base64 is not base64');
        const raw = Buffer.from(b64, 'base64');
        const md5 = createHash('md5').update(raw).digest('hex');
        if (md5 !== i.md5.toLowerCase()) throw new ApiError(301019);
        if (raw.length > IMAGE_MAX) throw new ApiError(40009);
        const type = imageType(raw);
        if (!type) throw new ApiError(40005);
        return { fields: { msgtype }, image: { type, body: raw, md5 } };
      }
      case 'news': {
        const list = body.news?.articles;
        if (!Array.isArray(list) || list.length < 1 || list.length > NEWS_MAX) invalid(`news.articles size must be 1-${NEWS_MAX}`);
        const articles = list.map((a: any, i: number) => {
          if (!a || typeof a !== 'object') invalid(`news.articles[${i}] is not an object`);
          if (typeof a.title !== 'string' || a.title === '' || bytes(a.title) > 128) invalid(`news.articles[${i}].title empty or over 128 bytes`);
          if (a.description !== undefined && (typeof a.description !== 'string' || bytes(a.description) > 512)) invalid(`news.articles[${i}].description over 512 bytes`);
          if (typeof a.url !== 'string' || !/^https?:\/\/\S+$/i.test(a.url)) invalid(`news.articles[${i}].url missing or not a URL`);
          if (a.picurl !== undefined && typeof a.picurl !== 'string') invalid(`news.articles[${i}].picurl is not a string`);
          return { title: a.title, url: a.url, ...(a.description !== undefined && { description: a.description }), ...(a.picurl !== undefined && { picurl: a.picurl }) };
        });
        return { fields: { msgtype, articles } };
      }
      case 'template_card': {
        const card = body.template_card;
        if (!card || typeof card !== 'object' || (card.card_type !== 'text_notice' && card.card_type !== 'news_notice')) invalid('template_card.card_type must be text_notice or news_notice');
        const title = typeof card.main_title?.title === 'string' ? card.main_title.title : undefined;
        return { fields: { msgtype, template_card: card, ...(title !== undefined && { content: title }) } };
      }
      case 'file':
      case 'voice':
        // A media_id comes from webhook/upload_media (not simulated): none is valid here.
        throw new ApiError(40007);
      default:
        throw new ApiError(40008);
    }
  }

  /** `/_sim/reset`: the recorded messages and rate windows go; the robots stay. */
  reset(): void {
    this.messages = [];
    this.images.clear();
    for (const r of this.robots.values()) r.sent = [];
  }

  private control(): Record<string, ControlHandler> {
    return {
      'GET /webhook/messages': ({ query }) => {
        const key = query.get('key');
        if (key !== null && !this.robots.has(key)) fail(`no robot with key ${key}`);
        return { messages: key === null ? this.messages : this.messages.filter((m) => m.key === key) };
      },
      'DELETE /webhook/messages': ({ query }) => {
        const key = query.get('key');
        const gone = this.messages.filter((m) => key === null || m.key === key);
        for (const m of gone) this.images.delete(m.n);
        this.messages = this.messages.filter((m) => !gone.includes(m));
        return { ok: true, deleted: gone.length };
      },
      'GET /webhook/robots': () => ({
        robots: [...this.robots.values()].map((r) => ({ key: r.key, name: r.name, url: this.urlOf(r.key), messages: this.messages.filter((m) => m.key === r.key).length })),
      }),
      'POST /webhook/robots': ({ body }) => {
        const key = body.key ?? randomUUID();
        if (typeof key !== 'string' || !KEY.test(key)) fail('key must be 8-64 letters, digits or dashes');
        if (this.robots.has(key)) fail(`a robot with key ${key} exists`);
        const name = body.name ?? `机器人${this.robots.size + 1}`;
        if (typeof name !== 'string' || name === '') fail('name must be a non-empty string');
        this.add(key, name);
        return { ok: true, key, name, url: this.urlOf(key) };
      },
    };
  }

  private urlOf(key: string): string {
    return `${this.sim.baseUrl ?? ''}/cgi-bin/webhook/send?key=${encodeURIComponent(key)}`;
  }
}

function stringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) invalid(`${name} must be a list of strings`);
  return value as string[];
}

function imageType(b: Buffer): 'png' | 'jpg' | undefined {
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpg';
  return undefined;
}
