import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { ChatGateway } from '../src/channels/chat.js';
import { renderOutcome } from '../src/channels/render-text.js';
import { testDatabase } from './support/postgres.js';
import { okData, startWxops, type TestWxops } from './support/sandbox.js';

/**
 * The database goes away under a running wxops (issue 9): the command that needed it fails with one clear
 * sentence — in the REPL's rendering and in a chat answer alike, never a crash — and once the database is
 * back the next command works, on a new connection, without a restart.
 */

/** A TCP hop in front of PostgreSQL that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cut = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (this.cut) return void client.destroy();
      const upstream = connect(target.port, target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  drop(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  close(): Promise<void> {
    this.drop();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let w: TestWxops;
let proxy: CuttableProxy;

beforeAll(async () => {
  const url = new URL(await testDatabase());
  proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port) });
  await proxy.listen();
  url.host = `127.0.0.1:${proxy.port}`;
  w = await startWxops({ database: url.toString() });
});
afterAll(async () => {
  await w?.close();
  await proxy?.close();
});

describe('a lost database connection', () => {
  it('fails the current command with one sentence, and the next command works once the database is back', async () => {
    okData(await w.run('autoreply keyword add 发票 "请把抬头和税号发给我们"'));
    proxy.drop();
    const failed = await w.run('autoreply list');
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', category: 'failed' });
    // What the REPL prints: the sentence, no stack, no connection string.
    const printed = renderOutcome(failed, { lang: 'zh', color: false });
    expect(printed).toContain('与数据库的连接中断');
    expect(printed).not.toMatch(/postgres:\/\/|at .*\.ts:\d+/);

    // A chat channel answers the same sentence instead of failing the message.
    const gateway = new ChatGateway({ runtime: w.runtime, registry: createRegistry(), channel: 'wecom' });
    const chat = await gateway.handle({ sender: 'zhangwei', text: 'autoreply list' });
    expect(chat.outcome?.error?.code).toBe('DATABASE_UNAVAILABLE');
    expect(chat.parts.join('\n')).toContain('与数据库的连接中断');

    proxy.restore();
    const back = okData(await w.run('autoreply list'));
    expect(JSON.stringify(back)).toContain('发票');
    expect((await gateway.handle({ sender: 'zhangwei', text: 'autoreply list' })).parts.join('\n')).toContain('发票');
  });
});
