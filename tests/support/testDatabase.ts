// Each test makes its own uniquely named databases and drops only those it made.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { PROJECT_ROOT } from '../../scripts/lib/paths';
import { closeDatabase, createDatabase, databaseInUse, dropDatabase, renameDatabase, retrying } from '../../scripts/lib/server/admin';
import { connect, connectMaintenance, withMaintenanceClient } from '../../scripts/lib/server/connection';
import { loadSettings, Settings, urlForDatabase } from '../../scripts/lib/server/settings';

/** The URL global setup chose; a test file run without it has no server. */
export function serverUrl(): string {
  const url = process.env.KAPMAN_TEST_SERVER_URL;
  if (!url) throw new Error('KAPMAN_TEST_SERVER_URL is unset: run the tests with `npm test`, whose global setup finds a server');
  return url;
}

/** Settings of the test environment for `url`, read once, as a command's are. */
export const settingsOf = (url: string): Settings => loadSettings({ env: 'test', databaseUrl: url });

/** Settings of the test server's URL (its maintenance database): what the run's admin connects with. */
export const serverSettings = (): Settings => settingsOf(serverUrl());

/** `work` on a maintenance session of the test server, as the run's admin. */
export const admin = <T>(work: (c: Client) => Promise<T>): Promise<T> => withMaintenanceClient(serverSettings(), work);

const made = new Set<string>();

// The harness's own creates and drops share one maintenance session per test file: a session
// each cost the server two backends' start for every one of the run's two hundred databases.
// Concurrent tests take turns on it (pg would otherwise queue their queries, which pg 9 drops).
// Tests' own maintenance work (admin) gets a session of its own, which it may change.
let maintenance: Promise<Client> | undefined;
let turn: Promise<unknown> = Promise.resolve();

/** `work` on the test file's shared maintenance session (opened on first use), after the work before it. */
function onMaintenance<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const session = (maintenance ??= connectMaintenance(serverSettings()));
  const mine = turn.then(() => session).then(work);
  turn = mine.catch(() => undefined);
  return mine;
}

/** Ends the shared maintenance session: the test file is done with the server. */
async function endMaintenance(): Promise<void> {
  const session = maintenance;
  maintenance = undefined;
  await turn;
  await (await session)?.end();
}

/** The prefix of every database this test run makes (global setup picks the run's id). */
export function runPrefix(runId = process.env.KAPMAN_TEST_RUN ?? 'norun'): string {
  return `kapman_t_${runId}_`;
}

/** A fresh, unused database name: kapman_t_<run>_<random>, plus an optional label. */
export function uniqueName(label = ''): string {
  return `${runPrefix()}${crypto.randomBytes(4).toString('hex')}${label}`;
}

/** Settings for the test environment pointing at `database` on the test server. */
export function testSettings(database: string, url = serverUrl()): Settings {
  return loadSettings({ env: 'test', databaseUrl: urlForDatabase(url, database) });
}

/** Remembers `database` as made by this test file, so that dropMadeDatabases drops it. */
export function remember(database: string): string {
  made.add(database);
  return database;
}

/** Creates an empty database owned by the connecting role (or `owner`). */
export async function createTestDatabase(label = '', owner?: string): Promise<Settings> {
  const name = remember(uniqueName(label));
  await onMaintenance((c) => createDatabase(c, name, owner));
  return testSettings(name);
}

/**
 * Drops every database this test file made, and ends the shared maintenance session; call from
 * afterAll. One after the other: each drop on PostgreSQL 15 waits for a checkpoint, which is
 * short on the test servers (no fsync).
 */
export async function dropMadeDatabases(): Promise<void> {
  for (const name of made) await onMaintenance((c) => dropDatabase(c, name));
  made.clear();
  await endMaintenance();
}

/** `c`'s session acts as its database's owner, as a user changing their own schema does (a test's superuser would own what it creates). */
export async function actAsOwner(c: Client): Promise<void> {
  const { rows: [db] } = await c.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()');
  await c.query(`SET ROLE ${escapeIdentifier(db.owner)}`);
}

export async function withDatabase<T>(settings: Settings, work: (c: Client) => Promise<T>): Promise<T> {
  const client = await connect(settings);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// The migrated template, as integresql and pgtestdb keep theirs: built once per content of what
// builds it, kept on the server between runs, and copied by every test that needs the baseline.
const TEMPLATE_PREFIX = 'kapman_template_';
const TEMPLATE_INPUTS = [path.join(PROJECT_ROOT, 'knexfile.ts'), path.join(PROJECT_ROOT, 'db', 'migrationSource.ts'),
  path.join(PROJECT_ROOT, 'scripts', 'lib', 'migrations', 'migrate.ts'), path.join(PROJECT_ROOT, 'scripts', 'lib', 'server', 'knex.ts'),
  path.join(PROJECT_ROOT, 'scripts', 'lib', 'server', 'session.ts')];

/** The template global setup chose (passed to the workers with the environment), and its owner. */
export function template(): { name: string; owner: string } {
  const given = process.env.KAPMAN_TEST_TEMPLATE;
  if (!given) throw new Error('KAPMAN_TEST_TEMPLATE is unset: run the tests with `npm test`, whose global setup makes the template');
  return JSON.parse(given);
}

/**
 * kapman_template_<hash of the migrations, what runs them, the TimescaleDB version the server
 * installs and the user>, and that user: each user has a template of their own, since a
 * database not marked a template may be copied only by its owner (or a superuser).
 */
async function templateFor(c: Client): Promise<{ name: string; owner: string }> {
  const { rows: [r] } = await c.query(`SELECT current_user AS owner,
    (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS version`);
  const hash = crypto.createHash('sha256').update(`${r.version}\0${r.owner}`);
  for (const f of fs.readdirSync(MIGRATIONS_DIR).sort()) hash.update(f).update(fs.readFileSync(path.join(MIGRATIONS_DIR, f)));
  for (const f of TEMPLATE_INPUTS) hash.update(fs.readFileSync(f));
  return { name: `${TEMPLATE_PREFIX}${hash.digest('hex').slice(0, 12)}`, owner: r.owner };
}

/**
 * The template for `url`'s server, owned by its user: reused when one of the same content is
 * there, else built under a name of its own and renamed into place, and the user's templates
 * of other contents dropped. One run builds at a time (an advisory lock): a run that waited
 * finds the template built, and a build a killed run left behind is dropped.
 */
export async function ensureTemplate(url: string): Promise<{ name: string; owner: string; built: boolean }> {
  return withMaintenanceClient(settingsOf(url), async (c) => {
    const { name, owner } = await templateFor(c);
    const lock = (n: string, tryOnly = false) =>
      c.query(`SELECT ${tryOnly ? 'pg_try_advisory_lock' : 'pg_advisory_lock'}(hashtext($1)) AS got`, [n]); // held until the session ends
    const named = async (prefix: string) =>
      (await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)
        AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)`, [prefix])).rows.map((r) => r.datname as string);
    await lock(name);
    if ((await named(name)).includes(name)) return { name, owner, built: false };
    for (const left of await named(`${name}_`)) await dropDatabase(c, left);
    const build = `${name}_${crypto.randomBytes(3).toString('hex')}`;
    await createDatabase(c, build);
    try {
      // Loaded here, for global setup only: a test file that never migrates does not load the runner.
      const { migrateLatest } = await import('../../scripts/lib/migrations/migrate');
      await migrateLatest(loadSettings({ env: 'test', databaseUrl: urlForDatabase(url, build) }));
      // A copy needs a template nobody is connected to; TimescaleDB's scheduler would attach.
      await closeDatabase(c, build);
      await renameDatabase(c, build, name);
    } catch (err) {
      await dropDatabase(c, build);
      throw err;
    }
    for (const stale of (await named(TEMPLATE_PREFIX)).filter((n) => !n.startsWith(name))) {
      // Unless a run of another checkout is building that one right now.
      if ((await lock(stale.slice(0, name.length), true)).rows[0].got) await dropDatabase(c, stale);
    }
    return { name, owner, built: true };
  });
}

/** A fresh database at the current schema, empty: a copy of the run's migrated template. */
export async function createMigratedDatabase(label = ''): Promise<Settings> {
  const name = remember(uniqueName(label));
  const tpl = template(); // owned, like the objects in it, by the template's owner: verify checks that
  // A session the scheduler had just started on the template may take a moment to leave.
  await onMaintenance((c) => retrying(() => c.query(
    `CREATE DATABASE ${escapeIdentifier(name)} TEMPLATE ${escapeIdentifier(tpl.name)} OWNER ${escapeIdentifier(tpl.owner)}`), databaseInUse));
  return testSettings(name);
}

/**
 * The password of a role this run makes, as a SCRAM-SHA-256 secret of one PBKDF2 round instead
 * of the server's 4096 (the format PostgreSQL stores; it takes one given ready-made). The
 * password is random and the role dies with the run, so the rounds protect nothing here, and
 * every connection of the run would pay them on the client (about 4.5 ms of CPU on these cores).
 */
export function oneRoundScramSecret(password: string): string {
  const salt = crypto.randomBytes(16);
  const salted = crypto.pbkdf2Sync(password, salt, 1, 32, 'sha256');
  const hmac = (text: string) => crypto.createHmac('sha256', salted).update(text).digest();
  const storedKey = crypto.createHash('sha256').update(hmac('Client Key')).digest();
  return `SCRAM-SHA-256$1:${salt.toString('base64')}$${storedKey.toString('base64')}:${hmac('Server Key').toString('base64')}`;
}

const madeRoles: string[] = [];

/** A LOGIN role of this run with a random password (dropped by dropMadeRoles); `attributes` e.g. 'CREATEDB'. */
export async function createTestRole(label: string, attributes = ''): Promise<{ name: string; password: string }> {
  const name = `${runPrefix()}${label}_${crypto.randomBytes(3).toString('hex')}`;
  const password = crypto.randomBytes(9).toString('hex');
  madeRoles.push(name);
  await onMaintenance((c) =>
    c.query(`CREATE ROLE ${escapeIdentifier(name)} LOGIN PASSWORD ${escapeLiteral(oneRoundScramSecret(password))} ${attributes}`));
  return { name, password };
}

/** Drops the roles this file made (after its databases: a role that owns one cannot go). */
export async function dropMadeRoles(): Promise<void> {
  for (const r of madeRoles.splice(0)) await onMaintenance((c) => c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(r)}`));
  await endMaintenance();
}

/** The URL of `database` on the test server, connecting as `role`. */
export function urlAs(role: { name: string; password: string }, database: string): string {
  const u = new URL(urlForDatabase(serverUrl(), database));
  u.username = encodeURIComponent(role.name);
  u.password = encodeURIComponent(role.password);
  return u.toString();
}
