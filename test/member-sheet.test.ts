import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { MEMBER_SHEET_COLUMNS, readMemberSheet, writeMemberTemplate, type MemberSheet } from '../commands/member/sheet.js';
import { InputError } from '../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'wxops-sheet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (ext: string, content: string | Buffer) => {
  const p = join(dir, `f${n++}.${ext}`);
  writeFileSync(p, content);
  return p;
};
const csv = (lines: string[]) => file('csv', lines.join('\r\n'));
async function refusal(path: string, opts?: { maxRows?: number }): Promise<InputError> {
  const err = await readMemberSheet(path, opts).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}
async function xlsx(rows: unknown[][], setup?: (ws: ExcelJS.Worksheet) => void): Promise<string> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('成员');
  for (const r of rows) ws.addRow(r);
  setup?.(ws);
  const p = join(dir, `f${n++}.xlsx`);
  await wb.xlsx.writeFile(p);
  return p;
}
const errorsOf = (sheet: MemberSheet, row: number, lang: 'zh' | 'en' = 'zh') =>
  sheet.rows.find((r) => r.row === row)!.errors.map((e) => e[lang]).join(' | ');

/** A minimal zip (stored, one entry) that is not a workbook, like a .docx would be. */
function zipOf(name: string, content: string): Buffer {
  const data = Buffer.from(content);
  const nameBytes = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  const localPart = Buffer.concat([local, nameBytes, data]);
  const centralPart = Buffer.concat([central, nameBytes]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralPart.length, 12);
  end.writeUInt32LE(localPart.length, 16);
  return Buffer.concat([localPart, centralPart, end]);
}

describe('member sheet: template', () => {
  it('writes a WeCom-like template (parent folders created) and reads it back', async () => {
    const p = join(dir, 'sub', 'deeper', 'template.xlsx');
    await writeMemberTemplate(p);
    const sheet = await readMemberSheet(p);
    expect(sheet.format).toBe('xlsx');
    expect(sheet.headerRow).toBe(3);
    expect(sheet.rows).toHaveLength(1);
    expect(sheet.rows[0]!.member).toEqual({
      userid: 'zhaoliu',
      name: '赵六',
      mobile: '13800000001',
      email: 'zhaoliu@example.com',
      departmentPaths: ['销售部/华东区'],
      position: '销售代表',
      gender: '1',
    });
    // The example row left in would create a made-up member, so it blocks the import.
    expect(sheet.rows[0]!.errors.map((e) => e.zh).join()).toContain('第 4 行是模板自带的示例');

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(p);
    const ws = wb.worksheets[0]!;
    const header = ws.getRow(3);
    const mobileCol = MEMBER_SHEET_COLUMNS.findIndex((c) => c.field === 'mobile') + 1;
    expect(header.getCell(1).value).toBe('姓名*');
    expect(header.getCell(1).font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 3 });
    expect(ws.getColumn(mobileCol).numFmt).toBe('@');
    expect(ws.getColumn(mobileCol).width).toBeGreaterThan(10);
    const notes = String(ws.getRow(2).getCell(1).value);
    expect(notes).toContain('；');
    expect(notes).toContain('销售部/华东区');
    expect(notes).toMatch(/男 或 女/);
    expect(notes).toMatch(/姓名、帐号、部门/);
  });

  it('overwrites an existing file', async () => {
    const p = file('xlsx', 'old content');
    await writeMemberTemplate(p);
    expect((await readMemberSheet(p)).rows).toHaveLength(1);
  });
});

describe('member sheet: xlsx', () => {
  it('finds the header under a title, and normalises numbers, rich text, hyperlinks and formulas', async () => {
    const p = await xlsx(
      [
        ['2026 年新员工'],
        [],
        ['姓名*', '帐号（必填）', '手机', '邮箱', '部门　*', '职务', '备注', '帐号'],
        [
          { richText: [{ text: '钱' }, { text: '七', font: { bold: true } }] },
          'qianqi',
          13800000001,
          { text: 'qianqi@example.com', hyperlink: 'mailto:qianqi@example.com' },
          '销售部/华东区；市场部',
          { formula: '"销"&"售"', result: '销售' },
          'x',
        ],
        ['孙八', 1234, 13900000002, '', '技术部 ; 测试部'],
      ],
      (ws) => {
        ws.getCell('B5').numFmt = '000000';
      },
    );
    const sheet = await readMemberSheet(p);
    expect(sheet.headerRow).toBe(3);
    const warnings = sheet.warnings.map((w) => w.zh).join(' | ');
    expect(warnings).toContain('未知的列“备注”');
    expect(warnings).toContain('“帐号”列出现了两次');
    expect(sheet.rows[0]).toEqual({
      row: 4,
      errors: [],
      member: { name: '钱七', userid: 'qianqi', mobile: '13800000001', email: 'qianqi@example.com', departmentPaths: ['销售部/华东区', '市场部'], position: '销售' },
    });
    expect(sheet.rows[1]).toMatchObject({ row: 5, errors: [], member: { userid: '001234', mobile: '13900000002', departmentPaths: ['技术部', '测试部'] } });
  });

  it('reports errors with the spreadsheet row numbers, skipping blank rows', async () => {
    const p = await xlsx([['说明'], ['姓名', '帐号', '手机', '部门'], ['甲', 'jia', 13800000011, '技术部'], [], [' ', '', null, ''], ['乙', 'yi', 'abc', '技术部']]);
    const sheet = await readMemberSheet(p);
    expect(sheet.headerRow).toBe(2);
    expect(sheet.rows.map((r) => r.row)).toEqual([3, 6]);
    expect(errorsOf(sheet, 6)).toMatch(/^第 6 行“手机”（abc）：手机号格式不正确/);
  });

  it('refuses more rows than maxRows', async () => {
    const p = await xlsx([['姓名', '帐号', '手机', '部门'], ...Array.from({ length: 30 }, (_, i) => [`人${i}`, `u${i}`, 13800000100 + i, '技术部'])]);
    expect((await readMemberSheet(p, { maxRows: 30 })).rows).toHaveLength(30);
    const err = await refusal(p, { maxRows: 29 });
    expect(err.code).toBe('TOO_MANY_ROWS');
    expect(err.text.zh).toContain('29');
  });
});

describe('member sheet: csv', () => {
  const text = '姓名,帐号,手机,部门,职务\r\n"孙,八",sunba,13800000002,"市场部;技术部","工程师\n兼测试"\r\n';

  it.each([
    ['utf8', Buffer.from(text, 'utf8'), 'utf8'],
    ['utf8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]), 'utf8'],
    ['gbk', iconv.encode(text, 'gbk'), 'gbk'],
  ])('reads %s with quoted commas and newlines', async (_name, bytes, encoding) => {
    const sheet = await readMemberSheet(file('csv', bytes));
    expect(sheet.format).toBe('csv');
    expect(sheet.encoding).toBe(encoding);
    expect(sheet.headerRow).toBe(1);
    expect(sheet.rows).toEqual([
      { row: 2, errors: [], member: { name: '孙,八', userid: 'sunba', mobile: '13800000002', departmentPaths: ['市场部', '技术部'], position: '工程师\n兼测试' } },
    ]);
  });

  it('reads a GBK file with a title line above the header, whatever the extension', async () => {
    const bytes = iconv.encode('成员导入模板,,,\r\n姓名,账号,个人邮箱,部门,性别\r\n王芳,wangfang,wangfang@example.com,销售部/华东区；市场部,女\r\n', 'gbk');
    const sheet = await readMemberSheet(file('txt', bytes));
    expect(sheet).toMatchObject({ format: 'csv', encoding: 'gbk', headerRow: 2 });
    expect(sheet.rows[0]!.member).toMatchObject({ userid: 'wangfang', email: 'wangfang@example.com', gender: '2', departmentPaths: ['销售部/华东区', '市场部'] });
  });

  it('reads English headers in any case, with required marks', async () => {
    const sheet = await readMemberSheet(csv(['Name (required),UserID*,Mobile,E-mail,DEPARTMENT *,Gender,Telephone,Address,Alias,Title', 'Li Lei,lilei,,lilei@example.com,技术部,male,010-12345678,北京,Ray,Engineer']));
    expect(sheet.warnings).toEqual([]);
    expect(sheet.rows[0]!.member).toEqual({
      name: 'Li Lei',
      userid: 'lilei',
      email: 'lilei@example.com',
      departmentPaths: ['技术部'],
      gender: '1',
      telephone: '010-12345678',
      address: '北京',
      alias: 'Ray',
      position: 'Engineer',
    });
  });

  it('numbers rows as Excel shows them: multi-line cells are one row, blank lines count', async () => {
    const sheet = await readMemberSheet(csv(['姓名,帐号,手机,部门,地址', '甲,jia,13800000021,技术部,"第一行', '第二行"', '', '乙,yi,bad,技术部,', ',,,,']));
    expect(sheet.rows.map((r) => r.row)).toEqual([2, 4]);
    expect(errorsOf(sheet, 4)).toContain('第 4 行“手机”');
  });

  it('reports every invalid field with its row number, column and rule, in both languages', async () => {
    const sheet = await readMemberSheet(
      csv([
        '姓名,帐号,手机,邮箱,部门,性别,别名,座机,职务',
        '张三,张三,13800000003,,技术部,男,,,',
        `李四,${'a'.repeat(65)},13800000004,,技术部,男,,,`,
        `${'名'.repeat(65)},wangwu,13800000005,,技术部,男,,,`,
        '赵六,zhaoliu,abc,,技术部,男,,,',
        '钱七,qianqi,,not-an-email,技术部,男,,,',
        '孙八,sunba,13800000006,,技术部,未知,,,',
        '周九,zhoujiu,13800000007,,,男,,,',
        '吴十,wushi,,,技术部,女,,,',
        ',,13800000008,,技术部,,,,',
        `郑一,zhengyi,1.38E+10,,技术部,,${'a'.repeat(65)},12ab,${'职'.repeat(129)}`,
        `王二,wanger,13800000009,,${Array.from({ length: 101 }, (_, i) => `部门${i}`).join('；')},,,,`,
      ]),
    );
    const zh = (row: number) => errorsOf(sheet, row);
    expect(zh(2)).toMatch(/^第 2 行“帐号”（张三）：帐号只能包含字母、数字和 _ - @ \./);
    expect(errorsOf(sheet, 2, 'en')).toMatch(/^Row 2, “帐号” \(张三\): userid may only contain/);
    expect(zh(3)).toMatch(/第 3 行“帐号”.*64 字节/);
    expect(zh(4)).toMatch(/第 4 行“姓名”.*64 个字符/);
    expect(zh(5)).toMatch(/第 5 行“手机”（abc）：手机号格式不正确/);
    expect(zh(6)).toMatch(/第 6 行“邮箱”（not-an-email）：邮箱格式不正确/);
    expect(zh(7)).toMatch(/第 7 行“性别”（未知）：性别只能是 男 或 女/);
    expect(zh(8)).toBe('第 8 行：“部门”不能为空。');
    expect(zh(9)).toBe('第 9 行：“手机”和“邮箱”至少要填一个。');
    expect(errorsOf(sheet, 9, 'en')).toBe('Row 9: fill in at least one of “手机” and “邮箱”.');
    expect(zh(10)).toBe('第 10 行：“姓名”不能为空。 | 第 10 行：“帐号”不能为空。');
    expect(zh(11)).toMatch(/第 11 行“手机”：1\.38E\+10 是科学计数法/);
    expect(zh(11)).toMatch(/第 11 行“别名”.*1–64 个字符/);
    expect(zh(11)).toMatch(/第 11 行“座机”（12ab）/);
    expect(zh(11)).toMatch(/第 11 行“职务”.*128 个字符/);
    expect(zh(12)).toMatch(/第 12 行“部门”：一个成员最多属于 100 个部门，这里写了 101 个/);
    // Rows whose userid and name are valid still carry the member, so the importer can name them.
    expect(sheet.rows.find((r) => r.row === 5)!.member?.userid).toBe('zhaoliu');
    expect(sheet.rows.find((r) => r.row === 2)!.member).toBeUndefined();
  });

  it('names the column as the file writes it', async () => {
    const sheet = await readMemberSheet(csv(['Name,Account,Mobile,Department', 'Li Lei,li lei,13800000031,技术部']));
    expect(errorsOf(sheet, 2, 'en')).toMatch(/^Row 2, “Account” \(li lei\): userid may only contain/);
  });

  it('reports a missing mobile and email together with other errors', async () => {
    const sheet = await readMemberSheet(csv(['姓名,帐号,手机,部门', `${'名'.repeat(65)},x,,技术部`]));
    expect(errorsOf(sheet, 2)).toMatch(/64 个字符 \| 第 2 行：“手机”不能为空（手机和邮箱至少要填一个）。$/);
  });

  it('finds duplicates inside the file: userid in any case, mobile in any format, email in any case', async () => {
    const sheet = await readMemberSheet(
      csv([
        '姓名,帐号,手机,邮箱,部门',
        '甲,ZhangSan,+86 138-0000-0009,a@example.com,技术部',
        '乙,zhangsan,13900000000,,技术部',
        '丙,bing,13800000009,,技术部',
        '丁,ding,,A@Example.com,技术部',
        `${'名'.repeat(65)},ZHANGSAN,,d@example.com,技术部`,
      ]),
    );
    expect(errorsOf(sheet, 2)).toBe('');
    expect(errorsOf(sheet, 3)).toBe('第 3 行与第 2 行的帐号 zhangsan 重复。');
    expect(errorsOf(sheet, 3, 'en')).toBe('Row 3 repeats the 帐号 zhangsan of row 2.');
    expect(errorsOf(sheet, 4)).toBe('第 4 行与第 2 行的手机 13800000009 重复。');
    expect(errorsOf(sheet, 5)).toBe('第 5 行与第 2 行的邮箱 A@Example.com 重复。');
    // Found even when the row has other errors.
    expect(errorsOf(sheet, 6)).toContain('第 6 行与第 2 行的帐号 ZHANGSAN 重复。');
  });
});

describe('member sheet: refusals', () => {
  it.each([
    ['random bytes', 'bin', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 256))],
    ['bytes that are neither UTF-8 nor GBK', 'csv', Buffer.alloc(600, 0xff)],
    ['a PNG', 'xlsx', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52])],
    ['a JPEG', 'csv', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46])],
    ['a PDF', 'xlsx', Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n')],
    ['a damaged zip', 'xlsx', Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3])],
    ['a zip without a worksheet (.docx)', 'xlsx', zipOf('word/document.xml', '<w:document/>')],
    ['an HTML table saved as .xls', 'xls', Buffer.from('<html><body><table><tr><td>姓名</td><td>帐号</td></tr></table></body></html>')],
  ])('refuses %s as not a spreadsheet, naming the accepted formats', async (_what, ext, bytes) => {
    const err = await refusal(file(ext, bytes));
    expect(err.code).toBe('NOT_A_SPREADSHEET');
    expect(err.text.zh).toMatch(/不是表格文件.*请提供 \.xlsx 或 \.csv/);
    expect(err.text.en).toMatch(/is not a spreadsheet.*give an \.xlsx or a \.csv/);
  });

  it('refuses an OLE file (.xls or password-protected) and UTF-16 text with what to do', async () => {
    const ole = await refusal(file('xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])));
    expect(ole.code).toBe('OLD_EXCEL');
    expect(ole.text.zh).toContain('另存为 .xlsx 或 CSV');
    const utf16 = await refusal(file('txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('姓名\t帐号\r\n', 'utf16le')])));
    expect(utf16.code).toBe('UNSUPPORTED_ENCODING');
  });

  it('refuses empty, header-only, header-less files, missing paths and folders', async () => {
    expect((await refusal(file('csv', ''))).code).toBe('EMPTY_FILE');
    expect((await refusal(csv(['姓名,帐号,手机,部门', '', ',,,']))).code).toBe('NO_DATA_ROWS');
    expect((await refusal(await xlsx([['标题'], ['姓名', '帐号', '手机', '部门']]))).code).toBe('NO_DATA_ROWS');
    expect((await refusal(csv(['名字,ID', '张三,zs']))).code).toBe('NO_HEADER_ROW');
    const missing = await refusal(join(dir, 'nope.xlsx'));
    expect(missing.code).toBe('FILE_NOT_FOUND');
    expect(missing.text.zh).toContain(join(dir, 'nope.xlsx'));
    const folder = join(dir, 'a-folder.csv');
    mkdirSync(folder);
    expect((await refusal(folder)).code).toBe('NOT_A_FILE');
  });

  it('names a missing required column', async () => {
    const dept = await refusal(csv(['姓名,帐号,手机', '张三,zs,13800000010']));
    expect(dept.code).toBe('MISSING_COLUMN');
    expect(dept.text.zh).toBe('表头（第 1 行）缺少必填列 “部门”。');
    expect(dept.text.en).toContain('“部门” (department)');
    const name = await refusal(csv(['标题', '帐号,手机,部门', 'zs,13800000010,技术部']));
    expect(name.code).toBe('MISSING_COLUMN');
    expect(name.text.zh).toBe('表头（第 2 行）缺少必填列 “姓名”。');
    const contact = await refusal(csv(['姓名,帐号,部门', '张三,zs,技术部']));
    expect(contact.code).toBe('MISSING_COLUMN');
    expect(contact.text.zh).toContain('“手机”或“邮箱”');
  });

  it('refuses a CSV with an unclosed quote, saying where', async () => {
    const err = await refusal(csv(['姓名,帐号,手机,部门', '张三,zs,13800000010,"技术部']));
    expect(err.code).toBe('BAD_CSV');
    expect(err.text.zh).toContain('引号没有闭合');
  });

  it('refuses a 100,000-row file quickly, saying the limit', async () => {
    const rows = ['姓名,帐号,手机,部门'];
    for (let i = 0; i < 100_000; i++) rows.push(`人${i},u${i},1380${String(i).padStart(7, '0')},技术部`);
    const p = csv(rows);
    const started = performance.now();
    const err = await refusal(p);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(err.code).toBe('TOO_MANY_ROWS');
    expect(err.text.zh).toContain('10000');
    expect(err.text.zh).toContain('拆分');
    // The limit is on member rows: exactly maxRows is fine.
    expect((await readMemberSheet(csv(rows.slice(0, 101)), { maxRows: 100 })).rows).toHaveLength(100);
    expect((await refusal(csv(rows.slice(0, 102)), { maxRows: 100 })).code).toBe('TOO_MANY_ROWS');
  });
});
