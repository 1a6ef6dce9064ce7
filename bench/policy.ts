import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { PolicyEngine, type PolicyRequest } from '../src/policy/engine.js';
import type { PolicySet, Rule } from '../src/policy/model.js';
import { prng } from '../src/sim/random.js';
import { fmtMs, line, percentile } from './stats.js';

/**
 * Decision latency of our engine against @cedar-policy/cedar-wasm and casbin, on the same synthetic
 * policy expressed three ways, at 10, 100 and 1,000 rules. The three must agree on every request
 * before any figure is printed.
 */
const ROLES = 50;
const USERS = 1000;
const GROUPS = 20;
const OPS = 50;
const src = { file: 'bench', line: 1 };

interface Spec {
  id: string;
  effect: 'permit' | 'forbid';
  role: number;
  action: string;
  /** within: resource.departments ⊆ actor.managed_departments; users: actor.userid in list */
  cond: { kind: 'none' } | { kind: 'within' } | { kind: 'users'; users: string[] };
}


function specs(n: number): Spec[] {
  const rand = prng(n);
  return Array.from({ length: n }, (_, i) => {
    const action = `grp${Math.floor(rand() * GROUPS)}.op${Math.floor(rand() * OPS)}`;
    const role = Math.floor(rand() * ROLES);
    if (i % 10 === 9) return { id: `r${i}`, effect: 'forbid', role, action, cond: { kind: 'users', users: [`u${Math.floor(rand() * USERS)}`, `u${Math.floor(rand() * USERS)}`] } };
    return { id: `r${i}`, effect: 'permit', role, action, cond: i % 3 === 0 ? { kind: 'within' } : { kind: 'none' } };
  });
}

const roleOf = (u: number) => [u % ROLES, (u * 7 + 3) % ROLES];

interface Req {
  user: number;
  action: string;
  departments: number[];
  managed: number[];
}

function requests(count: number, all: Spec[]): Req[] {
  const rand = prng(42);
  return Array.from({ length: count }, (_, i) => {
    // Half the requests come from a holder of a rule's role for that rule's action, so permits,
    // forbids and default denies all occur; the rest are random.
    const spec = all[Math.floor(rand() * all.length)]!;
    const holders = Array.from({ length: USERS }, (_, u) => u).filter((u) => roleOf(u).includes(spec.role));
    const user = i % 2 === 0 ? holders[Math.floor(rand() * holders.length)]! : Math.floor(rand() * USERS);
    const action = i % 2 === 0 ? spec.action : `grp${Math.floor(rand() * GROUPS)}.op${Math.floor(rand() * OPS)}`;
    const managed = rand() < 0.5 ? [2, 3, 4] : [5];
    const departments = rand() < 0.5 ? [3] : [3, 5];
    return { user, action, departments, managed };
  });
}

// --- ours --------------------------------------------------------------------------------------
interface Engine<I> {
  /** The engine's own input for a request, built outside the timed region (for every engine alike). */
  prepare(r: Req): I;
  decide(input: I): boolean;
}

function ours(all: Spec[]): Engine<PolicyRequest> {
  const roles: PolicySet['roles'] = {};
  for (let r = 0; r < ROLES; r++) {
    const members: string[] = [];
    for (let u = 0; u < USERS; u++) if (roleOf(u).includes(r)) members.push(`u${u}`);
    roles[`role${r}`] = { name: `role${r}`, members, manages: {}, inherits: [], source: src };
  }
  const rules: Rule[] = all.map((s) => ({
    id: s.id,
    effect: s.effect,
    roles: [`role${s.role}`],
    actions: [s.action],
    when:
      s.cond.kind === 'within'
        ? [{ 'resource.departments': { within: 'actor.managed_departments' } }]
        : s.cond.kind === 'users'
          ? [{ 'actor.userid': { in: s.cond.users } }]
          : [],
    source: src,
  }));
  const engine = new PolicyEngine({ roles, rules, approvals: [], identities: { slack: {}, wechaty: {}, wecom: {} }, files: [] });
  return {
    prepare: (r) => ({ actor: { userid: `u${r.user}`, departments: [3], managed_departments: r.managed }, action: r.action, resource: { departments: r.departments }, context: { channel: 'cli' } }),
    decide: (req) => engine.decide(req).effect !== 'deny',
  };
}

// --- cedar -------------------------------------------------------------------------------------
type CedarCall = Parameters<typeof import('@cedar-policy/cedar-wasm/nodejs').statefulIsAuthorized>[0];

async function cedar(all: Spec[], id: string): Promise<Engine<CedarCall>> {
  const wasm = await import('@cedar-policy/cedar-wasm/nodejs');
  const text = all
    .map((s) => {
      const head = `${s.effect}(principal in Role::"role${s.role}", action == Action::"${s.action}", resource)`;
      if (s.cond.kind === 'within') return `${head} when { !resource.departments.isEmpty() && principal.managed.containsAll(resource.departments) };`;
      if (s.cond.kind === 'users') return `${head} when { ${JSON.stringify(s.cond.users)}.contains(principal.uid) };`;
      return `${head};`;
    })
    .join('\n');
  const parsed = wasm.preparsePolicySet(id, { staticPolicies: text });
  if (parsed.type !== 'success') throw new Error(`cedar: ${JSON.stringify(parsed.errors)}`);
  return {
    prepare: (r) => ({
      principal: { type: 'User', id: `u${r.user}` },
      action: { type: 'Action', id: r.action },
      resource: { type: 'Res', id: 'x' },
      context: {},
      preparsedPolicySetId: id,
      entities: [
        { uid: { type: 'User', id: `u${r.user}` }, attrs: { uid: `u${r.user}`, managed: r.managed }, parents: roleOf(r.user).map((x) => ({ type: 'Role', id: `role${x}` })) },
        { uid: { type: 'Res', id: 'x' }, attrs: { departments: r.departments }, parents: [] },
      ] as CedarCall['entities'],
    }),
    decide: (call) => {
      const answer = wasm.statefulIsAuthorized(call);
      if (answer.type !== 'success') throw new Error(`cedar: ${JSON.stringify(answer.errors)}`);
      return answer.response.decision === 'allow';
    },
  };
}

// --- casbin ------------------------------------------------------------------------------------
type CasbinArgs = [{ id: string; managed: number[] }, { departments: number[] }, string];

async function casbin(all: Spec[]): Promise<Engine<CasbinArgs>> {
  const require = createRequire(import.meta.url);
  const { newEnforcer, newModelFromString, StringAdapter } = require('casbin') as typeof import('casbin');
  const model = newModelFromString(`
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, act, cond, eft
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
[matchers]
m = g(r.sub.id, p.sub) && r.act == p.act && holds(p.cond, r.sub, r.obj)
`);
  const lines = all.map((s) => `p, role${s.role}, ${s.action}, ${s.cond.kind === 'users' ? `users:${s.cond.users.join(' ')}` : s.cond.kind}, ${s.effect === 'permit' ? 'allow' : 'deny'}`);
  for (let u = 0; u < USERS; u++) for (const r of roleOf(u)) lines.push(`g, u${u}, role${r}`);
  const enforcer = await newEnforcer(model, new StringAdapter(lines.join('\n')));
  enforcer.addFunction('holds', (cond: string, sub: { id: string; managed: number[] }, obj: { departments: number[] }) => {
    if (cond === 'none') return true;
    if (cond === 'within') return obj.departments.length > 0 && obj.departments.every((d) => sub.managed.includes(d));
    return cond.slice(6).split(' ').includes(sub.id);
  });
  return {
    prepare: (r) => [{ id: `u${r.user}`, managed: r.managed }, { departments: r.departments }, r.action],
    decide: (args) => enforcer.enforceSync(...args),
  };
}

function time<I>(engine: Engine<I>, reqs: Req[], samples: number): { p50: number; p99: number } {
  const inputs = reqs.map((r) => engine.prepare(r));
  for (let i = 0; i < Math.min(samples, 5000); i++) engine.decide(inputs[i % inputs.length]!);
  const ns: number[] = [];
  for (let i = 0; i < samples; i++) {
    const input = inputs[i % inputs.length]!;
    const t0 = process.hrtime.bigint();
    engine.decide(input);
    ns.push(Number(process.hrtime.bigint() - t0));
  }
  ns.sort((a, b) => a - b);
  return { p50: percentile(ns, 50) / 1e6, p99: percentile(ns, 99) / 1e6 };
}

type EngineName = 'wxops' | 'cedar' | 'casbin';

async function build(name: EngineName, all: Spec[], n: number): Promise<Engine<any>> {
  return name === 'wxops' ? ours(all) : name === 'cedar' ? cedar(all, `bench${n}`) : casbin(all);
}

/**
 * Decides the request set and times one engine at one size, in its own process: engines never share
 * a JIT (running cedar-wasm beside the others crashed Node 20's V8 deoptimizer), and each starts
 * equally warm. The parent compares the decisions.
 */
export async function policyWorker(name: EngineName, n: number): Promise<void> {
  const all = specs(n);
  const engine = await build(name, all, n);
  const reqs = requests(4000, all);
  const decisions = reqs.map((r) => (engine.decide(engine.prepare(r)) ? '1' : '0')).join('');
  const r = time(engine, reqs, name === 'wxops' ? 100_000 : 20_000);
  process.stdout.write(`${JSON.stringify({ ...r, decisions })}\n`);
}

export async function benchPolicy(script: string): Promise<void> {
  console.log('\nPolicy decision latency (each engine × size in its own process; each call timed alone with hrtime, ~50 ns timer cost included)');
  const results = new Map<string, { p50: number; p99: number }>();
  for (const n of [10, 100, 1000]) {
    const runs = (['wxops', 'cedar', 'casbin'] as const).map((name) => {
      const out = execFileSync(process.execPath, [script, 'policy-worker', name, String(n)], { encoding: 'utf8' });
      return { name, ...(JSON.parse(out.trim().split('\n').pop()!) as { p50: number; p99: number; decisions: string }) };
    });
    // Equivalence first: the figures mean nothing unless the three say the same thing on every request.
    const [ours, ...peers] = runs;
    for (const peer of peers) {
      const i = [...ours!.decisions].findIndex((d, k) => d !== peer.decisions[k]);
      if (i !== -1) throw new Error(`engines disagree at ${n} rules on request ${i} ${JSON.stringify(requests(4000, specs(n))[i])}: wxops ${ours!.decisions[i]}, ${peer.name} ${peer.decisions[i]}`);
    }
    const allowed = [...ours!.decisions].filter((d) => d === '1').length;
    console.log(`  ${n} rules: the three engines agree on all ${ours!.decisions.length} requests (${allowed} allowed, ${ours!.decisions.length - allowed} denied)`);
    for (const r of runs) {
      results.set(`${r.name}@${n}`, r);
      line(`${r.name.padEnd(7)} ${String(n).padStart(4)} rules: p50 / p99`, `${fmtMs(r.p50)} / ${fmtMs(r.p99)}`);
    }
  }
  const w = (n: number) => results.get(`wxops@${n}`)!;
  const ratio = (peer: string, n: number) => results.get(`${peer}@${n}`)!.p50 / w(n).p50;
  for (const n of [10, 100, 1000]) line(`at ${n} rules: wxops faster than cedar / casbin`, `${ratio('cedar', n).toFixed(0)}× / ${ratio('casbin', n).toFixed(0)}×`, n === 1000 ? '≥ 10× both' : undefined, n === 1000 ? ratio('cedar', n) >= 10 && ratio('casbin', n) >= 10 : undefined);
  line('wxops at 1,000 rules: p50', fmtMs(w(1000).p50), '< 500 ns', w(1000).p50 < 0.0005);
  line('wxops at 1,000 rules: p99', fmtMs(w(1000).p99), '< 5 µs', w(1000).p99 < 0.005);
  const growth = w(1000).p50 / w(10).p50;
  line('wxops p50 at 1,000 rules vs 10', `${growth.toFixed(2)}×`, '≤ 1.5×', growth <= 1.5);
}
