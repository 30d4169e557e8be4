// Settings are parsed once, here, into a typed object that is passed down;
// nothing below re-reads the environment.
import type { Knex } from 'knex';
import { parse } from 'pg-connection-string';
import { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_URLS, ENVIRONMENTS, Environment, knexConfig } from '../../knexfile';
import { InvalidSettingsError, ProductionGuardError } from './errors';
import { addSecret } from './log';

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
      'set DATABASE_URL, e.g. DATABASE_URL=postgres://user:password@host:5432/dbname');
  }
  const parsed = parseUrl(url);
  const lockTimeoutMs = input.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  return {
    env: environment,
    url,
    displayUrl: maskUrl(url),
    database: parsed.database,
    knex: knexConfig(environment, url, { lockTimeoutMs }),
    lockTimeoutMs,
  };
}

/** The same settings for another database on the same server (a build beside the target). */
export function settingsForDatabase(settings: Settings, database: string): Settings {
  const url = urlForDatabase(settings.url, database);
  return { ...settings, url, displayUrl: maskUrl(url), database, knex: knexConfig(settings.env, url, { lockTimeoutMs: settings.lockTimeoutMs }) };
}

/** Destructive commands refuse the production environment unless forced. */
export function refuseProduction(settings: Settings, force: boolean | undefined, doing: string, loses: string): void {
  if (settings.env === 'production' && !force) {
    throw new ProductionGuardError(`refusing to ${doing} in the production environment`, `${loses}; if you mean it, rerun with --force`);
  }
}

/** Checks a postgres URL strictly; the driver alone would accept nonsense and fail later. */
export function parseUrl(url: string): { database: string; user: string; password?: string } {
  const hint = 'DATABASE_URL must look like postgres://user:password@host:5432/dbname (percent-encode special characters); is DATABASE_URL or the knexfile default set as you meant?';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidSettingsError('DATABASE_URL is not a valid URL', hint);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new InvalidSettingsError(`DATABASE_URL has scheme "${u.protocol.replace(/:$/, '')}", not postgres`, hint);
  }
  let config: ReturnType<typeof parse>;
  try {
    config = parse(url);
  } catch (err) {
    throw new InvalidSettingsError(`DATABASE_URL cannot be read: ${(err as Error).message}`, hint);
  }
  // A password that is also the user or database name ('kapman') cannot be hidden from
  // output that names them; URLs still mask it (maskUrl, redact).
  const pw = config.password;
  if (pw && pw !== config.user && !(config.database ?? '').includes(pw) && !(config.host ?? '').includes(pw)) addSecret(pw);
  if (!u.hostname && !config.host) throw new InvalidSettingsError('DATABASE_URL names no host', hint);
  if (!config.database) throw new InvalidSettingsError('DATABASE_URL names no database', hint);
  if (Buffer.byteLength(config.database) > MAX_NAME_BYTES) {
    throw new InvalidSettingsError(`database name "${config.database}" is ${Buffer.byteLength(config.database)} bytes long`,
      `PostgreSQL keeps only the first ${MAX_NAME_BYTES} bytes of a name; choose a shorter one`);
  }
  return { database: config.database, user: config.user || '', password: config.password };
}

export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '*****';
    return u.toString();
  } catch {
    return '(unreadable URL)';
  }
}

// The driver reads the database name with decodeURI, which leaves these escapes as they
// are; they are legal in a URL path, so they go in raw.
const RAW_IN_PATH = /%(3B|2C|3A|40|26|3D|2B|24)/g;

/** The same server and credentials, another database (the URL keeps its other parameters). */
export function urlForDatabase(url: string, database: string): string {
  if (/[/?#]/.test(database)) {
    throw new InvalidSettingsError(`database name "${database}" holds / ? or #, which a connection URL cannot carry`,
      'rename the database');
  }
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database).replace(RAW_IN_PATH, (escape) => decodeURIComponent(escape))}`;
  return u.toString();
}
