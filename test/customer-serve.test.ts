import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import type { RunningServer } from '../src/cli/serve.js';
import { Session } from '../src/core/pipeline.js';
import type { Runtime } from '../src/core/runtime.js';
import { startServe, type TestServe } from './support/serve.js';
import { okData } from './support/sandbox.js';

/**
 * `wxops serve` in sandbox mode receives the customer-contact events the simulator sends (signed and
 * encrypted with the demo Token and EncodingAESKey): a new customer gets the welcome message within the
 * code's 20 s, and one who came through a contact way goes to the member the assignment rules choose.
 */
let serve: TestServe;
let runtime: Runtime;
let server: RunningServer;
let session: Session;

beforeAll(async () => {
  serve = await startServe();
  ({ runtime, server } = serve);
  session = new Session({ runtime, registry: createRegistry(), channel: 'repl', actor: 'zhangwei' });
});
afterAll(async () => {
  await serve.close();
});

const sim = (method: string, path: string, body?: unknown) => serve.sim(method, path, body);

async function welcomesOf(external_userid: string): Promise<any[]> {
  for (let i = 0; i < 50; i++) {
    const got = (await sim('GET', `/customers/outbox?external_userid=${external_userid}`)).messages ?? [];
    if (got.length) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  return [];
}

describe('customer-contact events through wxops serve', () => {
  it('sends the welcome message that applies when a customer adds a member', async () => {
    okData(await session.execute('welcome set --default "您好，我是示例科技的客户经理，有问题随时找我。"'));
    okData(await session.execute('welcome set --member wangfang "您好，我是王芳。" --link https://www.example.com/products --link-title 产品介绍'));
    const added = await sim('POST', '/customers/add', { userid: 'wangfang' });
    expect(added.delivered).toBe(true);
    const got = await welcomesOf(added.external_userid);
    expect(JSON.stringify(got)).toContain('您好，我是王芳。');
    expect(JSON.stringify(got)).toContain('https://www.example.com/products');
    const other = await sim('POST', '/customers/add', { userid: 'liuyang' });
    expect(JSON.stringify(await welcomesOf(other.external_userid))).toContain('客户经理');
  });

  it('hands a customer who came through a contact way to the member the rules choose', async () => {
    const way = okData(await session.execute('contactway add --member wangfang --state 展会2026'));
    // In the REPL the QR image goes to the data directory, not the working directory.
    expect(way.png).toContain(`${serve.dir}/qr/contactway-`);
    okData(await session.execute('assign rule add --state 展会2026 --to zhouqiang'));
    const added = await sim('POST', '/customers/add', { config_id: way.config_id });
    expect(added).toMatchObject({ userid: 'wangfang', state: '展会2026', delivered: true });
    let assigned: any;
    for (let i = 0; i < 50 && !assigned; i++) {
      assigned = (await (await runtime.audit()).query({ limit: 100 })).find((e) => e.actor === 'wxops' && e.action === 'customer.assign' && (e.resource as any)?.external_userid === added.external_userid);
      if (!assigned) await new Promise((r) => setTimeout(r, 50));
    }
    expect(assigned).toMatchObject({ outcome: 'done', resource: { from: 'wangfang', to: 'zhouqiang' } });
    const result = await (await runtime.customers()).transferResult('onjob', 'wangfang', 'zhouqiang');
    expect(result.map((r) => r.external_userid)).toContain(added.external_userid);
  });

  it('refuses a callback that is not signed with the Token', async () => {
    const res = await fetch(`${server.url}/wecom/callback?msg_signature=0000&timestamp=${Math.floor(Date.now() / 1000)}&nonce=1`, { method: 'POST', body: '<xml><Encrypt>x</Encrypt></xml>' });
    expect(res.status).toBe(403);
  });
});
