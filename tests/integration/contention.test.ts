// Migrations under contention and faults: concurrent runs apply once, a failed batch
// leaves the previous version and releases knex's lock, a COMMIT inside the batch is refused
// unsent, a connection lost mid-migration is said plainly.
import fs from 'fs';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { ConnectionLostError, MigrationFailedError } from '../../scripts/lib/cli/errors';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { Settings } from '../../scripts/lib/server/settings';
import { verify } from '../../scripts/lib/schema/verify';
import { CREATES_TABLE_A, FAILS_HALF_WAY, migrationOf, migrationsFolder } from '../support/migrations';
import { publicTables } from '../support/schema';
import { admin, createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

const MIGRATION_FILES = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.ts'));
const readMigration = (f: string) => fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8');

const appliedNames = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT name FROM knex.knex_migrations ORDER BY id')).rows.map((r) => r.name));
const lockState = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT is_locked FROM knex.knex_migrations_lock')).rows.map((r) => r.is_locked));

test('two migrate:latest runs at the same moment apply the migrations once, and both succeed', async () => {
  const db = await createTestDatabase('_race');
  // The first migration takes half a second, so the two runs overlap whichever starts first.
  const dir = migrationsFolder({
    '0001_slow.ts': "export async function up(knex: any) { await knex.raw('SELECT pg_sleep(0.5)'); }\nexport async function down() {}\n",
    '0002_creates_a.ts': CREATES_TABLE_A,
  });
  const [a, b] = await Promise.all([migrateLatest(db, { directory: dir }), migrateLatest(db, { directory: dir })]);
  expect([a, b].sort()).toEqual([[], ['0001_slow.ts', '0002_creates_a.ts']]);
  expect(await appliedNames(db)).toEqual(['0001_slow.ts', '0002_creates_a.ts']);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual(['a']));
});

test('a batch that fails part-way leaves the database exactly at the previous version, and the lock free', async () => {
  const db = await createTestDatabase('_atomic');
  const first = migrationsFolder({ '0001_creates_a.ts': CREATES_TABLE_A });
  expect(await migrateLatest(db, { directory: first })).toEqual(['0001_creates_a.ts']);

  const second = migrationsFolder({
    '0001_creates_a.ts': CREATES_TABLE_A,
    '0002_also_creates_c.ts': CREATES_TABLE_A.replace(/'a'/g, "'c'"),
    '0003_fails_half_way.ts': FAILS_HALF_WAY,
  });
  await expect(migrateLatest(db, { directory: second })).rejects.toBeInstanceOf(MigrationFailedError);

  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual(['a']));
  expect(await appliedNames(db)).toEqual(['0001_creates_a.ts']);
  expect(await lockState(db)).toEqual([0]);

  // The next run proceeds: with the failing file fixed, it applies the rest.
  const fixed = migrationsFolder({
    '0001_creates_a.ts': CREATES_TABLE_A,
    '0002_also_creates_c.ts': CREATES_TABLE_A.replace(/'a'/g, "'c'"),
    '0003_fails_half_way.ts': CREATES_TABLE_A.replace(/'a'/g, "'b'"),
  });
  expect(await migrateLatest(db, { directory: fixed })).toEqual(['0002_also_creates_c.ts', '0003_fails_half_way.ts']);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual(['a', 'b', 'c']));
});

test('a migration that sends COMMIT inside its batch\'s transaction is refused before the COMMIT is sent: nothing of the batch stays, the lock is free', async () => {
  const db = await createTestDatabase('_commit');
  expect(await migrateLatest(db, { directory: migrationsFolder({ '0001_creates_a.ts': CREATES_TABLE_A }) })).toEqual(['0001_creates_a.ts']);
  const dir = migrationsFolder({
    '0001_creates_a.ts': CREATES_TABLE_A,
    '0002_commits.ts': migrationOf(['CREATE TABLE b (y integer)', 'COMMIT', 'CREATE TABLE c (z integer)']),
  });
  const err = await migrateLatest(db, { directory: dir }).then(() => undefined, (e: Error) => e);
  expect(err).toBeInstanceOf(MigrationFailedError);
  expect(err!.message).toMatch(/"COMMIT" would end the transaction 0002_commits\.ts runs in[^]*refused, not sent/);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual(['a']));
  expect(await appliedNames(db)).toEqual(['0001_creates_a.ts']);
  expect(await lockState(db)).toEqual([0]);
});

test('a connection lost in the middle of a migration is exit 4 "lost while applying", not "fix the file"; the database stays at its previous version', async () => {
  const db = await createMigratedDatabase('_lost');
  const dir = migrationsFolder({ ...Object.fromEntries(MIGRATION_FILES.map((f) => [f, readMigration(f)])),
    '0009_sleeps.ts': "export async function up(knex: any) { await knex.raw('SELECT pg_sleep(30)'); }\nexport async function down() {}\n" });
  const run = migrateLatest(db, { directory: dir }).catch((e: Error) => e);
  await admin(async (c) => {
    for (let i = 0; i < 100; i++) {
      const { rows } = await c.query("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()", [db.database]);
      if (rows.length) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  const err = await run;
  expect(err).toBeInstanceOf(ConnectionLostError);
  expect((err as ConnectionLostError).exitCode).toBe(4);
  expect((err as Error).message).toMatch(/lost while applying 0009_sleeps\.ts/);
  expect((await verify(db, { empty: true })).ok).toBe(true);
});
