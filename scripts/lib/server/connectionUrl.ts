// DATABASE_URL read the way libpq reads a connection URI (PostgreSQL docs, "Connection URIs"),
// so that this tool and psql, given one URL, always reach the same database. The driver's own
// reader (pg-connection-string) decodes with decodeURI, which leaves %3B %2C %2F %3F %23 encoded:
// `/a%3Bb` would name a database literally called `a%3Bb` while psql connects to `a;b`.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { InvalidSettingsError } from '../cli/errors';
import { MASK } from '../cli/log';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

// Debian's libpq (the psql installed here) looks for the server's socket in this folder.
export const DEFAULT_SOCKET_DIR = '/var/run/postgresql';

/** What one URL means, every default applied: the parameters of one connection. */
export interface ConnectionParams {
  /** A host name, an IP address, or (starting with /) the folder of a Unix socket. */
  host: string;
  /** An IP address to connect to instead of looking `host` up (`host` still names the server for verify-full). */
  hostaddr?: string;
  port: number;
  user: string;
  password?: string;
  dbname: string;
  sslmode: SslMode;
  /** Files: the CA certificate(s) to verify the server with, the client's certificate and key. */
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  application_name?: string;
  /** Seconds; 0 waits forever (libpq's meaning). */
  connect_timeout?: number;
  /** Command-line options sent to the server, e.g. `-c search_path=x`. */
  options?: string;
  /**
   * The password file's lines for this host, port and user, read once when neither the URL nor
   * PGPASSWORD gave a password: another database of the server finds its line there (connectionForDatabase).
   */
  passwordFile?: string[][];
}

type Key = Exclude<keyof ConnectionParams, 'passwordFile'>;

// The query parameters accepted, each with the environment variable libpq falls back to.
const PARAMETERS: Record<Key, string> = {
  host: 'PGHOST', hostaddr: 'PGHOSTADDR', port: 'PGPORT', user: 'PGUSER', password: 'PGPASSWORD', dbname: 'PGDATABASE',
  sslmode: 'PGSSLMODE', sslrootcert: 'PGSSLROOTCERT', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY',
  application_name: 'PGAPPNAME', connect_timeout: 'PGCONNECT_TIMEOUT', options: 'PGOPTIONS',
};
const isKey = (k: string): k is Key => Object.prototype.hasOwnProperty.call(PARAMETERS, k);

const SCHEMES = ['postgresql://', 'postgres://'];
// Examples show no password: any text standing there is masked in output, a placeholder too.
/** Where a URL's password goes, in words. */
export const PASSWORD_WHERE = 'the password after USER and a colon, percent-encoded (@ as %40), or in PGPASSWORD or ~/.pgpass';
const HINT = `DATABASE_URL must look like postgres://USER@HOST:5432/DBNAME (${PASSWORD_WHERE}); is DATABASE_URL or the knexfile default set as you meant?`;

const bad = (what: string) => new InvalidSettingsError(`DATABASE_URL ${what}`, HINT);

/** The URL cut where libpq cuts it, each piece still percent-encoded. */
interface RawUrl {
  scheme: string;
  /** user[:password]@, with its @, or ''. */
  userinfo: string;
  user?: string;
  password?: string;
  /** host[:port], or '' (a socket in the default folder). */
  hostport: string;
  host: string;
  port?: string;
  /** The path after its /, up to ?; undefined without a /. */
  path?: string;
  /** key=value pairs, in order. */
  query: [string, string][];
}

/** Percent-decodes every %XX, as libpq does: bytes, read as UTF-8; a bad escape or %00 is an error. */
export function percentDecode(text: string): string {
  const stray = /%(?![0-9a-fA-F]{2})/.exec(text);
  if (stray) throw bad(`holds an invalid percent-encoded token "${text.slice(stray.index, stray.index + 3)}"`);
  if (text.includes('%00')) throw bad('holds %00, which no connection parameter may contain');
  // A run of escapes is one byte sequence: %C3%A9 is é.
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.slice(1).split('%').map((h) => parseInt(h, 16))).toString('utf8'));
}

/** Splits the URL as libpq's conninfo_uri_parse_options does (fe-connect.c). */
function split(url: string): RawUrl {
  const scheme = SCHEMES.find((s) => url.startsWith(s));
  if (!scheme) {
    const other = /^([a-z][a-z0-9+.-]*):/i.exec(url);
    throw bad(other ? `has scheme "${other[1]}", not postgres:// or postgresql://` : 'is not a postgres:// URL');
  }
  let rest = url.slice(scheme.length);
  const raw: RawUrl = { scheme, userinfo: '', hostport: '', host: '', query: [] };

  // user[:password]@ ends at the first @ met before any /.
  const at = rest.search(/[@/]/);
  if (at >= 0 && rest[at] === '@') {
    raw.userinfo = rest.slice(0, at + 1);
    const colon = raw.userinfo.indexOf(':');
    raw.user = colon < 0 ? rest.slice(0, at) : rest.slice(0, colon);
    if (colon >= 0) raw.password = rest.slice(colon + 1, at);
    rest = rest.slice(at + 1);
    // libpq would read what follows a raw "@" in the password as the host: a lookup that fails
    // naming part of the password. No host name holds an "@", so say so, quoting none of it.
    if (/^[^/?]*@/.test(rest)) {
      throw new InvalidSettingsError('DATABASE_URL has a second raw "@" before its host: libpq would take part of the user info as the host name',
        'percent-encode each "@" in the user name or password as %40');
    }
  }

  // host[:port]; [..] holds an IPv6 address.
  let end: number;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw bad('has a "[" without its "]" around an IPv6 address');
    if (close === 1) throw bad('has an empty IPv6 address "[]"');
    raw.host = rest.slice(1, close);
    end = close + 1;
    if (end < rest.length && !':/?,'.includes(rest[end])) throw bad(`has "${rest[end]}" after "]" (expected ":" or "/")`);
  } else {
    end = rest.search(/[:/?,]|$/);
    raw.host = rest.slice(0, end);
  }
  if (rest[end] === ':') {
    const portEnd = rest.slice(end + 1).search(/[/?,]|$/) + end + 1;
    raw.port = rest.slice(end + 1, portEnd);
    end = portEnd;
  }
  if (rest[end] === ',') throw bad('names several hosts, which this tool does not support');
  raw.hostport = rest.slice(0, end);
  rest = rest.slice(end);

  // /dbname runs up to ?, so a raw # is part of the name (libpq knows no fragment).
  if (rest.startsWith('/')) {
    const q = rest.indexOf('?');
    raw.path = q < 0 ? rest.slice(1) : rest.slice(1, q);
    rest = q < 0 ? '' : rest.slice(q);
  }
  if (rest.startsWith('?')) {
    const pairs = rest.slice(1).split('&');
    if (pairs[pairs.length - 1] === '') pairs.pop(); // a trailing & (or a bare ?) ends the list, as in libpq
    // The messages name the key only: a value may be a password.
    for (const [i, pair] of pairs.entries()) {
      const eq = pair.indexOf('=');
      if (eq < 0) throw bad(`query parameter number ${i + 1} has no "="`);
      if (pair.indexOf('=', eq + 1) >= 0) throw bad(`query parameter "${pair.slice(0, eq)}" has a second "=" (percent-encode it as %3D)`);
      raw.query.push([pair.slice(0, eq), pair.slice(eq + 1)]);
    }
  }
  return raw;
}

/** The query parameters, decoded and checked (libpq rejects an unknown one). */
function queryParameters(raw: RawUrl): Partial<Record<Key, string>> {
  const out: Partial<Record<Key, string>> = {};
  for (const [rawKey, rawValue] of raw.query) {
    let key = percentDecode(rawKey);
    let value = percentDecode(rawValue);
    if (key === 'ssl' && value === 'true') [key, value] = ['sslmode', 'require']; // libpq's JDBC-compatible spelling
    if (!isKey(key)) {
      throw new InvalidSettingsError(`DATABASE_URL has an invalid URI query parameter "${key}"`,
        `this tool accepts ${Object.keys(PARAMETERS).join(', ')} (libpq's meanings)`);
    }
    out[key] = value; // a later one wins, as in libpq
  }
  return out;
}

function integer(value: string, name: string, min: number, max: number): number {
  const n = /^\s*[0-9]+\s*$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw bad(`has an invalid ${name} "${value}" (expected a whole number from ${min} to ${max})`);
  return n;
}

/**
 * The parameters `url` means: the URL's own, then libpq's environment variables (PGHOST,
 * PGUSER, …) for what it leaves out, then libpq's defaults (a Unix socket in
 * /var/run/postgresql, port 5432, the OS user, a database named after the user, sslmode prefer).
 */
export function readConnectionUrl(url: string, env: NodeJS.ProcessEnv = process.env): ConnectionParams {
  const raw = split(url);
  const given: Partial<Record<Key, string>> = {};
  const set = (key: Key, value: string | undefined) => {
    if (value !== undefined && value !== '') given[key] = value;
  };
  set('user', raw.user === undefined ? undefined : percentDecode(raw.user));
  set('password', raw.password === undefined ? undefined : percentDecode(raw.password));
  set('host', percentDecode(raw.host));
  set('port', raw.port === undefined ? undefined : percentDecode(raw.port));
  set('dbname', raw.path === undefined ? undefined : percentDecode(raw.path));
  for (const [key, value] of Object.entries(queryParameters(raw))) set(key as Key, value);
  for (const key of Object.keys(PARAMETERS) as Key[]) if (given[key] === undefined) set(key, env[PARAMETERS[key]]);

  if ((given.host ?? '').includes(',') || (given.hostaddr ?? '').includes(',')) throw bad('names several hosts, which this tool does not support');
  const sslmode = given.sslmode ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new InvalidSettingsError(`DATABASE_URL has an invalid sslmode "${sslmode}"`, `use one of ${SSL_MODES.join(', ')}`);
  }
  const user = given.user ?? os.userInfo().username;
  const host = given.host ?? (given.hostaddr ? given.hostaddr : DEFAULT_SOCKET_DIR);
  const port = given.port === undefined ? 5432 : integer(given.port, 'port', 1, 65535);
  const dbname = given.dbname ?? user;
  let connectTimeout = given.connect_timeout === undefined ? undefined : integer(given.connect_timeout, 'connect_timeout', 0, 2 ** 31 - 1);
  if (connectTimeout === 1) connectTimeout = 2; // libpq's floor: one second is too short to mean anything
  const passwordFile = given.password === undefined ? readPasswordFile(env)?.filter((f) => matches(f, host, port, undefined, user)) : undefined;
  return {
    host,
    hostaddr: given.hostaddr,
    port,
    user,
    password: given.password ?? passwordFor(passwordFile, host, port, dbname, user),
    passwordFile,
    dbname,
    sslmode: sslmode as SslMode,
    sslrootcert: given.sslrootcert,
    sslcert: given.sslcert,
    sslkey: given.sslkey,
    application_name: given.application_name,
    connect_timeout: connectTimeout,
    options: given.options,
  };
}

/**
 * The password file (PGPASSFILE, else ~/.pgpass) as libpq reads it: host:port:database:user:password
 * lines, comments left out; a file others may read is ignored. (The driver would read it too, but
 * prints a deprecation warning when it does.)
 */
function readPasswordFile(env: NodeJS.ProcessEnv): string[][] | undefined {
  const file = env.PGPASSFILE || path.join(os.homedir(), '.pgpass');
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || (stat.mode & 0o077) !== 0) return undefined;
    return fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((line) => !line.startsWith('#')).map(splitPgpassLine);
  } catch {
    return undefined;
  }
}

/** A password-file line applies, by libpq's rules: * for any, localhost stands for the default socket folder (no dbname: any database). */
function matches(fields: string[], host: string, port: number, dbname: string | undefined, user: string): boolean {
  const wanted = [host === DEFAULT_SOCKET_DIR ? 'localhost' : host, String(port), dbname, user];
  return fields.length === 5 && wanted.every((w, i) => w === undefined || fields[i] === '*' || fields[i] === w);
}

/** The password of the first line that applies: the first match wins. */
function passwordFor(lines: string[][] | undefined, host: string, port: number, dbname: string, user: string): string | undefined {
  return lines?.find((fields) => matches(fields, host, port, dbname, user))?.[4];
}

/**
 * The same connection to another database of the server: what libpq makes of the URL with only
 * its database changed (withDatabase), without reading the URL or the environment again.
 */
export function connectionForDatabase(p: ConnectionParams, dbname: string): ConnectionParams {
  return { ...p, dbname, password: p.passwordFile ? passwordFor(p.passwordFile, p.host, p.port, dbname, p.user) : p.password };
}

/** One password-file line's fields: split on the first four unescaped colons, escapes undone. */
function splitPgpassLine(line: string): string[] {
  const fields = [''];
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && i + 1 < line.length) fields[fields.length - 1] += line[++i];
    else if (line[i] === ':' && fields.length < 5) fields.push('');
    else fields[fields.length - 1] += line[i];
  }
  return fields;
}

/** A Unix socket folder rather than a TCP host. */
export const isSocket = (p: Pick<ConnectionParams, 'host' | 'hostaddr'>) => !p.hostaddr && p.host.startsWith('/');

/**
 * The same URL for another database: scheme, credentials, host, port and every query
 * parameter kept as written (a dbname= parameter dropped, it would win over the path).
 * The name travels percent-encoded, so any name PostgreSQL accepts fits.
 */
export function withDatabase(url: string, database: string): string {
  const raw = split(url);
  const query = raw.query.filter(([k]) => percentDecode(k) !== 'dbname').map(([k, v]) => `${k}=${v}`);
  return `${raw.scheme}${raw.userinfo}${raw.hostport}/${encodeURIComponent(database)}${query.length ? `?${query.join('&')}` : ''}`;
}

/**
 * The URL for output: its password masked where it stands (the user info, a password=
 * parameter, read as libpq cuts it), the rest as written; a URL that cannot be read is never printed.
 */
export function displayUrl(url: string): string {
  let raw: ReturnType<typeof split>;
  try {
    raw = split(url);
  } catch {
    return '(unreadable URL)';
  }
  const userinfo = raw.password === undefined ? raw.userinfo : `${raw.user}:${MASK}@`;
  const query = raw.query.map(([k, v]) => `${k}=${percentDecode(k) === 'password' ? MASK : v}`);
  const path = raw.path === undefined ? '' : `/${raw.path}`;
  return `${raw.scheme}${userinfo}${raw.hostport}${path}${raw.query.length ? `?${query.join('&')}` : ''}`;
}
