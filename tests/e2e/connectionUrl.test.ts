// DATABASE_URL means what libpq says it means, with psql as the oracle: for every URL below, the
// database, user and port this tool resolves are what psql reports, and db:reset rebuilds exactly
// that database and makes no other. On a cluster of its own (so that the list of databases is
// ours alone), listening on TCP, in libpq's default socket folder and in a folder of its own.
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Client, escapeIdentifier } from 'pg';
import { DEFAULT_SOCKET_DIR, readConnectionUrl } from '../../scripts/lib/server/connectionUrl';
import { DEFAULT_PG_BIN, localTool } from '../../scripts/lib/server/localCluster';
import { startThrowawayCluster, TestServer } from '../../scripts/lib/server/testServer';
import { startScript } from '../support/cli';

const BIN = process.env.PG_BIN || DEFAULT_PG_BIN;
const OS_USER = os.userInfo().username;
const TEMPLATE = 'url_template';

let server: TestServer | undefined;
let socketDir = '';
let admin: { port: number; user: string; password: string };

afterAll(async () => {
  await server?.stop();
  if (socketDir) fs.rmSync(socketDir, { recursive: true, force: true });
});

/** A client by parameters, not by URL: the check must not share the reader under test. */
async function onDatabase<T>(database: string, work: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ host: '127.0.0.1', port: admin.port, user: admin.user, password: admin.password, database });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

const databases = () => onDatabase('postgres', async (c) =>
  (await c.query('SELECT datname FROM pg_database ORDER BY datname')).rows.map((r) => r.datname as string));

type Env = Record<string, string>;

/** [what the case shows, the URL, the database it means, the user it means, libpq's variables set beside it] */
function cases(): [string, string, string, string, Env?][] {
  const { port: P, password: W } = admin;
  const tcp = `postgres://kapman:${W}@127.0.0.1:${P}`;
  return [
    ['TCP', `${tcp}/url_plain`, 'url_plain', 'kapman'],
    ['postgresql:// and a host name', `postgresql://kapman:${W}@localhost:${P}/url_scheme`, 'url_scheme', 'kapman'],
    // Each name holds several characters a URL path cannot carry raw: ; , / ? # % " space é.
    ['%3B and %2C', `${tcp}/url%3Bsemi%2Ccomma`, 'url;semi,comma', 'kapman'],
    ['%2F, %3F and %23', `${tcp}/url%2Fslash%3Fquestion%23hash`, 'url/slash?question#hash', 'kapman'],
    ['%25, %22 and %20', `${tcp}/url%25percent%22quote%20space`, 'url%percent"quote space', 'kapman'],
    ['é as UTF-8', `${tcp}/url_caf%C3%A9`, 'url_café', 'kapman'],
    ['a raw # (libpq knows no fragment)', `${tcp}/url_raw#hash`, 'url_raw#hash', 'kapman'],
    ['a socket by an empty host (the default folder)', `postgres://kapman:${W}@:${P}/url_socket`, 'url_socket', 'kapman'],
    ['a socket by host=', `postgres:///url_host_param?host=${encodeURIComponent(socketDir)}&port=${P}&user=kapman&password=${W}`, 'url_host_param', 'kapman'],
    ['host= wins over the URL\'s host', `postgres://kapman:${W}@db.invalid:${P}/url_host_wins?host=${encodeURIComponent(socketDir)}`, 'url_host_wins', 'kapman'],
    ['a socket folder percent-encoded as the host', `postgres://kapman:${W}@${encodeURIComponent(socketDir)}:${P}/url_socket_host`, 'url_socket_host', 'kapman'],
    ['dbname= wins over the path', `${tcp}/url_not_this?dbname=url_dbname_param`, 'url_dbname_param', 'kapman'],
    ['user=, password=, port= as parameters', `postgres://127.0.0.1/url_params?user=kapman&password=${W}&port=${P}`, 'url_params', 'kapman'],
    ['hostaddr= beside another host name', `postgres://kapman:${W}@db.invalid:${P}/url_hostaddr?hostaddr=127.0.0.1`, 'url_hostaddr', 'kapman'],
    ['more libpq parameters', `${tcp}/url_more?application_name=kapman%20test&connect_timeout=10&sslmode=disable&options=-c%20work_mem%3D8MB`, 'url_more', 'kapman'],
    ['defaults: the OS user, a database named after it, the default socket', `postgres://:${W}@:${P}`, OS_USER, OS_USER],
    ['libpq\'s variables fill in what the URL leaves out', 'postgres://127.0.0.1', 'url_env', 'kapman',
      { PGUSER: 'kapman', PGPASSWORD: W, PGPORT: String(P), PGDATABASE: 'url_env' }],
    ['the password file (localhost stands for the default socket)', `postgres://kapman@:${P}/url_pgpass`, 'url_pgpass', 'kapman',
      { PGPASSFILE: path.join(socketDir, 'pgpass') }],
  ];
}

/** What psql makes of `url`: database, user, port (a socket has no inet_server_port). */
function psql(url: string, env: Env = {}): [string, string, number] {
  const out = execFileSync(localTool(BIN, 'psql'), ['-X', '-A', '-t', '-F', '\t', url, '-c',
    "SELECT current_database(), current_user, coalesce(inet_server_port(), current_setting('port')::int)"],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...unsetLibpqVariables(), ...env } });
  const [db, user, port] = out.replace(/\n$/, '').split('\t');
  return [db, user, Number(port)];
}

/** libpq's variables of this environment, unset: each case sets its own. */
const unsetLibpqVariables = () => Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('PG') && k !== 'PG_BIN').map((k) => [k, undefined]));

/** Runs `work` on every item, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  }));
  return results;
}

beforeAll(async () => {
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-sock-'));
  fs.chmodSync(socketDir, 0o755);
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', socketDir]); // the server runs as postgres
  server = await startThrowawayCluster(BIN, true, { socketDirs: [DEFAULT_SOCKET_DIR, socketDir] });
  const u = new URL(server.adminUrl);
  admin = { port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  fs.writeFileSync(path.join(socketDir, 'pgpass'), `# host:port:database:user:password\nelsewhere:*:*:*:wrong\nlocalhost:${admin.port}:*:kapman:${admin.password}\n`, { mode: 0o600 });
  // Every target exists beforehand with a marker table, so that a reset shows by the marker's absence.
  await onDatabase('postgres', async (c) => {
    if (OS_USER !== admin.user) await c.query(`CREATE ROLE ${escapeIdentifier(OS_USER)} LOGIN SUPERUSER PASSWORD '${admin.password}'`);
    await c.query(`CREATE DATABASE ${TEMPLATE}`);
  });
  await onDatabase(TEMPLATE, (c) => c.query('CREATE TABLE marker (x int)'));
  await onDatabase('postgres', async (c) => {
    // TimescaleDB's launcher visits every database that allows connections, and a busy template cannot be copied.
    await c.query(`ALTER DATABASE ${TEMPLATE} ALLOW_CONNECTIONS false`);
    for (const [, , db] of cases()) await c.query(`CREATE DATABASE ${escapeIdentifier(db)} TEMPLATE ${TEMPLATE}`);
  });
}, 120_000);

test('every URL means to this tool what it means to psql, and db:reset rebuilds exactly that database', async () => {
  const table = cases();
  expect(table.length).toBeGreaterThanOrEqual(16);
  for (const [label, url, db, user, env] of table) {
    const p = readConnectionUrl(url, env ?? {});
    const reported = psql(url, env);
    expect({ label, tool: [p.dbname, p.user, p.port] }).toEqual({ label, tool: [db, user, admin.port] });
    expect({ label, psql: reported }).toEqual({ label, psql: [db, user, admin.port] });
  }

  const before = await databases();
  const runs = await inParallel(table, 4, ([label, url, , , env]) =>
    startScript('reset', ['--quiet'], { ...unsetLibpqVariables(), DATABASE_URL: url, ...env }).then((r) => ({ label, code: r.code, err: r.err })));
  for (const r of runs) expect(r).toEqual({ label: r.label, code: 0, err: '' });
  expect(await databases()).toEqual(before); // none made, none lost

  for (const [label, , db] of table) {
    const tables = await onDatabase(db, async (c) =>
      (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.tablename));
    expect({ label, tables }).toEqual({ label, tables: expect.arrayContaining(['tickers', 'ohlcv']) });
    expect({ label, tables }).toEqual({ label, tables: expect.not.arrayContaining(['marker']) });
  }
}, 300_000); // 15 resets, each a process of its own: on a busy 2-core machine, minutes
