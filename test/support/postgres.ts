import { inject } from 'vitest';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { createDatabase } from './postgres-server.js';

/** A fresh empty database on the run's throwaway server (see global-postgres.ts); its URL. */
export function testDatabase(prefix = 'wxops_test'): Promise<string> {
  return createDatabase(inject('postgresUrl'), prefix);
}

/** The back-ends every store-level and pipeline test runs against. */
export const BACKENDS = ['embedded', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/** A store open on `url` — its own pool, as another instance would have — closed by the test's cleanups. */
export async function openPostgresStore(url: string, cleanups: (() => Promise<void>)[]): Promise<PostgresStore> {
  const s = new PostgresStore({ url });
  await s.open();
  cleanups.push(() => s.close());
  return s;
}
