import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/ports.js';
import { REPO, cleanEnv } from './support/sandbox.js';

/** These run the real `wxops` executable (built by `npm test`'s pretest step), one process per call. */
const dataDir = mkdtempSync(join(tmpdir(), 'wxops-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function wxops(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/wxops.js'), ...args], {
    cwd: REPO,
    env: cleanEnv({ WXOPS_DATA_DIR: dataDir, ...env }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[], env?: Record<string, string>) {
  const r = wxops(['run', '--json', ...args], env);
  const lines = r.stdout.trim().split('\n');
  expect(lines, r.stdout + r.stderr).toHaveLength(1);
  return { code: r.code, body: JSON.parse(lines[0]!) };
}

describe('wxops run', () => {
  it('prints exactly one JSON object with ok, command, actor, result', () => {
    const { code, body } = json(['help']);
    expect(code).toBe(0);
    expect(body).toMatchObject({ ok: true, command: 'help', actor: 'zhangwei' });
    expect(body.result.commands.length).toBeGreaterThan(10);
  });

  it('uses exit 2 for bad input with error.code and error.message', () => {
    const { code, body } = json(['no-such-command']);
    expect(code).toBe(2);
    expect(body).toMatchObject({ ok: false, actor: 'zhangwei', error: { code: 'UNKNOWN_COMMAND' } });
    expect(body.error.message).toContain('no-such-command');
    expect(json(['dept add "unbalanced']).code).toBe(2);
    expect(json(['member add bad!id --name x --dept 1 --mobile 13800000000']).code).toBe(2);
  });

  it('keeps sandbox state across processes, with platform field names', () => {
    expect(json(['dept add 冒烟部 --parent 1']).code).toBe(0);
    const { code, body } = json(['member add smoke1 --name 冒烟 --dept 冒烟部 --mobile 13955550001']);
    expect(code).toBe(0);
    expect(body.result).toMatchObject({ userid: 'smoke1', name: '冒烟', mobile: '13955550001' });
    const got = json(['member get smoke1']).body.result;
    expect(got).toMatchObject({ userid: 'smoke1', name: '冒烟' });
    expect(typeof got.department[0]).toBe('number');
    const list = json(['dept list']).body.result.department;
    expect(list.some((d: any) => d.name === '冒烟部')).toBe(true);
  });

  it('uses exit 3 for a policy denial and 1 for a platform refusal', () => {
    const denied = json(['--as', 'wangfang', 'member remove zhouqiang']);
    expect(denied.code).toBe(3);
    expect(denied.body).toMatchObject({ ok: false, actor: 'wangfang', error: { code: 'DENIED' } });
    const wf = json(['member get wangfang']).body.result;
    const refused = json([`member add dup2 --name 重复 --dept 1 --mobile ${wf.mobile}`]);
    expect(refused.code).toBe(1);
    expect(refused.body.error.code).toBe('PLATFORM_60104');
  });

  it('uses exit 4 for a command waiting for approval, with the request id, plan and approvers', () => {
    const { code, body } = json(['member remove zhouqiang']);
    expect(code).toBe(4);
    expect(body).toMatchObject({ ok: false, actor: 'zhangwei', error: { code: 'APPROVAL_PENDING' } });
    expect(body.error.details.request_id).toMatch(/^\d+$/);
    expect(body.error.details.plan.steps[0]).toMatchObject({ api: 'user/delete' });
    expect(body.error.details.approvers[1]).toEqual(['sunli']);
    const approved = json(['--as', 'lina', `approval approve ${body.error.details.request_id}`]);
    expect(approved.code).toBe(0);
    expect(approved.body.result).toMatchObject({ step: 1, complete: false });
  });

  it('answers in English with WXOPS_LANG=en and in plain text without --json', () => {
    const { body } = json(['dept remove 1'], { WXOPS_LANG: 'en' });
    expect(body.error.message).toBe('The root department cannot be removed.');
    const r = wxops(['run', 'dept', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('销售部');
    expect(r.stdout).toContain('华东区');
  });

  it('requires an actor in live mode and rejects an unknown --as', () => {
    const live = json(['dept list'], { WXOPS_CORP_ID: 'ww0000000000000000' });
    expect(live.code).toBe(2);
    expect(live.body.error.code).toBe('ACTOR_REQUIRED');
    expect(json(['--as', 'nobody', 'dept list']).body.error.code).toBe('UNKNOWN_ACTOR');
  });
});

describe('wxops sim', () => {
  it('prints one JSON line with base URLs and the demo credentials, and serves the API', async () => {
    const simData = mkdtempSync(join(tmpdir(), 'wxops-sim-'));
    const child = spawn(process.execPath, [join(REPO, 'bin/wxops.js'), 'sim', '--port', '0', '--data', simData], { env: cleanEnv() });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.on('exit', (c) => reject(new Error(`sim exited ${c}`)));
      });
      const info = JSON.parse(line);
      expect(info.wecom_base_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
      expect(info.mp_base_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
      expect(info.contacts_secret).toBeTruthy();
      const tok = await (await fetch(`${info.wecom_base_url}/cgi-bin/gettoken?corpid=${info.corp_id}&corpsecret=${info.contacts_secret}`)).json();
      expect(tok.errcode).toBe(0);
      expect(tok.access_token).toBeTruthy();
    } finally {
      child.kill('SIGTERM');
      rmSync(simData, { recursive: true, force: true });
    }
  });
});

describe('wxops serve', () => {
  it('answers GET /healthz on 127.0.0.1', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(REPO, 'bin/wxops.js'), 'serve', '--port', String(port)], { env: cleanEnv({ WXOPS_DATA_DIR: dataDir }) });
    try {
      let body: any;
      for (let i = 0; i < 100 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json(), () => undefined);
        if (!body) await new Promise((r) => setTimeout(r, 100));
      }
      expect(body).toMatchObject({ ok: true, mode: 'sandbox' });
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
