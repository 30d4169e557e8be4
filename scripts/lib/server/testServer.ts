// Picks a throwaway TimescaleDB server for the tests and the benchmark, in this order:
//   1. TEST_DATABASE_URL: any reachable server where the suite may create and drop its own databases;
//   2. Testcontainers with the pinned image, when a container runtime answers;
//   3. a throwaway cluster from the local binaries (temp data folder, free port), deleted after the run.
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import {
  ClusterOptions, clusterUrl, DEFAULT_PG_BIN, freePort, initCluster, localBinariesProblem, startCluster, stopCluster,
} from './localCluster';
import { maskUrl, urlForDatabase } from './settings';

// The image docker-compose.yml pins; keep them in step.
export const TIMESCALE_IMAGE = 'timescale/timescaledb:2.19.3-pg15';

export interface TestServer {
  /** How it was found, for the run's first line. */
  kind: 'TEST_DATABASE_URL' | 'testcontainers' | 'local cluster';
  /** A superuser-ish URL to the server's maintenance database. */
  adminUrl: string;
  /** A local cluster's data folder (its processes carry it in their command line). */
  dataDir?: string;
  /** Stops and deletes what the harness started (nothing for TEST_DATABASE_URL). */
  stop(): Promise<void>;
}

export class NoTestServerError extends Error {}

export async function pickTestServer(env: NodeJS.ProcessEnv = process.env, containers = tryTestcontainers): Promise<TestServer> {
  if (env.TEST_DATABASE_URL) {
    return { kind: 'TEST_DATABASE_URL', adminUrl: env.TEST_DATABASE_URL, stop: async () => undefined };
  }
  const reasons: string[] = ['TEST_DATABASE_URL is not set'];
  const container = await containers(reasons);
  if (container) return container;
  const binDir = env.PG_BIN || DEFAULT_PG_BIN;
  const problem = localBinariesProblem(binDir);
  if (!problem) return startThrowawayCluster(binDir);
  reasons.push(problem);
  throw new NoTestServerError([
    `no TimescaleDB server for the tests (${reasons.join('; ')}). Give the suite one of:`,
    '  1. TEST_DATABASE_URL=postgres://user:password@host:5432/postgres  (a TimescaleDB server where the suite may create and drop databases)',
    '  2. a running Docker engine (Testcontainers starts ' + TIMESCALE_IMAGE + ')',
    `  3. PostgreSQL 15 binaries in ${binDir} (or PG_BIN) with TimescaleDB: bash scripts/install-timescaledb.sh, as root or through sudo`,
  ].join('\n'));
}

export async function tryTestcontainers(reasons: string[]): Promise<TestServer | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch (err) {
    reasons.push(`no container runtime answers (${String((err as Error).message).split('\n')[0]})`);
    return undefined;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const started = await new PostgreSqlContainer(TIMESCALE_IMAGE)
    .withDatabase('postgres').withUsername('kapman').withPassword(crypto.randomBytes(12).toString('hex'))
    .start();
  return { kind: 'testcontainers', adminUrl: started.getConnectionUri(), stop: async () => { await started.stop(); } };
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
  return { kind: 'local cluster', adminUrl: clusterUrl(options, 'postgres'), dataDir: options.dataDir, stop: remove };
}

/** A run cut short (Ctrl-C, a CI timeout) still stops and deletes what was started. */
export function stopOnSignal(server: TestServer): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.stop().finally(() => process.exit(130)));
  }
}

export function describeServer(server: TestServer): string {
  return `${server.kind}: ${maskUrl(urlForDatabase(server.adminUrl, 'postgres'))}`;
}
