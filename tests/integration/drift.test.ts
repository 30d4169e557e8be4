// db:verify reports exactly the change made to a database built by the migrations.
import fs from 'fs';
import path from 'path';
import { Client } from 'pg';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { CONTRACT, TABLE_NAMES, TableContract } from '../../db/contract';
import { Difference, diffSchema } from '../../scripts/lib/schema/drift';
import { reconcileExpressions } from '../../scripts/lib/schema/expressions';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { verify, verifyOn } from '../../scripts/lib/schema/verify';
import { Settings } from '../../scripts/lib/server/settings';
import { migrationsFolder } from '../support/migrations';
import { actAsOwner, createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

const cases: Array<[string, string, Difference]> = [
  ['a column added', 'ALTER TABLE tickers ADD COLUMN exchange text',
    { group: 'tickers', kind: 'unexpected', item: 'column exchange', actual: 'text NULL' }],
  ["a column's type changed", 'ALTER TABLE recommendation_outcomes ALTER COLUMN days_held TYPE bigint',
    { group: 'recommendation_outcomes', kind: 'changed', item: 'column days_held', expected: 'integer NULL', actual: 'bigint NULL' }],
  ['a NOT NULL dropped', 'ALTER TABLE recommendations ALTER COLUMN recommendation_date DROP NOT NULL',
    { group: 'recommendations', kind: 'changed', item: 'column recommendation_date', expected: 'date NOT NULL', actual: 'date NULL' }],
  ['an index dropped', 'DROP INDEX recommendation_outcomes_recommendation_id_index',
    { group: 'recommendation_outcomes', kind: 'missing', item: 'index recommendation_outcomes_recommendation_id_index', expected: 'btree (recommendation_id)' }],
  ['an enum value added', "ALTER TYPE outcome_status ADD VALUE 'PUSH'",
    { group: 'database', kind: 'changed', item: 'enum outcome_status', expected: 'WIN, LOSS, NEUTRAL', actual: 'WIN, LOSS, NEUTRAL, PUSH' }],
  ['a table added to public', 'CREATE TABLE public.scratch (id int)',
    { group: 'scratch', kind: 'unexpected', item: 'table' }],
  ["ohlcv's chunk interval changed", "SELECT set_chunk_time_interval('ohlcv', INTERVAL '7 days')",
    { group: 'database', kind: 'changed', item: 'hypertable ohlcv', expected: 'on date, chunk interval 365 days', actual: 'on date, chunk interval 7 days' }],
  ['a view added to public', 'CREATE VIEW public.latest AS SELECT 1 AS one',
    { group: 'database', kind: 'unexpected', item: 'view latest', actual: ' SELECT 1 AS one;' }],
  ['a column default changed', 'ALTER TABLE tickers ALTER COLUMN is_active SET DEFAULT false',
    { group: 'tickers', kind: 'changed', item: 'column is_active', expected: 'boolean NOT NULL DEFAULT true', actual: 'boolean NOT NULL DEFAULT false' }],
  ['a check constraint dropped', 'ALTER TABLE daily_snapshots DROP CONSTRAINT daily_snapshots_bc_score_check',
    { group: 'daily_snapshots', kind: 'missing', item: 'constraint daily_snapshots_bc_score_check', expected: 'CHECK (((bc_score >= 0) AND (bc_score <= 28)))' }],
];

// One database for every case: each change is made, verified and rolled back in one transaction
// (verify's own code on the test's session), so the database stays the baseline between them.
let db: Settings;
beforeAll(async () => {
  db = await createMigratedDatabase();
});

test('the baseline verifies without a difference', async () => {
  expect((await verify(db)).differences).toEqual([]);
});

test.each(cases)('%s: reported exactly, and the database fails verification', async (_label, change, difference) => {
  await withDatabase(db, async (c: Client) => {
    await c.query('BEGIN');
    try {
      await actAsOwner(c);
      await c.query(change);
      const report = await verifyOn(c, db.database);
      expect(report.ok).toBe(false);
      expect(report.differences).toEqual([difference]);
    } finally {
      await c.query('ROLLBACK');
    }
  });
});

test('every change was rolled back: the database is the baseline again', async () => {
  expect((await verify(db)).differences).toEqual([]);
});

test('an applied migration file edited since, or gone, is reported', async () => {
  const files = Object.fromEntries(fs.readdirSync(MIGRATIONS_DIR).map((f) => [f, fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8')]));
  const names = Object.keys(files).sort();
  const [first, last] = [names[0], names[names.length - 1]];
  const edited = migrationsFolder({ ...files, [first]: `${files[first]}\n// edited after it was applied\n` });
  const report = await verify(db, { migrationsDirectory: edited });
  expect(report.differences).toEqual([expect.objectContaining({ group: 'migrations', kind: 'changed', item: `migration ${first}` })]);

  const { [last]: _gone, ...rest } = files;
  const missing = await verify(db, { migrationsDirectory: migrationsFolder(rest) });
  expect(missing.differences).toEqual([expect.objectContaining({ group: 'migrations', kind: 'unexpected', item: `migration ${last}` })]);

  const pending = await verify(db, { migrationsDirectory: migrationsFolder({ ...files, '9999_next.ts': 'export async function up() {}\nexport async function down() {}\n' }) });
  expect(pending.differences).toEqual([{ group: 'migrations', kind: 'missing', item: 'migration 9999_next.ts', expected: 'applied' }]);
});

// contract.ts's own helper, for evaluating an entry as the file would.
const col = (name: string, type: string, notNull = false, dflt?: string) => (dflt === undefined ? { name, type, notNull } : { name, type, notNull, default: dflt });

test('for a table the contract lacks and one that differs, verify prints the entries that, pasted into the contract, make it match', async () => {
  await withDatabase(db, async (c: Client) => {
    await c.query('BEGIN');
    try {
      await actAsOwner(c);
      await c.query(`CREATE TABLE probe_lists (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name varchar(100) NOT NULL,
        ticker_id uuid NOT NULL REFERENCES tickers (id) ON DELETE CASCADE, "Odd name" text)`);
      await c.query('CREATE INDEX probe_lists_ticker_id_index ON probe_lists (ticker_id)');
      await c.query("ALTER TABLE tickers ADD COLUMN probe_exchange varchar(10) DEFAULT 'it''s'");
      const report = await verifyOn(c, db.database);
      expect(report.contractEntries).toBeDefined();
      const pasted = new Function('col', `return [${report.contractEntries}];`)(col) as TableContract[];
      expect(pasted.map((t) => t.name).sort()).toEqual(['probe_lists', 'tickers']);
      const contract = { ...CONTRACT, tables: [...CONTRACT.tables.map((t) => pasted.find((p) => p.name === t.name) ?? t), ...pasted.filter((p) => !TABLE_NAMES.includes(p.name))] };
      expect(diffSchema(contract, await reconcileExpressions(c, contract, await readSchema(c)))).toEqual([]);
    } finally {
      await c.query('ROLLBACK');
    }
  });
});

test('what the database lacks, or a migration still pending, gives no entry to paste', async () => {
  expect((await verify(db)).contractEntries).toBeUndefined();
  await withDatabase(db, async (c: Client) => {
    await c.query('BEGIN');
    try {
      await actAsOwner(c);
      await c.query('DROP TABLE recommendation_outcomes');
      expect((await verifyOn(c, db.database)).contractEntries).toBeUndefined();
      await c.query('ALTER TABLE tickers ADD COLUMN probe_exchange text');
      const pending = migrationsFolder({ ...Object.fromEntries(fs.readdirSync(MIGRATIONS_DIR).map((f) => [f, fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8')])), '9999_next.ts': 'export async function up() {}\nexport async function down() {}\n' });
      expect((await verifyOn(c, db.database, { migrationsDirectory: pending })).contractEntries).toBeUndefined();
      expect((await verifyOn(c, db.database)).contractEntries).toMatch(/name: 'tickers'/);
    } finally {
      await c.query('ROLLBACK');
    }
  });
});
