// The squash's safety checks, in-process on a project-like folder (db/migrations in a git
// repository of its own): what it refuses, --through, a squash stopped part-way, and a database
// that drifted. A whole chain of every kind of object, carried forward or refused:
// squashChain.test.ts. Through npm, the knex CLI and a backup: e2e/squash.test.ts.
import fs from 'fs';
import path from 'path';
import { Baseline, MigrationFiles, migrationFilesIn, squashJournalOf } from '../../db/migrationSource';
import { carryForward } from '../../scripts/lib/migrations/carryForward';
import { squash } from '../../scripts/lib/migrations/squash';
import { finishSquash } from '../../scripts/lib/migrations/squashJournal';
import { foldSquashed } from '../../scripts/lib/schema/drift';
import { MAX_SEED_ROWS } from '../../scripts/lib/schema/read/data';
import { schemaSqlOf } from '../../scripts/lib/schema/render';
import { newMigration } from '../../scripts/new';
import { migrationOf } from '../support/migrations';
import { schemaDump } from '../support/schema';
import { migratedWith, refusal } from '../support/squash';
import { dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { dbFiles, git, gitProject } from '../support/gitProject';

afterAll(dropMadeDatabases);

const project = gitProject;
const dbFilesOf = (directory: string) => dbFiles(path.dirname(directory));

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

  test('one applied with a hash it had before a harmless edit (FORMER_CHECKSUMS): applied as written, carried', () => {
    const withFormer: Baseline = { ...baseline('0002_baseline.ts', ['0001_a.ts', '0002_b.ts']), former: { '0001_a.ts': ['older'] } };
    const fold = foldSquashed([file('0002_baseline.ts')], [{ name: '0001_a.ts', sha256: 'older' }, ...applied('0002_b.ts')], [withFormer]);
    expect({ edited: fold.edited, carried: fold.carried }).toEqual({ edited: undefined, carried: [{ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'] }] });
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

test('a database whose structure is not what its migrations built is not carried past the squash', async () => {
  const directory = project({ '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']) });
  const db = await migratedWith(directory, '_sq_drift');
  await squash(db, { directory });
  await withDatabase(db, (c) => c.query('ALTER TABLE b ADD COLUMN z int'));
  const dump = schemaDump(db);
  expect(await refusal(carryForward(db, { directory }))).toMatch(/not what its applied migrations build[^]*column z[^]*information_schema\.columns/);
  expect(schemaDump(db)).toEqual(dump);
});

test('--through: the baseline replaces the files up to that number; db/schema.sql still describes the whole chain; the database carries on with the later ones applied', async () => {
  const directory = project({
    '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']), '0003_c.ts': migrationOf(['ALTER TABLE b ADD COLUMN z int']),
  });
  const db = await migratedWith(directory, '_sq_through');
  const schemaSql = path.join(path.dirname(directory), 'schema.sql');
  fs.writeFileSync(schemaSql, await withDatabase(db, schemaSqlOf));
  git(path.dirname(directory), 'add', '-A');
  git(path.dirname(directory), 'commit', '-qm', 'schema.sql');
  const r = await squash(db, { directory, through: '0002' });
  expect({ baseline: r.baseline, squashed: r.squashed, folder: migrationFilesIn(directory) })
    .toEqual({ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'], folder: ['0002_baseline.ts', '0003_c.ts'] });
  expect((await new MigrationFiles(directory).baselines()).map((b) => [b.name, Object.keys(b.squashes)])).toEqual([['0002_baseline.ts', ['0001_a.ts', '0002_b.ts']]]);
  // What `schema:dump --check` compares: the file against a build of the folder as it is now.
  const rebuilt = await migratedWith(directory, '_sq_through_fresh');
  expect(fs.readFileSync(schemaSql, 'utf8')).toEqual(await withDatabase(rebuilt, schemaSqlOf));
  expect(fs.readFileSync(schemaSql, 'utf8')).toMatch(/CREATE TABLE public\.b \(\n {4}y integer,\n {4}z integer\n\)/);
  await expect(carryForward(db, { directory })).resolves.toEqual([{ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'] }]);
});

describe('refusals leave db/ as it was', () => {
  const two = () => ({ '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']) });

  test('a migration to fold pending on the target; --through is suggested only where two files lie before the first pending one', async () => {
    const directory = project({ ...two(), '0003_c.ts': migrationOf(['CREATE TABLE c (z int)']), '0004_d.ts': migrationOf(['CREATE TABLE d (w int)']) });
    const files = dbFilesOf(directory);
    const [early, late] = await Promise.all([migratedWith(directory, '_sq_pending_early', ['0001_a.ts']), migratedWith(directory, '_sq_pending_late', ['0001_a.ts', '0002_b.ts'])]);
    const first = await refusal(squash(early, { directory }));
    expect(first).toMatch(/pending on .*: 0002_b\.ts, 0003_c\.ts, 0004_d\.ts/);
    expect(first).not.toMatch(/--through/);
    expect(dbFilesOf(directory)).toEqual(files);
    const suggested = /--through (\d{4})/.exec(await refusal(squash(late, { directory })))?.[1];
    expect(suggested).toBe('0002');
    // The suggestion, followed, succeeds.
    await expect(squash(late, { directory, through: suggested })).resolves.toMatchObject({ baseline: '0002_baseline.ts' });
  });

  test('a folded migration edited after the target applied it; squashed from a database that applied the edit, the first is not carried past it, and is left as it was', async () => {
    const directory = project(two());
    const db = await migratedWith(directory, '_sq_edited');
    fs.writeFileSync(path.join(directory, '0002_b.ts'), migrationOf(['CREATE TABLE b (y bigint)']));
    git(path.dirname(directory), 'commit', '-qam', 'edit');
    const files = dbFilesOf(directory);
    expect(await refusal(squash(db, { directory }))).toMatch(/0002_b\.ts was edited after/);
    expect(dbFilesOf(directory)).toEqual(files);
    await squash(await migratedWith(directory, '_sq_edit_applied'), { directory });
    const dump = schemaDump(db);
    expect(await refusal(carryForward(db, { directory }))).toMatch(/applied 0002_b\.ts with other content than 0002_baseline\.ts squashed; nothing changed[^]*db:reset/);
    expect(schemaDump(db)).toEqual(dump);
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

  test('what the generator cannot make, refused by name before any baseline is built: an aggregate, seed rows past the limit', async () => {
    const directory = project({ ...two(),
      '0003_aggregate.ts': migrationOf(['CREATE AGGREGATE plant_sum (integer) (SFUNC = int4pl, STYPE = integer)']),
      '0004_rows.ts': migrationOf(['CREATE TABLE big (n integer)', `INSERT INTO big SELECT generate_series(1, ${MAX_SEED_ROWS + 1})`]) });
    const db = await migratedWith(directory, '_sq_unmakeable');
    const files = dbFilesOf(directory);
    const message = await refusal(squash(db, { directory }));
    expect(message).toMatch(/the baseline cannot make 2 things the migrations built[^]*aggregate plant_sum\(integer\): the generator cannot make this kind of object/);
    expect(message).toMatch(new RegExp(`big: ${MAX_SEED_ROWS + 1} rows after a fresh build of the migrations, more than the ${MAX_SEED_ROWS} a baseline writes as INSERTs`));
    expect(message).toMatch(/--through NNNN \(NNNN from 0002 to 0003\)/);
    expect(dbFilesOf(directory)).toEqual(files);
  });

  test("a statement of the generator's that the schema does not take: refused as the generator's, never a file to fix", async () => {
    // A CHECK that calls a function of a table's row type: the function must follow the table, the CHECK precede it.
    const directory = project({ ...two(), '0003_row_type_check.ts': migrationOf(['CREATE FUNCTION b_ok(r b) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$',
      'CREATE TABLE c (z integer CHECK (b_ok(NULL::b)))']) });
    const db = await migratedWith(directory, '_sq_unbuildable');
    const files = dbFilesOf(directory);
    const message = await refusal(squash(db, { directory }));
    expect(message).toMatch(/the generated 0003_baseline\.ts failed on a scratch database, so nothing was written[^]*b_ok[^]*\n.*the generator wrote a statement this schema does not take/);
    expect(message).not.toMatch(/fix 0003/);
    expect(dbFilesOf(directory)).toEqual(files);
  });
});

test('a squash stopped while it moved the files: every command refuses, naming what is left and `--finish`, which finishes it', async () => {
  const directory = project({ '0001_a.ts': migrationOf(['CREATE TABLE a (x int)']), '0002_b.ts': migrationOf(['CREATE TABLE b (y int)']) });
  const db = await migratedWith(directory, '_sq_journal');
  const dbDir = path.dirname(directory);
  await squash(db, { directory });
  const done = dbFilesOf(directory);
  // As a kill after the first move leaves it: the journal, one file moved, the baseline not yet in place.
  git(dbDir, 'stash', '-q', '-u');
  const journal = squashJournalOf(directory);
  fs.mkdirSync(journal);
  fs.writeFileSync(path.join(journal, 'baseline.ts'), done['db/migrations/0002_baseline.ts']);
  fs.writeFileSync(path.join(journal, 'plan.json'), JSON.stringify({ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'], schemaSql: false }));
  fs.mkdirSync(path.join(dbDir, 'squashed'));
  fs.renameSync(path.join(directory, '0001_a.ts'), path.join(dbDir, 'squashed', '0001_a.ts'));
  git(dbDir, 'stash', 'drop', '-q');
  const said = /^db\/ is part-way through a squash into 0002_baseline\.ts: it was stopped after moving 1 of the 2 files it folds to db\/squashed\/, before 0002_baseline\.ts was put in place/;
  for (const attempt of [squash(db, { directory }), Promise.resolve().then(() => newMigration({ name: 'next', directory })), new MigrationFiles(directory).getMigrations()]) {
    const err = await attempt.then(() => undefined, (e) => e);
    expect({ message: err?.message, hint: err?.hint }).toEqual({ message: expect.stringMatching(said), hint: expect.stringContaining('npm run db:squash -- --finish') });
  }
  await expect(finishSquash({ directory })).resolves.toEqual({ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'] });
  expect(dbFilesOf(directory)).toEqual(done);
  await expect(finishSquash({ directory })).rejects.toThrow(/no squash to finish/);
});
