// Picks a throwaway TimescaleDB server for the benchmark, and for the test harness
// (tests/support/globalSetup.ts), which runs on the same servers; in this order:
//   1. TEST_DATABASE_URL: any reachable server where the suite may create and drop its own databases;
//   2. the docker compose development server, when `db:up` has started it (a server that
//      outlives the run, as 1, so the tests' template is kept on it between runs);
//   3. Testcontainers with the pinned image, when a container runtime answers;
//   4. a throwaway cluster from the local binaries (temp data folder, free port), deleted after the run.
// It stands with the server tools, not in tests/support: the benchmark uses it too, and nothing
// under scripts/ imports tests/.
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import {
  ClusterOptions, clusterUrl, DEFAULT_PG_BIN, freePort, initCluster, localBinariesProblem, startCluster, stopCluster,
} from './localCluster';
import { displayUrl } from './connectionUrl';
import { urlForDatabase } from './settings';
import { composeDatabase, devClusterOptions } from './devServer';
import { spawnSync } from 'child_process';
import { createDatabase, dropDatabase } from './admin';
import { withClient, withMaintenanceClient } from './connection';
import { loadSettings } from './settings';
import { describeEdition, readTimescaleEdition, TimescaleEdition } from './timescaleEdition';

// The image docker-compose.yml pins; keep them in step.
export const TIMESCALE_IMAGE = 'timescale/timescaledb:2.19.3-pg15';

export interface TestServer {
  /** How it was found, for the run's first line. */
  kind: 'TEST_DATABASE_URL' | 'docker compose' | 'testcontainers' | 'local cluster';
  /** A superuser-ish URL to the server's maintenance database. */
  adminUrl: string;
  /** The server is not the run's own: it was there before and stays after (1 and 2 above). */
  outlivesRun: boolean;
  /** A local cluster's data folder (its processes carry it in their command line). */
  dataDir?: string;
  /** Stops and deletes what the harness started (nothing for TEST_DATABASE_URL). */
  stop(): Promise<void>;
}

export class NoTestServerError extends Error {}

export async function pickTestServer(env: NodeJS.ProcessEnv = process.env, containers = tryTestcontainers): Promise<TestServer> {
  if (env.TEST_DATABASE_URL) {
    return { kind: 'TEST_DATABASE_URL', adminUrl: env.TEST_DATABASE_URL, outlivesRun: true, stop: async () => undefined };
  }
  const reasons: string[] = ['TEST_DATABASE_URL is not set'];
  const compose = composeDatabase(env);
  if (compose.running) {
    // docker-compose.yml's superuser, on the port the service publishes here.
    const adminUrl = clusterUrl({ ...devClusterOptions(DEFAULT_PG_BIN), port: compose.port }, 'postgres');
    return { kind: 'docker compose', adminUrl, outlivesRun: true, stop: async () => undefined };
  }
  const container = await containers(reasons);
  if (container) return container;
  const binDir = env.PG_BIN || DEFAULT_PG_BIN;
  const problem = localBinariesProblem(binDir);
  // Prepared transactions allowed: the tests make one to see a reset refuse a target that has one.
  if (!problem) return startThrowawayCluster(binDir, true, { extraSettings: ['max_prepared_transactions = 10'] });
  reasons.push(problem);
  throw new NoTestServerError([
    `no TimescaleDB server for the tests (${reasons.join('; ')}). Give the suite one of:`,
    '  1. TEST_DATABASE_URL=postgres://user:password@host:5432/postgres  (a TimescaleDB server where the suite may create and drop databases)',
    '  2. the docker compose development server (npm run db:up), or a running Docker engine (Testcontainers starts ' + TIMESCALE_IMAGE + ')',
    `  3. PostgreSQL 15 binaries in ${binDir} (or PG_BIN) with TimescaleDB: bash scripts/install-timescaledb.sh, as root or through sudo`,
  ].join('\n'));
}

// Testcontainers' reaper image cannot always be had (no registry here): the harness removes its
// container itself, at the run's end, at its process's exit, and, for a run that was killed,
// at the next run's start (by label).
const CONTAINER_LABEL = 'kapman.tests.run';

/** A container of the pinned image; `settings` are more `-c name=value` for its server (a license, for a test of the Apache build). */
export async function tryTestcontainers(reasons: string[], settings: string[] = []): Promise<TestServer | undefined> {
  let client: Awaited<ReturnType<typeof import('testcontainers')['getContainerRuntimeClient']>>;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    client = await getContainerRuntimeClient();
  } catch (err) {
    reasons.push(`no container runtime answers (${String((err as Error).message).split('\n')[0]})`);
    return undefined;
  }
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  await removeKilledRunsContainers(client);
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const started = await new PostgreSqlContainer(TIMESCALE_IMAGE)
    .withDatabase('postgres').withUsername('kapman').withPassword(crypto.randomBytes(12).toString('hex'))
    .withLabels({ [CONTAINER_LABEL]: `${os.hostname()}:${process.pid}` })
    // A throwaway server: durability buys nothing; and the telemetry reporter would block a
    // database's drop for seconds where the network is closed.
    // Prepared transactions allowed, as on the local cluster below.
    .withCommand(['postgres', ...['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'timescaledb.telemetry_level=off',
      'max_prepared_transactions=10', ...settings].flatMap((s) => ['-c', s])])
    .start();
  const id = started.getId();
  const onExit = () => { spawnSync('docker', ['rm', '-f', '-v', id], { stdio: 'ignore', timeout: 20_000 }); };
  process.once('exit', onExit);
  return {
    kind: 'testcontainers', adminUrl: started.getConnectionUri(), outlivesRun: false,
    stop: async () => {
      process.removeListener('exit', onExit);
      await started.stop({ remove: true, removeVolumes: true });
    },
  };
}

/** Containers of earlier runs on this machine whose process is gone (a kill -9, a crash). */
async function removeKilledRunsContainers(client: Awaited<ReturnType<typeof import('testcontainers')['getContainerRuntimeClient']>>): Promise<void> {
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; } };
  for (const info of await client.container.list()) {
    const [host, pid] = (info.Labels?.[CONTAINER_LABEL] ?? '').split(':');
    if (host !== os.hostname() || !pid || alive(Number(pid))) continue;
    await client.container.getById(info.Id).remove({ force: true, v: true }).catch(() => undefined);
  }
}

/** A cluster from the local binaries in a temporary folder, deleted by stop(). */
export async function startThrowawayCluster(binDir: string, preload = true, more: Pick<ClusterOptions, 'socketDirs' | 'extraSettings'> = {}): Promise<TestServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-test-cluster-'));
  fs.chmodSync(root, 0o711); // the postgres OS user must reach the data folder inside
  const options = {
    binDir, dataDir: path.join(root, 'data'), port: await freePort(),
    user: 'kapman', password: crypto.randomBytes(12).toString('hex'), throwaway: true, preload, ...more,
  };
  const remove = async () => {
    try {
      stopCluster(binDir, options.dataDir);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
  try {
    initCluster(options);
    startCluster(binDir, options.dataDir);
  } catch (err) {
    await remove();
    throw err;
  }
  return { kind: 'local cluster', adminUrl: clusterUrl(options, 'postgres'), outlivesRun: false, dataDir: options.dataDir, stop: remove };
}

/** A run cut short (Ctrl-C, a CI timeout) still stops and deletes what was started. */
export function stopOnSignal(server: TestServer): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.stop().finally(() => process.exit(130)));
  }
}

/** "local cluster: postgres://…/postgres", and which TimescaleDB it runs when known. */
export function describeServer(server: TestServer, edition?: TimescaleEdition): string {
  return `${server.kind}: ${displayUrl(urlForDatabase(server.adminUrl, 'postgres'))}${edition ? `, ${describeEdition(edition)}` : ''}`;
}

/**
 * The TimescaleDB a new database on the server gets: its license is known only where the extension
 * is loaded, so it is read in a database made for the purpose, with the extension, and dropped.
 */
export async function probeTimescaleEdition(adminUrl: string): Promise<TimescaleEdition> {
  const admin = loadSettings({ env: 'test', databaseUrl: adminUrl });
  const probe = `kapman_probe_${crypto.randomBytes(4).toString('hex')}`;
  await withMaintenanceClient(admin, (c) => createDatabase(c, probe));
  try {
    return await withClient(loadSettings({ env: 'test', databaseUrl: urlForDatabase(adminUrl, probe) }), async (c) => {
      await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      return readTimescaleEdition(c);
    });
  } finally {
    await withMaintenanceClient(admin, (c) => dropDatabase(c, probe));
  }
}
