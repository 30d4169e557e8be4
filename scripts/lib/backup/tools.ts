// pg_dump and pg_restore: which binary, and how it reaches the database. A client older than
// the server cannot dump it, so the local binaries (PG_BIN, then PATH) must be of the server's
// major version or newer. The connection goes as a conninfo string and libpq variables, with
// the password only in the child's environment (PGPASSWORD), never on its command line.
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { ConnectionParams, readConnectionUrl } from '../server/connectionUrl';
import { ClientToolsError } from '../cli/errors';
import { DEFAULT_PG_BIN } from '../server/localCluster';
import { APPLICATION_NAME } from '../server/ssl';

export type Tool = 'pg_dump' | 'pg_restore';

export interface FoundTool {
  file: string;
  /** e.g. 15.20 */
  version: string;
  major: number;
}

/** The version a client binary reports (`pg_dump (PostgreSQL) 15.20 (Debian …)`), or undefined when it cannot run. */
function versionOf(file: string): FoundTool | undefined {
  try {
    const out = execFileSync(file, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out);
    return m ? { file, version: m[2] === undefined ? m[1] : `${m[1]}.${m[2]}`, major: Number(m[1]) } : undefined;
  } catch {
    return undefined;
  }
}

/** Every place `name` may be, in order: PG_BIN (default Debian's PostgreSQL 15 folder), then each PATH folder. */
function candidates(name: Tool, env: NodeJS.ProcessEnv): string[] {
  const dirs = [env.PG_BIN || DEFAULT_PG_BIN, ...(env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  return [...new Set(dirs.map((d) => path.join(d, name)))].filter((f) => fs.existsSync(f));
}

/** The first `name` whose major version is at least the server's; a named error naming the package otherwise. */
export function findTool(name: Tool, serverMajor: number, env: NodeJS.ProcessEnv = process.env): FoundTool {
  const seen: FoundTool[] = [];
  for (const file of candidates(name, env)) {
    const found = versionOf(file);
    if (!found) continue;
    if (found.major >= serverMajor) return found;
    seen.push(found);
  }
  const what = seen.length
    ? `${name} is too old for a PostgreSQL ${serverMajor} server: found ${seen.map((s) => `${s.file} (${s.version})`).join(', ')}`
    : `${name} was not found (looked in PG_BIN, default ${DEFAULT_PG_BIN}, and PATH)`;
  throw new ClientToolsError(what,
    `install the client of the server's version (apt-get install postgresql-client-${serverMajor}), or set PG_BIN to its bin folder`);
}

/** A conninfo value, quoted as libpq reads it. */
const quote = (value: string | number) => `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * What a libpq client needs to reach the database `url` names: a conninfo string for --dbname
 * without the password, and the environment to run it in (PGPASSWORD when there is one).
 * Inherited PG* variables are removed, so the child reaches exactly what `url` means.
 */
export function clientConnection(url: string, env: NodeJS.ProcessEnv = process.env): { conninfo: string; env: NodeJS.ProcessEnv } {
  const p: ConnectionParams = readConnectionUrl(url, env);
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
