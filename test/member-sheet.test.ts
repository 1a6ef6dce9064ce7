import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { readMemberSheet, writeMemberTemplate } from '../commands/member/sheet.js';
import { InputError } from '../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'wxops-sheet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (ext: string, content: string | Buffer) => {
  const p = join(dir, `f${n++}.${ext}`);
  writeFileSync(p, content);
  return p;
};
async function refusal(path: string): Promise<InputError> {
  const err = await readMemberSheet(path).catch((e) => e);
  expect(err).toBeInstanceOf(InputError);
  return err;
}

describe('member sheet: xlsx', () => {
  it('reads back the template it writes', async () => {
    const p = join(dir, 'sub', 'template.xlsx');
    await writeMemberTemplate(p);
    const sheet = await readMemberSheet(p);
    expect(sheet.format).toBe('xlsx');
    expect(sheet.headerRow).toBe(3);
    expect(sheet.rows).toHaveLength(1);
    expect(sheet.rows[0]!.errors).toEqual([]);
    expect(sheet.rows[0]!.member).toMatchObject({ userid: 'zhaoliu', name: '赵六', departmentPaths: ['销售部/华东区'], gender: '1' });
  });

  it('finds the header under a title, and normalises numbers, rich text, hyperlinks and formulas', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('成员');
    ws.addRow(['2026 年新员工']);
    ws.addRow([]);
    ws.addRow(['姓名*', '帐号（必填）', '手机', '邮箱', '部门　*', '职务', '备注']);
    ws.addRow([{ richText: [{ text: '钱' }, { text: '七' }] }, 'qianqi', 13800000001, { text: 'qianqi@example.com', hyperlink: 'mailto:qianqi@example.com' }, '销售部/华东区；市场部', { formula: '"销"&"售"', result: '销售' }, 'x']);
    const p = join(dir, 'rich.xlsx');
    await wb.xlsx.writeFile(p);
    const sheet = await readMemberSheet(p);
    expect(sheet.headerRow).toBe(3);
    expect(sheet.warnings.map((w) => w.zh).join()).toContain('备注');
    expect(sheet.rows[0]).toMatchObject({
      row: 4,
      errors: [],
      member: { name: '钱七', userid: 'qianqi', mobile: '13800000001', email: 'qianqi@example.com', departmentPaths: ['销售部/华东区', '市场部'], position: '销售' },
    });
  });
});

describe('member sheet: csv', () => {
  const csv = '姓名,帐号,手机,部门,职务\r\n"孙,八",sunba,13800000002,"市场部;技术部","工程师\n兼测试"\r\n';

  it.each([
    ['utf8', Buffer.from(csv, 'utf8'), 'utf8'],
    ['utf8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv, 'utf8')]), 'utf8'],
    ['gbk', iconv.encode(csv, 'gbk'), 'gbk'],
  ])('reads %s', async (_name, bytes, encoding) => {
    const sheet = await readMemberSheet(file('csv', bytes));
    expect(sheet.encoding).toBe(encoding);
    expect(sheet.rows[0]!.member).toMatchObject({ name: '孙,八', userid: 'sunba', departmentPaths: ['市场部', '技术部'], position: '工程师\n兼测试' });
  });

  it('reads English headers', async () => {
    const sheet = await readMemberSheet(file('csv', 'Name,UserID,Mobile,Email,Department\nLi Lei,lilei,,lilei@example.com,技术部\n'));
    expect(sheet.rows[0]!.member).toMatchObject({ name: 'Li Lei', userid: 'lilei', email: 'lilei@example.com', departmentPaths: ['技术部'] });
  });

  it('reports every invalid field with its row number and column', async () => {
    const lines = [
      '姓名,帐号,手机,邮箱,部门,性别',
      '张三,张三,13800000003,,技术部,男',
      `李四,${'a'.repeat(65)},13800000004,,技术部,男`,
      `${'名'.repeat(65)},wangwu,13800000005,,技术部,男`,
      '赵六,zhaoliu,abc,,技术部,男',
      '钱七,qianqi,,not-an-email,技术部,男',
      '孙八,sunba,13800000006,,技术部,未知',
      '周九,zhoujiu,13800000007,,,男',
      '吴十,wushi,,,技术部,女',
    ];
    const sheet = await readMemberSheet(file('csv', lines.join('\n')));
    const byRow = Object.fromEntries(sheet.rows.map((r) => [r.row, r.errors.map((e) => e.zh).join(' ')]));
    expect(byRow[2]).toMatch(/第 2 行 “帐号”/);
    expect(byRow[3]).toMatch(/第 3 行 “帐号”.*64 字节/);
    expect(byRow[4]).toMatch(/第 4 行 “姓名”.*64 个字符/);
    expect(byRow[5]).toMatch(/第 5 行 “手机”/);
    expect(byRow[6]).toMatch(/第 6 行 “邮箱”/);
    expect(byRow[7]).toMatch(/第 7 行 “性别”/);
    expect(byRow[8]).toMatch(/第 8 行：“部门” 不能为空/);
    expect(byRow[9]).toMatch(/第 9 行：手机和邮箱至少要填一个/);
  });

  it('finds duplicates inside the file: userid in any case, mobile in any format, email in any case', async () => {
    const lines = [
      '姓名,帐号,手机,邮箱,部门',
      '甲,ZhangSan,+86 138-0000-0009,a@example.com,技术部',
      '乙,zhangsan,13900000000,,技术部',
      '丙,bing,13800000009,,技术部',
      '丁,ding,,A@Example.com,技术部',
    ];
    const sheet = await readMemberSheet(file('csv', lines.join('\n')));
    const text = (row: number) => sheet.rows.find((r) => r.row === row)!.errors.map((e) => e.zh).join(' ');
    expect(sheet.rows.find((r) => r.row === 2)!.errors).toEqual([]);
    expect(text(3)).toContain('第 3 行与第 2 行的帐号 zhangsan 重复');
    expect(text(4)).toContain('与第 2 行的手机');
    expect(text(5)).toContain('与第 2 行的邮箱');
  });
});

describe('member sheet: refusals', () => {
  it('refuses what is not a spreadsheet', async () => {
    expect((await refusal(file('xlsx', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 1])))).code).toBe('NOT_A_SPREADSHEET');
    expect((await refusal(file('csv', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256))))).code).toBe('NOT_A_SPREADSHEET');
    expect((await refusal(file('xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])))).code).toBe('OLD_EXCEL');
    expect((await refusal(file('xlsx', Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3])))).code).toBe('NOT_A_SPREADSHEET');
  });

  it('refuses empty, header-only, header-less and column-less files and missing paths', async () => {
    expect((await refusal(file('csv', ''))).code).toBe('EMPTY_FILE');
    expect((await refusal(file('csv', '姓名,帐号,手机,部门\n'))).code).toBe('NO_DATA_ROWS');
    expect((await refusal(file('csv', '名字,ID\n张三,zs\n'))).code).toBe('NO_HEADER_ROW');
    const missing = await refusal(file('csv', '姓名,帐号,手机\n张三,zs,13800000010\n'));
    expect(missing.code).toBe('MISSING_COLUMN');
    expect(missing.text.zh).toContain('部门');
    expect((await refusal(join(dir, 'nope.xlsx'))).code).toBe('FILE_NOT_FOUND');
  });

  it('refuses a 100,000-row file, saying the limit', async () => {
    const rows = ['姓名,帐号,手机,部门'];
    for (let i = 0; i < 100_000; i++) rows.push(`人${i},u${i},1380${String(i).padStart(7, '0')},技术部`);
    const err = await refusal(file('csv', rows.join('\n')));
    expect(err.code).toBe('TOO_MANY_ROWS');
    expect(err.text.zh).toContain('10000');
  });
});
