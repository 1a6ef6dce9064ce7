import { createHash } from 'node:crypto';
import { z } from 'zod';
import { arg, defineCommand, flag, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { formatTime, t, type Text } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { chinaDate } from '../src/core/dates.js';
import { PUSHES, recordPushStatus, type PushRecord } from '../src/mp/pushes.js';
import { bytes, MAX_TEXT_BYTES } from '../src/mp/reply.js';
import type { MassStatus } from '../src/platform/mp/types.js';
import { resolveMpTag } from './mptag.js';

/**
 * Targeted push (群发, mp.md §5). The account is a verified service account: each follower receives at
 * most 4 mass messages a calendar month (the platform silently skips the rest), and the API allows 100
 * sends a day. wxops shows the recipients before sending, needs approval (shipped policy), and follows
 * the job to its end.
 */
const MONTHLY_PER_FOLLOWER = 4;
const DAILY_SENDS = 100;
const AD_LABEL = '【广告】';
const STATUS_WAIT_MS = 20_000;

const content = {
  article: option(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { message: '图文是草稿的 media_id / an article is a draft media_id' }).optional(), t('图文：草稿箱里的 media_id', 'article: a draft’s media_id'), { placeholder: 'media_id' }),
  text: option(z.string().min(1).optional(), t('文本内容', 'text content'), { placeholder: 'text' }),
};

type Content = { msgtype: 'mpnews'; mpnews: { media_id: string } } | { msgtype: 'text'; text: { content: string } };

function contentFrom(a: { article?: string; text?: string }, ad: boolean): { payload: Content; describe: Text; notes: Text[] } {
  if ((a.article === undefined) === (a.text === undefined)) {
    throw new InputError('PUSH_CONTENT', t('请给出 --article <media_id> 或 --text <内容> 其中之一。', 'Give exactly one of --article <media_id> or --text <content>.'));
  }
  if (a.text !== undefined) {
    const body = ad && !a.text.includes('广告') ? `${AD_LABEL}${a.text}` : a.text;
    if (bytes(body) > MAX_TEXT_BYTES) {
      throw new InputError('PUSH_TEXT_TOO_LONG', t('文本有 {n} 字节，群发文本最多 {m} 字节（约 680 个汉字）。', 'The text is {n} bytes; a mass text is at most {m} bytes.', { n: bytes(body), m: MAX_TEXT_BYTES }));
    }
    return { payload: { msgtype: 'text', text: { content: body } }, describe: t('文本：{c}', 'text: {c}', { c: body.length > 40 ? `${body.slice(0, 40)}…` : body }), notes: [] };
  }
  return {
    payload: { msgtype: 'mpnews', mpnews: { media_id: a.article! } },
    describe: t('图文 {m}', 'article {m}', { m: a.article }),
    // No API field labels an article as an advertisement (mp.md §12): the content itself must say so.
    notes: ad ? [t('这是广告：请确认图文的标题或正文已标明“广告”。', 'This is an advertisement: make sure the article’s title or body says 广告.')] : [],
  };
}

export const pushPreview = defineCommand({
  name: 'push preview',
  alias: '群发 预览',
  summary: t('把群发内容先发给指定关注者预览', 'Send a push to chosen followers as a preview'),
  examples: ['push preview oLVPpjqs9BhvzwPj5A-vTYAX3GLc --text "双十二活动预告"'],
  params: { openids: arg(z.array(z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, { message: '不是 openid / not an openid' })).min(1), t('预览的关注者 openid', 'openids to preview to'), { many: true, placeholder: 'openid' }), ...content, ad: flag(z.boolean().default(false), t('这是广告（文本自动加“【广告】”）', 'this is an advertisement (text gets 【广告】)')) },
  action: 'push.preview',
  mutates: true,
  async plan(_ctx, a) {
    const c = contentFrom(a, a.ad);
    return {
      summary: t('把 {c} 预览发给 {n} 位关注者', 'Preview {c} to {n} followers', { c: c.describe, n: a.openids.length }),
      notes: c.notes,
      steps: [...new Set(a.openids)].map((touser) => ({ api: 'message/mass/preview', method: 'POST' as const, secret: 'mp' as const, body: { touser, ...c.payload }, describe: t('预览给 {o}', 'preview to {o}', { o: touser }) })),
    };
  },
  async run(ctx, _a, plan) {
    await executePlan(ctx, plan!);
    return message(t('预览已发送给 {n} 位关注者。', 'The preview was sent to {n} followers.', { n: plan!.steps.length }), { count: plan!.steps.length });
  },
});

export const pushSend = defineCommand({
  name: 'push send',
  alias: '群发 发送',
  summary: t('按标签群发（显示收件人数，需审批，跟踪到发送结束）', 'Push to a follower tag (shows recipients, needs approval, followed to the end)'),
  details: t(
    '服务号每位关注者每月最多收到 4 条群发，超过的会被平台跳过；发送前会列出受影响的人数。',
    'A service account’s followers each receive at most 4 pushes a month; the platform skips the rest. The plan says how many recipients that affects.',
  ),
  examples: ['push send --tag VIP客户 --text "会员日九折" --dry-run', 'push send --tag 潜在客户 --article MEDIA_ID --ad'],
  params: { tag: option(z.string().min(1), t('收件人：关注者标签', 'recipients: a follower tag'), { required: true, placeholder: 'tag' }), ...content, ad: flag(z.boolean().default(false), t('这是广告（文本自动加“【广告】”）', 'this is an advertisement (text gets 【广告】)')) },
  action: 'push.send',
  attributes: ['tag_id', 'tag_name', 'recipients'],
  mutates: true,
  async resolve(ctx, a) {
    const tag = await resolveMpTag(ctx, a.tag);
    return { tag_id: tag.id, tag_name: tag.name, recipients: tag.count };
  },
  async plan(ctx, a, r) {
    const c = contentFrom(a, a.ad);
    const recipients = await (await ctx.mp()).tagFollowerIds(r.tag_id as number);
    if (recipients.length === 0) throw new InputError('NO_RECIPIENTS', t('标签 “{n}” 下没有关注者，没有可发送的对象。', 'No follower carries the tag “{n}”; there is nobody to send to.', { n: r.tag_name }));
    const history = await (await ctx.store()).list<PushRecord>(PUSHES);
    const today = chinaDate(ctx.now());
    const month = today.slice(0, 7);
    const sentToday = history.filter((p) => chinaDate(new Date(p.sent_at)) === today).length;
    if (sentToday >= DAILY_SENDS) throw new InputError('PUSH_DAILY_LIMIT', t('今天已经群发 {n} 次，达到接口每日上限。', '{n} pushes were sent today, the API’s daily limit.', { n: sentToday }));
    const thisMonth = new Map<string, number>();
    for (const p of history) if (chinaDate(new Date(p.sent_at)).startsWith(month)) for (const o of p.recipients) thisMonth.set(o, (thisMonth.get(o) ?? 0) + 1);
    const capped = recipients.filter((o) => (thisMonth.get(o) ?? 0) >= MONTHLY_PER_FOLLOWER).length;
    const notes = [...c.notes];
    if (capped) notes.push(t('其中 {n} 位本月已收到 {m} 条群发，平台会跳过他们。', '{n} of them already received {m} pushes this month; the platform will skip them.', { n: capped, m: MONTHLY_PER_FOLLOWER }));
    if (capped === recipients.length) throw new InputError('PUSH_MONTHLY_LIMIT', t('标签 “{n}” 的所有关注者本月都已收到 {m} 条群发，这次不会有人收到。', 'Every follower with “{n}” already received {m} pushes this month; nobody would get this one.', { n: r.tag_name, m: MONTHLY_PER_FOLLOWER }));
    const clientmsgid = createHash('sha256').update(JSON.stringify([r.tag_id, c.payload, today])).digest('hex').slice(0, 32);
    return {
      summary: t('向标签 “{tag}” 的 {n} 位关注者群发{ad}{c}', 'Push {ad}{c} to the {n} followers tagged “{tag}”', {
        tag: r.tag_name,
        n: recipients.length,
        c: c.describe,
        ad: a.ad ? t('（广告）', '(advertisement) ') : '',
      }),
      notes,
      steps: [
        {
          api: 'message/mass/sendall',
          method: 'POST',
          secret: 'mp',
          body: { filter: { is_to_all: false, tag_id: r.tag_id }, ...c.payload, send_ignore_reprint: 0, clientmsgid },
          describe: t('提交群发任务（标签 {id}）', 'submit the push job (tag {id})', { id: r.tag_id }),
        },
      ],
    };
  },
  async run(ctx, a, plan, r) {
    const [out] = await executePlan(ctx, plan!);
    const msgId = String(out!.response.msg_id);
    const store = await ctx.store();
    const recipients = await (await ctx.mp()).tagFollowerIds(r.tag_id as number);
    const record: PushRecord = {
      msg_id: msgId,
      tag_id: r.tag_id as number,
      tag_name: r.tag_name as string,
      msgtype: (plan!.steps[0]!.body as Content).msgtype,
      summary: plan!.summary.zh,
      recipients,
      ad: a.ad,
      sent_by: ctx.actor.userid,
      sent_at: ctx.now().toISOString(),
      status: 'SUBMITTED',
    };
    await store.put(PUSHES, msgId, record);
    const status = await follow(ctx, msgId);
    await recordPushStatus(store, msgId, status, record);
    const text =
      status === 'SEND_SUCCESS'
        ? t('群发完成（msg_id {id}）：已发给标签 “{tag}” 的 {n} 位关注者。', 'The push finished (msg_id {id}): sent to the {n} followers tagged “{tag}”.', { id: msgId, tag: r.tag_name, n: recipients.length })
        : status === 'SENDING'
          ? t('群发已提交（msg_id {id}），仍在发送中：稍后用 push status {id} 查看结果。', 'The push was submitted (msg_id {id}) and is still sending: check later with `push status {id}`.', { id: msgId })
          : t('群发失败（msg_id {id}，状态 {s}）。', 'The push failed (msg_id {id}, status {s}).', { id: msgId, s: status });
    return message(text, { msg_id: msgId, msg_status: status, recipients: recipients.length }, status === 'SEND_SUCCESS' ? 'success' : status === 'SENDING' ? 'info' : 'warning');
  },
});

/** Polls the job until it ends or the wait is over, reporting progress. */
async function follow(ctx: CommandContext, msgId: string): Promise<MassStatus> {
  const mp = await ctx.mp();
  const started = Date.now();
  let status: MassStatus = 'SENDING';
  for (let i = 0; Date.now() - started < STATUS_WAIT_MS; i++) {
    status = await mp.massStatus(msgId);
    if (status !== 'SENDING') return status;
    ctx.progress({ done: 0, total: 1, label: t('群发发送中…', 'push sending…') });
    await new Promise((r) => setTimeout(r, Math.min(2000, 250 * 2 ** i)));
  }
  return status;
}

export const pushStatus = defineCommand({
  name: 'push status',
  alias: '群发 状态',
  summary: t('查看群发任务的状态', 'Show the status of a push'),
  params: { msgId: arg(z.string().regex(/^\d{1,20}$/, { message: 'msg_id 是数字 / a msg_id is a number' }), t('群发的 msg_id', 'the push’s msg_id'), { placeholder: 'msg_id' }) },
  action: 'push.status',
  mutates: false,
  async run(ctx, a) {
    const status = await (await ctx.mp()).massStatus(a.msgId);
    const record = await (await ctx.store()).get<PushRecord>(PUSHES, a.msgId);
    const fields = [
      { label: t('msg_id', 'msg_id'), value: a.msgId },
      { label: t('状态', 'status'), value: status },
    ];
    if (record) {
      fields.push({ label: t('内容', 'content'), value: record.summary }, { label: t('发送人', 'sent by'), value: `${record.sent_by} ${formatTime(record.sent_at)}` });
      if (record.result) fields.push({ label: t('结果', 'result'), value: `total ${record.result.total}, filtered ${record.result.filtered}, sent ${record.result.sent}, errors ${record.result.errors}` });
    }
    return { data: { msg_id: a.msgId, msg_status: status, ...(record?.result ? { result: record.result } : {}) }, view: { type: 'fields', fields } };
  },
});

export const pushCommands: CommandSpec<any>[] = [pushPreview, pushSend, pushStatus];
