// A reset either finishes and verifies, or leaves the target exactly as it was; what it
// builds belongs to the owner; the database keeps its identity; lock waits are bounded.
import { Client, escapeIdentifier } from 'pg';
import fs from 'fs';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { ConnectionLostError, UsageError } from '../../scripts/lib/cli/errors';
import { migrateLatest, rollback } from '../../scripts/lib/migrations/migrate';
import { settingsFromArgs } from '../../scripts/lib/cli/cli';
import { migrationsFolder } from '../support/migrations';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { reset } from '../../scripts/reset';
import { verify } from '../../scripts/lib/schema/verify';
import { runScript, startScript } from '../support/cli';
import { databaseAttributes, databasesLike, databasesSnapshot, publicTables, rolesSnapshot } from '../support/schema';
import {
  createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, serverUrl, testSettings, uniqueName, urlAs, withDatabase,
} from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

const MIGRATION_FILES = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.ts'));
const readMigration = (f: string) => fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8');

const admin = <T>(work: (c: Client) => Promise<T>) => withMaintenanceClient(serverUrl(), work);
const q = (name: string) => escapeIdentifier(name);

/** A database owned by a fresh LOGIN CREATEDB role, migrated, with a row to lose; settings connect as that role. */
async function ownedDatabase(label: string): Promise<{ db: Settings; role: { name: string; password: string } }> {
  const role = await createTestRole(label, 'CREATEDB');
  const name = remember(uniqueName(label));
  await admin((c) => c.query(`CREATE DATABASE ${q(name)} OWNER ${q(role.name)}`));
  const db = loadSettings({ env: 'test', databaseUrl: urlAs(role, name) });
  await reset(db);
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  return { db, role };
}

const symbols = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers ORDER BY 1')).rows.map((r) => r.symbol));

/** A session of some other program, as the server sees it. */
async function plainClient(url: string, application: string): Promise<Client> {
  const c = new Client({ connectionString: url, application_name: application });
  await c.connect();
  return c;
}

const resetAs = (db: Settings, ...args: string[]) => runScript('reset', ['--quiet', ...args], { DATABASE_URL: db.url });

test.each([
  ['statement_timeout', "'50ms'"],
  ['lock_timeout', "'50ms'"],
  ['idle_in_transaction_session_timeout', "'50ms'"],
  ['search_path', 'other_schema'],
  ['search_path', 'knex'],
])("a role's %s = %s changes nothing: the reset finishes, verifies, and builds in public", async (setting, value) => {
  const { db, role } = await ownedDatabase('rs');
  await admin((c) => c.query(`ALTER ROLE ${q(role.name)} SET ${setting} = ${value}`));
  await reset(db); // the setting is the server's: in-process is the same as through npm
  expect(await symbols(db)).toEqual([]);
  await withDatabase(db, async (c) => {
    expect(await publicTables(c)).toHaveLength(6);
    expect((await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'knex' AND tablename NOT LIKE 'knex%' AND tablename <> 'migration_checksums'")).rows[0].n).toBe(0);
  });
});

test("a role's connection limit too small for a reset is refused before anything changes (exit 17); enough slots reset", async () => {
  const { db, role } = await ownedDatabase('cl');
  for (const limit of [1, 3]) {
    await admin((c) => c.query(`ALTER ROLE ${q(role.name)} CONNECTION LIMIT ${limit}`));
    await expect(reset(db)).rejects.toMatchObject({
      exitCode: 17, message: limit === 1 ? expect.stringMatching(/too many connections for role/) : expect.stringMatching(/^a reset needs 2 more sessions/),
    });
  }
  expect(await symbols(db)).toEqual(['KEEP']);
  await admin((c) => c.query(`ALTER ROLE ${q(role.name)} CONNECTION LIMIT 4`));
  await reset(db);
  expect(await symbols(db)).toEqual([]);
});

test('a superuser reset builds everything as the owner: the owner can read, write, migrate and verify', async () => {
  const { db, role } = await ownedDatabase('own');
  const asSuperuser = testSettings(db.database);
  await reset(asSuperuser);
  await withDatabase(db, async (c) => {
    const { rows } = await c.query(`SELECT tableowner AS owner, count(*)::int AS n FROM pg_tables
      WHERE schemaname IN ('public', 'knex') GROUP BY 1`);
    expect(rows).toEqual([{ owner: role.name, n: 9 }]);
    expect((await c.query("SELECT pg_get_userbyid(nspowner) AS o FROM pg_namespace WHERE nspname = 'knex'")).rows[0].o).toBe(role.name);
    await c.query("INSERT INTO tickers (symbol) VALUES ('OWNER')");
  });
  expect((await verify(db)).differences).toEqual([]);
  expect(await migrateLatest(db)).toEqual([]);
  expect(await rollback(db, true)).toHaveLength(8);
});

test('db:verify reports a table the database owner does not own', async () => {
  const db = await createMigratedDatabase('_misowned');
  const other = await createTestRole('other');
  await withDatabase(db, (c) => c.query(`ALTER TABLE tickers OWNER TO ${q(other.name)}`));
  const report = await verify(db);
  expect(report.ok).toBe(false);
  expect(report.differences).toEqual([expect.objectContaining({ group: 'ownership', item: 'owner of table public.tickers', actual: other.name })]);
});

test('the database keeps its identity: encoding, locale, connection limit, grants, comment and settings', async () => {
  const role = await createTestRole('idowner');
  const reader = await createTestRole('reader');
  const target = remember(uniqueName('_ident'));
  await admin(async (c) => {
    await c.query(`CREATE DATABASE ${q(target)} OWNER ${q(role.name)} TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' CONNECTION LIMIT 20`);
    await c.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${q(target)} FROM PUBLIC`);
    await c.query(`GRANT CONNECT ON DATABASE ${q(target)} TO ${q(reader.name)} WITH GRANT OPTION`);
    await c.query(`COMMENT ON DATABASE ${q(target)} IS 'KapMan ''dev'' database'`);
    await c.query(`ALTER DATABASE ${q(target)} SET work_mem = '8MB'`);
    await c.query(`ALTER DATABASE ${q(target)} SET search_path = "$user", public, "odd ""name"""`);
    await c.query(`ALTER ROLE ${q(reader.name)} IN DATABASE ${q(target)} SET statement_timeout = '5s'`);
  });
  const before = await admin((c) => databaseAttributes(c, target));
  expect(before).toMatchObject({ encoding: 'SQL_ASCII', datconnlimit: 20, comment: "KapMan 'dev' database" });
  await reset(testSettings(target));
  expect(await admin((c) => databaseAttributes(c, target))).toEqual(before);
  expect((await verify(testSettings(target), { empty: true })).ok).toBe(true);
});

test('a target marked read-only is refused before anything changes (exit 15), also in --dry-run', async () => {
  const { db } = await ownedDatabase('ro');
  await admin((c) => c.query(`ALTER DATABASE ${q(db.database)} SET default_transaction_read_only = on`));
  for (const dryRun of [false, true]) {
    await expect(reset(db, { dryRun })).rejects.toMatchObject({ exitCode: 15, message: expect.stringMatching(/read-only/) });
  }
  await admin((c) => c.query(`ALTER DATABASE ${q(db.database)} RESET default_transaction_read_only`));
  expect(await symbols(db)).toEqual(['KEEP']);
});

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
    const runs = await Promise.all([1, 2].map(() => startScript('reset', ['--quiet'], { DATABASE_URL: db.url })));
    expect(runs.map((r) => [r.code, r.err])).toEqual([[0, ''], [0, '']]);
    expect(runs.some((r) => /waiting for the reset lock of/.test(r.out))).toBe(true);
    expect((await verify(db, { empty: true })).ok).toBe(true);
  }
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
});

test('resets of two different databases never wait for each other', async () => {
  const [a, b] = await Promise.all([ownedDatabase('da'), ownedDatabase('db')]);
  const runs = await Promise.all([a, b].map(({ db }) => startScript('reset', ['--quiet'], { DATABASE_URL: db.url })));
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
    const started = Date.now();
    const r = resetAs(db, '--lock-timeout', '1');
    expect(Date.now() - started).toBeLessThan(15_000);
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

test('a bad --lock-timeout is a usage error (exit 2)', () => {
  for (const value of [-5, Number('abc'), 0]) {
    expect(() => settingsFromArgs({ env: 'test', 'lock-timeout': value })).toThrow(UsageError);
  }
  const r = runScript('migrate', ['--lock-timeout', 'abc'], { DATABASE_URL: testSettings('kapman_none').url });
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/^kapman: error: --lock-timeout must be a positive number of seconds/);
});

test('nothing but the target changes: roles, passwords and other databases are equal before and after', async () => {
  const { db, role } = await ownedDatabase('only');
  const before = await admin(async (c) => ({ roles: await rolesSnapshot(c, [role.name]), dbs: await databasesSnapshot(c, db.database) }));
  await reset(db);
  expect(await admin(async (c) => ({ roles: await rolesSnapshot(c, [role.name]), dbs: await databasesSnapshot(c, db.database) }))).toEqual(before);
});

test('a connection lost in the middle of a migration is exit 4 "lost while applying", not "fix the file"; the database stays at its previous version', async () => {
  const db = await createMigratedDatabase('_lost');
  const dir = migrationsFolder({ ...Object.fromEntries(MIGRATION_FILES.map((f) => [f, readMigration(f)])),
    '0009_sleeps.ts': "export async function up(knex: any) { await knex.raw('SELECT pg_sleep(30)'); }\nexport async function down() {}\n" });
  const run = migrateLatest(db, { directory: dir }).catch((e: Error) => e);
  await admin(async (c) => {
    for (let i = 0; i < 100; i++) {
      const { rows } = await c.query("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()", [db.database]);
      if (rows.length) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  const err = await run;
  expect(err).toBeInstanceOf(ConnectionLostError);
  expect((err as ConnectionLostError).exitCode).toBe(4);
  expect((err as Error).message).toMatch(/lost while applying 0009_sleeps\.ts/);
  expect((await verify(db, { empty: true })).ok).toBe(true);
});
