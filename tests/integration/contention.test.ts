// Migrations under contention and faults: concurrent runs apply once, a failed batch
// leaves the previous version and releases knex's lock.
import { MigrationFailedError } from '../../scripts/lib/cli/errors';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { Settings } from '../../scripts/lib/server/settings';
import { startScript } from '../support/cli';
import { CREATES_TABLE_A, FAILS_HALF_WAY, migrationsFolder } from '../support/migrations';
import { publicTables } from '../support/schema';
import { createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

const appliedNames = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT name FROM knex.knex_migrations ORDER BY id')).rows.map((r) => r.name));
const lockState = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT is_locked FROM knex.knex_migrations_lock')).rows.map((r) => r.is_locked));

test('two migrate:latest runs at the same moment apply the migrations once, and both succeed', async () => {
  const db = await createTestDatabase('_race');
  const [a, b] = await Promise.all([migrateLatest(db), migrateLatest(db)]);
  expect([a.length, b.length].sort()).toEqual([0, 8]);
  expect(await appliedNames(db)).toHaveLength(8);
});

test('two db:migrate processes at the same moment: both exit 0, migrations applied once', async () => {
  const db = await createTestDatabase('_race2');
  const runs = await Promise.all([1, 2].map(() => startScript('migrate', [], { DATABASE_URL: db.url })));
  expect(runs.map((r) => r.code)).toEqual([0, 0]);
  expect(await appliedNames(db)).toHaveLength(8);
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
