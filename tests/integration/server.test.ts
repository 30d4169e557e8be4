// The harness found a real TimescaleDB 2.x, preloaded, on which hypertables work.
import { createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

test('the server runs PostgreSQL 15 with TimescaleDB 2.x preloaded', async () => {
  const settings = await createTestDatabase();
  await withDatabase(settings, async (c) => {
    const { rows: [server] } = await c.query("SELECT current_setting('server_version_num')::int AS num, current_setting('shared_preload_libraries') AS preload");
    expect(Math.floor(server.num / 10000)).toBe(15);
    expect(server.preload).toMatch(/timescaledb/);

    await c.query('CREATE EXTENSION timescaledb');
    const { rows: [ext] } = await c.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
    expect(ext.extversion).toMatch(/^2\.\d+\.\d+/);

    await c.query('CREATE TABLE probe (t timestamptz NOT NULL, v int)');
    await c.query("SELECT create_hypertable('probe', by_range('t'))");
    const { rows } = await c.query("SELECT hypertable_name FROM timescaledb_information.hypertables");
    expect(rows.map((r) => r.hypertable_name)).toEqual(['probe']);
  });
});
