// Admin SQL, run from a maintenance database, and which databases are never a target. Every
// identifier is quoted by pg's escapeIdentifier.
import { Client, escapeIdentifier } from 'pg';
import { RefusedTargetError } from '../cli/errors';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../cli/timeouts';

// Never a target: dropping these breaks the server for everyone, and a template's schema
// would reach every database created from it afterwards.
const SYSTEM_DATABASES = ['postgres', 'template0', 'template1'];
const POINT_ELSEWHERE = 'point DATABASE_URL (or --env) at a KapMan database, e.g. kapman_dev';

/**
 * Refuses `database` as what a reset or a migration works on when it is a system database, or
 * (`isTemplate`, once the caller has read it) a template database.
 */
export function refuseSystemDatabase(database: string, doing: 'reset' | 'migrate', isTemplate = false): void {
  if (SYSTEM_DATABASES.includes(database)) {
    // Each command's wording as it has always been.
    throw new RefusedTargetError(doing === 'reset' ? `refusing to reset the system database "${database}"`
      : `refusing to migrate "${database}": it is a system database`, POINT_ELSEWHERE);
  }
  if (isTemplate) throw new RefusedTargetError(`refusing to ${doing} "${database}": it is a template database`, POINT_ELSEWHERE);
}

/** Whether the connecting role may create databases (a managed server's usually may not). */
export async function mayCreateDatabases(client: Client): Promise<boolean> {
  return (await client.query('SELECT rolcreatedb OR rolsuper AS may FROM pg_roles WHERE rolname = current_user')).rows[0].may;
}

export interface DatabaseInfo {
  owner: string;
  isTemplate: boolean;
}

export async function readDatabaseInfo(client: Client, database: string): Promise<DatabaseInfo | undefined> {
  const { rows } = await client.query(
    'SELECT pg_get_userbyid(datdba) AS owner, datistemplate AS "isTemplate" FROM pg_database WHERE datname = $1',
    [database],
  );
  return rows[0];
}

export async function currentUser(client: Client): Promise<string> {
  const { rows } = await client.query('SELECT current_user AS name');
  return rows[0].name;
}

/** Drops the database, ending every other session on it first (PostgreSQL 13+); waits as retrying() does for one still leaving. */
export async function dropDatabase(client: Client, database: string, boundMs?: number): Promise<void> {
  await retrying(() => client.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`), databaseBusy, boundMs);
}

/** Creates an empty database from template0, so nothing from template1 leaks into the baseline. */
export async function createDatabase(client: Client, database: string, owner?: string): Promise<void> {
  const ownerClause = owner ? ` OWNER ${escapeIdentifier(owner)}` : '';
  await client.query(`CREATE DATABASE ${escapeIdentifier(database)} TEMPLATE template0${ownerClause}`);
}

// The one retry policy of every drop and rename: a session just ended leaves within
// milliseconds, so the first wait is short; the waits grow, so a slow server is not hammered,
// and all of them together stay within a bound of the order of the lock timeout.
export const RETRY_FIRST_WAIT_MS = 50;
export const RETRY_LONGEST_WAIT_MS = 1000;
export const RETRY_BOUND_MS = DEFAULT_LOCK_TIMEOUT_MS;

/**
 * `work`, tried again while it fails as `transient` says: after 50 ms, then twice as long each
 * time (at most 1 s), until the next wait would end past `boundMs` from the start; then the
 * last error is thrown.
 */
export async function retrying<T>(work: () => Promise<T>, transient: (err: { code?: string; message?: string }) => boolean,
  boundMs = RETRY_BOUND_MS): Promise<T> {
  const started = Date.now();
  for (let wait = RETRY_FIRST_WAIT_MS; ; wait = Math.min(wait * 2, RETRY_LONGEST_WAIT_MS)) {
    try {
      return await work();
    } catch (err) {
      if (!transient(err as { code?: string }) || Date.now() - started + wait > boundMs) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** 55006: a session that was just terminated may take a moment to leave the database. */
export const databaseInUse = (err: { code?: string }) => err.code === '55006';

/**
 * What a DROP or RENAME of a database may meet for a moment: a session still leaving it (55006
 * "being accessed by other users"; not a slot, subscription or prepared transaction, which
 * stay), or a TimescaleDB scheduler this role may not end (42501; the statement stops it on
 * its way and changes nothing when it fails).
 */
export const databaseBusy = (err: { code?: string; message?: string }) =>
  (err.code === '55006' && /being accessed by other users/.test(err.message ?? ''))
  || (err.code === '42501' && /role whose process is being terminated/.test(err.message ?? ''));

/** Renames the database, waiting as retrying() does for a session that was just terminated to leave it. */
export async function renameDatabase(client: Client, from: string, to: string, boundMs?: number): Promise<void> {
  await retrying(() => client.query(`ALTER DATABASE ${escapeIdentifier(from)} RENAME TO ${escapeIdentifier(to)}`), databaseBusy, boundMs);
}

/**
 * Closes `database` to new sessions and ends the ones in it, before it is renamed or copied.
 * Only a superuser may end TimescaleDB's scheduler; for others a rename's own hook stops it.
 */
export async function closeDatabase(client: Client, database: string): Promise<void> {
  await client.query(`ALTER DATABASE ${escapeIdentifier(database)} ALLOW_CONNECTIONS false`);
  await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])
    .catch(() => undefined);
}
