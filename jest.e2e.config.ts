// `npm run test:e2e`: the end-to-end groups, too slow for the everyday suite: real npm
// processes and signals, servers of their own (a standby, a logical-replication primary, a crash),
// concurrent runs and lock waits, backups and restores, a reset per role setting; each file says why.
import type { Config } from 'jest';
import base from './jest.config';

// Its global setup first installs PgBouncer and openssl when missing (tests/support/e2eTools.ts).
const config: Config = { ...base, testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'], maxWorkers: 2, globalSetup: '<rootDir>/tests/support/e2eGlobalSetup.ts' };

export default config;
