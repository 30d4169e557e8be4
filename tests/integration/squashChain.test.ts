// A squash of the released migrations and two after them, one of which makes every kind of
// object the generator makes: the baseline builds what the chain builds (data, owners, grants and
// settings included), lints as a replay, drops all it made; a database migrated before is carried
// past it, one that drifted or stopped part-way is refused. (Refusals of the squash itself, and
// --through: squash.test.ts; through npm and the knex CLI: e2e/squash.test.ts.)
import fs from 'fs';
import path from 'path';
import { migrationFilesIn, squashJournalOf } from '../../db/migrationSource';
import { carryForward } from '../../scripts/lib/migrations/carryForward';
import { migrate } from '../../scripts/lib/migrations/deploy';
import { lintRehearsal } from '../../scripts/lib/migrations/lint';
import { applyMigrations, rollback } from '../../scripts/lib/migrations/migrate';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { squash } from '../../scripts/lib/migrations/squash';
import { compareSchemas } from '../../scripts/lib/schema/compare';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { verify } from '../../scripts/lib/schema/verify';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { git, gitProject } from '../support/gitProject';
import { migrationOf, releasedMigrations } from '../support/migrations';
import { schemaDump } from '../support/schema';
import { migratedWith, refusal } from '../support/squash';
import { createTestDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, withDatabase } from '../support/testDatabase';
import { fillEveryTable, fingerprint } from '../support/tradingData';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

// A column and an index on the ohlcv hypertable, as a second migration of KapMan's kind would add.
const OHLCV_VWAP = migrationOf(['ALTER TABLE ohlcv ADD COLUMN vwap numeric(12,4)', 'CREATE INDEX ohlcv_vwap_idx ON ohlcv (vwap, date)']);

const SPY = '00000000-0000-0000-0000-000000000001';

/**
 * A migration that makes something of every kind the generator makes, on objects of its own
 * (and seed rows in tickers), so that it stands on whatever schema the migrations before it built.
 */
const everyDimension = (role: string) => migrationOf([
  // Seed rows, with every value given (a default of now() would differ between two builds of the chain).
  `INSERT INTO tickers (id, symbol, name, created_at) VALUES ('${SPY}', 'SPY', 'S&P 500 ''ETF''', '2024-01-02 15:00+00'),
    ('00000000-0000-0000-0000-000000000002', 'QQQ', NULL, '2024-01-02 15:00+00'), ('00000000-0000-0000-0000-000000000003', 'IWM', 'Russell 2000', '2024-01-02 15:00+00')`,
  // Another schema, with a table holding rows and a function; knex's schema beside its bookkeeping.
  'CREATE SCHEMA plant_side', 'CREATE TABLE plant_side.t (x integer PRIMARY KEY)', 'INSERT INTO plant_side.t VALUES (1), (2)',
  "CREATE FUNCTION plant_side.f() RETURNS integer LANGUAGE sql AS 'SELECT count(*)::integer FROM plant_side.t'",
  'CREATE TABLE knex.plant_notes (id serial PRIMARY KEY, note text NOT NULL)', "INSERT INTO knex.plant_notes (note) VALUES ('kept by the app')",
  'CREATE FUNCTION knex.plant_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM knex.plant_notes $$',
  // The database's own settings: a migration does not know its name.
  "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'America/New_York'); END $$",
  "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = %L, %L', current_database(), '$user', 'public'); END $$",
  // A serial key, a generated column, an identity column with a sequence of its own, a column option, a foreign key, rows.
  `CREATE TABLE plant_events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT '2024-03-01 02:00+00', kind text NOT NULL,
    kind_upper text GENERATED ALWAYS AS (upper(kind)) STORED, n integer GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5),
    ticker_id uuid REFERENCES tickers (id))`,
  `INSERT INTO plant_events (kind, ticker_id) VALUES ('OPEN', '${SPY}'), ('Close', NULL)`,
  'ALTER TABLE plant_events ALTER COLUMN kind SET (n_distinct = 10)',
  'CREATE SEQUENCE plant_ticket_seq START 1000 INCREMENT 10', "SELECT nextval('plant_ticket_seq')",
  // A trigger made after the rows (it must not touch them), a function of a row type, a function a CHECK calls.
  'CREATE FUNCTION plant_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.kind := lower(NEW.kind); RETURN NEW; END $$',
  'CREATE TRIGGER plant_events_touch BEFORE INSERT OR UPDATE ON plant_events FOR EACH ROW EXECUTE FUNCTION plant_touch()',
  'CREATE FUNCTION plant_kind_of(e plant_events) RETURNS text LANGUAGE sql AS $$ SELECT e.kind $$',
  'CREATE FUNCTION plant_positive(x integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT x > 0 $$',
  'CREATE TABLE plant_checked (x integer CHECK (plant_positive(x)))',
  // Views, one on another (named to sort before it), and a materialized view with its rows.
  'CREATE VIEW plant_v_events AS SELECT id, kind FROM plant_events', 'CREATE VIEW plant_a_upper AS SELECT upper(kind) AS k FROM plant_v_events',
  'CREATE MATERIALIZED VIEW plant_m AS SELECT kind FROM plant_events',
  // Comments, grants (one with GRANT OPTION, EXECUTE revoked from PUBLIC, default privileges), row-level security, an owner.
  "COMMENT ON TABLE plant_events IS 'what happened'", "COMMENT ON COLUMN plant_events.kind IS 'open or close'", "COMMENT ON FUNCTION plant_touch() IS 'lower-cases the kind'",
  `GRANT SELECT ON plant_events TO ${role}`, `GRANT SELECT, INSERT ON plant_side.t TO ${role} WITH GRANT OPTION`, `GRANT USAGE ON SCHEMA plant_side TO ${role}`,
  'REVOKE EXECUTE ON FUNCTION plant_touch() FROM PUBLIC', `ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO ${role}`,
  'ALTER TABLE plant_events ENABLE ROW LEVEL SECURITY', `CREATE POLICY plant_own ON plant_events FOR SELECT TO ${role} USING (kind <> 'secret')`,
  `ALTER MATERIALIZED VIEW plant_m OWNER TO ${role}`,
  // A hypertable with a second dimension, rows, compression and two policies (one changed by alter_job); an integer one with its now function.
  'CREATE TABLE plant_ticks (at timestamptz NOT NULL, ticker_id uuid NOT NULL, price numeric)',
  "SELECT create_hypertable('plant_ticks', by_range('at', INTERVAL '1 day'))", "SELECT add_dimension('plant_ticks', by_hash('ticker_id', 4))",
  `INSERT INTO plant_ticks VALUES ('2024-03-01 14:30+00', '${SPY}', 512.25)`,
  "ALTER TABLE plant_ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'ticker_id', timescaledb.compress_orderby = 'at DESC')",
  "SELECT add_compression_policy('plant_ticks', INTERVAL '7 days')",
  "SELECT alter_job(add_retention_policy('plant_ticks', INTERVAL '90 days'), max_runtime => INTERVAL '10 minutes', scheduled => false)",
  'CREATE TABLE plant_counts (n integer NOT NULL, v integer)', "SELECT create_hypertable('plant_counts', by_range('n', 1000))",
  "CREATE FUNCTION plant_now() RETURNS integer LANGUAGE sql STABLE AS 'SELECT 5000'", "SELECT set_integer_now_func('plant_counts', 'plant_now')",
]);

let directory: string;
let role: string;
let chain: Settings; // a fresh build of the chain, before the squash
let before: Settings; // migrated before the squash, in two batches, with rows in every table
let partway: Settings;
let drifted: Settings;
let production: Settings;
let result: Awaited<ReturnType<typeof squash>>;
let fresh: Settings;

beforeAll(async () => {
  role = (await createTestRole('sq')).name;
  directory = gitProject({ ...releasedMigrations(), '9001_ohlcv_vwap.ts': OHLCV_VWAP, '9002_every_dimension.ts': everyDimension(role) });
  const files = migrationFilesIn(directory);
  [chain, before, partway, drifted] = await Promise.all([
    migratedWith(directory, '_sqc_chain'),
    // Two batches: the released migrations, then the two after them.
    migratedWith(directory, '_sqc_before', files.slice(0, -2)).then(async (db) => {
      await applyMigrations(db, { directory });
      await withDatabase(db, (c) => fillEveryTable(c));
      return db;
    }),
    migratedWith(directory, '_sqc_partway', files.slice(0, -1)),
    migratedWith(directory, '_sqc_drifted'),
  ]);
  production = loadSettings({ env: 'production', databaseUrl: (await migratedWith(directory, '_sqc_production')).url });
  result = await squash(before, { directory });
  git(path.dirname(directory), 'add', '-A');
  git(path.dirname(directory), 'commit', '-qm', 'squash');
  fresh = await migratedWith(directory, '_sqc_fresh');
});

test('one baseline in the folder, the rest moved aside, the proof clean on its three checks, no journal left', () => {
  expect(migrationFilesIn(directory)).toEqual(['9002_baseline.ts']);
  expect(migrationFilesIn(path.join(path.dirname(directory), 'squashed'))).toEqual(result.squashed);
  expect(result.squashed).toContain('9002_every_dimension.ts');
  expect(result.proof.map((c) => c.check)).toEqual(['structure', 'contract', 'pg_dump --schema-only']);
  expect(result.proof.filter((c) => c.differences.length)).toEqual([]);
  expect(fs.existsSync(squashJournalOf(directory))).toBe(false);
});

test("a fresh build from the baseline is the chain's: every object, owner, grant, setting and seed row, and where each sequence stands", async () => {
  const compared = await withDatabase(chain, (c) => withDatabase(fresh, (f) => compareSchemas(c, f, { data: true })));
  expect(compared.differences).toEqual([]);
  // What the chain made is there, so the comparison above compared something.
  const { left } = compared;
  expect(Object.keys(left.data!.rows)).toEqual(expect.arrayContaining(['knex.plant_notes', 'plant_events', 'plant_m', 'plant_side.t', 'plant_ticks', 'tickers']));
  expect(left.data!.sequenceState).toMatchObject({ plant_ticket_seq: 'last value 1000', plant_events_n_seq: 'last value 105', 'knex.plant_notes_id_seq': 'last value 1' });
  expect(left.settings).toEqual({ TimeZone: 'America/New_York', search_path: '"$user", public' });
  expect(Object.keys(left.functions)).toEqual(expect.arrayContaining(['knex.plant_count()', 'plant_kind_of(e plant_events)', 'plant_side.f()', 'plant_touch()']));
  expect(left.hypertables.find((h) => h.table === 'plant_ticks')).toMatchObject({ dimensions: ['ticker_id: hash, 4 partitions'], compression: { segmentBy: 'ticker_id' } });
  expect(left.hypertables.find((h) => h.table === 'plant_counts')).toMatchObject({ integerNow: 'plant_now' });
  expect(left.policies.filter((p) => p.on === 'plant_ticks')).toEqual([expect.objectContaining({ kind: 'compression' }),
    expect.objectContaining({ kind: 'retention', paused: true, maxRuntime: '00:10:00' })]);
  // The trigger, made after the rows, left them as they were written.
  expect(await withDatabase(fresh, async (c) => (await c.query('SELECT kind FROM plant_events ORDER BY id')).rows.map((r) => r.kind))).toEqual(['OPEN', 'Close']);
});

test('the baseline lints clean, as the replay of migrations linted when they were written', async () => {
  const report = lintRehearsal(await rehearse(await createTestDatabase('_sqc_lint'), { directory, eachSchema: true }), { directory });
  expect({ findings: report.findings, replays: report.replays }).toEqual({ findings: [], replays: ['9002_baseline.ts'] });
});

test("the baseline's down drops all it made, and it builds the same again", async () => {
  await rollback(fresh, true, { directory });
  const left = await withDatabase(fresh, readSchema);
  expect({ tables: left.tables.map((t) => t.name), schemas: left.schemas, views: left.views, functions: left.functions, sequences: left.sequences,
    settings: left.settings, grants: left.grants, policies: left.policies, enums: left.enums })
    .toEqual({ tables: [], schemas: [], views: {}, functions: {}, sequences: {}, settings: {}, grants: {}, policies: [], enums: {} });
  await applyMigrations(fresh, { directory });
  expect((await withDatabase(chain, (c) => withDatabase(fresh, (f) => compareSchemas(c, f, { data: true })))).differences).toEqual([]);
});

test('a database migrated before is carried past it, checked as the proof checks: rows kept', async () => {
  const rows = await withDatabase(before, fingerprint);
  await expect(carryForward(before, { directory })).resolves.toEqual([{ baseline: '9002_baseline.ts', squashed: result.squashed }]);
  expect(await withDatabase(before, fingerprint)).toEqual(rows);
  const report = await verify(before, { migrationsDirectory: directory });
  expect(report.differences.filter((d) => d.group === 'migrations')).toEqual([]);
});

test('a database that drifted (row-level security, a GRANT, a COMMENT, an invalid unique index, a schema with a table) is refused, each named with the SQL to look at it, and left as it was', async () => {
  await withDatabase(drifted, async (c) => {
    for (const sql of ['ALTER TABLE tickers ENABLE ROW LEVEL SECURITY', `GRANT UPDATE ON ohlcv TO ${role}`, "COMMENT ON TABLE ohlcv IS 'daily bars'",
      'CREATE SCHEMA side', 'CREATE TABLE side.scratch (x integer)', "INSERT INTO tickers (symbol, name) VALUES ('D1', 'Dup'), ('D2', 'Dup')"]) await c.query(sql);
    // Built CONCURRENTLY over duplicates, the unique index fails and stays behind, invalid.
    await expect(c.query('CREATE UNIQUE INDEX CONCURRENTLY tickers_name_key ON tickers (name)')).rejects.toThrow(/could not create unique index/);
  });
  const dump = schemaDump(drifted);
  const message = await refusal(carryForward(drifted, { directory }));
  for (const [named, sql] of [
    ['tickers: row-level security: missing in what they build, enabled in', 'SELECT relrowsecurity, relforcerowsecurity FROM pg_class'],
    [`database: grant on table ohlcv to ${role}: missing in what they build, UPDATE in`, 'SELECT relacl FROM pg_class'],
    ['database: comment on table ohlcv: missing in what they build, daily bars in', 'SELECT obj_description('],
    ['tickers: index tickers_name_key: missing in what they build, INVALID UNIQUE btree (name) in', 'indisvalid'],
    ['database: schema side: missing in what they build, present in', "WHERE n.nspname = 'side'"],
    ['side.scratch: table: missing in what they build, present in', "WHERE table_schema = 'side' AND table_name = 'scratch'"],
  ]) expect({ named, sql, found: message.includes(named) && message.includes(sql), message }).toEqual({ named, sql, found: true, message });
  expect(schemaDump(drifted)).toEqual(dump);
});

test('rolling back the last batch of a database carried past it is refused: the baseline stands for both batches', async () => {
  const dump = schemaDump(before);
  expect(await refusal(rollback(before, false, { directory }))).toMatch(/stands for \d+ migrations applied in 2 batches/);
  expect(schemaDump(before)).toEqual(dump);
});

test('db:migrate in production, with nothing pending, still carries the database past the squash', async () => {
  const r = await migrate(production, { migrationsDirectory: directory });
  expect(r).toEqual({ applied: [], carried: [{ baseline: '9002_baseline.ts', squashed: result.squashed }] });
});

test('a database part-way is refused, naming the commit to migrate with first, and left as it was', async () => {
  const dump = schemaDump(partway);
  const message = await refusal(carryForward(partway, { directory }));
  expect(message).toMatch(new RegExp(`applied ${result.squashed.length - 1} of the ${result.squashed.length} migrations 9002_baseline\\.ts replaced`));
  const beforeSquash = git(path.dirname(directory), 'rev-parse', '--short', 'HEAD~1').trim();
  expect(git(path.dirname(directory), 'rev-parse', '--short', message.match(/git checkout (\S+)/)![1]).trim()).toBe(beforeSquash);
  expect(schemaDump(partway)).toEqual(dump);
});
