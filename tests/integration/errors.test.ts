// Bad input gets one line saying what is wrong and what to do, a distinct exit code per
// class, no stack trace, and never a password.
import crypto from 'crypto';
import { escapeIdentifier } from 'pg';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { ConnectionLostError, explainDatabaseError, MigrationFailedError, PermissionDeniedError, TimescaleMissingError } from '../../scripts/lib/cli/errors';
import { freePort } from '../../scripts/lib/server/localCluster';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { redact } from '../../scripts/lib/cli/log';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { preflightProblem, ServerFacts, readServerFacts } from '../../scripts/lib/replace/preflight';
import { CliResult } from '../support/cli';
import { runInProcess } from '../support/inProcess';
import { failingMigrations } from '../support/migrations';
import {
  createMigratedDatabase, createTestDatabase, dropMadeDatabases, remember, runPrefix, serverSettings, serverUrl, uniqueName, urlAs, withDatabase,
} from '../support/testDatabase';

const SECRET = `Pw_${crypto.randomBytes(6).toString('hex')}`;
const roles: string[] = [];
afterAll(async () => {
  await dropMadeDatabases();
  await withMaintenanceClient(serverSettings(), async (c) => {
    for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(r)}`);
  });
});

const reset = (databaseUrl: string, ...args: string[]) => runInProcess('reset', ['--quiet', ...args], { DATABASE_URL: databaseUrl });

function expectOneLineError(r: CliResult, code: number, what: RegExp): void {
  expect({ code: r.code, err: r.err }).toEqual({ code, err: expect.stringMatching(what) });
  const lines = r.err.trim().split('\n');
  expect(lines[0]).toMatch(/^kapman: error: /);
  expect(lines.slice(1)).toEqual([expect.stringMatching(/^kapman: hint: /)]);
  expect(r.out + r.err).not.toContain(SECRET);
}

test.each([
  ['not a URL', 'not a url'],
  ['another scheme', `mysql://kapman:${SECRET}@localhost:3306/kapman_dev`],
  ['a bad port', `postgres://kapman:${SECRET}@localhost:notaport/kapman_dev`],
  ['an unknown query parameter', `postgres://kapman:${SECRET}@localhost:5432/kapman_dev?sslmod=require`],
  ['a bad percent-encoding', `postgres://kapman:${SECRET}@localhost:5432/kapman%zzdev`],
  ['a name over 63 bytes', `postgres://kapman:${SECRET}@localhost:5432/${'x'.repeat(64)}`],
])('malformed DATABASE_URL (%s): exit 3, names DATABASE_URL', async (_label, url) => {
  expectOneLineError(await reset(url), 3, /DATABASE_URL|database name/);
});

test('an unreachable server: exit 4, says how to start one', async () => {
  const port = await freePort(); // nothing listens there
  const r = await reset(`postgres://kapman:${SECRET}@127.0.0.1:${port}/kapman_x`);
  expectOneLineError(r, 4, /cannot reach the server/);
  expect(r.err).toMatch(/db:up/);
});

test('authentication failure: exit 5, the wrong password never printed', async () => {
  const user = new URL(serverUrl()).username;
  expectOneLineError(await reset(urlAs({ name: user, password: SECRET }, 'kapman_x')), 5, /authentication failed/);
});

test('a system database as target: exit 6', async () => {
  expectOneLineError(await reset(urlForDatabase(serverUrl(), 'template1')), 6, /refusing to reset the system database "template1"/);
});

test('production without --force: exit 7, names --force', async () => {
  // A name of the run's: with the guard gone, the reset would make it, and the run drops it.
  const target = remember(uniqueName('_prod'));
  const r = await runInProcess('reset', ['--env', 'production'], { DATABASE_URL: urlForDatabase(serverUrl(), target) });
  expectOneLineError(r, 7, /production/);
  expect(r.err).toMatch(/--force/);
});

test('a role that may not create databases, or may not act as the owner: exit 9, nothing dropped', async () => {
  const db = await createMigratedDatabase('_perm');
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const weak = `${runPrefix()}weak_${crypto.randomBytes(3).toString('hex')}`;
  roles.push(weak);
  await withMaintenanceClient(serverSettings(), (c) => c.query(`CREATE ROLE ${escapeIdentifier(weak)} LOGIN PASSWORD '${SECRET}'`));

  expectOneLineError(await reset(urlAs({ name: weak, password: SECRET }, db.database)), 9, /may not create databases/);
  await withMaintenanceClient(serverSettings(), (c) => c.query(`ALTER ROLE ${escapeIdentifier(weak)} CREATEDB`));
  expectOneLineError(await reset(urlAs({ name: weak, password: SECRET }, db.database)), 9, /may not act as/);

  await withDatabase(db, async (c) => expect((await c.query('SELECT symbol FROM tickers')).rows).toEqual([{ symbol: 'KEEP' }]));
});

test('KAPMAN_DEBUG=1 adds the stack trace, still without the password', async () => {
  const r = await runInProcess('reset', [], { DATABASE_URL: `mysql://kapman:${SECRET}@localhost/x`, KAPMAN_DEBUG: '1' });
  expect(r.code).toBe(3);
  expect(r.err).toMatch(/\n\s+at /);
  expect(r.err).not.toContain(SECRET);
});

describe('TimescaleDB missing or not preloaded is found before anything is dropped', () => {
  const ok: ServerFacts = { timescaleAvailable: true, timescalePreloaded: true, canCreateDatabase: true, canActAsOwner: true, inRecovery: false, freeSessions: null };
  test('a server that can host the schema passes', () => {
    expect(preflightProblem(ok, 'db', 'kapman', true)).toBeUndefined();
  });
  test('not installed: names the install script', () => {
    const p = preflightProblem({ ...ok, timescaleAvailable: false }, 'db', 'kapman', true);
    expect(p).toBeInstanceOf(TimescaleMissingError);
    expect(p?.exitCode).toBe(8);
    expect(p?.hint).toMatch(/install-timescaledb\.sh/);
  });
  test('installed, not preloaded: names shared_preload_libraries', () => {
    const p = preflightProblem({ ...ok, timescalePreloaded: false }, 'db', 'kapman', true);
    expect(p).toBeInstanceOf(TimescaleMissingError);
    expect(`${p?.message} ${p?.hint}`).toMatch(/shared_preload_libraries/);
  });
  test('preload unreadable by this role is not a refusal', () => {
    expect(preflightProblem({ ...ok, timescalePreloaded: undefined }, 'db', 'kapman', true)).toBeUndefined();
  });
  test('no CREATEDB', () => {
    expect(preflightProblem({ ...ok, canCreateDatabase: false }, 'db', 'kapman', true)).toBeInstanceOf(PermissionDeniedError);
  });
});

test('the real server passes the preflight: TimescaleDB installed and preloaded', async () => {
  const facts = await withMaintenanceClient(serverSettings(), (c) => readServerFacts(c, new URL(serverUrl()).username));
  expect(facts).toEqual({ timescaleAvailable: true, timescalePreloaded: true, canCreateDatabase: true, canActAsOwner: true, inRecovery: false, freeSessions: expect.any(Number) });
});

test('redact hides passwords in URLs and key/value strings, even with @ inside', () => {
  const text = `failed: postgres://u:${SECRET}@h:5432/d and postgresql://u:a@b${SECRET}@h/d and password=${SECRET} host=h`;
  expect(redact(text)).not.toContain(SECRET);
  expect(redact(text)).toContain('postgres://u:*****@h:5432/d');
});

test('a failing migration names its file and the failing statement', async () => {
  const db = await createTestDatabase('_fail');
  const failure = migrateLatest(db, { directory: failingMigrations() });
  await expect(failure).rejects.toBeInstanceOf(MigrationFailedError);
  await expect(failure).rejects.toMatchObject({
    message: expect.stringMatching(/0002_fails_half_way\.ts.*insert into "no_such_table"/s),
    exitCode: 10,
  });
});

test('a database that does not exist, for a command that needs it: exit 13, says how to create it', async () => {
  const r = await runInProcess('verify', [], { DATABASE_URL: urlForDatabase(serverUrl(), `${runPrefix()}absent`) });
  expectOneLineError(r, 13, /does not exist/);
  expect(r.err).toMatch(/db:reset/);
});

test('an unknown option: exit 2, one line pointing at --help', async () => {
  const r = await runInProcess('reset', ['--frobnicate']);
  expect(r.code).toBe(2);
  expect(r.err.trim().split('\n')).toEqual([
    expect.stringMatching(/^kapman: error: unknown option --frobnicate$/),
    expect.stringMatching(/^kapman: hint: see `kapman-db reset --help`$/),
  ]);
});

test('migrate and rollback refuse a system or template database (exit 6): its schema would reach every database made from it', async () => {
  for (const database of ['template1', 'postgres']) {
    const r = await runInProcess('migrate', [], { DATABASE_URL: urlForDatabase(serverUrl(), database) });
    expectOneLineError(r, 6, new RegExp(`refusing to migrate "${database}": it is a system database`));
  }
  const template = await createTestDatabase('_tpl');
  await withMaintenanceClient(serverSettings(), (c) => c.query(`ALTER DATABASE ${escapeIdentifier(template.database)} IS_TEMPLATE true`));
  try {
    const r = await runInProcess('rollback', [], { DATABASE_URL: template.url });
    expectOneLineError(r, 6, /it is a template database/);
    expect(await withDatabase(template, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'knex'")).rows[0].n)).toBe(0);
  } finally {
    await withMaintenanceClient(serverSettings(), (c) => c.query(`ALTER DATABASE ${escapeIdentifier(template.database)} IS_TEMPLATE false`));
  }
});

test('no password where the server asks for one: exit 5, saying where a password goes', async () => {
  const role = `${runPrefix()}nopw`;
  roles.push(role);
  await withMaintenanceClient(serverSettings(), (c) => c.query(`CREATE ROLE ${escapeIdentifier(role)} LOGIN PASSWORD 'x${SECRET}'`));
  const u = new URL(urlForDatabase(serverUrl(), 'postgres'));
  u.username = role;
  u.password = '';
  const r = await runInProcess('status', [], { DATABASE_URL: u.toString(), PGPASSWORD: undefined, PGPASSFILE: '/nonexistent' });
  expectOneLineError(r, 5, /the server asks for a password and none was given/);
  expect(r.err).toMatch(/DATABASE_URL, PGPASSWORD or ~\/\.pgpass/);
});

test('an empty DATABASE_URL (exit 3) or --env with no name (exit 2) never falls back to the development database', async () => {
  expectOneLineError(await runInProcess('reset', ['--dry-run'], { DATABASE_URL: '' }), 3, /DATABASE_URL is set but empty/);
  expect((await runInProcess('status', ['--env'])).code).toBe(2);
  expect((await runInProcess('status', ['--env', ''], { DATABASE_URL: urlForDatabase(serverUrl(), 'postgres') })).code).toBe(2);
  expectOneLineError(await runInProcess('status', ['--env-file', '']), 2, /--env-file needs a path/);
  expectOneLineError(await runInProcess('up', ['--port', 'abc']), 2, /--port must be a TCP port \(1-65535\), not abc$/m);
});

test('a ROLLBACK that meets a connection the server already broke (pg: "not queryable") is a lost connection, exit 4', () => {
  const err = explainDatabaseError(new Error('ROLLBACK - Client has encountered a connection error and is not queryable'), 'postgres://x');
  expect(err).toBeInstanceOf(ConnectionLostError);
  expect(err.exitCode).toBe(4);
});
