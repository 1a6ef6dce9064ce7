import { inject } from 'vitest';
import { createDatabase } from './postgres-server.js';

/** A fresh empty database on the run's throwaway server (see global-postgres.ts); its URL. */
export function testDatabase(prefix = 'wxops_test'): Promise<string> {
  return createDatabase(inject('postgresUrl'), prefix);
}

/** The back-ends every store-level and pipeline test runs against. */
export const BACKENDS = ['embedded', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];
