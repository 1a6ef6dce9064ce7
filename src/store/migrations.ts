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
      -- same hash chain covers both back-ends and export/import moves lines without re-hashing. The
      -- other columns are derived from the line (generated, never written on their own), so what
      -- search filters on is always what the hash chain covers, and rows are ordered by the line's seq.
      CREATE TABLE wxops_audit (
        line text NOT NULL,
        seq bigint GENERATED ALWAYS AS (((line::json) ->> 'seq')::bigint) STORED PRIMARY KEY,
        ts text GENERATED ALWAYS AS ((line::json) ->> 'ts') STORED,
        actor text GENERATED ALWAYS AS ((line::json) ->> 'actor') STORED,
        action text GENERATED ALWAYS AS ((line::json) ->> 'action') STORED,
        outcome text GENERATED ALWAYS AS ((line::json) ->> 'outcome') STORED
      );
      CREATE INDEX wxops_audit_actor ON wxops_audit (lower(actor), seq);
      -- The chain head, updated in the same transaction as each append: a deleted tail is detected. Its
      -- one row is also the lock that puts appends from all instances on one chain.
      CREATE TABLE wxops_audit_head (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        seq bigint NOT NULL,
        hash text NOT NULL
      );
      INSERT INTO wxops_audit_head (one, seq, hash) VALUES (true, 0, repeat('0', 64));
      -- The chain step, in one statement (one round trip, the head locked only while it runs and commits):
      -- each entry gets the next seq and the previous hash, and its line is built and hashed exactly as
      -- chainEntries in src/audit/log.ts does — '{"seq":N,"ts":"…",' body ',"prev":"…"' hashed as
      -- UTF-8, then ',"hash":"…"}' — so the file and the table hold the same bytes.
      CREATE FUNCTION wxops_audit_append(ts text[], bodies text[]) RETURNS text[] LANGUAGE plpgsql AS $fn$
      DECLARE
        head_seq bigint;
        head_hash text;
        body text;
        lines text[] := '{}';
      BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM wxops_audit_head WHERE one FOR UPDATE;
        IF NOT FOUND THEN
          -- The head row was deleted by hand: go on from the last stored line.
          SELECT a.seq, (a.line::json) ->> 'hash' INTO head_seq, head_hash FROM wxops_audit a ORDER BY a.seq DESC LIMIT 1;
          INSERT INTO wxops_audit_head (one, seq, hash) VALUES (true, coalesce(head_seq, 0), coalesce(head_hash, repeat('0', 64))) ON CONFLICT DO NOTHING;
          SELECT seq, hash INTO head_seq, head_hash FROM wxops_audit_head WHERE one FOR UPDATE;
        END IF;
        FOR i IN 1 .. cardinality(bodies) LOOP
          head_seq := head_seq + 1;
          body := '{"seq":' || head_seq || ',"ts":"' || ts[i] || '",' || bodies[i] || ',"prev":"' || head_hash || '"';
          head_hash := encode(sha256(convert_to(body, 'UTF8')), 'hex');
          lines := lines || (body || ',"hash":"' || head_hash || '"}');
        END LOOP;
        INSERT INTO wxops_audit (line) SELECT unnest(lines);
        UPDATE wxops_audit_head SET seq = head_seq, hash = head_hash WHERE one;
        RETURN lines;
      END
      $fn$;
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
