import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/**/src/**/*.test.ts', 'apps/**/src/**/*.test.ts', 'infra/tests/**/*.test.ts', 'bench/src/**/*.test.ts', 'tools/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores: run test files in a few forks, not one per core-thread storm.
    pool: 'forks',
    maxWorkers: 2,
    // CI runs ~700 tests with real processes, browsers and load tools on 2 shared cores; a test that fails on a
    // starved machine gets one more run there (a real defect fails both). Locally every failure shows at once.
    retry: process.env['CI'] === undefined ? 0 : 1,
  },
});
