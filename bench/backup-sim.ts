/**
 * `node dist/bench/backup-sim.js <dataDir> <members> <customers> <latencyMs>`, a child of the backup
 * benchmark: the simulator at scale in its own process, printing one JSON line (its env and control URL)
 * once it is warm.
 *
 * Warm: before the line is printed the simulator answers about a thousand customer pages and the member
 * list, so that V8 has optimised its code — as a platform that has been up for a while has. Cold, its
 * first calls took several times the configured latency, which is the simulator's start-up and not
 * something any client could avoid. The process being measured (the backup) starts cold, as
 * `wxops backup run` does. The benchmark counts only the calls made after this line.
 */
const [dataDir, members, customers, latency] = process.argv.slice(2);
const { startSimulator } = await import('../src/sim/index.js');
const sim = await startSimulator({ dataDir: dataDir!, port: 0, latencyMs: Number(latency), scale: { members: Number(members), customers: Number(customers) } });
await warm(sim.env);
process.stdout.write(`${JSON.stringify({ env: sim.env, control: sim.controlUrl })}\n`);
await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
await sim.close();
process.exit(0);

async function warm(env: Record<string, string>): Promise<void> {
  const base = `${env.WXOPS_WECOM_BASE_URL}/cgi-bin`;
  const token = async (secret: string) => ((await (await fetch(`${base}/gettoken?corpid=${env.WXOPS_CORP_ID}&corpsecret=${secret}`)).json()) as { access_token: string }).access_token;
  const customer = await token(env.WXOPS_CUSTOMER_SECRET!);
  const contacts = await token(env.WXOPS_CONTACTS_SECRET!);
  await (await fetch(`${base}/user/list?access_token=${contacts}&department_id=1&fetch_child=1`)).arrayBuffer();
  const follow = ((await (await fetch(`${base}/externalcontact/get_follow_user_list?access_token=${customer}`)).json()) as { follow_user: string[] }).follow_user;
  // Ten chains, as the backup runs them, over a thousand pages in all (about one backup's worth).
  await Promise.all(
    Array.from({ length: 10 }, async (_, k) => {
      let cursor = '';
      for (let page = 0, group = k; page < 100; page++) {
        const body = JSON.stringify({ userid_list: follow.slice(group * 100, group * 100 + 100), cursor, limit: 100 });
        const r = (await (await fetch(`${base}/externalcontact/batch/get_by_user?access_token=${customer}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as { next_cursor?: string };
        cursor = r.next_cursor ?? '';
        // A group read to its end: the chain goes on with the group ten further on.
        if (!cursor) group += 10;
      }
    }),
  );
}
