import { z } from 'zod';
import { arg, defineCommand, flag, option, type ArgsOf } from '../../src/core/command.js';
import type { CommandContext } from '../../src/core/context.js';
import { InputError, WxopsError } from '../../src/core/errors.js';
import { t, type Text } from '../../src/core/i18n.js';
import type { Plan } from '../../src/core/plan.js';
import { findBackup, KEY_ENV, parseKey } from '../../src/backup/format.js';
import { analyseRestore, executeRestore, parseParts, restorePlan, type ItemKind, type ItemReport, type RestoreAnalysis } from '../../src/backup/restore.js';

/** `backup restore <id>`: the calls that bring the live state back to a backup, approved as one plan. */
const params = {
  id: arg(z.string().min(1), t('备份 id（backup list 可查）', 'backup id (see backup list)'), { placeholder: 'id' }),
  only: option(z.string().optional(), t('只恢复这些部分：contacts、customers、mp、wxops（逗号分隔）', 'only these parts: contacts, customers, mp, wxops (comma-separated)'), { placeholder: 'parts' }),
  deleteNewer: flag(z.boolean().default(false), t('也删除备份之后新增的标签成员、客户标签、关注者标签（默认保留）', 'also remove tag members, customer tags and follower tags added since the backup (kept by default)')),
};
type RestoreArgs = ArgsOf<typeof params>;

const analyses = new WeakMap<object, RestoreAnalysis>();

function key(ctx: CommandContext): Buffer | undefined {
  return parseKey(ctx.session.runtime.env[KEY_ENV]);
}

const KIND: Record<ItemKind, Text> = {
  department: t('部门', 'department'),
  member: t('成员', 'member'),
  tag: t('标签', 'tag'),
  customer: t('客户关系', 'customer'),
  menu: t('菜单', 'menu'),
  mp_tag: t('关注者标签', 'follower tag'),
  store: t('wxops 数据', 'wxops state'),
  policy: t('策略文件', 'policy file'),
};

const RESULT: Record<ItemReport['result'], Text> = {
  created: t('✓ 已新建', '✓ created'),
  updated: t('✓ 已恢复', '✓ updated'),
  unchanged: t('不变', 'unchanged'),
  failed: t('✗ 失败', '✗ failed'),
};

/** Rows shown in a chat or terminal table; the data has every row. */
const SHOWN_ROWS = 200;

export const backupRestore = defineCommand({
  name: 'backup restore',
  alias: '备份 恢复',
  summary: t('按备份恢复：补建缺失的、恢复改动的（从不删除较新的数据）', 'Restore from a backup: recreate what is missing, restore what changed (never deletes newer data)'),
  details: t(
    '与线上对比后列出要调用的接口：补建部门（先上级，沿用原 id）、成员、标签，恢复成员信息、标签成员、客户标签与备注、公众号菜单和关注者标签；wxops 自身数据（存储、策略文件）在批准后写回本地。已不存在的客户关系无法通过接口重建，会列出需要客户重新添加的名单。备份之后新增的内容默认保留，--delete-newer 才移除标签成员等。中断后重新运行会从线上现状重新计算，只补未完成的部分，不会重复创建。',
    'Compares the backup with the live state and lists the calls: recreate departments (parents first, with their ids), members and tags; restore member fields, tag members, customer tags and remarks, the Official Account menu and follower tags; wxops’s own state (store, policy files) is written back locally on approval. A customer relation that no longer exists cannot be recreated through the API: those customers are listed as needing to add the member again. What was added since the backup is kept unless --delete-newer. Re-running after an interruption recomputes from the live state and completes the rest without duplicates.',
  ),
  examples: ['backup restore 20260105-020000 --dry-run', 'backup restore 20260105-020000 --only contacts', 'backup restore 20260105-020000 --only customers --delete-newer'],
  params,
  action: 'backup.restore',
  attributes: ['id', 'parts', 'delete_newer'],
  mutates: true,
  usesPlatform: true,
  async resolve(ctx, a: RestoreArgs) {
    const backup = findBackup(ctx.dataDir, a.id);
    const parts = parseParts(a.only);
    const analysis = await analyseRestore(ctx, backup.dir, backup.manifest, { parts, deleteNewer: a.deleteNewer, key: key(ctx) });
    analyses.set(a, analysis);
    return { id: backup.id, parts: analysis.parts, delete_newer: a.deleteNewer };
  },
  async plan(_ctx, a: RestoreArgs): Promise<Plan> {
    const analysis = analyses.get(a)!;
    const plan = restorePlan(analysis);
    if (plan.steps.length === 0 && analysis.local.length === 0) {
      const unchanged = Object.values(analysis.unchanged).reduce((s, n) => s + n, 0);
      const lost = analysis.notRestorable.length;
      throw new InputError(
        'NOTHING_TO_DO',
        t('线上已与备份 {id} 一致（{u} 项不变），无需恢复。{l}', 'The live state already matches the backup {id} ({u} items unchanged); nothing to restore.{l}', {
          id: analysis.id,
          u: unchanged,
          l: lost ? { zh: ` ${lost} 个客户关系已不存在，需要客户重新添加成员。`, en: ` ${lost} customer relations no longer exist and need the customer to add the member again.` } : '',
        }),
        { id: analysis.id, unchanged: analysis.unchanged, not_restorable: analysis.notRestorable },
      );
    }
    return plan;
  },
  async run(ctx, a: RestoreArgs, plan) {
    const analysis = analyses.get(a)!;
    const report = await executeRestore(ctx, analysis, plan!);
    const failed = report.filter((r) => r.result === 'failed');
    const tally = (result: ItemReport['result']) => report.filter((r) => r.result === result).length;
    const data = {
      id: analysis.id,
      parts: analysis.parts,
      created: tally('created'),
      updated: tally('updated'),
      unchanged: Object.values(analysis.unchanged).reduce((s, n) => s + n, 0),
      unchanged_by_kind: analysis.unchanged,
      failed: failed.length,
      not_restorable: analysis.notRestorable,
      rows: report.map(({ errorText: _e, ...r }) => r),
    };
    if (failed.length) {
      const list = (lang: 'zh' | 'en') =>
        failed
          .slice(0, 10)
          .map((f) => `${KIND[f.kind][lang]} ${f.key}${f.errcode !== undefined ? ` (${f.errcode})` : ''}: ${f.errorText![lang]}`)
          .join(lang === 'zh' ? '；' : '; ');
      throw new WxopsError(
        'RESTORE_PARTIAL',
        'failed',
        {
          zh: `恢复完成，但有 ${failed.length} 项失败：${list('zh')}${failed.length > 10 ? ' …' : ''}。问题解决后重新运行同一命令即可补齐，不会重复创建。`,
          en: `Restore finished but ${failed.length} items failed: ${list('en')}${failed.length > 10 ? ' …' : ''}. Run the same command again once fixed; nothing will be duplicated.`,
        },
        data,
      );
    }
    const rows = report.slice(0, SHOWN_ROWS).map((r) => ({
      kind: KIND[r.kind][ctx.lang],
      key: r.key,
      changes: r.changes?.join(', ') ?? '',
      result: RESULT[r.result][ctx.lang],
    }));
    const lost = analysis.notRestorable.length;
    return {
      data,
      view: {
        type: 'sections',
        sections: [
          {
            type: 'table',
            columns: [
              { key: 'kind', title: t('类别', 'kind') },
              { key: 'key', title: t('对象', 'item') },
              { key: 'changes', title: t('恢复内容', 'restored') },
              { key: 'result', title: t('结果', 'result') },
            ],
            rows,
            footer: report.length > SHOWN_ROWS ? t('…另有 {n} 项（见数据输出）', '…and {n} more (see the data output)', { n: report.length - SHOWN_ROWS }) : undefined,
          },
          {
            type: 'message',
            tone: lost ? 'warning' : 'success',
            text: t('恢复完成：新建 {c} 项，恢复 {u} 项，不变 {n} 项。{l}', 'Restore done: created {c}, updated {u}, unchanged {n}.{l}', {
              c: data.created,
              u: data.updated,
              n: data.unchanged,
              l: lost ? { zh: ` ${lost} 个客户关系已不存在，需要客户重新添加成员。`, en: ` ${lost} customer relations no longer exist; the customers need to add the member again.` } : '',
            }),
          },
        ],
      },
    };
  },
});
