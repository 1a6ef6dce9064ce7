import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, extname, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { arg, defineCommand, option } from '../../src/core/command.js';
import { InputError } from '../../src/core/errors.js';
import { formatTime, t } from '../../src/core/i18n.js';
import { message } from '../../src/core/result.js';
import type { BatchRow } from '../../src/platform/wecom/customers.js';
import { resolveCorpTags, scope, scopeParams, tagsOf } from './resolve.js';

/**
 * `customer export`: restricted by the shipped policy (one named person), audited like every command,
 * and the file itself says who exported it and when. Rows are written as pages arrive, so a large
 * company is never held in memory whole.
 */
const COLUMNS = [
  ['external_userid', 'external_userid'],
  ['客户', 'name'],
  ['类型', 'type'],
  ['企业', 'corp_name'],
  ['跟进成员', 'userid'],
  ['备注', 'remark'],
  ['描述', 'description'],
  ['标签', 'tags'],
  ['添加方式', 'add_way'],
  ['添加时间', 'createtime'],
  ['渠道 state', 'state'],
] as const;

export const customerExport = defineCommand({
  name: 'customer export',
  alias: '客户 导出',
  summary: t('导出客户到 .xlsx 或 .csv（受限，留痕）', 'Export customers to .xlsx or .csv (restricted, traced)'),
  details: t('每行是一位客户与一位跟进成员的关系。文件第一行写明导出人和时间。', 'One row per customer and owner. The first line of the file says who exported it and when.'),
  examples: ['customer export 客户.xlsx --all', 'customer export 华东客户.csv --dept 华东区 --tag 高潜力客户'],
  params: {
    file: arg(z.string().regex(/\.(xlsx|csv)$/i, { message: '文件名要以 .xlsx 或 .csv 结尾 / the file must end in .xlsx or .csv' }), t('导出文件（.xlsx 或 .csv）', 'the file (.xlsx or .csv)'), { placeholder: 'file', complete: 'file' }),
    ...scopeParams,
    tag: option(z.string().optional(), t('只导出带这个标签的', 'only customers with this tag'), { placeholder: 'tag' }),
  },
  action: 'customer.export',
  attributes: ['owners', 'departments', 'file'],
  mutates: false,
  async resolve(ctx, a) {
    const s = await scope(ctx, a);
    return { owners: s.owners, departments: s.departments, file: a.file };
  },
  async run(ctx, a, _plan, r) {
    const api = await ctx.customers();
    const groups = await api.corpTags();
    const tagFilter = a.tag ? resolveCorpTags(groups, [a.tag])[0]!.id : undefined;
    const tagName = new Map(groups.flatMap((g) => g.tag.map((x) => [x.id, `${g.group_name}/${x.name}`] as const)));
    const path = resolvePath(a.file);
    mkdirSync(dirname(path), { recursive: true });
    const stamp = ctx.now();
    const provenance = `示例科技 客户导出 / customer export — 导出人 exported by ${ctx.actor.userid}，${formatTime(stamp)}（${stamp.toISOString()}），wxops`;
    const toRow = (x: BatchRow) => [
      x.external_contact.external_userid,
      x.external_contact.name,
      x.external_contact.type === 2 ? '企业微信' : '微信',
      x.external_contact.corp_name ?? '',
      x.follow_info.userid,
      x.follow_info.remark ?? '',
      x.follow_info.description ?? '',
      tagsOf(x.follow_info)
        .map((id) => tagName.get(id) ?? id)
        .join('；'),
      String(x.follow_info.add_way ?? ''),
      x.follow_info.createtime ? formatTime(new Date(x.follow_info.createtime * 1000)) : '',
      x.follow_info.state ?? '',
    ];
    let rows = 0;
    const keep = (x: BatchRow) => !tagFilter || tagsOf(x.follow_info).includes(tagFilter);
    if (extname(path).toLowerCase() === '.xlsx') {
      const { default: ExcelJS } = await import('exceljs');
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: path, useStyles: true });
      wb.creator = ctx.actor.userid;
      wb.created = stamp;
      const ws = wb.addWorksheet('客户');
      ws.addRow([provenance]).commit();
      const header = ws.addRow(COLUMNS.map(([zh, en]) => `${zh} ${en}`));
      header.font = { bold: true };
      header.commit();
      await api.forEachPage(r.owners as string[], (page) => {
        for (const x of page) if (keep(x)) (ws.addRow(toRow(x)).commit(), rows++);
      });
      ws.commit();
      await wb.commit();
    } else {
      const out = createWriteStream(path, { encoding: 'utf8' });
      const line = (cells: string[]) => `${cells.map(csvCell).join(',')}\r\n`;
      // A BOM, so Excel opens the Chinese correctly.
      out.write(`\uFEFF${line([provenance])}${line(COLUMNS.map(([zh, en]) => `${zh} ${en}`))}`);
      const pending: string[] = [];
      await api.forEachPage(r.owners as string[], (page) => {
        for (const x of page) if (keep(x)) (pending.push(line(toRow(x))), rows++);
        if (pending.length) out.write(pending.splice(0).join(''));
      });
      out.end();
      await once(out, 'finish');
    }
    if (rows === 0) throw new InputError('NOTHING_TO_EXPORT', t('没有符合条件的客户，文件 {f} 只有表头。', 'No customer matched; {f} has only the header.', { f: a.file }));
    return message(t('已导出 {n} 行到 {f}（导出人 {u}）。', 'Exported {n} rows to {f} (by {u}).', { n: rows, f: a.file, u: ctx.actor.userid }), { file: path, rows, exported_by: ctx.actor.userid, exported_at: stamp.toISOString() });
  },
});

function csvCell(v: string): string {
  // A leading = + - @ would be a formula in a spreadsheet: neutralise it.
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
