import { z } from 'zod';
import { arg, defineCommand, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { t, type Text } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { menuTargets } from '../src/mp/menu.js';

/** Mini programs linked to the account (mp.md §9). Linking is confirmed by both admins afterwards. */
const STATUS: Record<number, Text> = {
  1: t('已关联', 'linked'),
  2: t('等待小程序管理员确认', 'waiting for the mini program admin'),
  3: t('小程序管理员已拒绝', 'refused by the mini program admin'),
  12: t('等待公众号管理员确认', 'waiting for the account admin'),
};

const appidArg = arg(z.string().regex(/^wx[0-9a-f]{16}$/, { message: '小程序 AppID 形如 wx 加 16 位十六进制 / a mini program AppID is wx and 16 hex digits' }), t('小程序 AppID', 'mini program AppID'), { placeholder: 'appid' });

async function linked(ctx: CommandContext) {
  return (await ctx.mp()).linkedMiniPrograms();
}

export const miniprogramList = defineCommand({
  name: 'miniprogram list',
  alias: '小程序 列表',
  summary: t('列出与公众号关联的小程序', 'List the mini programs linked to the account'),
  params: {},
  action: 'miniprogram.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const items = await linked(ctx);
    return {
      data: { items },
      view: {
        type: 'table',
        columns: [
          { key: 'appid', title: t('AppID', 'AppID') },
          { key: 'nickname', title: t('名称', 'name') },
          { key: 'status', title: t('状态', 'status') },
        ],
        rows: items.map((m) => ({ appid: m.appid, nickname: m.nickname, status: (STATUS[m.status] ?? t('状态 {s}', 'status {s}', { s: m.status }))[ctx.lang] })),
        footer: items.length ? undefined : t('还没有关联小程序。', 'No mini program is linked.'),
      },
    };
  },
});

export const miniprogramLink = defineCommand({
  name: 'miniprogram link',
  alias: '小程序 关联',
  summary: t('申请关联小程序（双方管理员确认后生效）', 'Ask to link a mini program (takes effect once both admins confirm)'),
  params: { appid: appidArg },
  action: 'miniprogram.link',
  attributes: ['appid'],
  mutates: true,
  async resolve(_ctx, a) {
    return { appid: a.appid };
  },
  async plan(ctx, a) {
    const found = (await linked(ctx)).find((m) => m.appid === a.appid);
    if (found) throw new InputError('ALREADY_LINKED', t('小程序 {a}（{n}）已在列表中：{s}。', 'The mini program {a} ({n}) is already listed: {s}.', { a: a.appid, n: found.nickname, s: STATUS[found.status] ?? String(found.status) }));
    return {
      summary: t('申请关联小程序 {a}', 'Ask to link the mini program {a}', { a: a.appid }),
      steps: [{ api: 'wxopen/wxamplink', method: 'POST', secret: 'mp', body: { appid: a.appid, notify_users: '1', show_profile: '1' }, describe: t('发送关联申请', 'send the link request') }],
    };
  },
  async run(ctx, a, plan) {
    await executePlan(ctx, plan!);
    return message(t('已申请关联 {a}：请两边的管理员在微信里确认，之后 miniprogram list 会显示“已关联”。', 'Asked to link {a}: both admins confirm in WeChat, then `miniprogram list` shows it as linked.', { a: a.appid }), { appid: a.appid });
  },
});

export const miniprogramUnlink = defineCommand({
  name: 'miniprogram unlink',
  alias: '小程序 解除关联',
  summary: t('解除小程序关联（菜单仍在使用时拒绝）', 'Unlink a mini program (refused while the menu uses it)'),
  params: { appid: appidArg },
  action: 'miniprogram.unlink',
  attributes: ['appid'],
  mutates: true,
  async resolve(_ctx, a) {
    return { appid: a.appid };
  },
  async plan(ctx, a) {
    const found = (await linked(ctx)).find((m) => m.appid === a.appid);
    if (!found) throw new InputError('NOT_LINKED', t('小程序 {a} 没有关联本公众号。', 'The mini program {a} is not linked to this account.', { a: a.appid }));
    const mp = await ctx.mp();
    const menu = await mp.getMenu();
    const using = menuTargets(menu).filter((b) => b.type === 'miniprogram' && b.appid === a.appid);
    if (using.length) {
      throw new InputError('MINIPROGRAM_IN_MENU', t('菜单按钮 {b} 正在打开这个小程序：先发布不含它的菜单，再解除关联。', 'The menu button(s) {b} open this mini program: publish a menu without them first.', { b: using.map((b) => `“${b.name}”`).join('、') }));
    }
    return {
      summary: t('解除小程序 {a}（{n}）的关联', 'Unlink the mini program {a} ({n})', { a: a.appid, n: found.nickname }),
      steps: [{ api: 'wxopen/wxampunlink', method: 'POST', secret: 'mp', body: { appid: a.appid }, describe: t('解除关联', 'unlink') }],
    };
  },
  async run(ctx, a, plan) {
    await executePlan(ctx, plan!);
    return message(t('已解除小程序 {a} 的关联。', 'Unlinked the mini program {a}.', { a: a.appid }), { appid: a.appid });
  },
});

export const miniprogramCommands: CommandSpec<any>[] = [miniprogramList, miniprogramLink, miniprogramUnlink];
