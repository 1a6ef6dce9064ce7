import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../src/cli/serve.js';
import { Runtime } from '../src/core/runtime.js';
import { cleanEnv, REPO } from './support/sandbox.js';

/**
 * `wxops serve` with Slack configured mounts /slack/events, and an approval asked in Slack is announced
 * in that Slack thread (the other channels keep theirs). Slack's Web API is a local stand-in here.
 */
const SIGNING = 'slack-signing-secret-for-tests';
let dir: string;
let runtime: Runtime;
let server: RunningServer;
let slackApi: Server;
const posted: Record<string, unknown>[] = [];

beforeAll(async () => {
  slackApi = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const params = req.headers['content-type']?.includes('json') ? JSON.parse(body || '{}') : Object.fromEntries(new URLSearchParams(body));
      if (req.url?.includes('chat.postMessage')) posted.push(params);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url?.includes('auth.test') ? { ok: true, user_id: 'UBOT', bot_id: 'BBOT' } : { ok: true, ts: '1.1', channel: params.channel }));
    });
  });
  await new Promise<void>((r) => slackApi.listen(0, '127.0.0.1', () => r()));
  dir = mkdtempSync(join(tmpdir(), 'wxops-serve-slack-'));
  runtime = new Runtime(
    cleanEnv({
      WXOPS_DATA_DIR: dir,
      WXOPS_SLACK_SIGNING_SECRET: SIGNING,
      WXOPS_SLACK_BOT_TOKEN: 'xoxb-test-token-0000',
      WXOPS_SLACK_API_URL: `http://127.0.0.1:${(slackApi.address() as AddressInfo).port}/api/`,
    }),
    REPO,
  );
  server = await startServer(runtime, { port: 0 });
});
afterAll(async () => {
  await server.close();
  await runtime.close();
  slackApi.close();
  rmSync(dir, { recursive: true, force: true });
});

async function slackEvent(event: Record<string, unknown>): Promise<number> {
  const body = JSON.stringify({ type: 'event_callback', team_id: 'T1', api_app_id: 'A1', event_id: `Ev${Math.random().toString(36).slice(2)}`, event_time: Math.floor(Date.now() / 1000), event });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = `v0=${createHmac('sha256', SIGNING).update(`v0:${ts}:${body}`).digest('hex')}`;
  const res = await fetch(`${server.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-slack-signature': sig, 'x-slack-request-timestamp': ts }, body });
  return res.status;
}

async function waitFor(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
}

describe('wxops serve with Slack', () => {
  it('answers a mention in its thread and announces an approval there, mentioning the approvers', async () => {
    expect(await slackEvent({ type: 'app_mention', user: 'U0WXOPS001', text: '<@UBOT> dept list', channel: 'COPS', ts: '100.1' })).toBe(200);
    await waitFor(() => posted.some((p) => String(p.text).includes('销售部')));
    expect(posted.find((p) => String(p.text).includes('销售部'))).toMatchObject({ channel: 'COPS', thread_ts: '100.1' });
    await slackEvent({ type: 'app_mention', user: 'U0WXOPS001', text: '<@UBOT> member remove zhouqiang', channel: 'COPS', ts: '200.1' });
    await waitFor(() => posted.some((p) => String(p.text).includes('<@U0WXOPS003>')));
    expect(posted.find((p) => String(p.text).includes('<@U0WXOPS003>'))).toMatchObject({ channel: 'COPS', thread_ts: '200.1' });
  });
});
