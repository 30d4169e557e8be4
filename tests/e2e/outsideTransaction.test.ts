// In tests/e2e (npm run test:e2e): kapman-db and the knex CLI as processes in a copy of the
// project (1–3 s a run). The recipe for an index on a big table (docs/lint.md), followed as written:
// a migration that says config = { transaction: false } runs alone, after the batch before it
// commits, printed as such; linted as such in production; rolled back alone; and one that fails
// part-way says what stays and what to run, and that hint works.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Settings } from '../../scripts/lib/server/settings';
import { CliResult, ROOT } from '../support/cli';
import { pasteEntries, printedEntries } from '../support/nextMigration';
import { copyProject, removeProject } from '../support/projectCopy';
import { fillEveryTable } from '../support/tradingData';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

let copy: string;
beforeAll(() => {
  copy = copyProject('outside');
});
afterAll(async () => {
  await removeProject(copy);
  await dropMadeDatabases();
});

/** The migration docs/lint.md's section "An index on a big table" shows, as written there. */
function documentedRecipe(): string {
  const page = fs.readFileSync(path.join(ROOT, 'docs', 'lint.md'), 'utf8');
  const section = page.slice(page.indexOf('## An index on a big table'));
  const block = /```ts\n([^]*?)```/.exec(section);
  if (!block) throw new Error('docs/lint.md: no ts block under "An index on a big table"');
  return block[1];
}

const run = (args: string[], db: Settings, env: Record<string, string> = {}): CliResult => {
  const [program, ...rest] = args;
  const r = spawnSync('npx', [program, ...rest], {
    cwd: copy, encoding: 'utf8', env: { ...process.env, NODE_ENV: undefined, KAPMAN_DEBUG: undefined, DATABASE_URL: db.url, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const write = (name: string, source: string) => fs.writeFileSync(path.join(copy, 'db', 'migrations', name), source);
const raw = (up: string[], down: string[] = [], config = '') => `${config}
export async function up(knex: any) {\n${up.map((s) => `  await knex.raw(${JSON.stringify(s)});`).join('\n')}\n}
export async function down(knex: any) {\n${down.map((s) => `  await knex.raw(${JSON.stringify(s)});`).join('\n')}\n}
`;

const batches = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query("SELECT name, batch FROM knex.knex_migrations WHERE name > '0009' ORDER BY id")).rows.map((r) => `${r.batch} ${r.name}`));
/** Each named index: valid or not, and on how many of its table's chunks it was built. */
const indexes = (db: Settings, names: string[]) => withDatabase(db, async (c) => (await c.query(`SELECT i.relname AS name, x.indisvalid AS valid
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE i.relname = ANY($1) ORDER BY 1`, [names])).rows);
const chunkIndexes = (db: Settings, column: string) => withDatabase(db, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_indexes
    WHERE schemaname = '_timescaledb_internal' AND indexdef LIKE $1`, [`%(${column})%`])).rows[0].n as number);

test("docs/lint.md's recipe: applied alone between two batches (printed so), in production too (the lint agrees), rolled back alone; the knex CLI applies it too", async () => {
  const db = await createMigratedDatabase('_outside');
  await withDatabase(db, fillEveryTable); // ohlcv over four chunks
  write('0009_watchlists.ts', raw(['CREATE TABLE watchlists (id int PRIMARY KEY, symbol varchar(20) NOT NULL)'], ['DROP TABLE watchlists']));
  write('0010_ohlcv_close_index.ts', documentedRecipe());
  write('0011_watchlists_note.ts', raw(['ALTER TABLE watchlists ADD COLUMN note text'], ['ALTER TABLE watchlists DROP COLUMN note']));

  const plan = run(['kapman-db', 'migrate', '--dry-run'], db);
  expect(plan.code).toBe(0);
  expect(plan.out).toMatch(/^kapman: 0010_ohlcv_close_index\.ts \(2 statements; runs alone, outside a transaction, after the batch before it commits\):$/m);

  const r = run(['kapman-db', 'migrate', '--env', 'production'], db);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  expect(r.out).toMatch(/^kapman: lint: 0 findings in 3 migrations/m);
  expect(r.out).toMatch(/^kapman: 0010_ohlcv_close_index\.ts runs alone, outside a transaction \(its config\.transaction is false\), after 1 migration before it committed$/m);
  expect(await batches(db)).toEqual(['2 0009_watchlists.ts', '3 0010_ohlcv_close_index.ts', '4 0011_watchlists_note.ts']);
  expect(await indexes(db, ['ohlcv_close_idx', 'tickers_name_idx'])).toEqual([{ name: 'ohlcv_close_idx', valid: true }, { name: 'tickers_name_idx', valid: true }]);
  expect(await chunkIndexes(db, 'close')).toBe(4);

  expect(run(['kapman-db', 'rollback'], db).code).toBe(0); // 0011, its batch
  const alone = run(['kapman-db', 'rollback'], db);
  expect({ code: alone.code, out: alone.out }).toEqual({ code: 0, out: expect.stringMatching(/^kapman: 0010_ohlcv_close_index\.ts reverted alone, outside a transaction/m) });
  expect(await indexes(db, ['ohlcv_close_idx', 'tickers_name_idx'])).toEqual([]);

  const byKnex = run(['knex', 'migrate:latest'], db);
  expect({ code: byKnex.code, err: byKnex.err }).toEqual({ code: 0, err: '' });
  expect(await indexes(db, ['ohlcv_close_idx', 'tickers_name_idx'])).toEqual([{ name: 'ohlcv_close_idx', valid: true }, { name: 'tickers_name_idx', valid: true }]);

  // The next steps of "Writing the next migration": the contract gets the new entries, and a
  // reset builds the migrations beside (in place, one transaction, it cannot, and says so).
  const verify = run(['kapman-db', 'verify'], db);
  expect(verify.code).toBe(11);
  pasteEntries(copy, printedEntries(verify.out));
  const reset = run(['kapman-db', 'reset'], db);
  expect({ code: reset.code, err: reset.err }).toEqual({ code: 0, err: '' });
  expect(await indexes(db, ['ohlcv_close_idx', 'tickers_name_idx'])).toEqual([{ name: 'ohlcv_close_idx', valid: true }, { name: 'tickers_name_idx', valid: true }]);
  const inPlace = run(['kapman-db', 'reset', '--in-place'], db);
  expect({ code: inPlace.code, err: inPlace.err }).toEqual({ code: 2, err: expect.stringMatching(/an in-place reset is one transaction, and 0010_ohlcv_close_index\.ts runs outside a transaction/) });
});

test('one that fails part-way says what stays and what to run; doing that, the next db:migrate applies it', async () => {
  const db = await createMigratedDatabase('_outside_fails');
  await withDatabase(db, async (c) => {
    await fillEveryTable(c);
    await c.query("UPDATE tickers SET sector = 'Same'"); // a unique index on sector cannot be built
  });
  for (const f of ['0009_watchlists.ts', '0010_ohlcv_close_index.ts', '0011_watchlists_note.ts']) fs.rmSync(path.join(copy, 'db', 'migrations', f), { force: true });
  const outside = 'export const config = { transaction: false };';
  write('0009_sector_index.ts', raw(['CREATE INDEX CONCURRENTLY IF NOT EXISTS tickers_sector_idx ON tickers (sector)',
    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS tickers_sector_key ON tickers (sector)'], [], outside));
  const failed = run(['kapman-db', 'migrate'], db);
  expect(failed.code).toBe(10);
  const [error, hint] = failed.err.trim().split('\n');
  expect(error).toMatch(/^kapman: error: migration 0009_sector_index\.ts \(up\) failed outside a transaction: .*could not create unique index "tickers_sector_key".* 0009_sector_index\.ts is not recorded as applied; its 1 statement before the failing one committed and stays: CREATE INDEX CONCURRENTLY IF NOT EXISTS tickers_sector_idx ON tickers \(sector\); left invalid \(built part-way\): index tickers_sector_key$/);
  expect(hint).toBe('kapman: hint: drop what is left invalid (DROP INDEX CONCURRENTLY IF EXISTS tickers_sector_key), fix 0009_sector_index.ts so that running it again from its first statement works (IF NOT EXISTS), then run the migration again (npm run db:migrate): it starts with 0009_sector_index.ts');
  expect(await indexes(db, ['tickers_sector_idx', 'tickers_sector_key'])).toEqual([{ name: 'tickers_sector_idx', valid: true }, { name: 'tickers_sector_key', valid: false }]);

  // As the hint says: drop what is left, fix the migration, migrate again.
  await withDatabase(db, (c) => c.query(/DROP INDEX CONCURRENTLY IF EXISTS tickers_sector_key/.exec(hint)![0]));
  write('0009_sector_index.ts', raw(['CREATE INDEX CONCURRENTLY IF NOT EXISTS tickers_sector_idx ON tickers (sector)'], [], outside));
  expect(run(['kapman-db', 'migrate'], db).code).toBe(0);
  expect(await indexes(db, ['tickers_sector_idx', 'tickers_sector_key'])).toEqual([{ name: 'tickers_sector_idx', valid: true }]);
});
