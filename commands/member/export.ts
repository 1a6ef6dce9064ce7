import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { dirname, extname, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { arg, defineCommand, option } from '../../src/core/command.js';
import { InputError } from '../../src/core/errors.js';
import { formatTime, t } from '../../src/core/i18n.js';
import { message } from '../../src/core/result.js';
import type { User } from '../../src/platform/wecom/types.js';

/**
 * `member export`: restricted by the shipped policy (one named person, like `customer export`), audited
 * like every command, and the file's first line says who exported it and when.
 */
const COLUMNS = [
  ['帐号', 'userid'],
  ['姓名', 'name'],
  ['部门', 'departments'],
  ['职务', 'position'],
  ['手机', 'mobile'],
  ['邮箱', 'email'],
  ['性别', 'gender'],
  ['别名', 'alias'],
  ['座机', 'telephone'],
  ['状态', 'status'],
] as const;

const STATUS: Record<number, string> = { 1: '已激活', 2: '已禁用', 4: '未激活', 5: '已退出' };

export const memberExport = defineCommand({
  name: 'member export',
  alias: '成员 导出',
  summary: t('导出成员到 .xlsx 或 .csv（受限，留痕）', 'Export members to .xlsx or .csv (restricted, traced)'),
  details: t('默认整个公司；--dept 只导出该部门及其下级。文件第一行写明导出人和时间。', 'The whole company by default; --dept exports that department and below. The first line of the file says who exported it and when.'),
  examples: ['member export 成员.xlsx', 'member export 销售部.csv --dept 销售部'],
  params: {
    file: arg(z.string().regex(/\.(xlsx|csv)$/i, { message: '文件名要以 .xlsx 或 .csv 结尾 / the file must end in .xlsx or .csv' }), t('导出文件（.xlsx 或 .csv）', 'the file (.xlsx or .csv)'), { placeholder: 'file', complete: 'file' }),
    dept: option(z.string().min(1).optional(), t('部门（默认整个公司）', 'department (default: the whole company)'), { placeholder: 'dept', complete: 'dept' }),
  },
  action: 'member.export',
  attributes: ['departments', 'file'],
  mutates: false,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const dept = a.dept ? org.resolve(a.dept) : org.root!;
    return { departments: [dept.id], file: a.file };
  },
  async run(ctx, a, _plan, r) {
    const org = await ctx.org();
    const users = await (await ctx.contacts()).listUsers((r.departments as number[])[0]!, { fetchChild: true });
    if (users.length === 0) throw new InputError('NOTHING_TO_EXPORT', t('这个部门没有成员。', 'This department has no members.'));
    const path = resolvePath(a.file);
    mkdirSync(dirname(path), { recursive: true });
    const stamp = ctx.now();
    const provenance = `示例科技 成员导出 / member export — 导出人 exported by ${ctx.actor.userid}，${formatTime(stamp)}（${stamp.toISOString()}），wxops`;
    const toRow = (u: User) => [
      u.userid,
      u.name,
      (u.department ?? []).map((d) => org.path(d)).join('；'),
      u.position ?? '',
      u.mobile ?? '',
      u.email ?? '',
      u.gender === '1' ? '男' : u.gender === '2' ? '女' : '',
      u.alias ?? '',
      u.telephone ?? '',
      STATUS[u.status ?? 0] ?? String(u.status ?? ''),
    ];
    const header = COLUMNS.map(([zh, en]) => `${zh} ${en}`);
    if (extname(path).toLowerCase() === '.xlsx') {
      const { default: ExcelJS } = await import('exceljs');
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: path, useStyles: true });
      wb.creator = ctx.actor.userid;
      wb.created = stamp;
      const ws = wb.addWorksheet('成员');
      ws.addRow([provenance]).commit();
      const h = ws.addRow(header);
      h.font = { bold: true };
      h.commit();
      for (const u of users) ws.addRow(toRow(u)).commit();
      ws.commit();
      await wb.commit();
    } else {
      const out = createWriteStream(path, { encoding: 'utf8' });
      const line = (cells: string[]) => `${cells.map(csvCell).join(',')}\r\n`;
      out.write(`\uFEFF${line([provenance])}${line(header)}`);
      for (const u of users) if (!out.write(line(toRow(u)))) await once(out, 'drain');
      out.end();
      await once(out, 'finish');
    }
    return message(t('已导出 {n} 位成员到 {f}（导出人 {u}）。', 'Exported {n} members to {f} (by {u}).', { n: users.length, f: a.file, u: ctx.actor.userid }), {
      file: path,
      rows: users.length,
      exported_by: ctx.actor.userid,
      exported_at: stamp.toISOString(),
    });
  },
});

function csvCell(v: string): string {
  // A leading = + - @ would be a formula in a spreadsheet: neutralise it.
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
