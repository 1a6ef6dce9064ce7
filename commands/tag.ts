import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { t } from '../src/core/i18n.js';
import { message } from '../src/core/result.js';
import { resolveMember } from './member/resolve.js';

/** Contact tags (通讯录标签, wecom.md §3): names ≤ 32 characters, unique. */
const tagName = z
  .string()
  .transform((s) => s.trim())
  .refine((s) => [...s].length >= 1 && [...s].length <= 32, { message: '标签名为 1–32 个字符 / a tag name is 1–32 characters' });

const tagRef = arg(z.string().min(1), t('标签：id 或名称', 'tag: id or name'), { placeholder: 'tag', complete: 'tag' });

interface TagInfo {
  tagid: number;
  tagname: string;
}

async function resolveTag(ctx: CommandContext, typed: string): Promise<TagInfo> {
  const tags = await (await ctx.contacts()).listTags();
  const found = /^\d+$/.test(typed) ? tags.find((x) => x.tagid === Number(typed)) : tags.find((x) => x.tagname === typed.trim());
  if (found) return found;
  const close = tags.filter((x) => x.tagname.includes(typed) || typed.includes(x.tagname)).map((x) => x.tagname);
  const hint = close.length ? t('你是不是想写：{s}？', 'Did you mean: {s}?', { s: close.join('、') }) : t('用 tag list 查看所有标签。', 'Use `tag list` to see every tag.');
  throw new InputError('UNKNOWN_TAG', { zh: `找不到标签 “${typed}”。${hint.zh}`, en: `There is no tag “${typed}”. ${hint.en}` });
}

export const tagList = defineCommand({
  name: 'tag list',
  alias: '标签 列表',
  summary: t('列出通讯录标签', 'List contact tags'),
  params: {},
  action: 'tag.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const contacts = await ctx.contacts();
    const tags = await contacts.listTags();
    const details = await Promise.all(tags.map((x) => contacts.getTag(x.tagid)));
    const rows = tags.map((x, i) => ({
      tagid: x.tagid,
      tagname: x.tagname,
      members: details[i]!.userlist?.length ?? 0,
      parties: details[i]!.partylist?.length ?? 0,
    }));
    return {
      data: { taglist: tags },
      view: {
        type: 'table',
        columns: [
          { key: 'tagid', title: t('id', 'id'), align: 'right' },
          { key: 'tagname', title: t('标签', 'tag') },
          { key: 'members', title: t('成员数', 'members'), align: 'right' },
          { key: 'parties', title: t('部门数', 'departments'), align: 'right' },
        ],
        rows,
      },
    };
  },
});

export const tagAdd = defineCommand({
  name: 'tag add',
  alias: '标签 添加',
  summary: t('新建通讯录标签', 'Create a contact tag'),
  params: {
    name: arg(tagName, t('标签名', 'tag name'), { placeholder: 'name' }),
    id: option(z.coerce.number().int().positive().optional(), t('指定标签 id（可选）', 'tag id to use (optional)'), { placeholder: 'id' }),
  },
  action: 'tag.add',
  mutates: true,
  async plan(ctx, a) {
    const tags = await (await ctx.contacts()).listTags();
    if (tags.some((x) => x.tagname === a.name)) throw new InputError('TAG_EXISTS', t('标签 “{n}” 已经存在。', 'The tag “{n}” already exists.', { n: a.name }));
    if (a.id !== undefined && tags.some((x) => x.tagid === a.id)) throw new InputError('TAG_EXISTS', t('标签 id {id} 已被使用。', 'The tag id {id} is taken.', { id: a.id }));
    return {
      summary: t('新建标签 “{n}”', 'Create the tag “{n}”', { n: a.name }),
      steps: [{ api: 'tag/create', method: 'POST', secret: 'contacts', body: { tagname: a.name, tagid: a.id }, describe: t('创建标签 {n}', 'create tag {n}', { n: a.name }) }],
    };
  },
  async run(ctx, a, plan) {
    const [out] = await executePlan(ctx, plan!);
    return message(t('已新建标签 “{n}”（id {id}）。', 'Created the tag “{n}” (id {id}).', { n: a.name, id: out!.response.tagid }), { tagid: out!.response.tagid, tagname: a.name });
  },
});

export const tagRename = defineCommand({
  name: 'tag rename',
  alias: '标签 重命名',
  summary: t('重命名通讯录标签', 'Rename a contact tag'),
  params: { tag: tagRef, name: arg(tagName, t('新名称', 'new name'), { placeholder: 'new-name' }) },
  action: 'tag.rename',
  attributes: ['tagid', 'tagname'],
  mutates: true,
  async resolve(ctx, a) {
    const tag = await resolveTag(ctx, a.tag);
    return { ...tag };
  },
  async plan(ctx, a, r) {
    const tags = await (await ctx.contacts()).listTags();
    if (tags.some((x) => x.tagname === a.name && x.tagid !== r.tagid)) throw new InputError('TAG_EXISTS', t('标签 “{n}” 已经存在。', 'The tag “{n}” already exists.', { n: a.name }));
    return {
      summary: t('把标签 “{o}” 改名为 “{n}”', 'Rename the tag “{o}” to “{n}”', { o: r.tagname, n: a.name }),
      steps: [{ api: 'tag/update', method: 'POST', secret: 'contacts', body: { tagid: r.tagid, tagname: a.name }, describe: t('更新标签 {id}', 'update tag {id}', { id: r.tagid }) }],
    };
  },
  async run(ctx, a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已把标签 {id} 改名为 “{n}”。', 'Renamed tag {id} to “{n}”.', { id: r.tagid, n: a.name }), { tagid: r.tagid, tagname: a.name });
  },
});

export const tagRemove = defineCommand({
  name: 'tag remove',
  alias: '标签 删除',
  summary: t('删除通讯录标签', 'Remove a contact tag'),
  params: { tag: tagRef },
  action: 'tag.remove',
  attributes: ['tagid', 'tagname'],
  mutates: true,
  async resolve(ctx, a) {
    return { ...(await resolveTag(ctx, a.tag)) };
  },
  async plan(_ctx, _a, r) {
    return {
      summary: t('删除标签 “{n}”（id {id}）', 'Remove the tag “{n}” (id {id})', { n: r.tagname, id: r.tagid }),
      steps: [{ api: 'tag/delete', method: 'GET', secret: 'contacts', query: { tagid: r.tagid as number }, describe: t('删除标签 {id}', 'delete tag {id}', { id: r.tagid }) }],
    };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已删除标签 “{n}”。', 'Removed the tag “{n}”.', { n: r.tagname }), { tagid: r.tagid });
  },
});

export const tagMembers = defineCommand({
  name: 'tag members',
  alias: '标签 成员',
  summary: t('列出标签下的成员和部门', 'List the members and departments of a tag'),
  params: { tag: tagRef },
  action: 'tag.members',
  attributes: ['tagid', 'tagname'],
  mutates: false,
  readOnly: true,
  async resolve(ctx, a) {
    return { ...(await resolveTag(ctx, a.tag)) };
  },
  async run(ctx, _a, _plan, r) {
    const [detail, org] = await Promise.all([(await ctx.contacts()).getTag(r.tagid as number), ctx.org()]);
    const rows = [
      ...(detail.userlist ?? []).map((u) => ({ kind: ctx.lang === 'zh' ? '成员' : 'member', id: u.userid, name: u.name })),
      ...(detail.partylist ?? []).map((p) => ({ kind: ctx.lang === 'zh' ? '部门' : 'department', id: String(p), name: org.path(p) })),
    ];
    return {
      data: { tagid: r.tagid, tagname: detail.tagname, userlist: detail.userlist ?? [], partylist: detail.partylist ?? [] },
      view: {
        type: 'table',
        caption: t('标签 “{n}”', 'Tag “{n}”', { n: detail.tagname }),
        columns: [
          { key: 'kind', title: t('类型', 'kind') },
          { key: 'id', title: t('帐号/部门 id', 'userid / dept id') },
          { key: 'name', title: t('名称', 'name') },
        ],
        rows,
      },
    };
  },
});

function membershipCommand(assign: boolean) {
  return defineCommand({
    name: assign ? 'tag assign' : 'tag unassign',
    alias: assign ? '标签 分配' : '标签 取消',
    summary: assign ? t('给成员或部门打上标签', 'Add members or departments to a tag') : t('把成员或部门移出标签', 'Remove members or departments from a tag'),
    examples: [assign ? 'tag assign 新员工 --member wangfang --dept 华东区' : 'tag unassign 新员工 --member wangfang'],
    params: {
      tag: tagRef,
      member: option(z.array(z.string().min(1)).optional(), t('成员帐号（可重复）', 'member userid (may be repeated)'), { many: true, placeholder: 'userid', complete: 'member' }),
      dept: option(z.array(z.string().min(1)).optional(), t('部门（可重复）', 'department (may be repeated)'), { many: true, placeholder: 'dept', complete: 'dept' }),
    },
    action: assign ? 'tag.assign' : 'tag.unassign',
    attributes: ['tagid', 'tagname', 'userlist', 'partylist', 'departments'],
    mutates: true,
    async resolve(ctx, a) {
      if (!a.member?.length && !a.dept?.length) {
        throw new InputError('NOTHING_TO_TAG', t('请用 --member 或 --dept 指明成员或部门。', 'Name members with --member or departments with --dept.'));
      }
      const org = await ctx.org();
      const tag = await resolveTag(ctx, a.tag);
      const members = (a.member ?? []).map((u) => resolveMember(org, u));
      const parties = (a.dept ?? []).map((d) => org.resolve(d).id);
      if (members.length > 1000 || parties.length > 100) {
        throw new InputError('TOO_MANY', t('一次最多 1000 个成员、100 个部门。', 'At most 1000 members and 100 departments at a time.'));
      }
      return {
        ...tag,
        userlist: members.map((m) => m.userid),
        partylist: parties,
        departments: [...new Set([...members.flatMap((m) => m.departments), ...parties])],
      };
    },
    async plan(_ctx, _a, r) {
      const body = { tagid: r.tagid, userlist: r.userlist, partylist: r.partylist };
      const who = [...(r.userlist as string[]), ...(r.partylist as number[]).map((p) => `dept ${p}`)].join(', ');
      return {
        summary: assign
          ? t('给 {who} 打上标签 “{n}”', 'Add {who} to the tag “{n}”', { who, n: r.tagname })
          : t('把 {who} 移出标签 “{n}”', 'Remove {who} from the tag “{n}”', { who, n: r.tagname }),
        steps: [
          {
            api: assign ? 'tag/addtagusers' : 'tag/deltagusers',
            method: 'POST',
            secret: 'contacts',
            body,
            describe: assign ? t('添加标签成员', 'add tag members') : t('删除标签成员', 'remove tag members'),
          },
        ],
      };
    },
    async run(ctx, _a, plan, r) {
      const [out] = await executePlan(ctx, plan!);
      const invalidUsers = String(out!.response?.invalidlist ?? '').split('|').filter(Boolean);
      const invalidParties: number[] = out!.response?.invalidparty ?? [];
      const data = { tagid: r.tagid, userlist: r.userlist, partylist: r.partylist, invalidlist: invalidUsers, invalidparty: invalidParties };
      if (invalidUsers.length || invalidParties.length) {
        const list = [...invalidUsers, ...invalidParties.map((p) => `dept ${p}`)].join(', ');
        return message(
          t('标签 “{n}” 已更新，但平台拒绝了：{l}（可能不在通讯录范围内）。', 'The tag “{n}” was updated, but the platform refused: {l} (possibly outside the contacts scope).', { n: r.tagname, l: list }),
          data,
          'warning',
        );
      }
      return message(
        assign ? t('已更新标签 “{n}” 的成员。', 'Added to the tag “{n}”.', { n: r.tagname }) : t('已从标签 “{n}” 移除。', 'Removed from the tag “{n}”.', { n: r.tagname }),
        data,
      );
    },
  });
}

export const tagCommands: CommandSpec<any>[] = [tagList, tagAdd, tagRename, tagRemove, tagMembers, membershipCommand(true), membershipCommand(false)];
