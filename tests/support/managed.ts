// A database as a managed TimescaleDB (Timescale Cloud) hands it out: owned by a LOGIN role
// that is neither superuser nor CREATEDB, with timescaledb and pg_stat_statements already
// created in it by the platform's superuser. (pg_stat_statements needs
// shared_preload_libraries only to collect; CREATE EXTENSION works without.)
import { Client, escapeIdentifier } from 'pg';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { settingsOf } from './testDatabase';

export const PLATFORM_EXTENSIONS = ['pg_stat_statements', 'timescaledb'];

/** Creates `database` owned by `owner` on the server of `adminUrl` (a superuser's), with the platform's extensions. */
export async function createPlatformDatabase(adminUrl: string, database: string, owner: string): Promise<void> {
  await withMaintenanceClient(settingsOf(adminUrl), (c) => c.query(`CREATE DATABASE ${escapeIdentifier(database)} OWNER ${escapeIdentifier(owner)}`));
  const c = new Client({ connectionString: urlForDatabase(adminUrl, database) });
  await c.connect();
  try {
    for (const e of PLATFORM_EXTENSIONS) await c.query(`CREATE EXTENSION ${escapeIdentifier(e)}`);
  } finally {
    await c.end();
  }
}

/** What an in-place reset must keep: the database's oid, owner and grants, and each extension with its owner and version. */
export async function keptIdentity(c: Client, database: string): Promise<Record<string, unknown>> {
  const { rows: [db] } = await c.query(`SELECT oid::int, pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = $1`, [database]);
  const { rows: extensions } = await c.query('SELECT extname, pg_get_userbyid(extowner) AS owner, extversion FROM pg_extension ORDER BY 1');
  return { ...db, extensions };
}

/** Rows of a few tables and a session holding a lock on them: what an in-place reset has to get past. */
export async function fillWithData(c: Client): Promise<void> {
  await c.query("INSERT INTO tickers (symbol) SELECT 'T' || i FROM generate_series(1, 20) i");
  await c.query(`INSERT INTO ohlcv (ticker_id, date, close)
    SELECT t.id, d, 1 FROM tickers t, generate_series('2019-01-01'::date, '2024-12-31', '7 days') d`);
}
