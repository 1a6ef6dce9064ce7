import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, cpSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backupsRoot, listBackups, readEntity, verifyBackup, type Manifest } from '../src/backup/format.js';
import { parseKeep, selectKept } from '../src/backup/retention.js';
import { okData, startWxops, type TestWxops } from './support/sandbox.js';

/** Backups through the pipeline and the shipped policy, over HTTP against the simulator. */
let w: TestWxops;
beforeAll(async () => {
  w = await startWxops({ withSimulator: true });
});
afterEach(async () => {
  await fetch(`${w.sim!.controlUrl}/faults`, { method: 'DELETE' });
  delete w.runtime.env.WXOPS_BACKUP_KEY;
  delete w.runtime.env.WXOPS_BACKUP_KEEP;
});
afterAll(async () => {
  await w.close();
});

async function live() {
  const members = okData(await w.run('member list')).userlist.length;
  const departments = okData(await w.run('dept list')).department.length;
  const customers = okData(await w.run('customer list --all')).customers as any[];
  const relations = customers.reduce((s, c) => s + c.follow_user.length, 0);
  return { members, departments, relations };
}

function wipeBackups(): void {
  rmSync(backupsRoot(w.dataDir), { recursive: true, force: true });
}

describe('backup run / list / verify', () => {
  it('a backup lists with counts equal to the live ones and verifies', async () => {
    wipeBackups();
    const dry = await w.run('backup run --dry-run');
    expect(dry.ok).toBe(true);
    expect(okData(dry).plan.steps).toEqual([]);
    expect(listBackups(w.dataDir)).toHaveLength(0);

    const out = okData(await w.run('backup run'));
    expect(out.id).toMatch(/^\d{8}-\d{6}$/);
    const now = await live();
    const list = okData(await w.run('backup list')).backups;
    expect(list).toHaveLength(1);
    const b = list[0];
    expect(b.id).toBe(out.id);
    expect(b.only).toEqual(['contacts', 'customers', 'mp', 'wxops']);
    expect(b.counts.members).toBe(now.members);
    expect(b.counts.departments).toBe(now.departments);
    expect(b.counts.customers).toBe(now.relations);
    expect(b.counts.corp_tags).toBeGreaterThan(0);
    expect(b.counts.policies).toBeGreaterThan(0);
    expect(b.counts.wxops_store).toBeGreaterThanOrEqual(0);
    expect(b.encrypted).toBe(false);
    expect(b.verified).toBeNull();

    const v = await w.run(`backup verify ${out.id}`);
    expect(v.ok, v.error?.text.en).toBe(true);
    expect(okData(await w.run('backup list')).backups[0].verified.ok).toBe(true);

    // The lines are the platform's objects: members are user/list objects, customers one relation each.
    const dir = join(backupsRoot(w.dataDir), out.id);
    const members: any[] = [];
    for await (const m of readEntity<any>(dir, 'members')) members.push(m);
    expect(members.find((m) => m.userid === 'wangfang')).toMatchObject({ name: expect.any(String), department: expect.any(Array) });
    for await (const r of readEntity<any>(dir, 'customers')) {
      expect(Object.keys(r).sort()).toEqual(['external_contact', 'follow_info']);
      break;
    }
    const policies: any[] = [];
    for await (const p of readEntity<any>(dir, 'policies')) policies.push(p.file);
    expect(policies).toContain('rules.yaml');
  });

  it('an unknown id is an input error listing the ids', async () => {
    const ids = listBackups(w.dataDir).map((b) => b.id);
    const o = await w.run('backup verify 19990101-000000');
    expect(o.exitCode).toBe(2);
    expect(o.error?.code).toBe('UNKNOWN_BACKUP');
    for (const id of ids) expect(o.error?.text.en).toContain(id);
  });

  it('one corrupted byte fails verify naming the file; a truncated file too', async () => {
    wipeBackups();
    const id = okData(await w.run('backup run --only contacts')).id;
    const src = join(backupsRoot(w.dataDir), id);
    const copy = (to: string) => {
      const dst = join(backupsRoot(w.dataDir), to);
      cpSync(src, dst, { recursive: true });
      const m = JSON.parse(readFileSync(join(dst, 'manifest.json'), 'utf8')) as Manifest;
      m.id = to;
      writeFileSync(join(dst, 'manifest.json'), JSON.stringify(m));
      return dst;
    };
    const flipped = copy('20000101-000000');
    const file = join(flipped, 'members.jsonl.gz');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const o = await w.run('backup verify 20000101-000000');
    expect(o.exitCode).toBe(1);
    expect(o.error?.text.en).toContain('members.jsonl.gz');
    expect(o.error?.text.en).not.toContain('departments.jsonl.gz');

    const cut = copy('20000102-000000');
    const f2 = join(cut, 'departments.jsonl.gz');
    truncateSync(f2, statSync(f2).size - 10);
    const o2 = await w.run('backup verify 20000102-000000');
    expect(o2.exitCode).toBe(1);
    expect(o2.error?.text.en).toContain('departments.jsonl.gz');
    const r = await verifyBackup(cut);
    expect(r.problems.every((p) => p.file === 'departments.jsonl.gz')).toBe(true);
    expect(okData(await w.run('backup list')).backups.find((b: any) => b.id === '20000102-000000').verified.ok).toBe(false);
    expect((await w.run(`backup verify ${id}`)).ok).toBe(true);
  });

  it('an interrupted run leaves nothing listed and the next run cleans it up', async () => {
    wipeBackups();
    const root = backupsRoot(w.dataDir);
    const leftover = join(root, '.tmp-20260101-020000-999999999');
    mkdirSync(leftover, { recursive: true });
    writeFileSync(join(leftover, 'members.jsonl.gz'), 'half');
    // A directory with a backup's name but no manifest is not a backup either.
    mkdirSync(join(root, '20260101-020000'));
    expect(okData(await w.run('backup list')).backups).toHaveLength(0);
    okData(await w.run('backup run --only wxops'));
    expect(existsSync(leftover)).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(okData(await w.run('backup list')).backups).toHaveLength(1);
    rmSync(join(root, '20260101-020000'), { recursive: true });
  });
});

describe('the catalogue shared by several instances', () => {
  it('lists another instance’s backups with where they are, and this machine’s from its directory', async () => {
    wipeBackups();
    const mine = okData(await w.run('backup run --only wxops'));
    const store = await w.runtime.store();
    const entries = await store.list<any>('backups');
    expect(entries.some((e) => e.id === mine.id && e.counts.wxops_store > 0)).toBe(true);
    await store.put('backups', 'office-2:20260101-020000', { id: '20260101-020000', host: 'office-2', dir: '/srv/wxops/backups/20260101-020000', created_at: '2026-01-01T02:00:00+08:00', created_by: 'wxops', only: ['contacts'], encrypted: false, bytes: 1024, counts: { members: 60 } });
    const listed = await w.run('backup list');
    expect(okData(listed).backups.map((b: any) => [b.id, b.host])).toEqual(expect.arrayContaining([[mine.id, null], ['20260101-020000', 'office-2']]));
    expect(listed.result!.view ? JSON.stringify(listed.result!.view) : '').toContain('在 office-2 上');
    await store.delete('backups', 'office-2:20260101-020000');
  });
});

describe('encryption', () => {
  it('a key from the environment encrypts; verify and read roundtrip; a wrong or missing key fails clearly', async () => {
    wipeBackups();
    const key = randomBytes(32);
    w.runtime.env.WXOPS_BACKUP_KEY = key.toString('base64');
    const out = okData(await w.run('backup run --only contacts,mp'));
    expect(out.encrypted).toBe(true);
    const dir = join(backupsRoot(w.dataDir), out.id);
    expect(readdirSync(dir).sort()).toEqual(['departments.jsonl.gz.enc', 'manifest.json', 'members.jsonl.gz.enc', 'mp_followers.jsonl.gz.enc', 'mp_menu.jsonl.gz.enc', 'mp_tags.jsonl.gz.enc', 'tags.jsonl.gz.enc']);
    // Not gzip on disk: IV ‖ ciphertext ‖ tag.
    expect(readFileSync(join(dir, 'members.jsonl.gz.enc')).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    expect((await w.run(`backup verify ${out.id}`)).ok).toBe(true);
    const members: any[] = [];
    for await (const m of readEntity<any>(dir, 'members', key)) members.push(m);
    expect(members.length).toBe(out.counts.members);
    expect(okData(await w.run(`backup diff ${out.id}`)).summary.every((s: any) => s.added + s.removed + s.modified === 0)).toBe(true);

    w.runtime.env.WXOPS_BACKUP_KEY = randomBytes(32).toString('base64');
    const wrong = await w.run(`backup verify ${out.id}`);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.error?.text.en).toMatch(/cannot decrypt/i);
    expect((await w.run(`backup diff ${out.id}`)).error?.code).toBe('BACKUP_DECRYPT_FAILED');

    delete w.runtime.env.WXOPS_BACKUP_KEY;
    const missing = await w.run(`backup verify ${out.id}`);
    expect(missing.exitCode).toBe(2);
    expect(missing.error?.code).toBe('BACKUP_KEY_MISSING');

    w.runtime.env.WXOPS_BACKUP_KEY = 'not-a-key';
    const bad = await w.run('backup run --only wxops');
    expect(bad.exitCode).toBe(2);
    expect(bad.error?.code).toBe('BACKUP_KEY_INVALID');
    expect(bad.error?.text.en).not.toContain('not-a-key');
  });
});

describe('backup diff', () => {
  it('shows exactly a member added, a member updated and a customer tagged', async () => {
    wipeBackups();
    const id = okData(await w.run('backup run --only contacts,customers,mp')).id;
    const clean = okData(await w.run(`backup diff ${id}`));
    expect(clean.summary.every((s: any) => s.added + s.removed + s.modified === 0)).toBe(true);

    okData(await w.run('member add backupnew --name 备份新人 --dept 销售部 --mobile 13912349901'));
    okData(await w.run('member update wangfang --position 区域经理'));
    const hers = okData(await w.run('customer list', 'wangfang')).customers as any[];
    const c = hers[0];
    const rel = c.follow_user.find((f: any) => f.userid === 'wangfang');
    const tagIds = (f: any) => [...(f.tag_id ?? []), ...(f.tags ?? []).map((x: any) => x.tag_id)];
    const tags = okData(await w.run('ctag list')).tag_group.flatMap((g: any) => g.tag);
    const fresh = tags.find((x: any) => !tagIds(rel).includes(x.id));
    okData(await w.run(`customer tag ${c.external_contact.external_userid} ${fresh.id}`, 'wangfang'));

    const d = okData(await w.run(`backup diff ${id}`));
    expect(d.members.added).toEqual(['backupnew']);
    expect(d.members.removed).toEqual([]);
    expect(d.members.modified).toEqual([{ key: 'wangfang', fields: { position: { before: expect.anything(), after: '区域经理' } } }]);
    expect(d.customers.added).toEqual([]);
    expect(d.customers.removed).toEqual([]);
    expect(d.customers.modified).toHaveLength(1);
    expect(d.customers.modified[0].key).toBe(`${c.external_contact.external_userid}/wangfang`);
    expect(Object.keys(d.customers.modified[0].fields)).toEqual(['tags']);
    expect(d.customers.modified[0].fields.tags.after).toContain(fresh.id);
    for (const e of ['departments', 'tags', 'corp_tags', 'menu']) expect(d[e], e).toEqual({ added: [], removed: [], modified: [] });
  });
});

describe('faults', () => {
  it('-1 answers and dropped connections slow the backup down but lose nothing', async () => {
    wipeBackups();
    const clean = okData(await w.run('backup run --only contacts,customers'));
    await w.faults({
      fail: [
        { api: 'externalcontact/batch/get_by_user', errcode: -1, times: 3 },
        { api: 'user/list', errcode: -1, times: 1 },
        { api: 'tag/get', errcode: -1, times: 2 },
      ],
      drop: [
        { api: 'externalcontact/batch/get_by_user', times: 2 },
        { api: 'department/list', times: 1 },
      ],
    });
    const faulty = okData(await w.run('backup run --only contacts,customers'));
    // Every injected fault was met (and survived).
    const left = (await (await fetch(`${w.sim!.controlUrl}/faults`)).json()) as any;
    expect([...left.fail, ...left.drop].map((r: any) => r.times)).toEqual([0, 0, 0, 0, 0]);
    expect(faulty.counts).toEqual(clean.counts);
    expect((await w.run(`backup verify ${faulty.id}`)).ok).toBe(true);
  });
});

describe('retention', () => {
  it('keeps the newest of each of the last 7 days and of the last 4 weeks', () => {
    const now = new Date('2026-11-25T12:00:00+08:00'); // a Wednesday
    const at = (s: string) => ({ id: s, created_at: new Date(s).toISOString() });
    const backups = [
      at('2026-11-25T02:00:00+08:00'),
      at('2026-11-25T01:00:00+08:00'), // same day, older: dropped
      at('2026-11-24T02:00:00+08:00'),
      at('2026-11-19T02:00:00+08:00'), // 6 days ago: kept daily
      at('2026-11-18T02:00:00+08:00'), // 7 days ago: not daily; but newest of its week? no — 11-19 is newer in that week
      at('2026-11-16T02:00:00+08:00'), // Monday of last week: dropped
      at('2026-11-12T02:00:00+08:00'), // newest of the week of 11-09: kept weekly
      at('2026-11-10T02:00:00+08:00'),
      at('2026-11-06T02:00:00+08:00'), // newest of the week of 11-02: kept weekly (4th week)
      at('2026-10-30T02:00:00+08:00'), // week of 10-26: 5th week back, dropped
    ];
    const kept = selectKept(backups, now, parseKeep('7d,4w'));
    expect([...kept].sort()).toEqual(
      ['2026-11-25T02:00:00+08:00', '2026-11-24T02:00:00+08:00', '2026-11-19T02:00:00+08:00', '2026-11-12T02:00:00+08:00', '2026-11-06T02:00:00+08:00'].sort(),
    );
    expect(() => parseKeep('7days')).toThrow(/WXOPS_BACKUP_KEEP/);
    expect(parseKeep(undefined)).toEqual({ days: 7, weeks: 4 });
  });

  it('backup run prunes older backups by their manifests', async () => {
    wipeBackups();
    const id = okData(await w.run('backup run --only wxops')).id;
    const root = backupsRoot(w.dataDir);
    const fake = (fakeId: string, createdAt: string) => {
      const dst = join(root, fakeId);
      cpSync(join(root, id), dst, { recursive: true });
      const m = JSON.parse(readFileSync(join(dst, 'manifest.json'), 'utf8')) as Manifest;
      writeFileSync(join(dst, 'manifest.json'), JSON.stringify({ ...m, id: fakeId, created_at: createdAt }));
    };
    const now = Date.now();
    const daysAgo = (n: number, h = 0) => new Date(now - n * 86_400_000 - h * 3_600_000).toISOString();
    fake('20000101-000001', daysAgo(1)); // yesterday: kept
    fake('20000101-000002', daysAgo(1, 1)); // yesterday, older: removed
    fake('20000101-000003', daysAgo(100)); // long ago: removed
    w.runtime.env.WXOPS_BACKUP_KEEP = '7d';
    const out = okData(await w.run('backup run --only wxops'));
    // The first backup of today is older than the one just made: one per day is kept.
    expect(out.removed.sort()).toEqual(['20000101-000002', '20000101-000003', id].sort());
    const left = listBackups(w.dataDir).map((b) => b.id);
    expect(left).toContain(out.id);
    expect(left).toContain('20000101-000001');
    expect(left).not.toContain('20000101-000003');
  });
});

describe('member export', () => {
  it('writes the provenance row; only zhangwei may run it, and it is audited', async () => {
    const file = join(w.dataDir, 'out', '成员.csv');
    const out = okData(await w.run(`member export ${file}`));
    expect(out.exported_by).toBe('zhangwei');
    const lines = readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split('\r\n');
    expect(lines[0]).toContain('exported by zhangwei');
    expect(lines[1]).toContain('userid');
    expect(lines.filter(Boolean)).toHaveLength(out.rows + 2);
    const xlsx = join(w.dataDir, 'out', '销售部.xlsx');
    expect(okData(await w.run(`member export ${xlsx} --dept 销售部`)).rows).toBeGreaterThan(0);
    expect(existsSync(xlsx)).toBe(true);

    expect((await w.run(`member export ${join(w.dataDir, 'out', 'x.csv')}`, 'sunli')).exitCode).toBe(3);
    expect((await w.run(`member export ${join(w.dataDir, 'out', 'y.csv')} --dept 销售部`, 'lina')).exitCode).toBe(3);
    expect(existsSync(join(w.dataDir, 'out', 'x.csv'))).toBe(false);
    const audit = okData(await w.run('audit search --action member.export'));
    expect(JSON.stringify(audit)).toContain('member.export');
  });

  it('backups are for super admins', async () => {
    expect((await w.run('backup list', 'wangfang')).exitCode).toBe(3);
    expect((await w.run('backup run', 'lina')).exitCode).toBe(3);
  });
});
