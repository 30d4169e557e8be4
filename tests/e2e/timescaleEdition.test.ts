// TimescaleDB's Apache build, as its users meet it, on a server of this file's own started with
// timescaledb.license = 'apache' (a server setting, never a database's): a migration that adds a
// retention policy is explained in one line, its statement once; a test that needs the community
// build says so there, failing; and the harness's first line says which build a server runs.
import fs from 'fs';
import path from 'path';
import { createDatabase } from '../../scripts/lib/server/admin';
import { withClient, withMaintenanceClient } from '../../scripts/lib/server/connection';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { describeServer, probeTimescaleEdition, TestServer } from '../../scripts/lib/server/testServer';
import { runInProcess } from '../support/inProcess';
import { migrationOf } from '../support/migrations';
import { copyProject, removeProject } from '../support/projectCopy';
import { createMigratedDatabase, dropMadeDatabases, settingsOf, withDatabase } from '../support/testDatabase';
import { requireCommunityBuild, startApacheServer } from '../support/timescaleEdition';

let apache: TestServer;
let copy: string | undefined;
beforeAll(async () => {
  apache = await startApacheServer();
});
afterAll(async () => {
  await dropMadeDatabases();
  await apache?.stop();
  if (copy) await removeProject(copy);
});

/** A new database on the Apache server; its settings. */
async function apacheDatabase(name: string) {
  await withMaintenanceClient(settingsOf(apache.adminUrl), (c) => createDatabase(c, name));
  return settingsOf(urlForDatabase(apache.adminUrl, name));
}

// A hypertable of the test's own, so that what the project's migrations already hold (its own
// policies, a squashed baseline) changes nothing here.
const BARS = ['CREATE EXTENSION IF NOT EXISTS timescaledb', 'CREATE TABLE bars (day date NOT NULL, close numeric)', "SELECT create_hypertable('bars', 'day')"];
const RETENTION = "SELECT add_retention_policy('bars', INTERVAL '730 days')";

test('db:migrate meets a retention policy on the Apache build: exit 37, one line naming the function and the build, the hint where the community build comes from, the statement once, no stack', async () => {
  copy = copyProject('apache');
  const folder = path.join(copy, 'db', 'migrations');
  fs.rmSync(folder, { recursive: true });
  fs.mkdirSync(folder);
  fs.writeFileSync(path.join(folder, '9000_bars.ts'), migrationOf(BARS));
  fs.writeFileSync(path.join(folder, '9001_bars_retention.ts'), migrationOf([RETENTION]));
  const db = await apacheDatabase('kapman_apache_migrate');

  const r = await runInProcess('migrate', [], { DATABASE_URL: db.url }, copy);
  expect({ code: r.code, err: r.err.trim().split('\n') }).toEqual({
    code: 37,
    err: [
      expect.stringMatching(/^kapman: error: migration 9001_bars_retention\.ts \(up\) failed: function "add_retention_policy" needs TimescaleDB's community build, and the server at \S+ runs its Apache build \(timescaledb\.license = apache\); the statement: SELECT add_retention_policy/),
      expect.stringMatching(/^kapman: hint: compression and policies need TimescaleDB's community build: the timescale\/timescaledb image .*`TIMESCALEDB_SOURCE=.* bash scripts\/install-timescaledb\.sh`; .*kapman_apache_migrate is still at its previous version$/),
    ],
  });
  expect((r.out + r.err).split(RETENTION)).toHaveLength(2); // the statement, once
  expect(r.out + r.err).not.toMatch(/^\s+at /m);
  // The batch is one transaction: not even the migration before it stayed.
  expect(await withClient(db, async (c) => (await c.query("SELECT to_regclass('public.bars') AS t")).rows[0].t)).toBeNull();
});

test('a test that needs the community build fails on the Apache build in one line naming the license and where the community build comes from; on the community build it lets the policy through', async () => {
  const db = await apacheDatabase('kapman_apache_require');
  const refusal = await withClient(db, async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    return requireCommunityBuild(c).then(() => undefined, (e: Error) => e.message);
  });
  expect(refusal).toMatch(/^this test needs TimescaleDB's community build \(compression, policies\), and its server runs PostgreSQL 15\.\d+.*, TimescaleDB 2\.\d+\.\d+, timescaledb\.license = apache \(the Apache build\): use the timescale\/timescaledb image .*TIMESCALEDB_SOURCE=/);
  expect(refusal).not.toContain('\n');

  // The suite's own server (the community build in CI): let through, and the statement it guards works.
  await withDatabase(await createMigratedDatabase('_tsl'), async (c) => {
    await requireCommunityBuild(c);
    for (const statement of [...BARS, RETENTION]) await c.query(statement);
  });
});

test("the harness's first line names the PostgreSQL and TimescaleDB versions and the license of the server it picked", async () => {
  const edition = await probeTimescaleEdition(apache.adminUrl);
  expect(edition).toEqual({ postgres: expect.stringMatching(/^15\.\d+/), version: expect.stringMatching(/^2\.\d+\.\d+$/), license: 'apache' });
  expect(describeServer(apache, edition)).toMatch(/: postgres:\/\/\S+\/postgres, PostgreSQL 15\.\d+\b.*, TimescaleDB 2\.\d+\.\d+, timescaledb\.license = apache \(the Apache build\)$/);
});
