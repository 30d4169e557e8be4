// Slow (80-130 s of npm processes, each squash building two scratch databases): `npm run
// db:squash` done for real in a git copy of the project that has ten migrations, and what follows
// it: a fresh build identical to the migrations', databases migrated before it carried forward
// (db:migrate, the knex CLI, a restore of an older backup), one part-way refused and its hint
// followed, the baseline's rollback, a squash of a squash, and the squash's own refusals.
// The tests run in order and share the copy and its databases: each builds on the one before.
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { LiveSchema, readSchema } from '../../scripts/lib/schema/introspect';
import { reconcileExpressions } from '../../scripts/lib/schema/expressions';
import { Settings } from '../../scripts/lib/server/settings';
import { createdFile, fillStub, npmIn, NpmResult, pasteEntries, printedEntries, WATCHLISTS_DOWN, WATCHLISTS_UP, WATCHLISTS_WHY } from '../support/nextMigration';
import { copyProject, removeProject } from '../support/projectCopy';
import { publicTables, publicTypes, schemaDump } from '../support/schema';
import {
  createMigratedDatabase, createTestDatabase, dropMadeDatabases, remember, testSettings, uniqueName, withDatabase,
} from '../support/testDatabase';
import { fillEveryTable, fingerprint } from '../support/tradingData';
import { dbFiles as dbFilesOf, git as gitIn } from '../support/gitProject';

let copy: string;
let backups: string;
beforeAll(() => {
  copy = copyProject('squash');
  backups = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-squash-backups-'));
  fs.writeFileSync(path.join(copy, '.gitignore'), 'node_modules\n.pgdata/\nbackups/\n');
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'The release: eight migrations');
});
afterAll(async () => {
  await removeProject(copy);
  fs.rmSync(backups, { recursive: true, force: true });
  await dropMadeDatabases();
});

const git = (...args: string[]) => gitIn(copy, ...args);
const npm = (args: string[], db?: Settings) => npmIn(copy, args, db ? { DATABASE_URL: db.url } : {});
function knexCli(args: string[], db: Settings): NpmResult {
  const r = spawnSync('npx', ['knex', ...args], {
    cwd: copy, encoding: 'utf8', env: { ...process.env, NODE_ENV: undefined, KAPMAN_DEBUG: undefined, DATABASE_URL: db.url },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
/** `r` with its output only when its exit code is not `code`: a failure shows what the command said. */
const exited = (r: NpmResult, code: number) => ({ code: r.code, out: r.code === code ? '' : r.out });
const expectExit = (r: NpmResult, code: number) => expect(exited(r, code)).toEqual({ code, out: '' });

/** The migration files of db/<folder>, in order. */
const filesIn = (folder: 'migrations' | 'squashed') => {
  const dir = path.join(copy, 'db', folder);
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort() : [];
};
const dbFiles = () => dbFilesOf(path.join(copy, 'db'));
const gitStatus = () => git('status', '--porcelain', '--untracked-files=all');

const applied = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT name FROM knex.knex_migrations ORDER BY id')).rows.map((r) => r.name as string));
const squashedRows = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT name, squashed_into FROM knex.squashed_migrations ORDER BY squashed_into, name')).rows as Array<{ name: string; squashed_into: string }>);
/** All of a database's bookkeeping and schema, knex's included: what a refused migrate must leave as it was. */
const everything = (db: Settings) => withDatabase(db, async (c) => ({
  migrations: (await c.query('SELECT * FROM knex.knex_migrations ORDER BY id')).rows,
  checksums: (await c.query('SELECT * FROM knex.migration_checksums ORDER BY name')).rows,
  dump: schemaDump(db),
}));

/** A migration that adds an adjusted close to the ohlcv hypertable, with an index on it. */
const ADJUSTED_CLOSE = {
  up: `export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('ohlcv', (t) => {
    t.decimal('adjusted_close', null);
    t.index(['ticker_id', 'adjusted_close'], 'ohlcv_ticker_id_adjusted_close_idx');
  });
}`,
  down: `export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('ohlcv', (t) => {
    t.dropIndex([], 'ohlcv_ticker_id_adjusted_close_idx');
    t.dropColumn('adjusted_close');
  });
}`,
  why: 'the close adjusted for splits and dividends, which the screens compare across years; indexed per ticker.',
};
const WATCHLIST_NOTES = {
  up: `export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('watchlists', (t) => {
    t.text('notes');
  });
}`,
  down: `export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('watchlists', (t) => {
    t.dropColumn('notes');
  });
}`,
  why: "a user's notes on why a ticker is on a list.",
};

/** `npm run db:new -- …name`, its stub filled in; returns the file's name. */
function newMigration(name: string[], m: { up: string; down: string; why: string }): string {
  const made = npm(['db:new', '--', ...name]);
  expectExit(made, 0);
  const file = createdFile(made.out);
  expect(fillStub(copy, file, m)).toContain(m.up);
  return path.basename(file);
}

/** Migrates `dev` with the pending migrations, pastes the contract entries db:verify prints, refreshes db/schema.sql: the README's steps 4 to 6. */
function migrateAndContract(dev: Settings): void {
  expectExit(npm(['db:migrate'], dev), 0);
  const differs = npm(['db:verify'], dev);
  expect(differs.code).toBe(11);
  pasteEntries(copy, printedEntries(differs.out));
  expectExit(npm(['db:verify'], dev), 0);
  expectExit(npm(['db:schema:dump'], dev), 0);
}

// What the tests below share, in the order they make it.
let A: Settings; // the development database: migrated before the squash, with rows in every table
let B: Settings; // migrated before the squash too, carried forward by the knex CLI
let H: Settings; // part-way: nine of the ten migrations
let released: string[]; // the ten migrations before the squash
let rowsOfA: Record<string, string | number>;
let oldSchema: LiveSchema; // public as the ten migrations build it (B's, before the squash)
let oldDump: string;
let backupOfA: string;
let squashed: NpmResult;
let squashCommit: string;

// pg_dump without knex's schema, the owner's name made neutral (the two sides may be made by different roles).
const dumpWithoutKnex = (db: Settings) => schemaDump(db, ['--exclude-schema=knex']).replace(/Owner: \S+$/gm, 'Owner: -').replace(/ OWNER TO \S+;$/gm, ' OWNER TO -;');

test('ten migrations, two of them new; a squash refused (exit 36, db/ unchanged) when a folded file was edited, one is pending, db/ is not in git or is dirty, then with --allow-dirty it goes through', async () => {
  [A, B, H] = await Promise.all([createMigratedDatabase('_a'), createMigratedDatabase('_b'), createMigratedDatabase('_h')]);
  await withDatabase(A, (c) => fillEveryTable(c));

  const watchlists = newMigration(['add', 'watchlists'], { up: WATCHLISTS_UP, down: WATCHLISTS_DOWN, why: WATCHLISTS_WHY });
  const adjusted = newMigration(['add', 'ohlcv', 'adjusted', 'close'], ADJUSTED_CLOSE);
  migrateAndContract(A);
  await withDatabase(A, async (c) => {
    await c.query("INSERT INTO watchlists (name, ticker_id) SELECT 'Springs', id FROM tickers ORDER BY symbol LIMIT 5");
    await c.query("UPDATE ohlcv SET adjusted_close = close * 0.98 WHERE date < '2022-01-01'");
  });
  rowsOfA = await withDatabase(A, fingerprint);
  expect(rowsOfA.watchlists).toMatch(/^5 rows/);
  expect(Object.entries(rowsOfA).filter(([, v]) => /^0 rows/.test(String(v)))).toEqual([]);

  expectExit(npm(['db:migrate'], B), 0);
  expectExit(knexCli(['migrate:up'], H), 0); // H applies 0009 only
  expect(await applied(H)).toEqual(expect.arrayContaining([watchlists]));
  expect(await applied(H)).not.toContain(adjusted);

  git('add', '-A');
  git('commit', '-q', '-m', 'Watchlists, and the adjusted close on ohlcv');
  released = filesIn('migrations');
  expect(released).toHaveLength(10);
  expect(released.slice(-2)).toEqual([watchlists, adjusted]);
  expect(await applied(A)).toEqual(released);
  oldSchema = await withDatabase(B, readSchema);
  oldDump = dumpWithoutKnex(B);
  backupOfA = path.join(backups, 'a-before-the-squash.dump');
  expectExit(npm(['db:backup', '--', '--out', backupOfA], A), 0);

  const before = dbFiles();
  const unchanged = (r: NpmResult, said: RegExp) => {
    expect({ code: r.code, said: said.test(r.out), out: r.out }).toEqual({ code: 36, said: true, out: r.out });
    expect(dbFiles()).toEqual(before);
  };

  // A folded migration edited (and committed) after A applied it.
  fs.appendFileSync(path.join(copy, 'db', 'migrations', watchlists), '// an edit after the release\n');
  git('commit', '-q', '-am', 'An edit of a released migration');
  const editedFiles = dbFiles();
  const edited = npm(['db:squash'], A);
  expect({ code: edited.code, said: new RegExp(`${watchlists} was edited after`).test(edited.out) }).toEqual({ code: 36, said: true });
  expect(dbFiles()).toEqual(editedFiles);
  expect(gitStatus()).toBe('');
  git('reset', '-q', '--hard', 'HEAD~1');
  expect(dbFiles()).toEqual(before);

  // A migration to fold pending on the target.
  unchanged(npm(['db:squash'], H), new RegExp(`pending on ${H.database}\\b[^\\n]*${adjusted}`));
  expect(gitStatus()).toBe('');

  // No git work tree: the squash could be neither reviewed nor undone.
  fs.renameSync(path.join(copy, '.git'), path.join(copy, '.git-away'));
  try {
    unchanged(npm(['db:squash'], A), /not in a git work tree/);
  } finally {
    fs.renameSync(path.join(copy, '.git-away'), path.join(copy, '.git'));
  }

  // An uncommitted change under db/: refused, and --allow-dirty goes on.
  fs.writeFileSync(path.join(copy, 'db', 'NOTES.txt'), 'not committed\n');
  const dirty = dbFiles();
  const refused = npm(['db:squash'], A);
  expect({ code: refused.code, said: /uncommitted changes[^\n]*NOTES\.txt/.test(refused.out), out: refused.out }).toEqual({ code: 36, said: true, out: refused.out });
  expect(dbFiles()).toEqual(dirty);
  expect(gitStatus()).toBe('?? db/NOTES.txt\n');

  squashed = npm(['db:squash', '--', '--allow-dirty'], A);
  expectExit(squashed, 0);
  expect(filesIn('migrations')).toEqual(['0010_baseline.ts']);
  expect(filesIn('squashed')).toEqual(released);
  for (const f of released) expect(squashed.out).toContain(f);
  fs.rmSync(path.join(copy, 'db', 'NOTES.txt'));
  git('add', '-A');
  git('commit', '-q', '-m', 'Squash 0001-0010 into 0010_baseline.ts');
  squashCommit = git('rev-parse', 'HEAD').trim();
  // Git sees the moves as renames: the history of each file follows it into db/squashed/.
  expect(git('show', '--name-status', '-M', '--format=', 'HEAD').split('\n').filter((l) => l.startsWith('R100')).length).toBe(10);
});

test("the squash's output names the three checks of its proof, each identical, and the files it moved", () => {
  // The three checks the baseline's header promises: what the reader sees (TimescaleDB's catalog and the rows included), the contract, pg_dump --schema-only.
  expect(squashed.out).toMatch(new RegExp(`moved to db/squashed/: ${released.join(', ')}`));
  for (const check of ['structure', 'contract', 'pg_dump --schema-only']) {
    expect({ check, line: new RegExp(`^.*${check}: identical`, 'm').exec(squashed.out)?.[0] }).toEqual({ check, line: expect.any(String) });
  }
});

test('a fresh database from the baseline is identical to the ten migrations\' (readSchema, pg_dump) and verifies; its rollback leaves no table, and it migrates again', async () => {
  const F = await createTestDatabase('_f');
  expectExit(npm(['db:migrate'], F), 0);
  expect(await applied(F)).toEqual(['0010_baseline.ts']);

  // Compared by meaning where PostgreSQL's text of an expression is not stable (expressions.ts), as db:verify does.
  const fresh = await withDatabase(F, async (c) => reconcileExpressions(c, oldSchema, await readSchema(c)));
  expect(fresh).toEqual(oldSchema);
  expect(oldSchema.tables.map((t) => t.name)).toEqual(expect.arrayContaining(['watchlists', 'ohlcv']));

  // pg_dump prints the text, though: the baseline states daily_snapshots' CHECK as PostgreSQL
  // deparsed the migration's `wyckoff_phase IN ('A', …)` on a varchar, and that text parsed again
  // deparses with the casts moved inside the array (expressions.ts). The same values, the same
  // meaning: that one line may differ, no other.
  const freshDump = dumpWithoutKnex(F);
  expect(oldDump).toMatch(/CREATE TABLE public\.watchlists /);
  expect(oldDump).toMatch(/CREATE INDEX ohlcv_ticker_id_adjusted_close_idx ON public\.ohlcv /);
  const lines = (dump: string) => dump.split('\n');
  const onlyIn = (a: string, b: string) => lines(a).filter((l) => !lines(b).includes(l));
  const CHECK = /^ {4}CONSTRAINT daily_snapshots_wyckoff_phase_check CHECK /;
  const [was, now] = [onlyIn(oldDump, freshDump), onlyIn(freshDump, oldDump)];
  expect({ was: was.map((l) => CHECK.test(l)), now: now.map((l) => CHECK.test(l)) }).toEqual({ was: [true], now: [true] });
  const values = (l: string) => l.match(/'[^']*'/g);
  expect(values(now[0])).toEqual(values(was[0]));
  expect(lines(freshDump).map((l) => (CHECK.test(l) ? was[0] : l))).toEqual(lines(oldDump));

  expectExit(npm(['db:verify'], F), 0);

  // The baseline's down drops what it built.
  expectExit(npm(['db:rollback'], F), 0);
  expect(await withDatabase(F, async (c) => ({ tables: await publicTables(c), types: await publicTypes(c) }))).toEqual({ tables: [], types: [] });
  expect(await applied(F)).toEqual([]);
  expectExit(npm(['db:migrate'], F), 0);
  expectExit(npm(['db:verify'], F), 0);
});

test('A, migrated before the squash, is carried forward by db:migrate with every row; B by the knex CLI', async () => {
  const status = npm(['db:status'], A);
  expectExit(status, 0);
  expect(status.out).toContain('`npm run db:migrate` records it');
  for (const f of released) expect(status.out).toMatch(new RegExp(`^(kapman: )? +└ ${f} `, 'm'));
  const before = npm(['db:verify'], A);
  expect({ code: before.code, said: before.out.includes('record of 0010_baseline.ts') }).toEqual({ code: 11, said: true });

  expectExit(npm(['db:migrate'], A), 0);
  expectExit(npm(['db:verify'], A), 0);
  expect(await withDatabase(A, fingerprint)).toEqual(rowsOfA);
  expect(await applied(A)).toEqual(['0010_baseline.ts']);
  expect(await squashedRows(A)).toEqual(released.map((name) => ({ name, squashed_into: '0010_baseline.ts' })));
  const after = npm(['db:status'], A);
  expect({ code: after.code, toCarry: after.out.includes('records it') }).toEqual({ code: 0, toCarry: false });

  expectExit(knexCli(['migrate:latest'], B), 0);
  expectExit(npm(['db:verify'], B), 0);
  expect(await applied(B)).toEqual(['0010_baseline.ts']);
  expect((await squashedRows(B)).map((r) => r.name)).toEqual(released);
});

test('db:rollback on B, carried past the squash, reverts at most what its last batch built: the tables of its first batch stay', async () => {
  // B: the eight released migrations in its first batch (the template), 0009 and 0010 in its second.
  // Before the squash db:rollback reverted that second batch; the baseline carries its batch.
  const batches = await withDatabase(B, async (c) => (await c.query('SELECT name, batch FROM knex.squashed_migrations ORDER BY name')).rows);
  expect(new Set(batches.map((r) => r.batch)).size).toBe(2);
  const firstBatch = oldSchema.tables.map((t) => t.name).filter((t) => t !== 'watchlists');
  const r = npm(['db:rollback'], B);
  expect({ code: r.code, refused: /stands for \d+ migrations applied in 2 batches/.test(r.out) }).toEqual({ code: 36, refused: true });
  const left = await withDatabase(B, publicTables);
  expect({ gone: firstBatch.filter((t) => !left.includes(t)), out: r.out }).toEqual({ gone: [], out: r.out });
});

test('H, part-way through the squashed migrations, is refused by db:migrate (exit 36) with the commit to go back to, and left as it was', async () => {
  const was = await everything(H);
  const refused = npm(['db:migrate'], H);
  expect(refused.code).toBe(36);
  expect(refused.out).toContain('git checkout');
  const commit = /git checkout ([0-9a-f]+)~1/.exec(refused.out)?.[1];
  expect(commit && git('rev-parse', commit).trim()).toBe(squashCommit);
  expect(await everything(H)).toEqual(was);

  const byKnex = knexCli(['migrate:latest'], H);
  expect({ failed: byKnex.code !== 0, hint: byKnex.out.includes(`${commit}~1`) }).toEqual({ failed: true, hint: true });
  expect(await everything(H)).toEqual(was);
});

test("the part-way refusal's hint, followed as written (npm ci aside), carries H forward and leaves the work tree and an older stash as they were", async () => {
  const refused = npm(['db:migrate'], H);
  expect(refused.code).toBe(36);
  const hint = /^(?:kapman: )?hint: [^\n]*?(git checkout [^\n]*npm run db:migrate)$/m.exec(refused.out)?.[1];
  expect(hint).toContain('git checkout');
  // A developer's older stash entry, from other work: the hint's own stash and pop must leave it be.
  fs.writeFileSync(path.join(copy, 'other-work.txt'), 'stashed last week\n');
  git('stash', 'push', '-q', '-u', '-m', 'other work');
  const head = git('rev-parse', 'HEAD');
  const branch = git('rev-parse', '--abbrev-ref', 'HEAD').trim();
  try {
    // npm ci is left out: node_modules is the worktree's, shared by the copy, and the same on both commits.
    const followed = spawnSync('sh', ['-c', hint!.replace(/npm ci/g, 'true').replace(/npm run /g, 'npm run -s ')], {
      cwd: copy, encoding: 'utf8', env: { ...process.env, NODE_ENV: undefined, KAPMAN_DEBUG: undefined, DATABASE_URL: H.url },
    });
    const out = `${followed.stdout}${followed.stderr}`;
    expect(await applied(H)).toEqual(['0010_baseline.ts']);
    expectExit(npm(['db:verify'], H), 0);
    expect({ head: git('rev-parse', 'HEAD'), status: gitStatus(), stashes: git('stash', 'list').split('\n').filter(Boolean).length, out })
      .toEqual({ head, status: '', stashes: 1, out });
  } finally {
    git('checkout', '-q', '-f', branch);
    fs.rmSync(path.join(copy, 'other-work.txt'), { force: true });
    git('stash', 'clear');
  }
});

test('the backup of A taken before the squash restores after it, carried forward, and verifies', async () => {
  const restored = testSettings(remember(uniqueName('_restored'))); // does not exist yet: the restore creates it
  expectExit(npm(['db:restore', '--', backupOfA], restored), 0);
  expectExit(npm(['db:verify'], restored), 0);
  expect(await applied(restored)).toEqual(['0010_baseline.ts']);
  expect(await withDatabase(restored, fingerprint)).toEqual(rowsOfA);
});

test('a squash of a squash: 0011 folded with the baseline into 0011_baseline.ts; A carried forward again; a fresh build verifies and rolls back', async () => {
  // One file, the baseline, is nothing to squash.
  const alone = dbFiles();
  const nothing = npm(['db:squash'], A);
  expect({ code: nothing.code, said: /nothing to squash/.test(nothing.out), out: nothing.out }).toEqual({ code: 36, said: true, out: nothing.out });
  expect(dbFiles()).toEqual(alone);
  expect(gitStatus()).toBe('');

  const notes = newMigration(['add', 'watchlist', 'notes'], WATCHLIST_NOTES);
  expect(notes).toMatch(/^0011_/);
  migrateAndContract(A);
  git('add', '-A');
  git('commit', '-q', '-m', 'Notes on watchlists');
  const rows = await withDatabase(A, fingerprint);

  const again = npm(['db:squash'], A);
  expectExit(again, 0);
  expect(filesIn('migrations')).toEqual(['0011_baseline.ts']);
  expect(filesIn('squashed')).toEqual([...released, '0010_baseline.ts', notes].sort());
  git('add', '-A');
  git('commit', '-q', '-m', 'Squash 0010-0011 into 0011_baseline.ts');

  const before = npm(['db:verify'], A);
  expect({ code: before.code, said: before.out.includes('record of 0011_baseline.ts') }).toEqual({ code: 11, said: true });
  expectExit(npm(['db:migrate'], A), 0);
  expectExit(npm(['db:verify'], A), 0);
  expect(await applied(A)).toEqual(['0011_baseline.ts']);
  expect(await squashedRows(A)).toEqual([
    ...released.map((name) => ({ name, squashed_into: '0010_baseline.ts' })),
    ...['0010_baseline.ts', notes].map((name) => ({ name, squashed_into: '0011_baseline.ts' })),
  ]);
  expect(await withDatabase(A, fingerprint)).toEqual(rows);

  const fresh = await createTestDatabase('_f2');
  expectExit(npm(['db:migrate'], fresh), 0);
  expectExit(npm(['db:verify'], fresh), 0);
  expect(await applied(fresh)).toEqual(['0011_baseline.ts']);
  expectExit(npm(['db:rollback'], fresh), 0);
  expect(await withDatabase(fresh, async (c) => ({ tables: await publicTables(c), types: await publicTypes(c) }))).toEqual({ tables: [], types: [] });
});
