// In tests/e2e (npm run test:e2e): several full resets per test (databases full of data, twice in a row with pg_dump comparisons) and TimescaleDB's scheduler.
// db:reset drops and recreates exactly one database, keeps its owner, and touches nothing else:
// with data, sessions and TimescaleDB's scheduler attached; repeatably; under any name.
// (The everyday suite's resets are in integration/reset.test.ts.)
import crypto from 'crypto';
import { TABLE_NAMES } from '../../db/contract';
import { Client, escapeIdentifier } from 'pg';
import { withMaintenanceClient, connect } from '../../scripts/lib/server/connection';
import { reset } from '../../scripts/reset';
import { verify } from '../../scripts/lib/schema/verify';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { databasesSnapshot, publicTables, rolesSnapshot, schemaDump, settingsSnapshot } from '../support/schema';
import { freeWorkerSlots } from '../support/workers';
import { admin, createTestDatabase, dropMadeDatabases, remember, runPrefix, serverSettings, serverUrl, testSettings, withDatabase } from '../support/testDatabase';

const roles: string[] = [];
afterAll(async () => {
  await dropMadeDatabases();
  await withMaintenanceClient(serverSettings(), async (c) => {
    for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(r)}`);
  });
});


async function fillWithData(c: Client): Promise<void> {
  await c.query("INSERT INTO tickers (symbol, name) SELECT 'T' || g, 'Ticker ' || g FROM generate_series(1, 50) g");
  await c.query(`INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume)
    SELECT t.id, d::date, 1, 2, 0.5, 1.5, 1000 FROM tickers t, generate_series('2024-01-01'::date, '2024-03-01', '1 day') d`);
  await c.query('CREATE TABLE public.stray (x int)'); // drift that reset must also remove
}

test('a database full of data, with sessions attached, comes back empty and exactly the baseline; owner, roles, other databases and settings unchanged', async () => {
  const ownerRole = `${runPrefix()}owner_${crypto.randomBytes(3).toString('hex')}`;
  roles.push(ownerRole);
  await admin((c) => c.query(`CREATE ROLE ${escapeIdentifier(ownerRole)} NOLOGIN`));
  // Migrated, not copied from the run's template: TimescaleDB starts its scheduler for a database on CREATE EXTENSION only.
  const db = await createTestDatabase();
  await migrateLatest(db);
  await admin((c) => c.query(`ALTER DATABASE ${escapeIdentifier(db.database)} OWNER TO ${escapeIdentifier(ownerRole)}`));
  await withDatabase(db, fillWithData);

  // Sessions on the target: idle, idle in a transaction, and one running a long query.
  const idle = await connect(db);
  const inTransaction = await connect(db);
  await inTransaction.query('BEGIN');
  await inTransaction.query('SELECT count(*) FROM ohlcv');
  const busy = await connect(db);
  const longQuery = busy.query('SELECT pg_sleep(60)').catch((e: Error) => e);

  // TimescaleDB's scheduler attaches to a database with the extension when the server has a
  // background worker slot free: waited for only then. On a shared server whose slots other
  // databases hold, it cannot come, and the wait is skipped, saying so; what it stands for (a
  // session the reset did not open, attached to the target) is the three sessions above, which
  // the reset must end all the same.
  const scheduler = () => admin(async (c) => (await c.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type LIKE 'TimescaleDB%'", [db.database])).rows[0].n);
  if ((await scheduler()) === 0 && (await admin(freeWorkerSlots)).free > 0) {
    // A slot freed since CREATE EXTENSION: ask the launcher now rather than at its next poll (a minute).
    await withDatabase(db, (c) => c.query('SELECT _timescaledb_functions.start_background_workers()'));
    // The launcher starts it within a second on a quiet machine; on a busy one, give it 30 s.
    for (const until = Date.now() + 30_000; Date.now() < until && (await scheduler()) === 0;) await new Promise((r) => setTimeout(r, 100));
  }
  if ((await scheduler()) === 0) {
    // Only a server without a free slot (now) excuses its absence.
    const slots = await admin(freeWorkerSlots);
    expect(slots.free > 0 ? `no scheduler, although ${slots.reason}` : 'no free slot').toBe('no free slot');
    process.stderr.write(`resetData.test: no TimescaleDB scheduler on the target: the server has no free background worker slot (${slots.reason}); reset with client sessions only\n`);
  } else {
    expect(await scheduler()).toBeGreaterThan(0);
  }

  const before = await admin(async (c) => ({
    roles: await rolesSnapshot(c, [ownerRole]), databases: await databasesSnapshot(c, db.database), settings: await settingsSnapshot(c),
  }));

  const result = await reset(db);

  expect(result.owner).toBe(ownerRole);
  expect(await longQuery).toBeInstanceOf(Error); // its session was ended by the drop
  for (const c of [idle, inTransaction, busy]) await c.end().catch(() => undefined);

  const after = await admin(async (c) => ({
    roles: await rolesSnapshot(c, [ownerRole]), databases: await databasesSnapshot(c, db.database), settings: await settingsSnapshot(c),
  }));
  expect(after).toEqual(before);
  const owner = await admin(async (c) => (await c.query('SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1', [db.database])).rows[0].o);
  expect(owner).toBe(ownerRole);

  await withDatabase(db, async (c) => {
    expect(await publicTables(c)).toEqual([...TABLE_NAMES].sort());
    const { rows } = await c.query('SELECT (SELECT count(*) FROM tickers)::int AS t, (SELECT count(*) FROM ohlcv)::int AS o');
    expect(rows[0]).toEqual({ t: 0, o: 0 });
  });
  expect((await verify(db, { empty: true })).ok).toBe(true);
});

test('two resets in a row give byte-identical schema dumps', async () => {
  const db = await createTestDatabase();
  await reset(db);
  const first = schemaDump(db);
  await reset(db);
  expect(schemaDump(db)).toEqual(first);
});

test('a name with capitals, spaces, quotes, a semicolon and non-ASCII letters resets correctly and nothing else is touched', async () => {
  // Both names start with the run's prefix, so that other test files' snapshots leave them out (63 bytes at most).
  const decoy = remember(`${runPrefix()}d${crypto.randomBytes(2).toString('hex')}`);
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(decoy)}`));
  const name = remember(`${runPrefix()}Kä "m"; DROP DATABASE ${decoy};`);
  const before = await admin((c) => databasesSnapshot(c, name, [decoy]));
  const db = testSettings(name);
  await reset(db);
  await reset(db);
  expect(await admin((c) => databasesSnapshot(c, name, [decoy]))).toEqual(before);
  expect(before).toContainEqual(expect.objectContaining({ datname: decoy }));
  expect((await verify(db, { empty: true })).ok).toBe(true);
});
