import { findUser } from '../contacts/users.js';
import type { ControlHandler } from '../control.js';
import { recordActivity } from './behavior.js';
import { isFollowUser } from './common.js';
import { wayExpired, wayMembers } from './contact-ways.js';
import type { Customers } from './index.js';
import { addCustomer, addRelation, indexOf, setFollow } from './relations.js';
import { customerFor } from './seed.js';
import type { SimCustomer } from './state.js';
import { chars, seconds } from './util.js';
import { issueWelcomeCode } from './welcome.js';

/**
 * `/_sim/…` for 客户联系: the platform's side.
 *
 * - `POST /wecom/callback` `{url, token?, aes_key?, reply_timeout_ms?}` sets the 客户联系 callback URL
 *   (defaults: the demo callback token and EncodingAESKey, 5000 ms); `GET` shows it without secrets;
 *   `DELETE` clears it; `POST /wecom/callback/verify` runs the GET URL verification.
 * - `POST /customers/add` `{userid | config_id, name?, external_userid?, type?, corp_name?, add_way?, state?}`:
 *   a customer adds a member, directly or through a 「联系我」 way (its `state` is echoed; a multi-member
 *   way hands customers out round robin). A known `external_userid` is a returning customer. Creates
 *   the relation, issues a welcome_code and delivers `change_external_contact/add_external_contact`.
 * - `POST /customers/chat` `{userid, external_userid}`: they chatted (welcome codes then answer 41051).
 * - `GET /customers/outbox?external_userid=&via=`: what customers received (welcome, transfer notices).
 * - `POST /members/leave` `{userid}`: the member leaves the company (deleted from contacts, as 离职 is);
 *   their customers are unassigned (get_unassigned_list) until a resigned transfer.
 * - `POST /customers/follow_user` `{userid, enabled?}`: enables (or not) a member for 客户联系.
 * - `GET /customers/summary`: counts (customers, relations, follow users …).
 * - `GET /qr/<config_id>.png`: the QR image of a contact way (served, not under the API).
 */
function fail(message: string): never {
  throw new Error(message);
}

const WAY_ADD_WAY = 1;
const DIRECT_ADD_WAY = 2;
const ADD_WAYS = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 201, 202]);

export function customersControl(c: Customers): Record<string, ControlHandler> {
  const creds = c.sim.credentials;

  return {
    'POST /wecom/callback': ({ body }) => {
      const url = body.url;
      if (typeof url !== 'string' || !/^https?:\/\/[^/\s]+/i.test(url)) fail('url must be an http:// or https:// URL');
      const token = body.token ?? creds.callback_token;
      if (typeof token !== 'string' || !/^[A-Za-z0-9]{1,32}$/.test(token)) fail('token must be 1-32 letters or digits');
      const aes = body.aes_key ?? creds.encoding_aes_key;
      if (typeof aes !== 'string' || !/^[A-Za-z0-9]{43}$/.test(aes)) fail('aes_key must be 43 letters or digits');
      const timeout = body.reply_timeout_ms ?? 5000;
      if (typeof timeout !== 'number' || !(timeout > 0)) fail('reply_timeout_ms must be a positive number');
      c.callback = { url, token, aes_key: aes, reply_timeout_ms: timeout };
      return { ok: true, configured: true, url, reply_timeout_ms: timeout, receive_id: creds.corp_id };
    },
    'GET /wecom/callback': () =>
      c.callback ? { configured: true, url: c.callback.url, reply_timeout_ms: c.callback.reply_timeout_ms, receive_id: creds.corp_id, token_set: true, aes_key_set: true } : { configured: false },
    'DELETE /wecom/callback': () => {
      c.callback = undefined;
      return { ok: true, configured: false };
    },
    'POST /wecom/callback/verify': () => {
      if (!c.callback) fail('no callback URL configured');
      return c.verify();
    },

    'POST /customers/add': async ({ body }) => {
      const { state, cs, now } = c.begin();
      const index = indexOf(cs);
      let userid: string;
      let wayState = '';
      let addWay: number;
      if (body.config_id !== undefined) {
        const way = cs.contact_ways.find((w) => w.config_id === body.config_id) ?? fail(`no contact way ${String(body.config_id)}`);
        if (wayExpired(way, now)) fail(`contact way ${way.config_id} has expired`);
        const deptMembers = (d: number) => state.users.filter((u) => u.department.includes(d)).map((u) => u.userid);
        const members = wayMembers(way, (u) => isFollowUser(state, cs, u), deptMembers).filter((u) => isFollowUser(state, cs, u));
        if (members.length === 0) fail(`contact way ${way.config_id} has no member enabled for 客户联系`);
        userid = members[way.next_pick++ % members.length]!;
        wayState = way.state;
        addWay = WAY_ADD_WAY;
      } else if (body.userid !== undefined) {
        const u = findUser(state, body.userid) ?? fail(`no member ${String(body.userid)}`);
        if (!isFollowUser(state, cs, u.userid)) fail(`${u.userid} is not enabled for 客户联系`);
        userid = u.userid;
        if (body.state !== undefined && (typeof body.state !== 'string' || chars(body.state) > 30)) fail('state must be a string of at most 30 characters');
        wayState = body.state ?? '';
        addWay = body.add_way ?? DIRECT_ADD_WAY;
        if (!ADD_WAYS.has(addWay)) fail(`add_way must be one of ${[...ADD_WAYS].join(', ')}`);
      } else {
        fail('give userid (a direct add) or config_id (through a contact way)');
      }
      if (body.name !== undefined && (typeof body.name !== 'string' || chars(body.name) < 1 || chars(body.name) > 64)) fail('name must be 1-64 characters');
      let cust: SimCustomer | undefined;
      if (body.external_userid !== undefined) {
        if (typeof body.external_userid !== 'string' || !/^w[mo][A-Za-z0-9_-]{4,62}$/.test(body.external_userid)) fail('external_userid must look like wm…');
        cust = index.customers.get(body.external_userid);
        if (cust && index.relation(userid, cust.external_userid)) fail(`${cust.external_userid} is already a customer of ${userid}`);
      }
      if (!cust) {
        const made = customerFor(cs.next_customer_seq++, now, { has: (id) => index.customers.has(id), add: () => undefined });
        if (body.external_userid !== undefined) made.external_userid = body.external_userid;
        if (body.name !== undefined) made.name = body.name;
        if (body.type === 1 || body.type === 2) made.type = body.type;
        if (made.type === 1) {
          delete made.corp_name;
          delete made.corp_full_name;
          delete made.position;
        } else if (typeof body.corp_name === 'string') {
          made.corp_name = body.corp_name;
          made.corp_full_name = body.corp_name;
        } else {
          made.corp_name ??= '示例客户公司';
          made.corp_full_name ??= made.corp_name;
          made.position ??= '采购经理';
        }
        addCustomer(cs, made);
        cust = made;
      }
      addRelation(cs, {
        userid,
        external_userid: cust.external_userid,
        createtime: seconds(now),
        add_way: addWay,
        oper_userid: cust.external_userid,
        tags: [],
        ...(wayState ? { state: wayState } : {}),
      });
      const welcomeCode = issueWelcomeCode(cs, userid, cust.external_userid, now);
      recordActivity(cs, userid, now, { new_apply: 1, new_contact: 1 });
      c.changed();
      const result = await c.deliver({
        ToUserName: creds.corp_id,
        FromUserName: 'sys',
        CreateTime: seconds(now),
        MsgType: 'event',
        Event: 'change_external_contact',
        ChangeType: 'add_external_contact',
        UserID: userid,
        ExternalUserID: cust.external_userid,
        State: wayState,
        WelcomeCode: welcomeCode,
      });
      return {
        ok: true,
        external_userid: cust.external_userid,
        name: cust.name,
        userid,
        state: wayState,
        welcome_code: welcomeCode,
        delivered: result?.answered ?? false,
        attempts: result?.attempts ?? 0,
        status: result?.status ?? null,
        ...(result && !result.answered ? { error: result.error } : {}),
      };
    },

    'POST /customers/chat': ({ body }) => {
      const { state, cs, now } = c.begin();
      const u = findUser(state, body.userid) ?? fail(`no member ${String(body.userid)}`);
      const r = indexOf(cs).relation(u.userid, String(body.external_userid)) ?? fail(`${String(body.external_userid)} is not a customer of ${u.userid}`);
      if (!r.chat_started) {
        r.chat_started = true;
        recordActivity(cs, u.userid, now, { chats: 1, messages: 2 });
        c.changed();
      }
      return { ok: true, userid: u.userid, external_userid: r.external_userid };
    },

    'GET /customers/outbox': ({ query }) => {
      const { cs } = c.begin();
      const ext = query.get('external_userid');
      const via = query.get('via');
      return { messages: cs.outbox.filter((m) => (!ext || m.external_userid === ext) && (!via || m.via === via)) };
    },

    'POST /members/leave': ({ body }) => {
      const { state, cs, now } = c.begin();
      const u = findUser(state, body.userid) ?? fail(`no member ${String(body.userid)}`);
      if (u.userid.toLowerCase() === state.creator.toLowerCase()) fail(`${u.userid} created the company and cannot leave`);
      state.users = state.users.filter((x) => x !== u);
      for (const t of state.tags) t.userlist = t.userlist.filter((x) => x.toLowerCase() !== u.userid.toLowerCase());
      for (const x of state.users) if (x.direct_leader.includes(u.userid)) x.direct_leader = x.direct_leader.filter((l) => l !== u.userid);
      c.depart(cs, u.userid, u.name, now);
      c.changed();
      return { ok: true, userid: u.userid, customers: indexOf(cs).relationsOf(u.userid).length };
    },

    'POST /customers/follow_user': ({ body }) => {
      const { state, cs } = c.begin();
      const u = findUser(state, body.userid) ?? fail(`no member ${String(body.userid)}`);
      const enabled = body.enabled !== false;
      setFollow(cs, u.userid, enabled);
      c.changed();
      return { ok: true, userid: u.userid, enabled };
    },

    'GET /customers/summary': () => {
      const { cs } = c.begin();
      return {
        customers: cs.customers.length,
        relations: cs.relations.length,
        follow_users: cs.follow_users.length,
        departed: cs.departed.map((d) => d.userid),
        tag_groups: cs.tag_groups.length,
        tags: cs.tag_groups.reduce((n, g) => n + g.tag.length, 0),
        contact_ways: cs.contact_ways.length,
        transfers_waiting: cs.transfers.filter((t) => t.status === 2).length,
      };
    },
  };
}
