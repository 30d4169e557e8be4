// The development server that the default URLs (knex.ts) point at: docker compose when a
// Docker engine answers, else a project-local cluster in .pgdata/ (git-ignored).
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { DEFAULT_URLS } from './knex';
import { log } from '../cli/log';
import { createDatabase, readDatabaseInfo } from './admin';
import { waitForServer, withMaintenanceClient } from './connection';
import { DockerUnavailableError, LocalClusterError } from '../cli/errors';
import {
  ClusterOptions, clusterUrl, devDataDir, initCluster, isInitialized, runningPort, serverLog, startCluster, startFailedHint,
} from './localCluster';
import { displayUrl } from './connectionUrl';
import { loadSettings, parseUrl, Settings } from './settings';
import { PROJECT_ROOT } from '../paths';

/** Why no Docker engine answers (`docker info` fails), in words for an error message; undefined when one does. */
function dockerEngineProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { env, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if ((info.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'the docker CLI is not installed';
  if (info.error) return `docker info did not answer: ${info.error.message}`;
  if (info.status !== 0) return (info.stderr || '').trim().split('\n').find((l) => /error|cannot|denied/i.test(l))?.trim() ?? `docker info exited ${info.status}`;
  return undefined;
}

export function dockerEngineAnswers(): boolean {
  return dockerEngineProblem() === undefined;
}

/**
 * Whether the development server goes through docker compose: as asked (--docker, --no-docker),
 * else when an engine answers. Asked for Docker where no engine answers, it says that, not
 * that the Compose plugin is missing: the engine is what to start first.
 */
export function useDocker(asked: boolean | undefined): boolean {
  if (asked === undefined) return dockerEngineAnswers();
  if (asked) {
    const problem = dockerEngineProblem();
    if (problem) {
      throw new DockerUnavailableError(`--docker was given, but no Docker engine answers (${problem})`,
        'start the engine (Docker Desktop; on Linux, as root: systemctl start docker), or point DOCKER_HOST at one; or run without Docker: --no-docker');
    }
  }
  return asked;
}

/** The local cluster mirrors docker-compose.yml: role, password, port and database of the development default. */
export function devClusterOptions(binDir: string): ClusterOptions & { database: string } {
  const url = DEFAULT_URLS.development!;
  const { database, user, password } = parseUrl(url);
  return {
    binDir,
    dataDir: devDataDir(PROJECT_ROOT),
    port: Number(new URL(url).port || 5432),
    user,
    password: password ?? '',
    database,
  };
}

export function compose(args: string[], env: NodeJS.ProcessEnv = process.env): void {
  if (composeProblem(env)) {
    throw new DockerUnavailableError('a Docker engine answers, but `docker compose` (the Compose v2 plugin) does not',
      'install the plugin (Debian: apt-get install docker-compose-plugin), or run without Docker: --no-docker');
  }
  execFileSync('docker', ['compose', ...args], { cwd: PROJECT_ROOT, stdio: 'inherit', env });
}

/** Why `docker compose` cannot be used here, in words for an error message; undefined when it answers. */
function composeProblem(env: NodeJS.ProcessEnv): string | undefined {
  const version = spawnSync('docker', ['compose', 'version'], { env, stdio: 'ignore', timeout: 10_000 });
  if ((version.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'the docker CLI is not installed';
  if (version.error) return `docker compose did not answer: ${version.error.message}`;
  if (version.status !== 0) return 'docker compose (the Compose v2 plugin of the docker CLI) is not installed';
  return undefined;
}

/** The database service of docker-compose.yml, and the port PostgreSQL listens on inside it. */
export const COMPOSE_SERVICE = 'timescaledb';
export const COMPOSE_PRIVATE_PORT = 5432;

export type ComposeDatabaseState =
  | { running: true; /** Where the host publishes the service's 5432, as `docker compose port` prints it (0.0.0.0:5432). */ published: string; port: number }
  | { running: false; /** Why not, in words for an error message. */ why: string };

/**
 * Whether the compose service runs here and on which host port, asked through the commands
 * Docker documents (`docker compose version`, `ps`, `port`), never its internals. Their own
 * output is captured, so a missing Compose plugin is reported in a sentence, not as docker's
 * usage text.
 */
export function composeDatabase(env: NodeJS.ProcessEnv = process.env): ComposeDatabaseState {
  const run = (args: string[]) =>
    spawnSync('docker', ['compose', ...args], { cwd: PROJECT_ROOT, env, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const said = (r: ReturnType<typeof run>) => r.error?.message || (r.stderr || r.stdout || '').trim().split('\n')[0] || `exit ${r.status}`;
  const problem = composeProblem(env);
  if (problem) return { running: false, why: problem };
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

// A first start runs initdb and creates TimescaleDB in three databases before it listens on TCP.
const COMPOSE_READY_TIMEOUT_MS = 60_000;

export interface DbUpOptions {
  /** Use docker compose (true), the local binaries (false), or whichever answers (undefined). */
  docker?: boolean;
  /** Folder of the local PostgreSQL 15 binaries. */
  binDir: string;
  /** Another data folder or port than the development default (tests use their own). */
  cluster?: Partial<Pick<ClusterOptions, 'dataDir' | 'port'>>;
  /** How long the compose service may take to accept connections over its published port. */
  waitMs?: number;
  /** --lock-timeout of every session on the server brought up, in milliseconds. */
  lockTimeoutMs?: number;
}

/** Returns the development database's settings, on whichever server it brought up. */
export async function dbUp(o: DbUpOptions): Promise<Settings> {
  const cluster = { ...devClusterOptions(o.binDir), ...o.cluster };
  // db:up makes its server's URL itself, so that URL, not DATABASE_URL, is read into settings.
  const settings = loadSettings({ env: 'development', databaseUrl: clusterUrl(cluster, cluster.database), lockTimeoutMs: o.lockTimeoutMs });
  if (useDocker(o.docker)) {
    log('starting the docker compose service (timescaledb)');
    // docker-compose.yml publishes ${KAPMAN_DB_PORT:-5432}.
    compose(['up', '-d', '--wait'], { ...process.env, KAPMAN_DB_PORT: String(cluster.port) });
    // Healthy is not enough: on a first start the image serves its init scripts from a server on
    // the Unix socket only, then restarts. Ready is when the user's own connection succeeds.
    await waitForServer(settings, o.waitMs ?? COMPOSE_READY_TIMEOUT_MS);
    return announce(settings);
  }
  // A folder this run creates is removed again if the server never comes up in it.
  const creates = !fs.existsSync(cluster.dataDir);
  let starting = false;
  try {
    if (isInitialized(cluster.dataDir)) {
      log(`local cluster exists in ${cluster.dataDir}`);
    } else {
      initCluster(cluster);
      const elsewhere = !cluster.dataDir.startsWith(PROJECT_ROOT + path.sep);
      log(`local cluster created in ${cluster.dataDir}${elsewhere && !o.cluster?.dataDir ? ` (the postgres OS user cannot enter ${PROJECT_ROOT}, so its data lives here)` : ''}`);
    }
    const running = runningPort(cluster.dataDir);
    if (running !== undefined && running !== cluster.port) {
      throw new LocalClusterError(`the local server in ${cluster.dataDir} is already running, on port ${running}, not ${cluster.port}`,
        `stop it first (\`npm run db:down\`), or pass --port ${running} to use it as it is`);
    }
    if (running !== undefined) {
      log('local server already running');
    } else {
      starting = true;
      startCluster(o.binDir, cluster.dataDir, cluster.port);
      log(`local server started on 127.0.0.1:${cluster.port}`);
    }
  } catch (err) {
    if (!creates) throw err;
    // The server's log goes with the folder: kept aside first, so that the hint can point at it.
    const kept = starting && fs.existsSync(serverLog(cluster.dataDir))
      ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-db-up-')), 'server.log') : undefined;
    if (kept) fs.copyFileSync(serverLog(cluster.dataDir), kept);
    fs.rmSync(cluster.dataDir, { recursive: true, force: true });
    log(`removed ${cluster.dataDir}, which this run had created${kept ? `; its server log is kept in ${kept}` : ''}`);
    if (starting && err instanceof LocalClusterError) {
      throw new LocalClusterError(err.message, kept ? startFailedHint(kept) : 'is the port taken?', { cause: err });
    }
    throw err;
  }
  await withMaintenanceClient(settings, async (c) => {
    if (await readDatabaseInfo(c, cluster.database)) return log(`database ${cluster.database} exists`);
    await createDatabase(c, cluster.database);
    log(`database ${cluster.database} created`);
  });
  return announce(settings);
}

/** Says which URL the server serves, and when the commands would not use it by default, how to make them. */
function announce(settings: Settings): Settings {
  log(`ready: ${settings.displayUrl}`);
  const target = process.env.DATABASE_URL;
  if (target && displayUrl(target) !== settings.displayUrl) {
    log(`note: DATABASE_URL is set to ${displayUrl(target)}, so the other commands use that database, not this one`);
  } else if (!target && settings.connection.port !== parseUrl(DEFAULT_URLS.development!).port) {
    log(`note: the commands default to ${displayUrl(DEFAULT_URLS.development!)}; set DATABASE_URL to the URL above (its password is docker-compose.yml's) to use this server`);
  }
  return settings;
}