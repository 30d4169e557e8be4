// In tests/e2e (npm run test:e2e): each test runs `npx knex …` as processes in a copy of the
// project (the knex CLI loads the knexfile through ts-node: 1–3 s a run). The knex CLI runs the
// guards kapman-db runs: production's force for a rollback, production's lint before a migrate,
// the refusal to roll back a baseline carried past several batches, the reset lock for a
// rollback of every batch.
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { fileChecksum, migrationFilesIn } from '../../db/migrationSource';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { acquireReplaceLock } from '../../scripts/lib/replace/replace';
import { Settings } from '../../scripts/lib/server/settings';
import { CliResult } from '../support/cli';
import { migrationsFolder, releasedMigrations } from '../support/migrations';
import { copyProject, removeProject } from '../support/projectCopy';
import { publicTables } from '../support/schema';
import { fillEveryTable } from '../support/tradingData';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

const copies: string[] = [];
afterAll(async () => {
  for (const c of copies) await removeProject(c);
  await dropMadeDatabases();
});

/** A copy of the project whose db/migrations also holds `files` (name -> source). */
function projectWith(files: Record<string, string> = {}): string {
  const copy = copyProject('knexguards');
  copies.push(copy);
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(copy, 'db', 'migrations', name), source);
  return copy;
}

const envFor = (db: Settings, env: Record<string, string> = {}) =>
  ({ ...process.env, NODE_ENV: undefined, KAPMAN_DEBUG: undefined, KAPMAN_FORCE: undefined, DATABASE_URL: db.url, ...env });

/** `npx knex …args` in `copy`, as the user types it. */
function knex(copy: string, args: string[], db: Settings, env: Record<string, string> = {}): CliResult {
  const r = spawnSync('npx', ['knex', ...args], { cwd: copy, encoding: 'utf8', env: envFor(db, env) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const applied = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT name FROM knex.knex_migrations ORDER BY id')).rows.map((r) => r.name as string));
const ohlcvRows = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT count(*)::int AS n FROM ohlcv')).rows[0].n as number);

test('`npx knex migrate:rollback --env production` is refused without KAPMAN_FORCE=1 (exit 7, the hint says how), so is migrate:down; with it, it rolls back', async () => {
  const db = await createMigratedDatabase('_kg_prod');
  const copy = projectWith();
  for (const command of [['migrate:rollback'], ['migrate:down']]) {
    const r = knex(copy, [...command, '--env', 'production'], db);
    expect({ code: r.code, err: r.err.trim().split('\n') }).toEqual({
      code: 7,
      err: [`kapman: error: refusing to roll back migrations in the production environment`,
        `kapman: hint: rolling back drops tables and their data; if you mean it, run: KAPMAN_FORCE=1 npx knex ${command[0]} --env production`],
    });
  }
  expect(await applied(db)).toEqual(migrationFilesIn(path.join(copy, 'db', 'migrations')));
  const forced = knex(copy, ['migrate:rollback', '--env', 'production'], db, { KAPMAN_FORCE: '1' });
  expect({ code: forced.code, out: forced.out }).toEqual({ code: 0, out: expect.stringMatching(/rolled back: 8 migrations/) });
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual([]));
});

// The index db:migrate refuses in production, written so that only what it does gives it away.
const HIDDEN_INDEX = `export async function up(knex: any) {
  await knex.raw("DO $$ BEGIN EXECUTE 'CREATE INDEX ' || 'ohlcv_close_idx ON ohlcv (close)'; END $$");
}
export async function down(knex: any) { await knex.raw('DROP INDEX ohlcv_close_idx'); }
`;

test('`npx knex migrate:latest --env production` prints the plan and lints it first: the index on ohlcv in a DO block stops it (exit 35), nothing applied', async () => {
  const db = await createMigratedDatabase('_kg_lint');
  const copy = projectWith({ '0009_close_index.ts': HIDDEN_INDEX });
  const r = knex(copy, ['migrate:latest', '--env', 'production'], db);
  expect(r.code).toBe(35);
  expect(r.out).toMatch(/^kapman: 0009_close_index\.ts \(1 statement\):$/m);
  expect(r.out).toMatch(/^kapman: 0009_close_index\.ts, statement 1: timescaledb-index-on-populated-hypertable \(catalog\)$/m);
  expect(r.err).toMatch(/^kapman: error: the lint found 1 problem in the migrations of \S+; nothing was changed$/m);
  expect(await applied(db)).not.toContain('0009_close_index.ts');
  await withDatabase(db, async (c) => expect((await c.query("SELECT to_regclass('ohlcv_close_idx') AS i")).rows[0].i).toBeNull());
  // Outside production the knex CLI applies it, as db:migrate does: the lint guards production.
  expect(knex(copy, ['migrate:latest'], db).code).toBe(0);
  expect(await applied(db)).toContain('0009_close_index.ts');
});

const WATCHLISTS = `export async function up(knex: any) {
  await knex.raw('CREATE TABLE watchlists (id int PRIMARY KEY, symbol varchar(20) NOT NULL)');
}
export async function down(knex: any) { await knex.raw('DROP TABLE watchlists'); }
`;

/**
 * A baseline standing for every released migration and 0009, as a squash writes one: its up
 * builds what they built (here by running them from db/squashed, where a squash moves them).
 */
function baselineOf(files: string[], directory: string): string {
  const squashes = Object.fromEntries(files.map((f) => [f, fileChecksum(directory, f)]));
  return `import path from 'path';
export const squashes = ${JSON.stringify(squashes, null, 2)};
const folded = () => Object.keys(squashes).map((f) => require(path.join(__dirname, '..', 'squashed', f)));
export async function up(knex: any) { for (const m of folded()) await m.up(knex); }
export async function down(knex: any) { for (const m of folded().reverse()) await m.down(knex); }
`;
}

test('`npx knex migrate:rollback` (and migrate:down) of a baseline carried past two batches is refused (exit 36): the tables and their rows stay; --all still reverts everything', async () => {
  const db = await createMigratedDatabase('_kg_carried');
  const before = migrationsFolder({ ...releasedMigrations(), '0009_watchlists.ts': WATCHLISTS });
  await applyMigrations(db, { directory: before }); // batch 2: 0009
  await withDatabase(db, fillEveryTable);
  const rows = await ohlcvRows(db);
  // The squash: the old files to db/squashed, a baseline in their place.
  const copy = projectWith();
  const migrations = path.join(copy, 'db', 'migrations');
  const squashed = path.join(copy, 'db', 'squashed');
  fs.mkdirSync(squashed);
  fs.writeFileSync(path.join(squashed, '0009_watchlists.ts'), WATCHLISTS);
  for (const f of migrationFilesIn(migrations)) fs.renameSync(path.join(migrations, f), path.join(squashed, f));
  fs.writeFileSync(path.join(migrations, '0009_baseline.ts'), baselineOf(migrationFilesIn(squashed), squashed));

  const carried = knex(copy, ['migrate:latest'], db);
  expect({ code: carried.code, out: carried.out }).toEqual({ code: 0, out: expect.stringMatching(/carried past the squash: 0009_baseline\.ts recorded in place of 9 applied migrations/) });
  for (const command of ['migrate:rollback', 'migrate:down']) {
    const r = knex(copy, [command], db);
    expect({ code: r.code, err: r.err }).toEqual({ code: 36, err: expect.stringMatching(/^kapman: error: the last (batch|migration) of \S+ is 0009_baseline\.ts, which stands for 9 migrations applied in 2 batches/) });
  }
  expect(await ohlcvRows(db)).toBe(rows);
  expect(await applied(db)).toEqual(['0009_baseline.ts']);
  const all = knex(copy, ['migrate:rollback', '--all'], db);
  expect(all.code).toBe(0);
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual([]));
});

test('`npx knex migrate:rollback --all` takes the reset lock: it waits while a reset holds it, then reverts everything', async () => {
  const db = await createMigratedDatabase('_kg_all');
  const copy = projectWith();
  const reset = await acquireReplaceLock(db); // as a db:reset of this database holds it
  let out = '';
  const child = spawn('npx', ['knex', 'migrate:rollback', '--all'], { cwd: copy, env: envFor(db) });
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    for (let i = 0; i < 300 && !/waiting for the reset lock of /.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/^kapman: waiting for the reset lock of \S+, held by session \d+/m);
    await withDatabase(db, async (c) => expect((await publicTables(c)).length).toBeGreaterThan(0));
  } finally {
    await reset.release();
  }
  expect({ code: await done, out }).toEqual({ code: 0, out: expect.stringMatching(/rolled back: 8 migrations/) });
  await withDatabase(db, async (c) => expect(await publicTables(c)).toEqual([]));
});
