import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { MockAgent, type Dispatcher } from 'undici';
import { createRegistry } from '../commands/index.js';
import { Session } from '../src/core/pipeline.js';
import { Runtime } from '../src/core/runtime.js';
import { fmtMs, line, percentile } from './stats.js';

const BASE = 'http://wecom.bench.invalid';

/** Records when the first request of each command leaves the pipeline. */
export class TimingAgent extends MockAgent {
  firstRequestAt: number | undefined;
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.firstRequestAt ??= performance.now();
    return super.dispatch(opts, handler);
  }
}

function cannedCompany() {
  const department = [
    { id: 1, name: '示例科技有限公司', parentid: 0, order: 0, department_leader: ['zhangwei'] },
    { id: 2, name: '销售部', parentid: 1, order: 0, department_leader: ['lina'] },
    { id: 3, name: '华东区', parentid: 2, order: 0, department_leader: [] },
    { id: 4, name: '华南区', parentid: 2, order: 0, department_leader: [] },
    { id: 5, name: '市场部', parentid: 1, order: 0, department_leader: [] },
  ];
  const dept_user = [
    { userid: 'zhangwei', department: 1 },
    { userid: 'lina', department: 2 },
    { userid: 'wangfang', department: 3 },
    ...Array.from({ length: 200 }, (_, i) => ({ userid: `user${i}`, department: 2 + (i % 4) })),
  ];
  return { department, dept_user };
}

/**
 * WeCom replaced by undici's MockAgent answering at once (the canned company above), and the variables
 * that point a live-mode Runtime at it: a pipeline measured with these has no network in it.
 */
export function mockedWecom(): { agent: TimingAgent; env: Record<string, string> } {
  const agent = new TimingAgent();
  agent.disableNetConnect();
  const pool = agent.get(BASE);
  const company = cannedCompany();
  const ok = { errcode: 0, errmsg: 'ok' };
  pool.intercept({ path: /\/cgi-bin\/gettoken/, method: 'GET' }).reply(200, { ...ok, access_token: 'bench-token', expires_in: 7200 }).persist();
  pool.intercept({ path: /\/cgi-bin\/department\/list/, method: 'GET' }).reply(200, { ...ok, department: company.department }).persist();
  pool.intercept({ path: /\/cgi-bin\/user\/list_id/, method: 'POST' }).reply(200, { ...ok, dept_user: company.dept_user, next_cursor: '' }).persist();
  pool.intercept({ path: /\/cgi-bin\/user\/get/, method: 'GET' }).reply(200, { ...ok, userid: 'wangfang', name: '王芳', department: [3], status: 1 }).persist();
  pool.intercept({ path: /\/cgi-bin\/user\/update/, method: 'POST' }).reply(200, { errcode: 0, errmsg: 'updated' }).persist();
  const env = {
    WXOPS_CORP_ID: 'ww0123456789abcdef',
    WXOPS_CONTACTS_SECRET: 'bench-contacts-secret-0123456789abcdefghijk',
    WXOPS_WECOM_BASE_URL: BASE,
    WXOPS_ACTOR: 'zhangwei',
  };
  return { agent, env };
}

/**
 * The commands the pipeline benchmarks cycle through: reads and dry runs, each decided, audited (decision
 * and result in one append) and answered.
 */
export const BENCH_LINES = [
  'member add zhaoliu --name 赵六 --dept 销售部/华东区 --mobile 13800000001 --dry-run',
  'dept list',
  'member get wangfang',
  '成员 调动 wangfang --dept “销售部/华南区” --dry-run',
];

/** A command that changes something (WeCom answers at once): its decision is audited before the change, its result after. */
export const CHANGE_LINES = ['成员 调动 wangfang --dept “销售部/华南区”'];

/**
 * Text in → first API request out, with the network replaced by undici's MockAgent answering at once:
 * tokenize, parse, validate, and the client up to the dispatcher. Measured over many commands.
 */
export async function benchPipeline(commands = 10_000): Promise<void> {
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dataDir = mkdtempSync(join(shm, 'wxops-bench-pipe-'));
  const { agent, env } = mockedWecom();
  const runtime = new Runtime({ ...env, WXOPS_DATA_DIR: dataDir }, process.cwd(), { dispatcher: agent });
  const session = new Session({ runtime, registry: createRegistry(), channel: 'cli' });
  const lines = BENCH_LINES;
  const samples: number[] = [];
  for (let i = 0; i < commands + 200; i++) {
    agent.firstRequestAt = undefined;
    const t0 = performance.now();
    const outcome = await session.execute(lines[i % lines.length]!);
    if (!outcome.ok) throw new Error(`bench command failed: ${outcome.error?.text.en}`);
    if (i >= 200 && agent.firstRequestAt !== undefined) samples.push(agent.firstRequestAt - t0);
  }
  await runtime.close();
  rmSync(dataDir, { recursive: true, force: true });
  samples.sort((a, b) => a - b);
  console.log(`\nPipeline overhead: text in → first API request out (${samples.length} commands, network replaced by MockAgent)`);
  line('p50', fmtMs(percentile(samples, 50)));
  line('p99', fmtMs(percentile(samples, 99)), 'p99 < 1 ms', percentile(samples, 99) < 1);
}
