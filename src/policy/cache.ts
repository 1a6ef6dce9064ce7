import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicySet } from './model.js';

/**
 * The checked policy set, kept as JSON in the data directory's cache and reused while the policy files'
 * bytes are unchanged (and the commands declare the same actions): parsing the YAML with line positions
 * is most of what a short command like `wxops run help` spends. Any edit, or a newer wxops, reads and
 * checks the files again. The data directory must be writable by wxops alone (it also holds the store
 * and the audit log).
 */
export async function loadPolicySetCached(dir: string, knownActions: string[] | undefined, cacheDir: string): Promise<PolicySet> {
  const stamp = stampOf(dir, knownActions);
  const file = join(cacheDir, 'policy.json');
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { stamp: string; set: PolicySet };
    if (cached.stamp === stamp) return cached.set;
  } catch {
    // no cache yet, or unreadable: load the files
  }
  const { loadPolicySet } = await import('./loader.js');
  const set = loadPolicySet(dir, knownActions);
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ stamp, set }));
    renameSync(tmp, file);
  } catch {
    // the cache is an optimisation; the policy in force is `set` either way
  }
  return set;
}

function stampOf(dir: string, knownActions: string[] | undefined): string {
  return createHash('sha256').update(dir).update('\0').update((knownActions ?? []).join(',')).update('\0').update(policyVersion(dir)).digest('hex');
}

/**
 * The version of the policy in `dir`: SHA-256 over each file's name and bytes, in name order — the bytes,
 * not the times, so an edit saved twice within a clock tick still counts. `serve` records it per instance.
 */
export function policyVersion(dir: string): string {
  const h = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    h.update(`${name}\0`).update(readFileSync(path)).update('\0');
  }
  return h.digest('hex');
}
