import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { okData, startWxops, type TestWxops } from './support/sandbox.js';

let w: TestWxops;
beforeAll(async () => {
  w = await startWxops({ withSimulator: true });
});
afterAll(async () => {
  await w.close();
});

async function xlsx(name: string, rows: (string | number)[][]): Promise<string> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('成员');
  ws.addRow(['成员导入模板']);
  ws.addRow(['姓名', '帐号', '手机', '邮箱', '部门', '职务', '性别']);
  for (const r of rows) ws.addRow(r);
  const file = join(w.dataDir, name);
  await wb.xlsx.writeFile(file);
  return file;
}

describe('member import', () => {
  it('writes a template the importer reads back, and refuses the untouched example row', async () => {
    const file = join(w.dataDir, 'template.xlsx');
    okData(await w.run(`member template ${file}`));
    const o = await w.run(`member import ${file} --dry-run`);
    expect(o.exitCode).toBe(2);
    expect(o.error!.code).toBe('IMPORT_INVALID_ROWS');
    expect(o.error!.text.zh).toContain('第 4 行是模板自带的示例');
  });

  it('shows ignored columns with the plan', async () => {
    const file = join(w.dataDir, 'extra-column.csv');
    writeFileSync(file, ['姓名,帐号,手机,部门,工位', '冯五,fengwu,13966660031,销售部,A-12'].join('\r\n'));
    const plan = okData(await w.run(`member import ${file} --dry-run`)).plan;
    expect(plan.steps).toHaveLength(1);
    expect(plan.notes.map((n: { zh: string }) => n.zh).join()).toContain('忽略未知的列“工位”');
  });

  it('validates, plans, applies, and is unchanged when run again', async () => {
    const wf = okData(await w.run('member get wangfang'));
    const file = await xlsx('people.xlsx', [
      ['钱七', 'qianqi', 13966660001, '', '销售部/华东区', '销售', '男'],
      ['孙八', 'sunba', '13966660002', 'sunba@example.com', '市场部；技术部', '', '女'],
      [wf.name, 'wangfang', wf.mobile, '', '销售部/华东区', '高级销售', '女'],
    ]);
    const dry = okData(await w.run(`member import ${file} --dry-run`)).plan;
    expect(dry.summary.zh).toContain('新建 2 人');
    expect(dry.summary.zh).toContain('更新 1 人');
    expect((await w.run('member get qianqi')).ok).toBe(false);

    const applied = okData(await w.run(`member import ${file}`));
    expect(applied).toMatchObject({ created: 2, updated: 1, failed: 0 });
    expect(okData(await w.run('member get sunba')).department.sort()).toEqual([5, 7]);
    expect(okData(await w.run('member get qianqi')).mobile).toBe('13966660001');
    expect(okData(await w.run('member get wangfang')).position).toBe('高级销售');

    const again = okData(await w.run(`member import ${file}`));
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 3 });
  });

  it('rejects a file with invalid rows before any write, naming every row', async () => {
    const wf = okData(await w.run('member get wangfang'));
    const csv = [
      '姓名,帐号,手机,部门',
      '周九,zhoujiu,13966660011,销售部',
      '吴十,wushi,13966660012,不存在的部门',
      `郑一,zhengyi,${wf.mobile},销售部`,
      '王二,zhoujiu,13966660013,销售部',
      ',noname,13966660014,销售部',
    ].join('\r\n');
    const file = join(w.dataDir, 'bad.csv');
    writeFileSync(file, iconv.encode(csv, 'gbk'));
    const o = await w.run(`member import ${file}`);
    expect(o.ok).toBe(false);
    expect(o.exitCode).toBe(2);
    expect(o.error!.code).toBe('IMPORT_INVALID_ROWS');
    const text = o.error!.text.zh;
    expect(text).toContain('第 3 行');
    expect(text).toContain('不存在的部门');
    expect(text).toContain('第 4 行');
    expect(text).toContain('wangfang');
    expect(text).toContain('第 5 行');
    expect(text).toContain('第 6 行');
    expect((await w.run('member get zhoujiu')).ok).toBe(false);
  });

  it('refuses what is not a spreadsheet', async () => {
    const file = join(w.dataDir, 'image.xlsx');
    writeFileSync(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    const o = await w.run(`member import ${file}`);
    expect(o.exitCode).toBe(2);
    const missing = await w.run(`member import ${join(w.dataDir, 'missing.xlsx')}`);
    expect(missing.exitCode).toBe(2);
  });

  it('completes an interrupted import on the second run without duplicates', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => [`批量${i}`, `bulk${i}`, `1397777${String(i).padStart(4, '0')}`, '', '技术部', '', '']);
    const file = await xlsx('bulk.xlsx', rows);
    // Connections drop and the platform is busy part of the way through.
    await w.faults({ drop: [{ api: 'user/create', times: 4 }], fail: [{ api: 'user/create', errcode: -1, times: 2 }] });
    const first = await w.run(`member import ${file}`);
    expect(first.ok).toBe(false);
    expect(first.exitCode).toBe(1);
    expect(first.error!.code).toBe('IMPORT_PARTIAL');
    const data = first.error!.details as any;
    expect(data.failed).toBeGreaterThan(0);
    expect(data.created + data.failed).toBe(30);

    const second = okData(await w.run(`member import ${file}`));
    expect(second.created + second.unchanged).toBe(30);
    const list = okData(await w.run('member list --dept 技术部')).userlist as any[];
    const bulk = list.filter((u) => u.userid.startsWith('bulk'));
    expect(bulk).toHaveLength(30);
    expect(new Set(bulk.map((u) => u.userid)).size).toBe(30);
  });
});
