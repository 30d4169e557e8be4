// The no-Docker paths: the harness's throwaway cluster and `npm run db:up` / `db:down`,
// both from the local PostgreSQL 15 binaries with TimescaleDB.
import { execFileSync } from 'child_process';
import net from 'net';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { dbDown } from '../../scripts/db-down';
import { dbUp, devClusterOptions } from '../../scripts/lib/server/devServer';
import { withClient } from '../../scripts/lib/server/connection';
import { clusterUrl, DEFAULT_PG_BIN, freePort, isRunning, localBinariesProblem } from '../../scripts/lib/server/localCluster';
import { LocalClusterError, TimescaleMissingError } from '../../scripts/lib/cli/errors';
import { loadSettings, urlForDatabase } from '../../scripts/lib/server/settings';
import { pickTestServer, startThrowawayCluster } from '../../scripts/lib/server/testServer';
import { reset } from '../../scripts/reset';
import { runScript } from '../support/cli';
import { settingsOf } from '../support/testDatabase';

const binDir = process.env.PG_BIN || DEFAULT_PG_BIN;

beforeAll(() => {
  const problem = localBinariesProblem(binDir);
  if (problem) throw new Error(`${problem}: these tests need PostgreSQL 15 in ${binDir} (or PG_BIN) and TimescaleDB (bash scripts/install-timescaledb.sh, as root or through sudo)`);
});

// The server processes of one data folder: other test files start and stop clusters meanwhile.
const postmasters = (dataDir: string) => {
  try {
    return execFileSync('pgrep', ['-f', `postgres -D ${dataDir}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

test('the throwaway cluster runs TimescaleDB, and stopping it leaves no process and no folder', async () => {
  const server = await pickTestServer({ PG_BIN: binDir }, async () => undefined);
  expect(server.kind).toBe('local cluster');
  const dataDir = server.dataDir!;
  const version = await withClient(settingsOf(server.adminUrl), async (c) => {
    await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    return (await c.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).rows[0].extversion;
  });
  expect(version).toMatch(/^2\./);
  expect(postmasters(dataDir)).toHaveLength(1);
  expect(fs.existsSync(dataDir)).toBe(true);
  await server.stop();
  expect(postmasters(dataDir)).toEqual([]);
  expect(fs.existsSync(path.dirname(dataDir))).toBe(false);
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
    const preload = await withClient(settingsOf(url), async (c) => (await c.query("SELECT current_setting('shared_preload_libraries') AS p")).rows[0].p);
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

test('a server with TimescaleDB installed but not preloaded: reset refuses before dropping, naming shared_preload_libraries (exit 8)', async () => {
  const server = await startThrowawayCluster(binDir, false);
  try {
    const url = urlForDatabase(server.adminUrl, 'kapman_nopreload');
    await withClient(settingsOf(server.adminUrl), (c) => c.query('CREATE DATABASE kapman_nopreload'));
    await withClient(settingsOf(url), (c) => c.query('CREATE TABLE keep (x int); INSERT INTO keep VALUES (1)'));

    const attempt = reset(loadSettings({ env: 'test', databaseUrl: url }));
    await expect(attempt).rejects.toBeInstanceOf(TimescaleMissingError);
    await expect(attempt).rejects.toThrow(/shared_preload_libraries/);
    const cli = runScript('reset', ['--quiet'], { DATABASE_URL: url });
    expect(cli.code).toBe(8);
    expect(cli.err).toMatch(/^kapman: error: TimescaleDB is installed but not preloaded/m);

    // And where migrations meet it directly, the driver's error is named the same way.
    const migrate = runScript('migrate', [], { DATABASE_URL: url });
    expect(migrate.code).toBe(8);
    expect(migrate.err).toMatch(/TimescaleDB is not usable .*preload/);

    expect(await withClient(settingsOf(url), async (c) => (await c.query('SELECT x FROM keep')).rows)).toEqual([{ x: 1 }]);
  } finally {
    await server.stop();
  }
});

test('a first db:up that fails removes the folder it made, and its hint names a server log that still exists', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-dbup-taken-'));
  fs.chmodSync(root, 0o711);
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const cluster = { dataDir: path.join(root, 'data'), port: (taken.address() as net.AddressInfo).port };
  let hint = '';
  try {
    const failure = await dbUp({ docker: false, binDir, cluster }).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(LocalClusterError);
    hint = (failure as LocalClusterError).hint ?? '';
    expect(fs.existsSync(cluster.dataDir)).toBe(false);
    const log = /\(see (\S+)\)/.exec(hint)?.[1];
    expect({ hint, exists: log !== undefined && fs.existsSync(log) }).toEqual({ hint, exists: true });
    expect(fs.readFileSync(log!, 'utf8')).toMatch(/could not bind|could not create any TCP\/IP sockets/);
  } finally {
    taken.close();
    const log = /\(see (\S+)\)/.exec(hint)?.[1];
    if (log && !log.startsWith(root)) fs.rmSync(path.dirname(log), { recursive: true, force: true });
    await dbDown({ docker: false, binDir, dataDir: cluster.dataDir }).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
