import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INSTANCES, type InstanceRecord } from '../src/cli/serve.js';
import { policyVersion } from '../src/policy/cache.js';
import { testDatabase } from './support/postgres.js';
import { REPO } from './support/sandbox.js';
import { startServe, type TestServe } from './support/serve.js';

/**
 * Which policy each `wxops serve` instance runs (issue 9): recorded in the shared store when the policy is
 * loaded or reloaded, shown on /healthz, and a warning in the log when two instances run different ones.
 */
const started: TestServe[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of started) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function policyCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wxops-policies-'));
  dirs.push(dir);
  cpSync(join(REPO, 'policies'), dir, { recursive: true });
  return dir;
}

async function serve(env: Record<string, string>): Promise<TestServe> {
  const s = await startServe(env);
  started.push(s);
  return s;
}

const health = async (s: TestServe) => (await fetch(`${s.server.url}/healthz`)).json() as Promise<any>;
const logOf = (s: TestServe) => readFileSync(join(s.dir, 'logs', 'wxops.log'), 'utf8');

describe('policy versions in use', () => {
  it('reports the version on /healthz, records it per instance, and warns when instances differ', async () => {
    const database = await testDatabase();
    const sameDir = policyCopy();
    const otherDir = policyCopy();
    const yaml = readdirSync(otherDir).find((f) => f.endsWith('.yaml'))!;
    appendFileSync(join(otherDir, yaml), '\n# edited on this machine only\n');

    const a = await serve({ WXOPS_DATABASE_URL: database, WXOPS_POLICY_DIR: sameDir });
    const b = await serve({ WXOPS_DATABASE_URL: database, WXOPS_POLICY_DIR: otherDir });
    const [ha, hb] = await Promise.all([health(a), health(b)]);
    expect(ha.policy.version).toBe(policyVersion(join(REPO, 'policies')));
    expect(hb.policy.version).toBe(policyVersion(otherDir));
    expect(ha.policy.version).not.toBe(hb.policy.version);
    expect(ha.instance).not.toBe(hb.instance);

    const store = await a.runtime.store();
    const records = await store.list<InstanceRecord>(INSTANCES);
    expect(records.map((r) => [r.instance, r.policy_version]).sort()).toEqual(
      [
        [ha.instance, ha.policy.version],
        [hb.instance, hb.policy.version],
      ].sort(),
    );
    // The instance that came second finds the difference at once.
    expect(logOf(b)).toContain('instances run different policy versions');

    // The edit reaches the second machine too: it reloads, and its record follows.
    writeFileSync(join(otherDir, yaml), readFileSync(join(sameDir, yaml)));
    let now: InstanceRecord | undefined;
    for (let i = 0; i < 100; i++) {
      now = await store.get<InstanceRecord>(INSTANCES, hb.instance);
      if (now?.policy_version === ha.policy.version) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(now?.policy_version).toBe(ha.policy.version);
    expect((await health(b)).policy.version).toBe(ha.policy.version);

    // An instance that stops takes its record with it.
    await b.close();
    started.splice(started.indexOf(b), 1);
    expect((await store.list<InstanceRecord>(INSTANCES)).map((r) => r.instance)).toEqual([ha.instance]);
  });

  it('one machine (embedded store): /healthz shows the version, and nothing extra is stored', async () => {
    const s = await serve({});
    const h = await health(s);
    expect(h.policy.version).toBe(policyVersion(join(REPO, 'policies')));
    expect(await (await s.runtime.store()).list(INSTANCES)).toEqual([]);
  });
});
