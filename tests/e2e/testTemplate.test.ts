// In tests/e2e (npm run test:e2e): a server of its own, on which no template exists yet.
// The tests' template (tests/support/testDatabase.ts): two runs starting at once build one, a
// killed build is cleaned up, a later run reuses it, and a copy of it is the baseline.
import { Client } from 'pg';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { verify } from '../../scripts/lib/schema/verify';
import { loadSettings, urlForDatabase } from '../../scripts/lib/server/settings';
import { DEFAULT_PG_BIN } from '../../scripts/lib/server/localCluster';
import { startThrowawayCluster, TestServer } from '../../scripts/lib/server/testServer';
import { ensureTemplate, settingsOf } from '../support/testDatabase';

let server: TestServer;
beforeAll(async () => {
  server = await startThrowawayCluster(process.env.PG_BIN || DEFAULT_PG_BIN);
}, 120_000);
afterAll(() => server?.stop());

const admin = <T>(work: (c: Client) => Promise<T>) => withMaintenanceClient(settingsOf(server.adminUrl), work);
const databases = () => admin(async (c) => (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'kapman%' ORDER BY 1")).rows.map((r) => r.datname));

test('two runs at once build one template, dropping what a killed build left; the next run reuses it; a copy verifies as the empty baseline', async () => {
  const first = await ensureTemplate(server.adminUrl);
  expect(first).toMatchObject({ name: expect.stringMatching(/^kapman_template_[0-9a-f]{12}$/), built: true });
  // As a killed run leaves it: no template, its build half made.
  await admin(async (c) => {
    await c.query(`DROP DATABASE ${first.name}`);
    await c.query(`CREATE DATABASE ${first.name}_dead01`);
  });

  const [a, b] = await Promise.all([ensureTemplate(server.adminUrl), ensureTemplate(server.adminUrl)]);
  expect([a.name, b.name]).toEqual([first.name, first.name]);
  expect([a.built, b.built].sort()).toEqual([false, true]);
  expect(await databases()).toEqual([first.name]);

  expect(await ensureTemplate(server.adminUrl)).toEqual({ name: first.name, owner: first.owner, built: false });

  await admin((c) => c.query(`CREATE DATABASE kapman_copy TEMPLATE ${first.name}`));
  const copy = loadSettings({ env: 'test', databaseUrl: urlForDatabase(server.adminUrl, 'kapman_copy') });
  expect(await verify(copy, { empty: true })).toMatchObject({ ok: true, differences: [] });
});
