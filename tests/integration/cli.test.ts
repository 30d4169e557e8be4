// The commands as users run them: exit codes, one-line errors, and the knex CLI.
import { runKnex, runScript } from '../support/cli';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

const script = (name: string, args: string[], databaseUrl?: string) => runScript(name, args, { DATABASE_URL: databaseUrl });

afterAll(dropMadeDatabases);

test('db:verify --empty exits 0 on the baseline and non-zero once a stray table is added to public', async () => {
  const db = await createMigratedDatabase('_stray');
  const clean = script('verify', ['--empty'], db.url);
  expect(clean.code).toBe(0);
  expect(clean.out).toMatch(/matches the contract/);

  await withDatabase(db, (c) => c.query('CREATE TABLE public.stray (x int)'));
  const drifted = script('verify', ['--empty'], db.url);
  expect(drifted.code).toBe(11);
  expect(drifted.out).toMatch(/stray:\n.*unexpected table/);
  expect(drifted.err).toMatch(/^kapman: error: database .* does not match the contract$/m);
  expect(drifted.err).not.toMatch(/\n\s+at /); // no stack trace

  const json = script('verify', ['--json'], db.url);
  expect(json.code).toBe(11);
  expect(JSON.parse(json.out).differences).toEqual([{ group: 'stray', kind: 'unexpected', item: 'table' }]);
});

test('db:verify --empty fails on a table that holds rows', async () => {
  const db = await createMigratedDatabase('_rows');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('X')"));
  const r = script('verify', ['--empty'], db.url);
  expect(r.code).toBe(11);
  expect(r.out).toMatch(/differs from the contract \(0 differences, 1 table not empty\)/);
  expect(r.out).toMatch(/tickers: not empty \(1 row\)/);
});

test('the knex CLI in production without DATABASE_URL names what is missing instead of trying libpq defaults', () => {
  const r = runKnex(['migrate:status', '--env', 'production']);
  expect(r.code).not.toBe(0);
  expect(r.out + r.err).toMatch(/production environment has no default database: set DATABASE_URL/);
});
