// `npm run test:docker`: the Docker path on a real Docker engine (DOCKER_HOST, or the default
// socket): docker compose's development server, backups through `docker compose exec`, and the
// harness's Testcontainers container. Without an engine it fails, naming what is missing.
import type { Config } from 'jest';
import base from './jest.config';

const config: Config = {
  ...base,
  testMatch: ['<rootDir>/tests/docker/**/*.test.ts'],
  // These tests start their own servers (compose projects, containers): no harness server.
  globalSetup: undefined,
  globalTeardown: undefined,
  maxWorkers: 1,
};

export default config;
