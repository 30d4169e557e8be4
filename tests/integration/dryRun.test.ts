// `migrate --dry-run` prints the SQL of the pending migrations and changes nothing; in
// production `migrate` shows that plan and lints it before anything changes.
import fs from 'fs';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { LintError } from '../../scripts/lib/cli/errors';
import { migrate } from '../../scripts/lib/migrations/deploy';
import { loadSettings } from '../../scripts/lib/server/settings';
import { status } from '../../scripts/status';
import { migrationFiles } from '../support/expected';
import { runInProcess } from '../support/inProcess';
import { migrationsFolder } from '../support/migrations';
import { publicTables } from '../support/schema';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

test('--dry-run prints each pending migration and its statements, and the database stays empty; --json gives the same as data', async () => {
  const db = await createTestDatabase('_dry');
  const r = await runInProcess('migrate', ['--dry-run'], { DATABASE_URL: db.url });
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  for (const f of migrationFiles()) expect(r.out).toContain(`kapman: ${f} (`);
  expect(r.out).toMatch(/\ncreate table "tickers" \([^\n]*"symbol" varchar\(20\) not null[^\n]*\);\n/);
  expect(r.out).toContain("\nSELECT create_hypertable('ohlcv', by_range('date', INTERVAL '365 days'));\n");
  expect(r.out).not.toMatch(/knex_migrations|migration_checksums/);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual([]));
  expect(await status(db)).toEqual(migrationFiles().map((name) => ({ name, state: 'pending' })));

  const json = await runInProcess('migrate', ['--dry-run', '--json'], { DATABASE_URL: db.url });
  expect(json.code).toBe(0);
  const plan = JSON.parse(json.out);
  expect(plan).toMatchObject({ database: db.database, dryRun: true, where: 'scratch database' });
  expect(plan.migrations.map((m: { file: string }) => m.file)).toEqual(migrationFiles());
  expect(plan.migrations.flatMap((m: { statements: string[] }) => m.statements).join(';\n')).toEqual(
    r.out.split('\n').filter((l: string) => !l.startsWith('kapman: ') && l).join('\n').replace(/;$/, ''));
});

test('in production, migrate prints the plan and lints it, then applies it', async () => {
  const db = await createTestDatabase('_prod_plan');
  const production = loadSettings({ env: 'production', databaseUrl: db.url });
  const r = await runInProcess('migrate', [], { DATABASE_URL: db.url, NODE_ENV: 'production' });
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  const [plan, linted, applied] = [r.out.indexOf('create table "tickers"'), r.out.indexOf('lint: 0 findings'), r.out.indexOf(`${migrationFiles().length} migrations applied`)];
  expect(plan).toBeGreaterThan(0);
  expect(linted).toBeGreaterThan(plan);
  expect(applied).toBeGreaterThan(linted);
  expect((await status(production)).filter((m) => m.state !== 'applied')).toEqual([]);
});

test('in production, a lint finding stops migrate before anything changes (exit 35)', async () => {
  const db = await createMigratedDatabase('_prod_lint');
  const released = Object.fromEntries(migrationFiles().map((f) => [f, fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8')]));
  const directory = migrationsFolder({ ...released, '9001_index_ohlcv.ts': `
export async function up(knex: any) { await knex.raw('CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)'); }
export async function down(knex: any) { await knex.raw('DROP INDEX ohlcv_volume_idx'); }
` });
  const production = loadSettings({ env: 'production', databaseUrl: db.url });
  const refused = migrate(production, { migrationsDirectory: directory });
  await expect(refused).rejects.toBeInstanceOf(LintError);
  await expect(refused).rejects.toMatchObject({ exitCode: 35 });
  expect((await status(production, { migrationsDirectory: directory })).filter((m) => m.state === 'pending').map((m) => m.name)).toEqual(['9001_index_ohlcv.ts']);
  await withDatabase(db, async (c) => expect((await c.query("SELECT to_regclass('ohlcv_volume_idx') AS i")).rows[0].i).toBeNull());
  // The development environment applies it without a lint: the lint guards production.
  expect(await migrate(loadSettings({ env: 'test', databaseUrl: db.url }), { migrationsDirectory: directory })).toEqual(['9001_index_ohlcv.ts']);
});
