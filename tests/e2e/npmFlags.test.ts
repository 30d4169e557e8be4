// `npm run db:reset --dry-run` (no `--`): npm takes the flag for itself and the command would
// never see it. Through real `npm run` processes, every script refuses, changes nothing, exits 2
// and says how to spell it.
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Settings } from '../../scripts/lib/server/settings';
import { CliResult, ROOT } from '../support/cli';
import { publicTables, schemaDump } from '../support/schema';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

/** `npm run <args>` from the project root, with none of this process's own npm variables. */
function npmRun(args: string[], env: Record<string, string>): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_ENV' && k !== 'DATABASE_URL'));
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', ...args], { cwd: ROOT, env: { ...clean, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const rows = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers ORDER BY symbol')).rows);

test('every npm script refuses its own flag given without --, changes nothing, exits 2 with one line', async () => {
  const resetDb = await createMigratedDatabase('_npm_reset');
  await withDatabase(resetDb, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const rollbackDb = await createMigratedDatabase('_npm_rollback');
  const emptyDb = await createTestDatabase('_npm_migrate');
  const before = { dump: schemaDump(resetDb), rows: await rows(resetDb), rollback: schemaDump(rollbackDb) };
  const envFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-npm-')), 'x.env');
  fs.writeFileSync(envFile, 'KAPMAN_UNUSED=1\n');

  // [npm script, its flag as typed, the command that answers, the spelling it suggests, DATABASE_URL]
  const cases: [string, string, string, string, string][] = [
    ['db:reset', '--dry-run', 'db:reset', '--dry-run', resetDb.url],
    ['db:migrate', '--wait-timeout=5', 'db:migrate', '--wait-timeout 5', emptyDb.url],
    ['db:rollback', '--all', 'db:rollback', '--all', rollbackDb.url],
    ['db:verify', '--json', 'db:verify', '--json', resetDb.url],
    ['db:status', `--env-file=${envFile}`, 'db:status', `--env-file ${envFile}`, resetDb.url],
    ['db:schema:dump', '--check', 'db:schema:dump', '--check', emptyDb.url],
    ['db:erd', '--check', 'db:erd', '--check', emptyDb.url],
    ['db:up', '--pg-bin=/nonexistent/bin', 'db:up', '--pg-bin /nonexistent/bin', emptyDb.url],
    ['db:down', '--no-docker', 'db:down', '--no-docker', emptyDb.url],
    ['db:setup', '--pg-bin=/nonexistent/bin', 'db:setup', '--pg-bin /nonexistent/bin', emptyDb.url],
    ['db:backup', '--out=/nonexistent/x.dump', 'db:backup', '--out /nonexistent/x.dump', resetDb.url],
    ['db:restore', '--dry-run', 'db:restore', '--dry-run', resetDb.url],
    ['bench', '--render-only', 'bench', '--render-only', emptyDb.url],
  ];
  // PG_BIN leads nowhere: a bench or db:up that ran anyway would fail at once instead of starting servers.
  const runs = await Promise.all(cases.map(([script, flag, , , url]) => npmRun([script, flag], { DATABASE_URL: url, PG_BIN: '/nonexistent/bin' })));
  fs.rmSync(path.dirname(envFile), { recursive: true, force: true });

  for (const [i, [script, flag, answers, spelling]] of cases.entries()) {
    const r = runs[i];
    const ours = r.err.split('\n').filter((l) => l.startsWith('kapman:'));
    expect({ script, flag, code: r.code, ours }).toEqual({
      script, flag, code: 2,
      ours: [`kapman: error: npm took ${spelling} for itself (no \`--\` before it), so nothing was done; run: npm run ${answers} -- ${spelling}`],
    });
  }
  expect({ dump: schemaDump(resetDb), rows: await rows(resetDb), rollback: schemaDump(rollbackDb) }).toEqual(before);
  expect(await withDatabase(emptyDb, publicTables)).toEqual([]);
});

test('flags after -- are the command\'s own, as before', async () => {
  const db = await createMigratedDatabase('_npm_ok');
  const r = await npmRun(['db:verify', '--', '--empty'], { DATABASE_URL: db.url });
  expect({ code: r.code, out: r.out }).toEqual({ code: 0, out: expect.stringMatching(/matches the contract/) });
});

test('a flag neither npm nor the command knows, given without -- (a typo: --dry-rn), is refused too, naming the option it misspells: nothing is reset', async () => {
  const db = await createMigratedDatabase('_npm_typo');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const r = await npmRun(['db:reset', '--dry-rn'], { DATABASE_URL: db.url });
  const ours = r.err.split('\n').filter((l) => l.startsWith('kapman:'));
  expect({ code: r.code, ours }).toEqual({
    code: 2,
    ours: [
      'kapman: error: npm took --dry-rn for itself (no `--` before it), and neither npm nor db:reset knows it, so nothing was done',
      'kapman: hint: did you mean --dry-run? run: npm run db:reset -- --dry-run',
    ],
  });
  expect(await rows(db)).toEqual([{ symbol: 'KEEP' }]);
});
