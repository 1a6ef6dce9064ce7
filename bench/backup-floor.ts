import { EXTERNAL_CONTACT_CONCURRENCY } from '../src/platform/wecom/client.js';
import { readCustomerPages } from './customer-pages.js';

/**
 * `node dist/bench/backup-floor.js <env>`, a child of the backup benchmark: the transport floor
 * (customer-pages.ts) in its own process, started like `backup-run.js`, printing its wall time as JSON.
 */
const env = JSON.parse(process.argv[2]!) as Record<string, string>;
const t0 = performance.now();
const { pages } = await readCustomerPages(env, EXTERNAL_CONTACT_CONCURRENCY);
process.stdout.write(`${JSON.stringify({ wall: performance.now() - t0, pages })}\n`);
