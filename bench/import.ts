import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import ExcelJS from 'exceljs';
import { createRegistry } from '../commands/index.js';
import { Session } from '../src/core/pipeline.js';
import { Runtime } from '../src/core/runtime.js';
import { WecomClient } from '../src/platform/wecom/client.js';
import { ContactsApi } from '../src/platform/wecom/contacts.js';
import { loadPlatformConfig } from '../src/platform/config.js';
import { startSimulator } from '../src/sim/index.js';
import { fmtMs, line } from './stats.js';

const LATENCY_MS = 20;

function rows(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    name: `导入${i}`,
    userid: `imp${i}`,
    mobile: `1366${String(i).padStart(7, '0')}`,
    dept: ['销售部/华东区', '销售部/华南区', '市场部', '技术部'][i % 4]!,
  }));
}

async function countImported(contacts: ContactsApi): Promise<{ unique: number; total: number }> {
  const pairs = await contacts.listUserIds();
  const ids = pairs.map((p) => p.userid).filter((u) => u.startsWith('imp'));
  return { unique: new Set(ids).size, total: ids.length };
}

/**
 * `member import` of N members into the simulator at 20 ms per call, against the obvious peer: a
 * loop that creates the same members one by one. Each runs on its own fresh simulator.
 */
export async function benchImport(n = Number(process.env.BENCH_IMPORT_ROWS ?? 5000)): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'wxops-bench-import-'));
  const data = rows(n);
  const file = join(work, 'members.xlsx');
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('成员');
  ws.addRow(['姓名', '帐号', '手机', '部门']);
  for (const r of data) ws.addRow([r.name, r.userid, r.mobile, r.dept]);
  await wb.xlsx.writeFile(file);

  // wxops: the real command through the pipeline.
  const simA = await startSimulator({ dataDir: join(work, 'a'), port: 0, latencyMs: LATENCY_MS });
  const runtime = new Runtime({ ...simA.env, WXOPS_DATA_DIR: join(work, 'wxops'), WXOPS_ACTOR: 'zhangwei' }, process.cwd());
  const session = new Session({ runtime, registry: createRegistry(), channel: 'cli' });
  const t0 = performance.now();
  const outcome = await session.execute(`member import ${file}`);
  const tWxops = performance.now() - t0;
  if (!outcome.ok) throw new Error(`import failed: ${outcome.error?.text.en}`);
  const a = await countImported(await runtime.contacts());
  await runtime.close();
  await simA.close();

  // Peer: one create after another.
  const simB = await startSimulator({ dataDir: join(work, 'b'), port: 0, latencyMs: LATENCY_MS });
  const client = new WecomClient(loadPlatformConfig(simB.env));
  const contacts = new ContactsApi(client);
  const depts = await contacts.listDepartments();
  const idOf = (path: string) => {
    const [first, second] = path.split('/');
    const top = depts.find((d) => d.name === first && d.parentid === 1)!;
    return second ? depts.find((d) => d.name === second && d.parentid === top.id)!.id : top.id;
  };
  const t1 = performance.now();
  for (const r of data) await contacts.createUser({ userid: r.userid, name: r.name, mobile: r.mobile, department: [idOf(r.dept)] });
  const tSeq = performance.now() - t1;
  const b = await countImported(contacts);
  await client.close();
  await simB.close();
  rmSync(work, { recursive: true, force: true });

  const ratio = tSeq / tWxops;
  console.log(`\nImport of ${n} members into the simulator at ${LATENCY_MS} ms per call`);
  line('sequential one-by-one (peer)', `${fmtMs(tSeq)}  (${b.unique}/${n} members)`);
  line('wxops member import', `${fmtMs(tWxops)}  (${a.unique}/${n} members, ${a.total - a.unique} duplicated)`);
  line('speed-up over sequential', `${ratio.toFixed(1)}×`, '≥ 8×, zero lost or duplicated', ratio >= 8 && a.unique === n && a.total === n);
}
