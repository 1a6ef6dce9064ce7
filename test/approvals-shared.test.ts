import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApprovalService, StoreNotifier, type ApprovalRequest, type Directory } from '../src/approval/service.js';
import { OrgTree } from '../src/core/org.js';
import type { ApprovalChain } from '../src/policy/model.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import type { Store } from '../src/store/store.js';
import { BACKENDS, openPostgresStore, testDatabase, type Backend } from './support/postgres.js';

/**
 * Approvals decided on two instances at once (issue 9): request numbers are never handed out twice, and
 * two approvers acting at the same moment each record their own step — neither is lost.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function twoInstances(backend: Backend): Promise<[Store, Store]> {
  if (backend === 'embedded') {
    const dir = mkdtempSync(join(tmpdir(), 'wxops-approvals-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const s = new LowdbStore(dir);
    return [s, s];
  }
  const url = await testDatabase();
  const make = () => openPostgresStore(url, cleanups);
  return [await make(), await make()];
}

const members = ['zhangwei', 'lina', 'sunli', 'wangfang'];
const roles: Record<string, string[]> = { zhangwei: ['super-admin'], lina: ['manager'], sunli: ['manager'], wangfang: [] };
const dir: Directory = {
  org: new OrgTree([{ id: 1, name: '示例科技', parentid: 0, order: 1 }] as never, members.map((userid) => ({ userid, department: 1 }))),
  policy: { rolesOf: (a: { userid: string }) => roles[a.userid] ?? [] } as never,
  actor: (userid) => ({ userid, departments: [1], managed_departments: [] }),
};
// Two steps any manager may approve (by two different people).
const chain = { id: 'two-managers', actions: ['member.remove'], steps: [{ role: 'manager' }, { role: 'manager' }], expiresMs: 3_600_000 } as unknown as ApprovalChain;

function ask(service: ApprovalService, n: number): Promise<ApprovalRequest> {
  return service.create({
    chain,
    dir,
    requester: 'wangfang',
    channel: 'repl',
    command: `member remove tmp${n}`,
    commandName: 'member remove',
    action: 'member.remove',
    resource: {},
    plan: { summary: { zh: '删除', en: 'remove' }, steps: [] },
    planHash: `h${n}`,
  });
}

describe.each(BACKENDS)('approvals on two instances (%s)', (backend) => {
  it('numbers requests made at the same moment on both instances without a repeat', async () => {
    const stores = await twoInstances(backend);
    const services = stores.map((s) => new ApprovalService(s, new StoreNotifier(s)));
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => ask(services[i % 2]!, i)));
    expect(new Set(made.map((r) => r.id)).size).toBe(12);
    expect(made.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('two approvers deciding at once on two instances each record a step', async () => {
    const stores = await twoInstances(backend);
    const services = stores.map((s) => new ApprovalService(s, new StoreNotifier(s)));
    const request = await ask(services[0]!, 1);
    const [byLina, bySunli] = await Promise.all([services[0]!.approve(request.id, 'lina', dir), services[1]!.approve(request.id, 'sunli', dir)]);
    expect([byLina.step, bySunli.step].sort()).toEqual([1, 2]);
    expect([byLina.complete, bySunli.complete].filter(Boolean)).toHaveLength(1);
    const stored = await services[1]!.get(request.id);
    expect(stored.status).toBe('approved');
    expect(stored.steps.map((s) => s.approvedBy).sort()).toEqual(['lina', 'sunli']);
  });

  it('a cancel and an approval at the same moment: one wins, the other is told the request is closed', async () => {
    const stores = await twoInstances(backend);
    const services = stores.map((s) => new ApprovalService(s, new StoreNotifier(s)));
    const request = await ask(services[0]!, 1);
    await services[0]!.approve(request.id, 'lina', dir);
    const outcomes = await Promise.allSettled([services[0]!.cancel(request.id, 'wangfang', dir), services[1]!.approve(request.id, 'sunli', dir)]);
    const stored = await services[0]!.get(request.id);
    if (stored.status === 'cancelled') {
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: 'APPROVAL_CLOSED' } });
      expect(stored.steps[1]!.approvedBy).toBeUndefined();
    } else {
      expect(stored.status).toBe('approved');
      expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { code: 'APPROVAL_CLOSED' } });
    }
  });
});
