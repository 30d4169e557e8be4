// The rules of DATABASE_URL and sslmode, in-process and without a server: what a URL means (the
// cases psql agrees with in e2e/connectionUrl.test.ts, which also resets each database) and the
// connections each sslmode tries, in order (e2e/ssl.test.ts makes them against a server with SSL).
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { ClientConfig } from 'pg';
import type { PeerCertificate } from 'tls';
import { DEFAULT_SOCKET_DIR, readConnectionUrl } from '../../scripts/lib/server/connectionUrl';
import { clientConfigs } from '../../scripts/lib/server/ssl';

// No password file, no libpq variable of this machine: each case gives its own.
const NO_FILE = { PGPASSFILE: '/nonexistent/pgpass' };
const OS_USER = os.userInfo().username;

// [what the case shows, the URL, libpq's variables, what libpq makes of it: host, hostaddr, port, user, dbname]
const CASES: [string, string, Record<string, string>, [string, string | undefined, number, string, string]][] = [
  ['TCP', 'postgres://kapman:pw@127.0.0.1:5433/url_plain', {}, ['127.0.0.1', undefined, 5433, 'kapman', 'url_plain']],
  ['postgresql:// and a host name', 'postgresql://kapman:pw@db.example:5433/x', {}, ['db.example', undefined, 5433, 'kapman', 'x']],
  ['%3B and %2C', 'postgres://kapman@h/url%3Bsemi%2Ccomma', {}, ['h', undefined, 5432, 'kapman', 'url;semi,comma']],
  ['%2F, %3F and %23', 'postgres://kapman@h/url%2Fslash%3Fquestion%23hash', {}, ['h', undefined, 5432, 'kapman', 'url/slash?question#hash']],
  ['%25, %22 and %20', 'postgres://kapman@h/url%25percent%22quote%20space', {}, ['h', undefined, 5432, 'kapman', 'url%percent"quote space']],
  ['é as UTF-8', 'postgres://kapman@h/url_caf%C3%A9', {}, ['h', undefined, 5432, 'kapman', 'url_café']],
  ['a raw # (libpq knows no fragment)', 'postgres://kapman@h/url_raw#hash', {}, ['h', undefined, 5432, 'kapman', 'url_raw#hash']],
  ['a socket by an empty host (the default folder)', 'postgres://kapman@:5433/s', {}, [DEFAULT_SOCKET_DIR, undefined, 5433, 'kapman', 's']],
  ['a socket by host=', 'postgres:///s?host=%2Ftmp%2Fpg&port=5433&user=kapman', {}, ['/tmp/pg', undefined, 5433, 'kapman', 's']],
  ["host= wins over the URL's host", 'postgres://kapman@db.invalid:5433/s?host=%2Ftmp%2Fpg', {}, ['/tmp/pg', undefined, 5433, 'kapman', 's']],
  ["host= wins over the URL's host, and PGHOST", 'postgres://kapman@db.invalid/s?host=other.example', { PGHOST: 'env.example' }, ['other.example', undefined, 5432, 'kapman', 's']],
  ['a socket folder percent-encoded as the host', 'postgres://kapman@%2Ftmp%2Fpg:5433/s', {}, ['/tmp/pg', undefined, 5433, 'kapman', 's']],
  ['dbname= wins over the path', 'postgres://kapman@h/not_this?dbname=this', {}, ['h', undefined, 5432, 'kapman', 'this']],
  ['user=, password=, port= as parameters', 'postgres://127.0.0.1/p?user=kapman&password=pw&port=5433', {}, ['127.0.0.1', undefined, 5433, 'kapman', 'p']],
  ['hostaddr= beside another host name', 'postgres://kapman@db.invalid:5433/a?hostaddr=127.0.0.1', {}, ['db.invalid', '127.0.0.1', 5433, 'kapman', 'a']],
  ['defaults: the OS user, a database named after it, the default socket, 5432', 'postgres://', {}, [DEFAULT_SOCKET_DIR, undefined, 5432, OS_USER, OS_USER]],
  ["libpq's variables fill in what the URL leaves out", 'postgres://127.0.0.1', { PGUSER: 'kapman', PGPORT: '5433', PGDATABASE: 'url_env' }, ['127.0.0.1', undefined, 5433, 'kapman', 'url_env']],
  ["the URL's own parts win over libpq's variables", 'postgres://kapman@h:5433/mine', { PGUSER: 'other', PGPORT: '5999', PGDATABASE: 'theirs', PGHOST: 'e' }, ['h', undefined, 5433, 'kapman', 'mine']],
];

test.each(CASES)('a URL means what it means to libpq: %s', (_label, url, env, [host, hostaddr, port, user, dbname]) => {
  const p = readConnectionUrl(url, { ...NO_FILE, ...env });
  expect({ host: p.host, hostaddr: p.hostaddr, port: p.port, user: p.user, dbname: p.dbname }).toEqual({ host, hostaddr, port, user, dbname });
});

// sslmode's attempts look for ~/.postgresql/root.crt (and a client certificate) as libpq does:
// here in an empty home folder of the test's own (os.homedir() reads the process's real
// environment, which a test file's process.env is not), unless a case names its files.
let home = '';
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-home-'));
  jest.spyOn(os, 'homedir').mockReturnValue(home);
  fs.writeFileSync(path.join(home, 'ca.crt'), 'a root certificate: read, never parsed before a connection');
});
afterAll(() => {
  jest.restoreAllMocks();
  fs.rmSync(home, { recursive: true, force: true });
});

/** The connections `url` tries, in order: 'plain', or 'ssl' with whether the certificate is checked. */
const attempts = (url: string) => clientConfigs(readConnectionUrl(url, NO_FILE)).map((c) => {
  if (!c.ssl) return 'plain';
  return typeof c.ssl === 'object' && c.ssl.rejectUnauthorized ? 'ssl, certificate checked' : 'ssl, certificate not checked';
});

test.each([
  ['disable', ['plain']],
  ['allow', ['plain', 'ssl, certificate not checked']],
  ['prefer', ['ssl, certificate not checked', 'plain']],
  ['require', ['ssl, certificate not checked']],
  ['verify-ca', ['ssl, certificate checked']],
  ['verify-full', ['ssl, certificate checked']],
])('sslmode=%s tries, in order: %j', (mode, expected) => {
  const rootcert = mode.startsWith('verify') ? `&sslrootcert=${encodeURIComponent(path.join(home, 'ca.crt'))}` : '';
  expect(attempts(`postgres://kapman@db.example/x?sslmode=${mode}${rootcert}`)).toEqual(expected);
});

test('no sslmode is prefer; require with a root certificate checks it, as verify-ca; over a Unix socket never SSL', () => {
  expect(attempts('postgres://kapman@db.example/x')).toEqual(['ssl, certificate not checked', 'plain']);
  expect(attempts(`postgres://kapman@db.example/x?sslmode=require&sslrootcert=${encodeURIComponent(path.join(home, 'ca.crt'))}`)).toEqual(['ssl, certificate checked']);
  fs.mkdirSync(path.join(home, '.postgresql'));
  fs.copyFileSync(path.join(home, 'ca.crt'), path.join(home, '.postgresql', 'root.crt'));
  try {
    expect(attempts('postgres://kapman@db.example/x?sslmode=require')).toEqual(['ssl, certificate checked']);
  } finally {
    fs.rmSync(path.join(home, '.postgresql'), { recursive: true });
  }
  for (const mode of ['require', 'verify-full']) expect(attempts(`postgres://kapman@/x?host=%2Ftmp%2Fpg&sslmode=${mode}`)).toEqual(['plain']);
});

/** The check of the server certificate's name that an encrypted attempt makes. */
function identityCheck(config: ClientConfig): (host: string, cert: PeerCertificate) => Error | undefined {
  if (typeof config.ssl !== 'object' || !config.ssl.checkServerIdentity) throw new Error('an attempt without SSL, or without its check');
  return config.ssl.checkServerIdentity;
}

test('verify-full checks the name in host=, also when hostaddr= gives the address it connects to; verify-ca checks no name', () => {
  const cert = (name: string) => ({ subject: { CN: name }, subjectaltname: `DNS:${name}` }) as unknown as PeerCertificate;
  const rootcert = `sslrootcert=${encodeURIComponent(path.join(home, 'ca.crt'))}`;
  const [full] = clientConfigs(readConnectionUrl(`postgres://kapman@db.example/x?hostaddr=127.0.0.1&sslmode=verify-full&${rootcert}`, NO_FILE));
  expect(full.host).toBe('127.0.0.1');
  const check = identityCheck(full);
  expect(check('127.0.0.1', cert('db.example'))).toBeUndefined();
  expect(check('127.0.0.1', cert('other.example'))).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', host: 'db.example' });
  const [ca] = clientConfigs(readConnectionUrl(`postgres://kapman@db.example/x?sslmode=verify-ca&${rootcert}`, NO_FILE));
  expect(identityCheck(ca)('db.example', cert('other.example'))).toBeUndefined();
});
