// A PostgreSQL cluster from the local binaries, with TimescaleDB preloaded: the
// no-Docker path of `npm run db:up` and of the test harness. PostgreSQL refuses to
// run as root, so as root every server command runs as the `postgres` OS user.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { LocalClusterError, TimescaleMissingError } from '../cli/errors';

export const DEFAULT_PG_BIN = '/usr/lib/postgresql/15/bin';

export interface ClusterOptions {
  /** Folder of initdb, pg_ctl and pg_config (PG_BIN). */
  binDir: string;
  /** The cluster's data folder; created by initCluster. */
  dataDir: string;
  port: number;
  /** The bootstrap superuser and its password. */
  user: string;
  password: string;
  /** A throwaway cluster trades durability for speed (fsync off). */
  throwaway?: boolean;
  /** Preload TimescaleDB (the default); false makes the server a test of that mistake. */
  preload?: boolean;
  /** Folders for Unix sockets besides TCP (none by default); tests of socket URLs name some. */
  socketDirs?: string[];
  /** More postgresql.conf lines (a test's server with ssl on, or wal_level = logical). */
  extraSettings?: string[];
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a server tool from `binDir`, as the `postgres` OS user when we are root. */
export function run(binDir: string, tool: string, args: string[]): string {
  const file = path.join(binDir, tool);
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new LocalClusterError(`${tool} failed: ${(e.stderr || e.stdout || e.message).trim()}`,
      `see ${DEFAULT_PG_BIN} (set PG_BIN to another PostgreSQL 15 bin folder)`);
  }
}

/** A PostgreSQL client tool (psql, pg_dump) from `binDir`, else whichever is on PATH. */
export function localTool(binDir: string, name: string): string {
  const local = path.join(binDir, name);
  return fs.existsSync(local) ? local : name;
}

/** Says why the local binaries cannot host the schema, or undefined when they can. */
export function localBinariesProblem(binDir: string): string | undefined {
  if (!fs.existsSync(path.join(binDir, 'initdb'))) return `no PostgreSQL binaries in ${binDir}`;
  const shareDir = execFileSync(path.join(binDir, 'pg_config'), ['--sharedir'], { encoding: 'utf8' }).trim();
  if (!fs.existsSync(path.join(shareDir, 'extension', 'timescaledb.control'))) {
    return `TimescaleDB is not installed for the PostgreSQL in ${binDir}`;
  }
  return undefined;
}

export function assertLocalBinaries(binDir: string): void {
  const problem = localBinariesProblem(binDir);
  if (problem?.startsWith('TimescaleDB')) {
    throw new TimescaleMissingError(problem, 'run `bash scripts/install-timescaledb.sh` as root (or through sudo)');
  }
  if (problem) throw new LocalClusterError(problem, 'install postgresql-15 (apt-get install postgresql-15) or set PG_BIN');
}

/** Gives a folder to the postgres OS user when we are root (the server must own its data). */
function handToPostgres(dir: string): void {
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
}

/** Whether the server's OS user may enter `dir` (and so every folder above it). */
function serverCanReach(dir: string): boolean {
  if (!isRoot()) return true; // the server runs as us
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dir]);
    return true;
  } catch {
    return false;
  }
}

/** Where the clusters of checkouts that the postgres OS user cannot enter live (as root only). */
export const SHARED_DATA_ROOT = '/var/lib/kapman-db';

/**
 * The development cluster's data folder for the checkout at `projectRoot`: its `.pgdata/`, or,
 * as root in a checkout the postgres OS user cannot enter (under /root, in a `mktemp -d`
 * folder), a folder under SHARED_DATA_ROOT named after the checkout and a hash of its path, so
 * that every command run in that checkout finds the same one. A `.pgdata/` already made stays in use.
 */
export function devDataDir(projectRoot: string): string {
  const root = path.resolve(projectRoot);
  const inside = path.join(root, '.pgdata');
  if (isInitialized(inside) || serverCanReach(root)) return inside;
  const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
  return path.join(SHARED_DATA_ROOT, `${path.basename(root).replace(/[^\w.-]/g, '_')}-${hash}`);
}

export function initCluster(o: ClusterOptions): void {
  assertLocalBinaries(o.binDir);
  // The parent may be SHARED_DATA_ROOT, made here on first use (open to enter, as /var/lib is).
  fs.mkdirSync(path.dirname(path.resolve(o.dataDir)), { recursive: true, mode: 0o755 });
  if (!serverCanReach(path.dirname(path.resolve(o.dataDir)))) {
    throw new LocalClusterError(`the postgres OS user cannot reach ${path.dirname(path.resolve(o.dataDir))}`,
      'PostgreSQL runs as `postgres` here; put the project (or PGDATA) where that user may enter every parent folder');
  }
  fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  handToPostgres(o.dataDir);
  const pwDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-pw-'));
  const pwFile = path.join(pwDir, 'pw');
  try {
    fs.writeFileSync(pwFile, `${o.password}\n`, { mode: 0o600 });
    handToPostgres(pwDir);
    run(o.binDir, 'initdb', ['-D', o.dataDir, '-U', o.user, `--pwfile=${pwFile}`, '--auth=scram-sha-256',
      '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions']);
  } finally {
    fs.rmSync(pwDir, { recursive: true, force: true });
  }
  const settings = [
    "listen_addresses = '127.0.0.1'",
    `port = ${o.port}`,
    // TCP only unless asked: no socket path to clash or to outgrow its length limit.
    `unix_socket_directories = '${(o.socketDirs ?? []).join(', ')}'`,
    ...(o.preload === false ? [] : ["shared_preload_libraries = 'timescaledb'"]),
    'timescaledb.telemetry_level = off', // no phoning home from a closed network
    ...(o.throwaway ? ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off'] : []),
    ...(o.extraSettings ?? []),
  ];
  fs.appendFileSync(path.join(o.dataDir, 'postgresql.conf'), `\n# kapman\n${settings.join('\n')}\n`);
}

export function isInitialized(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, 'PG_VERSION'));
}

export function isRunning(binDir: string, dataDir: string): boolean {
  try {
    run(binDir, 'pg_ctl', ['-D', dataDir, 'status']);
    return true;
  } catch {
    return false;
  }
}

/** The port of the server running in `dataDir` (from its postmaster.pid), or undefined when none runs. */
export function runningPort(dataDir: string): number | undefined {
  try {
    const lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    process.kill(Number(lines[0]), 0); // a pid file left by a crash names a process that is gone
    return Number(lines[3]);
  } catch {
    return undefined;
  }
}

/** The server's log, in its data folder. */
export const serverLog = (dataDir: string) => path.join(dataDir, 'server.log');

/** What to check when the server did not start, and where its log is. */
export const startFailedHint = (logFile: string) => `is the port taken? (see ${logFile})`;

/** Starts the server in `dataDir`; `port` overrides the one in its postgresql.conf. */
export function startCluster(binDir: string, dataDir: string, port?: number): void {
  const logFile = serverLog(dataDir);
  try {
    run(binDir, 'pg_ctl', ['-D', dataDir, '-l', logFile, ...(port ? ['-o', `-p ${port}`] : []), '-w', '-t', '60', 'start']);
  } catch (err) {
    const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ') : '';
    throw new LocalClusterError(`the local server did not start: ${tail || (err as Error).message}`, startFailedHint(logFile));
  }
}

export function stopCluster(binDir: string, dataDir: string): void {
  if (isRunning(binDir, dataDir)) run(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function clusterUrl(o: Pick<ClusterOptions, 'port' | 'user' | 'password'>, database: string): string {
  return `postgres://${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/${encodeURIComponent(database)}`;
}
