import { z } from 'zod';
import { arg, defineCommand, flag, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { t, type Text } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { allWelcomes, attachmentSchema, chooseWelcome, scopeKey, WELCOME, WELCOME_ATTACHMENTS, WELCOME_TEXT_BYTES, type Attachment, type WelcomeMessage, type WelcomeScope } from '../src/customers/welcome.js';
import { resolveMember } from './member/resolve.js';

/**
 * Welcome messages for new customers (wecom.md §4.4). wxops keeps them; `wxops serve` sends the one
 * that applies when a customer adds a member, with the event's welcome_code (20 s, once).
 */
const scopeParams = {
  member: option(z.string().optional(), t('只对这位成员的新客户', 'for this member’s new customers'), { placeholder: 'userid', complete: 'member' }),
  dept: option(z.string().optional(), t('对这个部门（含下级）成员的新客户', 'for new customers of this department (and below)'), { placeholder: 'dept', complete: 'dept' }),
  default: flag(z.boolean().default(false), t('全公司默认', 'the company default')),
};

async function welcomeScope(ctx: CommandContext, a: { member?: string; dept?: string; default: boolean }): Promise<{ scope: WelcomeScope; departments: number[]; label: Text }> {
  const given = [a.member !== undefined, a.dept !== undefined, a.default].filter(Boolean).length;
  if (given !== 1) throw new InputError('WELCOME_SCOPE', t('请给出 --member、--dept 或 --default 其中之一。', 'Give exactly one of --member, --dept or --default.'));
  const org = await ctx.org();
  if (a.member) {
    const m = resolveMember(org, a.member);
    return { scope: { kind: 'member', userid: m.userid }, departments: m.departments, label: t('成员 {u}', 'member {u}', { u: m.userid }) };
  }
  if (a.dept) {
    const d = org.resolve(a.dept);
    return { scope: { kind: 'dept', id: d.id }, departments: [d.id], label: t('部门 {d}', 'department {d}', { d: org.path(d.id) }) };
  }
  return { scope: { kind: 'default' }, departments: org.root ? [org.root.id] : [], label: t('全公司默认', 'the company default') };
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

export const welcomeSet = defineCommand({
  name: 'welcome set',
  alias: '欢迎语 设置',
  summary: t('设置新客户的欢迎语（成员、部门或全公司默认）', 'Set the welcome message for new customers (member, department or default)'),
  details: t(
    '文本最多 4000 字节；可附链接、小程序或图片（共最多 9 个附件）。最具体的设置生效：成员 > 部门 > 默认。',
    'Text up to 4000 bytes; may carry a link, a mini program or an image (at most 9 attachments). The most specific setting wins: member > department > default.',
  ),
  examples: ['welcome set --default "您好，我是示例科技的客户经理，有问题随时找我。"', 'welcome set --dept 销售部 "您好！" --link https://www.example.com/products --link-title 产品介绍'],
  params: {
    text: arg(z.string().min(1), t('欢迎语文本', 'the welcome text'), { placeholder: 'text' }),
    ...scopeParams,
    link: option(z.string().optional(), t('附一个链接', 'attach a link'), { placeholder: 'url' }),
    linkTitle: option(z.string().optional(), t('链接标题（≤ 128 字节）', 'link title (≤ 128 bytes)'), { placeholder: 'title' }),
    linkDesc: option(z.string().optional(), t('链接描述（≤ 512 字节）', 'link description (≤ 512 bytes)'), { placeholder: 'text' }),
    miniprogram: option(z.string().regex(/^wx[0-9a-f]{16}\/.+$/, { message: '写成 AppID/页面路径 / write appid/page' }).optional(), t('附小程序：AppID/页面路径', 'attach a mini program: appid/page'), { placeholder: 'appid/page' }),
    mpTitle: option(z.string().optional(), t('小程序卡片标题（≤ 64 字节）', 'mini program card title (≤ 64 bytes)'), { placeholder: 'title' }),
    mpPic: option(z.string().optional(), t('小程序卡片封面 media_id', 'mini program card cover media_id'), { placeholder: 'media_id' }),
    image: option(z.string().optional(), t('附图片：media_id 或图片网址', 'attach an image: media_id or image URL'), { placeholder: 'media_id|url' }),
  },
  action: 'welcome.set',
  attributes: ['departments', 'scope'],
  mutates: true,
  async resolve(ctx, a) {
    const s = await welcomeScope(ctx, a);
    return { departments: s.departments, scope: scopeKey(s.scope) };
  },
  async plan(ctx, a) {
    const w = build(a, ctx);
    const s = await welcomeScope(ctx, a);
    const current = (await allWelcomes(await ctx.store())).get(scopeKey(s.scope));
    return {
      summary: t('设置{l}的欢迎语：{x}', 'Set the welcome for {l}: {x}', { l: s.label, x: w.text.length > 40 ? `${w.text.slice(0, 40)}…` : w.text }),
      notes: [
        ...(w.attachments.length ? [t('附件 {n} 个：{k}', '{n} attachments: {k}', { n: w.attachments.length, k: w.attachments.map((x) => x.msgtype).join('、') })] : []),
        ...(current ? [t('将替换原来的：{x}', 'Replaces: {x}', { x: current.text })] : []),
      ],
      steps: [],
    };
  },
  async run(ctx, a) {
    const w = build(a, ctx);
    const s = await welcomeScope(ctx, a);
    const key = scopeKey(s.scope);
    await (await ctx.store()).put(WELCOME, key, { ...w, key });
    return message(t('已设置{l}的欢迎语。', 'The welcome for {l} is set.', { l: s.label }), { key, ...w });
  },
});

type SetArgs = { text: string; link?: string; linkTitle?: string; linkDesc?: string; miniprogram?: string; mpTitle?: string; mpPic?: string; image?: string };

/** Builds and checks the message: a bad field is bad input naming it, before anything is stored. */
function build(a: SetArgs, ctx: CommandContext): WelcomeMessage {
  if (bytes(a.text) > WELCOME_TEXT_BYTES) {
    throw new InputError('WELCOME_TOO_LONG', t('欢迎语有 {n} 字节，最多 {m} 字节（约 1300 个汉字）。', 'The welcome text is {n} bytes; at most {m}.', { n: bytes(a.text), m: WELCOME_TEXT_BYTES }));
  }
  const raw: unknown[] = [];
  if (a.link) raw.push({ msgtype: 'link', link: { title: a.linkTitle ?? new URL(/^https?:\/\//i.test(a.link) ? a.link : `https://${a.link}`).host, url: a.link, ...(a.linkDesc ? { desc: a.linkDesc } : {}) } });
  if (a.miniprogram) {
    const [appid, ...page] = a.miniprogram.split('/');
    if (!a.mpPic) throw new InputError('INVALID_ATTACHMENT', t('小程序卡片需要封面 --mp-pic <media_id>。', 'A mini program card needs a cover: --mp-pic <media_id>.'));
    raw.push({ msgtype: 'miniprogram', miniprogram: { title: a.mpTitle ?? '小程序', appid, page: page.join('/'), pic_media_id: a.mpPic } });
  }
  if (a.image) raw.push({ msgtype: 'image', image: /^https?:\/\//i.test(a.image) ? { pic_url: a.image } : { media_id: a.image } });
  const attachments: Attachment[] = raw.map((x) => {
    const r = attachmentSchema.safeParse(x);
    if (r.success) return r.data;
    const [zh, en] = (r.error.issues[0]!.message.includes(' / ') ? r.error.issues[0]!.message.split(' / ') : [r.error.issues[0]!.message, r.error.issues[0]!.message]) as [string, string];
    throw new InputError('INVALID_ATTACHMENT', { zh: `附件（${(x as { msgtype: string }).msgtype}）不合要求：${zh}`, en: `The ${(x as { msgtype: string }).msgtype} attachment is not valid: ${en}` });
  });
  if (attachments.length > WELCOME_ATTACHMENTS) throw new InputError('INVALID_ATTACHMENT', t('最多 {m} 个附件。', 'At most {m} attachments.', { m: WELCOME_ATTACHMENTS }));
  return { text: a.text, attachments, set_by: ctx.actor.userid, set_at: ctx.now().toISOString() };
}

export const welcomeList = defineCommand({
  name: 'welcome list',
  alias: '欢迎语 列表',
  summary: t('列出所有欢迎语设置', 'List every welcome message setting'),
  params: {},
  action: 'welcome.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const org = await ctx.org();
    const all = [...(await allWelcomes(await ctx.store())).entries()];
    const label = (key: string) => (key === 'default' ? (ctx.lang === 'zh' ? '全公司默认' : 'default') : key.startsWith('dept:') ? org.path(Number(key.slice(5))) : key.slice(7));
    return {
      data: { welcome: all.map(([key, w]) => ({ key, ...w })) },
      view: {
        type: 'table',
        columns: [
          { key: 'scope', title: t('适用于', 'applies to') },
          { key: 'text', title: t('欢迎语', 'text') },
          { key: 'attachments', title: t('附件', 'attachments') },
          { key: 'by', title: t('设置人', 'set by') },
        ],
        rows: all.map(([key, w]) => ({ scope: label(key), text: w.text, attachments: w.attachments.map((x) => x.msgtype).join('、'), by: w.set_by })),
        footer: all.length ? t('成员的设置优先，其次是最近的部门，最后是默认。', 'A member’s setting wins, then the nearest department’s, then the default.') : t('还没有设置欢迎语。', 'No welcome message is set.'),
      },
    };
  },
});

export const welcomePreview = defineCommand({
  name: 'welcome preview',
  alias: '欢迎语 预览',
  summary: t('看某位成员的新客户会收到哪条欢迎语', 'Show which welcome a member’s new customer would get'),
  params: { member: option(z.string().optional(), t('成员（默认自己）', 'member (default: yourself)'), { placeholder: 'userid', complete: 'member' }) },
  action: 'welcome.list',
  mutates: false,
  async run(ctx, a) {
    const org = await ctx.org();
    const userid = a.member ? resolveMember(org, a.member).userid : ctx.actor.userid;
    const chosen = chooseWelcome(await allWelcomes(await ctx.store()), org, userid);
    if (!chosen) return message(t('{u} 的新客户不会收到欢迎语（没有适用的设置）。', 'New customers of {u} get no welcome (nothing applies).', { u: userid }), { userid, welcome: null }, 'info');
    return message(
      t('{u} 的新客户会收到（来自 {k}）：{x}{a}', 'New customers of {u} get (from {k}): {x}{a}', {
        u: userid,
        k: chosen.key,
        x: chosen.message.text,
        a: chosen.message.attachments.length ? t('，另有附件 {n} 个', ', plus {n} attachments', { n: chosen.message.attachments.length }) : '',
      }),
      { userid, key: chosen.key, welcome: chosen.message },
      'info',
    );
  },
});

export const welcomeCommands: CommandSpec<any>[] = [welcomeSet, welcomeList, welcomePreview];
