import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildReply, CallbackDedupe, CallbackRejected, CallbackVerifier, dedupeKey, readLimited, replyWithin, sendReply } from '../platform/callback/index.js';
import type { MpApi } from '../platform/mp/api.js';
import type { Logger } from '../platform/redact.js';
import type { Store } from '../store/store.js';
import { Autoreplies, loadAutoreply, type Answer } from './autoreply.js';
import type { EventCounters } from './counters.js';
import type { PushResult } from './pushes.js';
import { customMessage, passiveReply } from './reply.js';

/**
 * `/mp/callback` (ARCHITECTURE §2, mp.md §6): the platform's messages and events. Each request is
 * verified (signature, timestamp) before it is parsed, decrypted in safe mode, de-duplicated across the
 * platform's retries, and answered within 5 s — with the auto-reply wxops keeps, or an empty `success`.
 * Menu presses and follower changes are counted; a mini program card goes out as a customer-service
 * message, since it cannot be a passive reply.
 */
export const MAX_CALLBACK_BYTES = 64 * 1024;
/** Auto-reply edits made elsewhere (the REPL, another process) are picked up within this. */
const RULES_TTL_MS = 1000;
const ANSWER_WITHIN_MS = 4500;

export interface MpCallbackOptions {
  verifier: CallbackVerifier;
  store: Store;
  counters: EventCounters;
  /** For customer-service messages (mini program cards); absent in benchmarks. */
  mp?: MpApi;
  logger: Logger;
  now?: () => number;
  /** Records a mass-send job's final counts (MASSSENDJOBFINISH). */
  onMassSendFinished?: (msgId: string, result: PushResult) => Promise<void>;
}

export class MpCallback {
  private readonly dedupe: CallbackDedupe;
  private rules?: { at: number; value: Promise<Autoreplies> };
  private readonly now: () => number;

  constructor(private readonly opts: MpCallbackOptions) {
    this.now = opts.now ?? Date.now;
    // Several instances on one database: a retry that reaches another instance gets the same reply.
    this.dedupe = new CallbackDedupe(opts.store.kind === 'postgres' ? { store: opts.store, namespace: 'mp', logger: opts.logger } : {});
  }

  /** The HTTP route: GET verifies the server URL, POST carries messages and events. */
  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://wxops').searchParams;
    try {
      if (req.method === 'GET') {
        const echo = this.opts.verifier.verifyUrl(query);
        return sendReply(res, 200, echo);
      }
      const body = await readLimited(req, MAX_CALLBACK_BYTES);
      if (body === undefined) throw new CallbackRejected('too-large', { zh: '回调请求体过大。', en: 'The callback body is too large.' });
      const reply = await this.handle(query, body);
      sendReply(res, 200, reply, reply.startsWith('<xml>') ? 'application/xml; charset=utf-8' : 'text/plain; charset=utf-8');
    } catch (err) {
      if (err instanceof CallbackRejected) {
        this.opts.logger.warn({ reason: err.reason, status: err.status, error: err.text.en }, 'mp callback refused');
        return sendReply(res, err.status, err.reason);
      }
      this.opts.logger.error({ error: (err as Error).message }, 'mp callback failed');
      // The follower sees nothing rather than "该公众号暂时无法提供服务".
      sendReply(res, 200, 'success');
    }
  }

  /** Verifies, opens and answers one request body; the reply text to write (XML, or `success`). */
  async handle(query: URLSearchParams, body: Buffer | string): Promise<string> {
    const { message, encrypted } = this.opts.verifier.open(query, body);
    const reply = this.dedupe.run(dedupeKey(message), () => this.answer(message, encrypted));
    return (await replyWithin(reply, ANSWER_WITHIN_MS, 'success')) || 'success';
  }

  private async answer(m: Record<string, any>, encrypted: boolean): Promise<string> {
    const at = new Date(Number(m.CreateTime) * 1000 || this.now());
    const openid = String(m.FromUserName ?? '');
    const rules = await this.autoreplies();
    let answer: Answer | undefined;
    if (m.MsgType === 'text') {
      answer = rules.text(String(m.Content ?? ''));
    } else if (m.MsgType === 'event') {
      switch (m.Event) {
        case 'subscribe':
          this.opts.counters.follower('subscribe', openid, at);
          answer = rules.subscribe();
          break;
        case 'unsubscribe':
          this.opts.counters.follower('unsubscribe', openid, at);
          break;
        case 'CLICK':
          this.opts.counters.click(String(m.EventKey ?? ''), openid, at);
          answer = rules.click(String(m.EventKey ?? ''));
          break;
        case 'VIEW':
        case 'view_miniprogram':
          this.opts.counters.click(String(m.EventKey ?? ''), openid, at);
          break;
        case 'MASSSENDJOBFINISH':
          await this.opts.onMassSendFinished?.(String(m.MsgID ?? m.MsgId ?? ''), {
            status: String(m.Status ?? ''),
            total: Number(m.TotalCount ?? 0),
            filtered: Number(m.FilterCount ?? 0),
            sent: Number(m.SentCount ?? 0),
            errors: Number(m.ErrorCount ?? 0),
          });
          break;
      }
    } else if (m.MsgType && m.MsgType !== 'event') {
      // Pictures, voice, locations …: the default reply, as the console's auto-reply would.
      answer = rules.text('');
    }
    const reply = answer?.reply;
    if (!reply) return 'success';
    const passive = passiveReply(reply);
    if (!passive) {
      void this.sendLater(openid, customMessage(openid, reply));
      return 'success';
    }
    return this.opts.verifier.seal(buildReply(m as { ToUserName: string; FromUserName: string }, passive, this.now()), encrypted);
  }

  private async sendLater(openid: string, body: Record<string, unknown>): Promise<void> {
    try {
      await this.opts.mp?.client.request('message/custom/send', { body });
    } catch (err) {
      this.opts.logger.warn({ openid, error: (err as Error).message }, 'mp customer-service reply failed');
    }
  }

  private autoreplies(): Promise<Autoreplies> {
    const now = Date.now();
    if (!this.rules || now - this.rules.at > RULES_TTL_MS) {
      const value = loadAutoreply(this.opts.store).then((cfg) => new Autoreplies(cfg));
      this.rules = { at: now, value };
      value.catch(() => (this.rules = undefined));
    }
    return this.rules.value;
  }
}
