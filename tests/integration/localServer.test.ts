// The no-Docker paths: the harness's throwaway cluster and `npm run db:up` / `db:down`,
// both from the local PostgreSQL 15 binaries with TimescaleDB.
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { dbDown } from '../../scripts/db-down';
import { dbUp } from '../../scripts/db-up';
import { withClient } from '../../scripts/lib/connection';
import { devClusterOptions } from '../../scripts/lib/devServer';
import { clusterUrl, DEFAULT_PG_BIN, freePort, isRunning, localBinariesProblem } from '../../scripts/lib/localCluster';
import { pickTestServer } from '../../scripts/lib/testServer';

const binDir = process.env.PG_BIN || DEFAULT_PG_BIN;

beforeAll(() => {
  const problem = localBinariesProblem(binDir);
  if (problem) throw new Error(`${problem}: these tests need PostgreSQL 15 in ${binDir} (or PG_BIN) and TimescaleDB (sudo bash scripts/install-timescaledb.sh)`);
});

const postmasters = () => {
  try {
    return execFileSync('pgrep', ['-f', 'postgres.*kapman-'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

test('the throwaway cluster runs TimescaleDB, and stopping it leaves no process and no folder', async () => {
  const before = postmasters();
  const server = await pickTestServer({ PG_BIN: binDir }, async () => undefined);
  expect(server.kind).toBe('local cluster');
  const version = await withClient(server.adminUrl, async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    return (await c.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).rows[0].extversion;
  });
  expect(version).toMatch(/^2\./);
  const folders = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('kapman-test-cluster-'));
  const during = folders();
  expect(postmasters().length).toBeGreaterThan(before.length);
  await server.stop();
  expect(postmasters()).toEqual(before);
  expect(folders().length).toBe(during.length - 1);
});

test('db:up twice is harmless, db:down stops the server and keeps its data', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-dbup-'));
  fs.chmodSync(root, 0o711);
  const cluster = { dataDir: path.join(root, 'data'), port: await freePort() };
  const url = clusterUrl({ ...devClusterOptions(binDir), ...cluster }, devClusterOptions(binDir).database);
  try {
    await dbUp({ docker: false, binDir, cluster });
    await dbUp({ docker: false, binDir, cluster });
    expect(isRunning(binDir, cluster.dataDir)).toBe(true);
    const preload = await withClient(url, async (c) => (await c.query("SELECT current_setting('shared_preload_libraries') AS p")).rows[0].p);
    expect(preload).toMatch(/timescaledb/);
    await dbDown({ docker: false, binDir, dataDir: cluster.dataDir });
    expect(isRunning(binDir, cluster.dataDir)).toBe(false);
    expect(fs.existsSync(path.join(cluster.dataDir, 'PG_VERSION'))).toBe(true);
    await dbDown({ docker: false, binDir, dataDir: cluster.dataDir }); // twice: harmless too
  } finally {
    await dbDown({ docker: false, binDir, dataDir: cluster.dataDir }).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
