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

export interface ServerFacts {
  /** The timescaledb extension is installed on the server. */
  timescaleAvailable: boolean;
  /** shared_preload_libraries names timescaledb; undefined when this role may not read it. */
  timescalePreloaded?: boolean;
  /** The connecting role may create databases. */
  canCreateDatabase: boolean;
  /** The connecting role may act as `owner` (drop its database, give it a new one). */
  canActAsOwner: boolean;
}

/** What a reset needs from the server, read before anything is dropped. */
export async function serverFacts(client: Client, owner: string): Promise<ServerFacts> {
  const { rows: [r] } = await client.query(`SELECT
      EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
      (SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user) AS createdb,
      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(current_user, $1, 'MEMBER') AS owner,
      pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') AS readable`,
  [owner]);
  let preloaded: boolean | undefined;
  if (r.readable) {
    const { rows: [s] } = await client.query("SELECT current_setting('shared_preload_libraries') AS libs");
    preloaded = String(s.libs).split(',').map((l) => l.trim().replace(/^"|"$/g, '')).includes('timescaledb');
  }
  return { timescaleAvailable: r.available, timescalePreloaded: preloaded, canCreateDatabase: r.createdb, canActAsOwner: r.owner };
}
