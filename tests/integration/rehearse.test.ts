// A rehearsal runs migrations where nothing is lost and hands back what each sent. (From an empty
// database, named migrations, a role that may not create a database: e2e/rehearsal.test.ts.)
import { MigrationFailedError } from '../../scripts/lib/cli/errors';
import { inlineBindings, rehearse } from '../../scripts/lib/migrations/rehearse';
import { status } from '../../scripts/status';
import { migrationsFolder, releasedMigrations } from '../support/migrations';
import { schemaDump } from '../support/schema';
import { createMigratedDatabase, dropMadeDatabases } from '../support/testDatabase';

afterAll(dropMadeDatabases);


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
  const r = await rehearse(db, { directory });
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
  const r = await rehearse(db, { directory });
  expect(r.failure?.file).toBe('9001_fails.ts');
  expect(r.failure?.error).toBeInstanceOf(MigrationFailedError);
  expect(r.failure?.error.message).toMatch(/used in partitioning/);
  expect(r.migrations).toEqual([{ file: '9001_fails.ts', statements: ['CREATE TABLE fine (x int)', 'CREATE UNIQUE INDEX ohlcv_close ON ohlcv (close)'] }]);
  expect(r.after).toBeUndefined();
});

test('inlining: placeholders become literals; quoted text, names, comments and dollar-quoted bodies are left as written', () => {
  expect(inlineBindings('select $1, $2, $10', [1, null, 'x'])).toBe("select 1, NULL, $10");
  expect(inlineBindings(`select '$1', "$1", $$ $1 $$, $f$ $1 $f$ -- $1\n, $1`, ["it's"])).toBe(`select '$1', "$1", $$ $1 $$, $f$ $1 $f$ -- $1\n, 'it''s'`);
  expect(inlineBindings('select $1, $2', [true, new Date('2025-01-02T03:04:05Z')])).toMatch(/^select true, '2025-01-0\d/);
  expect(inlineBindings('select $1', [['a', 'b']])).toBe(`select '{"a","b"}'`);
});
