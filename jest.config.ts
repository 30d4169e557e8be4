import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  // The everyday suite; the slow groups (processes and signals, servers of their own, concurrent
  // runs and lock waits, backups, resets per setting) are `npm run test:e2e` (jest.e2e.config.ts).
  testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
  globalSetup: '<rootDir>/tests/support/globalSetup.ts',
  globalTeardown: '<rootDir>/tests/support/globalTeardown.ts',
  setupFilesAfterEnv: ['<rootDir>/tests/support/quiet.ts'],
  // Type-checking is `npm run typecheck`'s job; the suite only transpiles, with sucrase (as the commands run).
  transform: { '^.+\\.ts$': '<rootDir>/tests/support/transform.js' },
  // Each test's limit: the longest everyday test took 21 s at a load of 15 on this 2-core machine
  // (a few seconds when quiet); 120 s leaves room for a machine twice as loaded as that.
  testTimeout: 120_000,
  // The tests wait on the database more than on the CPU: more workers than cores pays.
  maxWorkers: 4,
  // Fail, never pass, when no test file is found.
  passWithNoTests: false,
};

export default config;
