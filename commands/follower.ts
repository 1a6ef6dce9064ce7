import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError, PlatformError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { formatTime, t } from '../src/core/i18n.js';
import type { PlanStep } from '../src/core/plan.js';
import { message } from '../src/core/result.js';
import type { Follower, MpTag } from '../src/platform/mp/types.js';
import { resolveMpTag } from './mptag.js';

/** Followers (mp.md §4): openids are per account; nicknames are no longer given out (since 2021-12). */
const OPENID = /^[A-Za-z0-9_-]{16,64}$/;
const TAG_CALL_SIZE = 50;
const TAGS_PER_FOLLOWER = 20;
const DEFAULT_LIMIT = 50;

const sinceDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: '日期格式为 YYYY-MM-DD / a date is YYYY-MM-DD' })
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00+08:00`)), { message: '不是有效日期 / not a real date' });

function checkOpenids(openids: string[]): void {
  const bad = openids.filter((o) => !OPENID.test(o));
  if (bad.length) throw new InputError('INVALID_OPENID', t('openid 格式不对：{o}', 'Not an openid: {o}', { o: bad.join(', ') }));
}

function tagNames(tags: MpTag[], ids: number[] = []): string {
  return ids.map((id) => tags.find((x) => x.id === id)?.name ?? String(id)).join('、');
}

export const followerList = defineCommand({
  name: 'follower list',
  alias: '粉丝 列表',
  summary: t('列出关注者（可按标签、关注时间筛选）', 'List followers (by tag, or since a date)'),
  examples: ['follower list', 'follower list --tag VIP客户', 'follower list --since 2026-11-01 --limit 200'],
  params: {
    tag: option(z.string().optional(), t('只看带这个标签的关注者', 'only followers with this tag'), { placeholder: 'tag' }),
    since: option(sinceDate.optional(), t('只看这天（含）之后关注的', 'only followers since this day (inclusive)'), { placeholder: 'YYYY-MM-DD' }),
    limit: option(z.coerce.number().int().min(1).max(10_000).default(DEFAULT_LIMIT), t('最多显示多少行（默认 50）', 'rows to show (default 50)'), { placeholder: 'n' }),
  },
  action: 'follower.list',
  mutates: false,
  readOnly: true,
  async run(ctx, a) {
    const mp = await ctx.mp();
    const [tags, tag] = await Promise.all([mp.listTags(), a.tag ? resolveMpTag(ctx, a.tag) : Promise.resolve(undefined)]);
    const openids = tag ? await mp.tagFollowerIds(tag.id) : await mp.listFollowerIds();
    let followers: Follower[];
    if (a.since) {
      // Subscribe times need the details of everyone; fetch them in batches of 100.
      const from = Date.parse(`${a.since}T00:00:00+08:00`) / 1000;
      followers = (await mp.followers(openids)).filter((f) => (f.subscribe_time ?? 0) >= from);
    } else {
      followers = await mp.followers(openids.slice(0, a.limit));
    }
    const total = a.since ? followers.length : openids.length;
    const shown = followers.slice(0, a.limit);
    return {
      data: { total, count: shown.length, followers: shown },
      view: {
        type: 'table',
        columns: [
          { key: 'openid', title: t('openid', 'openid') },
          { key: 'since', title: t('关注时间', 'following since') },
          { key: 'tags', title: t('标签', 'tags') },
          { key: 'remark', title: t('备注', 'remark') },
          { key: 'scene', title: t('来源', 'source') },
        ],
        rows: shown.map((f) => ({
          openid: f.openid,
          since: f.subscribe_time ? formatTime(new Date(f.subscribe_time * 1000)) : '-',
          tags: tagNames(tags, f.tagid_list),
          remark: f.remark ?? '',
          scene: f.subscribe_scene ?? '',
        })),
        footer: t('共 {n} 位关注者{x}，显示 {m} 位', '{n} followers{x}, {m} shown', {
          n: total,
          m: shown.length,
          x: tag ? t('（标签 {t}）', ' (tag {t})', { t: tag.name }) : '',
        }),
      },
    };
  },
});

export const followerShow = defineCommand({
  name: 'follower show',
  alias: '粉丝 查看',
  summary: t('查看一位关注者', 'Show one follower'),
  params: { openid: arg(z.string().min(1), t('关注者 openid', 'follower openid'), { placeholder: 'openid' }) },
  action: 'follower.show',
  mutates: false,
  readOnly: true,
  async run(ctx, a) {
    checkOpenids([a.openid]);
    const mp = await ctx.mp();
    const [f, tags] = await Promise.all([mp.follower(a.openid), mp.listTags()]);
    if (!f.subscribe) return message(t('{o} 目前没有关注公众号。', '{o} does not follow the account now.', { o: a.openid }), f, 'info');
    return {
      data: f,
      view: {
        type: 'fields',
        fields: [
          { label: t('openid', 'openid'), value: f.openid },
          { label: t('关注时间', 'following since'), value: f.subscribe_time ? formatTime(new Date(f.subscribe_time * 1000)) : '-' },
          { label: t('标签', 'tags'), value: tagNames(tags, f.tagid_list) || '—' },
          { label: t('备注', 'remark'), value: f.remark || '—' },
          { label: t('来源', 'source'), value: f.subscribe_scene ?? '-' },
          { label: t('语言', 'language'), value: f.language ?? '-' },
        ],
      },
    };
  },
});

/**
 * Details of each openid, or nothing for one that is not a follower. One batch call answers 40003 for
 * the whole batch if any openid in it is unknown, so then each is asked on its own to say which.
 */
async function followerDetails(ctx: CommandContext, openids: string[]): Promise<Map<string, Follower>> {
  const mp = await ctx.mp();
  try {
    return new Map((await mp.followers(openids)).map((f) => [f.openid, f]));
  } catch (err) {
    if (!(err instanceof PlatformError) || (err.errcode !== 40003 && err.errcode !== 46004)) throw err;
  }
  const one = async (o: string): Promise<Follower | undefined> => {
    try {
      return await mp.follower(o);
    } catch (err) {
      if (err instanceof PlatformError && (err.errcode === 40003 || err.errcode === 46004)) return undefined;
      throw err;
    }
  };
  const found = await Promise.all(openids.map(one));
  return new Map(found.flatMap((f) => (f ? [[f.openid, f] as const] : [])));
}

const tagParams = {
  items: arg(z.array(z.string().min(1)).min(2, { message: '先写 openid，最后写标签 / give openids, then the tag' }), t('一个或多个 openid，最后是标签', 'one or more openids, then the tag'), { many: true, placeholder: 'openid…> <tag' }),
};

/** `follower tag|untag <openid…> <tag>`: everything is checked before the first call, 50 openids per call. */
function followerTagCommand(untag: boolean) {
  return defineCommand({
    name: untag ? 'follower untag' : 'follower tag',
    alias: untag ? '粉丝 取消标签' : '粉丝 打标签',
    summary: untag ? t('给关注者取消标签', 'Remove a tag from followers') : t('给关注者打标签', 'Tag followers'),
    examples: [untag ? 'follower untag oLVPpjqs9BhvzwPj5A-vTYAX3GLc VIP客户' : 'follower tag oLVPpjqs9BhvzwPj5A-vTYAX3GLc oAbCdEfGhIjKlMnOpQrStUvWxYz VIP客户'],
    params: tagParams,
    action: untag ? 'follower.untag' : 'follower.tag',
    attributes: ['tag_id', 'tag_name', 'openids'],
    mutates: true,
    async resolve(ctx, a) {
      const items = a.items;
      const openids = [...new Set(items.slice(0, -1))];
      checkOpenids(openids);
      const tag = await resolveMpTag(ctx, items.at(-1)!);
      return { tag_id: tag.id, tag_name: tag.name, openids };
    },
    async plan(ctx, _a, r) {
      const openids = r.openids as string[];
      const byOpenid = await followerDetails(ctx, openids);
      const problems: string[][] = [];
      const todo: string[] = [];
      for (const o of openids) {
        const f = byOpenid.get(o);
        if (!f || !f.subscribe) problems.push([`${o} 不是关注者`, `${o} is not a follower`]);
        else if (untag ? !f.tagid_list?.includes(r.tag_id as number) : f.tagid_list?.includes(r.tag_id as number)) continue;
        else if (!untag && (f.tagid_list?.length ?? 0) >= TAGS_PER_FOLLOWER) problems.push([`${o} 已有 ${TAGS_PER_FOLLOWER} 个标签`, `${o} already has ${TAGS_PER_FOLLOWER} tags`]);
        else todo.push(o);
      }
      if (problems.length) {
        throw new InputError(
          'INVALID_FOLLOWERS',
          { zh: `没有修改任何关注者：\n${problems.map((p) => `- ${p[0]}`).join('\n')}`, en: `No follower was changed:\n${problems.map((p) => `- ${p[1]}`).join('\n')}` },
          { problems: problems.map((p) => p[1]) },
        );
      }
      if (todo.length === 0) {
        throw new InputError('NOTHING_TO_DO', untag ? t('这些关注者都没有标签 “{n}”。', 'None of these followers has the tag “{n}”.', { n: r.tag_name }) : t('这些关注者都已经有标签 “{n}”。', 'Every one of these followers already has the tag “{n}”.', { n: r.tag_name }));
      }
      const steps: PlanStep[] = [];
      for (let i = 0; i < todo.length; i += TAG_CALL_SIZE) {
        const chunk = todo.slice(i, i + TAG_CALL_SIZE);
        steps.push({
          api: untag ? 'tags/members/batchuntagging' : 'tags/members/batchtagging',
          method: 'POST',
          secret: 'mp',
          body: { openid_list: chunk, tagid: r.tag_id },
          describe: untag ? t('取消 {n} 位关注者的标签 {tag}', 'untag {n} followers from {tag}', { n: chunk.length, tag: r.tag_name }) : t('给 {n} 位关注者打上 {tag}', 'tag {n} followers with {tag}', { n: chunk.length, tag: r.tag_name }),
        });
      }
      const skipped = openids.length - todo.length;
      return {
        summary: untag
          ? t('取消 {n} 位关注者的标签 “{tag}”', 'Remove the tag “{tag}” from {n} followers', { n: todo.length, tag: r.tag_name })
          : t('给 {n} 位关注者打上标签 “{tag}”', 'Tag {n} followers with “{tag}”', { n: todo.length, tag: r.tag_name }),
        notes: skipped ? [t('{s} 位已经是目标状态，跳过。', '{s} already are as asked and are skipped.', { s: skipped })] : [],
        steps,
      };
    },
    async run(ctx, _a, plan, r) {
      await executePlan(ctx, plan!);
      const n = plan!.steps.reduce((sum, s) => sum + (s.body as { openid_list: string[] }).openid_list.length, 0);
      return message(
        untag ? t('已取消 {n} 位关注者的标签 “{tag}”。', 'Removed the tag “{tag}” from {n} followers.', { n, tag: r.tag_name }) : t('已给 {n} 位关注者打上标签 “{tag}”。', 'Tagged {n} followers with “{tag}”.', { n, tag: r.tag_name }),
        { tagid: r.tag_id, count: n },
      );
    },
  });
}

export const followerTag = followerTagCommand(false);
export const followerUntag = followerTagCommand(true);

export const followerCommands: CommandSpec<any>[] = [followerList, followerShow, followerTag, followerUntag];
