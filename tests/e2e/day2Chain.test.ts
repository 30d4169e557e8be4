// Slow (a dozen migrations up, down and up again on TimescaleDB's community build): the day-2
// fixtures other tests replay are a real chain: each down undoes its up, as the reader sees it.
import { applyMigrations, rollback } from '../../scripts/lib/migrations/migrate';
import { diffSchema } from '../../scripts/lib/schema/drift';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { reconcileExpressions } from '../../scripts/lib/schema/expressions';
import { day2Migrations, migrationsFolder, releasedMigrations } from '../support/migrations';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { requireCommunityBuild } from '../support/timescaleEdition';

afterAll(dropMadeDatabases);

test('the day-2 chain applies on the released migrations, rolls back to them, and applies again alike', async () => {
  const db = await createMigratedDatabase('_day2');
  await withDatabase(db, requireCommunityBuild);
  const directory = migrationsFolder({ ...releasedMigrations(), ...day2Migrations() });
  const before = await withDatabase(db, (c) => readSchema(c));
  expect(await applyMigrations(db, { directory })).toEqual(Object.keys(day2Migrations()));
  const after = await withDatabase(db, (c) => readSchema(c));
  expect(after.policies.map((p) => `${p.kind} ${p.on}`)).toEqual(['compression ohlcv', 'retention ohlcv', 'compression options_chains', 'retention options_chains']);
  expect(Object.keys(after.views)).toHaveLength(5);
  expect(after.schemas).toEqual([]); // 0015 dropped b4_1
  expect(await rollback(db, false, { directory })).toEqual(Object.keys(day2Migrations()).reverse());
  const back = await withDatabase(db, async (c) => reconcileExpressions(c, before, await readSchema(c)));
  expect(diffSchema(before, back)).toEqual([]);
  await applyMigrations(db, { directory });
  const again = await withDatabase(db, async (c) => reconcileExpressions(c, after, await readSchema(c)));
  expect(diffSchema(after, again)).toEqual([]);
});
