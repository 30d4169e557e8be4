// The lint: squawk and the TimescaleDB rules over what the rehearsed migrations send. Each
// TimescaleDB rule fires on the real ohlcv hypertable of a migrated database and stays quiet on
// a safe change; the repository's own migrations pass; a finding is silenced only with a reason.
import fs from 'fs';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { LintError } from '../../scripts/lib/cli/errors';
import { lint, LintFinding, LintReport, lintRehearsal } from '../../scripts/lib/migrations/lint';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { TIMESCALE_RULES } from '../../scripts/lib/migrations/timescaleRules';
import { Settings } from '../../scripts/lib/server/settings';
import { migrationFiles } from '../support/expected';
import { runInProcess } from '../support/inProcess';
import { migrationsFolder } from '../support/migrations';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases } from '../support/testDatabase';

afterAll(dropMadeDatabases);

const released = () => Object.fromEntries(migrationFiles().map((f) => [f, fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8')]));

/** A pending migration of raw statements, after the released ones, with optional comment lines. */
const migrationOf = (statements: string[], comments: string[] = []) => `${comments.join('\n')}
export async function up(knex: any) {
${statements.map((s) => `  await knex.raw(${JSON.stringify(s)});`).join('\n')}
}
export async function down() {}
`;

async function lintOf(db: Settings, statements: string[]): Promise<LintReport> {
  const directory = migrationsFolder({ ...released(), '9001_change.ts': migrationOf(statements) });
  return lintRehearsal(await rehearse(db, { directory }), { directory });
}

/** Rule -> the statement numbers (from 1) it fired on. */
const firedOn = (findings: LintFinding[]) => {
  const out: Record<string, number[]> = {};
  for (const f of findings.filter((x) => x.source === 'timescaledb')) (out[f.rule] ??= []).push(f.statement);
  return out;
};

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

test('on the live ohlcv hypertable, each rule that a migration can pass fires on its statement', async () => {
  const report = await lintOf(db, [
    'CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)',
    'ALTER TABLE ohlcv ALTER COLUMN close TYPE float8',
    "SELECT create_hypertable('options_chains', by_range('time'))",
    "SELECT set_chunk_time_interval('ohlcv', INTERVAL '30 days')",
    'ALTER TABLE tickers ADD COLUMN probe_required text NOT NULL',
  ]);
  expect(report.failure).toBeUndefined();
  expect(firedOn(report.findings)).toEqual({
    'timescaledb-index-on-populated-hypertable': [1],
    'timescaledb-hypertable-rewrite': [2],
    'timescaledb-create-hypertable-without-migrate-data': [3],
    'timescaledb-chunk-interval-change': [4],
  });
  const index = report.findings.find((f) => f.rule === 'timescaledb-index-on-populated-hypertable')!;
  expect(index).toMatchObject({ migration: '9001_change.ts', sql: 'CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)', instead: expect.stringContaining('transaction_per_chunk') });
  // squawk's advice for the same statement (build it CONCURRENTLY) is wrong on a hypertable, and left out.
  expect(report.findings.filter((f) => f.statement === 1 && f.rule === 'require-concurrent-index-creation')).toEqual([]);
  // squawk's own rules still speak where they apply.
  expect(report.findings.filter((f) => f.source === 'squawk')).toContainEqual(expect.objectContaining({ rule: 'adding-required-field', statement: 5 }));
});

test('a unique index without the time column and CONCURRENTLY on a hypertable fire, though TimescaleDB refuses both in the rehearsal', async () => {
  const unique = await lintOf(db, ['CREATE UNIQUE INDEX ohlcv_close_key ON ohlcv (ticker_id, close)']);
  expect(firedOn(unique.findings)['timescaledb-unique-without-time-column']).toEqual([1]);
  expect(unique.failure?.message).toMatch(/used in partitioning/);
  const concurrent = await lintOf(db, ['CREATE INDEX CONCURRENTLY ohlcv_close_idx ON ohlcv (close)']);
  expect(firedOn(concurrent.findings)).toEqual({ 'timescaledb-concurrent-index': [1] });
  expect(concurrent.findings.find((f) => f.source === 'timescaledb')!.instead).toMatch(/transaction_per_chunk/);
});

test('the safe counterparts stay quiet: key with the time column, a plain table, a hypertable made in the same migration, a column added without a rewrite, migrate_data', async () => {
  const report = await lintOf(db, [
    'CREATE UNIQUE INDEX ohlcv_close_key ON ohlcv (ticker_id, date, close)',
    'CREATE TABLE probe_quotes (time timestamptz NOT NULL, symbol text NOT NULL, price numeric)',
    "SELECT create_hypertable('probe_quotes', by_range('time', INTERVAL '7 days'))",
    'CREATE INDEX probe_quotes_symbol_idx ON probe_quotes (symbol, time DESC)',
    "SELECT set_chunk_time_interval('probe_quotes', INTERVAL '30 days')",
    'ALTER TABLE ohlcv ADD COLUMN note text',
    'CREATE INDEX tickers_name_idx ON tickers (name)',
    "SELECT create_hypertable('options_chains', by_range('time'), migrate_data => true)",
  ]);
  expect(report.failure).toBeUndefined();
  // Only the first statement is an index on the populated hypertable: that rule alone may speak, there.
  expect(firedOn(report.findings)).toEqual({ 'timescaledb-index-on-populated-hypertable': [1] });
});

test('every TimescaleDB rule is among those exercised above', () => {
  expect(TIMESCALE_RULES.map((r) => r.name).sort()).toEqual([
    'timescaledb-chunk-interval-change', 'timescaledb-concurrent-index', 'timescaledb-create-hypertable-without-migrate-data',
    'timescaledb-hypertable-rewrite', 'timescaledb-index-on-populated-hypertable', 'timescaledb-unique-without-time-column',
  ]);
});

test('a finding is silenced by a comment in the migration file that gives a reason; one without a reason silences nothing', async () => {
  const statements = ['ALTER TABLE ohlcv ALTER COLUMN volume TYPE numeric'];
  const rehearsal = await rehearse(db, { directory: migrationsFolder({ ...released(), '9001_change.ts': migrationOf(statements) }) });
  // The same migration with a comment: the lint reads it from the file.
  const withComment = (comment: string) => lintRehearsal(rehearsal, { directory: migrationsFolder({ '9001_change.ts': migrationOf(statements, [comment]) }) });
  expect(lintRehearsal(rehearsal, { directory: migrationsFolder({ '9001_change.ts': migrationOf(statements) }) }).findings.map((f) => f.rule)).toContain('timescaledb-hypertable-rewrite');
  const silenced = withComment('// kapman-lint-ignore timescaledb-hypertable-rewrite: ohlcv is empty until the first backfill');
  expect(silenced.findings.filter((f) => f.source !== 'squawk')).toEqual([]);
  expect(silenced.silenced).toEqual([expect.objectContaining({ rule: 'timescaledb-hypertable-rewrite', reason: 'ohlcv is empty until the first backfill' })]);
  const bare = withComment('// kapman-lint-ignore timescaledb-hypertable-rewrite');
  expect(bare.findings.map((f) => f.rule)).toEqual(expect.arrayContaining(['lint-ignore-without-reason', 'timescaledb-hypertable-rewrite']));
});

test('`kapman-db lint`: exit 35 naming the file, statement, rule, why and instead; nothing pending: exit 0', async () => {
  const directory = migrationsFolder({ ...released(), '9001_change.ts': migrationOf(['CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)']) });
  const refused = lint(db, { directory });
  await expect(refused).rejects.toMatchObject({ exitCode: 35, result: { findings: expect.arrayContaining([expect.objectContaining({
    migration: '9001_change.ts', statement: 1, rule: 'timescaledb-index-on-populated-hypertable', why: expect.stringMatching(/blocks inserts/), instead: expect.stringMatching(/transaction_per_chunk/),
  })]) } });
  await expect(refused).rejects.toBeInstanceOf(LintError);
  const ok = await runInProcess('lint', [], { DATABASE_URL: db.url });
  expect(ok).toMatchObject({ code: 0, out: expect.stringMatching(/nothing to lint: no migration pending/) });
  const named = await runInProcess('lint', ['--json', 'db/migrations/0004_ohlcv.ts'], { DATABASE_URL: db.url });
  expect(named.code).toBe(0);
  expect(JSON.parse(named.out)).toMatchObject({ migrations: ['0004_ohlcv.ts'], findings: [] });
});
