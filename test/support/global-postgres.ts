import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres, type ThrowawayPostgres } from './postgres-server.js';

/**
 * One throwaway PostgreSQL server for the whole run (vitest globalSetup); each test file makes its own
 * database on it (`testDatabase()` in ./postgres.ts), so files running in parallel never share state.
 */
let server: ThrowawayPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startThrowawayPostgres({ fsync: false });
  project.provide('postgresUrl', server.url());
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}
