// The migrations alone build the MVP schema: exactly, repeatably, reversibly.
import { CONTRACT, TABLE_NAMES } from '../../db/contract';
import fs from 'fs';
import { FORMER_CHECKSUMS, MigrationFiles, squashedDirOf } from '../../db/migrationSource';
import { migrateLatest, rollback } from '../../scripts/lib/migrations/migrate';
import { status } from '../../scripts/status';
import { Settings } from '../../scripts/lib/server/settings';
import { verify } from '../../scripts/lib/schema/verify';
import { diffSchema } from '../../scripts/lib/schema/drift';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { contractForeignKeys, migrationFiles } from '../support/expected';
import { publicTables, publicTypes, schemaDump } from '../support/schema';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, template, withDatabase } from '../support/testDatabase';

const TABLES = [...TABLE_NAMES].sort();

let db: Settings;
beforeAll(async () => {
  db = await createMigratedDatabase();
});
afterAll(dropMadeDatabases);

// The one test that pins the MVP: its six tables (A6) and the hypertable are in the contract.
// Every other expectation of the tests is read from db/contract.ts and db/migrations/, so a
// later migration that adds to the schema, with its contract entry, keeps them green.
test('the MVP: its six tables and the ohlcv hypertable are in the contract', () => {
  expect(TABLE_NAMES).toEqual(expect.arrayContaining(['tickers', 'ohlcv', 'options_chains', 'daily_snapshots', 'recommendations', 'recommendation_outcomes']));
  expect(CONTRACT.hypertables).toEqual(expect.arrayContaining([expect.objectContaining({ table: 'ohlcv', timeColumn: 'date', chunkInterval: '365 days' })]));
});

test("the tests' list of migration files is the migration source's", async () => {
  expect(migrationFiles()).toEqual(await new MigrationFiles().getMigrations());
});

test("a fresh database gets exactly the contract's tables in public, all empty", async () => {
  await withDatabase(db, async (c) => {
    expect(await publicTables(c)).toEqual(TABLES);
    for (const t of TABLES) {
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM ${c.escapeIdentifier(t)}`);
      expect(rows[0].n).toBe(0);
    }
  });
});

test('the live schema matches the contract column by column', async () => {
  const report = await verify(db, { empty: true });
  expect(report.differences).toEqual([]);
  expect(report.ok).toBe(true);
});

test("the hypertables are the contract's, each with an explicit chunk interval (not the 7-day default)", async () => {
  await withDatabase(db, async (c) => {
    const { rows } = await c.query(`SELECT hypertable_name AS table, column_name AS "timeColumn", time_interval
      FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' ORDER BY 1`);
    for (const r of rows) expect(r.time_interval.days).toBeGreaterThan(7);
    const live = rows.map((r) => ({ table: r.table, timeColumn: r.timeColumn, chunkInterval: `${r.time_interval.days} days` }));
    expect(live).toEqual([...CONTRACT.hypertables].sort((a, b) => a.table.localeCompare(b.table))
      .map(({ table, timeColumn, chunkInterval }) => ({ table, timeColumn, chunkInterval })));
  });
});

test("the enum types are the contract's, with its values in order", async () => {
  await withDatabase(db, async (c) => {
    const { rows } = await c.query(`SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS v
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY t.typname`);
    expect(Object.fromEntries(rows.map((r) => [r.typname, r.v]))).toEqual(CONTRACT.enums);
  });
});

test('no extension but timescaledb (and plpgsql), knex bookkeeping outside public', async () => {
  await withDatabase(db, async (c) => {
    const { rows } = await c.query('SELECT extname FROM pg_extension ORDER BY 1');
    expect(rows.map((r) => r.extname)).toEqual(['plpgsql', 'timescaledb']);
    const { rows: knexTables } = await c.query("SELECT schemaname, tablename FROM pg_tables WHERE tablename LIKE 'knex%' ORDER BY 2");
    expect(knexTables).toEqual([
      { schemaname: 'knex', tablename: 'knex_migrations' },
      { schemaname: 'knex', tablename: 'knex_migrations_lock' },
    ]);
  });
});

test('every foreign key is covered by an index whose leading columns are its columns', async () => {
  await withDatabase(db, async (c) => {
    const { rows } = await c.query(`
      SELECT k.conname,
        EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid
                  AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] = k.conkey) AS covered
      FROM pg_constraint k WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace ORDER BY 1`);
    expect(rows.map((r) => r.conname).sort()).toEqual(contractForeignKeys());
    expect(rows.filter((r) => !r.covered).map((r) => r.conname)).toEqual([]);
  });
});

test('check constraints reject out-of-range scores and phases', async () => {
  await withDatabase(db, async (c) => {
    const { rows: [t] } = await c.query("INSERT INTO tickers (symbol) VALUES ('CHK') RETURNING id");
    const insert = (column: string, value: unknown) => c.query(
      `INSERT INTO daily_snapshots (time, ticker_id, ${c.escapeIdentifier(column)}) VALUES (now(), $1, $2)`, [t.id, value]);
    await expect(insert('wyckoff_phase', 'F')).rejects.toThrow(/check constraint/);
    await expect(insert('phase_confidence', 1.001)).rejects.toThrow(/check constraint/);
    await expect(insert('bc_score', 29)).rejects.toThrow(/check constraint/);
    await expect(insert('spring_score', -1)).rejects.toThrow(/check constraint/);
    await c.query('DELETE FROM tickers');
  });
});

test('migrate:latest a second time applies nothing', async () => {
  expect(await migrateLatest(db)).toEqual([]);
  expect((await status(db)).migrations.filter((m) => m.state !== 'applied')).toEqual([]);
});

test('rolling everything back leaves public without tables or types, and TimescaleDB installed; migrating again gives the same schema', async () => {
  const fresh = await createMigratedDatabase('_rb');
  // TimescaleDB names the tables it derives from a hypertable (compressed chunks) by catalog ids, which a second build numbers on.
  const dump = () => schemaDump(fresh, ['--exclude-schema=_timescaledb_internal']);
  const before = dump();
  const reverted = await rollback(fresh, true);
  expect([...reverted].sort()).toEqual(migrationFiles());
  await withDatabase(fresh, async (c) => {
    expect(await publicTables(c)).toEqual([]);
    expect(await publicTypes(c)).toEqual([]);
    // 0001's down keeps the extension (the reason is in the file).
    const { rows } = await c.query("SELECT extname FROM pg_extension WHERE extname = 'timescaledb'");
    expect(rows).toEqual([{ extname: 'timescaledb' }]);
  });
  expect(await migrateLatest(fresh)).toEqual(migrationFiles());
  expect(dump()).toEqual(before);
});

test('a database that applied a migration before a harmless edit (FORMER_CHECKSUMS: 0001) still verifies and shows it applied; any other hash is an edit', async () => {
  // A file a squash folded lies in db/squashed/: the carry-forward accepts its former hashes (squash.test.ts, foldSquashed).
  const squashed = fs.existsSync(squashedDirOf()) ? fs.readdirSync(squashedDirOf()) : [];
  expect(Object.keys(FORMER_CHECKSUMS).filter((f) => !migrationFiles().includes(f) && !squashed.includes(f))).toEqual([]);
  for (const file of Object.keys(FORMER_CHECKSUMS).filter((f) => migrationFiles().includes(f))) {
    const older = await createMigratedDatabase('_former');
    const [former] = FORMER_CHECKSUMS[file];
    const record = (sha: string) => withDatabase(older, (c) => c.query('UPDATE knex.migration_checksums SET sha256 = $1 WHERE name = $2', [sha, file]));
    await record(former);
    expect((await verify(older)).ok).toBe(true);
    expect((await status(older)).migrations.find((m) => m.name === file)?.state).toBe('applied');
    await record('0'.repeat(64));
    expect((await verify(older)).differences).toEqual([expect.objectContaining({ group: 'migrations', kind: 'changed', item: `migration ${file}` })]);
    expect((await status(older)).migrations.find((m) => m.name === file)?.state).toBe('edited since applied');
  }
});

test('two fresh builds get identical schemas (pg_dump --schema-only, and the reader with every column\'s options)', async () => {
  // `db` copies the template, which global setup built from an empty database with these migrations.
  const other = await createTestDatabase('_twin', template().owner);
  expect(await migrateLatest(other)).toEqual(migrationFiles());
  const a = schemaDump(db);
  expect(a).toMatch(/CREATE TABLE public\.ohlcv/);
  expect(schemaDump(other)).toEqual(a);
  // PostgreSQL 15.20 stamps each build's columns with another pg_attver: a mark of the build, not of the schema.
  const [mine, theirs] = await Promise.all([db, other].map((s) => withDatabase(s, (c) => readSchema(c))));
  expect(diffSchema(mine, theirs)).toEqual([]);
  expect(mine.tables.flatMap((t) => t.columns.flatMap((c) => c.options ?? [])).filter((o) => o.startsWith('pg_attver='))).toEqual([]);
});

test('an empty database verifies as missing every table, not as matching', async () => {
  const empty = await createTestDatabase('_empty');
  const report = await verify(empty);
  expect(report.ok).toBe(false);
  const missingTables = report.differences.filter((d) => d.item === 'table' && d.kind === 'missing').map((d) => d.group);
  expect(missingTables.sort()).toEqual(TABLES);
  for (const h of CONTRACT.hypertables) {
    expect(report.differences).toContainEqual(expect.objectContaining({ group: 'database', kind: 'missing', item: `hypertable ${h.table}` }));
  }
});
