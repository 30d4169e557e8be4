// pg_dump and pg_restore: which binary, and how it reaches the database. A client older than
// the server cannot dump it, so the binaries must be of the server's major version or newer.
// One rule picks them: the local client (PG_BIN, then PATH) whenever one is recent enough,
// since that is the path the tests exercise most; only without one, and only when the target
// is the docker compose development database (its published port on this machine), the
// container's own binaries through `docker compose exec`. The password is only ever in an
// environment (PGPASSWORD), never on a command line, on either path.
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import readline from 'readline';
import { pipeline } from 'stream/promises';
import type { ConnectionParams } from './connectionUrl';
import { ClientToolsError } from '../cli/errors';
import { PROJECT_ROOT } from '../paths';
import { COMPOSE_SERVICE, composeDatabase } from './devServer';
import { DEFAULT_PG_BIN } from './localCluster';
import { APPLICATION_NAME } from './ssl';

export type Tool = 'pg_dump' | 'pg_restore';

export interface FoundTool {
  /** The binary: a local file, or the command's name inside the container. */
  file: string;
  /** e.g. 15.20 */
  version: string;
  major: number;
  /** Set when it runs in this docker compose service (`docker compose exec`), not on this machine. */
  service?: string;
}

/** The version in `pg_dump (PostgreSQL) 15.20 (Debian …)`, or undefined. */
function parseVersion(file: string, out: string): FoundTool | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out);
  return m ? { file, version: m[2] === undefined ? m[1] : `${m[1]}.${m[2]}`, major: Number(m[1]) } : undefined;
}

// Each binary is asked once per process: a squash's proof and a backup look up pg_dump again and again.
const versions = new Map<string, FoundTool | undefined>();

/** The version a client binary reports, or undefined when it cannot run. */
function versionOf(file: string): FoundTool | undefined {
  if (!versions.has(file)) {
    try {
      versions.set(file, parseVersion(file, execFileSync(file, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })));
    } catch {
      versions.set(file, undefined);
    }
  }
  return versions.get(file);
}

/** Every place `name` may be, in order: PG_BIN (default Debian's PostgreSQL 15 folder), then each PATH folder. */
function candidates(name: Tool, env: NodeJS.ProcessEnv): string[] {
  const dirs = [env.PG_BIN || DEFAULT_PG_BIN, ...(env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  return [...new Set(dirs.map((d) => path.join(d, name)))].filter((f) => fs.existsSync(f));
}

/** The first local `name` whose major version is at least the server's, or why there is none. */
function localTool(name: Tool, serverMajor: number, env: NodeJS.ProcessEnv): FoundTool | string {
  const seen: FoundTool[] = [];
  for (const file of candidates(name, env)) {
    const found = versionOf(file);
    if (!found) continue;
    if (found.major >= serverMajor) return found;
    seen.push(found);
  }
  return seen.length
    ? `${name} is too old for a PostgreSQL ${serverMajor} server: found ${seen.map((s) => `${s.file} (${s.version})`).join(', ')}`
    : `${name} was not found (looked in PG_BIN, default ${DEFAULT_PG_BIN}, and PATH)`;
}

const installHint = (serverMajor: number) =>
  `install the client of the server's version (apt-get install postgresql-client-${serverMajor}), or set PG_BIN to its bin folder`;

/** The first local `name` whose major version is at least the server's; a named error naming the package otherwise. */
export function findTool(name: Tool, serverMajor: number, env: NodeJS.ProcessEnv = process.env): FoundTool {
  const found = localTool(name, serverMajor, env);
  if (typeof found === 'string') throw new ClientToolsError(found, installHint(serverMajor));
  return found;
}

/** A host that is this machine, where the compose service publishes its port. */
const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The `name` inside the compose service, when `p` is the database that service publishes here; why not otherwise. */
function composeTool(name: Tool, serverMajor: number, p: ConnectionParams, env: NodeJS.ProcessEnv): FoundTool | string {
  const db = composeDatabase(env);
  if (!db.running) return db.why;
  const bound = db.published.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  // Published on every address or on loopback, and the URL goes to that port on this machine.
  if (!isLoopback(p.hostaddr ?? p.host) || p.port !== db.port || !(bound === '0.0.0.0' || bound === '::' || isLoopback(bound))) {
    return `the target (${p.hostaddr ?? p.host}:${p.port}) is not the docker compose service ${COMPOSE_SERVICE}, published on ${db.published}`;
  }
  let out: string;
  try {
    out = execFileSync('docker', ['compose', 'exec', '-T', COMPOSE_SERVICE, name, '--version'],
      { cwd: PROJECT_ROOT, env, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const said = String((err as { stderr?: string }).stderr ?? '').trim().split('\n')[0];
    return `${name} --version failed in the docker compose service ${COMPOSE_SERVICE}${said ? `: ${said}` : ''}`;
  }
  const found = parseVersion(name, out);
  if (!found) return `${name} in the docker compose service ${COMPOSE_SERVICE} did not report a version`;
  if (found.major < serverMajor) return `${name} in the docker compose service ${COMPOSE_SERVICE} is ${found.version}, too old for the server`;
  return { ...found, service: COMPOSE_SERVICE };
}

/**
 * The `name` for the database `p` (of a PostgreSQL `serverMajor` server), by the rule at the
 * top of this file; a ClientToolsError saying why neither path can be used otherwise.
 */
export function chooseTool(name: Tool, serverMajor: number, p: ConnectionParams, env: NodeJS.ProcessEnv = process.env): FoundTool {
  const local = localTool(name, serverMajor, env);
  if (typeof local !== 'string') return local;
  const inContainer = composeTool(name, serverMajor, p, env);
  if (typeof inContainer !== 'string') return inContainer;
  throw new ClientToolsError(`${local}; the docker compose service's ${name} cannot be used either: ${inContainer}`, installHint(serverMajor));
}

/** The tool as the log and the plan name it. */
export const describeTool = (tool: FoundTool) =>
  tool.service ? `${tool.file} ${tool.version} in the docker compose service ${tool.service} (docker compose exec)` : `${tool.file} (${tool.version})`;

/** A conninfo value, quoted as libpq reads it. */
const quote = (value: string | number) => `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * What a libpq client needs to reach the database `p`: a conninfo string for --dbname without
 * the password, and the environment to run it in (PGPASSWORD when there is one). Inherited PG*
 * variables are removed, so the child reaches exactly what the settings mean.
 */
export function clientConnection(p: ConnectionParams, env: NodeJS.ProcessEnv = process.env): { conninfo: string; env: NodeJS.ProcessEnv } {
  const parts: Array<[string, string | number | undefined]> = [
    ['host', p.host], ['hostaddr', p.hostaddr], ['port', p.port], ['user', p.user], ['dbname', p.dbname], ['sslmode', p.sslmode],
    ['sslrootcert', p.sslrootcert], ['sslcert', p.sslcert], ['sslkey', p.sslkey],
    ['application_name', p.application_name ?? APPLICATION_NAME], ['connect_timeout', p.connect_timeout], ['options', p.options],
  ];
  const conninfo = parts.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quote(v!)}`).join(' ');
  const childEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('PG')));
  if (p.password !== undefined) childEnv.PGPASSWORD = p.password;
  return { conninfo, env: childEnv };
}

/**
 * How to reach the database `p` from inside the compose service: the container's own socket,
 * with its user, database and options. The password goes into the docker CLI's environment and
 * crosses as `-e PGPASSWORD`, a name only: Docker documents that a variable given without a
 * value takes its value from the environment `docker compose` runs in.
 */
function containerConnection(p: ConnectionParams, env: NodeJS.ProcessEnv): { conninfo: string; exec: string[]; env: NodeJS.ProcessEnv } {
  const parts: Array<[string, string | undefined]> = [
    ['user', p.user], ['dbname', p.dbname], ['application_name', p.application_name ?? APPLICATION_NAME], ['options', p.options],
  ];
  const conninfo = parts.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quote(v!)}`).join(' ');
  const dockerEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('PG')));
  if (p.password !== undefined) dockerEnv.PGPASSWORD = p.password;
  // -T: no pseudo-terminal, so the archive's bytes pass unchanged and stdin can be a file.
  const exec = ['compose', 'exec', '-T', ...(p.password !== undefined ? ['-e', 'PGPASSWORD'] : [])];
  return { conninfo, exec, env: dockerEnv };
}

/** The archive a tool writes (pg_dump) or reads (pg_restore). */
export interface Archive {
  file: string;
  direction: 'write' | 'read';
}

/**
 * Runs `tool` with `args` on the database `p`, its stderr line by line to `onLine`; resolves
 * to its exit code. A local binary opens the archive itself; in the container it cannot see
 * this machine's files, so the archive streams through docker's stdout (pg_dump) or stdin
 * (pg_restore).
 */
export function runTool(tool: FoundTool, p: ConnectionParams, args: string[], archive: Archive, onLine: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  const streamed = tool.service !== undefined;
  let command: string;
  let argv: string[];
  let childEnv: NodeJS.ProcessEnv;
  if (streamed) {
    const c = containerConnection(p, env);
    [command, argv, childEnv] = ['docker', [...c.exec, tool.service!, tool.file, ...args, `--dbname=${c.conninfo}`], c.env];
  } else {
    const c = clientConnection(p, env);
    const file = archive.direction === 'write' ? `--file=${archive.file}` : archive.file;
    [command, argv, childEnv] = [tool.file, [...args, `--dbname=${c.conninfo}`, file], c.env];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      env: childEnv,
      cwd: streamed ? PROJECT_ROOT : undefined,
      stdio: [streamed && archive.direction === 'read' ? 'pipe' : 'ignore', streamed && archive.direction === 'write' ? 'pipe' : 'ignore', 'pipe'],
    });
    readline.createInterface({ input: child.stderr! }).on('line', onLine);
    let transfer: Promise<string | undefined> = Promise.resolve(undefined);
    if (streamed && archive.direction === 'write') {
      transfer = pipeline(child.stdout!, fs.createWriteStream(archive.file)).then(() => undefined, (e: Error) => `writing ${archive.file} failed: ${e.message}`);
    } else if (streamed) {
      // A pg_restore that stops at its first error closes its stdin early: its exit code tells why, not the broken pipe.
      transfer = pipeline(fs.createReadStream(archive.file), child.stdin!).then(() => undefined, (e: NodeJS.ErrnoException) =>
        (e.code === 'EPIPE' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' ? undefined : `reading ${archive.file} failed: ${e.message}`));
    }
    child.on('error', reject);
    child.on('close', (code) => void transfer.then((problem) => {
      if (problem) onLine(problem);
      resolve(problem && code === 0 ? 1 : code);
    }));
  });
}
