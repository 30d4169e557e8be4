// Slow (a throwaway local server per rehearsal, and processes killed part-way): a dry run never
// changes the target. Where the role may not create databases it rehearses on a throwaway local
// server: no sequence moves on the target, no lock is taken there (a writer goes on), a COMMIT in
// a migration changes nothing there. On the target only when asked by name, saying what it
// costs; with no scratch database to be had, it refuses. A scratch database a killed run left
// behind is dropped by the next run, and a live run's is not.
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { escapeIdentifier } from 'pg';
import { planMigrations } from '../../scripts/lib/migrations/deploy';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { connect } from '../../scripts/lib/server/connection';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { setQuiet } from '../../scripts/lib/cli/log';
import { migrationOf, migrationsFolder, releasedMigrations } from '../support/migrations';
import { copyProject, removeProject } from '../support/projectCopy';
import { databasesLike } from '../support/schema';
import {
  admin, createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, testSettings, uniqueName, urlAs, withDatabase,
} from '../support/testDatabase';

const copies: string[] = [];
afterAll(async () => {
  for (const c of copies) await removeProject(c);
  await dropMadeDatabases();
  await dropMadeRoles();
});

// Applied on the target: a table with a sequence, used once.
const COUNTERS = migrationOf(['CREATE TABLE probe_counters (id serial PRIMARY KEY, note text)']);
// Pending: what moved sequences, took locks and committed on the target when it rehearsed there.
const PENDING = migrationOf([
  "INSERT INTO probe_counters (note) VALUES ('a'), ('b')",
  "SELECT setval('probe_counters_id_seq', 5000)",
  "DO $$ BEGIN PERFORM nextval('probe_counters_id_seq'); END $$",
  'ALTER TABLE tickers ADD COLUMN probe_exchange text',
  'CREATE INDEX tickers_probe_exchange_idx ON tickers (probe_exchange)',
  'SELECT pg_sleep(2)', // with the table locks held, were this the target
  'COMMIT', // refused wherever it runs in a transaction: it would commit part of the batch
]);

/** A database owned by a role that may not create databases, as on a managed server, migrated through COUNTERS, with rows. */
async function managedTarget(label: string): Promise<{ db: Settings; directory: string }> {
  const role = await createTestRole(label);
  const name = remember(uniqueName(`_${label}`));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)} TEMPLATE template0`));
  await withDatabase(testSettings(name), (c) => c.query('CREATE EXTENSION timescaledb')); // the platform's
  const db = loadSettings({ env: 'test', databaseUrl: urlAs(role, name) });
  await migrateLatest(db, { directory: migrationsFolder({ ...releasedMigrations(), '9000_counters.ts': COUNTERS }) });
  await withDatabase(db, (c) => c.query("INSERT INTO probe_counters (note) VALUES ('first'); INSERT INTO tickers (symbol) VALUES ('AAA')"));
  return { db, directory: migrationsFolder({ ...releasedMigrations(), '9000_counters.ts': COUNTERS, '9001_pending.ts': PENDING }) };
}

/** What a rehearsal must leave as it was on the target: sequences, knex's lock, the table's columns and indexes, what is applied. */
const targetState = (db: Settings) => withDatabase(db, async (c) => ({
  counters: (await c.query('SELECT last_value::int, is_called FROM probe_counters_id_seq')).rows[0],
  knexIds: (await c.query('SELECT last_value::int FROM knex.knex_migrations_id_seq')).rows[0],
  knexLock: (await c.query('SELECT is_locked FROM knex.knex_migrations_lock')).rows,
  tickers: (await c.query("SELECT attname FROM pg_attribute WHERE attrelid = 'tickers'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")).rows.map((r) => r.attname),
  indexes: (await c.query("SELECT indexname FROM pg_indexes WHERE tablename = 'tickers' ORDER BY 1")).rows.map((r) => r.indexname),
  applied: (await c.query('SELECT name FROM knex.knex_migrations ORDER BY id')).rows.map((r) => r.name),
}));

/**
 * `work` while a writer inserts into tickers on the target without pause, and a watcher notes
 * every lock another session holds on tickers and every time the writer waits for one.
 */
async function withWriter<T>(db: Settings, work: () => Promise<T>): Promise<{ result: T; inserts: number; seen: string[] }> {
  const writer = await connect(db);
  const watcher = await connect(db);
  const { rows: [w] } = await writer.query('SELECT pg_backend_pid() AS pid');
  let running = true;
  let inserts = 0;
  const seen = new Set<string>();
  const writing = (async () => {
    for (let i = 0; running; i++) {
      await writer.query('INSERT INTO tickers (symbol) VALUES ($1)', [`W${i}`]);
      inserts += 1;
    }
  })();
  const watching = (async () => {
    while (running) {
      const { rows } = await watcher.query(`SELECT l.pid, l.mode, l.granted, cardinality(pg_blocking_pids($1)) > 0 AS writer_waits
          FROM pg_locks l WHERE l.relation = 'tickers'::regclass AND l.pid NOT IN ($1, pg_backend_pid())
        UNION ALL SELECT NULL, NULL, NULL, cardinality(pg_blocking_pids($1)) > 0`, [w.pid]);
      for (const r of rows) {
        if (r.pid !== null) seen.add(`session ${r.pid} holds ${r.mode} on tickers`);
        if (r.writer_waits) seen.add('the writer waits for a lock');
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    const result = await work();
    return { result, inserts, seen: [...seen] };
  } finally {
    running = false;
    await Promise.allSettled([writing, watching]);
    await writer.end();
    await watcher.end();
  }
}

test('a role that may not create databases: the dry run rehearses on a throwaway local server; no sequence moves, no lock, a COMMIT changes nothing on the target', async () => {
  const { db, directory } = await managedTarget('dr_managed');
  const before = await targetState(db);
  const { result: failed, inserts, seen } = await withWriter(db, () => planMigrations(db, { migrationsDirectory: directory }).catch((err) => err));
  // The plan says where it ran, and that the migration fails (at its COMMIT, refused, as db:migrate would refuse it).
  expect(failed).toMatchObject({ exitCode: 10, message: expect.stringContaining('"COMMIT" would end the transaction 9001_pending.ts runs in'), result: { where: 'throwaway local server' } });
  expect(failed.result.migrations.map((m: { file: string }) => m.file)).toEqual(['9001_pending.ts']);
  expect(failed.result.migrations[0].statements).toContain('COMMIT');
  expect(seen).toEqual([]);
  expect(inserts).toBeGreaterThan(0);
  const after = await targetState(db);
  expect(after).toEqual(before);
});

test('--rehearse-on-target, asked by name: it says what it takes there; a COMMIT is refused unsent, so nothing is committed', async () => {
  const { db, directory } = await managedTarget('dr_ontarget');
  const before = await targetState(db);
  let printed = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((printed += String(chunk)), true));
  setQuiet(false);
  let refused: unknown;
  try {
    await planMigrations(db, { migrationsDirectory: directory, rehearseOnTarget: true }).catch((err) => { refused = err; });
  } finally {
    setQuiet(true);
    spy.mockRestore();
  }
  expect(printed).toMatch(/rehearsing on \S+ itself, as asked \(--rehearse-on-target\), in a transaction rolled back: it holds the migration lock, and its statements take the same locks on the live tables as the migration will, for as long \(writers wait\); the sequence values it uses stay used/);
  expect(refused).toMatchObject({ exitCode: 10, message: expect.stringMatching(/"COMMIT" would end the transaction 9001_pending\.ts runs in \(its batch's; a rehearsal's on the target\): refused, not sent/) });
  const after = await targetState(db);
  // What it said it would cost: the sequences it used; nothing else.
  expect({ ...after, counters: before.counters, knexIds: before.knexIds }).toEqual(before);
  expect(after.counters.last_value).toBeGreaterThan(before.counters.last_value);
});

test('with no scratch database to be had (no CREATEDB, no local binaries), the dry run and production\'s migrate refuse (exit 9), naming the ways out; nothing changes', async () => {
  const { db, directory } = await managedTarget('dr_none');
  const before = await targetState(db);
  const nowhere = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-no-pg-'));
  try {
    const hint = /connect as a role with CREATEDB, or install PostgreSQL 15 with TimescaleDB here \(PG_BIN names its binaries\), or rehearse on the target itself with --rehearse-on-target/;
    await expect(planMigrations(db, { migrationsDirectory: directory, pgBin: nowhere })).rejects.toMatchObject({ exitCode: 9, hint: expect.stringMatching(hint) });
    const { migrate } = await import('../../scripts/lib/migrations/deploy');
    const production = loadSettings({ env: 'production', databaseUrl: db.url });
    await expect(migrate(production, { migrationsDirectory: directory, pgBin: nowhere })).rejects.toMatchObject({ exitCode: 9, hint: expect.stringMatching(hint) });
  } finally {
    fs.rmSync(nowhere, { recursive: true, force: true });
  }
  expect(await targetState(db)).toEqual(before);
});

/** `kapman-db migrate --dry-run` as a process in `copy`, until it is killed. */
const dryRunProcess = (copy: string, db: Settings): ChildProcess => spawn(process.execPath, [path.join('scripts', 'kapman-db.js'), 'migrate', '--dry-run'], {
  cwd: copy, env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: db.url }, stdio: 'ignore',
});

/** The scratch databases on the test server besides `known`, once one more appeared and its migration sleeps there. */
async function newScratch(known: string[]): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const found = (await admin((c) => databasesLike(c, 'kapman_scratch_'))).filter((d) => !known.includes(d));
    const sleeping = found.length && (await admin((c) => c.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep%'", [found[0]]))).rows.length;
    if (sleeping) return found[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no rehearsal started');
}

test('a dry run killed by SIGKILL leaves its scratch database; the next run that makes one drops it, and leaves a live run\'s alone', async () => {
  const copy = copyProject('scratchkill');
  copies.push(copy);
  fs.writeFileSync(path.join(copy, 'db', 'migrations', '9001_slow.ts'), migrationOf(['SELECT pg_sleep(120)']));
  const db = await createMigratedDatabase('_dr_kill');
  const known = await admin((c) => databasesLike(c, 'kapman_scratch_'));
  const killed = dryRunProcess(copy, db);
  const dead = await newScratch(known);
  expect(dead).toMatch(/^kapman_scratch_\d+_[0-9a-f]{8}$/);
  killed.kill('SIGKILL');
  await new Promise((r) => killed.once('exit', r));
  expect(await admin((c) => databasesLike(c, 'kapman_scratch_'))).toContain(dead);
  // The next run drops the dead run's scratch database as it makes its own.
  const live = dryRunProcess(copy, db);
  try {
    const alive = await newScratch([...known, dead]);
    expect(await admin((c) => databasesLike(c, 'kapman_scratch_'))).not.toContain(dead);
    // And the run after it leaves the live one be.
    const other = await createMigratedDatabase('_dr_next');
    const r = await rehearse(other, { directory: migrationsFolder({ ...releasedMigrations(), '9001_probe.ts': migrationOf(['CREATE TABLE probe_x (x int)']) }) });
    expect(r.where).toBe('scratch database');
    expect(await admin((c) => databasesLike(c, 'kapman_scratch_'))).toContain(alive);
  } finally {
    live.kill('SIGKILL');
  }
});
