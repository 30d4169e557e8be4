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
  testTimeout: 120_000,
  // The tests wait on the database more than on the CPU: more workers than cores pays.
  maxWorkers: 4,
  // Fail, never pass, when no test file is found.
  passWithNoTests: false,
};

export default config;
