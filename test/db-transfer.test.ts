import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRIVATE_COLLECTIONS } from '../src/store/store.js';
import { testDatabase } from './support/postgres.js';
import { cleanEnv, okData, REPO, startWxops, type TestWxops } from './support/sandbox.js';

/**
 * `wxops db migrate|export|import` (issue 9): a single-machine data directory moves into PostgreSQL and
 * back without loss — the state as it was, the audit log byte for byte with its hash chain.
 */
const tmp: string[] = [];
function dir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmp.push(d);
  return d;
}

function wxops(args: string[], env: Record<string, string>): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/wxops.js'), ...args], { cwd: REPO, env: cleanEnv(env), encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let single: TestWxops;

beforeAll(async () => {
  // A single-machine installation with some history: rules, an approval waiting, a refusal, audit entries.
  single = await startWxops();
  okData(await single.run('autoreply keyword add 产品价格 价格表 --type link --url https://shop.example.com/prices', 'liuyang'));
  okData(await single.run('quickreply add 发票 "开票请提供抬头和税号。"', 'lina'));
  expect((await single.run('member remove zhouqiang')).error!.code).toBe('APPROVAL_PENDING');
  expect((await single.run('dept add 新部门', 'wangfang')).ok).toBe(false);
}, 60_000);

afterAll(async () => {
  await single.close();
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

function storeWithoutPrivate(d: string): Record<string, unknown> {
  const data = JSON.parse(readFileSync(join(d, 'store.json'), 'utf8')) as Record<string, unknown>;
  for (const c of PRIVATE_COLLECTIONS) delete data[c];
  return data;
}

describe('moving a data directory into PostgreSQL and back', () => {
  it('migrate creates the schema once; a second run has nothing to do', async () => {
    const url = await testDatabase();
    const first = wxops(['db', 'migrate', '--json'], { WXOPS_DATABASE_URL: url });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ ok: true, applied: [1] });
    const again = wxops(['db', 'migrate'], { WXOPS_DATABASE_URL: url });
    expect(again.code).toBe(0);
    expect(again.out).toContain('已是最新');
    const none = wxops(['db', 'migrate'], {});
    expect(none.code).toBe(2);
    expect(none.err).toContain('WXOPS_DATABASE_URL');
  });

  it('import then export gives back the same state and the same audit log, byte for byte', async () => {
    const url = await testDatabase();
    const imported = wxops(['db', 'import', '--dir', single.dataDir, '--json'], { WXOPS_DATABASE_URL: url });
    expect(imported.code, imported.err).toBe(0);
    const report = JSON.parse(imported.out);
    expect(report.audit).toBeGreaterThanOrEqual(4);
    expect(report.entries).toBeGreaterThanOrEqual(3);

    // The database now serves the installation: the waiting approval, the rules, the chain.
    const shared = await startWxops({ database: url });
    try {
      const pending = okData(await shared.run('approval list'));
      expect(JSON.stringify(pending)).toContain('member remove zhouqiang');
      expect(JSON.stringify(okData(await shared.run('autoreply list', 'liuyang')))).toContain('产品价格');
      expect(okData(await shared.run('audit verify'))).toMatchObject({ ok: true });
    } finally {
      await shared.close();
    }

    const back = dir('wxops-export-');
    const exported = wxops(['db', 'export', '--dir', back], { WXOPS_DATABASE_URL: url });
    expect(exported.code, exported.err).toBe(0);
    expect(exported.out).toContain('已导出');
    // Everything the single machine had, plus what the commands above appended on PostgreSQL.
    const before = readFileSync(join(single.dataDir, 'audit', 'audit.jsonl'), 'utf8');
    const after = readFileSync(join(back, 'audit', 'audit.jsonl'), 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(after.length).toBeGreaterThan(before.length);
    const exportedStore = storeWithoutPrivate(back);
    const original = storeWithoutPrivate(single.dataDir);
    for (const [collection, entries] of Object.entries(original)) expect(exportedStore[collection], collection).toMatchObject(entries as object);
    // The exported directory is a working single-machine installation again.
    const verify = wxops(['audit', 'verify', '--json'], { WXOPS_DATA_DIR: back });
    expect(JSON.parse(verify.out).result).toMatchObject({ ok: true });
  });

  it('an export of an import, with nothing in between, is identical', async () => {
    const url = await testDatabase();
    expect(wxops(['db', 'import', '--dir', single.dataDir], { WXOPS_DATABASE_URL: url }).code).toBe(0);
    const back = dir('wxops-export-');
    expect(wxops(['db', 'export', '--dir', back], { WXOPS_DATABASE_URL: url }).code).toBe(0);
    expect(readFileSync(join(back, 'audit', 'audit.jsonl'))).toEqual(readFileSync(join(single.dataDir, 'audit', 'audit.jsonl')));
    expect(JSON.parse(readFileSync(join(back, 'audit', 'head.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(single.dataDir, 'audit', 'head.json'), 'utf8')));
    expect(storeWithoutPrivate(back)).toEqual(storeWithoutPrivate(single.dataDir));
  });

  it('refuses to import into a database that has state, or a log whose chain is broken — and changes nothing', async () => {
    const url = await testDatabase();
    expect(wxops(['db', 'import', '--dir', single.dataDir], { WXOPS_DATABASE_URL: url }).code).toBe(0);
    const twice = wxops(['db', 'import', '--dir', single.dataDir], { WXOPS_DATABASE_URL: url });
    expect(twice.code).toBe(2);
    expect(twice.err).toContain('空数据库');

    const broken = dir('wxops-broken-');
    writeFileSync(join(broken, 'store.json'), readFileSync(join(single.dataDir, 'store.json')));
    const lines = readFileSync(join(single.dataDir, 'audit', 'audit.jsonl'), 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"outcome":"', '"outcome":"x');
    await import('node:fs').then((fs) => fs.mkdirSync(join(broken, 'audit'), { recursive: true }));
    writeFileSync(join(broken, 'audit', 'audit.jsonl'), lines.join('\n'));
    writeFileSync(join(broken, 'audit', 'head.json'), readFileSync(join(single.dataDir, 'audit', 'head.json')));
    const fresh = await testDatabase();
    const refused = wxops(['db', 'import', '--dir', broken], { WXOPS_DATABASE_URL: fresh });
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('第 2 行');
    const back = dir('wxops-export-');
    expect(wxops(['db', 'export', '--dir', back], { WXOPS_DATABASE_URL: fresh }).code).toBe(0);
    expect(existsSync(join(back, 'audit', 'audit.jsonl')) ? readFileSync(join(back, 'audit', 'audit.jsonl'), 'utf8') : '').toBe('');
    expect(JSON.parse(readFileSync(join(back, 'store.json'), 'utf8'))).toEqual({});
  });

  it('refuses to export over a directory that holds state', async () => {
    const url = await testDatabase();
    const r = wxops(['db', 'export', '--dir', single.dataDir], { WXOPS_DATABASE_URL: url });
    expect(r.code).toBe(2);
    expect(r.err).toContain('空目录');
  });
});
