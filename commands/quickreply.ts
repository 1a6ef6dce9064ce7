import { z } from 'zod';
import { arg, defineCommand, type CommandSpec } from '../src/core/command.js';
import { InputError } from '../src/core/errors.js';
import { formatTime, t } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { allQuickReplies, findQuickReplies, MAX_ANSWER_BYTES, QUICKREPLIES, quickReplyId, type QuickReply } from '../src/customers/quickreplies.js';

/** The team's quick replies (快捷回复): answers to common customer questions, found by keyword. */
const keyword = arg(
  z
    .string()
    .transform((s) => s.trim())
    .refine((s) => [...s].length >= 1 && [...s].length <= 30, { message: '关键词为 1–30 个字 / a keyword is 1–30 characters' }),
  t('关键词', 'keyword'),
  { placeholder: 'keyword' },
);

function table(list: QuickReply[]) {
  return {
    type: 'table' as const,
    columns: [
      { key: 'keyword', title: t('关键词', 'keyword') },
      { key: 'answer', title: t('回复', 'answer') },
      { key: 'by', title: t('添加人', 'added by') },
    ],
    rows: list.map((q) => ({ keyword: q.keyword, answer: q.answer, by: `${q.created_by} ${formatTime(q.created_at)}` })),
  };
}

export const quickreplyAdd = defineCommand({
  name: 'quickreply add',
  alias: '快捷回复 添加',
  summary: t('添加一条快捷回复', 'Add a quick reply'),
  examples: ['quickreply add 发票 "开票请提供抬头和税号，财务部 3 个工作日内开出。"'],
  params: { keyword, answer: arg(z.string().min(1), t('回复内容', 'the answer'), { placeholder: 'answer' }) },
  action: 'quickreply.add',
  mutates: true,
  async plan(ctx, a) {
    if (Buffer.byteLength(a.answer) > MAX_ANSWER_BYTES) throw new InputError('ANSWER_TOO_LONG', t('回复最多 {m} 字节。', 'An answer is at most {m} bytes.', { m: MAX_ANSWER_BYTES }));
    if (await (await ctx.store()).get(QUICKREPLIES, quickReplyId(a.keyword))) throw new InputError('QUICKREPLY_EXISTS', t('已经有关键词“{k}”的快捷回复。', 'There already is a quick reply for “{k}”.', { k: a.keyword }));
    return { summary: t('添加快捷回复“{k}”', 'Add the quick reply “{k}”', { k: a.keyword }), steps: [] };
  },
  async run(ctx, a) {
    const q: QuickReply = { keyword: a.keyword, answer: a.answer, created_by: ctx.actor.userid, created_at: ctx.now().toISOString() };
    // Insert-if-absent: the same keyword added at once on another instance is refused, not overwritten.
    if (!(await (await ctx.store()).create(QUICKREPLIES, quickReplyId(a.keyword), q))) {
      throw new InputError('QUICKREPLY_EXISTS', t('已经有关键词“{k}”的快捷回复。', 'There already is a quick reply for “{k}”.', { k: a.keyword }));
    }
    return message(t('已添加快捷回复“{k}”。', 'Added the quick reply “{k}”.', { k: a.keyword }), q);
  },
});

export const quickreplyList = defineCommand({
  name: 'quickreply list',
  alias: '快捷回复 列表',
  summary: t('列出快捷回复', 'List the quick replies'),
  params: {},
  action: 'quickreply.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const list = await allQuickReplies(await ctx.store());
    return { data: { quickreplies: list }, view: { ...table(list), footer: t('共 {n} 条', '{n} quick replies', { n: list.length }) } };
  },
});

export const quickreplyFind = defineCommand({
  name: 'quickreply find',
  alias: '快捷回复 查找',
  summary: t('按关键词找快捷回复', 'Find quick replies by keyword'),
  examples: ['quickreply find 发票'],
  params: { words: arg(z.string().min(1), t('要找的词', 'words to look for'), { placeholder: 'keyword' }) },
  action: 'quickreply.list',
  mutates: false,
  async run(ctx, a) {
    const hits = findQuickReplies(await allQuickReplies(await ctx.store()), a.words);
    if (!hits.length) return message(t('没有和“{w}”相关的快捷回复。', 'No quick reply mentions “{w}”.', { w: a.words }), { quickreplies: [] }, 'info');
    return { data: { quickreplies: hits }, view: table(hits) };
  },
});

export const quickreplyRemove = defineCommand({
  name: 'quickreply remove',
  alias: '快捷回复 删除',
  summary: t('删除一条快捷回复', 'Remove a quick reply'),
  params: { keyword },
  action: 'quickreply.remove',
  mutates: true,
  async plan(ctx, a) {
    const q = await (await ctx.store()).get<QuickReply>(QUICKREPLIES, quickReplyId(a.keyword));
    if (!q) throw new InputError('UNKNOWN_QUICKREPLY', t('没有关键词“{k}”的快捷回复。', 'There is no quick reply for “{k}”.', { k: a.keyword }));
    return { summary: t('删除快捷回复“{k}”：{x}', 'Remove the quick reply “{k}”: {x}', { k: q.keyword, x: q.answer }), steps: [] };
  },
  async run(ctx, a) {
    await (await ctx.store()).delete(QUICKREPLIES, quickReplyId(a.keyword));
    return message(t('已删除快捷回复“{k}”。', 'Removed the quick reply “{k}”.', { k: a.keyword }), { keyword: a.keyword });
  },
});

export const quickreplyCommands: CommandSpec<any>[] = [quickreplyAdd, quickreplyList, quickreplyFind, quickreplyRemove];
