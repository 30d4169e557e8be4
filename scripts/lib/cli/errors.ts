// Named errors: each says what went wrong, carries a hint the user can act on,
// and has its own exit code, so scripts and CI can tell the classes apart.
import { escapeIdentifier } from 'pg';
import { redact } from './log';

export class KapmanError extends Error {
  readonly exitCode: number = 1;
  /** What the command found before it failed (a report, a list): part of its --json output. */
  result?: object;
  constructor(message: string, readonly hint?: string, options?: { cause?: unknown }) {
    super(redact(message), options);
    this.name = new.target.name;
    if (hint) this.hint = redact(hint);
  }
}

/** Bad command-line usage found by a command itself (yargs reports its own with the same code). */
export class UsageError extends KapmanError {
  readonly exitCode = 2;
}
export class InvalidSettingsError extends KapmanError {
  readonly exitCode = 3;
}
export class ServerUnreachableError extends KapmanError {
  readonly exitCode = 4;
}
/** The connection broke in the middle of the work (a crash, a restart, a terminated session). */
export class ConnectionLostError extends KapmanError {
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
  /** What going on would lose; the CLI layer then gives the command as typed, with --force, in the hint. */
  loses?: string;
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
/** A lock stayed taken past --lock-timeout: by another session, or another kapman-db run. */
export class LockTimeoutError extends KapmanError {
  readonly exitCode = 14;
}
/** The target is read-only: a hot standby, or default_transaction_read_only on the database or role. */
export class ReadOnlyTargetError extends KapmanError {
  readonly exitCode = 15;
}
/** Replication or prepared transactions depend on the target: replacing it would break them. */
export class TargetInUseError extends KapmanError {
  readonly exitCode = 16;
}
/** The role's connection limit or the server's free slots are too few for the command. */
export class ConnectionSlotsError extends KapmanError {
  readonly exitCode = 17;
}
/** SSL itself failed, as libpq's sslmode means it (scripts/lib/server/ssl.ts): no SSL on the server, a certificate that fails verification. */
export class SslError extends KapmanError {
  readonly exitCode = 18;
}
/** A swap stopped after the target was dropped: the message says where the new data is and whether it is open, the hint the SQL that finishes it. */
export class SwapFailedError extends KapmanError {
  readonly exitCode = 19;
}
/** `db:new` would write a migration whose name is taken. */
export class MigrationExistsError extends KapmanError {
  readonly exitCode = 20;
}

// 21-25: backups (scripts/backup.ts, scripts/restore.ts).
/** No pg_dump / pg_restore whose major version is at least the server's. */
export class ClientToolsError extends KapmanError {
  readonly exitCode = 21;
}
/** The backup file is missing, truncated, changed, or has no metadata beside it. */
export class BackupInvalidError extends KapmanError {
  readonly exitCode = 22;
}
/** The backup's TimescaleDB version cannot be created on this server. */
export class BackupVersionError extends KapmanError {
  readonly exitCode = 23;
}
/** pg_dump failed; no backup file was written. */
export class BackupFailedError extends KapmanError {
  readonly exitCode = 24;
}
/** pg_restore failed, or what it restored does not match the backup's metadata; the target is unchanged. */
export class RestoreFailedError extends KapmanError {
  readonly exitCode = 25;
}

/** An applied migration's file is gone from db/migrations/ (knex calls the folder "corrupt"). */
export class MigrationFileMissingError extends KapmanError {
  readonly exitCode = 26;
}
/** The migrations build something other than db/contract.ts describes (found by a reset or a restore's build). */
export class ContractMismatchError extends KapmanError {
  readonly exitCode = 27;
}
/** A generated file (db/schema.sql, the ER diagram) is not what the migrations give (`--check`). */
export class StaleFileError extends KapmanError {
  readonly exitCode = 28;
}
/** `status --check`: a migration is pending, edited since applied, or applied with its file missing. */
export class MigrationsNotAppliedError extends KapmanError {
  readonly exitCode = 29;
}
/** Docker was asked for, or chosen, but its engine does not answer, or `docker compose` (the v2 plugin) does not. */
export class DockerUnavailableError extends KapmanError {
  readonly exitCode = 30;
}

// 31 and up: managed servers and poolers.
/** The command cannot run through a connection pooler (CREATE/DROP DATABASE need a session of their own). */
export class PoolerError extends KapmanError {
  readonly exitCode = 31;
}
// 32-34: a database left closed, and what a backup or restore refuses before it starts.
/** The database does not accept connections (datallowconn = false, as an interrupted swap leaves it). */
export class DatabaseClosedError extends KapmanError {
  readonly exitCode = 32;
}
/** db:backup's --out names a folder, a file that is not a backup of this tool (without --force), or one another backup is writing. */
export class BackupTargetError extends KapmanError {
  readonly exitCode = 33;
}
/** db:restore: the archive's grants name roles the server lacks (found before anything is touched; --no-acl skips them). */
export class MissingRolesError extends KapmanError {
  readonly exitCode = 34;
}

/** The lint found problems in the migrations (or could not run squawk); nothing was changed. */
export class LintError extends KapmanError {
  readonly exitCode = 35;
}

/** A squash, or carrying a database past one, was refused: nothing was written or changed. */
export class SquashRefusedError extends KapmanError {
  readonly exitCode = 36;
}

/** A statement of TimescaleDB's community build (compression, policies) on a server that runs its Apache build. */
export class TimescaleEditionError extends KapmanError {
  readonly exitCode = 37;
}

export const INSTALL_HINT =
  'without Docker, run `bash scripts/install-timescaledb.sh` as root (or through sudo); with Docker, use the timescale/timescaledb image (docker-compose.yml)';

/** Where TimescaleDB's community build comes from: what a user meeting the Apache build needs next. */
export const COMMUNITY_BUILD_SOURCES = 'the timescale/timescaledb image (docker-compose.yml), or `TIMESCALEDB_SOURCE=<TimescaleDB source tarball> bash scripts/install-timescaledb.sh`';
export const COMMUNITY_BUILD_HINT = `compression and policies need TimescaleDB's community build: ${COMMUNITY_BUILD_SOURCES}`;

// TimescaleDB's two refusals under the Apache license (src/cross_module_fn.c): a function it names,
// or "functionality" (ALTER TABLE … SET (timescaledb.compress), a continuous aggregate). Knex puts the
// statement before the server's words: "<sql> - function … license".
const APACHE_REFUSAL = /(?:^|\s-\s)(?:function "([^"]+)" is not supported|functionality not supported) under the current "apache" license/;

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
  if (['ENOTFOUND', 'EAI_AGAIN'].includes(code)) {
    return new ServerUnreachableError(`cannot reach the server at ${server}: ${message}`,
      'the host name does not resolve: check the host in DATABASE_URL', { cause: err });
  }
  if (['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'].includes(code) ||
      /timeout expired|Connection terminated|connect ETIMEDOUT/i.test(message) || code === '57P03') {
    return new ServerUnreachableError(`cannot reach the server at ${server}: ${message}`,
      'start it (`npm run db:up`), check host and port in DATABASE_URL, or pass --wait to wait for it', { cause: err });
  }
  // The server ended the session in the middle of the work: shut down, crashed, or a terminated backend.
  // pg says "not queryable" when knex's ROLLBACK meets a connection that already broke.
  if (['57P01', '57P02'].includes(code) || code.startsWith('08') || /terminating connection|server closed the connection|encountered a connection error and is not queryable/i.test(message)) {
    return new ConnectionLostError(`the connection to the server at ${server} was lost: ${message}`,
      'the server went away or ended the session; nothing was left half-done (each step is one transaction or not yet started); rerun when it is back', { cause: err });
  }
  // pg's words when the server asks for a password and none was given (libpq: "no password supplied").
  if (/client password must be a (non-empty )?string/.test(message)) {
    return new AuthenticationFailedError(`authentication failed at ${server}: the server asks for a password and none was given`,
      'put the password in DATABASE_URL, PGPASSWORD or ~/.pgpass', { cause: err });
  }
  if (code === '28P01' || code === '28000') {
    return new AuthenticationFailedError(`authentication failed at ${server}: ${message}`,
      'check the user name and password in DATABASE_URL', { cause: err });
  }
  if (code === '3D000') {
    return new DatabaseMissingError(`${message} (server ${server})`,
      'create it and build the schema with `npm run db:reset`, or check the database name in DATABASE_URL', { cause: err });
  }
  const closed = /^database "(.*)" is not currently accepting connections/.exec(message);
  if (closed) {
    const name = escapeIdentifier(closed[1]);
    return new DatabaseClosedError(`${message} (server ${server}): it is closed to connections (datallowconn = false), as a reset or restore stopped in its swap leaves it`,
      `open it: ALTER DATABASE ${name} ALLOW_CONNECTIONS true (as its owner or a superuser, connected to another database, e.g. postgres)`, { cause: err });
  }
  if (code === '55006') {
    return new TargetInUseError(`the database is in use at ${server}: ${message}`,
      'a session, logical replication slot, subscription or prepared transaction holds it (see pg_stat_activity, pg_replication_slots, pg_subscription, pg_prepared_xacts)', { cause: err });
  }
  if (code === '55P03') {
    return new LockTimeoutError(`a lock was not granted within --lock-timeout at ${server}: ${message}`,
      'another session holds it (see pg_stat_activity); end that session or rerun with a larger --lock-timeout', { cause: err });
  }
  if (code === '25006') {
    return new ReadOnlyTargetError(`the server or database is read-only at ${server}: ${message}`,
      'point DATABASE_URL at the primary, or unset default_transaction_read_only for this database and role', { cause: err });
  }
  if (code === '53300') {
    return new ConnectionSlotsError(`no connection slot free at ${server}: ${message}`,
      "close other sessions, or raise the role's CONNECTION LIMIT or the server's max_connections", { cause: err });
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
  const apache = code === '0A000' ? APACHE_REFUSAL.exec(message) : null;
  if (apache) {
    const statement = message.slice(0, apache.index).trim();
    return new TimescaleEditionError(`${apache[1] ? `function "${apache[1]}"` : 'this statement'} needs TimescaleDB's community build, and the server at ${server} `
      + `runs its Apache build (timescaledb.license = apache)${statement ? `; the statement: ${statement}` : ''}`, COMMUNITY_BUILD_HINT, { cause: err });
  }
  return new KapmanError(message, undefined, { cause: err });
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
