import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileAuditLog, hashEntry, serializeEntry, withHash, type StoredAuditEntry } from '../src/audit/log.js';
import { fmtMs, line, percentile } from './stats.js';

/**
 * Builds a correctly chained log of `n` entries straight to disk (appending 10⁶ entries with an fsync
 * each would take an hour), in exactly the shape `FileAuditLog.append` writes.
 */
function buildLog(dataDir: string, n: number): void {
  mkdirSync(join(dataDir, 'audit'), { recursive: true });
  const fd = openSync(join(dataDir, 'audit', 'audit.jsonl'), 'w');
  let prev = '0'.repeat(64);
  let chunk = '';
  const ts = new Date('2026-11-01T00:00:00Z').getTime();
  for (let seq = 1; seq <= n; seq++) {
    const body: Omit<StoredAuditEntry, 'hash'> = {
      seq,
      ts: new Date(ts + seq * 1000).toISOString(),
      kind: seq % 3 === 0 ? 'result' : 'decision',
      actor: `user${seq % 97}`,
      channel: 'wecom',
      command: `member add u${seq} --name 成员${seq} --dept 销售部/华东区 --mobile 1380000${String(seq % 10000).padStart(4, '0')}`,
      action: 'member.add',
      resource: { userid: `u${seq}`, departments: [3] },
      rule: 'dept-admin-manages-own-members',
      outcome: seq % 3 === 0 ? 'done' : 'permit',
      prev,
    };
    const hash = hashEntry(body);
    chunk += `${withHash(serializeEntry(body), hash)}\n`;
    prev = hash;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  // Flush the built log now, or the first timed appends' fsyncs would pay for writing it.
  fsyncSync(fd);
  closeSync(fd);
  writeFileSync(join(dataDir, 'audit', 'head.json'), JSON.stringify({ seq: n, hash: prev }));
}

/** Durable appends (fsync each) on logs of growing size, and `audit verify` over each. */
export async function benchAudit(sizes = [10_000, 100_000, 1_000_000]): Promise<void> {
  // On the real disk: an fsync on tmpfs costs nothing and would flatter the durable-append figure.
  const base = tmpdir();
  console.log(`\nAudit log (in ${base}; every append is fsync'd)`);
  const appendMeans: number[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(base, 'wxops-bench-audit-'));
    try {
      buildLog(dir, n);
      const log = new FileAuditLog(dir);
      const t0 = performance.now();
      const report = await log.verify();
      const verifyMs = performance.now() - t0;
      if (!report.ok || report.entries !== n) throw new Error(`verify of the built log failed: ${JSON.stringify(report)}`);
      const samples: number[] = [];
      for (let i = 0; i < 1000; i++) {
        const a = performance.now();
        await log.append({ kind: 'decision', actor: 'zhangwei', channel: 'cli', command: `dept add 部门${i}`, action: 'dept.add', outcome: 'permit' });
        samples.push(performance.now() - a);
      }
      samples.sort((x, y) => x - y);
      const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
      appendMeans.push(mean);
      if (!(await log.verify()).ok) throw new Error('chain broken after appends');
      line(`${n.toLocaleString('en')} entries: append mean / p99`, `${fmtMs(mean)} / ${fmtMs(percentile(samples, 99))}  (${Math.round(1000 / mean)} appends/s)`);
      line(`${n.toLocaleString('en')} entries: audit verify`, fmtMs(verifyMs), n === 1_000_000 ? '10⁶ under 3 s' : undefined, n === 1_000_000 ? verifyMs < 3000 : undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const flat = Math.max(...appendMeans) / Math.min(...appendMeans);
  line('append cost, largest vs smallest log', `${flat.toFixed(2)}×`, 'flat as the log grows (≤ 1.5×)', flat <= 1.5);
}
