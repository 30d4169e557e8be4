// The committed schema snapshot and diagram are exactly what the migrations build;
// db:status tells applied from pending.
import fs from 'fs';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { erdFilesOf, SCHEMA_DOC } from '../../scripts/erd';
import { SCHEMA_SQL } from '../../scripts/schema-dump';
import { identQuoter, schemaSqlOf, schemaStatements } from '../../scripts/lib/schema/render';
import { diffSchema } from '../../scripts/lib/schema/drift';
import { reconcileExpressions } from '../../scripts/lib/schema/expressions';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { requireAllApplied, status, statusLines } from '../../scripts/status';
import { MigrationsNotAppliedError } from '../../scripts/lib/cli/errors';
import { Settings } from '../../scripts/lib/server/settings';
import { migrationsFolder } from '../support/migrations';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { requireCommunityBuild } from '../support/timescaleEdition';

// Rendered and read from one copy of the run's template, which the migrations built (nothing
// here writes to it); the commands build a scratch database instead (run end to end by
// tests/e2e/readme.test.ts and kapmanDb.test.ts).
let migrated: Settings;
beforeAll(async () => {
  migrated = await createMigratedDatabase('_snap');
});
afterAll(dropMadeDatabases);

test('db/schema.sql is what the migrations build (run `npm run db:schema:dump` when a migration changes)', async () => {
  const text = await withDatabase(migrated, schemaSqlOf);
  expect(text).toMatch(/CREATE TABLE public\.ohlcv \(/);
  expect(text).toMatch(/SELECT create_hypertable\('public\.ohlcv'/);
  expect(fs.readFileSync(SCHEMA_SQL, 'utf8')).toEqual(text);
});

test('docs/schema.md is current (run `npm run db:erd` when a migration changes)', async () => {
  const files = erdFilesOf(await withDatabase(migrated, readSchema));
  expect(Object.keys(files)).toEqual([SCHEMA_DOC]);
  for (const [file, text] of Object.entries(files)) {
    expect(text).toMatch(/erDiagram[\s\S]*tickers \|\|--o\{ ohlcv : "ticker_id"/);
    expect({ file, text: fs.readFileSync(file, 'utf8') }).toEqual({ file, text });
  }
});

test('db/schema.sql and the diagram show compression, policies, views and other schemas, and its statements build them', async () => {
  const source = await createMigratedDatabase('_snap_tsl');
  await withDatabase(source, async (c) => {
    await requireCommunityBuild(c);
    // On a hypertable of the test's own like ohlcv: the project's migrations may have given ohlcv its policies already.
    for (const sql of ['CREATE TABLE probe_bars (ticker_id uuid NOT NULL REFERENCES tickers (id), date date NOT NULL, close numeric, PRIMARY KEY (ticker_id, date))',
      "SELECT create_hypertable('probe_bars', by_range('date', INTERVAL '365 days'))",
      "ALTER TABLE probe_bars SET (timescaledb.compress, timescaledb.compress_segmentby = 'ticker_id', timescaledb.compress_orderby = 'date DESC')",
      "SELECT add_retention_policy('probe_bars', INTERVAL '730 days')", "SELECT add_compression_policy('probe_bars', INTERVAL '120 days')",
      "SELECT alter_job(add_reorder_policy('probe_bars', 'probe_bars_pkey'), scheduled => false)",
      'CREATE VIEW v_closes AS SELECT t.symbol, o.date, o.close FROM probe_bars o JOIN tickers t ON t.id = o.ticker_id',
      'CREATE SCHEMA b4_1', 'CREATE TABLE b4_1.sequences (id bigint PRIMARY KEY, ticker_id uuid REFERENCES public.tickers (id))',
      `CREATE MATERIALIZED VIEW weekly_close WITH (timescaledb.continuous) AS SELECT ticker_id, time_bucket('7 days', date) AS week, max(close)
         FROM probe_bars GROUP BY 1, 2 WITH NO DATA`,
      "SELECT add_continuous_aggregate_policy('weekly_close', start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour')"]) {
      await c.query(sql);
    }
  });
  const live = await withDatabase(source, readSchema);
  const text = await withDatabase(source, schemaSqlOf);
  expect(text).toContain("SELECT add_retention_policy('public.probe_bars', drop_after => INTERVAL '730 days', schedule_interval => INTERVAL '1 day');");
  expect(text).toContain('CREATE VIEW public.v_closes AS SELECT t.symbol,');
  expect(text).toContain('CREATE TABLE b4_1.sequences (');
  const diagram = Object.values(erdFilesOf(live)).join('\n');
  expect(diagram).toMatch(/probe_bars \{\n[^}]*date date PK "[^"]*compressed by ticker_id ordered by date DESC;[^"]*retention policy \(drop_after: 730 days, every 1 day\)/);
  expect(diagram).toMatch(/^ {4}"b4_1\.sequences" \{$/m);
  expect(diagram).toMatch(/Views: `v_closes`/);
  // Run on an empty database, the statements build what they were read from.
  const built = await createTestDatabase('_snap_built');
  await withDatabase(built, async (c) => {
    for (const sql of schemaStatements(live, await identQuoter(c, live)).flat()) await c.query(sql);
  });
  // A CHECK on a varchar IN list reads back otherwise, meaning the same (expressions.ts).
  const again = await withDatabase(built, async (c) => reconcileExpressions(c, live, await readSchema(c)));
  expect(diffSchema(live, again)).toEqual([]);
  expect(diffSchema(again, live)).toEqual([]);
});

test('db:status lists pending, applied and edited migrations', async () => {
  const empty = await createTestDatabase('_status');
  const files = fs.readdirSync(MIGRATIONS_DIR).sort();
  const states = async (s: Settings) => (await status(s)).migrations.map(({ name, state }) => ({ name, state }));
  expect(await states(empty)).toEqual(files.map((name) => ({ name, state: 'pending' })));
  const db = migrated; // what migrating it gives, without the migrating
  expect(await states(db)).toEqual(files.map((name) => ({ name, state: 'applied' })));

  const sources = Object.fromEntries(files.map((f) => [f, fs.readFileSync(`${MIGRATIONS_DIR}/${f}`, 'utf8')]));
  const last = files[files.length - 1];
  const edited = migrationsFolder({ ...sources, [last]: `${sources[last]}\n// edited\n`, '9999_later.ts': 'export async function up() {}\nexport async function down() {}\n' });
  const after = (await status(db, { migrationsDirectory: edited })).migrations;
  expect(after.filter((s) => s.state !== 'applied').map(({ name, state }) => ({ name, state }))).toEqual([
    { name: last, state: 'edited since applied' },
    { name: '9999_later.ts', state: 'pending' },
  ]);
});

test('status --check on an applied migration whose file was edited since: it shows [!] and exits 29; as applied, it passes', async () => {
  const files = fs.readdirSync(MIGRATIONS_DIR).sort();
  const sources = Object.fromEntries(files.map((f) => [f, fs.readFileSync(`${MIGRATIONS_DIR}/${f}`, 'utf8')]));
  const asApplied = await status(migrated, { migrationsDirectory: migrationsFolder(sources) });
  expect(() => requireAllApplied(asApplied)).not.toThrow();

  const edited = await status(migrated, { migrationsDirectory: migrationsFolder({ ...sources, [files[0]]: `${sources[files[0]]}\n// edited\n` }) });
  expect(statusLines(edited)).toContainEqual(expect.stringMatching(new RegExp(`^\\[!\\] ${files[0]} \\(edited since applied[;)]`)));
  let refusal: unknown;
  try {
    requireAllApplied(edited);
  } catch (err) {
    refusal = err;
  }
  expect(refusal).toBeInstanceOf(MigrationsNotAppliedError);
  expect(refusal).toMatchObject({ exitCode: 29, message: `${migrated.database}: 0 pending, 1 edited or missing`, hint: expect.stringMatching(/edited \[!\]/) });
});
