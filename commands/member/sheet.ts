import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import type { z } from 'zod';
import { InputError } from '../../src/core/errors.js';
import { t, type Text } from '../../src/core/i18n.js';
import * as F from './fields.js';

/**
 * The file layer of `member import` (批量导入): the WeCom import template's layout read from .xlsx or
 * CSV (UTF-8, UTF-8 with BOM, or GBK as Excel on Chinese Windows writes it), every row checked by the
 * same field rules as `member add`, and the template written from the same column table.
 */
export interface SheetMember {
  userid: string;
  name: string;
  mobile?: string;
  email?: string;
  departmentPaths: string[];
  position?: string;
  gender?: '1' | '2';
  alias?: string;
  telephone?: string;
  address?: string;
}

export interface SheetRow {
  row: number;
  member?: SheetMember;
  errors: Text[];
}

export interface MemberSheet {
  file: string;
  format: 'xlsx' | 'csv';
  encoding?: 'utf8' | 'gbk';
  headerRow: number;
  rows: SheetRow[];
  warnings: Text[];
}

type Field = 'name' | 'userid' | 'mobile' | 'email' | 'department' | 'position' | 'gender' | 'alias' | 'telephone' | 'address';

interface ColumnDef {
  field: Field;
  header: string;
  aliases: string[];
  required: boolean;
  width: number;
  example: string;
  schema?: z.ZodType;
}

export const MEMBER_SHEET_COLUMNS: ColumnDef[] = [
  { field: 'name', header: '姓名', aliases: ['姓名', 'name'], required: true, width: 12, example: '赵六', schema: F.memberName },
  { field: 'userid', header: '帐号', aliases: ['帐号', '账号', 'userid', 'account', 'user id'], required: true, width: 16, example: 'zhaoliu', schema: F.userid },
  { field: 'mobile', header: '手机', aliases: ['手机', '手机号', 'mobile', 'phone'], required: false, width: 16, example: '13800000001', schema: F.mobile },
  { field: 'email', header: '邮箱', aliases: ['邮箱', '个人邮箱', 'email', 'e-mail'], required: false, width: 24, example: 'zhaoliu@example.com', schema: F.email },
  { field: 'department', header: '部门', aliases: ['部门', '所在部门', 'department', 'dept'], required: true, width: 24, example: '销售部/华东区' },
  { field: 'position', header: '职务', aliases: ['职务', 'position', 'title'], required: false, width: 12, example: '销售代表', schema: F.position },
  { field: 'gender', header: '性别', aliases: ['性别', 'gender'], required: false, width: 6, example: '男', schema: F.gender },
  { field: 'alias', header: '别名', aliases: ['别名', 'alias'], required: false, width: 10, example: '', schema: F.alias },
  { field: 'telephone', header: '座机', aliases: ['座机', 'telephone', 'tel'], required: false, width: 14, example: '', schema: F.telephone },
  { field: 'address', header: '地址', aliases: ['地址', 'address'], required: false, width: 24, example: '', schema: F.address },
];

const HEADER_SEARCH_ROWS = 10;

function normalizeHeader(h: string): string {
  return h
    .replace(/[\u3000\s]+/g, ' ')
    .trim()
    .replace(/\s*[（(]\s*必填\s*[)）]\s*$/, '')
    .replace(/\s*\*+\s*$/, '')
    .replace(/^\*+\s*/, '')
    .trim()
    .toLowerCase();
}

const FIELD_BY_HEADER = new Map(MEMBER_SHEET_COLUMNS.flatMap((c) => c.aliases.map((a) => [a.toLowerCase(), c] as const)));

export async function readMemberSheet(path: string, opts: { maxRows?: number } = {}): Promise<MemberSheet> {
  const maxRows = opts.maxRows ?? 10_000;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new InputError('FILE_NOT_FOUND', t('找不到文件 {p}。', 'The file {p} does not exist.', { p: path }));
  }
  if (bytes.length === 0) throw new InputError('EMPTY_FILE', t('文件 {p} 是空的。', 'The file {p} is empty.', { p: path }));
  const kind = sniff(bytes);
  if (kind === 'xls') {
    throw new InputError('OLD_EXCEL', t('{p} 是旧版 .xls 文件：请在 Excel 中另存为 .xlsx 或 CSV 后再导入。', '{p} is an old .xls file: save it as .xlsx or CSV in Excel, then import it.', { p: path }));
  }
  if (kind === 'binary') {
    throw new InputError('NOT_A_SPREADSHEET', t('{p} 不是表格文件：请提供 .xlsx 或 .csv（UTF-8 或 GBK）。', '{p} is not a spreadsheet: give an .xlsx or a .csv (UTF-8 or GBK).', { p: path }));
  }
  const tooMany = () =>
    new InputError('TOO_MANY_ROWS', t('文件超过 {n} 行：请拆分成多个文件分批导入。', 'The file has more than {n} rows: split it into several files and import them one by one.', { n: maxRows }));

  let grid: { row: number; cells: string[] }[];
  let encoding: 'utf8' | 'gbk' | undefined;
  if (kind === 'xlsx') {
    const wb = new ExcelJS.Workbook();
    try {
      await wb.xlsx.load(bytes as unknown as ArrayBuffer);
    } catch {
      throw new InputError('NOT_A_SPREADSHEET', t('{p} 无法作为 .xlsx 打开（文件可能已损坏）。', '{p} cannot be opened as .xlsx (the file may be damaged).', { p: path }));
    }
    const ws = wb.worksheets[0];
    if (!ws) throw new InputError('EMPTY_FILE', t('{p} 里没有工作表。', '{p} has no worksheet.', { p: path }));
    if (ws.actualRowCount > maxRows + HEADER_SEARCH_ROWS) throw tooMany();
    grid = [];
    ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
      const cells: string[] = [];
      row.eachCell({ includeEmpty: true }, (cell, col) => {
        cells[col - 1] = cellText(cell.value);
      });
      grid.push({ row: rowNumber, cells: Array.from(cells, (c) => c ?? '') });
    });
  } else {
    const decoded = decodeText(bytes);
    encoding = decoded.encoding;
    // Count lines before parsing so a 100,000-row file is refused without building it.
    let lines = 0;
    for (let i = decoded.text.indexOf('\n'); i !== -1; i = decoded.text.indexOf('\n', i + 1)) if (++lines > maxRows + HEADER_SEARCH_ROWS) throw tooMany();
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = parseCsv(decoded.text, { relax_column_count: true, skip_empty_lines: true, info: true, bom: true, relax_quotes: true }) as unknown as typeof records;
    } catch (err) {
      throw new InputError('BAD_CSV', t('{p} 不是合法的 CSV：{m}', '{p} is not valid CSV: {m}', { p: path, m: (err as Error).message }));
    }
    grid = records.map((r) => ({ row: r.info.lines, cells: r.record.map((c) => c ?? '') }));
  }

  const headerIndex = grid.slice(0, HEADER_SEARCH_ROWS).findIndex((r) => {
    const fields = new Set(r.cells.map((c) => FIELD_BY_HEADER.get(normalizeHeader(c))?.field));
    return fields.has('name') && fields.has('userid');
  });
  if (headerIndex === -1) {
    throw new InputError(
      'NO_HEADER_ROW',
      t('前 {n} 行中找不到表头（至少要有“姓名”和“帐号”两列）：请使用 member template 生成的模板。', 'No header row in the first {n} rows (it needs at least the columns 姓名 and 帐号): use the template from `member template`.', { n: HEADER_SEARCH_ROWS }),
    );
  }
  const header = grid[headerIndex]!;
  const columns = new Map<number, ColumnDef>();
  const warnings: Text[] = [];
  header.cells.forEach((h, i) => {
    if (!h.trim()) return;
    const col = FIELD_BY_HEADER.get(normalizeHeader(h));
    if (col && ![...columns.values()].includes(col)) columns.set(i, col);
    else if (!col) warnings.push(t('忽略未知的列 “{h}”。', 'Ignored the unknown column “{h}”.', { h }));
  });
  for (const required of MEMBER_SHEET_COLUMNS.filter((c) => c.required)) {
    if (![...columns.values()].includes(required)) {
      throw new InputError('MISSING_COLUMN', t('缺少必填列 “{h}”。', 'The required column “{h}” is missing.', { h: required.header }));
    }
  }
  const data = grid.slice(headerIndex + 1).filter((r) => r.cells.some((c) => c.trim() !== ''));
  if (data.length === 0) throw new InputError('NO_DATA_ROWS', t('{p} 只有表头，没有成员数据。', '{p} has a header but no member rows.', { p: path }));
  if (data.length > maxRows) throw tooMany();

  const rows = data.map((r) => readRow(r.row, r.cells, columns));
  markDuplicates(rows);
  return { file: path, format: kind, encoding, headerRow: header.row, rows, warnings };
}

function readRow(row: number, cells: string[], columns: Map<number, ColumnDef>): SheetRow {
  const errors: Text[] = [];
  const values: Partial<Record<Field, unknown>> = {};
  for (const [i, col] of columns) {
    const raw = (cells[i] ?? '').replace(/\u3000/g, ' ').trim();
    if (raw === '') {
      if (col.required) errors.push(t('第 {row} 行：“{h}” 不能为空。', 'Row {row}: “{h}” must not be empty.', { row, h: col.header }));
      continue;
    }
    if (col.field === 'department') {
      const paths = raw.split(/[；;]/).map((p) => p.trim()).filter(Boolean);
      if (paths.length === 0) errors.push(t('第 {row} 行：“部门” 不能为空。', 'Row {row}: “部门” must not be empty.', { row }));
      values.department = paths;
      continue;
    }
    const parsed = col.schema!.safeParse(raw);
    if (parsed.success) values[col.field] = parsed.data;
    else {
      const [zh, en] = splitMessage(parsed.error.issues[0]?.message ?? 'invalid');
      errors.push({ zh: `第 ${row} 行 “${col.header}”：${zh}`, en: `Row ${row}, “${col.header}”: ${en}` });
    }
  }
  if (!errors.length && !values.mobile && !values.email) {
    errors.push(t('第 {row} 行：手机和邮箱至少要填一个。', 'Row {row}: give at least one of mobile and email.', { row }));
  }
  if (errors.length) return { row, errors, member: values.userid && values.name ? toMember(values) : undefined };
  return { row, errors, member: toMember(values) };
}

function toMember(v: Partial<Record<Field, unknown>>): SheetMember {
  return {
    userid: v.userid as string,
    name: v.name as string,
    mobile: v.mobile as string | undefined,
    email: v.email as string | undefined,
    departmentPaths: (v.department as string[] | undefined) ?? [],
    position: v.position as string | undefined,
    gender: v.gender as '1' | '2' | undefined,
    alias: v.alias as string | undefined,
    telephone: v.telephone as string | undefined,
    address: v.address as string | undefined,
  };
}

/** The same userid, mobile or email twice in one file is an error on the later row, naming the first. */
function markDuplicates(rows: SheetRow[]): void {
  const seen = { userid: new Map<string, number>(), mobile: new Map<string, number>(), email: new Map<string, number>() };
  for (const r of rows) {
    const m = r.member;
    if (!m) continue;
    const checks: [keyof typeof seen, string | undefined, string][] = [
      ['userid', m.userid?.toLowerCase(), '帐号'],
      ['mobile', m.mobile ? F.normalizeMobile(m.mobile) : undefined, '手机'],
      ['email', m.email?.toLowerCase(), '邮箱'],
    ];
    for (const [key, value, header] of checks) {
      if (!value) continue;
      const first = seen[key].get(value);
      if (first !== undefined) {
        r.errors.push(
          t('第 {row} 行与第 {first} 行的{h} {v} 重复。', 'Row {row} repeats the {h} {v} of row {first}.', { row: r.row, first, h: header, v: key === 'userid' ? m.userid : key === 'mobile' ? m.mobile : m.email }),
        );
      } else seen[key].set(value, r.row);
    }
  }
}

function splitMessage(message: string): [string, string] {
  const [zh, en] = message.includes(' / ') ? message.split(' / ', 2) : [message, message];
  return [zh!, en!];
}

function sniff(bytes: Buffer): 'xlsx' | 'xls' | 'csv' | 'binary' {
  if (bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return 'xlsx';
  if (bytes.subarray(0, 4).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]))) return 'xls';
  // Text files have no NUL bytes and few control characters; images, PDFs and archives do.
  const head = bytes.subarray(0, 4096);
  let control = 0;
  for (const b of head) {
    if (b === 0) return 'binary';
    if (b < 9 || (b > 13 && b < 32)) control++;
  }
  return control > head.length / 20 ? 'binary' : 'csv';
}

/** UTF-8 when the bytes are valid UTF-8, otherwise GBK (what Excel on Chinese Windows writes). */
function decodeText(bytes: Buffer): { text: string; encoding: 'utf8' | 'gbk' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\ufeff/, ''), encoding: 'utf8' };
  } catch {
    return { text: iconv.decode(bytes, 'gbk'), encoding: 'gbk' };
  }
}

function cellText(v: ExcelJS.CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'object') {
    if ('richText' in v) return v.richText.map((r) => r.text).join('').trim();
    if ('text' in v && typeof v.text === 'string') return v.text.trim();
    if ('text' in v && v.text && typeof v.text === 'object' && 'richText' in (v.text as object)) {
      return (v.text as ExcelJS.CellRichTextValue).richText.map((r) => r.text).join('').trim();
    }
    if ('result' in v) return cellText((v as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue);
    if ('error' in v) return '';
  }
  return String(v).trim();
}

export async function writeMemberTemplate(path: string): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'wxops';
  const ws = wb.addWorksheet('成员导入');
  const n = MEMBER_SHEET_COLUMNS.length;
  ws.addRow(['企业微信成员批量导入模板（wxops）']);
  ws.mergeCells(1, 1, 1, n);
  ws.getRow(1).font = { bold: true, size: 14 };
  ws.addRow([
    '说明：带 * 的列必填；手机和邮箱至少填一个；部门写路径，如 销售部/华东区，多个部门用 ； 分隔；性别填 男 或 女；帐号只能包含字母、数字和 _ - @ .。请从第 4 行开始填写，不要修改表头。',
  ]);
  ws.mergeCells(2, 1, 2, n);
  ws.getRow(2).alignment = { wrapText: true, vertical: 'top' };
  ws.getRow(2).height = 48;
  const header = ws.addRow(MEMBER_SHEET_COLUMNS.map((c) => (c.required ? `${c.header}*` : c.header)));
  header.font = { bold: true };
  header.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFDDEBF7' } };
  ws.addRow(MEMBER_SHEET_COLUMNS.map((c) => c.example));
  MEMBER_SHEET_COLUMNS.forEach((c, i) => {
    const col = ws.getColumn(i + 1);
    col.width = c.width;
    // Mobiles as text, or Excel turns them into numbers in scientific notation.
    if (c.field === 'mobile' || c.field === 'telephone') col.numFmt = '@';
  });
  ws.views = [{ state: 'frozen', ySplit: 3 }];
  await mkdir(dirname(path), { recursive: true });
  await wb.xlsx.writeFile(path);
}
