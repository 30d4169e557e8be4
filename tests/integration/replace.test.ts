// What replaces or empties a database, beside the reset command's own tests (reset.test.ts):
// one lock for all of it, keyed by the database; the swap's last check of the target; the
// production guard of rollback --all; the pipeline's safety invariants. In-process, side by side (each on databases of its own), and fast.
import { escapeIdentifier } from 'pg';
import { MigrationFiles } from '../../db/migrationSource';
import { ContractMismatchError, LockTimeoutError, ProductionGuardError, ReadOnlyTargetError, TargetInUseError } from '../../scripts/lib/cli/errors';
import { connect, withMaintenanceClient } from '../../scripts/lib/server/connection';
import { verify } from '../../scripts/lib/schema/verify';
import { buildPrefix, replaceDatabase, replaceLockPlace, withReplaceLock } from '../../scripts/lib/replace/replace';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { dbRollback } from '../../scripts/rollback';
import { reset } from '../../scripts/reset';
import { contractTables } from '../support/expected';
import { databaseAttributes, databasesLike, publicTables } from '../support/schema';
import { admin, createMigratedDatabase, createTestDatabase, dropMadeDatabases, testSettings, uniqueName, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

// Jest refuses a module's first require "between tests", which, with tests running side by side,
// is whenever one of them has just ended: what they load on first use (the migration files,
// which verify reads) is loaded before they start.
beforeAll(() => new MigrationFiles().baselines({ squashed: true }));

/** A migrated database holding the row 'KEEP', with settings that wait at most `lockTimeoutMs` for a lock (default 15 s). */
async function kept(label: string, lockTimeoutMs?: number): Promise<Settings> {
  const db = await createMigratedDatabase(label);
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  return loadSettings({ env: 'test', databaseUrl: db.url, lockTimeoutMs });
}

const symbols = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers')).rows.map((r) => r.symbol));

/** Runs `work` while this process holds the reset lock of `db` on a session of its own, as another run would. */
const whileHeld = async <T>(db: Settings, work: () => Promise<T>): Promise<T> => withReplaceLock(db, await replaceLockPlace(db), work);

test.concurrent('rollback --all in production without --force is refused (exit 7), nothing reverted', async () => {
  const db = await kept('_rbprod');
  const production = loadSettings({ env: 'production', databaseUrl: db.url });
  await expect(dbRollback(production, { all: true })).rejects.toBeInstanceOf(ProductionGuardError);
  expect(await symbols(db)).toEqual(['KEEP']);
  await withDatabase(db, async (c) => expect((await publicTables(c)).sort()).toEqual(contractTables()));
});

test.concurrent('reset --in-place and rollback --all wait for the reset lock another run holds, at most --lock-timeout (exit 14), changing nothing', async () => {
  const db = await kept('_onelock', 300);
  await whileHeld(db, async () => {
    await expect(reset(db, { inPlace: true })).rejects.toMatchObject({ constructor: LockTimeoutError, message: expect.stringMatching(/the reset lock of .* is held by session \d+/) });
    await expect(dbRollback(db, { all: true })).rejects.toMatchObject({ constructor: LockTimeoutError, message: expect.stringMatching(/the reset lock of/) });
  });
  expect(await symbols(db)).toEqual(['KEEP']);
});

test.concurrent('the reset lock is keyed by the database: with another database\'s held, a replacement runs at once', async () => {
  const held = testSettings(uniqueName('_held')); // the lock is keyed by the name: the database need not exist
  const free = loadSettings({ env: 'test', databaseUrl: (await createTestDatabase('_free')).url, lockTimeoutMs: 2000 });
  await withDatabase(free, (c) => c.query('CREATE TABLE marker (x int)'));
  // The pipeline with nothing to build: it would give up with exit 14 if the lock were not the database's own.
  await whileHeld(held, () => replaceDatabase(free, { plan: [], build: async () => undefined }));
  await withDatabase(free, async (c) => expect(await publicTables(c)).toEqual([]));
});

/** A subscription that connects nowhere: what a logical replica's database holds. */
const SUBSCRIPTION = (name: string) => `CREATE SUBSCRIPTION ${escapeIdentifier(name)} CONNECTION 'host=127.0.0.1 dbname=none'
  PUBLICATION none WITH (connect = false, enabled = false, slot_name = NONE, create_slot = false)`;

test.concurrent('a subscription made on the target while the replacement was built is found by the swap: exit 16, the target and the subscription kept', async () => {
  const db = await kept('_latesub');
  const subscription = `kapman_sub_${db.database.slice(-8)}`;
  const replaced = replaceDatabase(db, {
    plan: [],
    build: async () => void await withDatabase(db, (c) => c.query(SUBSCRIPTION(subscription))),
  });
  try {
    await expect(replaced).rejects.toMatchObject({ constructor: TargetInUseError, message: expect.stringContaining(`the target has subscriptions (${subscription})`) });
    expect(await symbols(db)).toEqual(['KEEP']);
    expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
  } finally {
    await withDatabase(db, (c) => c.query(`DROP SUBSCRIPTION IF EXISTS ${escapeIdentifier(subscription)}`));
  }
});

test.concurrent('the preflight finds a prepared transaction on the target before anything is built (exit 16), also in a dry run; the target and the transaction kept', async () => {
  const db = await kept('_prepared');
  const allowed = await admin(async (c) => (await c.query("SELECT current_setting('max_prepared_transactions')::int AS n")).rows[0].n as number);
  // The harness starts its own servers with prepared transactions allowed; a server of the user's
  // (TEST_DATABASE_URL, the compose server) may allow none, and then none can be there: a
  // subscription, which the same check refuses, stands in for it (e2e/server.test.ts makes a
  // prepared transaction on a server of its own).
  const name = `kapman_px_${db.database.slice(-8)}`; // prepared transactions and subscriptions are the server's: a name of this test's own
  const dependent = allowed > 0
    ? { what: /1 prepared transaction/, make: `BEGIN; INSERT INTO tickers (symbol) VALUES ('PREPARED'); PREPARE TRANSACTION '${name}'`, drop: `ROLLBACK PREPARED '${name}'` }
    : { what: new RegExp(`subscriptions \\(${name}\\)`), make: SUBSCRIPTION(name), drop: `DROP SUBSCRIPTION ${escapeIdentifier(name)}` };
  if (allowed === 0) process.stderr.write('replace.test: the server allows no prepared transaction (max_prepared_transactions = 0): the preflight is shown a subscription instead\n');
  await withDatabase(db, (c) => c.query(dependent.make));
  try {
    let built = false;
    for (const dryRun of [true, false]) {
      const replaced = replaceDatabase(db, { dryRun, plan: [], build: async () => { built = true; } });
      await expect(replaced).rejects.toMatchObject({ constructor: TargetInUseError, exitCode: 16, message: expect.stringMatching(dependent.what) });
    }
    expect(built).toBe(false);
    expect(await symbols(db)).toEqual(['KEEP']);
    expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
  } finally {
    await withDatabase(db, (c) => c.query(dependent.drop));
  }
});

test.concurrent('a target marked read-only (default_transaction_read_only on the database) is refused before anything is built (exit 15), also in a dry run', async () => {
  const db = await kept('_readonly');
  await admin((c) => c.query(`ALTER DATABASE ${escapeIdentifier(db.database)} SET default_transaction_read_only = on`));
  let built = false;
  for (const dryRun of [true, false]) {
    const replaced = replaceDatabase(db, { dryRun, plan: [], build: async () => { built = true; } });
    await expect(replaced).rejects.toMatchObject({ constructor: ReadOnlyTargetError, exitCode: 15 });
  }
  expect(built).toBe(false);
  expect(await symbols(db)).toEqual(['KEEP']);
});

// The reset pipeline's safety invariants, each also held end to end in tests/e2e; here in process and fast.

test.concurrent('nothing is dropped unless the build verifies: a build that fails its check leaves the target and removes itself', async () => {
  const db = await kept('_verifyfirst');
  const replaced = replaceDatabase(db, {
    plan: [],
    build: async (beside) => {
      const report = await verify(beside, { empty: true }); // an empty database: every table missing
      if (!report.ok) throw new ContractMismatchError(`${beside.database} differs from the contract`);
    },
  });
  await expect(replaced).rejects.toBeInstanceOf(ContractMismatchError);
  expect(await symbols(db)).toEqual(['KEEP']);
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
});

test.concurrent('a target left closed to connections (as a swap stopped part-way leaves it) is open again once replaced', async () => {
  const db = await kept('_closed');
  const allowsConnections = () => admin(async (c) => (await c.query('SELECT datallowconn FROM pg_database WHERE datname = $1', [db.database])).rows[0]?.datallowconn);
  await admin((c) => c.query(`ALTER DATABASE ${escapeIdentifier(db.database)} ALLOW_CONNECTIONS false`));
  expect(await allowsConnections()).toBe(false);
  await replaceDatabase(db, { plan: [], build: async () => undefined });
  expect(await allowsConnections()).toBe(true);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual([]));
});

test.concurrent('the replacement takes the target\'s identity: owner, connection limit, grants, comment and settings', async () => {
  const db = await createTestDatabase('_identity');
  const q = escapeIdentifier(db.database);
  await admin(async (c) => {
    await c.query(`ALTER DATABASE ${q} CONNECTION LIMIT 7`);
    await c.query(`REVOKE TEMPORARY ON DATABASE ${q} FROM PUBLIC`);
    await c.query(`COMMENT ON DATABASE ${q} IS 'the ''kept'' one'`);
    await c.query(`ALTER DATABASE ${q} SET work_mem = '3MB'`);
  });
  const before = await admin((c) => databaseAttributes(c, db.database));
  await replaceDatabase(db, { plan: [], build: async () => undefined });
  expect(await admin((c) => databaseAttributes(c, db.database))).toEqual(before);
});

test.concurrent("every session of the tools sets its own timeouts and search_path, whatever the database's defaults", async () => {
  const db = await createTestDatabase('_session');
  await admin((c) => c.query(`ALTER DATABASE ${escapeIdentifier(db.database)} SET statement_timeout = '50ms'; ALTER DATABASE ${escapeIdentifier(db.database)} SET search_path = elsewhere`));
  const settings = loadSettings({ env: 'test', databaseUrl: db.url, lockTimeoutMs: 4000 });
  const c = await connect(settings, { lockTimeoutMs: settings.lockTimeoutMs });
  try {
    const { rows: [r] } = await c.query(`SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt,
      current_setting('idle_in_transaction_session_timeout') AS it, current_setting('search_path') AS sp, pg_sleep(0.2)`);
    expect(r).toMatchObject({ st: '0', lt: '4s', it: '0', sp: 'public' });
  } finally {
    await c.end();
  }
});

test.concurrent('the admin session (CREATE, DROP, RENAME DATABASE, on a maintenance database) waits --lock-timeout as every session does', async () => {
  const db = await createTestDatabase('_admin');
  const settings = loadSettings({ env: 'test', databaseUrl: db.url, lockTimeoutMs: 3000 });
  const lockTimeout = (c: { query(sql: string): Promise<{ rows: Array<{ lt: string }> }> }) =>
    c.query("SELECT current_setting('lock_timeout') AS lt").then((r) => r.rows[0].lt);
  expect(await withMaintenanceClient(settings, lockTimeout)).toBe('3s');
  const held = await replaceLockPlace(settings); // where the reset lock's session stands
  expect(held.lockTimeoutMs).toBe(3000);
  const c = await connect(held);
  try {
    expect(await lockTimeout(c)).toBe('3s');
  } finally {
    await c.end();
  }
});
