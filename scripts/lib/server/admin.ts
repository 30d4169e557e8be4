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

/** Renames the database; a session that was just terminated may take a moment to leave it. */
export async function renameDatabase(client: Client, from: string, to: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await client.query(`ALTER DATABASE ${escapeIdentifier(from)} RENAME TO ${escapeIdentifier(to)}`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || tries >= 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
