import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { arg, defineCommand, type ArgsOf } from '../../src/core/command.js';
import { InputError, PlatformError, WxopsError } from '../../src/core/errors.js';
import { executePlan } from '../../src/core/execute-plan.js';
import { t, type Text } from '../../src/core/i18n.js';
import type { OrgTree } from '../../src/core/org.js';
import type { Plan, PlanStep } from '../../src/core/plan.js';
import type { CommandContext } from '../../src/core/context.js';
import { message } from '../../src/core/result.js';
import { normalizeMobile } from './fields.js';
import type { SheetMember } from './sheet.js';

/**
 * Imports keep this many platform calls in flight — the client's per-API cap, so the client's limiter
 * (not this loop) is what holds wxops under the platform's concurrency limit; 45033/45009 are still
 * handled by the client.
 */
export const IMPORT_CONCURRENCY = 12;

type RowAction = 'create' | 'update' | 'unchanged' | 'invalid';

interface RowPlan {
  row: number;
  userid: string;
  name: string;
  action: RowAction;
  errors: Text[];
  changes?: string[];
  step?: PlanStep;
}

interface Analysis {
  file: string;
  warnings: Text[];
  rows: RowPlan[];
  departments: number[];
}

const COMPARED = ['name', 'mobile', 'email', 'position', 'gender', 'alias', 'telephone', 'address'] as const;

const params = {
  file: arg(z.string().min(1), t('.xlsx 或 .csv 文件（用 member template 生成模板）', '.xlsx or .csv file (member template writes one)'), {
    placeholder: 'file',
    complete: 'file',
  }),
};
type ImportArgs = ArgsOf<typeof params>;

const analyses = new WeakMap<object, Analysis>();

async function analyse(ctx: CommandContext, file: string): Promise<Analysis> {
  const { readMemberSheet } = await import('./sheet.js');
  const sheet = await readMemberSheet(resolvePath(file));
  const org = await ctx.org();
  const existing = await (await ctx.contacts()).listUsers(org.root!.id, { fetchChild: true });
  const byUserid = new Map(existing.map((u) => [u.userid.toLowerCase(), u]));
  const byMobile = new Map(existing.filter((u) => u.mobile).map((u) => [normalizeMobile(u.mobile!), u.userid]));
  const byEmail = new Map(existing.filter((u) => u.email).map((u) => [u.email!.toLowerCase(), u.userid]));
  const departments = new Set<number>();

  const rows: RowPlan[] = sheet.rows.map((r) => {
    const m = r.member;
    const plan: RowPlan = { row: r.row, userid: m?.userid ?? '', name: m?.name ?? '', action: 'invalid', errors: [...r.errors] };
    if (!m || plan.errors.length) return plan;
    const deptIds = resolveRowDepartments(org, m, plan);
    const current = byUserid.get(m.userid.toLowerCase());
    const mobileOwner = m.mobile ? byMobile.get(normalizeMobile(m.mobile)) : undefined;
    if (mobileOwner && mobileOwner.toLowerCase() !== m.userid.toLowerCase()) {
      plan.errors.push(t('第 {row} 行：手机号 {m} 已被成员 {u} 使用。', 'Row {row}: the mobile {m} already belongs to {u}.', { row: r.row, m: m.mobile, u: mobileOwner }));
    }
    const emailOwner = m.email ? byEmail.get(m.email.toLowerCase()) : undefined;
    if (emailOwner && emailOwner.toLowerCase() !== m.userid.toLowerCase()) {
      plan.errors.push(t('第 {row} 行：邮箱 {e} 已被成员 {u} 使用。', 'Row {row}: the email {e} already belongs to {u}.', { row: r.row, e: m.email, u: emailOwner }));
    }
    if (plan.errors.length || !deptIds) return plan;
    deptIds.forEach((d) => departments.add(d));
    const desired: Record<string, unknown> = { name: m.name, mobile: m.mobile, email: m.email, position: m.position, gender: m.gender, alias: m.alias, telephone: m.telephone, address: m.address };
    if (!current) {
      plan.action = 'create';
      plan.step = {
        api: 'user/create',
        method: 'POST',
        secret: 'contacts',
        row: r.row,
        body: { userid: m.userid, ...defined(desired), department: deptIds, to_invite: false },
        describe: t('第 {row} 行：创建 {u}', 'row {row}: create {u}', { row: r.row, u: m.userid }),
      };
      return plan;
    }
    plan.userid = current.userid;
    const changes: Record<string, unknown> = {};
    for (const key of COMPARED) {
      const want = desired[key];
      if (want !== undefined && want !== (current as unknown as Record<string, unknown>)[key]) changes[key] = want;
    }
    const have = [...(current.department ?? [])].sort((a, b) => a - b);
    const wantDepts = [...deptIds].sort((a, b) => a - b);
    if (have.join(',') !== wantDepts.join(',')) changes.department = deptIds;
    plan.changes = Object.keys(changes);
    if (plan.changes.length === 0) {
      plan.action = 'unchanged';
      return plan;
    }
    plan.action = 'update';
    plan.step = {
      api: 'user/update',
      method: 'POST',
      secret: 'contacts',
      row: r.row,
      body: { userid: current.userid, ...changes },
      describe: t('第 {row} 行：更新 {u}（{f}）', 'row {row}: update {u} ({f})', { row: r.row, u: current.userid, f: plan.changes.join(', ') }),
    };
    return plan;
  });
  return { file, warnings: sheet.warnings, rows, departments: [...departments] };
}

function resolveRowDepartments(org: OrgTree, m: SheetMember, plan: RowPlan): number[] | undefined {
  const ids: number[] = [];
  for (const path of m.departmentPaths) {
    try {
      ids.push(org.resolve(path).id);
    } catch (err) {
      if (!(err instanceof WxopsError)) throw err;
      plan.errors.push({ zh: `第 ${plan.row} 行：${err.text.zh}`, en: `Row ${plan.row}: ${err.text.en}` });
    }
  }
  return ids.length === m.departmentPaths.length ? [...new Set(ids)] : undefined;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));
}

function counts(rows: RowPlan[]): Record<RowAction, number> {
  const c: Record<RowAction, number> = { create: 0, update: 0, unchanged: 0, invalid: 0 };
  for (const r of rows) c[r.action]++;
  return c;
}

export const memberImport = defineCommand({
  name: 'member import',
  alias: '成员 导入',
  summary: t('从 Excel/CSV 批量导入成员（先校验全部行）', 'Import members from Excel/CSV (every row is checked first)'),
  details: t(
    '读取企业微信导入模板格式的 .xlsx 或 .csv（UTF-8 或 GBK）。先校验每一行并显示计划：新建 / 更新 / 不变 / 无效；有任何无效行时不写入任何数据。中断后重新运行会从未完成的行继续，不会重复创建。',
    'Reads the WeCom import template layout from .xlsx or .csv (UTF-8 or GBK). Every row is checked first and the plan shown: create / update / unchanged / invalid; if any row is invalid nothing is written. Re-running after an interruption completes the remaining rows without duplicates.',
  ),
  examples: ['member import 新员工.xlsx --dry-run', 'member import 新员工.xlsx'],
  params,
  action: 'member.import',
  attributes: ['file', 'departments', 'rows'],
  mutates: true,
  async resolve(ctx, a: ImportArgs) {
    const analysis = await analyse(ctx, a.file);
    analyses.set(a, analysis);
    return { file: a.file, departments: analysis.departments, rows: analysis.rows.length };
  },
  async plan(_ctx, a: ImportArgs): Promise<Plan> {
    const analysis = analyses.get(a)!;
    const invalid = analysis.rows.filter((r) => r.action === 'invalid');
    if (invalid.length) {
      const shown = invalid.flatMap((r) => r.errors).slice(0, 20);
      const more = invalid.flatMap((r) => r.errors).length - shown.length;
      throw new InputError(
        'IMPORT_INVALID_ROWS',
        {
          zh: `${analysis.file} 有 ${invalid.length} 行无效，未写入任何数据：\n${shown.map((e) => `- ${e.zh}`).join('\n')}${more > 0 ? `\n…另有 ${more} 个错误` : ''}`,
          en: `${analysis.file} has ${invalid.length} invalid rows; nothing was written:\n${shown.map((e) => `- ${e.en}`).join('\n')}${more > 0 ? `\n…and ${more} more errors` : ''}`,
        },
        { rows: invalid.map((r) => ({ row: r.row, userid: r.userid, errors: r.errors.map((e) => e.en) })) },
      );
    }
    const c = counts(analysis.rows);
    return {
      summary: t('导入 {f}：新建 {c} 人，更新 {u} 人，不变 {n} 人，无效 {i} 行', 'Import {f}: create {c}, update {u}, unchanged {n}, invalid {i}', {
        f: analysis.file,
        c: c.create,
        u: c.update,
        n: c.unchanged,
        i: c.invalid,
      }),
      notes: analysis.warnings.length ? analysis.warnings : undefined,
      steps: analysis.rows.flatMap((r) => (r.step ? [r.step] : [])),
    };
  },
  async run(ctx, a: ImportArgs, plan) {
    const analysis = analyses.get(a)!;
    const outcomes = await executePlan(ctx, plan!, { concurrency: IMPORT_CONCURRENCY, continueOnError: true });
    const byRow = new Map(outcomes.map((o) => [o.step.row!, o]));
    const report = analysis.rows.map((r) => {
      const o = byRow.get(r.row);
      // A create whose answer was lost may have succeeded; the platform then says "exists" (60102).
      const alreadyThere = o && !o.ok && o.error instanceof PlatformError && o.error.errcode === 60102 && r.action === 'create';
      const ok = !o || o.ok || alreadyThere;
      return {
        row: r.row,
        userid: r.userid,
        name: r.name,
        action: r.action,
        result: ok ? (alreadyThere ? 'exists' : 'ok') : 'failed',
        error: ok ? undefined : o!.error!.text.en,
        errorText: ok ? undefined : o!.error!.text,
      };
    });
    const failed = report.filter((r) => r.result === 'failed');
    const c = counts(analysis.rows);
    const actionText: Record<RowAction, Text> = {
      create: t('新建', 'create'),
      update: t('更新', 'update'),
      unchanged: t('不变', 'unchanged'),
      invalid: t('无效', 'invalid'),
    };
    const rows = report
      .filter((r) => r.action !== 'unchanged')
      .map((r) => ({
        row: r.row,
        userid: r.userid,
        name: r.name,
        action: actionText[r.action][ctx.lang],
        result: r.result === 'failed' ? `✗ ${r.errorText![ctx.lang]}` : r.result === 'exists' ? (ctx.lang === 'zh' ? '✓ 已存在' : '✓ already there') : '✓',
      }));
    const succeeded = (action: RowAction) => report.filter((r) => r.action === action && r.result !== 'failed').length;
    const data = {
      file: analysis.file,
      created: succeeded('create'),
      updated: succeeded('update'),
      unchanged: c.unchanged,
      failed: failed.length,
      rows: report.map(({ errorText: _e, ...r }) => r),
    };
    if (failed.length) {
      throw new WxopsError(
        'IMPORT_PARTIAL',
        'failed',
        {
          zh: `导入完成，但有 ${failed.length} 行失败：${failed
            .slice(0, 10)
            .map((f) => `第 ${f.row} 行 ${f.userid}：${f.errorText!.zh}`)
            .join('；')}。修正后重新运行同一命令即可补齐，不会重复创建。`,
          en: `Import finished but ${failed.length} rows failed: ${failed
            .slice(0, 10)
            .map((f) => `row ${f.row} ${f.userid}: ${f.errorText!.en}`)
            .join('; ')}. Fix them and run the same command again; nothing will be duplicated.`,
        },
        data,
      );
    }
    return {
      data,
      view: {
        type: 'sections',
        sections: [
          ...(rows.length
            ? [
                {
                  type: 'table' as const,
                  columns: [
                    { key: 'row', title: t('行', 'row'), align: 'right' as const },
                    { key: 'userid', title: t('帐号', 'userid') },
                    { key: 'name', title: t('姓名', 'name') },
                    { key: 'action', title: t('操作', 'action') },
                    { key: 'result', title: t('结果', 'result') },
                  ],
                  rows,
                },
              ]
            : []),
          {
            type: 'message',
            text: t('导入完成：新建 {c} 人，更新 {u} 人，不变 {n} 人。', 'Import done: created {c}, updated {u}, unchanged {n}.', { c: c.create, u: c.update, n: c.unchanged }),
          },
        ],
      },
    };
  },
});

export const memberTemplate = defineCommand({
  name: 'member template',
  alias: '成员 模板',
  summary: t('生成批量导入用的 Excel 模板', 'Write the Excel template for member import'),
  examples: ['member template 导入模板.xlsx'],
  params: {
    file: arg(
      z.string().refine((f) => f.toLowerCase().endsWith('.xlsx'), { message: '模板文件名须以 .xlsx 结尾 / the template file name must end in .xlsx' }),
      t('要写入的 .xlsx 文件', '.xlsx file to write'),
      { placeholder: 'file.xlsx', complete: 'file' },
    ),
  },
  action: 'member.template',
  mutates: false,
  async run(_ctx, a) {
    const { writeMemberTemplate } = await import('./sheet.js');
    const path = resolvePath(a.file);
    await writeMemberTemplate(path);
    return message(t('已写入导入模板：{p}', 'Wrote the import template: {p}', { p: path }), { file: path });
  },
});

