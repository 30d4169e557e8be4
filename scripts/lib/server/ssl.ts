// From a URL's reading (connectionUrl.ts) to pg's ClientConfig, with sslmode as libpq means it.
// node-postgres has its own meanings (it treats require as verify-full and prints a warning),
// so the URL string never reaches it: every mode is mapped here, fallbacks included.
import fs from 'fs';
import os from 'os';
import path from 'path';
import tls from 'tls';
import { Client, ClientConfig } from 'pg';
import { ConnectionParams, isSocket } from './connectionUrl';
import { explainSslError, SslError } from '../cli/errors';

// An unreachable server fails within this, not after a TCP hang (connect_timeout= overrides it).
export const CONNECT_TIMEOUT_MS = 5000;
// Every session the tools open says who it is (unless the URL names it), so a lock report can name it.
export const APPLICATION_NAME = 'kapman-db';

// libpq's default folder for root.crt, postgresql.crt and postgresql.key.
const userSslFile = (name: string) => path.join(os.homedir(), '.postgresql', name);

function read(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new SslError(`cannot read the ${what} ${file}: ${(err as Error).message}`,
      `give the right file in DATABASE_URL (${what === 'root certificate' ? 'sslrootcert' : 'sslcert / sslkey'}=…), or change sslmode`);
  }
}

/** pg's ssl option for an encrypted attempt under `p.sslmode`. */
function sslOption(p: ConnectionParams): tls.ConnectionOptions {
  const rootcert = p.sslrootcert ?? userSslFile('root.crt');
  // libpq: verify-ca and verify-full need the root certificate; in the other modes, one that
  // exists is used too ("require" with a root certificate behaves like verify-ca).
  const strict = p.sslmode === 'verify-ca' || p.sslmode === 'verify-full';
  const verify = strict || fs.existsSync(rootcert);
  const option: tls.ConnectionOptions = { rejectUnauthorized: verify };
  if (verify) option.ca = read(rootcert, 'root certificate');
  option.checkServerIdentity = p.sslmode === 'verify-full'
    ? (_name, cert) => tls.checkServerIdentity(p.host, cert) // the name in host=, also when hostaddr= gives the address
    : () => undefined;
  // A client certificate is sent when its file exists, as libpq does; its key must then exist too.
  const cert = p.sslcert ?? userSslFile('postgresql.crt');
  if (fs.existsSync(cert)) {
    option.cert = read(cert, 'client certificate');
    option.key = read(p.sslkey ?? userSslFile('postgresql.key'), 'client key');
  }
  return option;
}

/** The connections to try, in order: two for allow and prefer (libpq's fallback), else one. */
export function clientConfigs(p: ConnectionParams): ClientConfig[] {
  const base: ClientConfig = {
    host: p.hostaddr ?? p.host,
    port: p.port,
    user: p.user,
    // Never empty: the driver would then read PGPASSWORD and ~/.pgpass itself (already done by
    // readConnectionUrl), printing a deprecation warning; no password is an empty one.
    password: p.password ?? (() => ''),
    database: p.dbname,
    application_name: p.application_name ?? APPLICATION_NAME,
    options: p.options,
    connectionTimeoutMillis: p.connect_timeout === undefined ? CONNECT_TIMEOUT_MS : p.connect_timeout * 1000,
  };
  const plain = { ...base, ssl: false };
  // libpq never uses SSL over a Unix socket, whatever sslmode says.
  if (p.sslmode === 'disable' || isSocket(p)) return [plain];
  const encrypted = { ...base, ssl: sslOption(p) };
  if (p.sslmode === 'allow') return [plain, encrypted];
  if (p.sslmode === 'prefer') return [encrypted, plain];
  return [encrypted];
}

// Failures that another attempt on the same host and port cannot mend.
const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOENT'];
const unreachable = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return UNREACHABLE.includes(e?.code ?? '') || /timeout/i.test(e?.message ?? '');
};

// Servers (host and port) that answered "no SSL here" to this process: under prefer, libpq then
// goes on in plain, so later connections skip the refused attempt (and knex's pool its probe).
const refusingSsl = new Set<string>();
const serverKey = (p: ConnectionParams) => `${p.hostaddr ?? p.host}:${p.port}`;
const SSL_REFUSED = 'The server does not support SSL connections'; // pg's words for the server's "N"

/** The attempts libpq would make, less an encrypted one a server already refused under prefer. */
function attemptsFor(p: ConnectionParams): ClientConfig[] {
  const attempts = clientConfigs(p);
  return p.sslmode === 'prefer' && refusingSsl.has(serverKey(p)) ? attempts.filter((a) => !a.ssl) : attempts;
}

/** A connected client, and the attempt that succeeded; a failing SSL handshake or check is an SslError. */
async function open(p: ConnectionParams): Promise<{ client: Client; config: ClientConfig }> {
  const attempts = attemptsFor(p);
  for (const [i, config] of attempts.entries()) {
    const client = new Client(config);
    client.on('error', () => undefined); // a server-side termination must not crash the process
    try {
      await client.connect();
      return { client, config };
    } catch (err) {
      await client.end().catch(() => undefined);
      if ((err as Error)?.message === SSL_REFUSED) refusingSsl.add(serverKey(p));
      // libpq's allow and prefer try the other way after any failure but an unreachable server.
      if (i === attempts.length - 1 || unreachable(err)) throw explainSslError(err, `${p.host}:${p.port}`, p.sslmode) ?? err;
    }
  }
  throw new Error('unreachable: no connection attempt');
}

/** Opens a client on the connection `p` as libpq would (connection.ts names any failure). */
export async function openClient(p: ConnectionParams): Promise<Client> {
  return (await open(p)).client;
}

/**
 * pg's settings for the connection `p`, for knex's pool: under allow and prefer, one connection
 * is made (and closed) to learn which of the two ways works, unless the server already refused
 * SSL; knex then reuses that answer.
 */
export async function workingConfig(p: ConnectionParams): Promise<ClientConfig> {
  const attempts = attemptsFor(p);
  if (attempts.length === 1) return attempts[0];
  const { client, config } = await open(p);
  await client.end().catch(() => undefined);
  return config;
}
