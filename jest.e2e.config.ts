// `npm run test:e2e`: the end-to-end groups, too slow for the everyday suite: real npm
// processes and signals, servers of their own (a standby, a logical-replication primary, a crash),
// concurrent runs and lock waits, backups and restores, a reset per role setting; each file says why.
import type { Config } from 'jest';
import base from './jest.config';

// Its global setup first installs PgBouncer and openssl when missing (tests/support/e2eTools.ts).
// Each test's limit: the longest end-to-end test without a limit of its own (squash's ten
// migrations) took 28 s at a load of 11 on this 2-core machine; 120 s leaves room for a machine
// twice as loaded. The longer ones (a copy's whole npm test, the README's runbook, the quick
// start in two checkouts) set their own, each from its work.
const config: Config = {
  ...base, testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'], maxWorkers: 2, testTimeout: 120_000, globalSetup: '<rootDir>/tests/support/e2eGlobalSetup.ts',
};

export default config;
