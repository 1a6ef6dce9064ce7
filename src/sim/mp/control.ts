import type { ControlHandler } from '../control.js';
import { UNAVAILABLE, verifyUrl, type ServerConfig, type XmlFields } from './callbacks.js';
import { findFollower } from './followers.js';
import type { MpAccount } from './index.js';
import { record } from './mass.js';
import { menuLeaves } from './menu.js';
import { SCENE_SOURCE } from './seed.js';
import type { MpFollower, MpState } from './types.js';
import { openidFor, shanghaiDate } from './util.js';

/**
 * `/_sim/mp/…`: the platform's side of the Official Account.
 *
 * - `POST /mp/server` `{url, token?, aes_key?, mode?, reply_timeout_ms?}` sets the 服务器配置 (defaults:
 *   the demo token and key, safe mode, 5000 ms); `GET` shows it without secrets; `DELETE` turns it off.
 *   `POST /mp/server/verify` runs the GET URL verification.
 * - `POST /mp/events` `{type, openid?, key?, url?, pagepath?, content?, scene?, qr_scene_str?}`: a
 *   follower subscribes, unsubscribes, clicks, opens a link or the mini program, or sends a text. The
 *   state changes as on the platform, then the server URL is called; the answer says what the follower
 *   saw. A follower can only click or open what the current menu has.
 * - `GET /mp/outbox?openid=&via=`: what followers received (passive replies, customer-service, mass, previews).
 * - `GET /mp/deliveries`: deliveries nobody waited for (MASSSENDJOBFINISH) and how they went.
 * - `GET /mp/articles`: the published articles and permanent materials (their media_id / article_id).
 * - `GET /mp/miniprograms`: the mini programs that exist (示例商城 linked, 示例会员中心 not), with their status.
 * - `POST /mp/miniprogram/confirm` `{appid, accept?}`: the admin answers a link request (accept:false refuses → 3).
 * - `POST /mp/tokens/expire`: every MP access token expires now.
 */
const MODES = new Set(['plain', 'compat', 'safe']);
const REPLYABLE = new Set(['subscribe', 'click', 'text']);

function fail(message: string): never {
  throw new Error(message);
}

export function mpControl(account: MpAccount): Record<string, ControlHandler> {
  const creds = account.creds;

  function configure(body: Record<string, any>): ServerConfig {
    const url = body.url;
    if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+/i.test(url)) fail('url must be an http:// or https:// URL');
    const token = body.token ?? creds.mp_token;
    if (typeof token !== 'string' || !/^[A-Za-z0-9]{3,32}$/.test(token)) fail('token must be 3-32 letters or digits');
    const aes = body.aes_key ?? creds.mp_aes_key;
    if (typeof aes !== 'string' || !/^[A-Za-z0-9]{43}$/.test(aes)) fail('aes_key must be 43 letters or digits');
    const mode = body.mode ?? 'safe';
    if (!MODES.has(mode)) fail('mode must be plain, compat or safe');
    const timeout = body.reply_timeout_ms ?? 5000;
    if (typeof timeout !== 'number' || !(timeout > 0)) fail('reply_timeout_ms must be a positive number');
    return { url, token, aes_key: aes, mode, reply_timeout_ms: timeout };
  }

  function subscribed(mp: MpState, openid: unknown): MpFollower {
    const f = findFollower(mp, openid);
    if (!f) fail(`no follower ${String(openid)}`);
    if (f.subscribe !== 1) fail(`${f.openid} does not follow the account`);
    return f;
  }

  /** Messages, clicks and follows open a new 48 h customer-service window with 20 messages (mp.md §7). */
  function interacted(f: MpFollower): void {
    f.last_interaction = account.now();
    f.cs_sent = 0;
  }

  function base(openid: string, msgType: string): XmlFields {
    return { ToUserName: creds.mp_original_id, FromUserName: openid, CreateTime: Math.floor(account.now() / 1000), MsgType: msgType };
  }

  /** Applies one follower action to the state; returns who acted and the XML the platform sends. */
  function act(body: Record<string, any>): { openid: string; fields: XmlFields } {
    account.sim.stateFile.refresh();
    const mp = account.state();
    const now = account.now();
    const menu = menuLeaves(mp.menu);
    let out: { openid: string; fields: XmlFields };
    switch (body.type) {
      case 'subscribe': {
        let f: MpFollower;
        if (body.openid !== undefined) {
          f = findFollower(mp, body.openid) ?? fail(`no follower ${String(body.openid)} (leave openid out for a new one)`);
          if (f.subscribe === 1) fail(`${f.openid} already follows the account`);
        } else {
          f = {
            openid: openidFor(mp.next_follower_seq++),
            subscribe: 0,
            subscribe_time_s: 0,
            subscribe_scene: '',
            qr_scene: 0,
            qr_scene_str: '',
            language: 'zh_CN',
            remark: '',
            tagid_list: [],
            last_interaction: null,
            cs_sent: 0,
            mass_month: '',
            mass_count: 0,
          };
          mp.followers.push(f);
        }
        const qr = typeof body.qr_scene_str === 'string' && body.qr_scene_str !== '' ? body.qr_scene_str : undefined;
        const scene = qr ? 'ADD_SCENE_QR_CODE' : typeof body.scene === 'string' && body.scene in SCENE_SOURCE ? body.scene : 'ADD_SCENE_SEARCH';
        f.subscribe = 1;
        f.subscribe_time_s = Math.floor(now / 1000);
        f.subscribe_scene = scene;
        f.qr_scene = 0;
        f.qr_scene_str = qr ?? '';
        interacted(f);
        mp.follow_log.push({ openid: f.openid, at: now, kind: 'subscribe', source: SCENE_SOURCE[scene] ?? 0 });
        const fields = { ...base(f.openid, 'event'), Event: 'subscribe' };
        out = { openid: f.openid, fields: qr ? { ...fields, EventKey: `qrscene_${qr}`, Ticket: `gQ${Buffer.from(qr).toString('base64url')}` } : fields };
        break;
      }
      case 'unsubscribe': {
        const f = subscribed(mp, body.openid);
        f.subscribe = 0;
        f.last_interaction = null;
        mp.follow_log.push({ openid: f.openid, at: now, kind: 'unsubscribe', source: 0 });
        out = { openid: f.openid, fields: { ...base(f.openid, 'event'), Event: 'unsubscribe' } };
        break;
      }
      case 'click': {
        const f = subscribed(mp, body.openid);
        if (!menu.some((b) => b.type === 'click' && b.key === body.key)) fail(`the current menu has no click button with key ${JSON.stringify(body.key)}`);
        interacted(f);
        out = { openid: f.openid, fields: { ...base(f.openid, 'event'), Event: 'CLICK', EventKey: String(body.key) } };
        break;
      }
      case 'view': {
        const f = subscribed(mp, body.openid);
        if (!menu.some((b) => b.type === 'view' && b.url === body.url)) fail(`the current menu has no view button with url ${JSON.stringify(body.url)}`);
        out = { openid: f.openid, fields: { ...base(f.openid, 'event'), Event: 'VIEW', EventKey: String(body.url), MenuId: mp.menu!.menuid } };
        break;
      }
      case 'view_miniprogram': {
        const f = subscribed(mp, body.openid);
        if (!menu.some((b) => b.type === 'miniprogram' && b.pagepath === body.pagepath)) fail(`the current menu has no miniprogram button with pagepath ${JSON.stringify(body.pagepath)}`);
        out = { openid: f.openid, fields: { ...base(f.openid, 'event'), Event: 'view_miniprogram', EventKey: String(body.pagepath), MenuId: mp.menu!.menuid } };
        break;
      }
      case 'text': {
        const f = subscribed(mp, body.openid);
        if (typeof body.content !== 'string' || body.content === '') fail('content must be a non-empty string');
        interacted(f);
        const up = (account.day(mp).upstream['1'] ??= { users: [], count: 0 });
        if (!up.users.includes(f.openid)) up.users.push(f.openid);
        up.count++;
        // MsgId: 64-bit-like and unique (ms clock + a sequence).
        const msgId = `${now}${String(mp.next_message_seq++ % 10_000).padStart(4, '0')}`;
        out = { openid: f.openid, fields: { ...base(f.openid, 'text'), Content: body.content, MsgId: msgId } };
        break;
      }
      default:
        fail('type must be subscribe, unsubscribe, click, view, view_miniprogram or text');
    }
    account.changed();
    return out;
  }

  return {
    'POST /mp/server': ({ body }) => {
      account.server = configure(body);
      return { ok: true, ...shown(account.server) };
    },
    'GET /mp/server': () => (account.server ? { configured: true, ...shown(account.server) } : { configured: false }),
    'DELETE /mp/server': () => {
      account.server = undefined;
      return { ok: true, configured: false };
    },
    'POST /mp/server/verify': async ({ body }) => {
      const cfg = body.url !== undefined ? configure({ ...account.server, ...body }) : account.server;
      if (!cfg) fail('no server URL configured');
      return verifyUrl(cfg, Math.floor(account.now() / 1000));
    },
    'POST /mp/events': async ({ body }) => {
      const { openid, fields } = act(body);
      const result = await account.deliver(openid, fields);
      if (!result) return { ok: true, openid, attempts: 0, status: null, reply: null, delivered: false };
      const { attempts, status } = result;
      // After an unfollow, a link or the mini program opening, the chat is not on screen: the body is not read.
      if (!REPLYABLE.has(body.type)) return result.answered ? { ok: true, openid, attempts, status, reply: null } : { ok: false, openid, attempts, status, error: result.error };
      if (!result.ok) return { ok: false, openid, shown: UNAVAILABLE, attempts, status, error: result.error };
      const reply = result.reply;
      if (reply && reply.MsgType !== 'transfer_customer_service') {
        const mp = account.state();
        const title = reply.Articles?.item?.Title ?? (Array.isArray(reply.Articles?.item) ? reply.Articles.item[0]?.Title : undefined);
        record(mp, { openid, at: account.now(), via: 'passive', msgtype: String(reply.MsgType), content: reply.Content ?? title, message: reply });
        account.changed();
      }
      return { ok: true, openid, attempts, status, reply };
    },
    'GET /mp/outbox': ({ query }) => {
      account.sim.stateFile.refresh();
      const openid = query.get('openid');
      const via = query.get('via');
      const messages = account.state().outbox.filter((e) => (!openid || e.openid === openid) && (!via || e.via === via));
      return { messages };
    },
    'GET /mp/deliveries': () => ({ deliveries: account.deliveries }),
    // No draft/material API is modelled: this is how a client or test learns the seeded ids.
    'GET /mp/articles': () => {
      account.sim.stateFile.refresh();
      const mp = account.state();
      return { articles: mp.articles.map((a) => ({ ...a, published_date: shanghaiDate(a.published_at) })), materials: mp.materials };
    },
    // The mini programs of this world, linked or not (an admin knows the appid of the one to link).
    'GET /mp/miniprograms': () => {
      account.sim.stateFile.refresh();
      return { miniprograms: account.state().miniprograms };
    },
    'POST /mp/miniprogram/confirm': ({ body }) => {
      account.sim.stateFile.refresh();
      const m = account.state().miniprograms.find((x) => x.appid === body.appid) ?? fail(`no mini program ${String(body.appid)}`);
      if (m.status !== 12 && m.status !== 2) fail(`${m.nickname} has no link request waiting`);
      m.status = body.accept === false ? 3 : 1;
      account.changed();
      return { ok: true, appid: m.appid, status: m.status };
    },
    'POST /mp/tokens/expire': () => {
      account.tokens.expireAll();
      return { ok: true };
    },
  };
}

function shown(cfg: ServerConfig): Record<string, unknown> {
  return { url: cfg.url, mode: cfg.mode, reply_timeout_ms: cfg.reply_timeout_ms, token_set: cfg.token !== '', aes_key_set: cfg.aes_key !== '' };
}
