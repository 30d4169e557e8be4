// In tests/e2e (npm run test:e2e): a full reset per role setting and per database attribute, a sweep too slow for the everyday suite.
// A reset either finishes and verifies, or leaves the target exactly as it was, whatever the
// role's settings; what it builds belongs to the owner; the database keeps its identity.
import { escapeIdentifier } from 'pg';
import { migrateLatest, rollback } from '../../scripts/lib/migrations/migrate';
import { reset } from '../../scripts/reset';
import { verify } from '../../scripts/lib/schema/verify';
import { TABLE_NAMES } from '../../db/contract';
import { migrationFiles } from '../support/expected';
import { ownedDatabase, symbols } from '../support/owned';
import { databaseAttributes, databasesSnapshot, publicTables, rolesSnapshot } from '../support/schema';
import {
  admin, createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, testSettings, uniqueName, withDatabase,
} from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

const q = (name: string) => escapeIdentifier(name);


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
    expect(await publicTables(c)).toEqual([...TABLE_NAMES].sort());
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
  expect((await rollback(db, true)).sort()).toEqual(migrationFiles());
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

test('nothing but the target changes: roles, passwords and other databases are equal before and after', async () => {
  const { db, role } = await ownedDatabase('only');
  const before = await admin(async (c) => ({ roles: await rolesSnapshot(c, [role.name]), dbs: await databasesSnapshot(c, db.database) }));
  await reset(db);
  expect(await admin(async (c) => ({ roles: await rolesSnapshot(c, [role.name]), dbs: await databasesSnapshot(c, db.database) }))).toEqual(before);
});

