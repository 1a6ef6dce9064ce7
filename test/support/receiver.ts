import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for a callback URL in simulator tests: records every request; `reply` decides the answer
 * (or stalls, by not answering).
 */
export interface Arrival {
  method: string;
  query: URLSearchParams;
  body: string;
}

export interface Receiver {
  url: string;
  arrivals: Arrival[];
  reply: (a: Arrival, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function receiver(path: string, defaultAnswer: string): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    arrivals: [],
    reply: (_a, res) => res.end(defaultAnswer),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = { method: req.method ?? '', query: new URL(req.url ?? '/', 'http://x').searchParams, body: Buffer.concat(chunks).toString('utf8') };
      r.arrivals.push(a);
      r.reply(a, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return r;
}
