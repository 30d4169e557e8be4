// The harness found a real TimescaleDB 2.x, preloaded, on which hypertables work.
import { admin, createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

test('the server runs PostgreSQL 15 with TimescaleDB 2.x preloaded', async () => {
  const { rows: [server] } = await admin((c) => c.query(`SELECT current_setting('server_version_num')::int AS num,
    current_setting('shared_preload_libraries') AS preload,
    (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available`));
  expect(Math.floor(server.num / 10000)).toBe(15);
  expect(server.preload).toMatch(/timescaledb/);
  expect(server.available).toMatch(/^2\.\d+\.\d+/);

  // A copy of the template (0001 installed the extension there): a hypertable of its own works.
  const settings = await createMigratedDatabase('_probe');
  await withDatabase(settings, async (c) => {
    const { rows: [ext] } = await c.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
    expect(ext.extversion).toBe(server.available);
    await c.query('CREATE TABLE probe (t timestamptz NOT NULL, v int)');
    await c.query("SELECT create_hypertable('probe', by_range('t'))");
    await c.query("INSERT INTO probe VALUES ('2024-01-01', 1), ('2025-06-01', 2)");
    const { rows } = await c.query("SELECT hypertable_name, num_chunks::int FROM timescaledb_information.hypertables WHERE hypertable_name = 'probe'");
    expect(rows).toEqual([{ hypertable_name: 'probe', num_chunks: 2 }]);
  });
});
