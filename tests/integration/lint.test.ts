// The lint: squawk and the TimescaleDB rules over what the rehearsed migrations send, and the
// rules on what each does. The repository's own migrations pass; a finding is silenced only with
// a reason, and only its rule; the command exits 35 on a finding, 10 when the rehearsal fails;
// production's migrate lints first and a finding stops it before anything changes.
// (Each TimescaleDB rule on a real hypertable: lintRules.test.ts; each rule on what a migration
// does: lintEffects.test.ts.) What the tests change is what no day-2 migration, view or squash
// changes or reads (tickers.sector, tables of their own), so that they hold after those too.
import { LintError } from '../../scripts/lib/cli/errors';
import { migrate } from '../../scripts/lib/migrations/deploy';
import { lint, lintRehearsal, printLintReport } from '../../scripts/lib/migrations/lint';
import { setQuiet } from '../../scripts/lib/cli/log';
import { Rehearsal, rehearse } from '../../scripts/lib/migrations/rehearse';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { status } from '../../scripts/status';
import { migrationFiles } from '../support/expected';
import { runInProcess } from '../support/inProcess';
import { migrationOf, migrationsFolder, releasedMigrations } from '../support/migrations';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, template, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

/** What `print` writes, as the commands write it. */
function printed_(print: () => void): string {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  setQuiet(false);
  try {
    print();
  } finally {
    setQuiet(true);
    spy.mockRestore();
  }
  return out;
}

// The scratch databases are copies of the run's migrated template, not built again each time.
const builtFrom = template().name;

let db: Settings;
beforeAll(async () => {
  db = await createMigratedDatabase('_lint');
});

test("the repository's own migrations pass the lint, rehearsed from an empty database", async () => {
  const empty = await createTestDatabase('_lint_base');
  const report = await lint(empty);
  expect(report.migrations).toEqual(migrationFiles());
  expect(report.findings).toEqual([]);
});

// One pending migration with two findings of different rules, rehearsed once for the tests that
// lint it with different comments (the lint reads the comments from the file).
const TWO_FINDINGS = ['ALTER TABLE tickers ALTER COLUMN sector TYPE varchar(100) USING upper(sector)', 'CREATE INDEX tickers_name_idx ON tickers (name)'];
let twoFindings: Promise<Rehearsal> | undefined;
const lintWithComments = async (comments: string[]) => lintRehearsal(
  await (twoFindings ??= rehearse(db, { directory: migrationsFolder({ ...releasedMigrations(), '9001_change.ts': migrationOf(TWO_FINDINGS) }), builtFrom, eachSchema: true })),
  { directory: migrationsFolder({ '9001_change.ts': migrationOf(TWO_FINDINGS, comments) }) });

test('a finding is silenced by a comment in the migration file that gives a reason; one without a reason silences nothing', async () => {
  expect((await lintWithComments([])).findings.map((f) => f.rule)).toContain('table-rewrite');
  const silenced = await lintWithComments(['// kapman-lint-ignore table-rewrite: tickers holds a few thousand rows']);
  expect(silenced.findings.map((f) => f.rule)).not.toContain('table-rewrite');
  expect(silenced.silenced).toEqual([expect.objectContaining({ rule: 'table-rewrite', reason: 'tickers holds a few thousand rows' })]);
  const bare = await lintWithComments(['// kapman-lint-ignore table-rewrite']);
  expect(bare.findings.map((f) => f.rule)).toEqual(expect.arrayContaining(['lint-ignore-without-reason', 'table-rewrite']));
});

test('a comment silences only the rule it names: of two findings of different rules, the other one stands, as it was', async () => {
  const all = (await lintWithComments([])).findings;
  expect(all.map((f) => [f.rule, f.statement])).toEqual([['table-rewrite', 1], ['require-concurrent-index-creation', 2]]);
  const one = await lintWithComments(['// kapman-lint-ignore require-concurrent-index-creation: tickers is small']);
  expect(one.findings).toEqual([all[0]]);
  expect(one.silenced).toEqual([{ ...all[1], reason: 'tickers is small' }]);
});

test('`kapman-db lint`: exit 35 naming the file, statement, rule, why and instead; nothing pending: exit 0', async () => {
  const directory = migrationsFolder({ ...releasedMigrations(), '9001_change.ts': migrationOf(['CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)']) });
  const refused = lint(db, { directory, builtFrom });
  await expect(refused).rejects.toMatchObject({ exitCode: 35, result: { findings: expect.arrayContaining([expect.objectContaining({
    migration: '9001_change.ts', statement: 1, rule: 'timescaledb-index-on-populated-hypertable', why: expect.stringMatching(/blocks inserts/), instead: expect.stringMatching(/transaction_per_chunk/),
  })]) } });
  await expect(refused).rejects.toBeInstanceOf(LintError);
  const ok = await runInProcess('lint', [], { DATABASE_URL: db.url });
  expect(ok).toMatchObject({ code: 0, out: expect.stringMatching(/nothing to lint: no migration pending/) });
});

test('a rehearsal that fails is reported as the failure (exit 10), never as "0 findings"', async () => {
  const directory = migrationsFolder({ ...releasedMigrations(), '9001_fails.ts': migrationOf(['CREATE TABLE probe_fine (x int)', 'INSERT INTO probe_missing VALUES (1)']) });
  await expect(lint(db, { directory, builtFrom })).rejects.toMatchObject({ exitCode: 10, result: { findings: [], failure: { migration: '9001_fails.ts' } } });
  const rehearsal = await rehearse(db, { directory, builtFrom, eachSchema: true });
  const printed = printed_(() => printLintReport(lintRehearsal(rehearsal, { directory })));
  expect(printed).not.toMatch(/0 findings/);
  expect(printed).toMatch(/^kapman: lint: not done, the rehearsal failed: migration 9001_fails\.ts \(up\) failed: .*probe_missing.*; what came after 9001_fails\.ts was not linted/m);
});

test("no noise on safe migrations: knex's t.increments() and smallint, an index on a hypertable the batch made (in a DO block), CONCURRENTLY's advice on a hypertable; a hand-written serial still gets prefer-identity", async () => {
  const directory = migrationsFolder({
    ...releasedMigrations(),
    '9001_watch.ts': `export async function up(knex: any) {
      await knex.schema.createTable('probe_watch', (t: any) => { t.increments('id'); t.smallint('rank'); t.string('symbol', 20); });
      await knex.raw('CREATE TABLE probe_ticks (time timestamptz NOT NULL, symbol text)');
      await knex.raw("DO $$ BEGIN PERFORM create_hypertable('probe_ticks', by_range('time')); END $$");
    }
    export async function down() {}`,
    '9002_ticks_index.ts': migrationOf(['CREATE INDEX probe_ticks_symbol_idx ON probe_ticks (symbol)', 'CREATE TABLE probe_serial (id serial PRIMARY KEY)']),
  });
  const report = lintRehearsal(await rehearse(db, { directory, builtFrom, eachSchema: true }), { directory });
  expect(report.findings.map((f) => `${f.migration} ${f.statement} ${f.rule}`)).toEqual(['9002_ticks_index.ts 2 prefer-identity']);
});

test('in production, a lint finding stops migrate before anything changes (exit 35)', async () => {
  const db = await createMigratedDatabase('_prod_lint');
  const released = releasedMigrations();
  const directory = migrationsFolder({ ...released, '9001_index_ohlcv.ts': migrationOf(['CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)']) });
  const production = loadSettings({ env: 'production', databaseUrl: db.url });
  const refused = migrate(production, { migrationsDirectory: directory });
  await expect(refused).rejects.toBeInstanceOf(LintError);
  await expect(refused).rejects.toMatchObject({ exitCode: 35 });
  expect((await status(production, { migrationsDirectory: directory })).migrations.filter((m) => m.state === 'pending').map((m) => m.name)).toEqual(['9001_index_ohlcv.ts']);
  await withDatabase(db, async (c) => expect((await c.query("SELECT to_regclass('ohlcv_volume_idx') AS i")).rows[0].i).toBeNull());
  // The development environment applies it without a lint: the lint guards production.
  expect((await migrate(loadSettings({ env: 'test', databaseUrl: db.url }), { migrationsDirectory: directory })).applied).toEqual(['9001_index_ohlcv.ts']);
});
