import { loadPlatformConfig } from '../src/platform/config.js';
import { WecomClient } from '../src/platform/wecom/client.js';
import { ContactsApi } from '../src/platform/wecom/contacts.js';
import { CustomerApi } from '../src/platform/wecom/customers.js';
import { MpClient } from '../src/platform/mp/client.js';
import { MpApi } from '../src/platform/mp/api.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import { runBackup } from '../src/backup/writer.js';
import { parseKey } from '../src/backup/format.js';

/**
 * `node dist/bench/backup-run.js <env> <dataDir> <policyDir> [key]`, a child of the backup benchmark: one
 * `backup run` of everything with the real clients and writer, printing its figures as JSON. Its own
 * process, so the RSS measured is the backup's alone.
 */
const [envJson, dataDir, policyDir, key] = process.argv.slice(2);
const config = loadPlatformConfig(JSON.parse(envJson!) as Record<string, string>);
const client = new WecomClient(config);
const mpClient = new MpClient(config.mp);
const contacts = new ContactsApi(client);
const customers = new CustomerApi(client);
const mp = new MpApi(mpClient);
const store = new LowdbStore(dataDir!);
const baseline = process.memoryUsage.rss();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const timings: Record<string, number> = {};
const out = await runBackup(
  { dataDir: dataDir!, policyDir: policyDir!, contacts: async () => contacts, customers: async () => customers, mp: async () => mp, store: async () => store, now: () => new Date() },
  {
    createdBy: 'bench',
    explicit: true,
    key: parseKey(key),
    progress: (u) => {
      const m = /^backed up (\w+)/.exec(u.label?.en ?? '');
      if (m) timings[m[1]!] = Math.round(performance.now() - t0);
    },
  },
);
const wall = performance.now() - t0;
// The kernel's high-water mark: exact, and no sampling timer competing with the backup for the CPU.
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ id: out.id, counts: Object.fromEntries(Object.entries(out.manifest.entities).map(([k, e]) => [k, e.count])), bytes: out.bytes, rawBytes: out.rawBytes, wall, peak, baseline, timings, cpu: process.cpuUsage(cpu0) })}\n`);
await client.close();
await mpClient.close?.();
process.exit(0);
