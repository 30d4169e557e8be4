// Passwords are masked where they stand as passwords (a URL's user info, password= in a
// conninfo or query string, an inspected config), not wherever their text happens to occur:
// output stays readable whatever the password, even one letter or a word it holds anyway.
import { spawnSync } from 'child_process';
import crypto from 'crypto';
import { inspect } from 'util';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { MASK, redact } from '../../scripts/lib/cli/log';
import { findTool } from '../../scripts/lib/server/clientTools';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { displayUrl } from '../../scripts/lib/server/connectionUrl';
import { loadSettings } from '../../scripts/lib/server/settings';
import { runInProcess } from '../support/inProcess';
import { dropMadeDatabases, remember, runPrefix, serverSettings, serverUrl, uniqueName, urlAs } from '../support/testDatabase';

// A letter inside most words; the database and user names; the scheme's own word; URL-special characters.
const PASSWORDS = ['e', 'kapman', 'postgres', 'p@ss:w/rd%'];

const enc = encodeURIComponent;
/** A conninfo value as libpq reads it: quoted, with \ and ' escaped. */
const quoted = (pw: string) => `'${pw.replace(/[\\']/g, '\\$&')}'`;

/** Lines as the tools, the driver, libpq and pg_dump may print them, each with the password and masked. */
function lines(pw: string): Array<[string, string]> {
  const url = (p: string) => `postgres://kapman:${p}@127.0.0.1:5432/kapman_dev`;
  return [
    [`kapman: resetting ${url(enc(pw))} (environment development)`, `kapman: resetting ${url(MASK)} (environment development)`],
    // libpq quotes a URI it cannot read whole, password as written (here raw, special characters and all).
    [`pg_dump: error: invalid URI query parameter: "${url(pw)}?sslmod=require"`, `pg_dump: error: invalid URI query parameter: "${url(MASK)}?sslmod=require"`],
    [`connecting to postgresql://127.0.0.1/kapman_dev?user=kapman&password=${enc(pw)}&sslmode=disable`,
      `connecting to postgresql://127.0.0.1/kapman_dev?user=kapman&password=${MASK}&sslmode=disable`],
    [`--dbname=host=127.0.0.1 port=5432 user=kapman password=${quoted(pw)} dbname=kapman_dev`,
      `--dbname=host=127.0.0.1 port=5432 user=kapman password=${MASK} dbname=kapman_dev`],
    [`PGPASSWORD=${pw} pg_restore --dbname=kapman_dev`, `PGPASSWORD=${MASK} pg_restore --dbname=kapman_dev`],
    [`config ${inspect({ user: 'kapman', password: pw, database: 'kapman_dev' })}`, `config { user: 'kapman', password: ${MASK}, database: 'kapman_dev' }`],
    [`config ${JSON.stringify({ user: 'kapman', password: pw })}`, `config {"user":"kapman","password":${MASK}}`],
  ];
}

/** Reads the URL as every command does first, so that the tools know the password it holds. */
const readUrlWith = (pw: string) => loadSettings({ env: 'test', databaseUrl: `postgres://kapman:${enc(pw)}@127.0.0.1:5432/kapman_dev` });

describe.each(PASSWORDS)('the password %j', (pw) => {
  beforeAll(() => readUrlWith(pw));

  test('is masked where it stands as a password, and nothing else changes', () => {
    for (const [raw, masked] of lines(pw)) expect(redact(raw)).toBe(masked);
  });

  test('displayUrl masks the user info and password=, and keeps the rest as written', () => {
    const url = `postgres://kapman:${enc(pw)}@127.0.0.1:5432/kapman_dev?sslmode=disable&password=${enc(pw)}`;
    expect(displayUrl(url)).toBe(`postgres://kapman:${MASK}@127.0.0.1:5432/kapman_dev?sslmode=disable&password=${MASK}`);
  });

  test('text that holds no password comes out unchanged', () => {
    const text = 'resetting postgres://kapman@127.0.0.1:5432/kapman_dev: password authentication failed for user "kapman"; check the password in DATABASE_URL';
    expect(redact(text)).toBe(text);
  });
});

test('with the password `e`, the words around it stay whole', () => {
  readUrlWith('e');
  const out = redact('kapman: resetting postgres://kapman:e@127.0.0.1:5432/kapman_dev (environment development)');
  expect(out).toContain('resetting');
  expect(out).toContain('postgres://');
  expect(out).toContain('development');
});

test('a raw @, : or / in a URL password, or an encoded key, is still masked', () => {
  expect(redact('x postgres://u:a@b:c/d@h/db y')).toBe(`x postgres://u:${MASK}@h/db y`);
  expect(redact('postgres://h/db?pass%77ord=secret&x=1')).toBe(`postgres://h/db?pass%77ord=${MASK}&x=1`);
  expect(redact("password='it\\'s me' host=h")).toBe(`password=${MASK} host=h`);
});

test('libpq\'s own messages (pg_dump\'s) about a connection string come out the same with any password as with one that never shows', () => {
  const pgDump = findTool('pg_dump', 15).file;
  // Each is refused before any connection: libpq quotes the URL whole, or the piece it could not read.
  const messages = (pw: string) => [
    `postgres://kapman:${enc(pw)}@[::1/kapman_dev`,
    `postgres://kapman:${enc(pw)}%zz@127.0.0.1/kapman_dev`,
    `postgres://kapman@127.0.0.1/kapman_dev?password=${enc(pw)}%00`,
    `host=127.0.0.1 dbname=kapman_dev ${pw}`, // the password written without its key
  ].map((conninfo) => spawnSync(pgDump, ['--schema-only', `--dbname=${conninfo}`], { encoding: 'utf8', env: { PATH: process.env.PATH } }).stderr);
  const control = crypto.randomBytes(12).toString('hex');
  const expected = messages(control).map(redact);
  expect(expected.join('')).not.toContain(control);
  expect(expected).toEqual([
    expect.stringMatching(/in URI: "postgres:\/\/kapman:\*{5}@\[::1\/kapman_dev"/),
    expect.stringMatching(/invalid percent-encoded token: "\*{5}"/),
    expect.stringMatching(/forbidden value %00 in percent-encoded value: "\*{5}"/),
    expect.stringMatching(/missing "=" after "\*{5}" in connection info string/),
  ]);
  for (const pw of PASSWORDS) expect({ pw, messages: messages(pw).map(redact) }).toEqual({ pw, messages: expected });
});

describe('a command run as the program runs it', () => {
  const role = `${runPrefix()}mask_${crypto.randomBytes(3).toString('hex')}`;
  const database = remember(uniqueName('_mask'));
  const admin = (sql: string) => withMaintenanceClient(serverSettings(), (c) => c.query(sql));
  const setPassword = (pw: string) => admin(`ALTER ROLE ${escapeIdentifier(role)} PASSWORD ${escapeLiteral(pw)}`);
  // The program in-process (tests/support/inProcess.ts): its output is what a process prints.
  const dryRun = async (pw: string) => {
    const r = await runInProcess('reset', ['--dry-run'], { DATABASE_URL: urlAs({ name: role, password: pw }, database) });
    return { code: r.code, output: r.out + r.err };
  };

  beforeAll(async () => {
    await admin(`CREATE ROLE ${escapeIdentifier(role)} LOGIN CREATEDB`);
    await admin(`CREATE DATABASE ${escapeIdentifier(database)} OWNER ${escapeIdentifier(role)}`);
  });
  afterAll(async () => {
    await dropMadeDatabases();
    await admin(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
  });

  // The whole output with each password equals the output with a random one that never shows:
  // the password changes nothing in it, and what every run prints stays whole.
  test('db:reset --dry-run prints the same with any password as with one that never shows', async () => {
    const control = crypto.randomBytes(12).toString('hex');
    await setPassword(control);
    const expected = await dryRun(control);
    expect(expected.code).toBe(0);
    expect(expected.output).not.toContain(control);
    expect(expected.output).toMatch(new RegExp(`^kapman: resetting postgres://${role}:\\*{5}@\\S+/${database} \\(environment development\\)$`, 'm'));
    expect(expected.output).toMatch(/^kapman: plan \(dry run, nothing changed\): server postgres:\/\//m);

    for (const pw of PASSWORDS) {
      await setPassword(pw);
      expect({ pw, ...(await dryRun(pw)) }).toEqual({ pw, ...expected });
    }
  });
});
