import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { PlatformError, RuntimeFailure } from '../core/errors.js';
import { t } from '../core/i18n.js';
import { createAgent, resolveTimeouts, sendJson, TransportError } from '../platform/http.js';
import { sleep, WindowBudget } from '../platform/limiter.js';
import { registerSecret } from '../platform/redact.js';
import { splitByBytes } from './render-markdown.js';

/**
 * The ops group's robot webhook (群机器人, wecom.md §6.3): digests and notifications. The key is the
 * whole credential, so it is treated as a secret. At most 20 messages a minute: sends wait in a queue
 * instead of being refused; markdown is split at 4,096 bytes; images go as base64 + md5 (≤ 2 MB).
 */
export const WEBHOOK_PER_MINUTE = 20;
export const MARKDOWN_BYTES = 4096;
export const IMAGE_BYTES = 2 * 1024 * 1024;

export interface GroupRobotOptions {
  baseUrl: string;
  key: string;
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  /** The rate window (tests shorten it). */
  windowMs?: number;
}

export class GroupRobot {
  private readonly budget: WindowBudget;
  private readonly dispatcher: Dispatcher;
  private readonly url: string;
  private readonly timeouts;

  constructor(private readonly opts: GroupRobotOptions) {
    registerSecret(opts.key);
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/cgi-bin/webhook/send?key=${encodeURIComponent(opts.key)}`;
    this.budget = new WindowBudget(() => WEBHOOK_PER_MINUTE, opts.windowMs ?? 60_000);
    this.dispatcher = opts.dispatcher ?? createAgent({ connections: 2 });
    this.timeouts = resolveTimeouts(opts.timeoutMs ?? 10_000);
  }

  /** Posts markdown, split into as many messages as its length needs; `mentions` are WeCom userids. */
  async markdown(text: string, mentions: string[] = []): Promise<number> {
    const tail = mentions.length ? `\n${mentions.map((u) => `<@${u}>`).join(' ')}` : '';
    const parts = splitByBytes(text, MARKDOWN_BYTES - Buffer.byteLength(tail));
    for (const [i, part] of parts.entries()) await this.send({ msgtype: 'markdown', markdown: { content: i === parts.length - 1 ? part + tail : part } });
    return parts.length;
  }

  async image(png: Buffer): Promise<void> {
    if (png.length > IMAGE_BYTES) throw new RuntimeFailure('IMAGE_TOO_LARGE', t('图片有 {n} 字节，群机器人最多 2 MB。', 'The image is {n} bytes; the group robot takes at most 2 MB.', { n: png.length }));
    await this.send({ msgtype: 'image', image: { base64: png.toString('base64'), md5: createHash('md5').update(png).digest('hex') } });
  }

  private async send(body: unknown): Promise<void> {
    await this.budget.take('webhook');
    for (let attempt = 1; ; attempt++) {
      let answer: { errcode?: number; errmsg?: string };
      try {
        answer = await sendJson(this.dispatcher, { url: this.url, method: 'POST', json: body, timeouts: this.timeouts });
      } catch (err) {
        // A message may have been posted when the connection broke: never send it twice, except when no connection was made.
        if (err instanceof TransportError && err.kind === 'connect' && attempt < 3) {
          await sleep(500 * attempt);
          continue;
        }
        throw err instanceof TransportError
          ? new PlatformError('webhook/send', -2, err.message, t('群机器人没有应答（{m}）：消息可能没有发出。', 'The group robot did not answer ({m}): the message may not have been posted.', { m: err.kind }))
          : err;
      }
      const code = answer.errcode ?? 0;
      if (code === 0) return;
      if (code === 45009 && attempt < 3) {
        // Someone else posts through the same robot: wait for the window and try again.
        await sleep(this.opts.windowMs ?? 60_000);
        continue;
      }
      const text =
        code === 93000
          ? t('群机器人的 Webhook key 无效（93000）：请检查 WXOPS_WEBHOOK_KEY，或在群设置里重新添加机器人。', 'The group robot rejected the webhook key (93000): check WXOPS_WEBHOOK_KEY, or add the robot to the group again.')
          : t('群机器人返回错误 {c}（{m}）。', 'The group robot answered error {c} ({m}).', { c: code, m: String(answer.errmsg ?? '').split(',')[0] });
      throw new PlatformError('webhook/send', code, String(answer.errmsg ?? ''), text);
    }
  }

  async close(): Promise<void> {
    if (!this.opts.dispatcher) await this.dispatcher.close();
  }
}
