import { z } from 'zod';
import { arg, defineCommand, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { t } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import type { CorpTagGroup } from '../src/platform/wecom/customers.js';

/** Corp customer tags (企业客户标签, wecom.md §4.2): groups of tags, names ≤ 30 characters, ≤ 3000 tags. */
const MAX_NAME = 30;
const MAX_TAGS = 3000;
const name = z
  .string()
  .transform((s) => s.trim())
  .refine((s) => [...s].length >= 1 && [...s].length <= MAX_NAME, { message: `名称为 1–${MAX_NAME} 个字 / a name is 1–${MAX_NAME} characters` });

async function groups(ctx: CommandContext): Promise<CorpTagGroup[]> {
  return (await ctx.customers()).corpTags();
}

/** A group or a tag, by id, name or `group/tag`. */
function find(all: CorpTagGroup[], ref: string): { kind: 'group'; group: CorpTagGroup } | { kind: 'tag'; group: CorpTagGroup; tag: CorpTagGroup['tag'][number] } {
  const g = all.find((x) => x.group_id === ref || x.group_name === ref);
  if (g) return { kind: 'group', group: g };
  const [gn, tn] = ref.includes('/') ? (ref.split('/', 2) as [string, string]) : [undefined, ref];
  const hits = all.flatMap((group) => group.tag.filter((x) => x.id === ref || (x.name === tn && (!gn || group.group_name === gn))).map((tag) => ({ group, tag })));
  if (hits.length === 1) return { kind: 'tag', ...hits[0]! };
  if (hits.length > 1) throw new InputError('AMBIGUOUS_CORP_TAG', t('“{n}”在多个分组里：{g}。请写成 分组/标签。', '“{n}” is in several groups: {g}. Write group/tag.', { n: ref, g: hits.map((h) => `${h.group.group_name}/${h.tag.name}`).join('、') }));
  throw new InputError('UNKNOWN_CORP_TAG', t('没有客户标签或分组“{n}”。用 ctag list 查看。', 'There is no customer tag or group “{n}”. See `ctag list`.', { n: ref }));
}

export const ctagList = defineCommand({
  name: 'ctag list',
  alias: '客户标签 列表',
  summary: t('列出企业客户标签（按分组）', 'List the corp customer tags by group'),
  params: {},
  action: 'ctag.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const all = await groups(ctx);
    return {
      data: { tag_group: all },
      view: {
        type: 'tree',
        roots: all.map((g) => ({ label: g.group_name, note: `(${g.group_id})`, children: g.tag.map((x) => ({ label: x.name, note: `(${x.id})`, children: [] })) })),
        footer: t('共 {g} 个分组，{n} 个标签（上限 {m}）', '{g} groups, {n} tags (limit {m})', { g: all.length, n: all.reduce((s, g) => s + g.tag.length, 0), m: MAX_TAGS }),
      },
    };
  },
});

export const ctagAdd = defineCommand({
  name: 'ctag add',
  alias: '客户标签 添加',
  summary: t('在分组里新建客户标签（分组不存在时一并新建）', 'Create customer tags in a group (the group too if it is new)'),
  examples: ['ctag add 客户等级 VIP客户', 'ctag add 行业 制造业 零售 教育'],
  params: {
    group: arg(name, t('分组名', 'group name'), { placeholder: 'group' }),
    tags: arg(z.array(name).min(1), t('一个或多个标签名', 'one or more tag names'), { many: true, placeholder: 'tag' }),
  },
  action: 'ctag.add',
  mutates: true,
  async plan(ctx, a) {
    const all = await groups(ctx);
    const group = all.find((g) => g.group_name === a.group);
    const dup = a.tags.filter((x, i) => a.tags.indexOf(x) !== i || group?.tag.some((y) => y.name === x));
    if (dup.length) throw new InputError('CORP_TAG_EXISTS', t('分组“{g}”里已经有：{t}。', 'The group “{g}” already has: {t}.', { g: a.group, t: [...new Set(dup)].join('、') }));
    const count = all.reduce((s, g) => s + g.tag.length, 0);
    if (count + a.tags.length > MAX_TAGS) throw new InputError('TOO_MANY_CORP_TAGS', t('企业最多 {m} 个客户标签，现有 {n} 个。', 'A corp has at most {m} customer tags; there are {n}.', { m: MAX_TAGS, n: count }));
    return {
      summary: t('在分组“{g}”{new}新建标签 {t}', 'Create {t} in the group “{g}”{new}', { g: a.group, t: a.tags.join('、'), new: group ? '' : t('（新分组）', ' (a new group)') }),
      steps: [
        {
          api: 'externalcontact/add_corp_tag',
          method: 'POST',
          secret: 'customer',
          body: { ...(group ? { group_id: group.group_id } : { group_name: a.group }), tag: a.tags.map((n) => ({ name: n })) },
          describe: t('新建标签', 'create the tags'),
        },
      ],
    };
  },
  async run(ctx, _a, plan) {
    const [out] = await executePlan(ctx, plan!);
    const g = out!.response.tag_group;
    return message(t('已新建：{t}。', 'Created: {t}.', { t: (g?.tag ?? []).map((x: { name: string; id: string }) => `${x.name}（${x.id}）`).join('、') }), { tag_group: g });
  },
});

export const ctagRename = defineCommand({
  name: 'ctag rename',
  alias: '客户标签 重命名',
  summary: t('重命名客户标签或分组', 'Rename a customer tag or group'),
  params: { ref: arg(z.string().min(1), t('标签或分组：名称、id 或 分组/标签', 'tag or group: name, id or group/tag'), { placeholder: 'tag' }), name: arg(name, t('新名称', 'new name'), { placeholder: 'new-name' }) },
  action: 'ctag.rename',
  mutates: true,
  async plan(ctx, a) {
    const all = await groups(ctx);
    const hit = find(all, a.ref);
    const siblings = hit.kind === 'group' ? all.map((g) => g.group_name) : hit.group.tag.map((x) => x.name);
    const current = hit.kind === 'group' ? hit.group.group_name : hit.tag.name;
    if (siblings.includes(a.name) && a.name !== current) throw new InputError('CORP_TAG_EXISTS', t('已经有名为“{n}”的{k}。', 'There already is a {k} called “{n}”.', { n: a.name, k: hit.kind === 'group' ? t('分组', 'group') : t('标签', 'tag') }));
    const id = hit.kind === 'group' ? hit.group.group_id : hit.tag.id;
    return { summary: t('把“{o}”改名为“{n}”', 'Rename “{o}” to “{n}”', { o: current, n: a.name }), steps: [{ api: 'externalcontact/edit_corp_tag', method: 'POST', secret: 'customer', body: { id, name: a.name }, describe: t('更新 {id}', 'update {id}', { id }) }] };
  },
  async run(ctx, a, plan) {
    await executePlan(ctx, plan!);
    return message(t('已改名为“{n}”。', 'Renamed to “{n}”.', { n: a.name }), plan!.steps[0]!.body);
  },
});

export const ctagRemove = defineCommand({
  name: 'ctag remove',
  alias: '客户标签 删除',
  summary: t('删除客户标签或整个分组（客户身上的这些标签一并去掉）', 'Remove a customer tag or a whole group (taken off every customer)'),
  params: { ref: arg(z.string().min(1), t('标签或分组：名称、id 或 分组/标签', 'tag or group: name, id or group/tag'), { placeholder: 'tag' }) },
  action: 'ctag.remove',
  mutates: true,
  async plan(ctx, a) {
    const hit = find(await groups(ctx), a.ref);
    const body = hit.kind === 'group' ? { group_id: [hit.group.group_id] } : { tag_id: [hit.tag.id] };
    const what = hit.kind === 'group' ? t('分组“{g}”及其 {n} 个标签', 'the group “{g}” and its {n} tags', { g: hit.group.group_name, n: hit.group.tag.length }) : t('标签“{g}/{n}”', 'the tag “{g}/{n}”', { g: hit.group.group_name, n: hit.tag.name });
    return { summary: t('删除{w}', 'Remove {w}', { w: what }), notes: [t('所有客户身上的这些标签都会被去掉，无法恢复。', 'These tags come off every customer; this cannot be undone.')], steps: [{ api: 'externalcontact/del_corp_tag', method: 'POST', secret: 'customer', body, describe: t('删除', 'delete') }] };
  },
  async run(ctx, _a, plan) {
    await executePlan(ctx, plan!);
    return message(t('已删除。', 'Removed.'), plan!.steps[0]!.body);
  },
});

export const ctagCommands: CommandSpec<any>[] = [ctagList, ctagAdd, ctagRename, ctagRemove];
