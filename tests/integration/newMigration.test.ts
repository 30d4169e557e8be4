// The next migration: `npm run db:new` writes it from the house stub, db:migrate applies it,
// db:status lists it, db:rollback reverts it. (`knex migrate:make` refusing: e2e/knexCliRefusals.test.ts.)
import fs from 'fs';
import os from 'os';
import path from 'path';
import { MIGRATIONS_DIR, squashedDirOf } from '../../db/migrationSource';
import { MigrationExistsError, MigrationFailedError, UsageError } from '../../scripts/lib/cli/errors';
import { migrate } from '../../scripts/lib/migrations/deploy';
import { migrationName, newMigration, nextNumber } from '../../scripts/new';
import { dbRollback } from '../../scripts/rollback';
import { status } from '../../scripts/status';
import { runInProcess } from '../support/inProcess';
import { migrationsFolder } from '../support/migrations';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

const released = fs.readdirSync(MIGRATIONS_DIR).sort();
const copyOfReleased = () => migrationsFolder(Object.fromEntries(released.map((f) => [f, fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8')])));

test('a generated migration, once written, is applied by db:migrate, listed by db:status and reverted by db:rollback', async () => {
  const db = await createMigratedDatabase('_new');
  const dir = copyOfReleased();
  const made = newMigration({ name: 'Add tickerExchange', directory: dir });
  expect(made.file).toBe(`${nextNumber(released)}_add_ticker_exchange.ts`);
  expect(made.file).toMatch(/^\d{4}_add_ticker_exchange\.ts$/);
  const stub = fs.readFileSync(made.path, 'utf8');
  expect(stub).toMatch(/^import type \{ Knex \} from 'knex';\n/);
  expect(stub).toMatch(/\n\/\/ Why: .*\nexport async function up\(knex: Knex\): Promise<void> \{/s);
  expect(stub).toMatch(/\nexport async function down\(knex: Knex\): Promise<void> \{/);

  const listed = async () => Object.fromEntries((await status(db, { migrationsDirectory: dir })).migrations.map((s) => [s.name, s.state]));
  expect(await listed()).toEqual({ ...Object.fromEntries(released.map((f) => [f, 'applied'])), [made.file]: 'pending' });

  // Left unwritten, the stub fails loudly instead of being recorded as applied.
  await expect(migrate(db, { migrationsDirectory: dir })).rejects.toThrow(MigrationFailedError);
  await expect(migrate(db, { migrationsDirectory: dir })).rejects.toThrow(/up\(\) is not written yet/);
  expect((await listed())[made.file]).toBe('pending');

  fs.writeFileSync(made.path, stub
    .replace(/throw new Error\('[^']*up\(\)[^']*'\);/, "await knex.schema.alterTable('tickers', (t) => { t.string('exchange', 10); });")
    .replace(/throw new Error\('[^']*down\(\)[^']*'\);/, "await knex.schema.alterTable('tickers', (t) => { t.dropColumn('exchange'); });"));
  jest.resetModules(); // a new process would read the file anew; this one has the stub cached
  const hasExchange = () => withDatabase(db, async (c) => (await c.query(
    "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'tickers' AND column_name = 'exchange'")).rows[0].n === 1);

  expect((await migrate(db, { migrationsDirectory: dir })).applied).toEqual([made.file]);
  expect(await hasExchange()).toBe(true);
  expect((await listed())[made.file]).toBe('applied');

  expect(await dbRollback(db, { migrationsDirectory: dir })).toEqual([made.file]);
  expect(await hasExchange()).toBe(false);
  expect(await listed()).toEqual({ ...Object.fromEntries(released.map((f) => [f, 'applied'])), [made.file]: 'pending' });
});

test('names: snake_cased, numbered after the highest NNNN_ file, refused when taken (any number), empty or not a name', () => {
  expect(migrationName('add_ticker_exchange')).toBe('add_ticker_exchange');
  expect(migrationName('  Add tickerExchange-2 ')).toBe('add_ticker_exchange_2');
  expect(migrationName('OHLCVIndex')).toBe('ohlcv_index');
  expect(nextNumber([])).toBe('0001');
  expect(nextNumber(['0001_a.ts', '0041_b.ts', '20240101120000_stray.ts', 'README.md'])).toBe('0042');

  const dir = migrationsFolder({ '0007_add_ticker_exchange.ts': '' });
  expect(() => newMigration({ name: 'addTickerExchange', directory: dir })).toThrow(MigrationExistsError);
  expect(() => newMigration({ name: 'add ticker exchange', directory: dir })).toThrow(/exists: 0007_add_ticker_exchange\.ts/);
  for (const bad of ['', '   ', '../escape', 'name.ts', '9_lives', '___']) {
    expect(() => newMigration({ name: bad, directory: dir })).toThrow(UsageError);
  }
  expect(fs.readdirSync(dir)).toEqual(['0007_add_ticker_exchange.ts']);
  expect(newMigration({ name: 'next', directory: dir }).file).toBe('0008_next.ts');
});

test('a name a squash moved to db/squashed/ is still taken: a database may have applied it', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-new-'));
  try {
    const directory = path.join(root, 'db', 'migrations');
    fs.mkdirSync(directory, { recursive: true });
    fs.mkdirSync(squashedDirOf(directory));
    fs.writeFileSync(path.join(directory, '0003_baseline.ts'), '');
    fs.writeFileSync(path.join(squashedDirOf(directory), '0002_tickers.ts'), '');
    expect(() => newMigration({ name: 'Tickers', directory })).toThrow(/^a migration named tickers exists: 0002_tickers\.ts \(in db\/squashed\/, folded into a baseline\)$/);
    expect(newMigration({ name: 'ticker exchange', directory }).file).toBe('0004_ticker_exchange.ts');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('`npm run db:new` from the command line: a taken name exits 20, a bad one 2, and neither writes a file', async () => {
  // The names the project has taken, in db/migrations/ and (after a squash) db/squashed/: none is assumed.
  const squashed = fs.existsSync(squashedDirOf()) ? fs.readdirSync(squashedDirOf()) : [];
  const nameOf = (f: string) => /^\d{4}_(.+)\.ts$/.exec(f)![1];
  const taken = released[0];
  const r = await runInProcess('new', [nameOf(taken).replace(/^./, (c) => c.toUpperCase())]);
  expect(r.code).toBe(20);
  expect(r.err).toMatch(new RegExp(`^kapman: error: a migration named ${nameOf(taken)} exists: ${taken}$`, 'm'));
  expect(r.err).toMatch(new RegExp(`^kapman: hint: .*npm run db:new -- ${nameOf(taken)}_2`, 'm'));
  const several = [...released, ...squashed].map(nameOf).find((n) => n.includes('_'));
  if (several) {
    const words = await runInProcess('new', several.split('_')); // several words, no quotes
    expect({ code: words.code, err: words.err }).toEqual({ code: 20, err: expect.stringContaining(`a migration named ${several} exists`) });
  }
  expect((await runInProcess('new', [''])).code).toBe(2);
  expect((await runInProcess('new', [])).code).toBe(2);
  expect((await runInProcess('new', ['drop table;'])).err).toMatch(/holds characters other than/);
  expect(fs.readdirSync(MIGRATIONS_DIR).sort()).toEqual(released);
});
