// The squash's safety checks, in-process on a project-like folder (db/migrations in a git
// repository of its own): what it refuses, what its proof catches, and how a database migrated
// before it is carried past it or refused. Through npm, the knex CLI and a backup: e2e/squash.test.ts.
import fs from 'fs';
import path from 'path';
import { Baseline, MigrationFiles, migrationFilesIn } from '../../db/migrationSource';
import { SquashRefusedError } from '../../scripts/lib/cli/errors';
import { carryForward } from '../../scripts/lib/migrations/carryForward';
import { applyMigrations, rollback, withMigrationTransaction } from '../../scripts/lib/migrations/migrate';
import { squash } from '../../scripts/lib/migrations/squash';
import { foldSquashed } from '../../scripts/lib/schema/drift';
import { verify, verifyOn } from '../../scripts/lib/schema/verify';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { migrate } from '../../scripts/lib/migrations/deploy';
import { migrationOf, releasedMigrations } from '../support/migrations';
import { schemaDump } from '../support/schema';
import { createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { fillEveryTable, fingerprint } from '../support/tradingData';
import { dbFiles, git, gitProject } from '../support/gitProject';

afterAll(dropMadeDatabases);

const project = gitProject;
const dbFilesOf = (directory: string) => dbFiles(path.dirname(directory));

async function migratedWith(directory: string, label: string, only?: string[]): Promise<Settings> {
  const db = await createTestDatabase(label);
  await applyMigrations(db, { directory, ...(only ? { only } : {}) });
  return db;
}

/** The refusal's message and hint (an error of another class fails the test). */
async function refusal(work: Promise<unknown>): Promise<string> {
  const err = await work.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(SquashRefusedError);
  return `${(err as SquashRefusedError).message}\n${(err as SquashRefusedError).hint}`;
}

// A column and an index on the ohlcv hypertable, as a second migration of KapMan's kind would add.
const OHLCV_VWAP = migrationOf(['ALTER TABLE ohlcv ADD COLUMN vwap numeric(12,4)', 'CREATE INDEX ohlcv_vwap_idx ON ohlcv (vwap, date)']);

describe('foldSquashed reads applied migrations past the baselines', () => {
  const file = (name: string) => ({ name, sha256: `sha-${name}` });
  const applied = (...names: string[]) => names.map((name) => ({ name, sha256: `sha-${name}` }));
  const baseline = (name: string, members: string[]): Baseline => ({ name, squashes: Object.fromEntries(members.map((m) => [m, `sha-${m}`])) });

  test('every squashed migration applied: the baseline counts as applied in their place', () => {
    const fold = foldSquashed([file('0002_baseline.ts'), file('0003_c.ts')], applied('0001_a.ts', '0002_b.ts'), [baseline('0002_baseline.ts', ['0001_a.ts', '0002_b.ts'])]);
    expect(fold.applied.map((a) => a.name)).toEqual(['0002_baseline.ts']);
    expect(fold.carried).toEqual([{ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'] }]);
    expect(fold.partway ?? fold.edited).toBeUndefined();
  });

  test('some applied: part-way, and nothing carried', () => {
    const fold = foldSquashed([file('0002_baseline.ts')], applied('0001_a.ts'), [baseline('0002_baseline.ts', ['0001_a.ts', '0002_b.ts'])]);
    expect(fold.partway).toEqual({ baseline: '0002_baseline.ts', applied: ['0001_a.ts'], missing: ['0002_b.ts'] });
    expect(fold.carried).toEqual([]);
  });

  test('one applied with other content than squashed: edited, and nothing carried', () => {
    const fold = foldSquashed([file('0002_baseline.ts')], [{ name: '0001_a.ts', sha256: 'other' }, ...applied('0002_b.ts')],
      [baseline('0002_baseline.ts', ['0001_a.ts', '0002_b.ts'])]);
    expect(fold.edited).toEqual({ baseline: '0002_baseline.ts', files: ['0001_a.ts'] });
    expect(fold.carried).toEqual([]);
  });

  test('a squash of a squash: a database migrated before both is carried past both at once', () => {
    const fold = foldSquashed([file('0003_baseline.ts')], applied('0001_a.ts', '0002_b.ts', '0003_c.ts'),
      [baseline('0002_baseline.ts', ['0001_a.ts', '0002_b.ts']), baseline('0003_baseline.ts', ['0002_baseline.ts', '0003_c.ts'])]);
    expect(fold.applied.map((a) => a.name)).toEqual(['0003_baseline.ts']);
    expect(fold.carried[0].squashed.sort()).toEqual(['0001_a.ts', '0002_b.ts', '0003_c.ts']);
  });

  test('nothing of it applied (a fresh database): nothing to carry, the baseline is pending', () => {
    const fold = foldSquashed([file('0002_baseline.ts')], [], [baseline('0002_baseline.ts', ['0001_a.ts', '0002_b.ts'])]);
    expect(fold).toEqual({ applied: [], carried: [] });
  });
});

describe('a squash of the released migrations and one on the hypertable', () => {
  const next = `9001_ohlcv_vwap.ts`;
  let directory: string;
  let before: Settings;
  let partway: Settings;
  let production: Settings;
  let result: Awaited<ReturnType<typeof squash>>;

  beforeAll(async () => {
    directory = project({ ...releasedMigrations(), [next]: OHLCV_VWAP });
    const files = migrationFilesIn(directory);
    // Two batches: the released migrations, then the one on the hypertable.
    before = await migratedWith(directory, '_sq_before', files.slice(0, -1));
    await applyMigrations(before, { directory });
    await withDatabase(before, (c) => fillEveryTable(c));
    partway = await migratedWith(directory, '_sq_partway', files.slice(0, 3));
    production = loadSettings({ env: 'production', databaseUrl: (await migratedWith(directory, '_sq_production')).url });
    result = await squash(before, { directory });
    git(path.dirname(directory), 'add', '-A');
    git(path.dirname(directory), 'commit', '-qm', 'squash');
  });

  test('one baseline in the folder, the rest moved aside, and the proof clean', () => {
    expect(migrationFilesIn(directory)).toEqual(['9001_baseline.ts']);
    expect(migrationFilesIn(path.join(path.dirname(directory), 'squashed'))).toEqual(result.squashed);
    expect(result.squashed).toContain(next);
    expect(result.proof.length).toBeGreaterThan(0);
    expect(result.proof.filter((c) => c.differences.length)).toEqual([]);
  });

  test('a database migrated before is carried past it: rows kept, verified by structure', async () => {
    const rows = await withDatabase(before, fingerprint);
    await expect(carryForward(before, { directory })).resolves.toEqual([{ baseline: '9001_baseline.ts', squashed: result.squashed }]);
    expect(await withDatabase(before, fingerprint)).toEqual(rows);
    const report = await verify(before, { migrationsDirectory: directory });
    expect(report.differences.filter((d) => d.group === 'migrations')).toEqual([]);
  });

  test("a fresh build verified in its own transaction keeps its work (the baseline's CHECK deparses otherwise than the contract's)", async () => {
    const fresh = await createTestDatabase('_sq_fresh');
    const kept = await withMigrationTransaction(fresh, { directory }, async (trx, session) => {
      await trx.migrate.latest();
      await verifyOn(session, fresh.database);
      return (await session.query("SELECT to_regclass('public.tickers') IS NOT NULL AS kept")).rows[0].kept;
    });
    expect(kept).toBe(true);
  });

  test('rolling back the last batch of a database carried past it is refused: the baseline stands for both batches', async () => {
    const dump = schemaDump(before);
    expect(await refusal(rollback(before, false, { directory }))).toMatch(/stands for \d+ migrations applied in 2 batches/);
    expect(schemaDump(before)).toEqual(dump);
  });

  test('db:migrate in production, with nothing pending, still carries the database past the squash', async () => {
    const r = await migrate(production, { migrationsDirectory: directory });
    expect(r).toEqual({ applied: [], carried: [{ baseline: '9001_baseline.ts', squashed: result.squashed }] });
  });

  test('a database part-way is refused, naming the commit to migrate with first, and left as it was', async () => {
    const dump = schemaDump(partway);
    const message = await refusal(carryForward(partway, { directory }));
    expect(message).toMatch(/applied 3 of the \d+ migrations 9001_baseline\.ts replaced/);
    const beforeSquash = git(path.dirname(directory), 'rev-parse', '--short', 'HEAD~1').trim();
    expect(message).toMatch(new RegExp(`git checkout ${beforeSquash}|git checkout [0-9a-f]+~1`));
    expect(git(path.dirname(directory), 'rev-parse', '--short', message.match(/git checkout (\S+)/)![1]).trim()).toBe(beforeSquash);
    expect(schemaDump(partway)).toEqual(dump);
  });
});

test('a database whose structure is not what its migrations built is not carried past the squash', async () => {
  const directory = project({ '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']) });
  const db = await migratedWith(directory, '_sq_drift');
  await squash(db, { directory });
  await withDatabase(db, (c) => c.query('ALTER TABLE b ADD COLUMN z int'));
  const dump = schemaDump(db);
  expect(await refusal(carryForward(db, { directory }))).toMatch(/not what its applied migrations build[^]*column z/);
  expect(schemaDump(db)).toEqual(dump);
});

test('--through: the baseline replaces the files up to that number, and the database carries on with the later ones applied', async () => {
  const directory = project({
    '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']), '0003_c.ts': migrationOf(['CREATE TABLE c (z int)']),
  });
  const db = await migratedWith(directory, '_sq_through');
  const r = await squash(db, { directory, through: '0002' });
  expect({ baseline: r.baseline, squashed: r.squashed, folder: migrationFilesIn(directory) })
    .toEqual({ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'], folder: ['0002_baseline.ts', '0003_c.ts'] });
  expect((await new MigrationFiles(directory).baselines()).map((b) => [b.name, Object.keys(b.squashes)])).toEqual([['0002_baseline.ts', ['0001_a.ts', '0002_b.ts']]]);
  await expect(carryForward(db, { directory })).resolves.toEqual([{ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'] }]);
});

describe('refusals leave db/ as it was', () => {
  const two = () => ({ '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']) });

  test('a migration to fold pending on the target', async () => {
    const directory = project(two());
    const db = await migratedWith(directory, '_sq_pending', ['0001_a.ts']);
    const files = dbFilesOf(directory);
    expect(await refusal(squash(db, { directory }))).toMatch(/pending on .*: 0002_b\.ts/);
    expect(dbFilesOf(directory)).toEqual(files);
  });

  test('a folded migration edited after the target applied it', async () => {
    const directory = project(two());
    const db = await migratedWith(directory, '_sq_edited');
    fs.writeFileSync(path.join(directory, '0002_b.ts'), migrationOf(['CREATE TABLE b (y bigint)']));
    git(path.dirname(directory), 'commit', '-qam', 'edit');
    const files = dbFilesOf(directory);
    expect(await refusal(squash(db, { directory }))).toMatch(/0002_b\.ts was edited after/);
    expect(dbFilesOf(directory)).toEqual(files);
  });

  test('uncommitted changes under db/, unless --allow-dirty', async () => {
    const directory = project(two());
    const db = await migratedWith(directory, '_sq_dirty');
    fs.writeFileSync(path.join(path.dirname(directory), 'notes.txt'), 'work in progress');
    const files = dbFilesOf(directory);
    expect(await refusal(squash(db, { directory }))).toMatch(/uncommitted changes \(db\/notes\.txt\)/);
    expect(dbFilesOf(directory)).toEqual(files);
    await expect(squash(db, { directory, allowDirty: true })).resolves.toMatchObject({ baseline: '0002_baseline.ts' });
  });

  test('a schema the baseline cannot build (a function): the proof finds it and nothing is written', async () => {
    const directory = project({ ...two(), '0003_function.ts': migrationOf(['CREATE FUNCTION a_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM a $$']) });
    const db = await migratedWith(directory, '_sq_function');
    const files = dbFilesOf(directory);
    expect(await refusal(squash(db, { directory }))).toMatch(/would not build what the migrations built/);
    expect(dbFilesOf(directory)).toEqual(files);
  });
});
