import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // A throwaway PostgreSQL server for the store and multi-instance tests (ARCHITECTURE §9).
    globalSetup: ['test/support/global-postgres.ts'],
  },
});
