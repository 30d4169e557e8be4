// The lint's TimescaleDB rules: each fires on a real hypertable of a migrated database (on a TSL
// server, with compression enabled and a chunk compressed, for those that need it) and stays
// quiet on a safe change. (The lint as a whole, the baseline, silencing: lint.test.ts; the rules
// on what a migration does: lintEffects.test.ts.) The tables are the MVP's as the test makes them
// itself, whatever later migrations (or a squash) did to the project's own: a compressed ohlcv
// refuses some of the changes below before any rule is reached.
import { LintFinding, LintReport, lintRehearsal } from '../../scripts/lib/migrations/lint';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { TIMESCALE_RULES } from '../../scripts/lib/migrations/timescaleRules';
import { Settings } from '../../scripts/lib/server/settings';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { migrationOf, migrationsFolder } from '../support/migrations';
import { createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);



// ohlcv a hypertable, options_chains and tickers plain tables, as the MVP made them.
const MVP_TABLES = {
  '0001_mvp_tables.ts': migrationOf(['CREATE EXTENSION IF NOT EXISTS timescaledb',
    'CREATE TABLE tickers (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), symbol varchar(20) NOT NULL, name varchar(255))',
    `CREATE TABLE ohlcv (ticker_id uuid NOT NULL REFERENCES tickers (id), date date NOT NULL, open numeric, high numeric, low numeric, close numeric,
      volume bigint, PRIMARY KEY (ticker_id, date))`,
    "SELECT create_hypertable('ohlcv', by_range('date', INTERVAL '365 days'))",
    'CREATE TABLE options_chains (time timestamptz NOT NULL, ticker_id uuid NOT NULL REFERENCES tickers (id), strike_price numeric NOT NULL, PRIMARY KEY (time, ticker_id, strike_price))']),
};

async function lintOf(db: Settings, statements: string[]): Promise<LintReport> {
  const directory = migrationsFolder({ ...MVP_TABLES, '9001_change.ts': migrationOf(statements) });
  return lintRehearsal(await rehearse(db, { directory, eachSchema: true }), { directory });
}

/** Rule -> the statement numbers (from 1) it fired on. */
const firedOn = (findings: LintFinding[]) => {
  const out: Record<string, number[]> = {};
  for (const f of findings.filter((x) => x.source === 'timescaledb')) (out[f.rule] ??= []).push(f.statement);
  return out;
};

let db: Settings;
beforeAll(async () => {
  db = await createTestDatabase('_lint');
  await applyMigrations(db, { directory: migrationsFolder(MVP_TABLES) });
});

// Two rehearsals for all the rules: TimescaleDB refuses the last statement of each, as it would in
// production, and the lint still reads every statement up to it.
test('on the live ohlcv hypertable, each rule fires on its statement, the one TimescaleDB refuses included', async () => {
  const report = await lintOf(db, [
    'CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)',
    'ALTER TABLE ohlcv ALTER COLUMN close TYPE float8',
    "SELECT create_hypertable('options_chains', by_range('time'))",
    "SELECT set_chunk_time_interval('ohlcv', INTERVAL '30 days')",
    'ALTER TABLE tickers ADD COLUMN probe_required text NOT NULL',
    'CREATE UNIQUE INDEX ohlcv_close_key ON ohlcv (ticker_id, close)',
  ]);
  expect(report.failure?.message).toMatch(/used in partitioning/);
  expect(firedOn([...report.findings, ...report.notes])).toEqual({
    'timescaledb-index-on-populated-hypertable': [1, 6],
    'timescaledb-hypertable-rewrite': [2],
    'timescaledb-create-hypertable-without-migrate-data': [3],
    'timescaledb-chunk-interval-change': [4],
    'timescaledb-deprecated-api': [4], // a note: set_chunk_time_interval is set_partitioning_interval in 2.19
    'timescaledb-unique-without-time-column': [6],
  });
  const index = report.findings.find((f) => f.rule === 'timescaledb-index-on-populated-hypertable')!;
  expect(index).toMatchObject({ migration: '9001_change.ts', sql: 'CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)', instead: expect.stringContaining('transaction_per_chunk') });
  // squawk's advice for the same statement (build it CONCURRENTLY) is wrong on a hypertable, and left out.
  expect(report.findings.filter((f) => f.statement === 1 && f.rule === 'require-concurrent-index-creation')).toEqual([]);
  // squawk's own rules still speak where they apply.
  expect(report.findings.filter((f) => f.source === 'squawk')).toContainEqual(expect.objectContaining({ rule: 'adding-required-field', statement: 5 }));
});

test('the safe counterparts stay quiet (key with the time column, a plain table, a hypertable made in the same migration, a column added without a rewrite, migrate_data); CONCURRENTLY on a hypertable fires', async () => {
  const report = await lintOf(db, [
    'CREATE UNIQUE INDEX ohlcv_close_key ON ohlcv (ticker_id, date, close)',
    'CREATE TABLE probe_quotes (time timestamptz NOT NULL, symbol text NOT NULL, price numeric)',
    "SELECT create_hypertable('probe_quotes', by_range('time', INTERVAL '7 days'))",
    'CREATE INDEX probe_quotes_symbol_idx ON probe_quotes (symbol, time DESC)',
    "SELECT set_chunk_time_interval('probe_quotes', INTERVAL '30 days')",
    'ALTER TABLE ohlcv ADD COLUMN note text',
    'CREATE INDEX tickers_name_idx ON tickers (name)',
    "SELECT create_hypertable('options_chains', by_range('time'), migrate_data => true)",
    'CREATE INDEX CONCURRENTLY ohlcv_close_idx ON ohlcv (close)',
  ]);
  expect(report.failure?.message).toMatch(/concurrent/);
  // The first statement is an index on the populated hypertable: that rule alone may speak there.
  expect(firedOn([...report.findings, ...report.notes])).toEqual({ 'timescaledb-index-on-populated-hypertable': [1], 'timescaledb-deprecated-api': [5], 'timescaledb-concurrent-index': [9] });
  expect(report.notes.map((f) => f.rule)).toEqual(['timescaledb-deprecated-api']); // a note, not a finding: 2.19 still runs it
  expect(report.findings.find((f) => f.rule === 'timescaledb-concurrent-index')!.instead).toMatch(/transaction_per_chunk/);
});

// On a TSL server: the MVP's ohlcv with compression enabled (as the author's day-2 0009 does, through
// the columnstore API) and a chunk compressed.
const COMPRESSED = {
  ...MVP_TABLES,
  '0002_compression.ts': migrationOf(["ALTER TABLE ohlcv SET (timescaledb.enable_columnstore, timescaledb.segmentby = 'ticker_id', timescaledb.orderby = 'date DESC')"]),
};

describe('ohlcv with compression enabled and a chunk compressed', () => {
  let compressed: Settings;
  beforeAll(async () => {
    compressed = await createTestDatabase('_lint_tsl');
    await applyMigrations(compressed, { directory: migrationsFolder(COMPRESSED) });
    await withDatabase(compressed, async (c) => {
      await c.query("INSERT INTO tickers (symbol) VALUES ('AAA'), ('BBB')");
      await c.query(`INSERT INTO ohlcv (ticker_id, date, close) SELECT t.id, d::date, 10 FROM tickers t, generate_series('2021-01-04'::date, '2023-12-31', '7 days') d`);
      await c.query("SELECT compress_chunk(ch) FROM show_chunks('ohlcv', older_than => DATE '2023-01-01') ch");
    });
  });
  const lintTsl = async (statements: string[]) => {
    const directory = migrationsFolder({ ...COMPRESSED, '9001_change.ts': migrationOf(statements) });
    return lintRehearsal(await rehearse(compressed, { directory, eachSchema: true }), { directory });
  };

  test('each hazard fires on its statement (the rehearsal stops at the one TimescaleDB refuses, as production would)', async () => {
    const first = await lintTsl([
      'CREATE UNIQUE INDEX ohlcv_ticker_date_close_key ON ohlcv (ticker_id, date, close)',
      'ALTER TABLE ohlcv ADD CONSTRAINT ohlcv_close_positive CHECK (close > 0) NOT VALID',
      "SELECT * FROM hypertable_compression_stats('ohlcv')",
      'ALTER TABLE ohlcv ALTER COLUMN close TYPE float8',
    ]);
    expect(first.failure?.message).toMatch(/operation not supported on hypertables that have compression enabled/);
    expect(firedOn([...first.findings, ...first.notes])).toMatchObject({
      'timescaledb-compressed-unique': [1], 'timescaledb-compressed-add-constraint': [2], 'timescaledb-deprecated-api': [3], 'timescaledb-compressed-type-change': [4],
    });
    expect(first.notes.find((f) => f.rule === 'timescaledb-deprecated-api')!.instead).toBe('hypertable_compression_stats -> hypertable_columnstore_stats');
    const added = await lintTsl(['ALTER TABLE ohlcv ADD COLUMN fetched_at timestamptz DEFAULT now()']);
    expect(added.failure?.message).toMatch(/non-constant default/);
    expect(firedOn(added.findings)).toMatchObject({ 'timescaledb-compressed-add-column': [1] });
    const dropped = await lintTsl(['ALTER TABLE ohlcv DROP COLUMN ticker_id']);
    expect(dropped.failure?.message).toMatch(/cannot drop orderby or segmentby column/);
    expect(firedOn(dropped.findings)).toMatchObject({ 'timescaledb-compressed-drop-column': [1] });
  });

  test('the safe counterparts stay quiet: a constant default, a column compression does not use, a plain index, a CHECK and a type change on a table without compression, the columnstore API', async () => {
    const quiet = await lintTsl([
      "ALTER TABLE ohlcv ADD COLUMN source text DEFAULT 'eod'",
      'ALTER TABLE ohlcv ADD COLUMN flags int NOT NULL DEFAULT 0',
      'ALTER TABLE ohlcv DROP COLUMN open',
      'CREATE INDEX ohlcv_close_idx ON ohlcv (close)',
      'ALTER TABLE tickers ADD CONSTRAINT tickers_symbol_upper CHECK (symbol = upper(symbol)) NOT VALID',
      'ALTER TABLE tickers ALTER COLUMN name TYPE text',
      "SELECT * FROM hypertable_columnstore_stats('ohlcv')",
    ]);
    expect(quiet.failure).toBeUndefined();
    const tsl = ['timescaledb-compressed-type-change', 'timescaledb-compressed-add-column', 'timescaledb-compressed-drop-column',
      'timescaledb-compressed-unique', 'timescaledb-compressed-add-constraint', 'timescaledb-deprecated-api'];
    expect([...quiet.findings, ...quiet.notes].filter((f) => tsl.includes(f.rule))).toEqual([]);
  });
});

test('every TimescaleDB rule is among those exercised above', () => {
  expect(TIMESCALE_RULES.map((r) => r.name).sort()).toEqual([
    'timescaledb-chunk-interval-change', 'timescaledb-compressed-add-column', 'timescaledb-compressed-add-constraint', 'timescaledb-compressed-drop-column',
    'timescaledb-compressed-type-change', 'timescaledb-compressed-unique', 'timescaledb-concurrent-index', 'timescaledb-create-hypertable-without-migrate-data',
    'timescaledb-deprecated-api', 'timescaledb-hypertable-rewrite', 'timescaledb-index-on-populated-hypertable', 'timescaledb-unique-without-time-column',
  ]);
});
