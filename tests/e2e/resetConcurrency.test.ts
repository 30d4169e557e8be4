// In tests/e2e (npm run test:e2e): concurrent reset and migrate processes, in rounds, lock waits run out to --lock-timeout, killed runs' leftovers.
// Resets and migrations beside other runs and sessions: serialized, waits bounded and named,
// leftovers of killed runs removed. (A bad --lock-timeout is in integration/cli.test.ts, a
// connection lost mid-migration in integration/contention.test.ts.)
import { escapeIdentifier } from 'pg';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { Settings } from '../../scripts/lib/server/settings';
import { verify } from '../../scripts/lib/schema/verify';
import { reset } from '../../scripts/reset';
import { runScript, startScript } from '../support/cli';
import { migrationFiles } from '../support/expected';
import { ownedDatabase, plainClient, symbols } from '../support/owned';
import { databasesLike } from '../support/schema';
import { admin, createTestDatabase, dropMadeDatabases, dropMadeRoles, remember, serverUrl, testSettings, withDatabase } from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

const q = (name: string) => escapeIdentifier(name);

const resetAs = (db: Settings, ...args: string[]) => runScript('reset', ['--quiet', ...args], { DATABASE_URL: db.url });

test('a build left by a killed run is removed by the next reset of the same target, and nothing else', async () => {
  const { db } = await ownedDatabase('left');
  const leftover = `${buildPrefix(db.database)}dead01`;
  const otherTargets = remember(`${buildPrefix(`${db.database}x`)}dead02`);
  await admin(async (c) => {
    await c.query(`CREATE DATABASE ${q(leftover)}`);
    await c.query(`CREATE DATABASE ${q(otherTargets)}`);
  });
  await reset(testSettings(db.database));
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
  expect(await admin((c) => databasesLike(c, otherTargets))).toEqual([otherTargets]);
});

test('two resets of one database at once: the second waits for the first, both exit 0, the result verifies (3 rounds)', async () => {
  const { db } = await ownedDatabase('two');
  for (let round = 0; round < 3; round++) {
    // Not --quiet: the wait is a line of progress.
    const runs = await Promise.all([1, 2].map(() => startScript('reset', [], { DATABASE_URL: db.url })));
    expect(runs.map((r) => [r.code, r.err])).toEqual([[0, ''], [0, '']]);
    expect(runs.some((r) => /waiting for the reset lock of/.test(r.out))).toBe(true);
    expect((await verify(db, { empty: true })).ok).toBe(true);
  }
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
});

test('two db:migrate processes at the same moment: both exit 0, migrations applied once', async () => {
  const db = await createTestDatabase('_race2');
  const runs = await Promise.all([1, 2].map(() => startScript('migrate', [], { DATABASE_URL: db.url })));
  expect(runs.map((r) => r.code)).toEqual([0, 0]);
  expect(await withDatabase(db, async (c) => (await c.query('SELECT name FROM knex.knex_migrations ORDER BY id')).rows.map((r) => r.name))).toEqual(migrationFiles());
});

test('resets of two different databases never wait for each other', async () => {
  const [a, b] = await Promise.all([ownedDatabase('da'), ownedDatabase('db')]);
  const runs = await Promise.all([a, b].map(({ db }) => startScript('reset', [], { DATABASE_URL: db.url })));
  expect(runs.map((r) => r.code)).toEqual([0, 0]);
  for (const r of runs) expect(r.out).not.toMatch(/waiting/);
});

test('a reset waits for another run at most --lock-timeout, names it, and changes nothing (exit 14)', async () => {
  const { db } = await ownedDatabase('lt');
  // Another run's lock, held the way a run holds it: in an open transaction on the maintenance database.
  const holder = await plainClient(serverUrl(), 'kapman-db');
  try {
    await holder.query('BEGIN');
    await holder.query("SELECT pg_advisory_xact_lock(hashtext('kapman-db'), hashtext($1))", [`reset ${db.database}`]);
    const pid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    // Exit 14 while the holder still holds the lock: the reset gave up by itself (a wait without
    // end would run into the test's time limit, which is not asserted on: load only slows it).
    const r = await startScript('reset', ['--quiet', '--lock-timeout', '1'], { DATABASE_URL: db.url });
    expect(r.code).toBe(14);
    expect(r.err).toContain(`session ${pid} (kapman-db`);
  } finally {
    await holder.end();
  }
  expect(await symbols(db)).toEqual(['KEEP']);
});

test('db:rollback behind an open transaction reports the holder after 2 s and gives up at --lock-timeout (exit 14), nothing half-done', async () => {
  const { db } = await ownedDatabase('rb');
  const reader = await plainClient(db.url, 'ingest-job');
  try {
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM ohlcv'); // holds a lock that DROP TABLE must wait for
    const pid = (await reader.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const r = runScript('rollback', ['--all', '--lock-timeout', '3'], { DATABASE_URL: db.url });
    expect(r.code).toBe(14);
    expect(r.out).toMatch(new RegExp(`waiting for a lock held by session ${pid} \\(ingest-job, idle in transaction`));
  } finally {
    await reader.end();
  }
  expect(await symbols(db)).toEqual(['KEEP']);
  expect((await verify(db)).differences).toEqual([]);
});
