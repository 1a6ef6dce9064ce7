import type pg from 'pg';

/**
 * The schema, as numbered steps. A step is never edited once shipped; a change is a new step. `migrate`
 * applies the missing ones under an advisory lock, each in its own transaction, so instances starting at
 * the same time (or `wxops db migrate` run beside a running service) apply each step exactly once.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'store and audit',
    sql: `
      CREATE TABLE wxops_store (
        collection text NOT NULL,
        id text NOT NULL,
        -- json, not jsonb: the text is kept as written, so an export gives back exactly what was imported
        value json NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (collection, id)
      );
      -- The audit log: each row is one stored line, byte for byte what the file log would hold, so the
      -- same hash chain covers both back-ends and export/import moves lines without re-hashing.
      CREATE TABLE wxops_audit (
        seq bigint PRIMARY KEY,
        ts timestamptz NOT NULL,
        actor text NOT NULL,
        action text,
        outcome text NOT NULL,
        line text NOT NULL
      );
      CREATE INDEX wxops_audit_actor ON wxops_audit (actor, seq);
      -- The chain head, updated in the same transaction as each append: a deleted tail is detected.
      CREATE TABLE wxops_audit_head (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        seq bigint NOT NULL,
        hash text NOT NULL
      );
    `,
  },
];

/** Any 64-bit number that other applications on the same database are unlikely to pick. */
export const MIGRATE_LOCK = '7812440019';

export async function migrate(client: pg.ClientBase, migrations: Migration[] = MIGRATIONS): Promise<{ applied: Migration[]; version: number }> {
  await client.query(`SELECT pg_advisory_lock(${MIGRATE_LOCK})`);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS wxops_schema (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM wxops_schema')).rows.map((r) => r.version));
    const applied: Migration[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO wxops_schema (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      applied.push(m);
    }
    const version = Math.max(0, ...done, ...applied.map((m) => m.version));
    return { applied, version };
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${MIGRATE_LOCK})`).catch(() => undefined);
  }
}
