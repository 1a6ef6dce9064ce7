import { findUser } from '../contacts/users.js';
import type { ControlHandler } from '../control.js';
import { BOT_NAME, DEFAULT_CHATID, MAX_IN_FLIGHT, STREAM_LIMIT_MS, type AiBot, type BotConfig } from './index.js';
import { RECEIVE_ID } from './wire.js';

/**
 * `/_sim/bot/…`: the platform's side of the 智能机器人 (URL callback mode).
 *
 * - `POST /bot/config` `{url, token?, aes_key?, reply_timeout_ms?, refresh_interval_ms?, refresh_step_ms?,
 *   stream_limit_ms?}` sets the robot's URL (defaults: the demo bot Token and EncodingAESKey, 5000 ms reply
 *   timeout, refreshes every 100 ms real time each standing for 1000 ms simulated, 6 minutes); `GET` shows
 *   it without secrets; `DELETE` clears it.
 * - `POST /bot/mention` `{userid, text, chatid?, chattype?: "group"|"single", wait?: boolean}`: the member
 *   @-mentions the robot in the ops group (default chatid, chattype group) or writes to it 1:1. Answers
 *   when the exchange is over: `{ok, msgid, delivered, answer:{msgtype, content, finished, stream_id?,
 *   template_card?} | null, refreshes, elapsed_ms, response_url, chatid, error?}`. With `wait:false` it
 *   answers at once `{ok, msgid, pending:true, response_url, chatid}` and the exchange goes on.
 * - `POST /bot/enter_chat` `{userid}`: the member opens the 1:1 chat (welcome reply).
 * - `GET /bot/messages?chatid=` (a 1:1 chat's chatid is the member's userid): what the chat saw.
 * - `GET /bot/inflight`: the messages in flight per member.
 */
function fail(message: string): never {
  throw new Error(message);
}

function positive(value: unknown, name: string, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) fail(`${name} must be a positive number`);
  return v;
}

export function botControl(bot: AiBot): Record<string, ControlHandler> {
  const creds = bot.sim.credentials;

  const shown = (cfg: BotConfig) => ({
    configured: true,
    url: cfg.url,
    aibotid: creds.bot_id,
    receive_id: RECEIVE_ID,
    reply_timeout_ms: cfg.reply_timeout_ms,
    refresh_interval_ms: cfg.refresh_interval_ms,
    refresh_step_ms: cfg.refresh_step_ms,
    stream_limit_ms: cfg.stream_limit_ms,
    max_in_flight: MAX_IN_FLIGHT,
    default_chatid: DEFAULT_CHATID,
    name: BOT_NAME,
    token_set: true,
    aes_key_set: true,
  });

  const member = (userid: unknown): string => {
    if (typeof userid !== 'string' || userid === '') fail('userid must be a member userid');
    bot.sim.stateFile.refresh();
    return (findUser(bot.sim.stateFile.state, userid) ?? fail(`no member ${userid}`)).userid;
  };

  return {
    'POST /bot/config': ({ body }) => {
      const url = body.url;
      if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+/i.test(url)) fail('url must be an http:// or https:// URL');
      const token = body.token ?? creds.bot_token;
      if (typeof token !== 'string' || !/^[A-Za-z0-9]{1,32}$/.test(token)) fail('token must be 1-32 letters or digits');
      const aes = body.aes_key ?? creds.bot_aes_key;
      if (typeof aes !== 'string' || !/^[A-Za-z0-9]{43}$/.test(aes)) fail('aes_key must be 43 letters or digits');
      bot.config = {
        url,
        token,
        aes_key: aes,
        reply_timeout_ms: positive(body.reply_timeout_ms, 'reply_timeout_ms', 5000),
        refresh_interval_ms: positive(body.refresh_interval_ms, 'refresh_interval_ms', 100),
        refresh_step_ms: positive(body.refresh_step_ms, 'refresh_step_ms', 1000),
        stream_limit_ms: positive(body.stream_limit_ms, 'stream_limit_ms', STREAM_LIMIT_MS),
      };
      return { ok: true, ...shown(bot.config) };
    },
    'GET /bot/config': () => (bot.config ? shown(bot.config) : { configured: false, aibotid: creds.bot_id, receive_id: RECEIVE_ID }),
    'DELETE /bot/config': () => {
      bot.config = undefined;
      return { ok: true, configured: false };
    },

    'POST /bot/mention': async ({ body }) => {
      if (!bot.config) fail('no robot URL configured (POST /_sim/bot/config)');
      const userid = member(body.userid);
      if (typeof body.text !== 'string' || body.text.trim() === '') fail('text must be a non-empty string');
      const chattype = body.chattype ?? 'group';
      if (chattype !== 'group' && chattype !== 'single') fail('chattype must be group or single');
      if (body.chatid !== undefined) {
        if (chattype !== 'group') fail('chatid is for group chats only');
        if (typeof body.chatid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(body.chatid)) fail('chatid must be 1-64 letters, digits, _ or -');
      }
      if (body.wait !== undefined && typeof body.wait !== 'boolean') fail('wait must be true or false');
      let started: { msgid: string; response_url: string; chatid: string } | undefined;
      const exchange = bot.mention({ userid, text: body.text, chatid: body.chatid, chattype }, (s) => (started = s));
      if (body.wait === false && started) {
        exchange.catch(() => undefined);
        return { ok: true, pending: true, ...started };
      }
      return exchange;
    },
    'POST /bot/enter_chat': ({ body }) => {
      if (!bot.config) fail('no robot URL configured (POST /_sim/bot/config)');
      return bot.enterChat(member(body.userid));
    },
    'GET /bot/messages': ({ query }) => {
      const chatid = query.get('chatid') ?? DEFAULT_CHATID;
      return { chatid, messages: bot.lines.filter((l) => l.chatid === chatid) };
    },
    'GET /bot/inflight': () => ({
      max_in_flight: MAX_IN_FLIGHT,
      users: Object.fromEntries([...bot.inFlight].map(([userid, ids]) => [userid, [...ids]])),
    }),
  };
}
