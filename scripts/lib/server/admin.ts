// Admin SQL, run from a maintenance database. Every identifier is quoted by pg's escapeIdentifier.
import { Client, escapeIdentifier } from 'pg';

// Never a reset target: dropping these breaks the server for everyone.
export const SYSTEM_DATABASES = ['postgres', 'template0', 'template1'];

export interface DatabaseInfo {
  owner: string;
  isTemplate: boolean;
}

export async function databaseInfo(client: Client, database: string): Promise<DatabaseInfo | undefined> {
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

/** Drops the database, ending every other session on it first (PostgreSQL 13+). */
export async function dropDatabase(client: Client, database: string): Promise<void> {
  await client.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`);
}

/** Creates an empty database from template0, so nothing from template1 leaks into the baseline. */
export async function createDatabase(client: Client, database: string, owner?: string): Promise<void> {
  const ownerClause = owner ? ` OWNER ${escapeIdentifier(owner)}` : '';
  await client.query(`CREATE DATABASE ${escapeIdentifier(database)} TEMPLATE template0${ownerClause}`);
}

/** `work`, tried again `waitMs` later while it fails as `transient` says, `tries` times at most. */
export async function retrying<T>(work: () => Promise<T>, transient: (err: { code?: string; message?: string }) => boolean, tries: number, waitMs: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= tries || !transient(err as { code?: string })) throw err;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** 55006: a session that was just terminated may take a moment to leave the database. */
export const databaseInUse = (err: { code?: string }) => err.code === '55006';

/** Renames the database, waiting for a session that was just terminated to leave it. */
export async function renameDatabase(client: Client, from: string, to: string): Promise<void> {
  await retrying(() => client.query(`ALTER DATABASE ${escapeIdentifier(from)} RENAME TO ${escapeIdentifier(to)}`), databaseInUse, 101, 50);
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
