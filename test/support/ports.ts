import { createServer } from 'node:net';

/**
 * A loopback port that was free a moment ago, chosen by the kernel. A random port could be one already in
 * use (the ephemeral range overlaps the usual picks), and the process under test would fail to listen.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
