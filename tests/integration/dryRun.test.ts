// `migrate --dry-run` prints the SQL of the pending migrations and changes nothing. (Production's
// migrate, which shows that plan and lints it first: e2e/rehearsal.test.ts.)
import { CONTRACT, TABLE_NAMES } from '../../db/contract';
import { status } from '../../scripts/status';
import { migrationFiles } from '../support/expected';
import { runInProcess } from '../support/inProcess';
import { publicTables } from '../support/schema';
import { createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

test('--dry-run prints each pending migration and its statements, and the database stays empty; --json gives the same as data', async () => {
  const db = await createTestDatabase('_dry');
  const r = await runInProcess('migrate', ['--dry-run'], { DATABASE_URL: db.url });
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  for (const f of migrationFiles()) expect(r.out).toContain(`kapman: ${f} (`);
  // Every table and hypertable of the contract is made by a statement shown, however the migrations write it (the builder, raw SQL, a baseline).
  for (const t of TABLE_NAMES) expect({ t, made: new RegExp(`\\ncreate table (public\\.)?"?${t}"? \\(`, 'i').test(r.out) }).toEqual({ t, made: true });
  for (const h of CONTRACT.hypertables) expect(r.out).toMatch(new RegExp(`\\nSELECT create_hypertable\\('(public\\.)?${h.table}', by_range\\('${h.timeColumn}'`));
  expect(r.out).not.toMatch(/knex_migrations|migration_checksums/);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual([]));
  expect((await status(db)).migrations.map(({ name, state }) => ({ name, state }))).toEqual(migrationFiles().map((name) => ({ name, state: 'pending' })));

  const json = await runInProcess('migrate', ['--dry-run', '--json'], { DATABASE_URL: db.url });
  expect(json.code).toBe(0);
  const plan = JSON.parse(json.out);
  expect(plan).toMatchObject({ database: db.database, dryRun: true, where: 'scratch database' });
  expect(plan.migrations.map((m: { file: string }) => m.file)).toEqual(migrationFiles());
  expect(plan.migrations.flatMap((m: { statements: string[] }) => m.statements).join(';\n')).toEqual(
    r.out.split('\n').filter((l: string) => !l.startsWith('kapman: ') && l).join('\n').replace(/;$/, ''));
});

