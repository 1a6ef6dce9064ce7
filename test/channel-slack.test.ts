import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { StoreNotifier } from '../src/approval/service.js';
import { ChannelNotifier } from '../src/channels/channel-notifier.js';
import { createSlackChannel, fromSlackText, toSlackMrkdwn, type SlackChannel } from '../src/channels/slack.js';
import { Runtime } from '../src/core/runtime.js';
import { redact } from '../src/platform/redact.js';
import { cleanEnv, REPO } from './support/sandbox.js';

/**
 * The Slack channel end to end: bolt's own HTTPReceiver behind a node:http server on loopback, requests
 * signed exactly as Slack signs them, and bolt's WebClient pointed at a local stand-in for the Slack Web
 * API that records what the app posts (chat.postMessage, response_url).
 */
const SIGNING_SECRET = 'slack-signing-secret-for-tests-0123456789';
const BOT_TOKEN = 'xoxb-test-0000000000-wxops-bot-token';
const BOT_USER = 'UBOT0WXOPS';
const OPS_CHANNEL = 'C0OPS';

interface Recorded {
  method: string;
  body: Record<string, any>;
  auth?: string;
}

let dir: string;
let runtime: Runtime;
let channel: SlackChannel;
let app: Server;
let appUrl: string;
let slack: Server;
let slackUrl: string;
const calls: Recorded[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parse(type: string | undefined, raw: string): Record<string, any> {
  if (type?.includes('application/json')) return JSON.parse(raw || '{}');
  return Object.fromEntries(new URLSearchParams(raw));
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-slack-'));
  runtime = new Runtime(cleanEnv({ WXOPS_DATA_DIR: dir }), REPO);
  // The Slack Web API as far as this app uses it, and response_url endpoints.
  slack = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://slack').pathname;
    const body = parse(req.headers['content-type'], await readBody(req));
    const method = path.replace(/^\/api\//, '');
    calls.push({ method, body, auth: req.headers.authorization });
    res.writeHead(200, { 'content-type': 'application/json' });
    if (method === 'auth.test') return res.end(JSON.stringify({ ok: true, user_id: BOT_USER, bot_id: 'B0WXOPS', team_id: 'T0WXOPS' }));
    if (method === 'chat.postMessage') return res.end(JSON.stringify({ ok: true, channel: body.channel, ts: `${Date.now() / 1000}` }));
    res.end(JSON.stringify({ ok: true }));
  });
  slackUrl = await listen(slack);
  channel = createSlackChannel({
    runtime,
    registry: createRegistry(),
    signingSecret: SIGNING_SECRET,
    botToken: BOT_TOKEN,
    clientOptions: { slackApiUrl: `${slackUrl}/api/`, retryConfig: { retries: 0 } },
  });
  // As `wxops serve` does: approval notices go to the channel the request came from, and to the store.
  runtime.setNotifier(new ChannelNotifier({ slack: channel.notifier }, new StoreNotifier(await runtime.store()), await runtime.logger()));
  app = createServer((req, res) => {
    if (req.method === 'POST' && new URL(req.url ?? '/', 'http://wxops').pathname === '/slack/events') return channel.handler(req, res);
    res.writeHead(404);
    res.end();
  });
  appUrl = await listen(app);
});

afterAll(async () => {
  app?.closeAllConnections();
  slack?.closeAllConnections();
  await new Promise((r) => app?.close(r));
  await new Promise((r) => slack?.close(r));
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

function sign(body: string, opts: { secret?: string; timestamp?: number } = {}): Record<string, string> {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', opts.secret ?? SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp };
}

async function post(body: string, type: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${appUrl}/slack/events`, { method: 'POST', headers: { 'content-type': type, ...headers }, body });
  return { status: res.status, text: await res.text() };
}

let seq = 0;
function mention(user: string, text: string, opts: { thread?: string; eventId?: string } = {}): { body: string; ts: string; eventId: string } {
  seq += 1;
  const ts = `1760000000.${String(seq).padStart(6, '0')}`;
  const eventId = opts.eventId ?? `Ev0WXOPS${seq}`;
  const body = JSON.stringify({
    token: 'legacy-verification-token',
    team_id: 'T0WXOPS',
    api_app_id: 'A0WXOPS',
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: 'T0WXOPS', user_id: BOT_USER, is_bot: true }],
    event: { type: 'app_mention', user, text, ts, channel: OPS_CHANNEL, event_ts: ts, ...(opts.thread ? { thread_ts: opts.thread } : {}) },
  });
  return { body, ts, eventId };
}

async function sendMention(user: string, text: string, opts: { thread?: string; eventId?: string } = {}) {
  const m = mention(user, text, opts);
  const res = await post(m.body, 'application/json', sign(m.body));
  return { ...m, ...res };
}

async function waitFor<T>(find: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; Slack saw: ${JSON.stringify(calls.map((c) => [c.method, c.body.text ?? c.body]))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const posts = () => calls.filter((c) => c.method === 'chat.postMessage');

describe('Slack: mentions and the slash command through bolt', () => {
  it('answers URL verification', async () => {
    const body = JSON.stringify({ token: 'x', challenge: 'challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' });
    const res = await post(body, 'application/json', sign(body));
    expect(res.status).toBe(200);
    expect(res.text).toContain('challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P');
  });

  it('answers a mapped member’s mention in the thread, in mrkdwn, with the bot token', async () => {
    const sent = await sendMention('U0WXOPS001', `<@${BOT_USER}> dept list`);
    expect(sent.status).toBe(200);
    const reply = await waitFor(() => posts().find((c) => c.body.thread_ts === sent.ts), 'the answer in the thread');
    expect(reply.body.channel).toBe(OPS_CHANNEL);
    expect(reply.body.text).toContain('销售部');
    expect(reply.body.text).not.toContain('**');
    expect(reply.auth).toBe(`Bearer ${BOT_TOKEN}`);
  });

  it('answers inside an existing thread', async () => {
    const parent = '1760000000.900000';
    const sent = await sendMention('U0WXOPS001', `<@${BOT_USER}> help dept list`, { thread: parent });
    const reply = await waitFor(() => posts().find((c) => c.body.thread_ts === parent), 'the answer in the parent thread');
    expect(reply.body.text.length).toBeGreaterThan(0);
    expect(posts().some((c) => c.body.thread_ts === sent.ts)).toBe(false);
  });

  it('refuses an unmapped Slack user politely, without running anything', async () => {
    const sent = await sendMention('U0STRANGER', `<@${BOT_USER}> member remove wangfang`);
    const reply = await waitFor(() => posts().find((c) => c.body.thread_ts === sent.ts), 'the refusal');
    expect(reply.body.text).toContain('抱歉，我还不认识你');
    expect(reply.body.text).toContain('identities.yaml');
  });

  it('rejects a bad signature, a stale timestamp and an unsigned request, and posts nothing', async () => {
    const before = calls.length;
    const forged = mention('U0WXOPS001', `<@${BOT_USER}> dept list`);
    expect((await post(forged.body, 'application/json', sign(forged.body, { secret: 'not-the-signing-secret' }))).status).toBe(401);
    const stale = mention('U0WXOPS001', `<@${BOT_USER}> dept list`);
    expect((await post(stale.body, 'application/json', sign(stale.body, { timestamp: Math.floor(Date.now() / 1000) - 600 }))).status).toBe(401);
    const unsigned = mention('U0WXOPS001', `<@${BOT_USER}> dept list`);
    expect((await post(unsigned.body, 'application/json', {})).status).toBe(401);
    // A signed body that was altered in transit fails too.
    const good = mention('U0WXOPS001', `<@${BOT_USER}> dept list`);
    const headers = sign(good.body);
    expect((await post(good.body.replace('dept list', 'dept remove 销售部'), 'application/json', headers)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.length).toBe(before);
  });

  it('runs an event Slack retries only once', async () => {
    const first = await sendMention('U0WXOPS001', `<@${BOT_USER}> dept list`, { eventId: 'Ev0RETRIED' });
    await waitFor(() => posts().find((c) => c.body.thread_ts === first.ts), 'the answer');
    // Same event id and payload, delivered again (X-Slack-Retry-Num) — signed afresh as Slack does.
    const res = await fetch(`${appUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout', ...sign(first.body) }, body: first.body });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(posts().filter((c) => c.body.thread_ts === first.ts)).toHaveLength(1);
  });

  it('runs /wxops and answers in the channel through response_url', async () => {
    const body = new URLSearchParams({
      token: 'legacy-verification-token',
      team_id: 'T0WXOPS',
      channel_id: OPS_CHANNEL,
      channel_name: 'ops',
      user_id: 'U0WXOPS003',
      user_name: 'lina',
      command: '/wxops',
      text: 'dept list',
      api_app_id: 'A0WXOPS',
      response_url: `${slackUrl}/commands/T0WXOPS/1/slash-response`,
      trigger_id: '1.2.3',
    }).toString();
    const res = await post(body, 'application/x-www-form-urlencoded', sign(body));
    expect(res.status).toBe(200);
    const reply = await waitFor(() => calls.find((c) => c.method === '/commands/T0WXOPS/1/slash-response'), 'the slash command answer');
    expect(reply.body.response_type).toBe('in_channel');
    expect(reply.body.text).toContain('销售部');
  });

  it('answers an unmapped user’s /wxops privately', async () => {
    const body = new URLSearchParams({ team_id: 'T0WXOPS', channel_id: OPS_CHANNEL, user_id: 'U0STRANGER', command: '/wxops', text: 'dept list', response_url: `${slackUrl}/commands/T0WXOPS/2/slash-response` }).toString();
    expect((await post(body, 'application/x-www-form-urlencoded', sign(body))).status).toBe(200);
    const reply = await waitFor(() => calls.find((c) => c.method === '/commands/T0WXOPS/2/slash-response'), 'the refusal');
    expect(reply.body.response_type).toBe('ephemeral');
    expect(reply.body.text).toContain('抱歉，我还不认识你');
  });
});

describe('Slack: approvals are asked for, and answered, where the request was made', () => {
  it('mentions the approvers by their Slack ids in the thread, and the approver answers there', async () => {
    const sent = await sendMention('U0WXOPS001', `<@${BOT_USER}> member remove wangfang`);
    const inThread = () => posts().filter((c) => c.body.thread_ts === sent.ts);
    const notice = await waitFor(() => inThread().find((c) => c.body.text.includes('approval approve')), 'the approval notice');
    expect(notice.body.channel).toBe(OPS_CHANNEL);
    expect(notice.body.text).toContain('<@U0WXOPS003>'); // lina, the leader of wangfang's department
    expect(notice.body.text).not.toContain('@lina');
    const id = /approval approve (\d+)/.exec(notice.body.text)![1]!;
    const answer = await waitFor(() => inThread().find((c) => c.body.text.startsWith('⏳')), 'the answer to the requester');
    expect(answer.body.text).toContain(id);

    // lina approves in the same thread; the next step goes to a super admin other than the requester.
    await sendMention('U0WXOPS003', `<@${BOT_USER}> approval approve ${id}`, { thread: sent.ts });
    const next = await waitFor(() => inThread().find((c) => c !== notice && c.body.text.includes('approval approve') && c.body.text.includes('<@U0WXOPS002>')), 'the second step notice');
    expect(next.body.text).not.toContain('<@U0WXOPS001>');
    const store = await runtime.store();
    const kept = await store.list<any>('notifications');
    expect(kept.some((n) => n.requestId === id && n.channel === 'slack' && n.room === OPS_CHANNEL)).toBe(true);
  });

  it('asked Slack who the bot is once, and never wrote the signing secret or the bot token to the log', async () => {
    expect(calls.filter((c) => c.method === 'auth.test')).toHaveLength(1);
    expect(redact(`token ${BOT_TOKEN} secret ${SIGNING_SECRET}`)).not.toMatch(/xoxb-|slack-signing-secret/);
    const log = readFileSync(join(dir, 'logs', 'wxops.log'), 'utf8');
    expect(log).toContain('"channel":"slack"');
    expect(log).not.toContain(BOT_TOKEN);
    expect(log).not.toContain(SIGNING_SECRET);
  });
});

describe('Slack text', () => {
  it('converts the renderer’s markdown to mrkdwn', () => {
    expect(toSlackMrkdwn('**部门**\n- **销售部** · 成员 3\n> 共 1 个 <b> & co')).toBe('*部门*\n- *销售部* · 成员 3\n> 共 1 个 &lt;b&gt; &amp; co');
  });

  it('reads a message as typed: the bot mention dropped, links unwrapped, escapes undone', () => {
    expect(fromSlackText('<@UBOT> member add li --email <mailto:li@example.com|li@example.com> --name “李 雷”', 'UBOT')).toBe('member add li --email li@example.com --name “李 雷”');
    expect(fromSlackText('<@UBOT|wxops> autoreply keyword add a <https://shop.example.com/x>', 'UBOT')).toBe('autoreply keyword add a https://shop.example.com/x');
    expect(fromSlackText('<@UOTHER> dept list')).toBe('dept list');
    expect(fromSlackText('<@UBOT> policy explain "a &amp; b &lt;c&gt;"', 'UBOT')).toBe('policy explain "a & b <c>"');
  });
});
