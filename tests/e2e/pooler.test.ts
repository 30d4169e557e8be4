// A managed-like TimescaleDB behind a real PgBouncer (transaction mode), SSL on both hops with
// a CA made here: a role without CREATEDB or superuser owning one database where the
// platform's superuser created timescaledb and pg_stat_statements. The commands through the
// pooler serialize by transaction-level locks, leave no lock and no setting behind, and
// --in-place gives the empty baseline there.
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Client, escapeLiteral } from 'pg';
import { isPooled } from '../../scripts/lib/server/session';
import { connect, withClient, withMaintenanceClient } from '../../scripts/lib/server/connection';
import { DEFAULT_PG_BIN } from '../../scripts/lib/server/localCluster';
import { loadSettings, urlForDatabase } from '../../scripts/lib/server/settings';
import { startThrowawayCluster, TestServer } from '../../scripts/lib/server/testServer';
import { verify } from '../../scripts/lib/schema/verify';
import { CliResult, runScript, startKnex, startScript } from '../support/cli';
import { createPlatformDatabase, fillWithData, keptIdentity } from '../support/managed';
import { migrationFiles } from '../support/expected';
import { PgBouncer, startPgBouncer } from '../support/pgbouncer';
import { databasesSnapshot, rolesSnapshot, settingsSnapshot } from '../support/schema';
import { makeCa, makeServerCertificate } from '../support/tls';
import { settingsOf } from '../support/testDatabase';

const POOL_SIZE = 6;
const role = { name: 'tsdbadmin', password: crypto.randomBytes(12).toString('hex') };
let server: TestServer | undefined;
let bouncer: PgBouncer | undefined;
let dir = '';
let direct = '';
let pooled = '';
let before: unknown[] = [];

const admin = <T>(work: (c: Client) => Promise<T>) => withMaintenanceClient(settingsOf(server!.adminUrl), work);
/** tsdb, directly, as the platform's superuser. */
const asSuperuser = <T>(work: (c: Client) => Promise<T>) => withClient(settingsOf(urlForDatabase(server!.adminUrl, 'tsdb')), work);
const snapshot = () => admin(async (c) => [await rolesSnapshot(c), await databasesSnapshot(c, 'tsdb'), await settingsSnapshot(c)]);

/** tsdb as tsdbadmin at `port`, by the name in the certificate, verified against the CA. */
function url(port: number): string {
  const q = `sslmode=verify-full&sslrootcert=${encodeURIComponent(path.join(dir, 'ca.crt'))}`;
  return `postgres://${role.name}:${role.password}@localhost:${port}/tsdb?${q}`;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-pooler-'));
  makeCa(dir, 'ca');
  makeServerCertificate(dir, 'ca', 'localhost');
  const file = (name: string) => path.join(dir, name);
  server = await startThrowawayCluster(process.env.PG_BIN || DEFAULT_PG_BIN, true, {
    extraSettings: ['ssl = on', `ssl_cert_file = '${file('server.crt')}'`, `ssl_key_file = '${file('server.key')}'`],
  });
  await admin(async (c) => {
    await c.query(`CREATE ROLE ${role.name} LOGIN NOCREATEDB NOSUPERUSER PASSWORD ${escapeLiteral(role.password)}`);
    // Role defaults that a leaked session-level SET of the tools would replace.
    await c.query(`ALTER ROLE ${role.name} SET lock_timeout = '7s'`);
    await c.query(`ALTER ROLE ${role.name} SET statement_timeout = '9s'`);
    await c.query('CREATE DATABASE other_db');
  });
  await createPlatformDatabase(server.adminUrl, 'tsdb', role.name);
  bouncer = await startPgBouncer({
    serverPort: Number(new URL(server.adminUrl).port), users: [role], poolSize: POOL_SIZE,
    tls: { cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt') },
  });
  direct = url(Number(new URL(server.adminUrl).port));
  pooled = url(bouncer.port);
  before = await snapshot();
}, 120_000);

afterAll(async () => {
  await bouncer?.stop();
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const run = (name: string, args: string[], u = pooled) => runScript(name, args, { DATABASE_URL: u });
const start = (name: string, args: string[], u = pooled) => startScript(name, args, { DATABASE_URL: u });
const ok = (r: CliResult) => ({ code: r.code, err: r.err });
const noPassword = (...rs: CliResult[]) => { for (const r of rs) expect(r.out + r.err).not.toContain(role.password); };

async function pooledClient(application: string): Promise<Client> {
  const c = new Client({ connectionString: pooled.replace(/sslmode=verify-full/, 'sslmode=no-verify'), application_name: application });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

test('the pooled URL is known as pooled, the direct one as direct; both over SSL', async () => {
  for (const [u, expected] of [[pooled, true], [direct, false]] as const) {
    const c = await connect(settingsOf(u));
    try {
      expect(isPooled(c)).toBe(expected);
      expect((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl).toBe(true);
    } finally {
      await c.end();
    }
  }
});

test('a normal reset is refused: through the pooler exit 31 naming the direct port; direct without CREATEDB exit 9 naming --in-place', () => {
  const viaPooler = run('reset', ['--quiet']);
  expect(viaPooler.code).toBe(31);
  expect(viaPooler.err).toMatch(/^kapman: error: .* goes through a connection pooler/);
  expect(viaPooler.err).toMatch(/^kapman: hint: use the server's direct address and port/m);
  const viaDirect = run('reset', ['--quiet'], direct);
  expect(viaDirect.code).toBe(9);
  expect(viaDirect.err).toMatch(/--in-place/);
  noPassword(viaPooler, viaDirect);
});

test('--in-place through the pooler, twice, on data with a pooled session holding a lock: the contract, empty; oid, owner, extensions kept', async () => {
  const kept = () => asSuperuser((c) => keptIdentity(c, 'tsdb'));
  const identity = await kept();
  expect(identity).toMatchObject({ owner: role.name, extensions: [{ extname: 'pg_stat_statements' }, { extname: 'plpgsql' }, { extname: 'timescaledb' }] });
  for (let round = 1; round <= 2; round++) {
    const first = run('reset', ['--in-place', '--quiet']);
    expect(ok(first)).toEqual({ code: 0, err: '' });
    const c = await pooledClient('busy-app');
    await fillWithData(c);
    await c.query('BEGIN');
    await c.query('SELECT count(*) FROM ohlcv');
    const again = run('reset', ['--in-place']); // not --quiet: its lines name the session it ended
    expect(ok(again)).toEqual({ code: 0, err: '' });
    expect(again.out).toMatch(/ended session \d+ .*idle in transaction/);
    await c.end().catch(() => undefined);
    noPassword(first, again);
    expect(await verify(loadSettings({ env: 'test', databaseUrl: pooled }), { empty: true })).toMatchObject({ ok: true });
    expect(await kept()).toEqual(identity);
  }
});

test('migrate, status and verify through the pooler, repeatedly and concurrently, beside a busy pooled transaction; no lock and no setting left behind', async () => {
  const busy = await pooledClient('busy-app');
  await busy.query('BEGIN');
  await busy.query('SELECT txid_current()'); // holds its server connection (and no lock a rollback needs)
  try {
    // rollback --all, then migrate: 0001 keeps the extension, so no pooled backend has to load it again.
    expect(ok(run('rollback', ['--all']))).toEqual({ code: 0, err: '' });
    const twins = await Promise.all([start('migrate', ['--lock-timeout', '60']), start('migrate', ['--lock-timeout', '60'])]);
    for (const t of twins) expect(ok(t)).toEqual({ code: 0, err: '' });
    expect(twins.map((t) => new RegExp(`${migrationFiles().length} migrations applied`).test(t.out)).sort()).toEqual([false, true]);
    for (let round = 0; round < 3; round++) {
      // A finished command leaves no lock: a short --lock-timeout never runs out.
      const all = await Promise.all([start('migrate', ['--lock-timeout', '5']), start('status', ['--check']), start('verify', ['--empty'])]);
      for (const r of all) expect(ok(r)).toEqual({ code: 0, err: '' });
      noPassword(...all);
    }
  } finally {
    await busy.query('ROLLBACK');
    await busy.end();
  }
  await asSuperuser(async (c) => {
    const { rows } = await c.query('SELECT name, count(*)::int AS n FROM knex.knex_migrations GROUP BY name ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(migrationFiles());
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect((await c.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'")).rows[0].n).toBe(0);
  });
  // Every server connection of the pool at once: each has the role's defaults, none the tools' values.
  const clients = await Promise.all(Array.from({ length: POOL_SIZE }, (_, i) => pooledClient(`probe-${i}`)));
  try {
    const seen = await Promise.all(clients.map(async (c) => {
      await c.query('BEGIN');
      const { rows: [r] } = await c.query(`SELECT pg_backend_pid() AS pid, current_setting('lock_timeout') AS lock_timeout,
          current_setting('statement_timeout') AS statement_timeout, current_setting('search_path') AS search_path, current_user AS role`);
      return r;
    }));
    expect(new Set(seen.map((r) => r.pid)).size).toBe(POOL_SIZE);
    for (const r of seen) expect(r).toMatchObject({ lock_timeout: '7s', statement_timeout: '9s', search_path: '"$user", public', role: role.name });
  } finally {
    for (const c of clients) await c.end().catch(() => undefined);
  }
});

test('two plain knex CLI runs at once through the pooler: both exit 0, each migration applied once, no lock left', async () => {
  expect(ok(run('rollback', ['--all']))).toEqual({ code: 0, err: '' });
  const runs = await Promise.all([1, 2].map(() => startKnex(['migrate:latest'], { DATABASE_URL: pooled })));
  for (const r of runs) expect(ok(r)).toEqual({ code: 0, err: '' });
  expect(runs.map((r) => new RegExp(`Batch \\d+ run: ${migrationFiles().length} migrations`).test(r.out)).sort()).toEqual([false, true]);
  noPassword(...runs);
  await asSuperuser(async (c) => {
    const { rows } = await c.query('SELECT name, count(*)::int AS n FROM knex.knex_migrations GROUP BY name ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(migrationFiles());
    expect(rows.every((r) => r.n === 1)).toBe(true);
  });
  // The lock ends with each run's session: the pooler closes the server connection a client left
  // in a transaction, a moment after the process is gone.
  await asSuperuser(async (c) => {
    while ((await c.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'")).rows[0].n > 0) await new Promise((r) => setTimeout(r, 50));
  });
});

test('roles, other databases and server settings are unchanged', async () => {
  expect(await snapshot()).toEqual(before);
});
