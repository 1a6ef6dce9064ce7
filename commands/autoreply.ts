import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { t, type Text } from '../src/core/i18n.js';
import type { Plan } from '../src/core/plan.js';
import { message } from '../src/core/result.js';
import { Autoreplies, describeAnswer, loadAutoreply, saveAutoreply, updateAutoreply, type AutoreplyConfig } from '../src/mp/autoreply.js';
import { fold } from '../src/mp/matcher.js';
import { menuTargets } from '../src/mp/menu.js';
import { describeReply, replySchema, type Reply } from '../src/mp/reply.js';

/**
 * Auto-replies (mp.md §6.1): the API cannot set them, so wxops keeps them and `wxops serve` answers
 * followers from the message callback. Changes take effect in a running `serve` within a second.
 */
const MAX_KEYWORD_CHARS = 30;
const MAX_KEYWORDS = 1000;

const replyParams = {
  reply: arg(z.string().min(1), t('回复内容：文本；链接的文字；图片的 media_id；图文或小程序卡片的标题', 'the reply: text; a link’s text; an image’s media_id; an article card’s or mini program card’s title'), {
    placeholder: 'reply',
  }),
  type: option(z.enum(['text', 'link', 'image', 'news', 'miniprogram']).default('text'), t('回复类型：text（默认）、link、image、news、miniprogram', 'reply type: text (default), link, image, news, miniprogram'), { placeholder: 'type' }),
  url: option(z.string().optional(), t('链接或图文的网址', 'URL of a link or article card'), { placeholder: 'url' }),
  description: option(z.string().optional(), t('图文的摘要', 'article card summary'), { placeholder: 'text' }),
  picurl: option(z.string().optional(), t('图文的封面图片网址', 'article card cover image URL'), { placeholder: 'url' }),
  appid: option(z.string().optional(), t('小程序 AppID', 'mini program AppID'), { placeholder: 'appid' }),
  pagepath: option(z.string().optional(), t('小程序页面路径', 'mini program page path'), { placeholder: 'path' }),
  thumb: option(z.string().optional(), t('小程序卡片封面的 media_id', 'mini program card cover media_id'), { placeholder: 'media_id' }),
};

type ReplyArgs = { reply: string; type: Reply['type']; url?: string; description?: string; picurl?: string; appid?: string; pagepath?: string; thumb?: string };

/** Builds and checks a reply from the options; a missing or bad field is bad input naming it. */
function replyFrom(a: ReplyArgs): Reply {
  const candidate =
    a.type === 'text'
      ? { type: 'text', content: a.reply }
      : a.type === 'link'
        ? { type: 'link', text: a.reply, url: a.url }
        : a.type === 'image'
          ? { type: 'image', media_id: a.reply }
          : a.type === 'news'
            ? { type: 'news', title: a.reply, url: a.url, description: a.description, picurl: a.picurl }
            : { type: 'miniprogram', title: a.reply, appid: a.appid, pagepath: a.pagepath, thumb_media_id: a.thumb };
  const r = replySchema.safeParse(candidate);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = String(issue.path[0] ?? 'reply');
  const option = { content: 'reply', text: 'reply', title: 'reply', media_id: 'reply', thumb_media_id: '--thumb', url: '--url', picurl: '--picurl', appid: '--appid', pagepath: '--pagepath', description: '--description' }[field] ?? field;
  const missing = issue.code === 'invalid_type';
  const [zh, en] = issue.message.includes(' / ') ? issue.message.split(' / ') : [issue.message, issue.message];
  throw new InputError(
    'INVALID_REPLY',
    missing
      ? t('{t} 类型的回复需要 {o}。', 'A {t} reply needs {o}.', { t: a.type, o: option })
      : { zh: `回复的 ${option} 不合要求：${zh}`, en: `The reply’s ${option} is not valid: ${en}` },
  );
}

/** Auto-reply changes are wxops's own state: the plan has no platform calls, only the change. */
function localPlan(summary: Text, notes: Text[] = []): Plan {
  return { summary, notes, steps: [] };
}

async function config(ctx: CommandContext): Promise<AutoreplyConfig> {
  return loadAutoreply(await ctx.store());
}

export const autoreplyList = defineCommand({
  name: 'autoreply list',
  alias: '自动回复 列表',
  summary: t('列出关注回复、关键词回复、默认回复和菜单按钮回复', 'List the subscribe, keyword, default and menu-key replies'),
  params: {},
  action: 'autoreply.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const cfg = await config(ctx);
    const L = (x: Text) => x[ctx.lang];
    const rows = [
      { kind: L(t('关注回复', 'subscribe')), when: '-', reply: cfg.subscribe ? L(describeReply(cfg.subscribe)) : '—' },
      ...cfg.keywords.map((k, i) => ({ kind: L(t('关键词 {n}', 'keyword {n}', { n: i + 1 })), when: `${k.keyword} (${k.match})`, reply: L(describeReply(k.reply)) })),
      ...Object.entries(cfg.clicks).map(([key, r]) => ({ kind: L(t('菜单按钮', 'menu key')), when: key, reply: L(describeReply(r)) })),
      { kind: L(t('默认回复', 'default')), when: '-', reply: cfg.default ? L(describeReply(cfg.default)) : '—' },
    ];
    return {
      data: cfg,
      view: {
        type: 'table',
        columns: [
          { key: 'kind', title: t('规则', 'rule') },
          { key: 'when', title: t('条件', 'when') },
          { key: 'reply', title: t('回复', 'reply') },
        ],
        rows,
        footer: t('关键词按顺序匹配，第一条匹配的规则回复。', 'Keywords are tried in order; the first that matches answers.'),
      },
    };
  },
});

/** `autoreply subscribe` and `autoreply default`: one reply each, replaced whole. */
function singleReplyCommand(slot: 'subscribe' | 'default') {
  const what = slot === 'subscribe' ? t('关注回复', 'subscribe reply') : t('默认回复', 'default reply');
  return defineCommand({
    name: `autoreply ${slot}`,
    alias: slot === 'subscribe' ? '自动回复 关注' : '自动回复 默认',
    summary: slot === 'subscribe' ? t('设置关注后的自动回复', 'Set the reply to new followers') : t('设置没有关键词匹配时的默认回复', 'Set the reply when no keyword matches'),
    examples: slot === 'subscribe' ? ['autoreply subscribe "欢迎关注示例科技！回复 产品价格 查看价格表。"'] : ['autoreply default "您好，我们会尽快回复。"'],
    params: replyParams,
    action: 'autoreply.set',
    mutates: true,
    async plan(ctx, a) {
      const reply = replyFrom(a);
      const current = (await config(ctx))[slot];
      return localPlan(t('把{w}设为 {r}', 'Set the {w} to {r}', { w: what, r: describeReply(reply) }), current ? [t('原来是：{r}', 'It was: {r}', { r: describeReply(current) })] : []);
    },
    async run(ctx, a) {
      const reply = replyFrom(a);
      await updateAutoreply(await ctx.store(), (cfg) => ({ ...cfg, [slot]: reply }));
      return message(t('已设置{w}。', 'The {w} is set.', { w: what }), { [slot]: reply });
    },
  });
}

export const autoreplySubscribe = singleReplyCommand('subscribe');
export const autoreplyDefault = singleReplyCommand('default');

const keywordArg = arg(
  z
    .string()
    .transform((s) => s.trim())
    .refine((s) => [...s].length >= 1 && [...s].length <= MAX_KEYWORD_CHARS, { message: `关键词为 1–${MAX_KEYWORD_CHARS} 个字 / a keyword is 1–${MAX_KEYWORD_CHARS} characters` }),
  t('关键词', 'keyword'),
  { placeholder: 'keyword' },
);

export const autoreplyKeywordAdd = defineCommand({
  name: 'autoreply keyword add',
  alias: '自动回复 关键词 添加',
  summary: t('添加关键词回复', 'Add a keyword reply'),
  examples: ['autoreply keyword add 产品价格 "价格表" --type link --url https://shop.example.com/prices', 'autoreply keyword add 发票 "开票请联系财务部 020-12345678" --match contains'],
  params: {
    keyword: keywordArg,
    ...replyParams,
    match: option(z.enum(['exact', 'contains']).default('exact'), t('匹配方式：exact 全匹配（默认）或 contains 包含', 'match: exact (default) or contains'), { placeholder: 'mode' }),
  },
  action: 'autoreply.set',
  attributes: ['keyword'],
  mutates: true,
  async resolve(_ctx, a) {
    return { keyword: a.keyword };
  },
  async plan(ctx, a) {
    const reply = replyFrom(a);
    const cfg = await config(ctx);
    const same = cfg.keywords.find((k) => fold(k.keyword) === fold(a.keyword));
    if (same) {
      throw new InputError(
        'KEYWORD_EXISTS',
        t('关键词 “{k}” 已经有回复（{r}）。先用 autoreply keyword remove {k} 删除，再添加。', 'The keyword “{k}” already has a reply ({r}). Remove it with `autoreply keyword remove {k}` first.', {
          k: same.keyword,
          r: describeReply(same.reply),
        }),
      );
    }
    if (cfg.keywords.length >= MAX_KEYWORDS) throw new InputError('TOO_MANY_KEYWORDS', t('最多 {n} 条关键词回复。', 'At most {n} keyword replies.', { n: MAX_KEYWORDS }));
    // A new rule that an earlier "contains" rule already covers would never answer: say so.
    const shadow = cfg.keywords.find((k) => k.match === 'contains' && fold(a.keyword).includes(fold(k.keyword)));
    return localPlan(
      t('添加关键词 “{k}”（{m}）→ {r}', 'Add the keyword “{k}” ({m}) → {r}', { k: a.keyword, m: a.match, r: describeReply(reply) }),
      shadow ? [t('注意：前面的包含规则 “{s}” 会先匹配这个关键词，新规则不会生效。', 'Note: the earlier contains rule “{s}” matches first, so this rule will never answer.', { s: shadow.keyword })] : [],
    );
  },
  async run(ctx, a) {
    const reply = replyFrom(a);
    const cfg = await updateAutoreply(await ctx.store(), (cfg) => {
      if (cfg.keywords.some((k) => fold(k.keyword) === fold(a.keyword))) throw new InputError('KEYWORD_EXISTS', t('关键词 “{k}” 已经存在。', 'The keyword “{k}” already exists.', { k: a.keyword }));
      return { ...cfg, keywords: [...cfg.keywords, { keyword: a.keyword, match: a.match, reply, created_by: ctx.actor.userid, created_at: ctx.now().toISOString() }] };
    });
    return message(t('已添加关键词 “{k}”（第 {n} 条）。', 'Added the keyword “{k}” (rule {n}).', { k: a.keyword, n: cfg.keywords.length }), { keyword: a.keyword, match: a.match, reply });
  },
});

export const autoreplyKeywordRemove = defineCommand({
  name: 'autoreply keyword remove',
  alias: '自动回复 关键词 删除',
  summary: t('删除关键词回复', 'Remove a keyword reply'),
  params: { keyword: keywordArg },
  action: 'autoreply.set',
  attributes: ['keyword'],
  mutates: true,
  async resolve(_ctx, a) {
    return { keyword: a.keyword };
  },
  async plan(ctx, a) {
    const cfg = await config(ctx);
    const found = cfg.keywords.find((k) => fold(k.keyword) === fold(a.keyword));
    if (!found) throw new InputError('UNKNOWN_KEYWORD', t('没有关键词 “{k}”。用 autoreply list 查看。', 'There is no keyword “{k}”. See `autoreply list`.', { k: a.keyword }));
    return localPlan(t('删除关键词 “{k}”（{r}）', 'Remove the keyword “{k}” ({r})', { k: found.keyword, r: describeReply(found.reply) }));
  },
  async run(ctx, a) {
    await updateAutoreply(await ctx.store(), (cfg) => {
      const keywords = cfg.keywords.filter((k) => fold(k.keyword) !== fold(a.keyword));
      if (keywords.length === cfg.keywords.length) throw new InputError('UNKNOWN_KEYWORD', t('没有关键词 “{k}”。', 'There is no keyword “{k}”.', { k: a.keyword }));
      return { ...cfg, keywords };
    });
    return message(t('已删除关键词 “{k}”。', 'Removed the keyword “{k}”.', { k: a.keyword }), { keyword: a.keyword });
  },
});

const clickKey = arg(z.string().min(1).max(128), t('菜单按钮的 key', 'the menu button key'), { placeholder: 'key' });

export const autoreplyClick = defineCommand({
  name: 'autoreply click',
  alias: '自动回复 菜单',
  summary: t('给菜单的 click 按钮绑定回复', 'Bind a reply to a menu click key'),
  examples: ['autoreply click CONTACT_US "客服电话 400-000-0000"'],
  params: { key: clickKey, ...replyParams },
  action: 'autoreply.set',
  attributes: ['key'],
  mutates: true,
  async resolve(_ctx, a) {
    return { key: a.key };
  },
  async plan(ctx, a) {
    const reply = replyFrom(a);
    const menu = await (await ctx.mp()).getMenu();
    const known = menuTargets(menu).some((b) => b.key === a.key && b.type === 'click');
    return localPlan(
      t('菜单按钮 {k} → {r}', 'Menu key {k} → {r}', { k: a.key, r: describeReply(reply) }),
      known ? [] : [t('注意：当前菜单里没有 key 为 {k} 的 click 按钮，发布含它的菜单后才会用到。', 'Note: the live menu has no click button with key {k}; the reply is used once a menu with it is published.', { k: a.key })],
    );
  },
  async run(ctx, a) {
    const reply = replyFrom(a);
    await updateAutoreply(await ctx.store(), (cfg) => ({ ...cfg, clicks: { ...cfg.clicks, [a.key]: reply } }));
    return message(t('已给菜单按钮 {k} 绑定回复。', 'Bound a reply to menu key {k}.', { k: a.key }), { key: a.key, reply });
  },
});

export const autoreplyClickRemove = defineCommand({
  name: 'autoreply click remove',
  alias: '自动回复 菜单 删除',
  summary: t('解除菜单按钮的回复', 'Unbind the reply of a menu click key'),
  params: { key: clickKey },
  action: 'autoreply.set',
  attributes: ['key'],
  mutates: true,
  async resolve(_ctx, a) {
    return { key: a.key };
  },
  async plan(ctx, a) {
    const cfg = await config(ctx);
    if (!cfg.clicks[a.key]) throw new InputError('UNKNOWN_CLICK_KEY', t('菜单按钮 {k} 没有绑定回复。', 'The menu key {k} has no reply bound.', { k: a.key }));
    return localPlan(t('解除菜单按钮 {k} 的回复（{r}）', 'Unbind the reply of menu key {k} ({r})', { k: a.key, r: describeReply(cfg.clicks[a.key]!) }));
  },
  async run(ctx, a) {
    await updateAutoreply(await ctx.store(), (cfg) => {
      const { [a.key]: _gone, ...clicks } = cfg.clicks;
      return { ...cfg, clicks };
    });
    return message(t('已解除菜单按钮 {k} 的回复。', 'Unbound menu key {k}.', { k: a.key }), { key: a.key });
  },
});

export const autoreplyTest = defineCommand({
  name: 'autoreply test',
  alias: '自动回复 测试',
  summary: t('模拟关注者发来一句话，看哪条规则回复', 'Show which rule answers a follower’s message'),
  examples: ['autoreply test "产品价格"'],
  params: { text: arg(z.string().min(1), t('关注者发送的文字', 'what the follower sends'), { placeholder: 'text' }) },
  action: 'autoreply.list',
  mutates: false,
  async run(ctx, a) {
    const answer = new Autoreplies(await config(ctx)).text(a.text);
    return message(describeAnswer(answer), { text: a.text, rule: answer.rule.en, reply: answer.reply ?? null }, answer.reply ? 'success' : 'info');
  },
});

export const autoreplyImport = defineCommand({
  name: 'autoreply import',
  alias: '自动回复 导入',
  summary: t('导入公众号后台现有的自动回复设置', 'Import the auto-replies set in the account console'),
  details: t(
    '读取 get_current_autoreply_info：关注回复、默认回复和文字类关键词回复。图片、语音等素材回复无法通过接口导入，会逐条列出。已有同名关键词时保留 wxops 的设置。',
    'Reads get_current_autoreply_info: the subscribe, default and text keyword replies. Image, voice and other media replies cannot be imported through the API and are listed one by one. Keywords wxops already has are kept as they are.',
  ),
  params: {},
  action: 'autoreply.set',
  mutates: true,
  async plan(ctx) {
    const { next, skipped, added } = await imported(ctx);
    return localPlan(t('导入 {n} 条关键词回复{s}{d}', 'Import {n} keyword replies{s}{d}', { n: added, s: next.subscribe ? '，关注回复' : '', d: next.default ? '，默认回复' : '' }), skipped);
  },
  async run(ctx) {
    const { next, skipped, added } = await imported(ctx);
    await saveAutoreply(await ctx.store(), next);
    return message(
      t('已导入 {n} 条关键词回复；{k} 条无法导入。', 'Imported {n} keyword replies; {k} could not be imported.', { n: added, k: skipped.length }),
      { imported: added, skipped: skipped.map((s) => s.en) },
      skipped.length ? 'warning' : 'success',
    );
  },
});

async function imported(ctx: CommandContext): Promise<{ next: AutoreplyConfig; skipped: Text[]; added: number }> {
  const info = await (await ctx.mp()).currentAutoreply();
  const cfg = await config(ctx);
  const next: AutoreplyConfig = { ...cfg, keywords: [...cfg.keywords] };
  const skipped: Text[] = [];
  const asReply = (r: { type: string; content?: string } | undefined, what: Text): Reply | undefined => {
    if (!r) return undefined;
    if (r.type === 'text' && r.content) return { type: 'text', content: r.content };
    skipped.push(t('{w}：{t} 类型的回复无法导入', '{w}: a {t} reply cannot be imported', { w: what, t: r.type }));
    return undefined;
  };
  if (info.is_add_friend_reply_open !== 0) next.subscribe = cfg.subscribe ?? asReply(info.add_friend_autoreply_info, t('关注回复', 'subscribe reply'));
  if (info.is_autoreply_open !== 0) next.default = cfg.default ?? asReply(info.message_default_autoreply_info, t('默认回复', 'default reply'));
  let added = 0;
  for (const rule of info.keyword_autoreply_info?.list ?? []) {
    const reply = rule.reply_list_info.map((r) => asReply(r, { zh: `规则“${rule.rule_name}”`, en: `rule “${rule.rule_name}”` })).find(Boolean);
    if (!reply) continue;
    for (const k of rule.keyword_list_info) {
      if (next.keywords.some((x) => fold(x.keyword) === fold(k.content))) continue;
      next.keywords.push({ keyword: k.content, match: k.match_mode === 'equal' ? 'exact' : 'contains', reply, created_by: ctx.actor.userid, created_at: ctx.now().toISOString() });
      added++;
    }
  }
  return { next, skipped, added };
}

export const autoreplyCommands: CommandSpec<any>[] = [
  autoreplyList,
  autoreplySubscribe,
  autoreplyDefault,
  autoreplyKeywordAdd,
  autoreplyKeywordRemove,
  autoreplyClick,
  autoreplyClickRemove,
  autoreplyTest,
  autoreplyImport,
];
