import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmtMs, line, median } from './stats.js';

/** `wxops run help` as a whole process against a bare `node -e 0`, interleaved so drift hits both. */
export function benchColdStart(repo: string, runs = 15): void {
  const dataDir = mkdtempSync(join(tmpdir(), 'wxops-bench-cold-'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, WXOPS_DATA_DIR: dataDir };
  const time = (args: string[]): number => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: repo, env, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    return performance.now() - t0;
  };
  time(['-e', '0']);
  time([join(repo, 'bin/wxops.js'), 'run', 'help']);
  const bare: number[] = [];
  const wx: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(time(['-e', '0']));
    wx.push(time([join(repo, 'bin/wxops.js'), 'run', 'help']));
  }
  rmSync(dataDir, { recursive: true, force: true });
  const b = median(bare);
  const w = median(wx);
  console.log(`\nCold start (median of ${runs} processes)`);
  line('node -e 0', fmtMs(b));
  line('wxops run help', fmtMs(w));
  line('added over bare node', `${fmtMs(w - b)} (ratio ${(w / b).toFixed(2)}×)`, '≤ 300 ms above bare node', w - b <= 300);
}
