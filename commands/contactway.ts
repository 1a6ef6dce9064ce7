import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { arg, defineCommand, flag, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { t } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { resolveMember } from './member/resolve.js';

/** 「联系我」 contact ways (wecom.md §4.3): a QR code a customer scans to add a member or a team. */
const MAX_STATE = 30;
const MAX_REMARK = 30;
const MAX_WAY_MEMBERS = 100;
const MAX_TEMP_DAYS = 14;

async function followUsers(ctx: CommandContext): Promise<Set<string>> {
  return new Set((await (await ctx.customers()).followUsers()).map((u) => u.toLowerCase()));
}

export const contactwayAdd = defineCommand({
  name: 'contactway add',
  alias: '联系我 添加',
  summary: t('生成「联系我」二维码（一位成员或一个部门）', 'Create a “contact me” QR code (one member or a department)'),
  details: t('state 会随客户添加事件带回，用于分配规则和渠道统计。部门的二维码轮流分给部门里开通了客户联系的成员。', 'The state comes back with the add event, for assignment rules and channel statistics. A department’s code spreads customers over its members enabled for customer contact.'),
  examples: ['contactway add --member wangfang --state 展会2026', 'contactway add --dept 销售部/华东区 --state 官网 --remark 官网咨询', 'contactway add --member wangfang --temp --expires 7'],
  params: {
    member: option(z.string().optional(), t('一位成员', 'one member'), { placeholder: 'userid', complete: 'member' }),
    dept: option(z.string().optional(), t('一个部门（含下级）的成员', 'the members of a department (and below)'), { placeholder: 'dept', complete: 'dept' }),
    state: option(z.string().refine((s) => [...s].length <= MAX_STATE, { message: `state 最多 ${MAX_STATE} 个字 / a state is at most ${MAX_STATE} characters` }).optional(), t('渠道标识 state', 'channel state'), { placeholder: 'state' }),
    remark: option(z.string().refine((s) => [...s].length <= MAX_REMARK, { message: `备注最多 ${MAX_REMARK} 个字 / a remark is at most ${MAX_REMARK} characters` }).optional(), t('备注', 'remark'), { placeholder: 'text' }),
    temp: flag(z.boolean().default(false), t('临时会话二维码（仅单人）', 'a temporary chat code (one member only)')),
    expires: option(z.coerce.number().int().min(1).max(MAX_TEMP_DAYS).optional(), t('临时二维码有效天数（1–14，默认 7）', 'days a temporary code lasts (1–14, default 7)'), { placeholder: 'days' }),
    png: option(z.string().optional(), t('把二维码图片存到这个文件', 'save the QR code image to this file'), { placeholder: 'file', complete: 'file' }),
  },
  action: 'contactway.add',
  attributes: ['departments', 'users'],
  mutates: true,
  async resolve(ctx, a) {
    if ((a.member === undefined) === (a.dept === undefined)) throw new InputError('CONTACTWAY_SCOPE', t('请给出 --member 或 --dept 其中之一。', 'Give exactly one of --member or --dept.'));
    const org = await ctx.org();
    if (a.member) {
      const m = resolveMember(org, a.member);
      return { users: [m.userid], departments: m.departments };
    }
    const d = org.resolve(a.dept!);
    return { users: [...new Set(org.subtree(d.id).flatMap((id) => org.directMemberIds(id)))], departments: [d.id] };
  },
  async plan(ctx, a, r) {
    const follow = await followUsers(ctx);
    const wanted = r.users as string[];
    const enabled = wanted.filter((u) => follow.has(u.toLowerCase()));
    if (a.member && !enabled.length) {
      throw new InputError('NOT_FOLLOW_USER', t('{u} 没有开通客户联系，不能生成「联系我」二维码：请管理员在“客户联系 → 权限配置”中添加。', '{u} is not enabled for customer contact: an admin adds them under Customer Contact → Permissions.', { u: wanted[0] }));
    }
    if (!enabled.length) throw new InputError('NOT_FOLLOW_USER', t('{d} 里没有开通客户联系的成员。', 'Nobody in {d} is enabled for customer contact.', { d: a.dept }));
    if (enabled.length > MAX_WAY_MEMBERS) throw new InputError('TOO_MANY_MEMBERS', t('一个二维码最多 {m} 位成员，这里有 {n} 位：请选更小的部门。', 'A code takes at most {m} members; this is {n}: choose a smaller department.', { m: MAX_WAY_MEMBERS, n: enabled.length }));
    if (a.temp && enabled.length !== 1) throw new InputError('TEMP_SINGLE_ONLY', t('临时会话二维码只能给一位成员。', 'A temporary chat code is for one member only.'));
    if (a.expires !== undefined && !a.temp) throw new InputError('EXPIRES_NEEDS_TEMP', t('--expires 只用于临时二维码（加 --temp）。', '--expires is for temporary codes (add --temp).'));
    const single = enabled.length === 1 && !!a.member;
    const body: Record<string, unknown> = { type: single ? 1 : 2, scene: 2, skip_verify: true, user: enabled, ...(a.state ? { state: a.state } : {}), ...(a.remark ? { remark: a.remark } : {}) };
    if (a.temp) Object.assign(body, { is_temp: true, expires_in: (a.expires ?? 7) * 86_400 });
    const skipped = wanted.length - enabled.length;
    return {
      summary: t('生成「联系我」二维码：{u}{s}', 'Create a contact-me QR code for {u}{s}', { u: enabled.join('、'), s: a.state ? t('（state {s}）', ' (state {s})', { s: a.state }) : '' }),
      notes: skipped && a.dept ? [t('{n} 位成员没有开通客户联系，不在二维码里。', '{n} members are not enabled for customer contact and are left out.', { n: skipped })] : [],
      steps: [{ api: 'externalcontact/add_contact_way', method: 'POST', secret: 'customer', body, describe: t('创建联系我方式', 'create the contact way') }],
    };
  },
  async run(ctx, a, plan) {
    const [out] = await executePlan(ctx, plan!);
    const { config_id, qr_code } = out!.response as { config_id: string; qr_code?: string };
    let saved: string | undefined;
    // In the REPL the image is kept in the data directory unless a file is named.
    const file = a.png ?? (ctx.channel === 'repl' && qr_code ? join(ctx.dataDir, 'qr', `contactway-${config_id}.png`) : undefined);
    if (file && qr_code) {
      try {
        const res = await fetch(qr_code, { signal: AbortSignal.timeout(10_000) });
        if (res.ok) {
          saved = resolvePath(file);
          mkdirSync(dirname(saved), { recursive: true });
          writeFileSync(saved, Buffer.from(await res.arrayBuffer()));
        }
      } catch {
        saved = undefined;
      }
    }
    return message(
      t('已生成二维码（config_id {id}）：{q}{f}', 'Created the code (config_id {id}): {q}{f}', { id: config_id, q: qr_code ?? '-', f: saved ? t('，图片已存到 {p}', '; image saved to {p}', { p: saved }) : '' }),
      { config_id, qr_code, png: saved ?? null },
    );
  },
});

export const contactwayList = defineCommand({
  name: 'contactway list',
  alias: '联系我 列表',
  summary: t('列出通过 wxops 或接口创建的「联系我」二维码', 'List the contact-me codes created through the API'),
  params: {},
  action: 'contactway.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const ways = await (await ctx.customers()).contactWays();
    return {
      data: { contact_way: ways },
      view: {
        type: 'table',
        columns: [
          { key: 'config_id', title: t('config_id', 'config_id') },
          { key: 'users', title: t('成员', 'members') },
          { key: 'state', title: t('state', 'state') },
          { key: 'remark', title: t('备注', 'remark') },
          { key: 'temp', title: t('临时', 'temporary') },
        ],
        rows: ways.map((w) => ({ config_id: w.config_id, users: (w.user ?? []).join('、'), state: w.state ?? '', remark: w.remark ?? '', temp: w.is_temp ? '✓' : '' })),
        footer: t('共 {n} 个', '{n} codes', { n: ways.length }),
      },
    };
  },
});

export const contactwayRemove = defineCommand({
  name: 'contactway remove',
  alias: '联系我 删除',
  summary: t('删除「联系我」二维码（已添加的客户不受影响）', 'Remove a contact-me code (customers already added stay)'),
  params: { configId: arg(z.string().min(1), t('config_id', 'config_id'), { placeholder: 'config_id' }) },
  action: 'contactway.remove',
  attributes: ['departments', 'users'],
  mutates: true,
  async resolve(ctx, a) {
    const way = (await (await ctx.customers()).contactWays()).find((w) => w.config_id === a.configId);
    if (!way) throw new InputError('UNKNOWN_CONTACT_WAY', t('没有 config_id 为 {id} 的联系我方式。', 'There is no contact way {id}.', { id: a.configId }));
    const org = await ctx.org();
    const users = way.user ?? [];
    return { users, departments: [...new Set(users.flatMap((u) => { try { return resolveMember(org, u).departments; } catch { return []; } }))] };
  },
  async plan(_ctx, a) {
    return { summary: t('删除联系我方式 {id}', 'Remove the contact way {id}', { id: a.configId }), steps: [{ api: 'externalcontact/del_contact_way', method: 'POST', secret: 'customer', body: { config_id: a.configId }, describe: t('删除', 'delete') }] };
  },
  async run(ctx, a, plan) {
    await executePlan(ctx, plan!);
    return message(t('已删除联系我方式 {id}。', 'Removed the contact way {id}.', { id: a.configId }), { config_id: a.configId });
  },
});

export const contactwayCommands: CommandSpec<any>[] = [contactwayAdd, contactwayList, contactwayRemove];
