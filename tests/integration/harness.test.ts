// The harness's choice of server: its first choice wins, and with none it names all three ways.
// And the server it found: a real TimescaleDB 2.x, preloaded, on which hypertables work.
import fs from 'fs';
import path from 'path';
import { NoTestServerError, pickTestServer, TestServer, TIMESCALE_IMAGE } from '../../scripts/lib/server/testServer';
import { admin, createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

const noRuntime = async (reasons: string[]): Promise<TestServer | undefined> => {
  reasons.push('no container runtime answers (stubbed)');
  return undefined;
};

test('TEST_DATABASE_URL comes first, and nothing is started for it', async () => {
  const server = await pickTestServer({ TEST_DATABASE_URL: 'postgres://u:p@db.example:5432/postgres' }, async () => {
    throw new Error('must not probe containers');
  });
  expect(server.kind).toBe('TEST_DATABASE_URL');
  expect(server.adminUrl).toBe('postgres://u:p@db.example:5432/postgres');
});

test('with no URL, no container runtime and no binaries, it fails at once naming all three ways', async () => {
  const error = await pickTestServer({ PG_BIN: '/nonexistent/bin' }, noRuntime).then(() => undefined, (e: Error) => e);
  expect(error).toBeInstanceOf(NoTestServerError);
  const message = error!.message;
  expect(message).toMatch(/1\. TEST_DATABASE_URL=/);
  expect(message).toMatch(/2\. the docker compose development server \(npm run db:up\), or a running Docker engine \(Testcontainers starts timescale\/timescaledb:2\.\d+\.\d+-pg15\)/);
  expect(message).toMatch(/3\. PostgreSQL 15 binaries in \/nonexistent\/bin .*install-timescaledb\.sh/);
  expect(message).toMatch(/no PostgreSQL binaries in \/nonexistent\/bin/);
});

test('docker-compose.yml pins the same image the tests use', () => {
  expect(fs.readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8')).toContain(`image: ${TIMESCALE_IMAGE}`);
});

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
