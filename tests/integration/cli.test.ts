// The commands as users run them: exit codes and one-line errors (the knex CLI: e2e/knexCli).
import { settingsFromArgs } from '../../scripts/commands';
import { UsageError } from '../../scripts/lib/cli/errors';
import { runInProcess } from '../support/inProcess';
import { actAsOwner, createMigratedDatabase, dropMadeDatabases, testSettings, withDatabase } from '../support/testDatabase';

/** The same command's program in-process (support/inProcess.ts): exit code and output as a process gives them. */
const inProcess = (name: string, args: string[], databaseUrl?: string, env: Record<string, string> = {}) => runInProcess(name, args, { DATABASE_URL: databaseUrl, ...env });

afterAll(dropMadeDatabases);

test('db:verify --empty exits 0 on the baseline and non-zero once a stray table is added to public', async () => {
  const db = await createMigratedDatabase('_stray');
  const clean = await inProcess('verify', ['--empty'], db.url);
  expect(clean.code).toBe(0);
  expect(clean.out).toMatch(/matches the contract/);

  await withDatabase(db, async (c) => {
    await actAsOwner(c);
    await c.query('CREATE TABLE public.stray (x int)');
  });
  const drifted = await inProcess('verify', ['--empty'], db.url);
  expect(drifted.code).toBe(11);
  expect(drifted.out).toMatch(/stray:\n.*unexpected table/);
  expect(drifted.err).toMatch(/^kapman: error: database .* does not match the contract$/m);
  expect(drifted.err).not.toMatch(/\n\s+at /); // no stack trace

  const json = await inProcess('verify', ['--json'], db.url);
  expect(json.code).toBe(11);
  expect(JSON.parse(json.out).differences).toEqual([{ group: 'stray', kind: 'unexpected', item: 'table' }]);
});

test('db:verify --empty fails on a table that holds rows', async () => {
  const db = await createMigratedDatabase('_rows');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('X')"));
  const r = await inProcess('verify', ['--empty'], db.url);
  expect(r.code).toBe(11);
  expect(r.out).toMatch(/differs from the contract \(0 differences, 1 table not empty\)/);
  expect(r.out).toMatch(/tickers: not empty \(1 row\)/);
});

test('a bad --lock-timeout is a usage error (exit 2)', async () => {
  for (const value of [-5, Number('abc'), 0]) {
    expect(() => settingsFromArgs({ env: 'test', 'lock-timeout': value })).toThrow(UsageError);
  }
  const r = await runInProcess('migrate', ['--lock-timeout', 'abc'], { DATABASE_URL: testSettings('kapman_none').url });
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/^kapman: error: --lock-timeout must be a positive number of seconds/);
});

test('--docker where no Docker engine answers names the engine, not the Compose plugin, and how to start one (exit 30)', async () => {
  const noEngine = { DOCKER_HOST: 'unix:///nonexistent/kapman-test-docker.sock' };
  for (const command of ['up', 'down', 'setup']) {
    const r = await inProcess(command, ['--docker'], undefined, noEngine);
    expect(r.code).toBe(30);
    expect(r.err).toMatch(/^kapman: error: --docker was given, but no Docker engine answers \(.+\)$/m);
    expect(r.err).toMatch(/^kapman: hint: start the engine .*--no-docker$/m);
    expect(r.err).not.toMatch(/compose/i);
  }
});
