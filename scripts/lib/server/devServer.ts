// The development server that the knexfile's defaults point at: docker compose when a
// Docker engine answers, else a project-local cluster in .pgdata/ (git-ignored).
import { execFileSync } from 'child_process';
import path from 'path';
import { DEFAULT_URLS } from '../../../knexfile';
import { log } from '../cli/log';
import { createDatabase, databaseInfo } from './admin';
import { withMaintenanceClient } from './connection';
import { ClusterOptions, clusterUrl, initCluster, isInitialized, isRunning, startCluster } from './localCluster';
import { maskUrl, parseUrl } from './settings';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

export function dockerEngineAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** The local cluster mirrors docker-compose.yml: role, password, port and database of the development default. */
export function devClusterOptions(binDir: string): ClusterOptions & { database: string } {
  const url = DEFAULT_URLS.development!;
  const { database, user, password } = parseUrl(url);
  return {
    binDir,
    dataDir: path.join(PROJECT_ROOT, '.pgdata'),
    port: Number(new URL(url).port || 5432),
    user,
    password: password ?? '',
    database,
  };
}

export function compose(args: string[]): void {
  execFileSync('docker', ['compose', ...args], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}

export interface DbUpOptions {
  /** Use docker compose (true), the local binaries (false), or whichever answers (undefined). */
  docker?: boolean;
  /** Folder of the local PostgreSQL 15 binaries. */
  binDir: string;
  /** Another data folder or port than the development default (tests use their own). */
  cluster?: Partial<Pick<ClusterOptions, 'dataDir' | 'port'>>;
}

/** Returns the development database's URL, on whichever server it brought up. */
export async function dbUp(o: DbUpOptions): Promise<string> {
  if (o.docker ?? dockerEngineAnswers()) {
    log('starting the docker compose service (timescaledb)');
    compose(['up', '-d', '--wait']);
    log('docker compose service is up');
    return DEFAULT_URLS.development!;
  }
  const cluster = { ...devClusterOptions(o.binDir), ...o.cluster };
  if (isInitialized(cluster.dataDir)) {
    log(`local cluster exists in ${cluster.dataDir}`);
  } else {
    initCluster(cluster);
    log(`local cluster created in ${cluster.dataDir}`);
  }
  if (isRunning(o.binDir, cluster.dataDir)) {
    log('local server already running');
  } else {
    startCluster(o.binDir, cluster.dataDir);
    log(`local server started on 127.0.0.1:${cluster.port}`);
  }
  const url = clusterUrl(cluster, 'postgres');
  await withMaintenanceClient(url, async (c) => {
    if (await databaseInfo(c, cluster.database)) return log(`database ${cluster.database} exists`);
    await createDatabase(c, cluster.database);
    log(`database ${cluster.database} created`);
  });
  const ready = clusterUrl(cluster, cluster.database);
  log(`ready: ${maskUrl(ready)}`);
  return ready;
}
