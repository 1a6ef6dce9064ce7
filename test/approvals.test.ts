import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { Session } from '../src/core/pipeline.js';
import { Runtime } from '../src/core/runtime.js';
import { REPO, cleanEnv, okData, startWxops, type TestWxops } from './support/sandbox.js';

let w: TestWxops;
beforeAll(async () => {
  w = await startWxops();
});
afterAll(async () => {
  await w.close();
});

async function request(line: string, actor: string): Promise<string> {
  const o = await w.run(line, actor);
  expect(o.exitCode, o.error?.text.zh).toBe(4);
  expect(o.error!.code).toBe('APPROVAL_PENDING');
  return (o.error!.details as any).request_id;
}

describe('approvals', () => {
  it('runs the two-step removal exactly as the policy says', async () => {
    okData(await w.run('member add tmp1 --name 临时 --dept 销售部/华东区 --mobile 13966600001'));
    const id = await request('member remove tmp1', 'zhangwei');
    const pending = await w.run('member remove tmp1', 'zhangwei');
    expect(pending.error!.text.zh).toContain('审批步骤');

    const own = await w.run(`approval approve ${id}`, 'zhangwei');
    expect(own).toMatchObject({ ok: false, exitCode: 3 });
    expect(own.error!.text.zh).toContain('不能审批自己');
    const outsider = await w.run(`approval approve ${id}`, 'liuyang');
    expect(outsider).toMatchObject({ ok: false, exitCode: 3 });
    expect(outsider.error!.text.en).toContain('lina');

    const step1 = okData(await w.run(`approval approve ${id}`, 'lina'));
    expect(step1).toMatchObject({ step: 1, complete: false });
    expect(okData(await w.run('member get tmp1')).userid).toBe('tmp1');
    const twice = await w.run(`approval approve ${id}`, 'lina');
    expect(twice.exitCode).toBe(3);

    const step2 = okData(await w.run(`approval approve ${id}`, 'sunli'));
    expect(step2).toMatchObject({ step: 2, complete: true });
    expect((await w.run('member get tmp1')).error!.code).toBe('UNKNOWN_MEMBER');
    expect(okData(await w.run(`approval show ${id}`)).status).toBe('done');

    const audit = (await (await w.runtime.audit()).query({ limit: 1000 })).filter((e) => e.command === 'member remove tmp1' || (e.detail as any)?.request === id);
    const outcomes = audit.map((e) => `${e.kind}:${e.outcome}:${e.actor}`);
    expect(outcomes).toEqual(
      expect.arrayContaining(['decision:needs-approval:zhangwei', 'approval:requested:zhangwei', 'approval:approved:lina', 'approval:approved:sunli', 'result:done:zhangwei']),
    );
  });

  it('refuses to run when what the plan acts on changed after the request', async () => {
    okData(await w.run('member add tmp2 --name 临时二 --dept 销售部/华东区 --mobile 13966600002'));
    const id = await request('member remove tmp2', 'zhangwei');
    okData(await w.run('member move tmp2 --dept 华南区'));
    okData(await w.run(`approval approve ${id}`, 'lina'));
    const last = await w.run(`approval approve ${id}`, 'sunli');
    expect(last.ok).toBe(false);
    expect(last.error!.text.zh).toContain('计划与审批时不同');
    expect(okData(await w.run('member get tmp2')).userid).toBe('tmp2');
    expect(okData(await w.run(`approval show ${id}`)).status).toBe('failed');
  });

  it('answers unknown, expired, closed and foreign requests with one sentence', async () => {
    expect((await w.run('approval approve 9999', 'sunli')).error!.code).toBe('UNKNOWN_APPROVAL');
    expect((await w.run('approval approve abc', 'sunli')).exitCode).toBe(2);
    okData(await w.run('member add tmp4 --name 临时四 --dept 销售部/华东区 --mobile 13966600004'));
    const id = await request('member remove tmp4', 'zhangwei');
    expect((await w.run(`approval cancel ${id}`, 'wangfang')).exitCode).toBe(3);
    okData(await w.run(`approval cancel ${id}`, 'zhangwei'));
    expect((await w.run(`approval approve ${id}`, 'lina')).error!.code).toBe('APPROVAL_CLOSED');

    const id2 = await request('member remove tmp4', 'zhangwei');
    const store = await w.runtime.store();
    const r: any = await store.get('approvals', id2);
    await store.put('approvals', id2, { ...r, expiresAt: new Date(Date.now() - 1000).toISOString() });
    const expired = await w.run(`approval approve ${id2}`, 'lina');
    expect(expired.error!.code).toBe('APPROVAL_EXPIRED');
    expect(okData(await w.run('member get tmp4')).userid).toBe('tmp4');
  });

  it('keeps pending requests across a restart', async () => {
    okData(await w.run('member add tmp5 --name 临时五 --dept 销售部/华东区 --mobile 13966600005'));
    const id = await request('member remove tmp5', 'zhangwei');
    const restarted = new Runtime(cleanEnv({ WXOPS_DATA_DIR: w.dataDir }), REPO);
    try {
      const s = new Session({ runtime: restarted, registry: createRegistry(), channel: 'cli', actor: 'lina' });
      const list = okData(await s.execute('approval list')).requests as any[];
      expect(list.some((r) => r.id === id && r.status === 'pending')).toBe(true);
      expect(okData(await s.execute(`approval approve ${id}`))).toMatchObject({ step: 1 });
    } finally {
      await restarted.close();
    }
  });

  it('notifies the approvers of each step, and lists requests to those involved', async () => {
    const store = await w.runtime.store();
    const notes = (await store.list<any>('notifications')).map((n) => n.to);
    expect(notes.some((to: string[]) => to.includes('lina'))).toBe(true);
    const mine = okData(await w.run('approval list', 'lina')).requests as any[];
    expect(mine.length).toBeGreaterThan(0);
    expect(okData(await w.run('approval list', 'liuyang')).requests).toEqual([]);
  });
  // Last: it changes who leads 销售部.
  it('re-decides at approval time under the current policy', async () => {
    okData(await w.run('member add tmp3 --name 临时三 --dept 销售部/华东区 --mobile 13966600003'));
    const id = await request('member remove tmp3', 'lina');
    // lina leaves 销售部 (and so stops leading it) before her request completes.
    okData(await w.run('member move lina --dept 市场部'));
    okData(await w.run(`approval approve ${id}`, 'zhangwei'));
    const last = await w.run(`approval approve ${id}`, 'sunli');
    expect(last.ok).toBe(false);
    expect(last.exitCode).toBe(3);
    expect(last.error!.text.en).toContain('No rule permits lina');
    expect(okData(await w.run('member get tmp3')).userid).toBe('tmp3');
    expect(okData(await w.run(`approval show ${id}`)).status).toBe('failed');
  });
});
