import { loadPlatformConfig } from '../src/platform/config.js';
import { WecomClient } from '../src/platform/wecom/client.js';
import { CustomerApi } from '../src/platform/wecom/customers.js';

/**
 * `node dist/bench/customers-list.js <env>`, a child of the customers benchmark: lists every customer with the real client and prints its figures as JSON. Its
 * own process, importing only the client, so the RSS measured is the listing's and not the benchmark
 * runner's (which has every other benchmark's peers loaded).
 */
async function customersLister(envJson: string): Promise<void> {
  const client = new WecomClient(loadPlatformConfig(JSON.parse(envJson) as Record<string, string>));
  const api = new CustomerApi(client);
  const followUsers = await api.followUsers();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = performance.now();
  const customers = await api.customersOf(followUsers);
  const wall = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const relations = customers.reduce((s, c) => s + c.follow_user.length, 0);
  process.stdout.write(`${JSON.stringify({ followUsers: followUsers.length, customers: customers.length, relations, wall, peak, baseline })}\n`);
  await client.close();
}


await customersLister(process.argv[2]!);
