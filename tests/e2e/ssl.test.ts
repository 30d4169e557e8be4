// sslmode as libpq means it, against a real server with ssl = on and certificates made here
// with openssl (a cluster of its own: the shared one stays plain, which the require case uses).
import fs from 'fs';
import os from 'os';
import path from 'path';
import { connect } from '../../scripts/lib/server/connection';
import { SslError } from '../../scripts/lib/cli/errors';
import { DEFAULT_PG_BIN } from '../../scripts/lib/server/localCluster';
import { urlForDatabase } from '../../scripts/lib/server/settings';
import { startThrowawayCluster, TestServer } from '../../scripts/lib/server/testServer';
import { runScript } from '../support/cli';
import { serverUrl, settingsOf } from '../support/testDatabase';
import { makeCa, makeServerCertificate } from '../support/tls';

let server: TestServer | undefined;
let dir = '';
const file = (name: string) => path.join(dir, name);

afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-ssl-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  // The server's certificate, signed by ca, for the name localhost only (not 127.0.0.1).
  makeServerCertificate(dir, 'ca', 'localhost');
  server = await startThrowawayCluster(process.env.PG_BIN || DEFAULT_PG_BIN, true, {
    extraSettings: ['ssl = on', `ssl_cert_file = '${file('server.crt')}'`, `ssl_key_file = '${file('server.key')}'`],
  });
}, 120_000);

/** A database of the SSL cluster (its maintenance database by default) with these query parameters. */
function sslUrl(params: string, host?: string, database = 'postgres'): string {
  const u = new URL(urlForDatabase(server!.adminUrl, database));
  if (host) u.hostname = host;
  return `${u.toString()}?${params}`;
}

/** Connects as the tool does; says whether the session is encrypted. */
async function encrypted(url: string): Promise<boolean> {
  const c = await connect(settingsOf(url));
  try {
    return (await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl;
  } finally {
    await c.end();
  }
}

const rootcert = (name: string) => `sslrootcert=${encodeURIComponent(file(name))}`;

test('require: a server without SSL is an SslError (exit 18) naming sslmode', async () => {
  const failure = connect(settingsOf(`${urlForDatabase(serverUrl(), 'postgres')}?sslmode=require`));
  await expect(failure).rejects.toBeInstanceOf(SslError);
  await expect(failure).rejects.toMatchObject({ exitCode: 18, message: expect.stringMatching(/does not accept SSL.*sslmode=require/) });
});

test('require encrypts without checking the certificate (a private CA passes)', async () => {
  expect(await encrypted(sslUrl('sslmode=require'))).toBe(true);
});

test('require with sslrootcert checks the CA, as verify-ca does', async () => {
  expect(await encrypted(sslUrl(`sslmode=require&${rootcert('ca.crt')}`))).toBe(true);
  await expect(connect(settingsOf(sslUrl(`sslmode=require&${rootcert('other-ca.crt')}`)))).rejects.toBeInstanceOf(SslError);
});

test('verify-ca: the right CA connects, another CA is an SslError; the host name is not checked', async () => {
  expect(await encrypted(sslUrl(`sslmode=verify-ca&${rootcert('ca.crt')}`))).toBe(true); // 127.0.0.1, not in the certificate
  const failure = connect(settingsOf(sslUrl(`sslmode=verify-ca&${rootcert('other-ca.crt')}`)));
  await expect(failure).rejects.toBeInstanceOf(SslError);
  await expect(failure).rejects.toMatchObject({ message: expect.stringMatching(/certificate that fails verification/), hint: expect.stringMatching(/sslrootcert/) });
});

test('verify-ca without a root certificate file is an SslError naming the file', async () => {
  await expect(connect(settingsOf(sslUrl(`sslmode=verify-ca&${rootcert('missing.crt')}`)))).rejects.toMatchObject({ exitCode: 18, message: expect.stringMatching(/missing\.crt/) });
});

test('verify-full: the name in the certificate connects, an address it does not hold is an SslError', async () => {
  expect(await encrypted(sslUrl(`sslmode=verify-full&${rootcert('ca.crt')}`, 'localhost'))).toBe(true);
  expect(await encrypted(sslUrl(`sslmode=verify-full&${rootcert('ca.crt')}&hostaddr=127.0.0.1`, 'localhost'))).toBe(true);
  const failure = connect(settingsOf(sslUrl(`sslmode=verify-full&${rootcert('ca.crt')}`, '127.0.0.1')));
  await expect(failure).rejects.toBeInstanceOf(SslError);
  await expect(failure).rejects.toMatchObject({ message: expect.stringMatching(/another host name/) });
});

test('disable connects unencrypted; allow tries plain first; prefer (the default) encrypts when the server offers SSL', async () => {
  expect(await encrypted(sslUrl('sslmode=disable'))).toBe(false);
  expect(await encrypted(sslUrl('sslmode=allow'))).toBe(false);
  expect(await encrypted(sslUrl('sslmode=prefer'))).toBe(true);
  expect(await encrypted(sslUrl('application_name=default'))).toBe(true);
});

test('prefer falls back to plain on a server without SSL', async () => {
  expect(await encrypted(`${urlForDatabase(serverUrl(), 'postgres')}?sslmode=prefer`)).toBe(false);
});

test("prefer: after a server's no to SSL, the process asks it in plain; a server that offers SSL still gets asked", async () => {
  let ssl!: typeof import('../../scripts/lib/server/ssl');
  jest.isolateModules(() => { ssl = require('../../scripts/lib/server/ssl'); }); // nothing learned yet
  const plainServer = `${urlForDatabase(serverUrl(), 'postgres')}?sslmode=prefer`;
  const wrong = new URL(plainServer);
  wrong.password = 'not-the-password';
  // knex's settings: a probe connection, which the wrong password fails; its SSL attempt met the server's no.
  await expect(ssl.workingConfig(settingsOf(wrong.toString()).connection)).rejects.toThrow(/password authentication failed/);
  // Now no probe is made: plain settings come back although the password is wrong.
  expect((await ssl.workingConfig(settingsOf(wrong.toString()).connection)).ssl).toBe(false);
  const c = await ssl.openClient(settingsOf(plainServer).connection);
  await c.end();
  // The SSL server (another port) learned nothing from that: its probe encrypts.
  expect((await ssl.workingConfig(settingsOf(sslUrl('sslmode=prefer')).connection)).ssl).not.toBe(false);
});

test('through the commands: verify-full resets over SSL, require on a plain server exits 18; no warning text anywhere', () => {
  const full = runScript('reset', ['--quiet'], { DATABASE_URL: sslUrl(`sslmode=verify-full&${rootcert('ca.crt')}`, 'localhost', 'kapman_ssl') });
  expect({ code: full.code, err: full.err }).toEqual({ code: 0, err: '' });
  expect(full.out).toMatch(/matches the contract/);

  const refused = runScript('status', [], { DATABASE_URL: `${urlForDatabase(serverUrl(), 'postgres')}?sslmode=require` });
  expect(refused.code).toBe(18);
  expect(refused.err.trim().split('\n')).toEqual([
    expect.stringMatching(/^kapman: error: the server at .* does not accept SSL connections, and sslmode=require requires SSL$/),
    expect.stringMatching(/^kapman: hint: /),
  ]);
  expect(full.out + full.err + refused.out + refused.err).not.toMatch(/warning/i);
});
