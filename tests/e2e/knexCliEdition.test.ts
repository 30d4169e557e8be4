// In tests/e2e (npm run test:e2e): the knex CLI as a process (it loads the knexfile through ts-node: 1–2 s a run).
// `npx knex migrate:latest` meets a retention policy on TimescaleDB's Apache build (a server of this
// file's own, started with timescaledb.license = 'apache'): the tools' two lines, the statement
// once, no stack, where knex alone printed the statement twice and its stack.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { createDatabase } from '../../scripts/lib/server/admin';
import { withClient, withMaintenanceClient } from '../../scripts/lib/server/connection';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { TestServer } from '../../scripts/lib/server/testServer';
import { migrationOf } from '../support/migrations';
import { copyProject, removeProject } from '../support/projectCopy';
import { settingsOf } from '../support/testDatabase';
import { startApacheServer } from '../support/timescaleEdition';

let apache: TestServer;
let copy: string | undefined;
beforeAll(async () => {
  apache = await startApacheServer();
});
afterAll(async () => {
  await apache?.stop();
  if (copy) await removeProject(copy);
});

const RETENTION = "SELECT add_retention_policy('ohlcv', INTERVAL '730 days')";

test('`npx knex migrate:latest` meets a retention policy on the Apache build: the function, the build and where the community build comes from in two lines, the statement once, no stack', async () => {
  copy = copyProject('knex-apache');
  fs.writeFileSync(path.join(copy, 'db', 'migrations', '9001_ohlcv_retention.ts'), migrationOf([RETENTION]));
  await withMaintenanceClient(settingsOf(apache.adminUrl), (c) => createDatabase(c, 'kapman_apache_knex'));
  const url = urlForDatabase(apache.adminUrl, 'kapman_apache_knex');

  const r = spawnSync(process.execPath, [path.join('node_modules', 'knex', 'bin', 'cli.js'), 'migrate:latest'], {
    cwd: copy, encoding: 'utf8', env: { ...process.env, NODE_ENV: undefined, KAPMAN_DEBUG: undefined, DATABASE_URL: url },
  });
  expect({ code: r.status, err: r.stderr.trim().split('\n') }).toEqual({
    code: 1,
    err: [
      expect.stringMatching(/^kapman: error: migration 9001_ohlcv_retention\.ts \(up\) failed: function "add_retention_policy" needs TimescaleDB's community build, and the server at \S+ runs its Apache build \(timescaledb\.license = apache\); the statement: SELECT add_retention_policy/),
      expect.stringMatching(/^kapman: hint: compression and policies need TimescaleDB's community build: the timescale\/timescaledb image .*`TIMESCALEDB_SOURCE=.* bash scripts\/install-timescaledb\.sh`; /),
    ],
  });
  expect(`${r.stdout}${r.stderr}`.split(RETENTION)).toHaveLength(2); // the statement, once
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/^\s+at /m);
  expect(await withClient(settingsOf(url), async (c) => (await c.query("SELECT to_regclass('public.ohlcv') AS t")).rows[0].t)).toBeNull();
});
