// Named errors: each says what went wrong, carries a hint the user can act on,
// and has its own exit code, so scripts and CI can tell the classes apart.
import { redact } from './log';

export class KapmanError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, readonly hint?: string, options?: { cause?: unknown }) {
    super(redact(message), options);
    this.name = new.target.name;
    if (hint) this.hint = redact(hint);
  }
}

export class InvalidSettingsError extends KapmanError {
  readonly exitCode = 3;
}
export class ServerUnreachableError extends KapmanError {
  readonly exitCode = 4;
}
export class AuthenticationFailedError extends KapmanError {
  readonly exitCode = 5;
}
export class RefusedTargetError extends KapmanError {
  readonly exitCode = 6;
}
export class ProductionGuardError extends KapmanError {
  readonly exitCode = 7;
}
export class TimescaleMissingError extends KapmanError {
  readonly exitCode = 8;
}
export class PermissionDeniedError extends KapmanError {
  readonly exitCode = 9;
}
export class MigrationFailedError extends KapmanError {
  readonly exitCode = 10;
}
export class SchemaDriftError extends KapmanError {
  readonly exitCode = 11;
}
export class LocalClusterError extends KapmanError {
  readonly exitCode = 12;
}
export class DatabaseMissingError extends KapmanError {
  readonly exitCode = 13;
}

export const INSTALL_HINT =
  'run `sudo bash scripts/install-timescaledb.sh` (no Docker) or use the timescale/timescaledb image (docker-compose.yml)';

interface PgLikeError {
  code?: string;
  message?: string;
}

/** Turns a driver or server error met while talking to `server` into a named error. */
export function explainDatabaseError(err: unknown, server: string): KapmanError {
  if (err instanceof KapmanError) return err;
  const e = (err ?? {}) as PgLikeError;
  const message = String(e.message ?? err);
  const code = e.code ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'].includes(code) ||
      /timeout expired|Connection terminated|connect ETIMEDOUT/i.test(message) || code === '57P03') {
    return new ServerUnreachableError(`cannot reach the server at ${server}: ${message}`,
      'start it (`npm run db:up`), check host and port in DATABASE_URL, or pass --wait to wait for it', { cause: err });
  }
  if (code === '28P01' || code === '28000') {
    return new AuthenticationFailedError(`authentication failed at ${server}: ${message}`,
      'check the user name and password in DATABASE_URL', { cause: err });
  }
  if (code === '3D000') {
    return new DatabaseMissingError(`${message} (server ${server})`,
      'create it and build the schema with `npm run db:reset`, or check the database name in DATABASE_URL', { cause: err });
  }
  if (code === '42501') {
    return new PermissionDeniedError(`permission denied at ${server}: ${message}`,
      'connect as a role with CREATEDB that owns the target database (or a superuser)', { cause: err });
  }
  if (/timescaledb/i.test(message) && /(preload|could not (open|access) (extension control )?file|is not available)/i.test(message)) {
    return new TimescaleMissingError(`TimescaleDB is not usable on ${server}: ${message}`,
      `the server needs TimescaleDB installed and shared_preload_libraries = 'timescaledb' in postgresql.conf, then a restart; to install: ${INSTALL_HINT}`,
      { cause: err });
  }
  return new KapmanError(message, undefined, { cause: err });
}

// SSL, as libpq's sslmode means it (scripts/lib/ssl.ts): kept apart from the classes above.
export class SslError extends KapmanError {
  readonly exitCode = 18;
}

/** A failure of SSL itself (no SSL on the server, a certificate that fails verification) as an SslError. */
export function explainSslError(err: unknown, where: string, sslmode: string): SslError | undefined {
  if (err instanceof SslError) return err;
  const e = (err ?? {}) as PgLikeError;
  const message = String(e.message ?? err);
  if (/server does not support SSL/i.test(message)) {
    return new SslError(`the server at ${where} does not accept SSL connections, and sslmode=${sslmode} requires SSL`,
      'turn ssl on in the server\'s postgresql.conf, or set sslmode=prefer (SSL when offered) or sslmode=disable in DATABASE_URL', { cause: err });
  }
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new SslError(`the server at ${where} has a certificate for another host name (sslmode=${sslmode}): ${message}`,
      'connect by a name the certificate holds (host=…, with hostaddr= for the address), or use sslmode=verify-ca to check only the CA', { cause: err });
  }
  if (/CERT|SIGNATURE|ISSUER|UNABLE_TO_VERIFY/.test(e.code ?? '')) {
    return new SslError(`the server at ${where} has a certificate that fails verification (sslmode=${sslmode}): ${message}`,
      'set sslrootcert to the CA certificate that signed the server\'s (default ~/.postgresql/root.crt), or sslmode=require to encrypt without verifying', { cause: err });
  }
  return undefined;
}
