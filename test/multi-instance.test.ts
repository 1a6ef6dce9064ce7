import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encrypt, getSignature } from '@wecom/crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../src/sim/index.js';
import { testDatabase } from './support/postgres.js';
import { cleanEnv, REPO } from './support/sandbox.js';

/**
 * Two `wxops serve` processes on one PostgreSQL database behave as one bot (issue 9): a round-robin
 * balancer stands in front of them as the platform's callback URL, the simulator plays the company and
 * the ops group, and the checks are what the people in that group would see.
 */
interface Instance {
  name: string;
  url: string;
  proc: ChildProcess;
  log: string;
  dir: string;
}

let sim: SimulatorHandle;
let simDir: string;
let databaseUrl: string;
let db: pg.Client;
const instances: Instance[] = [];
let balancer: Server;
let balancerUrl: string;

function startInstance(name: string, env: NodeJS.ProcessEnv): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), `wxops-${name}-`));
  const proc = spawn(process.execPath, [join(REPO, 'bin/wxops.js'), 'serve', '--port', '0'], {
    cwd: REPO,
    env: { ...env, WXOPS_DATA_DIR: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const inst: Instance = { name, url: '', proc, log: '', dir };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${inst.log}`)), 25_000);
    proc.stderr!.on('data', (d: Buffer) => {
      inst.log += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(inst.log);
      if (m && !inst.url) {
        inst.url = m[1]!;
        clearTimeout(timer);
        resolve(inst);
      }
    });
    proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${inst.log}`)));
  });
}

/** The load balancer in front of the callback URL: each request goes to the next instance in turn. */
function startBalancer(): Promise<string> {
  let next = 0;
  balancer = createServer((req, res) => {
    const target = new URL(req.url!, instances[next++ % instances.length]!.url);
    const fwd = request(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    fwd.on('error', () => res.writeHead(502).end());
    req.pipe(fwd);
  });
  return new Promise((resolve) => balancer.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(balancer.address() as { port: number }).port}`)));
}

const control = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${sim.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json() as Promise<any>;
};
const mention = (userid: string, text: string) => control('POST', '/bot/mention', { userid, text });
const storeValue = async (collection: string, id: string) => (await db.query('SELECT value FROM wxops_store WHERE collection = $1 AND id = $2', [collection, id])).rows[0]?.value;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  databaseUrl = await testDatabase('wxops_multi');
  simDir = mkdtempSync(join(tmpdir(), 'wxops-multi-sim-'));
  sim = await startSimulator({ dataDir: simDir, port: 0 });
  // Both jobs' times have passed today, so both instances find the day's digest and backup due at start.
  const env = cleanEnv({ ...sim.env, WXOPS_DATABASE_URL: databaseUrl, WXOPS_DIGEST_CRON: '0 0 * * *', WXOPS_BACKUP_CRON: '0 0 * * *' });
  instances.push(...(await Promise.all([startInstance('a', env), startInstance('b', env)])));
  balancerUrl = await startBalancer();
  await control('POST', '/mp/server', { url: `${balancerUrl}/mp/callback`, mode: 'safe' });
  await control('POST', '/bot/config', { url: `${balancerUrl}/wecom/bot` });
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
}, 60_000);

afterAll(async () => {
  await db?.end();
  balancer?.close();
  await Promise.all(
    instances.map(
      (i) =>
        new Promise<void>((resolve) => {
          if (i.proc.exitCode !== null) return resolve();
          i.proc.once('exit', () => resolve());
          i.proc.kill('SIGTERM');
        }),
    ),
  );
  for (const i of instances) rmSync(i.dir, { recursive: true, force: true });
  await sim?.close();
  rmSync(simDir, { recursive: true, force: true });
});

describe('two instances on one database', () => {
  it('post one digest and make one backup for the day, not one each', async () => {
    const digests = await until(
      async () => (await control('GET', '/webhook/messages')).messages.filter((m: any) => String(m.content ?? '').includes('日报')),
      (list: unknown[]) => list.length >= 1,
    );
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
    const run = await until(() => storeValue('jobs', `backup:${today}`), (v: any) => v?.status === 'done', 60_000);
    expect(run).toMatchObject({ status: 'done', attempts: 1 });
    expect(await storeValue('jobs', `digest:${today}`)).toMatchObject({ status: 'done', attempts: 1 });
    // Give a second (wrong) run time to show itself.
    await new Promise((r) => setTimeout(r, 1500));
    const after = (await control('GET', '/webhook/messages')).messages.filter((m: any) => String(m.content ?? '').includes('日报'));
    expect(digests.length).toBe(1);
    expect(after.length).toBe(1);
    // The backup is in the shared catalogue, and it holds the shared state (read from PostgreSQL, not a local file).
    const catalogue = (await db.query("SELECT value FROM wxops_store WHERE collection = 'backups'")).rows.map((r) => r.value);
    expect(catalogue).toHaveLength(1);
    expect(catalogue[0].counts.wxops_store).toBeGreaterThan(0);
    expect(instances.map((i) => i.dir)).toContain(catalogue[0].dir.replace(/\/backups\/.*$/, ''));
  });

  it('an approval asked on one instance is seen and decided on the other', async () => {
    await control('POST', '/bot/config', { url: `${instances[0]!.url}/wecom/bot` });
    const ask = await mention('zhangwei', 'member remove zhouqiang');
    expect(ask.answer.content).toContain('⏳');
    const id = /请求 (\d+)/.exec(ask.answer.content)![1];
    await control('POST', '/bot/config', { url: `${instances[1]!.url}/wecom/bot` });
    const list = await mention('lina', 'approval list');
    expect(list.answer.content).toContain(id);
    const step1 = await mention('lina', `approval approve ${id}`);
    expect(step1.answer.content).toContain('第 1 步');
    await control('POST', '/bot/config', { url: `${balancerUrl}/wecom/bot` });
  });

  it('a slow command answered across both instances: the stream refreshes reach either one', async () => {
    await control('POST', '/faults', { latency_ms: 1200 });
    try {
      const r = await mention('lina', 'member list --dept 销售部 --recursive');
      expect(r.answer.finished).toBe(true);
      expect(r.refreshes).toBeGreaterThan(0);
      expect(r.answer.content).toContain('wangfang');
    } finally {
      await control('DELETE', '/faults');
    }
  });

  it('counts a member’s commands across both instances: the flood limit does not double', async () => {
    // The balancer sends these alternately to a and b; the limit is 5 in 10 s for the member, not per instance.
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await mention('sunli', 'tag list'));
    const refused = answers.filter((a) => String(a.answer?.content).includes('命令太频繁'));
    expect(refused.length).toBe(3);
  });

  it('handles a callback once when the platform’s retry reaches the other instance', async () => {
    const { mp_token: token, mp_aes_key: aesKey, mp_appid: appid } = sim.credentials;
    const at = Math.floor(Date.now() / 1000);
    const openid = 'oLVPpjMULTIINSTANCETESTOPENID';
    const inner = `<xml><ToUserName><![CDATA[gh_5a1b2c3d4e5f]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName><CreateTime>${at}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[MULTI_INSTANCE_KEY]]></EventKey></xml>`;
    const enc = encrypt(aesKey, inner, appid);
    const timestamp = String(at);
    const nonce = '424242';
    const q = new URLSearchParams({ signature: getSignature(token, timestamp, nonce, ''), timestamp, nonce, openid, encrypt_type: 'aes', msg_signature: getSignature(token, timestamp, nonce, enc) });
    const body = `<xml><ToUserName><![CDATA[gh_5a1b2c3d4e5f]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`;
    const answers = await Promise.all(instances.map((i) => fetch(`${i.url}/mp/callback?${q}`, { method: 'POST', body }).then((r) => r.status)));
    expect(answers).toEqual([200, 200]);
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(at * 1000));
    const counts = await until(() => storeValue('mp-counts', day), (v: any) => v?.clicks?.MULTI_INSTANCE_KEY?.count >= 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await storeValue('mp-counts', day)).clicks.MULTI_INSTANCE_KEY.count).toBe(1);
    expect(counts.clicks.MULTI_INSTANCE_KEY.users).toEqual([openid]);
  });

  it('keeps one unbroken audit chain written by both', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wxops-verify-'));
    const verify = spawn(process.execPath, [join(REPO, 'bin/wxops.js'), 'audit', 'verify', '--json'], {
      cwd: REPO,
      env: cleanEnv({ ...sim.env, WXOPS_DATABASE_URL: databaseUrl, WXOPS_ACTOR: 'zhangwei', WXOPS_DATA_DIR: dataDir }),
    });
    let out = '';
    verify.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => verify.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    const report = JSON.parse(out);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    const rows = (await db.query<{ seq: string }>('SELECT seq FROM wxops_audit ORDER BY seq')).rows.map((r) => Number(r.seq));
    expect(rows.length).toBeGreaterThan(5);
    expect(rows).toEqual(rows.map((_, i) => i + 1));
  });
});
