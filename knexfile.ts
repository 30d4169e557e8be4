// Environment -> connection and migration settings, in one place.
// The knex CLI reads the default export (`npx knex migrate:latest --env test`);
// the scripts call knexConfig() so that they and the CLI can never disagree.
import type { Knex } from 'knex';
import { escapeIdentifier } from 'pg';
import { loadDotEnv } from './scripts/lib/cli/dotenv';
import { explainDatabaseError, KapmanError, UsageError } from './scripts/lib/cli/errors';
import { MIGRATIONS_LOCK, waitForLock } from './scripts/lib/server/lock';
import { displayUrl, readConnectionUrl } from './scripts/lib/server/connectionUrl';
import { knexQueryable, prepareSession, prepareTransaction, Queryable, SessionOptions } from './scripts/lib/server/session';
import { APPLICATION_NAME, CONNECT_TIMEOUT_MS, openClient, workingConfig } from './scripts/lib/server/ssl';
import { DEFAULT_LOCK_TIMEOUT_MS } from './scripts/lib/server/timeouts';
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
export { DEFAULT_LOCK_TIMEOUT_MS };
export { APPLICATION_NAME };

export function knexConfig(env: Environment, databaseUrl = process.env.DATABASE_URL, session: SessionOptions = {}): Knex.Config {
  const connectionString = databaseUrl || DEFAULT_URLS[env];
  return {
    client: 'pg',
    // The URL read as libpq reads it, never handed to the driver as a string (scripts/lib/server/ssl.ts).
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
    migrations: <Knex.MigratorConfig & { beforeEach(trx: Knex): Promise<void> }>{ // knex calls beforeEach; its types omit it
      // The TypeScript files of db/migrations, in file-name order (db/migrationSource.ts).
      migrationSource: new MigrationFiles(),
      // Every migration's transaction starts with the setup (the knex CLI's too): behind a pooler it is the only one.
      beforeEach: (trx: Knex) => prepareTransaction(knexQueryable(trx), { asOwner: true, ...session }),
      schemaName: MIGRATIONS_SCHEMA,
      tableName: MIGRATIONS_TABLE,
    },
  };
}

// The knex CLI prints an error's stack: it gets the tools' two lines instead (the stack with KAPMAN_DEBUG=1).
function forKnexCli(err: KapmanError): KapmanError {
  if (!process.env.KAPMAN_DEBUG) err.stack = `kapman: error: ${err.message}${err.hint ? `\nkapman: hint: ${err.hint}` : ''}`;
  return err;
}

/**
 * Takes the lock db:migrate and db:rollback take (the migration lock of the database), in a
 * session of its own, and keeps it until the process ends: the knex CLI exits as soon as its
 * command is done, and the lock, transaction-level, ends with the session (through a pooler too).
 */
async function holdMigrationLock(url: string): Promise<void> {
  const client = await openClient(url).catch((err) => { throw forKnexCli(explainDatabaseError(err, displayUrl(url))); });
  // Losing this session later loses only the lock; the run's own sessions report their errors.
  client.on('error', () => undefined);
  try {
    await prepareSession(client);
    await client.query('BEGIN');
    await prepareTransaction(client, { lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS });
    await waitForLock(client, MIGRATIONS_LOCK, `the migration lock of ${readConnectionUrl(url).dbname}`, DEFAULT_LOCK_TIMEOUT_MS, {
      bound: `the knex CLI waits ${DEFAULT_LOCK_TIMEOUT_MS / 1000} s`,
      longer: 'use `npm run db:migrate -- --lock-timeout <seconds>`',
    });
  } catch (err) {
    await client.end().catch(() => undefined);
    throw forKnexCli(explainDatabaseError(err, displayUrl(url)));
  }
}

/**
 * The knex CLI's settings: knexConfig's, and no connection opened before the migration lock is
 * held. Knex checks for its tables and creates them outside any transaction, then locks its lock
 * row: two runs on a fresh database both created the tables, and one failed
 * (a duplicate key in pg_class or pg_type). Knex asks for the connection settings before its first connection,
 * so waiting there holds back the whole run, those checks included, while another run (a
 * db:migrate's too) holds the lock.
 */
function cliConfig(env: Environment): Knex.Config {
  const config = knexConfig(env);
  const url = process.env.DATABASE_URL || DEFAULT_URLS[env];
  if (!url) return config; // the connection itself says what is missing
  const settings = config.connection as () => Promise<Knex.PgConnectionConfig>;
  let locked: Promise<void> | undefined;
  return {
    ...config,
    connection: async () => {
      await (locked ??= holdMigrationLock(url));
      return settings();
    },
    // Knex also logs a failed connection, stack and all, before the CLI prints it: the CLI's line is enough.
    log: { warn: (message: unknown) => { if (!/^Acquire connection error: kapman: error: /.test(String(message))) console.warn(message); } },
  };
}

// The knex CLI calls this; the scripts read .env themselves (where --env-file may name another file).
export default function knexfile(): Record<Environment, Knex.Config> {
  loadDotEnv(__dirname);
  return {
    development: cliConfig('development'),
    test: cliConfig('test'),
    production: cliConfig('production'),
  };
}

// `knex migrate:make` cannot name files our way (it prefixes a timestamp) and, with a
// migrationSource instead of a directory, writes into ./migrations, which nothing reads.
// So under the knex CLI it stops here, before knex touches the disk, and points at db:new.
// It exits itself: an error thrown here, knex would print after "Failed to read config from knexfile".
function refuseKnexMigrateMake(argv = process.argv): void {
  const at = argv.indexOf('migrate:make');
  if (at < 0 || !/knex[\\/]bin[\\/]cli\.js$/.test(require.main?.filename ?? '')) return;
  const name = argv[at + 1] && !argv[at + 1].startsWith('-') ? argv[at + 1] : '<name>';
  const err = new UsageError('knex migrate:make is not used in this project: migrations are numbered files in db/migrations, written from the house stub',
    `run instead: npm run db:new -- ${name}`);
  process.stderr.write(forKnexCli(err).stack + '\n');
  process.exit(err.exitCode);
}
refuseKnexMigrateMake();
