// Certificates made at test time with openssl: a CA of its own and a server certificate it signs.
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const newKey = (dir: string, name: string) => openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', name);

/** A CA (name.crt, name.key) in `dir`. */
export function makeCa(dir: string, name: string): void {
  newKey(dir, `${name}.key`);
  openssl(dir, 'req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
}

/** server.crt and server.key in `dir`, signed by `ca`, for the DNS name `host` only; readable by the postgres OS user alone. */
export function makeServerCertificate(dir: string, ca: string, host: string): void {
  newKey(dir, 'server.key');
  openssl(dir, 'req', '-new', '-key', 'server.key', '-out', 'server.csr', '-subj', `/CN=${host}`);
  fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=DNS:${host}\n`);
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  fs.chmodSync(dir, 0o711);
  fs.chmodSync(path.join(dir, 'server.key'), 0o600);
  // The server (and PgBouncer) run as postgres when we are root.
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', path.join(dir, 'server.key'), path.join(dir, 'server.crt')]);
}
