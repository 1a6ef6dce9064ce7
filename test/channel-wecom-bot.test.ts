import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/cli/serve.js';
import type { Runtime } from '../src/core/runtime.js';
import { startServe, type TestServe } from './support/serve.js';

/**
 * The ops group: members @-mention the WeCom 智能机器人; the simulator delivers each message to
 * `wxops serve` at /wecom/bot exactly as the platform does (encrypted JSON, receive id "", stream
 * refreshes) and records what the group saw.
 */
let serve: TestServe;
let runtime: Runtime;
let server: RunningServer;

beforeAll(async () => {
  serve = await startServe();
  ({ runtime, server } = serve);
});
afterAll(async () => {
  await serve.close();
});

const sim = (method: string, path: string, body?: unknown) => serve.sim(method, path, body);
const mention = (userid: string, text: string) => sim('POST', '/bot/mention', { userid, text });

describe('commands in the ops group', () => {
  it('answers a member’s command in the group, as that member', async () => {
    const r = await mention('zhangwei', 'dept list');
    expect(r).toMatchObject({ ok: true, delivered: true });
    expect(r.answer.finished).toBe(true);
    expect(r.answer.content).toContain('销售部');
    const denied = await mention('wangfang', 'dept add 新部门');
    expect(denied.answer.content).toContain('⛔');
    const group = await sim('GET', `/bot/messages?chatid=${r.chatid}`);
    expect(group.messages.some((m: any) => m.from === 'bot' && String(m.content).includes('销售部'))).toBe(true);
  });

  it('streams a slow command: working first, the answer on a later refresh', async () => {
    await sim('POST', '/faults', { latency_ms: 1200 });
    try {
      const r = await mention('lina', 'member list --dept 销售部 --recursive');
      expect(r.answer.finished).toBe(true);
      expect(r.refreshes).toBeGreaterThan(0);
      expect(r.answer.content).toContain('wangfang');
    } finally {
      await sim('DELETE', '/faults');
    }
  });

  it('announces an approval request in the group, mentioning the approvers, who answer there', async () => {
    const ask = await mention('zhangwei', 'member remove zhouqiang');
    expect(ask.answer.content).toContain('⏳');
    const id = /请求 (\d+)/.exec(ask.answer.content)![1];
    const posted = await sim('GET', '/webhook/messages');
    const note = posted.messages.find((m: any) => String(m.content).includes(`approval approve ${id}`));
    expect(note.content).toContain('<@lina>');
    const step1 = await mention('lina', `approval approve ${id}`);
    expect(step1.answer.content).toContain('第 1 步');
  });

  it('refuses a flood from one member without running it, and a command longer than the platform allows', async () => {
    // The platform itself lets at most 3 messages per member be in flight; these come one after another.
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await mention('sunli', 'tag list'));
    const refused = answers.filter((a) => String(a.answer?.content).includes('命令太频繁'));
    expect(refused.length).toBe(3);
    expect(answers.slice(0, 5).every((a) => String(a.answer.content).includes('管理层'))).toBe(true);
    const long = await mention('zhangwei', `dept add ${'长'.repeat(800)}`);
    expect(long.answer.content).toContain('命令太长');
  });

  it('refuses a forged or replayed callback', async () => {
    const forged = await fetch(`${server.url}/wecom/bot?msg_signature=00&timestamp=${Math.floor(Date.now() / 1000)}&nonce=1`, { method: 'POST', body: JSON.stringify({ encrypt: 'AAAA' }) });
    expect(forged.status).toBe(403);
    const old = await fetch(`${server.url}/wecom/bot?msg_signature=00&timestamp=1000&nonce=1`, { method: 'POST', body: JSON.stringify({ encrypt: 'AAAA' }) });
    expect(old.status).toBe(403);
  });
});
