// Environment -> connection and migration settings, in one place.
// The knex CLI reads the default export (`npx knex migrate:latest --env test`);
// the scripts call knexConfig() so that they and the CLI can never disagree.
import type { Knex } from 'knex';
import { escapeIdentifier } from 'pg';
import { loadDotEnv } from './scripts/lib/dotenv';
import { APPLICATION_NAME, CONNECT_TIMEOUT_MS, workingConfig } from './scripts/lib/ssl';
// Knex's bookkeeping tables live in their own schema, so that `public` holds exactly the MVP tables.
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, MigrationFiles } from './db/migrationSource';

export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

// Match docker-compose.yml and `npm run db:up`. Production has no default: it needs DATABASE_URL.
export const DEFAULT_URLS: Record<Environment, string | undefined> = {
  development: 'postgres://kapman:kapman@localhost:5432/kapman_dev',
  test: 'postgres://kapman:kapman@localhost:5432/kapman_test',
  production: undefined,
};

// An unreachable server fails within this, not after a TCP hang (defined beside the connections).
export { CONNECT_TIMEOUT_MS };
// How long any statement of the tools may wait for a lock (`--lock-timeout`).
export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;
export { APPLICATION_NAME };

export interface SessionOptions {
  /** lock_timeout for the session, in milliseconds. */
  lockTimeoutMs?: number;
  /** SET ROLE to the database's owner when allowed, so what the session builds belongs to the owner. */
  asOwner?: boolean;
}

interface Queryable {
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * The one session setup of every connection the tools open: whatever the role, database or
 * server defaults say (statement_timeout, search_path, ...), the tools' statements run the same.
 */
export async function prepareSession(conn: Queryable, o: SessionOptions = {}): Promise<void> {
  const lockTimeout = Math.max(1, Math.round(o.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS));
  await conn.query(`SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;
    SET lock_timeout = ${lockTimeout}; SET search_path = public`);
  if (!o.asOwner) return;
  const { rows: [db] } = await conn.query(`SELECT pg_get_userbyid(datdba) AS owner,
      pg_get_userbyid(datdba) <> current_user AND pg_has_role(current_user, datdba, 'MEMBER') AS become
    FROM pg_database WHERE datname = current_database()`);
  if (db?.become) await conn.query(`SET ROLE ${escapeIdentifier(String(db.owner))}`);
}

export function knexConfig(env: Environment, databaseUrl = process.env.DATABASE_URL, session: SessionOptions = {}): Knex.Config {
  const connectionString = databaseUrl || DEFAULT_URLS[env];
  return {
    client: 'pg',
    // The URL read as libpq reads it, never handed to the driver as a string (scripts/lib/ssl.ts).
    connection: connectionString
      ? () => workingConfig(connectionString) as Promise<Knex.PgConnectionConfig>
      : () => {
        // Never fall back to libpq's defaults (PGHOST, a local socket): say what is missing.
        throw new Error(`the ${env} environment has no default database: set DATABASE_URL`);
      },
    pool: {
      min: 0,
      max: 4,
      // Migrations run as the database's owner, so the owner owns what they build.
      // Knex does not create its migrations schema itself; every pooled connection
      // makes sure it exists (a no-op once it does). A concurrent twin may win the race.
      afterCreate(conn: Queryable, done: (err?: Error) => void) {
        prepareSession(conn, { asOwner: true, ...session })
          .then(() => conn.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(MIGRATIONS_SCHEMA)}`))
          .then(() => done(), (err: Error & { code?: string }) => done(err.code === '23505' || err.code === '42P06' ? undefined : err));
      },
    },
    migrations: {
      // The TypeScript files of db/migrations, in file-name order (db/migrationSource.ts).
      migrationSource: new MigrationFiles(),
      schemaName: MIGRATIONS_SCHEMA,
      tableName: MIGRATIONS_TABLE,
    },
  };
}

// The knex CLI calls this; the scripts read .env themselves (where --env-file may name another file).
export default function knexfile(): Record<Environment, Knex.Config> {
  loadDotEnv(__dirname);
  return {
    development: knexConfig('development'),
    test: knexConfig('test'),
    production: knexConfig('production'),
  };
}

// `knex migrate:make` cannot name files our way (it prefixes a timestamp) and, with a
// migrationSource instead of a directory, writes into ./migrations, which nothing reads.
// So under the knex CLI it stops here, before knex touches the disk, and points at db:new.
function refuseKnexMigrateMake(argv = process.argv): void {
  const at = argv.indexOf('migrate:make');
  if (at < 0 || !/knex[\\/]bin[\\/]cli\.js$/.test(require.main?.filename ?? '')) return;
  const name = argv[at + 1] && !argv[at + 1].startsWith('-') ? argv[at + 1] : '<name>';
  const message = 'knex migrate:make is not used in this project: migrations are numbered files in db/migrations, '
    + `written from the house stub.\nRun instead: npm run db:new -- ${name}`;
  throw Object.assign(new Error(message), { stack: message }); // knex prints the stack: the message alone
}
refuseKnexMigrateMake();
