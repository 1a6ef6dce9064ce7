import { InputError, DeniedError } from '../core/errors.js';
import { formatTime, t, type Text } from '../core/i18n.js';
import type { OrgTree } from '../core/org.js';
import type { Plan } from '../core/plan.js';
import type { Store } from '../store/store.js';
import type { ApprovalChain } from '../policy/model.js';
import type { PolicyActor, PolicyEngine } from '../policy/engine.js';

/**
 * Approval requests (ARCHITECTURE §3, issue rules): a permitted command that an approval chain covers
 * waits here, with its plan and the plan's hash, until every step is approved. Nobody approves their
 * own request or two steps of one request; a super admin may act for any step; a step whose only
 * eligible approver is the requester goes to the super admins. Requests expire and survive restarts.
 */
export const SUPER_ADMIN_ROLE = 'super-admin';
const COLLECTION = 'approvals';

export type RequestStatus = 'pending' | 'approved' | 'rejected' | 'cancelled' | 'expired' | 'done' | 'failed';

export interface StepState {
  role: string;
  of?: 'resource' | 'requester';
  /** Who may approve this step, worked out when the request was made (re-checked when they act). */
  eligible: string[];
  approvedBy?: string;
  at?: string;
}

export interface ApprovalRequest {
  id: string;
  chain: string;
  requester: string;
  channel: string;
  room?: string;
  command: string;
  commandName: string;
  action: string;
  resource: Record<string, unknown>;
  plan: Plan;
  planHash: string;
  steps: StepState[];
  status: RequestStatus;
  createdAt: string;
  expiresAt: string;
  closedBy?: string;
  reason?: string;
  result?: { ok: boolean; message: string };
}

export interface Notification {
  channel: string;
  room?: string;
  /** WeCom userids to mention. */
  to: string[];
  text: Text;
  requestId: string;
}

/** Chat channels implement this; until they do, notifications are kept in the store and the log. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}

export class StoreNotifier implements Notifier {
  constructor(private readonly store: Store) {}
  async notify(n: Notification): Promise<void> {
    await this.store.put('notifications', `${n.requestId}-${Date.now()}`, { ...n, at: new Date().toISOString() });
  }
}

export interface Directory {
  org: OrgTree;
  policy: PolicyEngine;
  /** The policy view of any member (their departments and managed subtrees). */
  actor(userid: string): PolicyActor;
}

export class ApprovalService {
  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(
    input: Pick<ApprovalRequest, 'requester' | 'channel' | 'room' | 'command' | 'commandName' | 'action' | 'resource' | 'plan' | 'planHash'> & {
      chain: ApprovalChain;
      dir: Directory;
    },
  ): Promise<ApprovalRequest> {
    const id = await this.nextId();
    const created = this.now();
    const steps = input.chain.steps.map((s) => ({ role: s.role, of: s.of, eligible: eligibleFor(s, input.requester, input.resource, input.dir) }));
    const { chain, dir: _dir, ...asked } = input;
    const request: ApprovalRequest = {
      ...asked,
      id,
      chain: chain.id,
      steps,
      status: 'pending',
      createdAt: created.toISOString(),
      expiresAt: new Date(created.getTime() + input.chain.expiresMs).toISOString(),
    };
    await this.store.put(COLLECTION, id, request);
    await this.notifyStep(request);
    return request;
  }

  async get(id: string): Promise<ApprovalRequest> {
    const r = await this.store.get<ApprovalRequest>(COLLECTION, normalizeId(id));
    if (!r) throw unknownRequest(id);
    return this.expireIfDue(r);
  }

  async list(): Promise<ApprovalRequest[]> {
    const all = await this.store.list<ApprovalRequest>(COLLECTION);
    const out: ApprovalRequest[] = [];
    for (const r of all) out.push(await this.expireIfDue(r));
    return out.sort((a, b) => Number(b.id) - Number(a.id));
  }

  /**
   * Records one approval; returns the request and whether every step is now approved. The checks run
   * again on the stored request inside one atomic update, so two approvers acting at once on two
   * instances each get their own step (or a clear refusal) and neither step is lost.
   */
  async approve(id: string, approver: string, dir: Directory): Promise<{ request: ApprovalRequest; complete: boolean; step: number }> {
    await this.requirePending(id);
    let index = -1;
    const r = await this.change(id, (r) => {
      if (approver.toLowerCase() === r.requester.toLowerCase()) {
        throw new DeniedError(t('不能审批自己发起的请求 {id}。', 'You cannot approve your own request {id}.', { id: r.id }));
      }
      if (r.steps.some((s) => s.approvedBy?.toLowerCase() === approver.toLowerCase())) {
        throw new DeniedError(t('你已经审批过请求 {id} 的一个步骤，同一请求的两个步骤须由不同的人审批。', 'You already approved a step of request {id}; two steps of one request need two people.', { id: r.id }));
      }
      index = r.steps.findIndex((s) => !s.approvedBy);
      const step = r.steps[index]!;
      // Eligibility is checked again now: the organisation or the policy may have changed since.
      const eligible = eligibleFor(step, r.requester, r.resource, dir);
      if (!eligible.includes(approver)) {
        const who = eligible.join(', ') || '—';
        throw new DeniedError({
          zh: `${approver} 不能审批请求 ${r.id} 的第 ${index + 1} 步（${describeStep(step, 'zh')}）；可以审批的人：${who}。`,
          en: `${approver} may not approve step ${index + 1} (${describeStep(step, 'en')}) of request ${r.id}; who can: ${who}.`,
        });
      }
      step.approvedBy = approver;
      step.at = this.now().toISOString();
      if (r.steps.every((s) => s.approvedBy)) r.status = 'approved';
      return r;
    });
    const complete = r.status === 'approved';
    if (!complete) await this.notifyStep(r);
    return { request: r, complete, step: index + 1 };
  }

  async reject(id: string, by: string, reason: string | undefined, dir: Directory): Promise<ApprovalRequest> {
    await this.requirePending(id);
    return this.change(id, (r) => {
      const step = r.steps.find((s) => !s.approvedBy)!;
      if (!eligibleFor(step, r.requester, r.resource, dir).includes(by)) {
        throw new DeniedError(t('{u} 不是请求 {id} 当前步骤的审批人，不能驳回。', '{u} is not an approver of the current step of request {id} and cannot reject it.', { u: by, id: r.id }));
      }
      return closed(r, 'rejected', by, reason);
    });
  }

  async cancel(id: string, by: string, dir: Directory): Promise<ApprovalRequest> {
    await this.requirePending(id);
    const isSuper = dir.policy.rolesOf(dir.actor(by)).includes(SUPER_ADMIN_ROLE);
    return this.change(id, (r) => {
      if (by.toLowerCase() !== r.requester.toLowerCase() && !isSuper) {
        throw new DeniedError(t('请求 {id} 是 {r} 发起的，只有发起人或超级管理员可以撤销。', 'Request {id} belongs to {r}; only they or a super admin can cancel it.', { id: r.id, r: r.requester }));
      }
      return closed(r, 'cancelled', by);
    });
  }

  async finish(r: ApprovalRequest, result: { ok: boolean; message: string }): Promise<void> {
    const status: RequestStatus = result.ok ? 'done' : 'failed';
    const stored = await this.store.update<ApprovalRequest>(COLLECTION, r.id, (cur) => ({ ...(cur ?? r), status, result }));
    Object.assign(r, stored);
  }

  /**
   * One atomic read-modify-write of a pending request: `fn` sees the request as stored now (another
   * instance may have changed it since it was read) and throws to change nothing.
   */
  private async change(id: string, fn: (r: ApprovalRequest) => ApprovalRequest): Promise<ApprovalRequest> {
    const stored = await this.store.update<ApprovalRequest>(COLLECTION, normalizeId(id), (cur) => {
      if (!cur) throw unknownRequest(id);
      return fn(this.pending(cur));
    });
    return stored!;
  }

  private async requirePending(id: string): Promise<ApprovalRequest> {
    return this.pending(await this.get(id));
  }

  /** The request if it is still pending; else the sentence saying why it cannot be acted on. */
  private pending(r: ApprovalRequest): ApprovalRequest {
    if (r.status === 'expired' || (r.status === 'pending' && this.due(r))) {
      throw new InputError('APPROVAL_EXPIRED', t('请求 {id} 已于 {at} 过期，请重新发起命令。', 'Request {id} expired at {at}; run the command again to make a new one.', { id: r.id, at: formatTime(r.expiresAt) }));
    }
    if (r.status !== 'pending') {
      throw new InputError('APPROVAL_CLOSED', t('请求 {id} 已经是 {s} 状态，不能再操作。', 'Request {id} is already {s}.', { id: r.id, s: r.status }));
    }
    return r;
  }

  private due(r: ApprovalRequest): boolean {
    return new Date(r.expiresAt).getTime() <= this.now().getTime();
  }

  private async expireIfDue(r: ApprovalRequest): Promise<ApprovalRequest> {
    if (r.status === 'pending' && this.due(r)) {
      // Only a request that is still pending as stored: an approval another instance just recorded stays.
      const stored = await this.store.update<ApprovalRequest>(COLLECTION, r.id, (cur) => (cur?.status === 'pending' && this.due(cur) ? { ...cur, status: 'expired' } : cur));
      return stored ?? { ...r, status: 'expired' };
    }
    return r;
  }

  private async notifyStep(r: ApprovalRequest): Promise<void> {
    const index = r.steps.findIndex((s) => !s.approvedBy);
    const step = r.steps[index];
    if (!step) return;
    await this.notifier.notify({
      channel: r.channel,
      room: r.room,
      to: step.eligible,
      requestId: r.id,
      text: t('{who}：{req} 请求执行 “{cmd}”，需要你审批第 {n} 步。回复 approval approve {id} 或 approval reject {id}。', '{who}: {req} asks to run “{cmd}”; step {n} needs your approval. Answer approval approve {id} or approval reject {id}.', {
        who: step.eligible.map((u) => `@${u}`).join(' '),
        req: r.requester,
        cmd: r.command,
        n: index + 1,
        id: r.id,
      }),
    });
  }

  /** One number per request, across instances (an atomic increment). */
  private async nextId(): Promise<string> {
    return String(await this.store.update<number>('counters', 'approval', (n) => (n ?? 0) + 1));
  }
}

export function describeStep(s: { role: string; of?: string }, lang: 'zh' | 'en' = 'en'): string {
  if (!s.of) return s.role;
  if (lang === 'zh') return `${s.role}（${s.of === 'resource' ? '所涉部门' : '发起人所在部门'}）`;
  return `${s.role} of ${s.of === 'resource' ? 'the affected departments' : "the requester's departments"}`;
}

function closed(r: ApprovalRequest, status: RequestStatus, by: string, reason?: string): ApprovalRequest {
  return { ...r, status, closedBy: by, reason };
}

function unknownRequest(id: string): InputError {
  return new InputError('UNKNOWN_APPROVAL', t('没有编号为 {id} 的审批请求（approval list 列出待审批的请求）。', 'There is no approval request {id} (approval list shows the pending ones).', { id }));
}

function normalizeId(id: string): string {
  return id.replace(/^#/, '').trim();
}

/**
 * Who may approve a step: holders of its role (over the affected or the requester's departments when
 * `of` says so), and the super admins, who may act for any step — never the requester. When only the
 * requester would qualify, the step goes to the super admins.
 */
export function eligibleFor(step: { role: string; of?: 'resource' | 'requester' }, requester: string, resource: Record<string, unknown>, dir: Directory): string[] {
  const users = [...new Set(dir.org.all.flatMap((d) => dir.org.directMemberIds(d.id)))];
  const scope =
    step.of === 'resource'
      ? ((resource.departments as number[] | undefined) ?? [])
      : step.of === 'requester'
        ? dir.actor(requester).departments
        : [];
  const holders: string[] = [];
  const supers: string[] = [];
  for (const u of users) {
    const actor = dir.actor(u);
    const roles = dir.policy.rolesOf(actor);
    if (roles.includes(SUPER_ADMIN_ROLE)) supers.push(u);
    if (!roles.includes(step.role)) continue;
    if (scope.length && !scope.every((d) => actor.managed_departments.includes(d))) continue;
    holders.push(u);
  }
  const notRequester = (u: string) => u.toLowerCase() !== requester.toLowerCase();
  const own = holders.filter(notRequester);
  const acting = supers.filter(notRequester);
  return [...new Set(own.length ? [...own, ...acting] : acting)];
}
