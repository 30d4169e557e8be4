// Jest global setup: find a TimescaleDB server (see server.ts), say which, and hand
// its URL to the test workers through the environment. Never skip: no server, no run.
import crypto from 'crypto';
import { describeServer, NoTestServerError, pickTestServer, probeTimescaleEdition, stopOnSignal, TestServer } from '../../scripts/lib/server/testServer';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import globalTeardown from './globalTeardown';
import { ensureTemplate, oneRoundScramSecret, runPrefix, settingsOf } from './testDatabase';
import { COMMUNITY_BUILD_HINT } from '../../scripts/lib/cli/errors';

/**
 * On a server that outlives the run, the tests act as a superuser of the run's own with a
 * random password (dropped by teardown): the password the user gave may be a word that
 * output holds anyway ('kapman'), and then "no password in any output" could not be tested.
 */
async function runAdmin(url: string): Promise<string> {
  const name = `${runPrefix()}admin`;
  const password = crypto.randomBytes(12).toString('hex');
  const superuser = await withMaintenanceClient(settingsOf(url), async (c) => {
    if (!(await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper) return false;
    await c.query(`CREATE ROLE ${escapeIdentifier(name)} SUPERUSER LOGIN PASSWORD ${escapeLiteral(oneRoundScramSecret(password))}`);
    return true;
  });
  if (!superuser) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(name);
  u.password = password;
  return u.toString();
}

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
  process.env.KAPMAN_TEST_RUN = crypto.randomBytes(3).toString('hex');
  try {
    process.env.KAPMAN_TEST_SERVER_URL = server.outlivesRun ? await runAdmin(server.adminUrl) : server.adminUrl;
    const started = Date.now();
    const template = ensureTemplate(server.adminUrl);
    template.catch(() => undefined); // awaited below, once the server is described
    // Which TimescaleDB the tests meet, read while the template builds.
    const edition = await probeTimescaleEdition(server.adminUrl).catch(async (err: Error) => {
      process.stdout.write(`\nkapman tests: using ${describeServer(server)}\n`);
      await template.catch(() => undefined);
      throw err;
    });
    process.stdout.write(`\nkapman tests: using ${describeServer(server, edition)}\n`);
    // CI asks for the community build (KAPMAN_TEST_LICENSE=timescale): another is refused here, before any test runs.
    const wanted = process.env.KAPMAN_TEST_LICENSE;
    if (wanted && edition.license !== wanted) {
      process.stderr.write(`\nkapman tests: the server runs timescaledb.license = ${edition.license}, and KAPMAN_TEST_LICENSE asks for ${wanted}; ${COMMUNITY_BUILD_HINT}\n\n`);
      await template.catch(() => undefined);
      throw new Error(`the test server's TimescaleDB license is not ${wanted} (see above)`);
    }
    const { name, owner, built } = await template;
    process.env.KAPMAN_TEST_TEMPLATE = JSON.stringify({ name, owner });
    const kept = server.outlivesRun ? '; later runs on this server reuse it until a migration changes' : '';
    process.stdout.write(built
      ? `kapman tests: migrated template database ${name} built (${Date.now() - started} ms)${kept}\n`
      : `kapman tests: migrated template database ${name} reused (kept from an earlier run; the migrations have not changed)\n`);
  } catch (err) {
    // Jest runs no teardown after a global setup that failed: stop and remove what was started here.
    await globalTeardown().catch((e) => process.stderr.write(`kapman tests: cleaning up after the failed setup: ${(e as Error).message}\n`));
    throw err;
  }
}
