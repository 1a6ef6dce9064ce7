import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PuppetMock, mock } from 'wechaty-puppet-mock';
import { createRegistry } from '../commands/index.js';
import { StoreNotifier } from '../src/approval/service.js';
import { ChannelNotifier } from '../src/channels/channel-notifier.js';
import { startWechatyChannel, toPlainText, wechatyRooms, type WechatyChannel } from '../src/channels/wechaty.js';
import { Runtime } from '../src/core/runtime.js';
import { cleanEnv, REPO } from './support/sandbox.js';

/**
 * The wechaty channel end to end with wechaty's own mock puppet: mock contacts talk in a mock room, the
 * real Wechaty bot receives the messages, wxops runs them against the sandbox company, and what the bot
 * says lands in the room as the puppet's messages.
 */
type Payload = { id: string; talkerId?: string; roomId?: string; text?: string; mentionIdList?: string[] };

let dir: string;
let runtime: Runtime;
let channel: WechatyChannel;
let mocker: InstanceType<typeof mock.Mocker>;
let bot: ReturnType<InstanceType<typeof mock.Mocker>['createContact']>;
let zhangwei: typeof bot;
let lina: typeof bot;
let stranger: typeof bot;
let room: ReturnType<InstanceType<typeof mock.Mocker>['createRoom']>;
let chatter: typeof room;
const said: Payload[] = [];
const mentions: { conversationId: string; text: string; mentionIdList: string[] }[] = [];
const mentionsOf = (text: string | undefined) => mentions.find((m) => m.text === text)?.mentionIdList;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-wechaty-'));
  runtime = new Runtime(cleanEnv({ WXOPS_DATA_DIR: dir }), REPO);
  mocker = new mock.Mocker();
  const puppet = new PuppetMock({ mocker });
  // The mock drops the mention list when it delivers a text; record what wechaty asked the puppet to send.
  const send = puppet.messageSendText.bind(puppet);
  puppet.messageSendText = async (conversationId: string, text: string, mentionIdList?: string[]) => {
    mentions.push({ conversationId, text, mentionIdList: mentionIdList ?? [] });
    return send(conversationId, text);
  };
  channel = await startWechatyChannel({ runtime, registry: createRegistry(), puppet, rooms: ['运维群'] });
  // As `wxops serve` does: approval notices go to the chat the request came from, and to the store.
  runtime.setNotifier(new ChannelNotifier({ wechaty: channel.notifier }, new StoreNotifier(await runtime.store()), await runtime.logger()));

  bot = mocker.createContact({ id: 'wxid_wxops_bot', name: 'wxops' });
  zhangwei = mocker.createContact({ id: 'wxid_zhangwei', name: '张伟' });
  lina = mocker.createContact({ id: 'wxid_lina', name: '李娜' });
  stranger = mocker.createContact({ id: 'wxid_passerby', name: '路人甲' });
  mocker.login(bot);
  const members = [bot, zhangwei, lina, stranger].map((c) => c.id);
  room = mocker.createRoom({ id: '20001@chatroom', topic: '运维群', memberIdList: members });
  chatter = mocker.createRoom({ id: '20002@chatroom', topic: '闲聊群', memberIdList: members });
  // Everything the bot says, as the puppet delivers it.
  puppet.on('message', ({ messageId }) => {
    const p = mocker.messagePayload(messageId) as Payload;
    if (p.talkerId === bot.id) said.push(p);
  });
  for (let i = 0; i < 200 && !channel.bot.isLoggedIn; i++) await new Promise((r) => setTimeout(r, 10));
  expect(channel.bot.isLoggedIn).toBe(true);
});

afterAll(async () => {
  await channel?.stop();
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function waitFor<T>(find: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; the bot said: ${JSON.stringify(said.map((p) => p.text))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the bot says in `where` after `start` (an index into `said`). */
const saidIn = (where: { id: string }, start: number) => said.slice(start).filter((p) => p.roomId === where.id);

describe('wechaty: commands said in the configured room', () => {
  it('answers a mapped contact who @-mentions the bot, in the room, @-mentioning them', async () => {
    const start = said.length;
    zhangwei.say('@wxops\u2005dept list', [bot]).to(room);
    const answer = await waitFor(() => saidIn(room, start)[0], 'the answer');
    expect(answer.text).toMatch(/^@张伟 /);
    expect(mentionsOf(answer.text)).toEqual([zhangwei.id]);
    expect(answer.text).toContain('销售部');
    expect(answer.text).not.toContain('**');
  });

  it('refuses an unmapped contact politely', async () => {
    const start = said.length;
    stranger.say('@wxops member remove wangfang', [bot]).to(room);
    const answer = await waitFor(() => saidIn(room, start)[0], 'the refusal');
    expect(answer.text).toMatch(/^@路人甲 /);
    expect(answer.text).toContain('抱歉，我还不认识你');
  });

  it('ignores messages that do not mention the bot, and rooms it was not told to listen in', async () => {
    const start = said.length;
    zhangwei.say('dept list').to(room);
    lina.say('@张伟 dept list', [zhangwei]).to(room);
    zhangwei.say('@wxops\u2005dept list', [bot]).to(chatter);
    await new Promise((r) => setTimeout(r, 500));
    expect(said.slice(start)).toEqual([]);
  });
});

describe('wechaty: approvals are asked for, and answered, in the room', () => {
  it('@-mentions the approver in the room the request came from; the approver answers there', async () => {
    const start = said.length;
    zhangwei.say('@wxops\u2005member remove wangfang', [bot]).to(room);
    const notice = await waitFor(() => saidIn(room, start).find((p) => p.text?.includes('approval approve')), 'the approval notice');
    // lina (wxid_lina) is mentioned as the contact she is; sunli has no WeChat identity and is named.
    expect(notice.text).toContain('@李娜');
    expect(notice.text).not.toContain('@lina');
    expect(notice.text).toContain('@sunli');
    expect(mentionsOf(notice.text)).toEqual([lina.id]);
    const id = /approval approve (\d+)/.exec(notice.text!)![1]!;
    const answer = await waitFor(() => saidIn(room, start).find((p) => p.text?.startsWith('@张伟 ⏳')), 'the answer to the requester');
    expect(answer.text).toContain(id);

    const next = said.length;
    lina.say(`@wxops\u2005approval approve ${id}`, [bot]).to(room);
    const done = await waitFor(() => saidIn(room, next).find((p) => p.text?.startsWith('@李娜 ')), 'the answer to the approver');
    expect(done.text).toContain('✅');
    const step2 = await waitFor(() => saidIn(room, next).find((p) => p.text?.includes('approval approve') && p.text.includes('第 2 步')), 'the second step notice');
    expect(step2.text).toContain('@sunli');
    const kept = await (await runtime.store()).list<any>('notifications');
    expect(kept.some((n) => n.requestId === id && n.channel === 'wechaty' && n.room === room.id)).toBe(true);
  });
});

describe('wechaty text and configuration', () => {
  it('says the renderer’s markdown as plain text', () => {
    expect(toPlainText('**部门**\n- **销售部** · 成员 3\n> 共 1 个')).toBe('部门\n- 销售部 · 成员 3\n  共 1 个');
  });

  it('reads WXOPS_WECHATY_ROOMS', () => {
    expect(wechatyRooms({ WXOPS_WECHATY_ROOMS: '运维群, 管理群，20001@chatroom,' })).toEqual(['运维群', '管理群', '20001@chatroom']);
    expect(wechatyRooms({})).toEqual([]);
  });
});
