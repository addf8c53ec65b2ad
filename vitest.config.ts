import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/**/src/**/*.test.ts', 'apps/**/src/**/*.test.ts', 'infra/tests/**/*.test.ts', 'bench/src/**/*.test.ts', 'tools/**/*.test.ts'],
    // Generous bounds for a loaded 2-core machine: tests wait on conditions, and these only stop a test that
    // would otherwise wait forever. `expect.poll` gets the same headroom (its own default is one second).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    expect: { poll: { timeout: 15_000, interval: 50 } },
    // Two cores: run test files in a few forks, not one per core-thread storm.
    pool: 'forks',
    maxWorkers: 2,
    // Tests wait on conditions, not on time: a failure is a failure, locally and in CI (no retry).
    retry: 0,
  },
});
