// A rehearsal runs migrations where nothing is lost and hands back what each sent; on the target
// only when asked by name, in a transaction rolled back, which commits nothing. (From an empty
// database, named migrations, a role that may not create a database, on a throwaway local server:
// e2e/rehearsal.test.ts and e2e/dryRunTarget.test.ts.)
import { MigrationFailedError } from '../../scripts/lib/cli/errors';
import { inlineBindings, rehearse } from '../../scripts/lib/migrations/rehearse';
import { status } from '../../scripts/status';
import { escapeIdentifier } from 'pg';
import { loadSettings } from '../../scripts/lib/server/settings';
import { migrationsFolder, releasedMigrations } from '../support/migrations';
import { publicTables, schemaDump } from '../support/schema';
import { admin, createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, template, uniqueName, urlAs, withDatabase } from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});


// A pending migration with a bound value, a quote in it, and a `$1` that is text, not a placeholder.
const ADDS_A_TICKER = `
export async function up(knex: any) {
  await knex.schema.alterTable('tickers', (t: any) => { t.string('probe_exchange', 10); });
  await knex('tickers').insert({ symbol: "O'X", probe_exchange: 'NYSE', is_active: false });
  await knex.raw("COMMENT ON COLUMN tickers.probe_exchange IS 'costs $1'");
}
export async function down(knex: any) { await knex.schema.alterTable('tickers', (t: any) => { t.dropColumn('probe_exchange'); }); }
`;

test('a migrated database: only the pending migration, its bound values inlined, the target unchanged', async () => {
  const db = await createMigratedDatabase('_rh_pending');
  const directory = migrationsFolder({ ...releasedMigrations(), '9001_adds_a_ticker.ts': ADDS_A_TICKER });
  const before = schemaDump(db);
  const r = await rehearse(db, { directory, builtFrom: template().name });
  expect(r.migrations.map((m) => m.file)).toEqual(['9001_adds_a_ticker.ts']);
  const [alter, insert, comment] = r.migrations[0].statements;
  expect(alter).toBe('alter table "tickers" add column "probe_exchange" varchar(10)');
  expect(insert).toBe(`insert into "tickers" ("is_active", "probe_exchange", "symbol") values (false, 'NYSE', 'O''X')`);
  expect(comment).toBe("COMMENT ON COLUMN tickers.probe_exchange IS 'costs $1'");
  expect(r.before.tables.map((t) => t.name)).toContain('tickers');
  expect(r.after!.tables.find((t) => t.name === 'tickers')!.columns.map((c) => c.name)).toContain('probe_exchange');
  expect(schemaDump(db)).toEqual(before);
  expect((await status(db, { migrationsDirectory: directory })).migrations.filter((m) => m.state === 'pending').map((m) => m.name)).toEqual(['9001_adds_a_ticker.ts']);
});

test('a migration that fails: its statements up to the failing one, and the error a real run gives', async () => {
  const db = await createMigratedDatabase('_rh_fails');
  const directory = migrationsFolder({
    ...releasedMigrations(),
    '9001_fails.ts': `export async function up(knex: any) {
      await knex.raw('CREATE TABLE fine (x int)');
      await knex.raw('CREATE UNIQUE INDEX ohlcv_close ON ohlcv (close)');
      await knex.raw('CREATE TABLE never (x int)');
    }
    export async function down() {}`,
  });
  const r = await rehearse(db, { directory, builtFrom: template().name });
  expect(r.failure?.file).toBe('9001_fails.ts');
  expect(r.failure?.error).toBeInstanceOf(MigrationFailedError);
  expect(r.failure?.error.message).toMatch(/used in partitioning/);
  expect(r.migrations.map((m) => ({ file: m.file, statements: m.statements }))).toEqual([{ file: '9001_fails.ts', statements: ['CREATE TABLE fine (x int)', 'CREATE UNIQUE INDEX ohlcv_close ON ohlcv (close)'] }]);
  expect(r.failure?.at).toEqual(['CREATE UNIQUE INDEX ohlcv_close ON ohlcv (close)']);
  expect(r.after).toBeUndefined();
});

test('inlining: placeholders become literals; quoted text, names, comments and dollar-quoted bodies are left as written', () => {
  expect(inlineBindings('select $1, $2, $10', [1, null, 'x'])).toBe("select 1, NULL, $10");
  expect(inlineBindings(`select '$1', "$1", $$ $1 $$, $f$ $1 $f$ -- $1\n, $1`, ["it's"])).toBe(`select '$1', "$1", $$ $1 $$, $f$ $1 $f$ -- $1\n, 'it''s'`);
  expect(inlineBindings('select $1, $2', [true, new Date('2025-01-02T03:04:05Z')])).toMatch(/^select true, '2025-01-0\d/);
  expect(inlineBindings('select $1', [['a', 'b']])).toBe(`select '{"a","b"}'`);
});

test('asked by name (--rehearse-on-target), as a role that may not create databases: the rehearsal runs on the target in a transaction rolled back, and commits nothing', async () => {
  const role = await createTestRole('rh_nocreate');
  const name = remember(uniqueName('_rh_nocreate'));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)} TEMPLATE template0`));
  const db = loadSettings({ env: 'test', databaseUrl: urlAs(role, name) });
  const directory = migrationsFolder({ '0001_rehearsed.ts': `
export async function up(knex: any) {
  await knex.raw('CREATE TABLE rehearsed (id bigserial PRIMARY KEY, x int)');
  await knex('rehearsed').insert({ x: 1 });
}
export async function down(knex: any) { await knex.raw('DROP TABLE rehearsed'); }
` });
  const r = await rehearse(db, { directory, onTarget: true });
  expect(r.where).toBe('the target, in a transaction rolled back');
  expect(r.migrations.map((m) => ({ file: m.file, statements: m.statements }))).toEqual([{ file: '0001_rehearsed.ts', statements: ['CREATE TABLE rehearsed (id bigserial PRIMARY KEY, x int)', 'insert into "rehearsed" ("x") values (1)'] }]);
  expect(r.after!.tables.map((t) => t.name)).toEqual(['rehearsed']);
  // Nothing of it on the target: no table, no row, no record of the migration (knex's schema itself stays, empty).
  await withDatabase(db, async (c) => {
    expect(await publicTables(c)).toEqual([]);
    expect((await c.query("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = to_regnamespace('knex')")).rows[0].n).toBe(0);
  });
  expect((await status(db, { migrationsDirectory: directory })).migrations).toEqual([{ name: '0001_rehearsed.ts', state: 'pending' }]);
});
