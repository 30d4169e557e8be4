// The lint: squawk and the TimescaleDB rules over what the rehearsed migrations send. The
// repository's own migrations pass; a finding is silenced only with a reason; the command exits
// 35 on a finding. (Each TimescaleDB rule on a real hypertable: lintRules.test.ts.)
import { LintError } from '../../scripts/lib/cli/errors';
import { lint, lintRehearsal } from '../../scripts/lib/migrations/lint';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { Settings } from '../../scripts/lib/server/settings';
import { migrationFiles } from '../support/expected';
import { runInProcess } from '../support/inProcess';
import { migrationOf, migrationsFolder, releasedMigrations } from '../support/migrations';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases } from '../support/testDatabase';

afterAll(dropMadeDatabases);





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

test('a finding is silenced by a comment in the migration file that gives a reason; one without a reason silences nothing', async () => {
  const statements = ['ALTER TABLE ohlcv ALTER COLUMN volume TYPE numeric'];
  const rehearsal = await rehearse(db, { directory: migrationsFolder({ ...releasedMigrations(), '9001_change.ts': migrationOf(statements) }) });
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
  const directory = migrationsFolder({ ...releasedMigrations(), '9001_change.ts': migrationOf(['CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)']) });
  const refused = lint(db, { directory });
  await expect(refused).rejects.toMatchObject({ exitCode: 35, result: { findings: expect.arrayContaining([expect.objectContaining({
    migration: '9001_change.ts', statement: 1, rule: 'timescaledb-index-on-populated-hypertable', why: expect.stringMatching(/blocks inserts/), instead: expect.stringMatching(/transaction_per_chunk/),
  })]) } });
  await expect(refused).rejects.toBeInstanceOf(LintError);
  const ok = await runInProcess('lint', [], { DATABASE_URL: db.url });
  expect(ok).toMatchObject({ code: 0, out: expect.stringMatching(/nothing to lint: no migration pending/) });
});
