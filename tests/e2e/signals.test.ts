// Signals and closed pipes, as supervisors, wrapper scripts and `| head` deliver them: the
// reset either finishes and verifies, or leaves the target exactly as it was.
import { escapeIdentifier } from 'pg';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { verify } from '../../scripts/lib/schema/verify';
import { spawn, spawnSync } from 'child_process';
import { alive } from '../support/process';
import { EXIT_CODES } from '../../scripts/lib/cli/interrupt';
import { startNpm } from '../support/npm';
import { databaseAttributes, databasesLike, schemaDump } from '../support/schema';
import { ROOT } from '../support/cli';
import { admin, createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { Settings } from '../../scripts/lib/server/settings';
import { MIDDLE_MIGRATION, migrationFiles } from '../support/expected';

afterAll(dropMadeDatabases);


/** A migrated database holding a row, with attributes a reset must keep. */
async function target(): Promise<Settings> {
  const db = await createMigratedDatabase('_sig');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  await admin(async (c) => {
    await c.query(`ALTER DATABASE ${escapeIdentifier(db.database)} CONNECTION LIMIT 30`);
    await c.query(`COMMENT ON DATABASE ${escapeIdentifier(db.database)} IS 'signals'`);
  });
  return db;
}

async function state(db: Settings) {
  return {
    attributes: await admin((c) => databaseAttributes(c, db.database)),
    rows: await withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers')).rows.map((r) => r.symbol)),
  };
}

// Early signals must find node (npm passes them on only to a node it `exec`s) and stop it;
// the last may land in the swap, which is then finished.
const MOMENTS: Array<[string, RegExp, boolean]> = [
  ['once the build database exists', /created beside/, false],
  // The middle migration of the folder, whatever its name (a squash may leave one file).
  ['while a migration runs', new RegExp(`applying ${MIDDLE_MIGRATION.replace('.', '\\.')}`), false],
  ['once the build is verified', /^kapman: compared with the contract/m, true],
];
const DELIVERIES: Array<[string, 'npm' | 'group' | 'node', NodeJS.Signals]> = [
  ['SIGTERM to npm alone', 'npm', 'SIGTERM'],
  ['SIGINT to the process group (Ctrl-C)', 'group', 'SIGINT'],
  ['SIGTERM to node run directly', 'node', 'SIGTERM'],
];

describe.each(MOMENTS)('a signal %s', (_moment, line, mayFinish) => {
  test.each(DELIVERIES)('%s: finished and verified, or unchanged', async (_how, to, signal) => {
    const db = await target();
    const before = { ...(await state(db)), dump: schemaDump(db) };
    const run = startNpm('db:reset', [], { DATABASE_URL: db.url }, to === 'node' ? 'reset' : undefined);
    await run.waitFor(line);
    const node = run.nodePid();
    if (to === 'group') process.kill(-run.npm.pid!, signal);
    else process.kill(to === 'node' ? node : run.npm.pid!, signal);
    const { code, out } = await run.done;

    const finished = /swapped into place/.test(out);
    const unchanged = new RegExp(`interrupted: ${db.database} is unchanged`).test(out);
    expect([finished, unchanged]).toContain(true);
    expect(finished && unchanged).toBe(false);
    if (!mayFinish) expect(unchanged).toBe(true);
    // npm passes the signal on, waits for node and exits with node's code (as the README says);
    // a signal that reaches npm only as node ends (the swap finished meanwhile) ends npm itself.
    const expected = finished ? (to === 'node' ? [0] : [0, EXIT_CODES[signal]]) : [EXIT_CODES[signal]];
    expect({ to, finished, code: expected.includes(code!) ? expected : code }).toEqual({ to, finished, code: expected });
    if (finished) {
      expect((await verify(db, { empty: true })).ok).toBe(true);
      expect((await state(db)).attributes).toEqual(before.attributes);
    } else {
      expect(await state(db)).toEqual({ attributes: before.attributes, rows: before.rows });
      expect(schemaDump(db)).toEqual(before.dump);
    }
    expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
  });
});

test('a reader that goes away (`| head -1`) does not abort the reset: it finishes, exits 0 and verifies', async () => {
  const db = await target();
  for (const command of ['npm run --silent db:reset', `${process.execPath} scripts/kapman-db.js reset`]) {
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${command} | head -1`], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url, NODE_ENV: undefined },
    });
    expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: '' });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect((await verify(db, { empty: true })).ok).toBe(true);
    await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('AGAIN')"));
  }
});

test('SIGTERM to `npx kapman-db reset`\'s own pid (npm exec passes it on to no one): node sees its parent gone, stops, and nothing changed', async () => {
  const db = await target();
  const before = await state(db);
  const npx = spawn('npx', ['kapman-db', 'reset'], {
    cwd: ROOT, detached: true, env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: db.url, npm_config_yes: 'true' },
  });
  let out = '';
  npx.stdout!.on('data', (d) => (out += d));
  // Until the reset says it applies the first migration, or npx ends: npx alone takes seconds to
  // start on a busy machine, so the wait is bounded by the test's limit, not by a count of tries.
  const first = new RegExp(`applying ${migrationFiles()[0].replace('.', '\\.')}`);
  await new Promise<void>((resolve) => {
    const check = () => { if (first.test(out)) resolve(); };
    npx.stdout!.on('data', check);
    npx.on('close', () => resolve());
    check();
  });
  expect(out).toMatch(first);
  // npx → sh → node: the node that does the work is the shell's child.
  const children = (pid: number) => spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  const node = children(npx.pid!).flatMap(children)[0] ?? children(npx.pid!)[0];
  expect(alive(node)).toBe(true);
  process.kill(npx.pid!, 'SIGTERM');
  for (let i = 0; i < 300 && alive(node); i++) await new Promise((r) => setTimeout(r, 50));
  expect(alive(node)).toBe(false);
  expect(await state(db)).toEqual(before);
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
});
