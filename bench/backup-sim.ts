/**
 * `node dist/bench/backup-sim.js <dataDir> <members> <customers> <latencyMs>`, a child of the backup
 * benchmark: the simulator at scale in its own process, printing one JSON line (its env and control URL)
 * once it is warm.
 *
 * Warm: before the line is printed the simulator answers the member list and every customer page once, so
 * that V8 has optimised its code — as a platform that has been up for a while has. Cold, its first calls
 * took several times the configured latency, which is the simulator's start-up and not
 * something any client could avoid. The process being measured (the backup) starts cold, as
 * `wxops backup run` does. The benchmark counts only the calls made after this line.
 */
const [dataDir, members, customers, latency] = process.argv.slice(2);
const { startSimulator } = await import('../src/sim/index.js');
const { readCustomerPages } = await import('./customer-pages.js');
const { EXTERNAL_CONTACT_CONCURRENCY } = await import('../src/platform/wecom/client.js');
const sim = await startSimulator({ dataDir: dataDir!, port: 0, latencyMs: Number(latency), scale: { members: Number(members), customers: Number(customers) } });
await warm(sim.env);
process.stdout.write(`${JSON.stringify({ env: sim.env, control: sim.controlUrl })}\n`);
await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
await sim.close();
process.exit(0);

async function warm(env: Record<string, string>): Promise<void> {
  const base = `${env.WXOPS_WECOM_BASE_URL}/cgi-bin`;
  const contacts = ((await (await fetch(`${base}/gettoken?corpid=${env.WXOPS_CORP_ID}&corpsecret=${env.WXOPS_CONTACTS_SECRET}`)).json()) as { access_token: string }).access_token;
  await (await fetch(`${base}/user/list?access_token=${contacts}&department_id=1&fetch_child=1`)).arrayBuffer();
  // Every customer page once, on ten chains, as a backup reads them.
  await readCustomerPages(env, EXTERNAL_CONTACT_CONCURRENCY);
}
