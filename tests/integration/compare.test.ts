// The proof squash relies on: two databases the migrations built compare identical on every
// check, and each kind of difference planted on one side is reported by the checks that can see it.
import { Client } from 'pg';
import { CONTRACT } from '../../db/contract';
import { count } from '../../scripts/lib/cli/log';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { compareDatabases, Comparison, diffStatements, normaliseDump } from '../../scripts/lib/schema/compare';
import { readConnectionUrl } from '../../scripts/lib/server/connectionUrl';
import { Settings } from '../../scripts/lib/server/settings';
import { actAsOwner, createMigratedDatabase, createTestDatabase, dropMadeDatabases, serverUrl, withDatabase } from '../support/testDatabase';

const LABELS: [string, string] = ['old migrations', 'baseline'];
const CHECKS = ['structure', 'contract', 'pg_dump --schema-only', 'TimescaleDB catalog'];

// Built by running the migrations in this file, while the other sides are copied from the run's
// template, which the migrations built on their own: two builds, not two copies of one.
let built: Promise<Settings>;

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
const ROWS = ["INSERT INTO tickers (id, symbol) VALUES ('00000000-0000-0000-0000-000000000001', 'KAP')",
  "INSERT INTO ohlcv (ticker_id, date, close) VALUES ('00000000-0000-0000-0000-000000000001', '2024-01-02', 1)",
  "INSERT INTO knex.migration_checksums (name, sha256) VALUES ('0000_baseline.ts', 'x')"];

// Each test's pair of databases, compared all at once before the tests (about 0.4 s a comparison, most of it pg_dump).
const PAIRS: Record<string, () => Promise<[Settings, Settings]>> = {
  same: () => Promise.all([built, createMigratedDatabase('_cmp_same')]),
  // Two plants on one side where each check sees one of them and must not see the other.
  hypertable: () => Promise.all([built, planted('_cmp_hypertable', INDEX, "SELECT set_chunk_time_interval('ohlcv', INTERVAL '30 days')")]),
  default: () => Promise.all([built, planted('_cmp_default', "ALTER TABLE tickers ALTER COLUMN sector SET DEFAULT 'n/a'", 'CREATE EXTENSION citext')]),
  // Planted on the left this time: each check must look both ways.
  view: () => Promise.all([planted('_cmp_view', 'CREATE VIEW active_tickers AS SELECT symbol FROM tickers WHERE is_active',
    'CREATE FUNCTION ticker_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM tickers $$', 'CREATE EXTENSION pg_trgm',
    'CREATE TABLE knex.squashed (name text PRIMARY KEY)'), built]),
  // The same contract difference on both sides, and rows and knex bookkeeping on one.
  both: () => Promise.all([planted('_cmp_both_l', INDEX), planted('_cmp_both_r', INDEX, ...ROWS)]),
};
const compared: Record<string, Comparison[]> = {};

beforeAll(async () => {
  built = createTestDatabase('_cmp_built').then(async (db) => {
    await applyMigrations(db);
    return db;
  });
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
  // What the contract holds, one dimension a hypertable.
  const { tables, enums, hypertables } = CONTRACT;
  expect(covered.structure).toMatch(new RegExp(`^${count(tables.length, 'table')}, \\d+ columns, \\d+ constraints, \\d+ indexes, ${count(Object.keys(enums).length, 'enum')}, ${count(hypertables.length, 'hypertable')}, 0 other objects$`));
  expect(covered.contract).toBe('db/contract.ts against each side: 0 differences from it');
  expect(covered['pg_dump --schema-only']).toMatch(/^\d+ statements \(knex's schema and _timescaledb_internal left out\)$/);
  expect(covered['TimescaleDB catalog']).toBe(`${count(hypertables.length, 'hypertable')}, ${count(hypertables.length, 'dimension')}, 0 compression settings, 0 jobs`);
  for (const c of r) expect(c.ms).toBeGreaterThanOrEqual(0);
  // pg_dump had the password in its environment only.
  const { password } = readConnectionUrl(serverUrl());
  if (password) expect(JSON.stringify(r)).not.toContain(password);
});

test('rows in a hypertable (chunks) are data, and knex\'s schema is bookkeeping: neither is a difference', () => {
  expect(differences(compared.both)).toEqual(Object.fromEntries(CHECKS.map((c) => [c, []])));
});

const INDEX_IN_BASELINE = 'ohlcv: index ohlcv_close_idx: missing in old migrations, btree (close) in baseline';
const INTERVAL_IN_BASELINE = 'database: hypertable ohlcv: on date, chunk interval 365 days in old migrations, on date, chunk interval 30 days in baseline';

test('an extra index on a hypertable: structure, contract and pg_dump report it, the TimescaleDB catalog has no place for it', () => {
  const r = differences(compared.hypertable);
  expect(r.structure).toEqual([INTERVAL_IN_BASELINE, INDEX_IN_BASELINE]);
  expect(r.contract).toEqual(['database: hypertable ohlcv: on date, chunk interval 365 days in db/contract.ts, on date, chunk interval 30 days in baseline',
    'ohlcv: index ohlcv_close_idx: missing in db/contract.ts, btree (close) in baseline']);
  expect(r['pg_dump --schema-only']).toEqual(['CREATE INDEX ohlcv_close_idx ON public.ohlcv USING btree (close);: in baseline, not in old migrations']);
});

test('a changed chunk interval: the TimescaleDB catalog reports it, pg_dump cannot see it', () => {
  const r = differences(compared.hypertable);
  expect(r['TimescaleDB catalog']).toEqual(['public.ohlcv: dimension date: #1 Time (date), chunk interval 365 days in old migrations, #1 Time (date), chunk interval 30 days in baseline']);
  expect(r['pg_dump --schema-only'].join('\n')).not.toMatch(/interval|chunk/);
  expect(r.structure).toContain(INTERVAL_IN_BASELINE);
});

test('an extra column default and an extension on the right: structure and pg_dump report both, pg_dump by the line that differs', () => {
  const r = differences(compared.default);
  expect(r.structure).toEqual(['database: extension citext: missing in old migrations, installed in baseline',
    "tickers: column sector: character varying(100) NULL in old migrations, character varying(100) NULL DEFAULT 'n/a'::character varying in baseline"]);
  // The contract names the extensions the schema needs; another one is the server's business (diffSchema).
  expect(r.contract).toEqual(["tickers: column sector: character varying(100) NULL in db/contract.ts, character varying(100) NULL DEFAULT 'n/a'::character varying in baseline"]);
  expect(r['pg_dump --schema-only']).toEqual([
    'CREATE TABLE public.tickers ( … sector character varying(100),: in old migrations, not in baseline',
    "CREATE TABLE public.tickers ( … sector character varying(100) DEFAULT 'n/a'::character varying,: in baseline, not in old migrations",
    'CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;: in baseline, not in old migrations',
    "COMMENT ON EXTENSION citext IS 'data type for case-insensitive character strings';: in baseline, not in old migrations",
  ]);
});

test('a view, a function and an extension in public, and a table in knex\'s schema beside its bookkeeping: the checks that can see each report it', () => {
  const r = differences(compared.view);
  const only = (statement: string) => `${statement}: in old migrations, not in baseline`;
  // The extension's own functions in public are its business: CREATE EXTENSION and its comment stand for them.
  expect(r['pg_dump --schema-only']).toEqual([
    'CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;', "COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';",
    'CREATE FUNCTION public.ticker_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM tickers $$;', 'ALTER FUNCTION public.ticker_count() OWNER TO <owner>;',
    'CREATE VIEW public.active_tickers AS SELECT tickers.symbol FROM public.tickers WHERE tickers.is_active;', 'ALTER TABLE public.active_tickers OWNER TO <owner>;',
  ].map(only));
  expect(r.structure).toEqual(['database: extension pg_trgm: installed in old migrations, missing in baseline',
    'database: view active_tickers: SELECT tickers.symbol FROM tickers WHERE tickers.is_active; in old migrations, missing in baseline',
    'database: function ticker_count(): present in old migrations, missing in baseline',
    'knex.squashed: table: present in old migrations, missing in baseline']);
});

test('a difference from the contract that both sides share is a note, not a difference between them', () => {
  const contract = compared.both.find((c) => c.check === 'contract')!;
  expect(contract.differences).toEqual([]);
  expect(contract.notes).toEqual(['ohlcv: index ohlcv_close_idx: missing in db/contract.ts, btree (close) in both old migrations and baseline']);
  expect(contract.covered).toBe('db/contract.ts against each side: 1 difference from it, 1 the same on both sides (notes)');
});

test('a dump is read without what differs between two builds: settings, comments, \\restrict keys, the database\'s name and owner', () => {
  const dump = (database: string, owner: string, key: string) => `--
-- PostgreSQL database dump
--
\\restrict ${key}
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.t (
    a integer
);
ALTER TABLE public.t OWNER TO ${owner};
GRANT SELECT ON TABLE public.t TO reader;
GRANT ALL ON TABLE public.t TO ${owner};
COMMENT ON TABLE public.t IS 'copied from ${database}';
\\unrestrict ${key}
`;
  const left = normaliseDump(dump('kapman_scratch_1a', 'kapman', 'Xy1'), { database: 'kapman_scratch_1a', owner: 'kapman' });
  expect(left).toEqual(['CREATE TABLE public.t (\n    a integer\n);', 'ALTER TABLE public.t OWNER TO <owner>;',
    'GRANT SELECT ON TABLE public.t TO reader;', 'GRANT ALL ON TABLE public.t TO <owner>;', "COMMENT ON TABLE public.t IS 'copied from <database>';"]);
  expect(normaliseDump(dump('kapman_scratch_2b', '"Odd Owner"', 'Zq9'), { database: 'kapman_scratch_2b', owner: '"Odd Owner"' })).toEqual(left);
  // Another role than the owner is a difference, shown by the line; at most 20 lines.
  const other = normaliseDump(dump('kapman_scratch_2b', 'kapman', 'Zq9').replace('TO reader', 'TO writer'), { database: 'kapman_scratch_2b', owner: 'kapman' });
  expect(diffStatements(left, other, LABELS)).toEqual(['GRANT SELECT ON TABLE public.t TO reader;: in old migrations, not in baseline',
    'GRANT SELECT ON TABLE public.t TO writer;: in baseline, not in old migrations']);
  const many = Array.from({ length: 30 }, (_, i) => `CREATE INDEX i${i} ON public.t USING btree (a);`);
  const lines = diffStatements(many, [], LABELS);
  expect(lines).toHaveLength(20);
  expect(lines[19]).toBe('… and 11 more differing lines of pg_dump');
});

test('a column\'s per-build stamp (PostgreSQL 15.20\'s pg_attver, which an older pg_dump prints) is no schema; its other options are', () => {
  const side = { database: 'kapman_scratch_1a', owner: 'kapman' };
  const dump = (stamp: number, options = '') => `CREATE TABLE public.ohlcv (
    date date NOT NULL
);
ALTER TABLE ONLY public.ohlcv ALTER COLUMN date SET (pg_attver=${stamp}${options});
`;
  expect(normaliseDump(dump(84561752), side)).toEqual(['CREATE TABLE public.ohlcv (\n    date date NOT NULL\n);']);
  expect(normaliseDump(dump(11), side)).toEqual(normaliseDump(dump(84561752), side));
  expect(normaliseDump(dump(11, ', n_distinct=100'), side)).toEqual(['CREATE TABLE public.ohlcv (\n    date date NOT NULL\n);',
    'ALTER TABLE ONLY public.ohlcv ALTER COLUMN date SET (n_distinct=100);']);
});
