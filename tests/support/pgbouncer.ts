// A real PgBouncer in transaction mode in front of a test server: started on a free port with
// its config and auth file in a temporary folder, stopped (by its pid) and removed by stop().
// PgBouncer refuses to run as root: as root it runs as the postgres OS user, as the server does.
import { execFileSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { freePort } from '../../scripts/lib/server/localCluster';
import { alive } from './process';

export const PGBOUNCER = process.env.PGBOUNCER || '/usr/sbin/pgbouncer';

export interface PgBouncer {
  port: number;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** The server's TCP port on 127.0.0.1. */
  serverPort: number;
  /** The roles that may log in, with their passwords (the auth_file; scram-sha-256 towards clients and the server). */
  users: Array<{ name: string; password: string }>;
  /** Server connections per database and role. */
  poolSize: number;
  /** TLS both ways: towards clients with this certificate, towards the server verifying its CA. */
  tls?: { cert: string; key: string; ca: string };
}

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
const isRoot = () => process.getuid?.() === 0;

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

export async function startPgBouncer(o: PgBouncerOptions): Promise<PgBouncer> {
  if (!fs.existsSync(PGBOUNCER)) throw new Error(`no PgBouncer at ${PGBOUNCER}: npm run test:e2e installs it when it may (tests/support/install-e2e-tools.sh), or set PGBOUNCER`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-pgbouncer-'));
  const port = await freePort();
  const file = (name: string) => path.join(dir, name);
  fs.writeFileSync(file('users.txt'), o.users.map((u) => `${quote(u.name)} ${quote(u.password)}\n`).join(''), { mode: 0o600 });
  fs.writeFileSync(file('pgbouncer.ini'), [
    '[databases]',
    `* = host=127.0.0.1 port=${o.serverPort}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${file('users.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${o.poolSize}`,
    'max_client_conn = 200',
    `logfile = ${file('pgbouncer.log')}`,
    `pidfile = ${file('pgbouncer.pid')}`,
    ...(o.tls ? [
      'client_tls_sslmode = require', `client_tls_cert_file = ${o.tls.cert}`, `client_tls_key_file = ${o.tls.key}`,
      'server_tls_sslmode = verify-ca', `server_tls_ca_file = ${o.tls.ca}`,
    ] : []),
  ].join('\n') + '\n', { mode: 0o600 });
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  fs.chmodSync(dir, 0o700);
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  const pid = () => Number(fs.readFileSync(file('pgbouncer.pid'), 'utf8').trim());
  const stop = async () => {
    try {
      if (fs.existsSync(file('pgbouncer.pid'))) {
        const p = pid();
        process.kill(p, 'SIGTERM');
        for (let i = 0; i < 100 && alive(p); i++) await new Promise((r) => setTimeout(r, 50));
      }
    } catch {
      // already gone
    } finally {
      remove();
    }
  };
  try {
    const [cmd, args] = isRoot() ? ['runuser', ['-u', 'postgres', '--', PGBOUNCER, '-d', file('pgbouncer.ini')]] : [PGBOUNCER, ['-d', file('pgbouncer.ini')]];
    execFileSync(cmd, args, { stdio: 'pipe' });
    // PgBouncer listens within milliseconds of daemonizing on a quiet machine; 30 s on a busy one.
    for (const until = Date.now() + 30_000; !(await accepts(port));) {
      if (Date.now() > until) throw new Error(`PgBouncer did not listen on ${port}: ${fs.existsSync(file('pgbouncer.log')) ? fs.readFileSync(file('pgbouncer.log'), 'utf8') : ''}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, stop };
}
