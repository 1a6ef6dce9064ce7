import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyLog } from '../src/audit/log.js';
import { REPO, okData, startWxops, type TestWxops } from './support/sandbox.js';

const scratch = mkdtempSync(join(tmpdir(), 'wxops-audit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let pristine: string;
beforeAll(() => {
  pristine = mkdtempSync(join(scratch, 'base-'));
  const log = new AuditLog(pristine);
  for (let i = 1; i <= 10; i++) log.append({ kind: 'decision', actor: 'zhangwei', channel: 'cli', command: `dept add 部门${i}`, action: 'dept.add', outcome: 'permit' });
});

/** A copy of the ten-entry log with its lines changed by `edit`. */
function tampered(edit: (lines: string[]) => string[]): AuditLog {
  const dir = mkdtempSync(join(scratch, 't-'));
  cpSync(pristine, dir, { recursive: true });
  const log = new AuditLog(dir);
  const lines = readFileSync(log.file, 'utf8').trimEnd().split('\n');
  writeFileSync(log.file, `${edit(lines).join('\n')}\n`);
  return log;
}

describe('audit verify', () => {
  it('accepts an intact log', () => {
    expect(verifyLog(new AuditLog(pristine))).toEqual({ ok: true, entries: 10 });
  });

  it('reports an edited entry', () => {
    const log = tampered((l) => l.map((x, i) => (i === 4 ? x.replace('"permit"', '"deny"') : x)));
    expect(verifyLog(log)).toMatchObject({ ok: false, entries: 4, problem: { kind: 'edited', line: 5, seq: 5 } });
  });

  it('reports a deleted entry', () => {
    const log = tampered((l) => l.filter((_, i) => i !== 4));
    expect(verifyLog(log)).toMatchObject({ ok: false, problem: { kind: 'deleted', line: 5, seq: 6 } });
  });

  it('reports an inserted entry', () => {
    const log = tampered((l) => [...l.slice(0, 3), l[2]!, ...l.slice(3)]);
    expect(verifyLog(log)).toMatchObject({ ok: false, problem: { kind: 'inserted', line: 4 } });
  });

  it('reports reordered entries', () => {
    const log = tampered((l) => [...l.slice(0, 3), l[4]!, l[3]!, ...l.slice(5)]);
    expect(verifyLog(log)).toMatchObject({ ok: false, problem: { kind: 'reordered', line: 4 } });
  });

  it('reports a truncated tail, thanks to the chain head kept outside the log', () => {
    const log = tampered((l) => l.slice(0, 8));
    expect(verifyLog(log)).toMatchObject({ ok: false, entries: 8, problem: { kind: 'truncated', seq: 9 } });
  });

  it('reports a line that is not JSON', () => {
    const log = tampered((l) => l.map((x, i) => (i === 6 ? x.slice(0, 20) : x)));
    expect(verifyLog(log)).toMatchObject({ ok: false, problem: { kind: 'unreadable', line: 7 } });
  });

  it('keeps every entry when two processes append at once', async () => {
    const dir = mkdtempSync(join(scratch, 'conc-'));
    const script = `
      const { AuditLog } = await import(${JSON.stringify(join(REPO, 'dist/src/audit/log.js'))});
      const log = new AuditLog(${JSON.stringify(dir)});
      for (let i = 0; i < 150; i++) log.append({ kind: 'result', actor: process.argv[1], channel: 'cli', command: 'x ' + i, outcome: 'done' });
    `;
    const run = (who: string) =>
      new Promise<number | null>((resolve) => spawn(process.execPath, ['--input-type=module', '-e', script, who], { stdio: 'inherit' }).on('exit', resolve));
    expect(await Promise.all([run('repl'), run('serve')])).toEqual([0, 0]);
    const report = verifyLog(new AuditLog(dir));
    expect(report).toEqual({ ok: true, entries: 300 });
  });
});

describe('audit commands', () => {
  let w: TestWxops;
  beforeAll(async () => {
    w = await startWxops();
  });
  afterAll(async () => {
    await w.close();
  });

  it('tail and search show what happened, and verify reports the first tampered line', async () => {
    await w.run('dept add 审计部');
    await w.run('member add a1 --name 某 --dept 1 --mobile 13800000777', 'wangfang');
    const tail = okData(await w.run('audit tail -n 3')).entries as any[];
    expect(tail.length).toBe(3);
    expect(tail[tail.length - 1].action).toBe('audit.tail');
    const denied = okData(await w.run('audit search --actor wangfang --result deny')).entries as any[];
    expect(denied.map((e) => e.action)).toContain('member.add');
    expect(okData(await w.run('audit search --action dept.* --since 1h')).entries.length).toBeGreaterThan(0);
    expect((await w.run('audit search --since yesterday-ish')).error!.code).toBe('BAD_DATE');
    expect(okData(await w.run('audit verify')).ok).toBe(true);
    expect((await w.run('audit verify', 'wangfang')).exitCode).toBe(3);

    const log = await w.runtime.audit();
    const lines = readFileSync(log.file, 'utf8').trimEnd().split('\n');
    lines[1] = lines[1]!.replace('"zhangwei"', '"sunli"');
    writeFileSync(log.file, `${lines.join('\n')}\n`);
    const o = await w.run('audit verify');
    expect(o.exitCode).toBe(1);
    expect(o.error!.code).toBe('AUDIT_TAMPERED');
    expect(o.error!.text.zh).toContain('第 2 行');
    expect(o.error!.text.en).toContain('was edited');
  });
});
