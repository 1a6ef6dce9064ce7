/**
 * `node dist/bench/backup-sim.js <dataDir> <members> <customers> <latencyMs>`, a child of the backup
 * benchmark: the simulator at scale in its own process, printing one JSON line (its env and control URL).
 */
const [dataDir, members, customers, latency] = process.argv.slice(2);
const { startSimulator } = await import('../src/sim/index.js');
const sim = await startSimulator({ dataDir: dataDir!, port: 0, latencyMs: Number(latency), scale: { members: Number(members), customers: Number(customers) } });
process.stdout.write(`${JSON.stringify({ env: sim.env, control: sim.controlUrl })}\n`);
await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
await sim.close();
process.exit(0);
