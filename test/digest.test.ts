import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { Session } from '../src/core/pipeline.js';
import { Runtime } from '../src/core/runtime.js';
import { cleanEnv, okData, REPO, startWxops, type TestWxops } from './support/sandbox.js';

/** Statistics and the daily digest, against the simulator; the digest goes out through the group robot. */
let w: TestWxops;
beforeAll(async () => {
  w = await startWxops({ withSimulator: true });
});
afterAll(async () => {
  await w.close();
});

async function control(method: string, path: string): Promise<any> {
  return (await fetch(`${w.sim!.controlUrl}${path}`, { method })).json();
}

describe('statistics', () => {
  it('active members per finished day', async () => {
    const s = okData(await w.run('stats members --days 7'));
    expect(s.days).toHaveLength(7);
    expect(s.days.every((d: any) => d.active_cnt >= 0)).toBe(true);
  });

  it('customer contact by member and by day, today marked incomplete, long ranges in 30-day windows', async () => {
    const byMember = okData(await w.run('stats customers --by member --days 7'));
    expect(byMember.rows.some((r: any) => r.member === 'wangfang')).toBe(true);
    const byDay = okData(await w.run('stats customers --days 60 --dept 销售部', 'lina'));
    expect(byDay.rows.length).toBeGreaterThanOrEqual(59);
    const out = await w.run('stats customers --days 3');
    expect(out.result!.view.type === 'table' && (out.result!.view as any).rows.some((r: any) => String(r.key).endsWith('*'))).toBe(true);
    expect((await w.run('stats customers --days 181')).exitCode).toBe(2);
  });

  it('KPIs per member, fastest first, with the article open rate', async () => {
    const k = okData(await w.run('stats kpi --days 14'));
    const times = k.members.filter((m: any) => m.avg_reply_time !== undefined).map((m: any) => m.avg_reply_time);
    expect(times.length).toBeGreaterThan(3);
    expect([...times].sort((a: number, b: number) => a - b)).toEqual(times);
    expect(k.article_open_rate).toBeGreaterThan(0);
  });
});

describe('the daily digest', () => {
  it('previews yesterday against the week before, with a trend chart as PNG', async () => {
    const png = join(w.dataDir, 'digest.png');
    const d = okData(await w.run(`digest preview --png ${png}`));
    expect(d.markdown).toContain('运营日报');
    expect(d.markdown).toContain('7 日均值');
    expect(d.markdown).toContain('回复最快');
    expect(existsSync(png)).toBe(true);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  });

  it('posts the markdown and the chart through the group robot', async () => {
    await control('DELETE', '/webhook/messages');
    okData(await w.run('digest send'));
    const posted = (await control('GET', '/webhook/messages')).messages;
    expect(posted.map((m: any) => m.msgtype)).toEqual(['markdown', 'image']);
    expect(posted[0].content).toContain('运营日报');
    expect(posted[1].image.bytes).toBeGreaterThan(1000);
  });

  it('refuses a day older than the platform keeps, and says so when the robot rejects the key (93000)', async () => {
    const old = await w.run('digest preview --date 2025-01-01');
    expect(old.exitCode).toBe(2);
    expect(old.error!.code).toBe('DIGEST_DATE');
    const runtime = new Runtime(cleanEnv({ ...w.sim!.env, WXOPS_DATA_DIR: join(w.dataDir, 'badkey'), WXOPS_ACTOR: 'zhangwei', WXOPS_WEBHOOK_KEY: 'not-the-robot-key' }), REPO);
    try {
      const o = await new Session({ runtime, registry: createRegistry(), channel: 'cli' }).execute('digest send');
      expect(o.exitCode).toBe(1);
      expect(o.error!.text.zh).toContain('93000');
      expect(JSON.stringify(o)).not.toContain('not-the-robot-key');
    } finally {
      await runtime.close();
    }
  });
});
