// db:reset drops and recreates exactly one database, keeps its owner, and touches nothing else.
// (Resets of databases full of data, repeated, and under odd names: e2e/resetData.test.ts.)
import fs from 'fs';
import { readBackup } from '../../scripts/lib/backup/metadata';
import { ContractMismatchError, ProductionGuardError, RefusedTargetError } from '../../scripts/lib/cli/errors';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { loadSettings, Settings, urlForDatabase } from '../../scripts/lib/server/settings';
import { reset } from '../../scripts/reset';
import { migrationFiles } from '../support/expected';
import { migrationOf, migrationsFolder, releasedMigrations } from '../support/migrations';
import { databasesLike, databasesSnapshot, schemaDump } from '../support/schema';
import { admin, createMigratedDatabase, dropMadeDatabases, remember, serverUrl, testSettings, uniqueName, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);


test('a database that does not exist is created, owned by the connecting role', async () => {
  const db = testSettings(remember(uniqueName('_new')));
  const result = await reset(db);
  const me = new URL(serverUrl()).username;
  expect(result.owner).toBe(me);
  expect(result.applied).toEqual(migrationFiles());
});

test.each(['postgres', 'template0', 'template1'])('refuses the system database %s', async (name) => {
  const before = await admin((c) => databasesSnapshot(c, ''));
  await expect(reset(testSettings(name))).rejects.toBeInstanceOf(RefusedTargetError);
  expect(await admin((c) => databasesSnapshot(c, ''))).toEqual(before);
});

test('refuses the production environment without --force, and says how to override; with it, backs the target up first', async () => {
  const db = await createMigratedDatabase('_prod');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const production = loadSettings({ env: 'production', databaseUrl: urlForDatabase(serverUrl(), db.database) });
  const refusal = reset(production);
  await expect(refusal).rejects.toBeInstanceOf(ProductionGuardError);
  await expect(refusal).rejects.toMatchObject({ hint: expect.stringContaining('--force') });
  await withDatabase(db, async (c) => expect((await c.query('SELECT symbol FROM tickers')).rows).toEqual([{ symbol: 'KEEP' }]));
  // Forced, it backs the target up first (into the project's backups/), and that backup holds the row it then drops.
  const forced = await reset(production, { force: true });
  try {
    expect(forced.backup).toBeDefined();
    expect((await readBackup(forced.backup!)).rowCounts.tickers).toBe(1);
  } finally {
    for (const f of forced.backup ? [forced.backup, `${forced.backup}.json`] : []) fs.rmSync(f, { force: true });
  }
  await withDatabase(db, async (c) => expect((await c.query('SELECT count(*)::int AS n FROM tickers')).rows[0].n).toBe(0));
});

test('migrations that do not build the contract: refused (exit 27) on the build, before the swap; the target as it was, the build removed', async () => {
  const db = await createMigratedDatabase('_contract');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const directory = migrationsFolder({ ...releasedMigrations(), '9001_stray.ts': migrationOf(['CREATE TABLE stray (x int)']) });
  const refused = reset(db, { migrationsDirectory: directory });
  await expect(refused).rejects.toBeInstanceOf(ContractMismatchError);
  await expect(refused).rejects.toMatchObject({ exitCode: 27 });
  await withDatabase(db, async (c) => expect((await c.query('SELECT symbol FROM tickers')).rows).toEqual([{ symbol: 'KEEP' }]));
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
});

test('--dry-run changes nothing', async () => {
  const db = await createMigratedDatabase('_dry');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const before = schemaDump(db);
  const result = await reset(db, { dryRun: true });
  expect(result.applied).toEqual([]);
  expect(schemaDump(db)).toEqual(before);
  await withDatabase(db, async (c) => expect((await c.query('SELECT symbol FROM tickers')).rows).toEqual([{ symbol: 'KEEP' }]));
});

test('a reset, beside or in place, keeps the rows the migrations insert, and in place leaves nothing of another schema', async () => {
  const directory = migrationsFolder({ ...releasedMigrations(),
    '9999_seed_index_funds.ts': migrationOf(["INSERT INTO tickers (symbol) VALUES ('SPY'), ('QQQ'), ('IWM')"]) });
  const symbols = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers ORDER BY 1')).rows.map((r) => r.symbol));
  const db = await createMigratedDatabase('_seeded');
  await withDatabase(db, async (c) => {
    await c.query("INSERT INTO tickers (symbol) VALUES ('OLD')");
    await c.query('CREATE SCHEMA scratch_work');
    await c.query('CREATE TABLE scratch_work.notes (n text)');
    await c.query("INSERT INTO scratch_work.notes VALUES ('left behind?')");
  });
  await reset(db, { inPlace: true, migrationsDirectory: directory });
  expect(await symbols(db)).toEqual(['IWM', 'QQQ', 'SPY']);
  expect(await withDatabase(db, async (c) => (await c.query("SELECT to_regnamespace('scratch_work') AS s")).rows[0].s)).toBeNull();
  await reset(db, { migrationsDirectory: directory });
  expect(await symbols(db)).toEqual(['IWM', 'QQQ', 'SPY']);
});
