// Settings are parsed once, here, into a typed object that is passed down: the URL read once
// (with libpq's variables and the password file), the timeouts; every session is opened from it,
// and another database's settings are derived from it (settingsForDatabase), never read again.
import type { Knex } from 'knex';
import { DEFAULT_URLS, ENVIRONMENTS, Environment, knexConfig } from './knex';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../cli/timeouts';
import {
  ConnectionParams, connectionForDatabase, displayUrl, PASSWORD_WHERE, readConnectionUrl, withDatabase,
} from './connectionUrl';
import { InvalidSettingsError, ProductionGuardError } from '../cli/errors';

// NAMEDATALEN - 1: PostgreSQL silently cuts longer names, so a reset would make another database.
const MAX_NAME_BYTES = 63;

export interface Settings {
  /** The knexfile environment in force. */
  env: Environment;
  /** The target database's connection URL (holds the password: never print it). */
  url: string;
  /** The same URL with the password masked, for output. */
  displayUrl: string;
  /** The target database's name, unquoted. */
  database: string;
  /** The URL as libpq reads it, every default applied: host, port, user, database, SSL, password. */
  connection: ConnectionParams;
  /** Knex settings for migrating the target (the knexfile's, for this URL). */
  knex: Knex.Config;
  /** How long any statement may wait for a lock, and a run for another run (--lock-timeout). */
  lockTimeoutMs: number;
}

export interface SettingsInput {
  /** --env, else NODE_ENV, else development: the knex CLI's rule. */
  env?: string;
  /** DATABASE_URL: overrides the environment's default connection whenever set. */
  databaseUrl?: string;
  /** --lock-timeout, in milliseconds. */
  lockTimeoutMs?: number;
}

export function loadSettings(input: SettingsInput): Settings {
  const env = input.env || 'development';
  if (!(ENVIRONMENTS as readonly string[]).includes(env)) {
    throw new InvalidSettingsError(`unknown environment "${env}"`, `use one of ${ENVIRONMENTS.join(', ')} (--env or NODE_ENV)`);
  }
  const environment = env as Environment;
  const url = input.databaseUrl || DEFAULT_URLS[environment];
  if (!url) {
    throw new InvalidSettingsError(`the ${environment} environment has no default database`,
      `set DATABASE_URL, e.g. DATABASE_URL=postgres://USER@HOST:5432/DBNAME (${PASSWORD_WHERE})`);
  }
  const connection = readConnection(url);
  const lockTimeoutMs = input.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  return {
    env: environment,
    url,
    displayUrl: displayUrl(url),
    database: connection.dbname,
    connection,
    knex: knexConfig(environment, connection, { lockTimeoutMs }),
    lockTimeoutMs,
  };
}

/**
 * The same settings for another database on the same server (a build beside the target, a
 * maintenance database): the one way every other database is reached, timeouts kept.
 */
export function settingsForDatabase(settings: Settings, database: string): Settings {
  const url = withDatabase(settings.url, database);
  const connection = connectionForDatabase(settings.connection, database);
  return {
    ...settings, url, displayUrl: displayUrl(url), database, connection,
    knex: knexConfig(settings.env, connection, { lockTimeoutMs: settings.lockTimeoutMs }),
  };
}

/** Destructive commands refuse the production environment unless forced. */
export function refuseProduction(settings: Settings, force: boolean | undefined, doing: string, loses: string): void {
  if (settings.env === 'production' && !force) {
    const err = new ProductionGuardError(`refusing to ${doing} in the production environment`, `${loses}; if you mean it, add --force`);
    err.loses = loses;
    throw err;
  }
}

/** Reads a postgres URL as libpq does (connectionUrl.ts) and checks what this tool needs of it. */
function readConnection(url: string): ConnectionParams {
  const p = readConnectionUrl(url);
  if (Buffer.byteLength(p.dbname) > MAX_NAME_BYTES) {
    throw new InvalidSettingsError(`database name "${p.dbname}" is ${Buffer.byteLength(p.dbname)} bytes long`,
      `PostgreSQL keeps only the first ${MAX_NAME_BYTES} bytes of a name; choose a shorter one`);
  }
  return p;
}

/** The parts of a URL the development server's setup needs (its own URL: no settings yet). */
export function parseUrl(url: string): { database: string; user: string; password?: string; host: string; port: number } {
  const p = readConnection(url);
  return { database: p.dbname, user: p.user, password: p.password, host: p.host, port: p.port };
}

/** The same server, credentials and parameters, another database. */
export function urlForDatabase(url: string, database: string): string {
  return withDatabase(url, database);
}
