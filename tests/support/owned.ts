// A database as users have one: owned by a LOGIN role of its own, at the baseline, holding a row.
import { Client, escapeIdentifier } from 'pg';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { reset } from '../../scripts/reset';
import { createTestRole, remember, serverSettings, serverUrl, uniqueName, urlAs, withDatabase } from './testDatabase';

/** A database owned by a fresh LOGIN CREATEDB role, reset by it, with the row 'KEEP' to lose; settings connect as that role. */
export async function ownedDatabase(label: string): Promise<{ db: Settings; role: { name: string; password: string } }> {
  const role = await createTestRole(label, 'CREATEDB');
  const name = remember(uniqueName(label));
  await withMaintenanceClient(serverSettings(), (c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)}`));
  const db = loadSettings({ env: 'test', databaseUrl: urlAs(role, name) });
  await reset(db);
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  return { db, role };
}

/** The tickers' symbols, sorted: what a reset must keep or empty. */
export const symbols = (db: Settings) =>
  withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers ORDER BY 1')).rows.map((r) => r.symbol as string));

/** A session of some other program, as the server sees it. */
export async function plainClient(url: string, application: string): Promise<Client> {
  const c = new Client({ connectionString: url, application_name: application });
  await c.connect();
  return c;
}
