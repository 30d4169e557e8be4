// The development server that the knexfile's defaults point at: docker compose when a
// Docker engine answers, else a project-local cluster in .pgdata/ (git-ignored).
import { execFileSync, spawnSync } from 'child_process';
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

/** The database service of docker-compose.yml, and the port PostgreSQL listens on inside it. */
export const COMPOSE_SERVICE = 'timescaledb';
export const COMPOSE_PRIVATE_PORT = 5432;

export type ComposeDatabase =
  | { running: true; /** Where the host publishes the service's 5432, as `docker compose port` prints it (0.0.0.0:5432). */ published: string; port: number }
  | { running: false; /** Why not, in words for an error message. */ why: string };

/**
 * Whether the compose service runs here and on which host port, asked through the commands
 * Docker documents (`docker compose version`, `ps`, `port`), never its internals. Their own
 * output is captured, so a missing Compose plugin is reported in a sentence, not as docker's
 * usage text.
 */
export function composeDatabase(env: NodeJS.ProcessEnv = process.env): ComposeDatabase {
  const run = (args: string[]) =>
    spawnSync('docker', ['compose', ...args], { cwd: PROJECT_ROOT, env, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const said = (r: ReturnType<typeof run>) => r.error?.message || (r.stderr || r.stdout || '').trim().split('\n')[0] || `exit ${r.status}`;
  const version = run(['version']);
  if ((version.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return { running: false, why: 'the docker CLI is not installed' };
  if (version.error) return { running: false, why: `docker compose did not answer: ${version.error.message}` };
  if (version.status !== 0) return { running: false, why: 'docker compose (the Compose v2 plugin of the docker CLI) is not installed' };
  const ps = run(['ps', '--status', 'running', '--services', COMPOSE_SERVICE]);
  if (ps.status !== 0) return { running: false, why: `docker compose ps failed: ${said(ps)}` };
  if (!ps.stdout.split('\n').map((l) => l.trim()).includes(COMPOSE_SERVICE)) {
    return { running: false, why: `the docker compose service ${COMPOSE_SERVICE} is not running` };
  }
  const port = run(['port', COMPOSE_SERVICE, String(COMPOSE_PRIVATE_PORT)]);
  const published = port.status === 0 ? port.stdout.trim().split('\n')[0] : '';
  const m = /:(\d+)$/.exec(published);
  if (!m) return { running: false, why: `the docker compose service ${COMPOSE_SERVICE} publishes no port for ${COMPOSE_PRIVATE_PORT}` };
  return { running: true, published, port: Number(m[1]) };
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
