import { createInterface } from 'node:readline';
import { startSimulator } from '../src/sim/index.js';
import { indexOf, removeRelations } from '../src/sim/customers/relations.js';
import type { SimRelation } from '../src/sim/customers/state.js';

/**
 * `node dist/bench/restore-sim.js <dataDir> <members> <customers> <latency>`, a child of the restore
 * benchmark: the simulator at scale in its own process. Every scaled relation gets a corp tag and a
 * remark (so the backup has something to restore). On the line `mutate` on stdin it deletes 10% of the
 * scaled members, deletes the relations of 10% of the customers (not restorable through the API) and
 * strips the tags and remarks of another 10% of the customers' relations, then prints what it did.
 */
const [dir, members, customers, latency] = process.argv.slice(2);
const sim = await startSimulator({ dataDir: dir!, port: 0, latencyMs: Number(latency), scale: { members: Number(members), customers: Number(customers) } });
const s = sim.simulator;
const scaled = (r: SimRelation) => /^emp\d+$/.test(r.userid);
{
  const { cs } = s.customers.begin();
  const tagIds = cs.tag_groups.flatMap((g) => g.tag.map((x) => x.id));
  let i = 0;
  for (const r of cs.relations) {
    if (!scaled(r)) continue;
    r.tags = [tagIds[i % tagIds.length]!];
    r.remark = `客户备注${i}`;
    i++;
  }
  s.customers.changed();
}
process.stdout.write(`${JSON.stringify(sim.env)}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'mutate') return;
  const state = s.stateFile.state;
  const { cs } = s.customers.begin();
  const users = state.users.filter((u) => /^emp\d+$/.test(u.userid));
  const gone = new Set(users.filter((_, i) => i % 10 === 3).map((u) => u.userid));
  state.users = state.users.filter((u) => !gone.has(u.userid));
  for (const tag of state.tags) tag.userlist = tag.userlist.filter((x) => !gone.has(x));
  s.stateFile.markDirty();
  // Customers: by their place in the list; only relations of members that are still there.
  // A stable hash of the customer id, so the choice does not follow the member's.
  const bucket = (id: string) => {
    let h = 2166136261;
    for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 16777619);
    return (h >>> 0) % 10;
  };
  const deleted = new Set<SimRelation>();
  let stripped = 0;
  for (const r of cs.relations) {
    if (!scaled(r) || gone.has(r.userid)) continue;
    const i = bucket(r.external_userid);
    if (i % 10 === 1) deleted.add(r);
    else if (i % 10 === 2) {
      r.tags = [];
      delete r.remark;
      stripped++;
    }
  }
  removeRelations(cs, deleted);
  void indexOf;
  s.customers.changed();
  process.stdout.write(`${JSON.stringify({ membersDeleted: gone.size, relationsDeleted: deleted.size, relationsStripped: stripped })}\n`);
});

await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
await sim.close();
process.exit(0);
