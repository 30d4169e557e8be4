// The harness's choice of server: its first choice wins, and with none it names all three ways.
import fs from 'fs';
import path from 'path';
import { NoTestServerError, pickTestServer, TestServer, TIMESCALE_IMAGE } from '../../scripts/lib/server/testServer';

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
  expect(message).toMatch(/2\. a running Docker engine \(Testcontainers starts timescale\/timescaledb:2\.\d+\.\d+-pg15\)/);
  expect(message).toMatch(/3\. PostgreSQL 15 binaries in \/nonexistent\/bin .*install-timescaledb\.sh/);
  expect(message).toMatch(/no PostgreSQL binaries in \/nonexistent\/bin/);
});

test('docker-compose.yml pins the same image the tests use', () => {
  expect(fs.readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8')).toContain(`image: ${TIMESCALE_IMAGE}`);
});
