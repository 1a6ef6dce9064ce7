import { z } from 'zod';
import { arg, defineCommand, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { t } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { bytes } from '../src/mp/reply.js';
import type { MpTag } from '../src/platform/mp/types.js';

/** Follower tags (用户标签, mp.md §3): ≤ 100 per account, names ≤ 30 bytes and unique, ids 0/1/2 reserved. */
export const MP_TAG_NAME_BYTES = 30;
export const MP_TAG_LIMIT = 100;
const RESERVED = new Set([0, 1, 2]);

export const mpTagName = z
  .string()
  .transform((s) => s.trim())
  .refine((s) => s.length > 0, { message: '标签名不能为空 / a tag name cannot be empty' })
  .refine((s) => bytes(s) <= MP_TAG_NAME_BYTES, { message: `标签名最多 ${MP_TAG_NAME_BYTES} 字节（约 10 个汉字）/ a tag name is at most ${MP_TAG_NAME_BYTES} bytes` });

export const mpTagRef = arg(z.string().min(1), t('公众号标签：id 或名称', 'follower tag: id or name'), { placeholder: 'tag' });

export async function resolveMpTag(ctx: CommandContext, typed: string): Promise<MpTag> {
  const tags = await (await ctx.mp()).listTags();
  const found = /^\d+$/.test(typed) ? tags.find((x) => x.id === Number(typed)) : tags.find((x) => x.name === typed.trim());
  if (found) return found;
  const close = tags.filter((x) => x.name.includes(typed) || typed.includes(x.name)).map((x) => x.name);
  const hint = close.length ? t('你是不是想写：{s}？', 'Did you mean: {s}?', { s: close.join('、') }) : t('用 mptag list 查看所有标签。', 'Use `mptag list` to see every tag.');
  throw new InputError('UNKNOWN_MP_TAG', { zh: `公众号没有标签 “${typed}”。${hint.zh}`, en: `The account has no tag “${typed}”. ${hint.en}` });
}

function refuseReserved(tag: MpTag): void {
  if (RESERVED.has(tag.id)) throw new InputError('RESERVED_MP_TAG', t('“{n}”是系统标签（id {id}），不能修改或删除。', '“{n}” is a system tag (id {id}) and cannot be changed or removed.', { n: tag.name, id: tag.id }));
}

export const mptagList = defineCommand({
  name: 'mptag list',
  alias: '粉丝标签 列表',
  summary: t('列出公众号的关注者标签', 'List the follower tags of the Official Account'),
  params: {},
  action: 'mptag.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const tags = await (await ctx.mp()).listTags();
    return {
      data: { tags },
      view: {
        type: 'table',
        columns: [
          { key: 'id', title: t('id', 'id'), align: 'right' },
          { key: 'name', title: t('标签', 'tag') },
          { key: 'count', title: t('关注者数', 'followers'), align: 'right' },
        ],
        rows: tags.map((x) => ({ ...x })),
        footer: t('共 {n} 个标签（上限 {m}）', '{n} tags (limit {m})', { n: tags.length, m: MP_TAG_LIMIT }),
      },
    };
  },
});

export const mptagAdd = defineCommand({
  name: 'mptag add',
  alias: '粉丝标签 添加',
  summary: t('新建关注者标签', 'Create a follower tag'),
  params: { name: arg(mpTagName, t('标签名（最多 30 字节）', 'tag name (at most 30 bytes)'), { placeholder: 'name' }) },
  action: 'mptag.add',
  mutates: true,
  async plan(ctx, a) {
    const tags = await (await ctx.mp()).listTags();
    if (tags.some((x) => x.name === a.name)) throw new InputError('MP_TAG_EXISTS', t('标签 “{n}” 已经存在。', 'The tag “{n}” already exists.', { n: a.name }));
    if (tags.length >= MP_TAG_LIMIT) throw new InputError('TOO_MANY_MP_TAGS', t('公众号已有 {n} 个标签，达到上限。', 'The account already has {n} tags, the limit.', { n: tags.length }));
    return {
      summary: t('新建关注者标签 “{n}”', 'Create the follower tag “{n}”', { n: a.name }),
      steps: [{ api: 'tags/create', method: 'POST', secret: 'mp', body: { tag: { name: a.name } }, describe: t('创建标签 {n}', 'create tag {n}', { n: a.name }) }],
    };
  },
  async run(ctx, a, plan) {
    const [out] = await executePlan(ctx, plan!);
    const tag = out!.response.tag;
    return message(t('已新建标签 “{n}”（id {id}）。', 'Created the tag “{n}” (id {id}).', { n: a.name, id: tag?.id }), { tag });
  },
});

export const mptagRename = defineCommand({
  name: 'mptag rename',
  alias: '粉丝标签 重命名',
  summary: t('重命名关注者标签', 'Rename a follower tag'),
  params: { tag: mpTagRef, name: arg(mpTagName, t('新名称', 'new name'), { placeholder: 'new-name' }) },
  action: 'mptag.rename',
  attributes: ['tag_id', 'tag_name'],
  mutates: true,
  async resolve(ctx, a) {
    const tag = await resolveMpTag(ctx, a.tag);
    return { tag_id: tag.id, tag_name: tag.name };
  },
  async plan(ctx, a, r) {
    const tags = await (await ctx.mp()).listTags();
    const tag = tags.find((x) => x.id === r.tag_id)!;
    refuseReserved(tag);
    if (tags.some((x) => x.name === a.name && x.id !== tag.id)) throw new InputError('MP_TAG_EXISTS', t('标签 “{n}” 已经存在。', 'The tag “{n}” already exists.', { n: a.name }));
    return {
      summary: t('把标签 “{o}” 改名为 “{n}”', 'Rename the tag “{o}” to “{n}”', { o: tag.name, n: a.name }),
      steps: [{ api: 'tags/update', method: 'POST', secret: 'mp', body: { tag: { id: tag.id, name: a.name } }, describe: t('更新标签 {id}', 'update tag {id}', { id: tag.id }) }],
    };
  },
  async run(ctx, a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已把标签 {id} 改名为 “{n}”。', 'Renamed tag {id} to “{n}”.', { id: r.tag_id, n: a.name }), { tag: { id: r.tag_id, name: a.name } });
  },
});

export const mptagRemove = defineCommand({
  name: 'mptag remove',
  alias: '粉丝标签 删除',
  summary: t('删除关注者标签（关注者本身不受影响）', 'Remove a follower tag (the followers stay)'),
  params: { tag: mpTagRef },
  action: 'mptag.remove',
  attributes: ['tag_id', 'tag_name'],
  mutates: true,
  async resolve(ctx, a) {
    const tag = await resolveMpTag(ctx, a.tag);
    return { tag_id: tag.id, tag_name: tag.name };
  },
  async plan(ctx, _a, r) {
    const tag = (await (await ctx.mp()).listTags()).find((x) => x.id === r.tag_id)!;
    refuseReserved(tag);
    if (tag.count > 100_000) throw new InputError('MP_TAG_TOO_BIG', t('标签 “{n}” 有 {c} 位关注者，超过 10 万不能直接删除：请先取消标记。', 'The tag “{n}” has {c} followers; over 100,000 it cannot be removed: untag them first.', { n: tag.name, c: tag.count }));
    return {
      summary: t('删除标签 “{n}”（{c} 位关注者带有它）', 'Remove the tag “{n}” ({c} followers carry it)', { n: tag.name, c: tag.count }),
      steps: [{ api: 'tags/delete', method: 'POST', secret: 'mp', body: { tag: { id: tag.id } }, describe: t('删除标签 {id}', 'delete tag {id}', { id: tag.id }) }],
    };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已删除标签 “{n}”。', 'Removed the tag “{n}”.', { n: r.tag_name }), { tag: { id: r.tag_id } });
  },
});

export const mptagCommands: CommandSpec<any>[] = [mptagList, mptagAdd, mptagRename, mptagRemove];
