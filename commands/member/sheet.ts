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
  /** As written in the file, e.g. ["销售部/华东区", "市场部"]; resolved to ids by the importer. */
  departmentPaths: string[];
  position?: string;
  gender?: '1' | '2';
  alias?: string;
  telephone?: string;
  address?: string;
}

export interface SheetRow {
  /** 1-based row number as the user sees it in Excel (for CSV: the record's row when opened in Excel). */
  row: number;
  /** Present when at least userid and name are valid (so an invalid row can still be named). */
  member?: SheetMember;
  errors: Text[];
}

export interface MemberSheet {
  file: string;
  format: 'xlsx' | 'csv';
  encoding?: 'utf8' | 'gbk';
  headerRow: number;
  rows: SheetRow[];
  /** Not errors, shown with the plan: unknown or repeated columns. */
  warnings: Text[];
}

export type SheetField = 'name' | 'userid' | 'mobile' | 'email' | 'department' | 'position' | 'gender' | 'alias' | 'telephone' | 'address';

export interface MemberSheetColumn {
  field: SheetField;
  /** Canonical headers: the template writes `header`; both are accepted when reading. */
  header: string;
  headerEn: string;
  /** Every header accepted for this column (compared case-insensitively, required markers removed). */
  aliases: readonly string[];
  required: boolean;
  description: Text;
  width: number;
  example: string;
  /** Written and read as text in the template, so Excel keeps digits and leading zeros. */
  text?: boolean;
  schema?: z.ZodType;
}

/** Several departments in one cell are separated by a full-width or ASCII semicolon. */
export const DEPARTMENT_SEPARATOR = /[；;]/;
/** wecom.md §2.2: `department` holds at most 100 ids. */
export const MAX_DEPARTMENTS_PER_MEMBER = 100;

export const MEMBER_SHEET_COLUMNS: readonly MemberSheetColumn[] = [
  {
    field: 'name', header: '姓名', headerEn: 'name', aliases: ['姓名', 'name'], required: true, width: 12, example: '赵六', schema: F.memberName,
    description: t('必填，1–64 个字符', 'required, 1–64 characters'),
  },
  {
    field: 'userid', header: '帐号', headerEn: 'userid', aliases: ['帐号', '账号', 'userid', 'user id', 'user_id', 'account'], required: true, width: 16, example: 'zhaoliu', text: true, schema: F.userid,
    description: t('必填，最多 64 字节，只能包含字母、数字和 _ - @ .，不区分大小写且不能重复', 'required, at most 64 bytes of letters, digits and _ - @ .; unique, case-insensitive'),
  },
  {
    field: 'mobile', header: '手机', headerEn: 'mobile', aliases: ['手机', '手机号', '手机号码', 'mobile', 'phone'], required: false, width: 16, example: '13800000001', text: true, schema: F.mobile,
    description: t('手机和邮箱至少填一个；可写 +86 13800000000', 'mobile or email (at least one); +86 13800000000 is accepted'),
  },
  {
    field: 'email', header: '邮箱', headerEn: 'email', aliases: ['邮箱', '个人邮箱', '电子邮箱', 'email', 'e-mail'], required: false, width: 24, example: 'zhaoliu@example.com', schema: F.email,
    description: t('手机和邮箱至少填一个；6–64 字节', 'mobile or email (at least one); 6–64 bytes'),
  },
  {
    field: 'department', header: '部门', headerEn: 'department', aliases: ['部门', '所在部门', 'department', 'dept'], required: true, width: 24, example: '销售部/华东区',
    description: t('必填，用 / 写路径，如 销售部/华东区；多个部门用 ； 分隔', 'required; a path with /, e.g. 销售部/华东区; several separated by ；'),
  },
  {
    field: 'position', header: '职务', headerEn: 'position', aliases: ['职务', 'position', 'title'], required: false, width: 12, example: '销售代表', schema: F.position,
    description: t('最多 128 个字符', 'at most 128 characters'),
  },
  {
    field: 'gender', header: '性别', headerEn: 'gender', aliases: ['性别', 'gender'], required: false, width: 6, example: '男', schema: F.gender,
    description: t('男 或 女', '男 (male) or 女 (female)'),
  },
  {
    field: 'alias', header: '别名', headerEn: 'alias', aliases: ['别名', 'alias'], required: false, width: 10, example: '', schema: F.alias,
    description: t('1–64 个字符', '1–64 characters'),
  },
  {
    field: 'telephone', header: '座机', headerEn: 'telephone', aliases: ['座机', 'telephone', 'tel'], required: false, width: 14, example: '', text: true, schema: F.telephone,
    description: t('数字、+、-、,，最多 32 字节', 'digits, + - , (at most 32 bytes)'),
  },
  {
    field: 'address', header: '地址', headerEn: 'address', aliases: ['地址', 'address'], required: false, width: 24, example: '', schema: F.address,
    description: t('最多 128 个字符', 'at most 128 characters'),
  },
];

/** The header row is looked for in the first this-many non-empty rows (the template has a title and notes above it). */
const HEADER_SEARCH_ROWS = 10;
const DEFAULT_MAX_ROWS = 10_000;

const COLUMN_BY_ALIAS = new Map(MEMBER_SHEET_COLUMNS.flatMap((c) => c.aliases.map((a) => [a.toLowerCase(), c] as const)));

/** Cell text as people meant it: no-break, full-width and zero-width spaces (pasted from web pages or chat) removed at the edges. */
function clean(s: string): string {
  return s.replace(/[\u200b-\u200d\u2060\ufeff]/g, '').replace(/[\u00a0\u3000]/g, ' ').trim();
}

/** A header as written, minus the marks of a required column: `姓名*`, `*姓名`, `帐号（必填）`, `Name (required)`. */
function headerLabel(h: string): string {
  return clean(h)
    .replace(/\s+/g, ' ')
    .replace(/\s*[（(]\s*(必填|required)\s*[)）]\s*$/i, '')
    .replace(/\s*[*＊]+\s*$/, '')
    .replace(/^[*＊]+\s*/, '')
    .trim();
}

const columnFor = (h: string): MemberSheetColumn | undefined => COLUMN_BY_ALIAS.get(headerLabel(h).toLowerCase());

interface Column {
  index: number;
  def: MemberSheetColumn;
  /** The header as the file writes it, used in messages so people find the column they see. */
  label: string;
}

interface GridRow {
  row: number;
  cells: string[];
}

export async function readMemberSheet(path: string, opts: { maxRows?: number } = {}): Promise<MemberSheet> {
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  const bytes = await readBytes(path);
  if (bytes.length === 0) throw new InputError('EMPTY_FILE', t('文件 {p} 是空的。', 'The file {p} is empty.', { p: path }));
  const tooMany = () =>
    new InputError(
      'TOO_MANY_ROWS',
      t('{p} 超过 {n} 行成员：请拆分成多个文件分批导入。', '{p} has more than {n} member rows: split it into several files and import them one by one.', { p: path, n: maxRows }),
      { maxRows },
    );
  // Rows above the header count toward this bound too; the exact data-row limit is checked after the header is found.
  const bound = maxRows + HEADER_SEARCH_ROWS;

  const kind = sniff(bytes, path);
  let grid: GridRow[];
  let encoding: 'utf8' | 'gbk' | undefined;
  if (kind === 'xlsx') {
    grid = await xlsxGrid(bytes, path, bound, tooMany);
  } else {
    const decoded = decodeText(bytes, path);
    encoding = decoded.encoding;
    refuseMarkup(decoded.text, path);
    grid = csvGrid(decoded.text, path, bound, tooMany);
  }

  const { header, columns, warnings } = findHeader(grid, path);
  const data = grid.filter((r) => r.row > header.row && r.cells.some((c) => clean(c) !== ''));
  if (data.length === 0) throw new InputError('NO_DATA_ROWS', t('{p} 只有表头，没有成员数据。', '{p} has a header but no member rows.', { p: path }));
  if (data.length > maxRows) throw tooMany();

  const read = data.map((r) => readRow(r.row, r.cells, columns));
  markDuplicates(read, columns);
  const example = MEMBER_SHEET_COLUMNS.map((c) => [c.field, c.example] as const);
  for (const r of read) {
    if (example.every(([field, value]) => !value || (r.raw.get(field) ?? '') === value)) {
      // Importing it would create a made-up member, so it blocks the import like any other bad row.
      r.sheetRow.errors.push(
        t('第 {row} 行是模板自带的示例（{u}），导入前请删除或替换。', 'Row {row} is the template’s example ({u}): delete or replace it before importing.', {
          row: r.sheetRow.row,
          u: r.raw.get('userid'),
        }),
      );
    }
  }
  return { file: path, format: kind, encoding, headerRow: header.row, rows: read.map((r) => r.sheetRow), warnings };
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError('FILE_NOT_FOUND', t('找不到文件 {p}。', 'The file {p} does not exist.', { p: path }));
    if (code === 'EISDIR') throw new InputError('NOT_A_FILE', t('{p} 是文件夹，不是表格文件。', '{p} is a folder, not a spreadsheet file.', { p: path }));
    throw new InputError('FILE_UNREADABLE', t('无法读取文件 {p}（{c}）。', 'The file {p} cannot be read ({c}).', { p: path, c: code ?? (err as Error).message }));
  }
}

/** One sentence: what the file is (when known) and which formats are accepted. */
function notASpreadsheet(path: string, what?: Text): InputError {
  return new InputError(
    'NOT_A_SPREADSHEET',
    what
      ? { zh: `${path} 不是表格文件（${what.zh}）：请提供 .xlsx 或 .csv（UTF-8 或 GBK）。`, en: `${path} is not a spreadsheet (${what.en}): give an .xlsx or a .csv (UTF-8 or GBK).` }
      : t('{p} 不是表格文件：请提供 .xlsx 或 .csv（UTF-8 或 GBK）。', '{p} is not a spreadsheet: give an .xlsx or a .csv (UTF-8 or GBK).', { p: path }),
  );
}

const MAGIC: [number[], Text][] = [
  [[0x50, 0x4b, 0x05, 0x06], t('空的 zip 压缩包', 'an empty zip archive')],
  [[0x25, 0x50, 0x44, 0x46], t('PDF 文件', 'a PDF')],
  [[0x89, 0x50, 0x4e, 0x47], t('PNG 图片', 'a PNG image')],
  [[0xff, 0xd8, 0xff], t('JPEG 图片', 'a JPEG image')],
  [[0x47, 0x49, 0x46, 0x38], t('GIF 图片', 'a GIF image')],
  [[0x1f, 0x8b], t('gzip 压缩包', 'a gzip archive')],
  [[0x52, 0x61, 0x72, 0x21], t('RAR 压缩包', 'a RAR archive')],
  [[0x37, 0x7a, 0xbc, 0xaf], t('7z 压缩包', 'a 7z archive')],
];

/** The format by content, not by extension. */
function sniff(bytes: Buffer, path: string): 'xlsx' | 'csv' {
  const starts = (magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (starts([0x50, 0x4b, 0x03, 0x04])) return 'xlsx';
  if (starts([0xd0, 0xcf, 0x11, 0xe0])) {
    // An OLE container: an old .xls, or an .xlsx saved with a password (Excel encrypts into OLE).
    throw new InputError(
      'OLD_EXCEL',
      t(
        '{p} 是旧版 .xls 或设置了密码的 Excel 文件，不能直接读取：请去掉密码并在 Excel 中另存为 .xlsx 或 CSV 后再导入。',
        '{p} is an old .xls or a password-protected Excel file, which cannot be read: remove the password and save it as .xlsx or CSV in Excel, then import it.',
        { p: path },
      ),
    );
  }
  if (starts([0xff, 0xfe]) || starts([0xfe, 0xff])) {
    throw new InputError(
      'UNSUPPORTED_ENCODING',
      t(
        '{p} 是 UTF-16 文本（Excel 的“Unicode 文本”）：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或 .xlsx 后再导入。',
        '{p} is UTF-16 text (Excel’s “Unicode Text”): save it as “CSV UTF-8 (Comma delimited)” or .xlsx in Excel, then import it.',
        { p: path },
      ),
    );
  }
  for (const [magic, what] of MAGIC) if (starts(magic)) throw notASpreadsheet(path, what);
  // Text has no NUL bytes and few control characters; images, archives and other binaries do.
  const head = bytes.subarray(0, 8192);
  let control = 0;
  for (const b of head) {
    if (b === 0) throw notASpreadsheet(path);
    if (b < 9 || (b > 13 && b < 32 && b !== 27)) control++;
  }
  if (control > head.length / 50) throw notASpreadsheet(path);
  return 'csv';
}

/** UTF-8 when the bytes are valid UTF-8, otherwise GBK (what Excel on Chinese Windows writes; decoded as its superset GB18030). */
function decodeText(bytes: Buffer, path: string): { text: string; encoding: 'utf8' | 'gbk' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\ufeff/, ''), encoding: 'utf8' };
  } catch {
    const text = iconv.decode(bytes, 'gb18030');
    let bad = 0;
    for (const ch of text) if (ch === '\ufffd') bad++;
    if (bad > 3 && bad > text.length / 100) throw notASpreadsheet(path, t('既不是 UTF-8 也不是 GBK 文本', 'neither UTF-8 nor GBK text'));
    return { text, encoding: 'gbk' };
  }
}

/** Web systems often export an HTML table or XML with an Excel extension; parsing that as CSV would only confuse. */
function refuseMarkup(text: string, path: string): void {
  const start = text.slice(0, 512).trimStart().toLowerCase();
  if (/^<(\?xml|!doctype|html|table|head|body|meta)/.test(start)) {
    throw notASpreadsheet(path, t('网页或 XML 文件，可能是系统导出时改了扩展名；请用 Excel 打开后另存为 .xlsx', 'a web page or XML file, perhaps exported with an Excel extension; open it in Excel and save it as .xlsx'));
  }
}

function csvGrid(text: string, path: string, bound: number, tooMany: () => InputError): GridRow[] {
  const grid: GridRow[] = [];
  try {
    // Empty lines are kept as records so that a record's index is its row number when Excel opens the file.
    parseCsv(text, {
      relax_column_count: true,
      relax_quotes: true,
      on_record: (record, context) => {
        if (record.some((c) => clean(c ?? '') !== '')) {
          // Stop early: a 100,000-row file is refused after reading just past the limit.
          if (grid.length >= bound) throw tooMany();
          grid.push({ row: context.records, cells: record.map((c) => c ?? '') });
        }
        return null;
      },
    });
    return grid;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const e = err as Error & { code?: string; lines?: number };
    throw new InputError(
      'BAD_CSV',
      e.code === 'CSV_QUOTE_NOT_CLOSED'
        ? t('{p} 的 CSV 格式有误：第 {l} 行附近有一个引号没有闭合。', '{p} is not valid CSV: a quote near line {l} is never closed.', { p: path, l: e.lines ?? '?' })
        : t('{p} 的 CSV 格式有误（第 {l} 行附近）：{m}', '{p} is not valid CSV (near line {l}): {m}', { p: path, l: e.lines ?? '?', m: e.message }),
    );
  }
}

async function xlsxGrid(bytes: Buffer, path: string, bound: number, tooMany: () => InputError): Promise<GridRow[]> {
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch {
    throw notASpreadsheet(path, t('zip 文件无法作为 .xlsx 打开，可能已损坏', 'a zip file that cannot be opened as .xlsx, perhaps damaged'));
  }
  const ws = wb.worksheets[0];
  // Excel cannot save a workbook without a worksheet: this is another zip (.docx, .numbers, …).
  if (!ws) throw notASpreadsheet(path, t('zip 文件里没有工作表，可能是 Word 等其他文件', 'a zip file without a worksheet, perhaps a Word document'));
  if (ws.actualRowCount > bound) throw tooMany();
  const grid: GridRow[] = [];
  ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: string[] = [];
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cells[col - 1] = cellText(cell.value, cell.numFmt);
    });
    grid.push({ row: rowNumber, cells: Array.from(cells, (c) => c ?? '') });
  });
  return grid;
}

/**
 * Every kind of cell value as the text the user sees: numbers in full (a mobile stored as the number
 * 13800000001 stays "13800000001", and a `000000` format keeps its leading zeros), rich text joined,
 * hyperlinks by their text, formulas by their result.
 */
function cellText(v: ExcelJS.CellValue, numFmt?: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return String(v);
    const digits = Math.abs(v) < 1e21 ? v.toFixed(0) : BigInt(v).toString();
    const zeros = numFmt && /^0+$/.test(numFmt) ? numFmt.length : 0;
    return digits.padStart(zeros, '0');
  }
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'object') {
    if ('richText' in v) return v.richText.map((r) => r.text).join('').trim();
    if ('text' in v) {
      const text = (v as { text: unknown }).text;
      if (typeof text === 'string') return text.trim();
      if (text && typeof text === 'object' && 'richText' in text) return (text as ExcelJS.CellRichTextValue).richText.map((r) => r.text).join('').trim();
    }
    if ('result' in v) return cellText((v as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue, numFmt);
    if ('error' in v) return '';
  }
  return String(v).trim();
}

function findHeader(grid: GridRow[], path: string): { header: GridRow; columns: Column[]; warnings: Text[] } {
  const candidates = grid.slice(0, HEADER_SEARCH_ROWS);
  const fieldsOf = (r: GridRow) => new Set(r.cells.map((c) => columnFor(c)?.field).filter(Boolean));
  let header = candidates.find((r) => {
    const f = fieldsOf(r);
    return f.has('name') && f.has('userid');
  });
  if (!header) {
    // A row that is plainly a header (two or more known columns) but lacks 姓名 or 帐号: say which.
    const best = candidates.map((r) => ({ r, n: fieldsOf(r).size })).sort((a, b) => b.n - a.n)[0];
    if (best && best.n >= 2) {
      const f = fieldsOf(best.r);
      throw missingColumns(MEMBER_SHEET_COLUMNS.filter((c) => c.required && !f.has(c.field)), best.r.row);
    }
    throw new InputError(
      'NO_HEADER_ROW',
      t(
        '{p} 的前 {n} 行中找不到表头（至少要有“姓名”和“帐号”两列）：请使用 member template 生成的模板。',
        'No header row in the first {n} rows of {p} (it needs at least the columns 姓名/name and 帐号/userid): use the template from `member template`.',
        { p: path, n: HEADER_SEARCH_ROWS },
      ),
    );
  }
  const columns: Column[] = [];
  const warnings: Text[] = [];
  header.cells.forEach((h, index) => {
    const label = headerLabel(h);
    if (!label) return;
    const def = columnFor(h);
    if (!def) {
      warnings.push(t('忽略未知的列“{h}”。', 'Ignored the unknown column “{h}”.', { h: label }));
    } else if (columns.some((c) => c.def === def)) {
      const first = columns.find((c) => c.def === def)!;
      warnings.push(t('“{h}”列出现了两次，只读取第一个“{f}”列。', 'The column “{h}” appears twice; only the first (“{f}”) is read.', { h: label, f: first.label }));
    } else {
      columns.push({ index, def, label });
    }
  });
  const missing = MEMBER_SHEET_COLUMNS.filter((c) => c.required && !columns.some((col) => col.def === c));
  if (missing.length) throw missingColumns(missing, header.row);
  if (!columns.some((c) => c.def.field === 'mobile' || c.def.field === 'email')) {
    throw new InputError(
      'MISSING_COLUMN',
      t('表头（第 {row} 行）缺少“手机”或“邮箱”列：每个成员至少要有其中一个。', 'The header (row {row}) has neither a “手机” (mobile) nor a “邮箱” (email) column: every member needs at least one of them.', { row: header.row }),
    );
  }
  return { header, columns, warnings };
}

function missingColumns(missing: MemberSheetColumn[], row: number): InputError {
  return new InputError(
    'MISSING_COLUMN',
    t('表头（第 {row} 行）缺少必填列 {zh}。', 'The header (row {row}) lacks the required column {en}.', {
      row,
      zh: missing.map((c) => `“${c.header}”`).join('、'),
      en: missing.map((c) => `“${c.header}” (${c.headerEn})`).join(', '),
    }),
    { missing: missing.map((c) => c.field) },
  );
}

interface ReadRow {
  sheetRow: SheetRow;
  /** Cleaned cell text per field, as written. */
  raw: Map<SheetField, string>;
  /** Values that passed their rule, for the in-file duplicate checks. */
  valid: Partial<Record<SheetField, unknown>>;
}

const brief = (v: string) => (v.length > 24 ? `${v.slice(0, 24)}…` : v);

function readRow(row: number, cells: string[], columns: Column[]): ReadRow {
  const errors: Text[] = [];
  const raw = new Map<SheetField, string>();
  const valid: Partial<Record<SheetField, unknown>> = {};
  for (const { index, def, label } of columns) {
    const value = clean(cells[index] ?? '');
    raw.set(def.field, value);
    if (value === '') {
      if (def.required) errors.push(t('第 {row} 行：“{h}”不能为空。', 'Row {row}: “{h}” must not be empty.', { row, h: label }));
      continue;
    }
    if (def.field === 'department') {
      const paths = value.split(DEPARTMENT_SEPARATOR).map((p) => p.trim()).filter(Boolean);
      if (paths.length === 0) errors.push(t('第 {row} 行：“{h}”不能为空。', 'Row {row}: “{h}” must not be empty.', { row, h: label }));
      else if (paths.length > MAX_DEPARTMENTS_PER_MEMBER) {
        errors.push(t('第 {row} 行“{h}”：一个成员最多属于 {n} 个部门，这里写了 {m} 个。', 'Row {row}, “{h}”: a member belongs to at most {n} departments; this row lists {m}.', { row, h: label, n: MAX_DEPARTMENTS_PER_MEMBER, m: paths.length }));
      } else valid.department = paths;
      continue;
    }
    if (def.field === 'mobile' && /^\d(\.\d+)?e\+?\d+$/i.test(value)) {
      errors.push(
        t(
          '第 {row} 行“{h}”：{v} 是科学计数法，号码的后几位已经丢失；请把该列设为文本格式后重新填写号码。',
          'Row {row}, “{h}”: {v} is in scientific notation, so the last digits of the number are lost; format the column as text and type the number again.',
          { row, h: label, v: value },
        ),
      );
      continue;
    }
    const parsed = def.schema!.safeParse(value);
    if (parsed.success) valid[def.field] = parsed.data;
    else {
      const [zh, en] = splitMessage(parsed.error.issues[0]?.message ?? 'invalid');
      errors.push({ zh: `第 ${row} 行“${label}”（${brief(value)}）：${zh}`, en: `Row ${row}, “${label}” (${brief(value)}): ${en}` });
    }
  }
  // WeCom 60129: a member needs a mobile or an email. Judged on what is written, so a bad value is reported once, as bad.
  if (!raw.get('mobile') && !raw.get('email')) {
    const labels = columns.filter((c) => c.def.field === 'mobile' || c.def.field === 'email').map((c) => c.label);
    errors.push(
      labels.length > 1
        ? t('第 {row} 行：“{a}”和“{b}”至少要填一个。', 'Row {row}: fill in at least one of “{a}” and “{b}”.', { row, a: labels[0], b: labels[1] })
        : t('第 {row} 行：“{a}”不能为空（手机和邮箱至少要填一个）。', 'Row {row}: “{a}” must not be empty (a member needs a mobile or an email).', { row, a: labels[0] }),
    );
  }
  const member = valid.userid !== undefined && valid.name !== undefined ? toMember(valid) : undefined;
  return { sheetRow: { row, member, errors }, raw, valid };
}

function toMember(v: Partial<Record<SheetField, unknown>>): SheetMember {
  const member: SheetMember = { userid: v.userid as string, name: v.name as string, departmentPaths: (v.department as string[] | undefined) ?? [] };
  for (const key of ['mobile', 'email', 'position', 'gender', 'alias', 'telephone', 'address'] as const) {
    if (v[key] !== undefined) (member as unknown as Record<string, unknown>)[key] = v[key];
  }
  return member;
}

/**
 * The same userid (case-insensitive, as WeCom compares them), mobile (`+86 138-0000-0001` =
 * `13800000001`) or email (case-insensitive) twice in one file: an error on the later row naming both.
 */
function markDuplicates(rows: ReadRow[], columns: Column[]): void {
  const label = (field: SheetField) => columns.find((c) => c.def.field === field)?.label ?? field;
  const keys: [SheetField, (v: string) => string][] = [
    ['userid', (v) => v.toLowerCase()],
    ['mobile', (v) => F.normalizeMobile(v)],
    ['email', (v) => v.toLowerCase()],
  ];
  for (const [field, key] of keys) {
    const seen = new Map<string, number>();
    for (const r of rows) {
      const value = r.valid[field] as string | undefined;
      if (!value) continue;
      const k = key(value);
      const first = seen.get(k);
      if (first === undefined) {
        seen.set(k, r.sheetRow.row);
        continue;
      }
      r.sheetRow.errors.push(
        t('第 {row} 行与第 {first} 行的{h} {v} 重复。', 'Row {row} repeats the {h} {v} of row {first}.', { row: r.sheetRow.row, first, h: label(field), v: value }),
      );
    }
  }
}

function splitMessage(message: string): [string, string] {
  const i = message.indexOf(' / ');
  return i === -1 ? [message, message] : [message.slice(0, i), message.slice(i + 3)];
}

/**
 * An .xlsx like WeCom's own: a title row, an instructions row, the header (required columns marked
 * with *, each with a note giving its rule; bold, frozen, widths set; mobile/userid/telephone columns
 * formatted as text so Excel keeps every digit) and one example row. Overwrites; creates parent folders.
 */
export async function writeMemberTemplate(path: string): Promise<void> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'wxops';
  const ws = wb.addWorksheet('成员导入');
  const n = MEMBER_SHEET_COLUMNS.length;
  const required = MEMBER_SHEET_COLUMNS.filter((c) => c.required);

  ws.addRow(['企业微信成员批量导入模板 / WeCom member import template (wxops)']);
  ws.mergeCells(1, 1, 1, n);
  ws.getRow(1).font = { bold: true, size: 14 };

  ws.addRow([
    [
      `说明：带 * 的列必填（${required.map((c) => c.header).join('、')}）；手机和邮箱至少填一个；` +
        '部门用 / 写路径，如 销售部/华东区，多个部门用 ； 分隔，如 销售部/华东区；市场部；' +
        '性别填 男 或 女；帐号只能包含字母、数字和 _ - @ .，不区分大小写。第 4 行是示例，请替换或删除；表头不要修改。',
      `Notes: columns marked * are required (${required.map((c) => c.headerEn).join(', ')}); give a mobile or an email (at least one); ` +
        'departments are paths with /, e.g. 销售部/华东区, several separated by ；; gender is 男 (male) or 女 (female); ' +
        'userid: letters, digits and _ - @ . only. Row 4 is an example: replace or delete it; do not change the header.',
    ].join('\n'),
  ]);
  ws.mergeCells(2, 1, 2, n);
  ws.getRow(2).alignment = { wrapText: true, vertical: 'top' };
  ws.getRow(2).height = 96;

  const header = ws.addRow(MEMBER_SHEET_COLUMNS.map((c) => (c.required ? `${c.header}*` : c.header)));
  header.font = { bold: true };
  header.eachCell((cell, col) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFDDEBF7' } };
    const c = MEMBER_SHEET_COLUMNS[col - 1]!;
    cell.note = `${c.description.zh}\n${c.description.en}`;
  });

  ws.addRow(MEMBER_SHEET_COLUMNS.map((c) => c.example));
  ws.getRow(4).font = { color: { argb: 'FF808080' } };

  MEMBER_SHEET_COLUMNS.forEach((c, i) => {
    const col = ws.getColumn(i + 1);
    col.width = c.width;
    // As text, or Excel turns mobiles into numbers shown in scientific notation and drops leading zeros.
    if (c.text) col.numFmt = '@';
    if (c.field === 'gender') {
      const letter = col.letter;
      (ws as unknown as { dataValidations: { add(range: string, v: ExcelJS.DataValidation): void } }).dataValidations.add(`${letter}4:${letter}${DEFAULT_MAX_ROWS + 3}`, {
        type: 'list',
        allowBlank: true,
        formulae: ['"男,女"'],
        showErrorMessage: true,
        errorTitle: '性别 / gender',
        error: '请填 男 或 女 / 男 (male) or 女 (female)',
      });
    }
  });
  ws.views = [{ state: 'frozen', ySplit: 3 }];
  await mkdir(dirname(path), { recursive: true });
  await wb.xlsx.writeFile(path);
}
