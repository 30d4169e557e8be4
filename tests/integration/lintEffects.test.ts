// The lint's rules on what a migration does (effectRules.ts): read from the schema before and
// after each migration of the rehearsal, so each fires however the SQL is written (plainly, in a
// DO block or an EXECUTE, in a function, by knex's builder), on the statement that does it,
// with the target's row estimate; and each stays quiet on the safe way to do the same. The tables
// are the MVP's as the test makes them itself, whatever later migrations (or a squash) did to the
// project's own.
import { LintFinding, LintReport, lintRehearsal } from '../../scripts/lib/migrations/lint';
import { BIG_TABLE_ROWS, EFFECT_RULES } from '../../scripts/lib/migrations/effectRules';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { Settings } from '../../scripts/lib/server/settings';
import { migrationsFolder } from '../support/migrations';
import { closeDatabase } from '../../scripts/lib/server/admin';
import { admin, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

// The MVP's tables, as much of them as the cases below need: ohlcv a hypertable, the rest plain.
const MVP_TABLES = `
export async function up(knex: any) {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS timescaledb');
  await knex.raw("CREATE TYPE option_type AS ENUM ('C', 'P')");
  await knex.raw('CREATE TABLE tickers (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), symbol varchar(20) NOT NULL UNIQUE, name varchar(255), sector varchar(100))');
  await knex.raw('CREATE TABLE ohlcv (ticker_id uuid NOT NULL REFERENCES tickers (id), date date NOT NULL, close numeric, volume bigint, PRIMARY KEY (ticker_id, date))');
  await knex.raw("SELECT create_hypertable('ohlcv', by_range('date', INTERVAL '365 days'))");
  await knex.raw(\`CREATE TABLE options_chains (time timestamptz NOT NULL, ticker_id uuid NOT NULL REFERENCES tickers (id), option_type option_type NOT NULL,
    bid numeric(12,4), PRIMARY KEY (time, ticker_id, option_type))\`);
  await knex.raw(\`CREATE TABLE daily_snapshots (time timestamptz NOT NULL, ticker_id uuid NOT NULL REFERENCES tickers (id), wyckoff_phase varchar(1),
    bc_score integer, composite_score numeric(6,2), model_version varchar(50), PRIMARY KEY (time, ticker_id))\`);
  await knex.raw(\`CREATE TABLE recommendations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), ticker_id uuid NOT NULL REFERENCES tickers (id),
    risk_reward_ratio numeric(6,2), model_version varchar(50))\`);
  await knex.raw('CREATE TABLE recommendation_outcomes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), recommendation_id uuid NOT NULL REFERENCES recommendations (id))');
}
export async function down() {}
`;

// On the target before the linted migration, besides: a schema with a table, a CHECK that proves
// a NOT NULL, and a CHECK not validated yet.
const BEFORE = `
export async function up(knex: any) {
  await knex.raw('CREATE SCHEMA probe');
  await knex.raw('CREATE TABLE probe.events (id int PRIMARY KEY, note text)');
  await knex.raw('ALTER TABLE daily_snapshots ADD CONSTRAINT daily_snapshots_wyckoff_phase_not_null CHECK (wyckoff_phase IS NOT NULL)');
  await knex.raw('ALTER TABLE daily_snapshots ADD CONSTRAINT daily_snapshots_bc_score_positive CHECK (bc_score >= 0) NOT VALID');
}
export async function down() {}
`;

const migration = (body: string, config = '') => `${config}
export async function up(knex: any) {
${body}
}
export async function down() {}
`;
const raw = (...statements: string[]) => statements.map((s) => `  await knex.raw(${JSON.stringify(s)});`).join('\n');

const RETYPED = 'CREATE TABLE options_chains (time timestamptz NOT NULL, ticker_id uuid NOT NULL, option_type char(1) NOT NULL, bid numeric)';

const PLAIN = migration([
  raw('DROP TABLE recommendation_outcomes', 'DROP SCHEMA probe CASCADE'),
  // One knex.raw of two statements: each is linted, and named, on its own.
  raw('CREATE INDEX ohlcv_close_idx ON ohlcv (close); CREATE INDEX tickers_name_idx ON tickers (name)'),
  raw('ALTER TABLE recommendations ALTER COLUMN risk_reward_ratio TYPE float8',
    'ALTER TABLE daily_snapshots ALTER COLUMN model_version SET NOT NULL',
    'ALTER TABLE daily_snapshots ADD CONSTRAINT daily_snapshots_composite_score_check CHECK (composite_score >= 0)',
    'DROP TABLE options_chains', RETYPED,
    'ALTER TABLE ohlcv ALTER COLUMN volume TYPE numeric'),
].join('\n'));

// Written so that nothing reads them as plain statements: names glued together, a function's body.
const DO_BLOCKS = migration(raw(
  "DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'recommendation_outcomes'; END $$",
  "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'probe') THEN DROP SCHEMA probe CASCADE; END IF; END $$",
  "CREATE FUNCTION probe_index() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN EXECUTE 'CREATE INDEX ' || 'ohlcv_close_idx' || ' ON ohlcv (close)'; END $f$",
  'SELECT probe_index()',
  'DROP FUNCTION probe_index()',
  "DO $$ BEGIN EXECUTE 'CREATE INDEX tickers_name_idx ON ' || 'tickers (name)'; END $$",
  "DO $$ BEGIN EXECUTE 'ALTER TABLE recommendations ALTER COLUMN risk_reward_ratio TYPE ' || 'float8'; END $$",
  'DO $$ BEGIN ALTER TABLE daily_snapshots ALTER COLUMN model_version SET NOT NULL; END $$',
  'DO $$ BEGIN ALTER TABLE daily_snapshots ADD CONSTRAINT daily_snapshots_composite_score_check CHECK (composite_score >= 0); END $$',
  `DO $$ BEGIN DROP TABLE options_chains; ${RETYPED}; END $$`,
  "DO $$ BEGIN EXECUTE 'ALTER TABLE ohlcv ALTER COLUMN volume TYPE ' || 'numeric'; END $$",
));

const BUILDER = migration(`
  await knex.schema.dropTable('recommendation_outcomes');
  await knex.schema.dropSchema('probe', true);
  await knex.schema.alterTable('ohlcv', (t: any) => { t.index(['close'], 'ohlcv_close_idx'); });
  await knex.schema.alterTable('tickers', (t: any) => { t.index(['name'], 'tickers_name_idx'); });
  await knex.schema.alterTable('recommendations', (t: any) => { t.double('risk_reward_ratio').alter(); });
  await knex.schema.alterTable('daily_snapshots', (t: any) => { t.string('model_version', 50).notNullable().alter(); });
  await knex.schema.alterTable('daily_snapshots', (t: any) => { t.check('composite_score >= 0', [], 'daily_snapshots_composite_score_check'); });
  await knex.schema.dropTable('options_chains');
  await knex.schema.createTable('options_chains', (t: any) => {
    t.timestamp('time', { useTz: true }).notNullable();
    t.uuid('ticker_id').notNullable();
    t.specificType('option_type', 'char(1)').notNullable();
    t.decimal('bid');
  });
  await knex.schema.alterTable('ohlcv', (t: any) => { t.decimal('volume', null, null).alter(); });`);

// The same changes, done the safe way (or on what the migration itself made).
const SAFE = migration(raw(
  'CREATE TABLE probe_scratch (x int)', 'DROP TABLE probe_scratch', 'CREATE TABLE probe_batch (x int)',
  'CREATE SCHEMA probe_new', 'CREATE TABLE probe_new.t (x int)', 'DROP SCHEMA probe_new CASCADE',
  'CREATE TABLE probe_quotes (time timestamptz NOT NULL, symbol text)', "SELECT create_hypertable('probe_quotes', by_range('time'))",
  'CREATE INDEX probe_quotes_symbol_idx ON probe_quotes (symbol)',
  'CREATE INDEX recommendations_model_idx ON recommendations (model_version)',
  'ALTER TABLE tickers ALTER COLUMN sector TYPE varchar(200)',
  'ALTER TABLE daily_snapshots ALTER COLUMN wyckoff_phase SET NOT NULL',
  'ALTER TABLE daily_snapshots ADD CONSTRAINT daily_snapshots_composite_score_check CHECK (composite_score >= 0) NOT VALID',
  'ALTER TABLE daily_snapshots VALIDATE CONSTRAINT daily_snapshots_bc_score_positive',
  'ALTER TABLE recommendations DROP COLUMN model_version', 'ALTER TABLE recommendations ADD COLUMN model_version varchar(50)',
));
const OUTSIDE = 'export const config = { transaction: false };';
const SAFE_CONCURRENTLY = migration(raw('CREATE INDEX CONCURRENTLY IF NOT EXISTS tickers_name_idx ON tickers (name)'), OUTSIDE);
const SAFE_PER_CHUNK = migration(raw('CREATE INDEX IF NOT EXISTS ohlcv_close_idx ON ohlcv (close) WITH (timescaledb.transaction_per_chunk)'), OUTSIDE);
// A table an earlier migration of the same run made holds no rows yet: rewriting or dropping it is safe.
const SAFE_LATER = migration(raw('ALTER TABLE probe_batch ALTER COLUMN x TYPE bigint', 'DROP TABLE probe_batch'));

/** Our rules' findings (squawk's aside): rule -> the statements (from 1) it fired on. */
const firedOn = (findings: LintFinding[]) => {
  const out: Record<string, number[]> = {};
  for (const f of findings.filter((x) => x.source !== 'squawk')) (out[f.rule] ??= []).push(f.statement);
  return out;
};

let db: Settings;
let rows: Record<string, number>;
let probe: Record<string, string>;
let builtFrom: string; // what the scratch databases are copies of: the migrations through 9000, closed
beforeAll(async () => {
  probe = { '0001_mvp_tables.ts': MVP_TABLES, '9000_before.ts': BEFORE };
  const base = await createTestDatabase('_effects_base');
  await applyMigrations(base, { directory: migrationsFolder(probe) });
  await admin((c) => closeDatabase(c, base.database));
  builtFrom = base.database;
  db = await createTestDatabase('_effects');
  await applyMigrations(db, { directory: migrationsFolder(probe) });
  rows = await withDatabase(db, async (c) => {
    await c.query(`INSERT INTO tickers (symbol, name) SELECT 'T' || g, 'Ticker ' || g FROM generate_series(1, 20) g;
      INSERT INTO ohlcv SELECT t.id, d::date, 10, 1000 FROM tickers t, generate_series('2021-01-04'::date, '2023-12-31', '7 days') d;
      INSERT INTO options_chains SELECT '2023-06-01 20:00+00', t.id, o::option_type, 1.5 FROM tickers t, unnest(ARRAY['C', 'P']) o;
      INSERT INTO daily_snapshots SELECT '2023-06-01 20:00+00'::timestamptz + g * interval '1 day', t.id, 'A', g, 1.5 FROM tickers t, generate_series(0, 9) g;
      INSERT INTO recommendations (ticker_id, risk_reward_ratio) SELECT id, 2 FROM tickers;
      INSERT INTO recommendation_outcomes (recommendation_id) SELECT id FROM recommendations`);
    await c.query("INSERT INTO probe.events SELECT g, 'n' FROM generate_series(1, 7) g");
    await c.query('ANALYZE');
    // The target's statistics say tickers is big: what ANALYZE would say of a million-row table (which takes seconds to write).
    await c.query(`ALTER TABLE tickers SET (autovacuum_enabled = false); UPDATE pg_class SET reltuples = ${2 * BIG_TABLE_ROWS} WHERE oid = 'tickers'::regclass`);
    const { rows: counts } = await c.query(`SELECT 'recommendation_outcomes' AS t, count(*)::int AS n FROM recommendation_outcomes
      UNION ALL SELECT 'probe.events', count(*)::int FROM probe.events UNION ALL SELECT 'options_chains', count(*)::int FROM options_chains`);
    return Object.fromEntries(counts.map((r) => [r.t, r.n]));
  });
});

/** The lint of the migrations `files` after the target's, and the statements the first of them sent. */
async function lintOf(files: Record<string, string>): Promise<LintReport & { statements: string[] }> {
  const directory = migrationsFolder({ ...probe, ...files });
  const rehearsal = await rehearse(db, { directory, builtFrom, eachSchema: true });
  return { ...lintRehearsal(rehearsal, { directory }), statements: rehearsal.migrations[0].statements };
}

/** The statement (from 1) that `pattern` matches. */
const at = (r: { statements: string[] }, pattern: RegExp) => r.statements.findIndex((s) => pattern.test(s)) + 1;

test('written plainly (one knex.raw of two statements among them): each rule fires on its statement, with the target\'s row estimate', async () => {
  const r = await lintOf({ '9001_plain.ts': PLAIN });
  expect(r.failure).toBeUndefined();
  expect(firedOn(r.findings)).toEqual({
    'table-dropped': [1, 8], 'schema-dropped': [2], 'timescaledb-index-on-populated-hypertable': [3], 'index-on-big-table': [4],
    'table-rewrite': [5], 'not-null-with-scan': [6], 'check-with-scan': [7], 'column-retyped-by-rebuild': [9], 'timescaledb-hypertable-rewrite': [10],
  });
  // The statement, not the knex.raw it came in.
  expect(r.findings.find((f) => f.rule === 'index-on-big-table')!.sql).toBe('CREATE INDEX tickers_name_idx ON tickers (name)');
  const why = (rule: string, statement: number) => r.findings.find((f) => f.rule === rule && f.statement === statement)!.why;
  expect(why('table-dropped', 1)).toContain(`holds about ${rows.recommendation_outcomes} rows`);
  expect(why('schema-dropped', 2)).toContain(`probe.events, about ${rows['probe.events']} rows (${db.database}, by its statistics)`);
  expect(why('index-on-big-table', 4)).toContain(`holds about ${(2 * BIG_TABLE_ROWS).toLocaleString('en-US')} rows`);
  expect(why('column-retyped-by-rebuild', 9)).toMatch(/option_type option_type to character\(1\), bid numeric\(12,4\) to numeric/);
  // squawk's own findings on those statements say the same thing: ours stand in their place.
  expect(r.findings.filter((f) => f.source === 'squawk' && ['ban-drop-table', 'changing-column-type', 'adding-not-nullable-field', 'constraint-missing-not-valid'].includes(f.rule))).toEqual([]);
});

test('in DO blocks, EXECUTE of glued text and a function the migration calls: the same findings, each on its statement', async () => {
  const r = await lintOf({ '9001_do.ts': DO_BLOCKS });
  expect(firedOn(r.findings)).toEqual({
    'table-dropped': [1, 10], 'schema-dropped': [2], 'timescaledb-index-on-populated-hypertable': [3], 'index-on-big-table': [6],
    'table-rewrite': [7], 'not-null-with-scan': [8], 'check-with-scan': [9], 'column-retyped-by-rebuild': [10], 'timescaledb-hypertable-rewrite': [11],
  });
  expect(r.findings.find((f) => f.rule === 'schema-dropped')!.why).toContain(`probe.events, about ${rows['probe.events']} rows`);
});

test("by knex's schema builder: the same findings, each on the statement the builder wrote for it", async () => {
  const r = await lintOf({ '9001_builder.ts': BUILDER });
  expect(r.failure).toBeUndefined();
  expect(firedOn(r.findings)).toEqual({
    'table-dropped': [1, at(r, /^drop table "options_chains"/)], 'schema-dropped': [2], 'timescaledb-index-on-populated-hypertable': [3], 'index-on-big-table': [4],
    'table-rewrite': [at(r, /"risk_reward_ratio" type double precision/)], 'not-null-with-scan': [at(r, /"model_version" set not null/)],
    'check-with-scan': [at(r, /add constraint daily_snapshots_composite_score_check/)], 'column-retyped-by-rebuild': [at(r, /^create table "options_chains"/)],
    'timescaledb-hypertable-rewrite': [at(r, /"volume" type decimal/)],
  });
});

test('the safe ways stay quiet: what the migration (or one before it in the run) made, a small table, a type widened in place, NOT NULL proven by a CHECK, NOT VALID then VALIDATE later, CONCURRENTLY and transaction_per_chunk outside a transaction', async () => {
  const r = await lintOf({ '9001_safe.ts': SAFE, '9002_concurrently.ts': SAFE_CONCURRENTLY, '9003_per_chunk.ts': SAFE_PER_CHUNK, '9004_later.ts': SAFE_LATER });
  expect(r.failure).toBeUndefined();
  expect(r.findings.filter((f) => EFFECT_RULES.includes(f.rule))).toEqual([]);
  // Outside a transaction squawk reads CONCURRENTLY as right, and on a hypertable its advice for it is left out.
  expect(r.findings.filter((f) => ['9002_concurrently.ts', '9003_per_chunk.ts'].includes(f.migration))).toEqual([]);
});
