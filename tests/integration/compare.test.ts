// The proof squash relies on: two databases the migrations built compare identical on every
// check, and each kind of difference planted on one side is reported by the checks that can see it.
import { Client } from 'pg';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { compareDatabases, Comparison } from '../../scripts/lib/schema/compare';
import { readConnectionUrl } from '../../scripts/lib/server/connectionUrl';
import { Settings } from '../../scripts/lib/server/settings';
import { actAsOwner, createMigratedDatabase, createTestDatabase, dropMadeDatabases, serverUrl, withDatabase } from '../support/testDatabase';

const LABELS: [string, string] = ['old migrations', 'baseline'];
const CHECKS = ['structure', 'contract', 'pg_dump --schema-only', 'TimescaleDB catalog'];

// Built by running the migrations in this file; every other side is a copy of the run's template,
// which the migrations built on their own: two builds, not two copies of one.
let built: Settings;

/** A copy of the template with `statements` run on it as its owner. */
async function planted(label: string, ...statements: string[]): Promise<Settings> {
  const db = await createMigratedDatabase(label);
  await withDatabase(db, async (c: Client) => {
    await actAsOwner(c);
    for (const s of statements) await c.query(s);
  });
  return db;
}

const INDEX = 'CREATE INDEX ohlcv_close_idx ON ohlcv (close)';

// Each test's pair of databases, compared all at once before the tests (about 0.4 s a comparison, most of it pg_dump).
const PAIRS: Record<string, () => Promise<[Settings, Settings]>> = {
  same: async () => [built, await createMigratedDatabase('_cmp_same')],
  rows: async () => [built, await planted('_cmp_rows',
    "INSERT INTO tickers (id, symbol) VALUES ('00000000-0000-0000-0000-000000000001', 'KAP')",
    "INSERT INTO ohlcv (ticker_id, date, close) VALUES ('00000000-0000-0000-0000-000000000001', '2024-01-02', 1)",
    "INSERT INTO knex.migration_checksums (name, sha256) VALUES ('0000_baseline.ts', 'x')")],
  index: async () => [built, await planted('_cmp_index', INDEX)],
  chunks: async () => [built, await planted('_cmp_chunks', "SELECT set_chunk_time_interval('ohlcv', INTERVAL '30 days')")],
  default: async () => [built, await planted('_cmp_default', "ALTER TABLE tickers ALTER COLUMN sector SET DEFAULT 'n/a'")],
  // Planted on the left this time: each check must look both ways.
  view: async () => [await planted('_cmp_view', 'CREATE VIEW active_tickers AS SELECT symbol FROM tickers WHERE is_active',
    'CREATE FUNCTION ticker_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM tickers $$'), built],
  both: async () => Promise.all([planted('_cmp_both_l', INDEX), planted('_cmp_both_r', INDEX)]),
};
const compared: Record<string, Comparison[]> = {};

beforeAll(async () => {
  built = await createTestDatabase('_cmp_built');
  await applyMigrations(built);
  await Promise.all(Object.entries(PAIRS).map(async ([name, pair]) => {
    compared[name] = await compareDatabases(...await pair(), LABELS);
  }));
});
afterAll(dropMadeDatabases);

const differences = (r: Comparison[]) => Object.fromEntries(r.map((c) => [c.check, c.differences]));

test('two databases the migrations built compare identical on all four checks, and say what they covered', () => {
  const r = compared.same;
  expect(r.map((c) => c.check)).toEqual(CHECKS);
  expect(differences(r)).toEqual(Object.fromEntries(CHECKS.map((c) => [c, []])));
  const covered = Object.fromEntries(r.map((c) => [c.check, c.covered]));
  expect(covered.structure).toMatch(/^6 tables, \d+ columns, \d+ constraints, \d+ indexes, 6 enums, 1 hypertable, 0 other objects$/);
  expect(covered.contract).toBe('db/contract.ts against each side: 0 differences from it');
  expect(covered['pg_dump --schema-only']).toMatch(/^\d+ statements \(knex's schema and _timescaledb_internal left out\)$/);
  expect(covered['TimescaleDB catalog']).toBe('1 hypertable, 1 dimension, 0 compression settings, 0 jobs');
  for (const c of r) expect(c.ms).toBeGreaterThanOrEqual(0);
  // pg_dump had the password in its environment only.
  const { password } = readConnectionUrl(serverUrl());
  if (password) expect(JSON.stringify(r)).not.toContain(password);
});

test('rows in a hypertable (chunks, knex bookkeeping) are data, not a difference', () => {
  expect(differences(compared.rows)).toEqual(Object.fromEntries(CHECKS.map((c) => [c, []])));
});

test('an extra index on a hypertable: structure, contract and pg_dump report it', () => {
  const r = differences(compared.index);
  expect(r.structure).toEqual(['ohlcv: index ohlcv_close_idx: missing in old migrations, btree (close) in baseline']);
  expect(r.contract).toEqual(['ohlcv: index ohlcv_close_idx: missing in db/contract.ts, btree (close) in baseline']);
  expect(r['pg_dump --schema-only']).toEqual(['CREATE INDEX ohlcv_close_idx ON public.ohlcv USING btree (close);: in baseline, not in old migrations']);
  expect(r['TimescaleDB catalog']).toEqual([]);
});

test('a changed chunk interval: the TimescaleDB catalog reports it, pg_dump cannot see it', () => {
  const r = differences(compared.chunks);
  expect(r['TimescaleDB catalog']).toEqual(['public.ohlcv: dimension date: #1 Time (date), chunk interval 365 days in old migrations, #1 Time (date), chunk interval 30 days in baseline']);
  expect(r['pg_dump --schema-only']).toEqual([]);
  expect(r.structure).toEqual(['database: hypertable ohlcv: on date, chunk interval 365 days in old migrations, on date, chunk interval 30 days in baseline']);
});

test('an extra column default: structure, contract and pg_dump report it, pg_dump by the line that differs', () => {
  const r = differences(compared.default);
  expect(r.structure).toEqual(["tickers: column sector: character varying(100) NULL in old migrations, character varying(100) NULL DEFAULT 'n/a'::character varying in baseline"]);
  expect(r.contract).toHaveLength(1);
  expect(r['pg_dump --schema-only']).toEqual([
    'CREATE TABLE public.tickers ( … sector character varying(100),: in old migrations, not in baseline',
    "CREATE TABLE public.tickers ( … sector character varying(100) DEFAULT 'n/a'::character varying,: in baseline, not in old migrations",
  ]);
});

test('a view and a function in public, beside the tables: pg_dump reports both', () => {
  const r = differences(compared.view);
  const dump = r['pg_dump --schema-only'].join('\n');
  expect(dump).toMatch(/^CREATE VIEW public\.active_tickers AS SELECT tickers\.symbol FROM public\.tickers WHERE tickers\.is_active;: in old migrations, not in baseline$/m);
  expect(dump).toMatch(/^CREATE FUNCTION public\.ticker_count\(\) RETURNS bigint .*: in old migrations, not in baseline$/m);
  expect(r.structure).toEqual(expect.arrayContaining(['database: view active_tickers: present in old migrations, missing in baseline']));
});

test('a difference from the contract that both sides share is a note, not a difference between them', () => {
  const contract = compared.both.find((c) => c.check === 'contract')!;
  expect(differences(compared.both)).toEqual(Object.fromEntries(CHECKS.map((c) => [c, []])));
  expect(contract.differences).toEqual([]);
  expect(contract.notes).toEqual(['ohlcv: index ohlcv_close_idx: missing in db/contract.ts, btree (close) in both old migrations and baseline']);
  expect(contract.covered).toBe('db/contract.ts against each side: 1 difference from it, 1 the same on both sides (notes)');
});
