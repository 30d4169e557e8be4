// Slow (a scratch database built and dropped per rehearsal, a role of its own): the rehearsal's
// other paths (from an empty database, named migrations, a role that may not create a database),
// and production's migrate, which shows the plan and lints it before it applies it (a finding
// stopping it: lint.test.ts).
import { escapeIdentifier } from 'pg';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { loadSettings } from '../../scripts/lib/server/settings';
import { status } from '../../scripts/status';
import { migrationFiles } from '../support/expected';
import { runInProcess } from '../support/inProcess';
import { databasesLike } from '../support/schema';
import {
  admin, createMigratedDatabase, createTestDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, testSettings, uniqueName, urlAs, withDatabase,
} from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

test('an empty database: every migration is rehearsed on a scratch database, in order, without knex bookkeeping; nothing is left behind', async () => {
  const db = await createTestDatabase('_rh_empty');
  const r = await rehearse(db);
  expect(r.where).toBe('scratch database');
  expect(r.migrations.map((m) => m.file)).toEqual(migrationFiles());
  const all = r.migrations.flatMap((m) => m.statements);
  expect(all.filter((s) => /"knex"|knex_migrations|migration_checksums/.test(s))).toEqual([]);
  expect(r.migrations.find((m) => m.file.includes('ohlcv'))!.statements).toContainEqual(expect.stringMatching(/create_hypertable\('ohlcv'/));
  expect(r.before.tables).toEqual([]);
  expect(r.after!.hypertables.map((h) => h.table)).toContain('ohlcv');
  expect(r.failure).toBeUndefined();
  await withDatabase(db, async (c) => expect((await c.query("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace")).rows[0].n).toBe(0));
  expect(r.scratch).toMatch(/^kapman_scratch_/);
  expect(await admin((c) => databasesLike(c, r.scratch!))).toEqual([]);
});


test('named migrations: the files before them are built first, and only theirs are reported', async () => {
  const db = await createMigratedDatabase('_rh_named');
  const files = migrationFiles();
  const r = await rehearse(db, { only: [files[3]] });
  expect(r.migrations.map((m) => m.file)).toEqual([files[3]]);
  expect(r.before.tables.length).toBeGreaterThan(0);
  expect(r.before.tables.length).toBeLessThan(r.after!.tables.length);
});


test('a role that may not create a database: the pending migrations run on a throwaway local server, never on the target', async () => {
  const role = await createTestRole('rh_nocreate');
  const name = remember(uniqueName('_rh_managed'));
  // As on a managed server: the platform installed timescaledb, the role owns the database.
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)} TEMPLATE template0`));
  const db = loadSettings({ env: 'test', databaseUrl: urlAs(role, name) });
  await withDatabase(testSettings(name), (c) => c.query('CREATE EXTENSION timescaledb'));
  const r = await rehearse(db);
  expect(r.where).toBe('throwaway local server');
  expect(r.migrations.map((m) => m.file)).toEqual(migrationFiles());
  await withDatabase(db, async (c) => {
    expect((await c.query("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace")).rows[0].n).toBe(0);
    expect((await c.query("SELECT to_regnamespace('knex') AS k")).rows[0].k).toBeNull();
  });
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
  expect((await status(production)).migrations.filter((m) => m.state !== 'applied')).toEqual([]);
});


test('`kapman-db lint` names migrations, applied or not: 0004 creates ohlcv and makes it a hypertable, and passes', async () => {
  const db = await createMigratedDatabase('_lint_named');
  const named = await runInProcess('lint', ['--json', 'db/migrations/0004_ohlcv.ts'], { DATABASE_URL: db.url });
  expect(named.code).toBe(0);
  expect(JSON.parse(named.out)).toMatchObject({ migrations: ['0004_ohlcv.ts'], findings: [] });
});
