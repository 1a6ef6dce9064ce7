import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FileAuditLog, serializeEntry, withHash, type AuditEntry, type AuditLog } from '../src/audit/log.js';
import { PostgresAuditLog } from '../src/audit/postgres-log.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { BACKENDS, testDatabase, type Backend } from './support/postgres.js';
import { REPO, okData, startWxops, type TestWxops } from './support/sandbox.js';

const scratch = mkdtempSync(join(tmpdir(), 'wxops-audit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const decision = (i: number): AuditEntry => ({ kind: 'decision', actor: 'zhangwei', channel: 'cli', command: `dept add 部门${i}`, action: 'dept.add', outcome: 'permit' });

/** A PostgreSQL "instance": its own pool on the database, as each `wxops serve` process has. */
async function pgInstance(url: string): Promise<{ store: PostgresStore; log: PostgresAuditLog }> {
  const store = new PostgresStore({ url, onIdleError: () => undefined });
  await store.open();
  cleanups.push(() => store.close());
  return { store, log: new PostgresAuditLog(store) };
}

/**
 * A ten-entry log on `backend`, and the ways to tamper with it that the back-end allows: a line edited or
 * deleted by hand (file: the JSON Lines; PostgreSQL: UPDATE or DELETE on wxops_audit).
 */
interface Tamperable {
  log: AuditLog;
  edit(seq: number, fn: (line: string) => string): Promise<void>;
  remove(...seqs: number[]): Promise<void>;
}

async function tenEntries(backend: Backend): Promise<Tamperable> {
  if (backend === 'embedded') {
    const log = new FileAuditLog(mkdtempSync(join(scratch, 't-')));
    for (let i = 1; i <= 10; i++) await log.append(decision(i));
    const rewrite = (fn: (lines: string[]) => string[]) => {
      const lines = readFileSync(log.file, 'utf8').trimEnd().split('\n');
      writeFileSync(log.file, `${fn(lines).join('\n')}\n`);
    };
    return {
      log,
      async edit(seq, fn) {
        rewrite((l) => l.map((x, i) => (i === seq - 1 ? fn(x) : x)));
      },
      async remove(...seqs) {
        rewrite((l) => l.filter((_, i) => !seqs.includes(i + 1)));
      },
    };
  }
  const { store, log } = await pgInstance(await testDatabase());
  for (let i = 1; i <= 10; i++) await log.append(decision(i));
  return {
    log,
    async edit(seq, fn) {
      const r = await store.query<{ line: string }>('SELECT line FROM wxops_audit WHERE seq = $1', [seq]);
      await store.query('UPDATE wxops_audit SET line = $1 WHERE seq = $2', [fn(r.rows[0]!.line), seq]);
    },
    async remove(...seqs) {
      await store.query('DELETE FROM wxops_audit WHERE seq = ANY($1)', [seqs]);
    },
  };
}

/** Two writers on one log: two file logs on one directory, or two instances on one database. */
async function twoWriters(backend: Backend): Promise<AuditLog[]> {
  if (backend === 'embedded') {
    const dir = mkdtempSync(join(scratch, 'two-'));
    return [new FileAuditLog(dir), new FileAuditLog(dir)];
  }
  const url = await testDatabase();
  return [(await pgInstance(url)).log, (await pgInstance(url)).log];
}

describe.each(BACKENDS)('audit verify on %s', (backend) => {
  it('accepts an intact log', async () => {
    const { log } = await tenEntries(backend);
    expect(await log.verify()).toEqual({ ok: true, entries: 10 });
    expect(await log.head()).toMatchObject({ seq: 10 });
  });

  it('reports an edited entry', async () => {
    const t = await tenEntries(backend);
    await t.edit(5, (x) => x.replace('"permit"', '"deny"'));
    expect(await t.log.verify()).toMatchObject({ ok: false, entries: 4, problem: { kind: 'edited', line: 5, seq: 5 } });
  });

  it('reports a deleted entry', async () => {
    const t = await tenEntries(backend);
    await t.remove(5);
    expect(await t.log.verify()).toMatchObject({ ok: false, problem: { kind: 'deleted', line: 5, seq: 6 } });
  });

  it('reports a truncated tail, thanks to the chain head kept outside the log', async () => {
    const t = await tenEntries(backend);
    await t.remove(9, 10);
    expect(await t.log.verify()).toMatchObject({ ok: false, entries: 8, problem: { kind: 'truncated', seq: 9 } });
  });

  it('reports a line that is JSON but not as it was stored', async () => {
    const t = await tenEntries(backend);
    await t.edit(7, (x) => JSON.stringify(JSON.parse(x), null, 1));
    expect(await t.log.verify()).toMatchObject({ ok: false, entries: 6, problem: { kind: 'unreadable', line: 7 } });
  });

  it('appends from two writers at once keep one chain', async () => {
    const logs = await twoWriters(backend);
    const stored = await Promise.all(Array.from({ length: 200 }, (_, i) => logs[i % 2]!.append({ ...decision(i), actor: `writer${i % 2}` })));
    expect(stored.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await logs[1]!.verify()).toEqual({ ok: true, entries: 200 });
    expect((await logs[0]!.query({ actor: 'WRITER1', limit: 1000 })).length).toBe(100);
  });

  it('appendAll keeps its entries together on the chain, among appends from two writers', async () => {
    const logs = await twoWriters(backend);
    const pairs = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? logs[i % 2]!.append(decision(i)).then((e) => [e]) : logs[i % 2]!.appendAll([decision(i), { ...decision(i), kind: 'result', outcome: 'done' }]))),
    );
    for (const stored of pairs.filter((p) => p.length === 2)) {
      expect(stored.map((e) => `${e.kind}:${e.command}`)).toEqual([`decision:${stored[0]!.command}`, `result:${stored[0]!.command}`]);
      expect(stored[1]!.seq).toBe(stored[0]!.seq + 1);
      expect(stored[1]!.prev).toBe(stored[0]!.hash);
    }
    expect(await logs[0]!.verify()).toEqual({ ok: true, entries: 20 + 40 * 2 });
  });

  it('query filters by actor, action (with a trailing *), outcome and time, newest last', async () => {
    const { log } = await tenEntries(backend);
    const base = new Date('2030-01-01T00:00:00Z');
    await log.append({ kind: 'decision', actor: 'LiNa', channel: 'wecom', command: 'member add x', action: 'member.add', outcome: 'deny' }, base);
    await log.append({ kind: 'result', actor: 'lina', channel: 'wecom', command: 'member_remove y', action: 'member_remove', outcome: 'done' }, new Date(base.getTime() + 60_000));
    expect((await log.query({ actor: 'lina' })).map((e) => e.action)).toEqual(['member.add', 'member_remove']);
    expect((await log.query({ action: 'member.*' })).map((e) => e.command)).toEqual(['member add x']);
    // `_` in the prefix is a character, not a wildcard.
    expect((await log.query({ action: 'member_*' })).map((e) => e.command)).toEqual(['member_remove y']);
    expect((await log.query({ result: 'deny' })).map((e) => e.seq)).toEqual([11]);
    expect((await log.query({ since: new Date(base.getTime() + 1) })).map((e) => e.seq)).toEqual([12]);
    expect((await log.query({ limit: 3 })).map((e) => e.seq)).toEqual([10, 11, 12]);
  });

  it('importLines appends another log’s lines verbatim, and refuses lines that break the chain', async () => {
    const source = new FileAuditLog(mkdtempSync(join(scratch, 'src-')));
    for (let i = 1; i <= 5; i++) await source.append(decision(i));
    const lines: string[] = [];
    for await (const l of source.lines()) lines.push(l);
    const target = backend === 'embedded' ? new FileAuditLog(mkdtempSync(join(scratch, 'dst-'))) : (await pgInstance(await testDatabase())).log;

    await expect(target.importLines([...lines.slice(0, 2), ...lines.slice(3)])).rejects.toMatchObject({ code: 'AUDIT_IMPORT_BROKEN', details: { kind: 'deleted', line: 3 } });
    expect(await target.head()).toMatchObject({ seq: 0 });
    expect(await target.verify()).toEqual({ ok: true, entries: 0 });

    expect(await target.importLines(lines.slice(0, 3))).toMatchObject({ count: 3, head: { seq: 3 } });
    // The rest continues the chain: an import may follow what is there, but not repeat it.
    await expect(target.importLines(lines)).rejects.toMatchObject({ code: 'AUDIT_IMPORT_BROKEN' });
    expect(await target.importLines((async function* () { yield* lines.slice(3); })())).toMatchObject({ count: 2, head: await source.head() });
    const copied: string[] = [];
    for await (const l of target.lines()) copied.push(l);
    expect(copied).toEqual(lines);
    expect(await target.verify()).toEqual({ ok: true, entries: 5 });
    expect((await target.append(decision(6))).seq).toBe(6);
  });
});

describe('audit lines are the same bytes on both back-ends', () => {
  it('appends with the same times give identical lines, in the format serializeEntry defines', async () => {
    const file = new FileAuditLog(mkdtempSync(join(scratch, 'same-')));
    const { log: db } = await pgInstance(await testDatabase());
    const entries: AuditEntry[] = [
      decision(1),
      { kind: 'result', actor: 'lina', channel: 'wecom', command: 'member add 王五 --mobile 138…', action: 'member.add', resource: { userid: 'wangwu', departments: [3] }, outcome: 'failed', error: { code: 'PLATFORM_60104', message: 'mobile "taken"' } },
      { kind: 'approval', actor: 'zhangwei', channel: 'slack', command: 'member remove tmp1', action: 'member.remove', rule: 'r1', outcome: 'requested', detail: { request: 7, nested: { emoji: '✓', quote: '"\\' } } },
    ];
    const at = new Date('2026-11-01T08:00:00.123Z');
    for (const e of entries) {
      const a = await file.append(e, at);
      const b = await db.append(e, at);
      expect(b).toEqual(a);
    }
    const fileLines = readFileSync(file.file, 'utf8').trimEnd().split('\n');
    const dbLines: string[] = [];
    for await (const l of db.lines()) dbLines.push(l);
    expect(dbLines).toEqual(fileLines);
    const stored = (await file.query({})).map(({ hash, ...body }) => withHash(serializeEntry(body), hash));
    expect(stored).toEqual(fileLines);
  });
});

describe('audit on postgres only', () => {
  it('a transaction cannot store a duplicate sequence number or a line that is not JSON', async () => {
    const url = await testDatabase();
    const { store, log } = await pgInstance(url);
    await log.append(decision(1));
    const line = (await store.query<{ line: string }>('SELECT line FROM wxops_audit WHERE seq = 1')).rows[0]!.line;
    await expect(store.query('INSERT INTO wxops_audit (line) VALUES ($1)', [line])).rejects.toMatchObject({ code: 'DATABASE_ERROR' });
    await expect(store.query("UPDATE wxops_audit SET line = 'not json' WHERE seq = 1")).rejects.toMatchObject({ code: 'DATABASE_ERROR' });
    // The search columns follow the line: they cannot be changed on their own.
    await expect(store.query("UPDATE wxops_audit SET actor = 'sunli' WHERE seq = 1")).rejects.toMatchObject({ code: 'DATABASE_ERROR' });
    expect(await log.verify()).toEqual({ ok: true, entries: 1 });
  });

  it('a connection killed mid-append fails that append with DATABASE_UNAVAILABLE; the chain stays whole and appends go on', async () => {
    const url = await testDatabase();
    const { log } = await pgInstance(url);
    await log.append(decision(1));
    await log.append(decision(2));

    // Another session holds the chain head, so the next append waits inside its transaction.
    const blocker = new pg.Client({ connectionString: url, application_name: 'blocker' });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM wxops_audit_head FOR UPDATE');
    const killed = log.append(decision(3));
    let pid: number | undefined;
    for (let i = 0; i < 200 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const r = await blocker.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'wxops' AND datname = current_database() AND wait_event_type = 'Lock'");
      pid = r.rows[0]?.pid;
    }
    expect(pid).toBeDefined();
    // These arrive while that transaction is in flight: they go together into the next one.
    const queued = [log.append(decision(4)), log.append(decision(5))];
    await blocker.query('SELECT pg_terminate_backend($1)', [pid]);
    const failure = await killed.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toMatchObject({ code: 'DATABASE_UNAVAILABLE', text: { en: expect.stringContaining('wrote nothing') } });
    await blocker.query('ROLLBACK');

    expect((await Promise.all(queued)).map((e) => [e.seq, e.command])).toEqual([
      [3, 'dept add 部门4'],
      [4, 'dept add 部门5'],
    ]);
    expect((await log.append(decision(6))).seq).toBe(5);
    expect(await log.verify()).toEqual({ ok: true, entries: 5 });
  });

  it('a database that cannot be reached fails the append with the same clear error', async () => {
    const store = new PostgresStore({ url: 'postgres://wxops@127.0.0.1:1/none', onIdleError: () => undefined });
    cleanups.push(() => store.close());
    await expect(new PostgresAuditLog(store).append(decision(1))).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
  });

  it('rows follow the seq inside their line: a line given another seq leaves a gap that verify reports', async () => {
    // Rows cannot be reordered or repeated (their order and key come from the line itself); rewriting a
    // line's seq moves it, and the hole it leaves is reported as deleted entries.
    const t = await tenEntries('postgres');
    await t.edit(4, (x) => x.replace('"seq":4,', '"seq":40,'));
    expect(await t.log.verify()).toMatchObject({ ok: false, entries: 3, problem: { kind: 'deleted', line: 4, seq: 5 } });
  });
});

describe('audit verify on embedded only (lines a file can hold)', () => {
  async function fileLog(): Promise<Tamperable & { rewrite(fn: (lines: string[]) => string[]): void }> {
    const t = await tenEntries('embedded');
    const file = (t.log as FileAuditLog).file;
    return {
      ...t,
      rewrite(fn) {
        const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
        writeFileSync(file, `${fn(lines).join('\n')}\n`);
      },
    };
  }

  it('reports an inserted entry', async () => {
    const t = await fileLog();
    t.rewrite((l) => [...l.slice(0, 3), l[2]!, ...l.slice(3)]);
    expect(await t.log.verify()).toMatchObject({ ok: false, problem: { kind: 'inserted', line: 4 } });
  });

  it('reports reordered entries', async () => {
    const t = await fileLog();
    t.rewrite((l) => [...l.slice(0, 3), l[4]!, l[3]!, ...l.slice(5)]);
    expect(await t.log.verify()).toMatchObject({ ok: false, problem: { kind: 'reordered', line: 4 } });
  });

  it('reports a line that is not JSON', async () => {
    const t = await fileLog();
    t.rewrite((l) => l.map((x, i) => (i === 6 ? x.slice(0, 20) : x)));
    expect(await t.log.verify()).toMatchObject({ ok: false, problem: { kind: 'unreadable', line: 7 } });
  });

  it('keeps every entry when two processes append at once', async () => {
    const dir = mkdtempSync(join(scratch, 'conc-'));
    const script = `
      const { FileAuditLog } = await import(${JSON.stringify(join(REPO, 'dist/src/audit/log.js'))});
      const log = new FileAuditLog(${JSON.stringify(dir)});
      for (let i = 0; i < 150; i++) await log.append({ kind: 'result', actor: process.argv[1], channel: 'cli', command: 'x ' + i, outcome: 'done' });
    `;
    const run = (who: string) =>
      new Promise<number | null>((resolve) => spawn(process.execPath, ['--input-type=module', '-e', script, who], { stdio: 'inherit' }).on('exit', resolve));
    expect(await Promise.all([run('repl'), run('serve')])).toEqual([0, 0]);
    expect(await new FileAuditLog(dir).verify()).toEqual({ ok: true, entries: 300 });
  });
});

describe.each(BACKENDS)('audit commands on %s', (backend) => {
  let w: TestWxops;
  let db: PostgresStore | undefined;
  afterEach(async () => {
    await w?.close();
    await db?.close();
  });

  it('tail and search show what happened, and verify reports the first tampered line', async () => {
    const url = backend === 'postgres' ? await testDatabase() : undefined;
    w = await startWxops({ database: url });
    if (url) db = new PostgresStore({ url });
    await w.run('dept add 审计部');
    await w.run('member add a1 --name 某 --dept 1 --mobile 13800000777', 'wangfang');
    const tail = okData(await w.run('audit tail -n 3')).entries as any[];
    expect(tail.length).toBe(3);
    // A read's decision goes on the log with its result, after the read: the tail ends before it.
    expect(tail.map((e) => `${e.kind}:${e.action}:${e.outcome}`).at(-1)).toBe('decision:member.add:deny');
    const next = okData(await w.run('audit tail -n 2')).entries as any[];
    expect(next.map((e) => `${e.kind}:${e.action}:${e.outcome}`)).toEqual(['decision:audit.tail:permit', 'result:audit.tail:done']);
    expect(next[1].seq).toBe(next[0].seq + 1);
    expect(next[1].prev).toBe(next[0].hash);
    // So does a dry run's (its plan only reads); a change's decision is written before the change.
    await w.run('dept add 预演部 --dry-run');
    const dry = (okData(await w.run('audit search --action dept.add')).entries as any[]).filter((e) => e.command.includes('预演部'));
    expect(dry.map((e) => `${e.kind}:${e.outcome}`)).toEqual(['decision:permit', 'result:dry-run']);
    expect(dry[1].seq).toBe(dry[0].seq + 1);
    const denied = okData(await w.run('audit search --actor wangfang --result deny')).entries as any[];
    expect(denied.map((e) => e.action)).toContain('member.add');
    expect(okData(await w.run('audit search --action dept.* --since 1h')).entries.length).toBeGreaterThan(0);
    expect((await w.run('audit search --since yesterday-ish')).error!.code).toBe('BAD_DATE');
    expect(okData(await w.run('audit verify'))).toMatchObject({ ok: true, backend: backend === 'postgres' ? 'postgres' : 'file' });
    expect((await w.run('audit verify', 'wangfang')).exitCode).toBe(3);

    // Nothing secret went in, whichever back-end holds it.
    const { DEMO_CREDENTIALS } = await import('../src/sim/index.js');
    const log = await w.runtime.audit();
    let all = '';
    for await (const l of log.lines()) all += `${l}\n`;
    expect(all).toContain('审计部');
    for (const s of [DEMO_CREDENTIALS.contacts_secret, DEMO_CREDENTIALS.app_secret, DEMO_CREDENTIALS.customer_secret, DEMO_CREDENTIALS.encoding_aes_key]) expect(all).not.toContain(s);

    if (db) {
      await db.query(`UPDATE wxops_audit SET line = replace(line, '"zhangwei"', '"sunli"') WHERE seq = 2`);
      expect((await db.query('SELECT actor FROM wxops_audit WHERE seq = 2')).rows[0]).toEqual({ actor: 'sunli' });
    } else {
      const lines = readFileSync(log.file!, 'utf8').trimEnd().split('\n');
      lines[1] = lines[1]!.replace('"zhangwei"', '"sunli"');
      writeFileSync(log.file!, `${lines.join('\n')}\n`);
    }
    const o = await w.run('audit verify');
    expect(o.exitCode).toBe(1);
    expect(o.error!.code).toBe('AUDIT_TAMPERED');
    expect(o.error!.text.zh).toContain('第 2 行');
    expect(o.error!.text.en).toContain('was edited');
  });
});

describe('commands on postgres when the database connection drops', () => {
  let w: TestWxops | undefined;
  let blocker: pg.Client | undefined;
  afterEach(async () => {
    await blocker?.end().catch(() => undefined);
    await w?.close();
    blocker = w = undefined;
  });

  /** Holds the chain head from another session, so that the next audit append waits; returns its killer. */
  async function holdHead(url: string): Promise<{ killWaiting(): Promise<void>; release(): Promise<void> }> {
    blocker = new pg.Client({ connectionString: url, application_name: 'blocker' });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM wxops_audit_head FOR UPDATE');
    const c = blocker;
    return {
      async killWaiting() {
        for (let i = 0; i < 400; i++) {
          const r = await c.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'wxops' AND datname = current_database() AND wait_event_type = 'Lock'");
          if (r.rows[0]) {
            await c.query('SELECT pg_terminate_backend($1)', [r.rows[0].pid]);
            return;
          }
          await new Promise((res) => setTimeout(res, 25));
        }
        throw new Error('no append waited for the chain head');
      },
      release: () => c.query('ROLLBACK').then(() => undefined),
    };
  }

  it('a connection lost while the decision is audited fails the command, which does nothing; the next command works', async () => {
    const url = await testDatabase();
    w = await startWxops({ database: url });
    okData(await w.run('dept list'));
    const head = await holdHead(url);
    const running = w.run('dept add 断线部');
    await head.killWaiting();
    const o = await running;
    expect(o.ok).toBe(false);
    expect(o.error!.code).toBe('DATABASE_UNAVAILABLE');
    expect(o.error!.text.zh).toContain('连接中断');
    await head.release();
    const depts = okData(await w.run('dept list')).department as { name: string }[];
    expect(depts.map((d) => d.name)).not.toContain('断线部');
    expect(okData(await w.run('audit verify')).ok).toBe(true);
    const last = okData(await w.run('audit search --action dept.add')).entries as any[];
    expect(last).toEqual([]);
  });

  it('a connection lost while a read is audited fails the read, which gives no answer and leaves nothing on the log', async () => {
    const url = await testDatabase();
    w = await startWxops({ database: url });
    okData(await w.run('dept list'));
    const before = (okData(await w.run('audit search --action dept.list')).entries as any[]).length;
    const head = await holdHead(url);
    const running = w.run('dept list');
    await head.killWaiting();
    const o = await running;
    expect(o.ok).toBe(false);
    expect(o.result).toBeUndefined();
    expect(o.error!.code).toBe('DATABASE_UNAVAILABLE');
    await head.release();
    expect((okData(await w.run('audit search --action dept.list')).entries as any[]).length).toBe(before);
    expect(okData(await w.run('audit verify')).ok).toBe(true);
  });

  it('a connection lost while the result is audited says the command was carried out', async () => {
    const url = await testDatabase();
    w = await startWxops({ database: url, withSimulator: true, latencyMs: 400 });
    okData(await w.run('dept list'));
    const store = (await w.runtime.store()) as PostgresStore;
    const running = w.run('dept add 半截部');
    // Once the decision is on the chain (the platform call is slow), the result's append will wait.
    for (let i = 0; i < 200; i++) {
      const r = await store.query("SELECT 1 FROM wxops_audit WHERE action = 'dept.add'");
      if (r.rowCount) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    const head = await holdHead(url);
    await head.killWaiting();
    const o = await running;
    expect(o.ok).toBe(false);
    expect(o.error!.code).toBe('DATABASE_UNAVAILABLE');
    expect(o.error!.text.en).toContain('was carried out');
    await head.release();
    expect((okData(await w.run('dept list')).department as { name: string }[]).map((d) => d.name)).toContain('半截部');
    const entries = okData(await w.run('audit search --action dept.add')).entries as any[];
    expect(entries.map((e) => `${e.kind}:${e.outcome}`)).toEqual(['decision:permit']);
    expect(okData(await w.run('audit verify')).ok).toBe(true);
  });
});
