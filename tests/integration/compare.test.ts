// The proof squash relies on: two databases the migrations built compare identical on every
// check, and each kind of difference planted on one side is reported by the checks that can see
// it; every dimension a migration can change, data included, is one the structure check names.
import { Client, escapeIdentifier } from 'pg';
import { CONTRACT } from '../../db/contract';
import { count } from '../../scripts/lib/cli/log';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { compareDatabases, compareSchemas, Comparison, diffStatements, normaliseDump } from '../../scripts/lib/schema/compare';
import { readConnectionUrl } from '../../scripts/lib/server/connectionUrl';
import { Settings } from '../../scripts/lib/server/settings';
import {
  actAsOwner, createMigratedDatabase, createTestDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, serverUrl, withDatabase,
} from '../support/testDatabase';

const LABELS: [string, string] = ['old migrations', 'baseline'];
const CHECKS = ['structure', 'contract', 'pg_dump --schema-only'];

// Built by running the migrations in this file, while the other sides are copied from the run's
// template, which the migrations built on their own: two builds, not two copies of one.
let built: Promise<Settings>;

/** A copy of the template with `statements` run on it as its owner ({db} stands for its name). */
async function planted(label: string, ...statements: string[]): Promise<Settings> {
  const db = await createMigratedDatabase(label);
  await withDatabase(db, async (c: Client) => {
    await actAsOwner(c);
    for (const s of statements) await c.query(s.replace('{db}', escapeIdentifier(db.database)));
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
  // Two plants on one side where pg_dump sees one of them and not the other.
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

// Every dimension a migration can change, planted on the left over a few objects both sides share.
const SHARED = ['CREATE TABLE plant_bars (at timestamptz NOT NULL, v integer)', "SELECT create_hypertable('plant_bars', by_range('at', INTERVAL '1 day'))",
  "SELECT add_retention_policy('plant_bars', INTERVAL '30 days')", 'CREATE SEQUENCE plant_seq'];
const DIMENSIONS = (role: string): Array<[string | string[], string[]]> => [
  ['tickers: rows', ["INSERT INTO tickers (symbol) VALUES ('SPY')"]],
  ['database: schema plant_side', ['CREATE SCHEMA plant_side']],
  ['plant_side.t: table', ['CREATE TABLE plant_side.t (x integer)']],
  ['database: function plant_side.f()', ["CREATE FUNCTION plant_side.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'"]],
  ['knex.plant_notes: table', ['CREATE TABLE knex.plant_notes (note text)', "INSERT INTO knex.plant_notes VALUES ('kept')"]],
  ['database: function knex.plant_f()', ["CREATE FUNCTION knex.plant_f() RETURNS integer LANGUAGE sql AS 'SELECT 2'"]],
  ['database: setting TimeZone', ["ALTER DATABASE {db} SET timezone = 'America/New_York'"]],
  ['database: function plant_touch()', ['CREATE FUNCTION plant_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$']],
  ['tickers: trigger plant_touch', ['CREATE TRIGGER plant_touch BEFORE UPDATE ON tickers FOR EACH ROW EXECUTE FUNCTION plant_touch()']],
  ['database: view plant_v', ['CREATE VIEW plant_v AS SELECT 1 AS one']],
  [['database: sequence plant_seq2', 'database: state of sequence plant_seq2'], ['CREATE SEQUENCE plant_seq2 START 10']],
  ['database: state of sequence plant_seq', ["SELECT nextval('plant_seq')"]],
  ['database: owner of sequence public.plant_seq', [`ALTER SEQUENCE plant_seq OWNER TO ${role}`]],
  [`database: grant on table tickers to ${role}`, [`GRANT SELECT ON tickers TO ${role}`]],
  ['tickers: row-level security', ['ALTER TABLE tickers ENABLE ROW LEVEL SECURITY']],
  ['tickers: row-level security policy plant_p', [`CREATE POLICY plant_p ON tickers FOR SELECT TO ${role} USING (true)`]],
  ['database: comment on table tickers', ["COMMENT ON TABLE tickers IS 'the symbols we follow'"]],
  ['database: compression of plant_bars', ["ALTER TABLE plant_bars SET (timescaledb.compress, timescaledb.compress_segmentby = 'v')"]],
  ['database: compression policy on plant_bars', ["SELECT add_compression_policy('plant_bars', INTERVAL '7 days')"]],
  ['database: retention policy on plant_bars', [`SELECT alter_job(job_id, max_runtime => INTERVAL '9 minutes') FROM timescaledb_information.jobs
    WHERE hypertable_name = 'plant_bars' AND proc_name = 'policy_retention'`]],
];
let dimensions: Array<[string | string[], string[]]>;
let everyDimension: Awaited<ReturnType<typeof compareSchemas>>;

beforeAll(async () => {
  built = createTestDatabase('_cmp_built').then(async (db) => {
    await applyMigrations(db);
    return db;
  });
  const role = escapeIdentifier((await createTestRole('cmp')).name).replace(/^"([a-z_][a-z0-9_]*)"$/, '$1');
  dimensions = DIMENSIONS(role);
  await Promise.all([
    ...Object.entries(PAIRS).map(async ([name, pair]) => {
      compared[name] = await compareDatabases(...await pair(), LABELS);
    }),
    (async () => {
      const [left, right] = await Promise.all([planted('_cmp_dims_l', ...SHARED, ...dimensions.flatMap(([, plant]) => plant)), planted('_cmp_dims_r', ...SHARED)]);
      everyDimension = await withDatabase(left, (l) => withDatabase(right, (r) => compareSchemas(l, r, { data: true })));
      compared.dimensions = await compareDatabases(left, right, LABELS);
    })(),
  ]);
});
afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

const differences = (r: Comparison[]) => Object.fromEntries(r.map((c) => [c.check, c.differences]));

test('two databases the migrations built compare identical on all three checks, and say what they covered', () => {
  const r = compared.same;
  expect(r.map((c) => c.check)).toEqual(CHECKS);
  expect(differences(r)).toEqual(Object.fromEntries(CHECKS.map((c) => [c, []])));
  const covered = Object.fromEntries(r.map((c) => [c.check, c.covered]));
  // What the contract holds.
  const { tables, enums, hypertables, policies = [], views = {}, functions = {}, sequences = {} } = CONTRACT;
  expect(covered.structure).toMatch(new RegExp(`^${count(tables.length, 'table')}, \\d+ columns, \\d+ constraints, \\d+ indexes, ${count(Object.keys(enums).length, 'enum')}, `
    + `${count(hypertables.length, 'hypertable')}, ${policies.length} polic(y|ies), ${count(Object.keys(views).length, 'view')}, ${count(Object.keys(functions).length, 'function')}, `
    + `${count(Object.keys(sequences).length, 'sequence')}, \\d+ rows? of seed data, 0 other objects$`));
  expect(covered.contract).toBe('db/contract.ts against each side: 0 differences from it');
  expect(covered['pg_dump --schema-only']).toMatch(/^\d+ statements \(knex's bookkeeping and _timescaledb_internal left out\)$/);
  for (const c of r) expect(c.ms).toBeGreaterThanOrEqual(0);
  // pg_dump had the password in its environment only.
  const { password } = readConnectionUrl(serverUrl());
  if (password) expect(JSON.stringify(r)).not.toContain(password);
});

test('every dimension a migration can change, planted on one side, is a difference the structure check names: rows, other schemas (knex\'s too), settings, functions, triggers, views, sequences and their state, owners, grants, row-level security, comments, compression, policies', () => {
  const named = everyDimension.differences.map((d) => `${d.group}: ${d.item}`);
  const items = dimensions.flatMap(([item]) => item);
  expect(named.sort()).toEqual(items.sort());
  const structure = differences(compared.dimensions).structure;
  for (const item of items) expect({ item, line: structure.find((l) => l.startsWith(`${item}: `)) }).toEqual({ item, line: expect.stringMatching(/ in old migrations, /) });
  // pg_dump, the second opinion, sees the schema's share of them (not rows, settings or TimescaleDB's catalog), the first 20 lines shown.
  expect(differences(compared.dimensions)['pg_dump --schema-only']).toEqual(expect.arrayContaining([
    "COMMENT ON TABLE public.tickers IS 'the symbols we follow';: in old migrations, not in baseline", expect.stringMatching(/^… and \d+ more differing lines of pg_dump$/)]));
});

test('rows are seed data, in a hypertable\'s chunks too: the structure check names each table; knex\'s bookkeeping is not compared', () => {
  expect(differences(compared.both)).toEqual({
    structure: [expect.stringMatching(/^ohlcv: rows: missing in old migrations, 1 row, sha256 \w+ in baseline$/), expect.stringMatching(/^tickers: rows: missing in old migrations, 1 row, sha256 \w+ in baseline$/)],
    contract: [], 'pg_dump --schema-only': [],
  });
});

const INDEX_IN_BASELINE = 'ohlcv: index ohlcv_close_idx: missing in old migrations, btree (close) in baseline';
const INTERVAL_IN_BASELINE = 'database: hypertable ohlcv: on date, chunk interval 365 days in old migrations, on date, chunk interval 30 days in baseline';

test('an extra index on a hypertable: structure, contract and pg_dump report it', () => {
  const r = differences(compared.hypertable);
  expect(r.structure).toEqual([INTERVAL_IN_BASELINE, INDEX_IN_BASELINE]);
  expect(r.contract).toEqual(['database: hypertable ohlcv: on date, chunk interval 365 days in db/contract.ts, on date, chunk interval 30 days in baseline',
    'ohlcv: index ohlcv_close_idx: missing in db/contract.ts, btree (close) in baseline']);
  expect(r['pg_dump --schema-only']).toEqual(['CREATE INDEX ohlcv_close_idx ON public.ohlcv USING btree (close);: in baseline, not in old migrations']);
});

test('a changed chunk interval: the structure check reads it from TimescaleDB\'s catalog, pg_dump cannot see it', () => {
  const r = differences(compared.hypertable);
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

test('a view, a function and an extension in public, and a table in knex\'s schema beside its bookkeeping: each check that can see each reports it', () => {
  const r = differences(compared.view);
  const only = (statement: string) => `${statement}: in old migrations, not in baseline`;
  // The extension's own functions in public are its business: CREATE EXTENSION and its comment stand for them.
  expect(r['pg_dump --schema-only']).toEqual([
    'CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;', "COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';",
    'CREATE FUNCTION public.ticker_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM tickers $$;', 'ALTER FUNCTION public.ticker_count() OWNER TO <owner>;',
    'CREATE TABLE knex.squashed ( name text NOT NULL );', 'ALTER TABLE knex.squashed OWNER TO <owner>;',
    'CREATE VIEW public.active_tickers AS SELECT tickers.symbol FROM public.tickers WHERE tickers.is_active;', 'ALTER TABLE public.active_tickers OWNER TO <owner>;',
    'ALTER TABLE ONLY knex.squashed ADD CONSTRAINT squashed_pkey PRIMARY KEY (name);',
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
