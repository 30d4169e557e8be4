// Jest global teardown: check that the run left no database or role of its own behind, then stop
// and delete what global setup started, even when tests failed.
import { escapeIdentifier } from 'pg';
import { dropDatabase } from '../../scripts/lib/server/admin';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { runPrefix, settingsOf } from './testDatabase';

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.kapmanTestServer;
  globalThis.kapmanTestServer = undefined;
  try {
    if (server?.outlivesRun) await dropLeftovers(server.adminUrl);
  } finally {
    await server?.stop();
  }
}

/** On a server that outlives the run, a database or role left behind is a bug: drop it and say so. */
async function dropLeftovers(url: string): Promise<void> {
  const admin = `${runPrefix()}admin`;
  const left = await withMaintenanceClient(settingsOf(url), async (c) => {
    // A scratch database (its name is the command's, not the run's) is this run's when one of the
    // run's roles owns it: other runs on the same server make theirs meanwhile. Without a role of
    // the run's own (a user that is not a superuser), every scratch database counts.
    const { rows: databases } = await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)
      OR (starts_with(datname, 'kapman_scratch_') AND (starts_with(pg_get_userbyid(datdba), $1)
        OR NOT EXISTS (SELECT FROM pg_roles WHERE rolname = $2)))`, [runPrefix(), admin]);
    for (const r of databases) await dropDatabase(c, r.datname);
    // The run's roles: a test's own is a leak (a test that failed before its afterAll); the run's
    // superuser (global setup) goes last, once nothing it made is left.
    const { rows: roles } = await c.query('SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) AND rolname <> $2', [runPrefix(), admin]);
    for (const r of roles) await c.query(`DROP ROLE ${escapeIdentifier(r.rolname)}`);
    await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(admin)}`);
    return { databases: databases.map((r) => r.datname as string), roles: roles.map((r) => r.rolname as string) };
  });
  if (left.databases.length) throw new Error(`the test run left databases behind (now dropped): ${left.databases.join(', ')}`);
  if (left.roles.length) throw new Error(`the test run left roles behind (now dropped): ${left.roles.join(', ')}`);
}
