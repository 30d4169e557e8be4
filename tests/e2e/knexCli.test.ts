// The plain knex CLI (`npx knex …`), as real processes: it works from the repo root, reads .env,
// and takes the migration lock db:migrate takes, so runs at once wait for each other.
import { spawnSync } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { escapeIdentifier } from 'pg';
import { MIGRATIONS_SCHEMA } from '../../db/migrationSource';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { connect } from '../../scripts/lib/server/connection';
import { acquireLock, MIGRATIONS_LOCK } from '../../scripts/lib/server/lock';
import { Settings } from '../../scripts/lib/server/settings';
import { CliResult, ROOT, runKnex, runScript, startKnex } from '../support/cli';
import { migrationFiles } from '../support/expected';
import { createTestDatabase, dropMadeDatabases, serverUrl, urlAs, withDatabase } from '../support/testDatabase';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await dropMadeDatabases();
});

/** Each applied migration's name with how many times it is recorded. */
const appliedCounts = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT name, count(*)::int AS n FROM knex.knex_migrations GROUP BY name ORDER BY name')).rows);
const lockState = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query('SELECT is_locked FROM knex.knex_migrations_lock')).rows.map((r) => r.is_locked));
const knexTables = (db: Settings) => withDatabase(db, async (c) =>
  (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'knex'")).rows[0].n);

/** How many migrations a `migrate:latest` run says it applied. */
function appliedBy(r: CliResult): number {
  if (/Already up to date/.test(r.out)) return 0;
  const batch = /Batch \d+ run: (\d+) migrations/.exec(r.out);
  if (!batch) throw new Error(`no result line in:\n${r.out}${r.err}`);
  return Number(batch[1]);
}

/** Exit 0 and nothing on stderr: no stack trace, no knex lock error. */
const clean = (r: CliResult) => ({ code: r.code, err: r.err });

/**
 * Runs `start` while this test holds back the creation of knex's schema, and lets go once both
 * runs stand at the start line: both waiting for the schema, or (serialized) one waiting for it
 * while holding the migration lock and the other waiting for that lock. Let go together, runs
 * that do not serialize race on knex's tables; process start-up alone would mostly keep them apart.
 */
async function atTheSameMoment<T>(db: Settings, start: () => Promise<T>): Promise<T> {
  const gate = await connect(db);
  try {
    await gate.query('BEGIN');
    await gate.query(`CREATE SCHEMA ${escapeIdentifier(MIGRATIONS_SCHEMA)}`);
    let settled = false;
    const runs = start().finally(() => { settled = true; });
    while (!settled) {
      await gate.query('SELECT pg_stat_clear_snapshot()');
      const { rows: [s] } = await gate.query(`SELECT count(*)::int AS sessions,
          count(*) FILTER (WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)))::int AS waiting
        FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`);
      if (s.waiting >= 2 || (s.waiting === 1 && s.sessions >= 3)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await gate.query('ROLLBACK'); // the database is fresh again: no knex schema
    return await runs;
  } finally {
    await gate.end();
  }
}

function expectEachAppliedOnce(counts: Array<{ name: string; n: number }>): void {
  expect(counts.map((r) => r.name)).toEqual(migrationFiles());
  expect(counts.filter((r) => r.n !== 1)).toEqual([]);
}

test('`npx knex migrate:latest` works from the repo root with DATABASE_URL set, and a second run applies nothing', async () => {
  const db: Settings = await createTestDatabase('_cli');
  const first = runKnex(['migrate:latest'], { DATABASE_URL: db.url });
  expect(first.code).toBe(0);
  expect(first.out).toMatch(`Batch 1 run: ${migrationFiles().length} migrations`);
  const second = runKnex(['migrate:latest'], { DATABASE_URL: db.url });
  expect(second.code).toBe(0);
  expect(second.out).toMatch(/Already up to date/);
  const verified = runScript('verify', ['--empty'], { DATABASE_URL: db.url });
  expect(verified.code).toBe(0);
});

test('the knex CLI reads .env from the project root', async () => {
  const db = await createTestDatabase('_knexenv');
  // A copy of what the knex CLI loads, so that the real project root keeps no .env.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-env-'));
  dirs.push(copy);
  for (const entry of ['knexfile.ts', 'tsconfig.json', 'package.json', 'db', path.join('scripts', 'lib')]) {
    fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  fs.writeFileSync(path.join(copy, '.env'), `DATABASE_URL=${db.url}\n`);
  const env = { ...process.env, DATABASE_URL: undefined, NODE_ENV: undefined };
  const r = spawnSync(process.execPath, [path.join('node_modules', 'knex', 'bin', 'cli.js'), 'migrate:latest'], { cwd: copy, env, encoding: 'utf8' });
  expect({ code: r.status, out: r.stdout }).toEqual({ code: 0, out: expect.stringMatching(`Batch 1 run: ${migrationFiles().length} migrations`) });
  expect(r.stderr).toContain('kapman: .env: DATABASE_URL\n');
});

test('two plain knex CLI runs at once on a fresh database: both exit 0 with nothing on stderr, each migration applied once', async () => {
  const db = await createTestDatabase('_race3');
  const runs = await atTheSameMoment(db, () => Promise.all([1, 2].map(() => startKnex(['migrate:latest'], { DATABASE_URL: db.url }))));
  expect(runs.map(clean)).toEqual([{ code: 0, err: '' }, { code: 0, err: '' }]);
  // The second waited for the first, then found nothing to do.
  expect(runs.map(appliedBy).sort()).toEqual([0, 8]);
  expectEachAppliedOnce(await appliedCounts(db));
  expect(await lockState(db)).toEqual([0]);
  expect(runScript('verify', ['--empty'], { DATABASE_URL: db.url }).code).toBe(0);
});

test('a knex CLI run and an in-process migrateLatest (db:migrate\'s) at once wait for each other: each migration applied once', async () => {
  const db = await createTestDatabase('_race4');
  const [cli, inProcess] = await atTheSameMoment(db, () => Promise.all([startKnex(['migrate:latest'], { DATABASE_URL: db.url }), migrateLatest(db)]));
  expect(clean(cli)).toEqual({ code: 0, err: '' });
  expect([appliedBy(cli), inProcess.length].sort()).toEqual([0, 8]);
  expectEachAppliedOnce(await appliedCounts(db));
  expect(await lockState(db)).toEqual([0]);
});

test('a knex CLI run that waits past the bound for the migration lock: exit 1, one error line and a hint, nothing done', async () => {
  const db = await createTestDatabase('_held');
  const held = await acquireLock(db, MIGRATIONS_LOCK, 'the lock db:migrate holds', 1000);
  try {
    const r = await startKnex(['migrate:latest'], { DATABASE_URL: db.url });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^kapman: waiting for the migration lock of \S+, held by session \d+ /m);
    expect(r.err.trim().split('\n')).toEqual([
      expect.stringMatching(/^kapman: error: the migration lock of \S+ is held by session \d+ .*; gave up after 15 s \(the knex CLI waits 15 s\)$/),
      expect.stringMatching(/^kapman: hint: nothing was changed; .*db:migrate -- --lock-timeout/),
    ]);
  } finally {
    await held.release();
  }
  expect(await knexTables(db)).toBe(0);
});

test.each([
  ['a URL of another scheme', (pw: string) => `mysql://kapman:${pw}@localhost/kapman_dev`, /DATABASE_URL has scheme "mysql"/],
  ['a wrong password', (pw: string) => urlAs({ name: new URL(serverUrl()).username, password: pw }, 'postgres'), /authentication failed/],
])('a knex CLI run with %s: exit 1, one error line and a hint, no stack, no password', (_label, url, what) => {
  const pw = `Pw_${crypto.randomBytes(6).toString('hex')}`;
  const r = runKnex(['migrate:latest'], { DATABASE_URL: url(pw) });
  expect(r.code).toBe(1);
  expect(r.err.trim().split('\n')).toEqual([
    expect.stringMatching(/^kapman: error: /),
    expect.stringMatching(/^kapman: hint: /),
  ]);
  expect(r.err).toMatch(what);
  expect(r.out + r.err).not.toContain(pw);
});
