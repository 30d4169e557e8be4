// Jest global setup: find a TimescaleDB server (see server.ts), say which, and hand
// its URL to the test workers through the environment. Never skip: no server, no run.
import crypto from 'crypto';
import { describeServer, NoTestServerError, pickTestServer, stopOnSignal, TestServer } from '../../scripts/lib/testServer';
import { createTemplate } from './testDatabase';

declare global {
  // Shared with globalTeardown, which jest runs in this same process.
  var kapmanTestServer: TestServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  let server: TestServer;
  try {
    server = await pickTestServer();
  } catch (err) {
    if (err instanceof NoTestServerError) {
      process.stderr.write(`\nkapman tests: ${err.message}\n\n`);
      throw new Error('no TimescaleDB server for the tests (see above)');
    }
    throw err;
  }
  globalThis.kapmanTestServer = server;
  stopOnSignal(server);
  process.env.KAPMAN_TEST_SERVER_URL = server.adminUrl;
  process.env.KAPMAN_TEST_RUN = crypto.randomBytes(3).toString('hex');
  process.stdout.write(`\nkapman tests: using ${describeServer(server)}\n`);
  const started = Date.now();
  await createTemplate();
  process.stdout.write(`kapman tests: migrated template database ready (${Date.now() - started} ms)\n`);
}
