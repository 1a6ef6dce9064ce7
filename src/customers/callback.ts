import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/log.js';
import type { OrgTree } from '../core/org.js';
import { PlatformError } from '../core/errors.js';
import { CallbackDedupe, CallbackRejected, CallbackVerifier, dedupeKey, readLimited, replyWithin, sendReply } from '../platform/callback/index.js';
import type { Logger } from '../platform/redact.js';
import type { WecomClient } from '../platform/wecom/client.js';
import type { CustomerApi } from '../platform/wecom/customers.js';
import type { Store } from '../store/store.js';
import { chooseTaker, loadRules, ruleMatches } from './assign.js';
import { recordTransfers } from './transfers.js';
import { allWelcomes, chooseWelcome, welcomeBody } from './welcome.js';

/**
 * `/wecom/callback` (ARCHITECTURE §2, wecom.md §8): customer-contact events, verified and decrypted
 * before they are read and de-duplicated across the platform's retries. When a customer adds a member
 * (`add_external_contact`), the welcome message that applies goes out at once — its welcome_code is
 * good for 20 s and once — and a customer who came through a contact way is handed to the member the
 * assignment rules choose. What wxops did on its own is written to the audit log as actor `wxops`.
 */
export const MAX_WECOM_CALLBACK_BYTES = 64 * 1024;

export interface WecomCallbackOptions {
  verifier: CallbackVerifier;
  client: WecomClient;
  customers: CustomerApi;
  store: Store;
  audit: AuditLog;
  org: () => Promise<OrgTree>;
  logger: Logger;
}

export class WecomCallback {
  private readonly dedupe: CallbackDedupe;

  constructor(private readonly opts: WecomCallbackOptions) {
    // Several instances on one database: a retry that reaches another instance is not handled again.
    this.dedupe = new CallbackDedupe(opts.store.kind === 'postgres' ? { store: opts.store, namespace: 'wecom', logger: opts.logger } : {});
  }

  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://wxops').searchParams;
    try {
      if (req.method === 'GET') return sendReply(res, 200, this.opts.verifier.verifyUrl(query));
      const body = await readLimited(req, MAX_WECOM_CALLBACK_BYTES);
      if (body === undefined) throw new CallbackRejected('too-large', { zh: '回调请求体过大。', en: 'The callback body is too large.' });
      const { message } = this.opts.verifier.open(query, body);
      // Answer within 5 s whatever happens; the work goes on and its result stays in the dedupe.
      await replyWithin(this.dedupe.run(dedupeKey(message), () => this.handle(message)), 4500, '');
      sendReply(res, 200, '');
    } catch (err) {
      if (err instanceof CallbackRejected) {
        this.opts.logger.warn({ reason: err.reason, status: err.status, error: err.text.en }, 'wecom callback refused');
        return sendReply(res, err.status, err.reason);
      }
      this.opts.logger.error({ error: (err as Error).message }, 'wecom callback failed');
      sendReply(res, 200, '');
    }
  }

  private async handle(m: Record<string, any>): Promise<string> {
    if (m.Event === 'change_external_contact' && (m.ChangeType === 'add_external_contact' || m.ChangeType === 'add_half_external_contact')) {
      await this.customerAdded(String(m.UserID ?? ''), String(m.ExternalUserID ?? ''), m.State ? String(m.State) : undefined, m.WelcomeCode ? String(m.WelcomeCode) : undefined);
    }
    return '';
  }

  private async customerAdded(userid: string, externalUserid: string, state: string | undefined, welcomeCode: string | undefined): Promise<void> {
    const org = await this.opts.org();
    if (welcomeCode) await this.welcome(org, userid, externalUserid, welcomeCode);
    if (state !== undefined) await this.assign(org, userid, externalUserid, state);
  }

  private async welcome(org: OrgTree, userid: string, externalUserid: string, code: string): Promise<void> {
    const chosen = chooseWelcome(await allWelcomes(this.opts.store), org, userid);
    if (!chosen) return;
    const resource = { userid, external_userid: externalUserid, welcome: chosen.key };
    try {
      await this.opts.client.call('externalcontact/send_welcome_msg', { secret: 'customer', body: welcomeBody(code, chosen.message) });
      await this.audit('welcome.send', resource, 'done');
    } catch (err) {
      // 41051: another app answered first, or the chat had started — nothing to repeat.
      await this.audit('welcome.send', resource, 'failed', err);
    }
  }

  private async assign(org: OrgTree, userid: string, externalUserid: string, state: string): Promise<void> {
    const rules = await loadRules(this.opts.store);
    if (!rules.length) return;
    const customer = await this.opts.customers.customer(externalUserid);
    const tags = [...new Set((customer?.follow_user ?? []).flatMap((f) => [...(f.tag_id ?? []), ...(f.tags ?? []).map((x) => x.tag_id)]))];
    const receiverDepartments = org.all.filter((d) => org.directMemberIds(d.id).some((u) => u.toLowerCase() === userid.toLowerCase())).map((d) => d.id);
    const rule = rules.find((r) => ruleMatches(r, { state, tags, receiverDepartments }, org));
    if (!rule) return;
    const follow = new Set(await this.opts.customers.followUsers());
    const taker = await chooseTaker(this.opts.store, rule, org, follow);
    if (!taker || taker.toLowerCase() === userid.toLowerCase()) return;
    const resource = { external_userid: externalUserid, from: userid, to: taker, rule: rule.id, state };
    let errcode = 0;
    try {
      const r = await this.opts.client.call('externalcontact/transfer_customer', { secret: 'customer', body: { handover_userid: userid, takeover_userid: taker, external_userid: [externalUserid] } });
      errcode = r.customer?.[0]?.errcode ?? 0;
      await this.audit('customer.assign', resource, errcode === 0 ? 'done' : 'failed', errcode ? new PlatformError('externalcontact/transfer_customer', errcode, '', { zh: `转接失败 ${errcode}`, en: `transfer failed ${errcode}` }) : undefined);
    } catch (err) {
      errcode = err instanceof PlatformError ? err.errcode : -1;
      await this.audit('customer.assign', resource, 'failed', err);
    }
    await recordTransfers(this.opts.store, [{ external_userid: externalUserid, handover: userid, takeover: taker, kind: 'onjob', at: new Date().toISOString(), errcode }]);
  }

  private async audit(action: string, resource: unknown, outcome: 'done' | 'failed', err?: unknown): Promise<void> {
    const error = err instanceof PlatformError ? { code: `PLATFORM_${err.errcode}`, message: err.text.en } : err ? { code: 'INTERNAL', message: (err as Error).message } : undefined;
    try {
      await this.opts.audit.append({ kind: 'result', actor: 'wxops', channel: 'callback', command: action, action, resource, outcome, ...(error ? { error } : {}) });
    } catch (e) {
      this.opts.logger.error({ error: (e as Error).message }, 'audit append failed');
    }
  }
}
