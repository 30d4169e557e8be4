// The knex CLI's config (`npx knex migrate:latest --env test` reads the default export): the
// same knexConfig() the scripts use (scripts/lib/server/knex.ts), so the two never disagree,
// with the migration lock held first. It only imports; nothing of the project imports it.
import type { Knex } from 'knex';
import { loadDotEnv } from './scripts/lib/cli/dotenv';
import { explainDatabaseError, KapmanError, UsageError } from './scripts/lib/cli/errors';
import { DEFAULT_URLS, Environment, knexConfig } from './scripts/lib/server/knex';
import { MIGRATIONS_LOCK, waitForLock } from './scripts/lib/server/lock';
import { displayUrl } from './scripts/lib/server/connectionUrl';
import { prepareSession, prepareTransaction } from './scripts/lib/server/session';
import { openClient, workingConfig } from './scripts/lib/server/ssl';
import { loadSettings, Settings } from './scripts/lib/server/settings';
import { carryForward } from './scripts/lib/migrations/carryForward';
import { ExplainedMigrationFiles } from './scripts/lib/migrations/migrate';
import { DEFAULT_LOCK_TIMEOUT_MS } from './scripts/lib/cli/timeouts';

// The knex CLI prints an error's stack: it gets the tools' two lines instead (the stack with KAPMAN_DEBUG=1).
function forKnexCli(err: KapmanError): KapmanError {
  if (!process.env.KAPMAN_DEBUG) err.stack = `kapman: error: ${err.message}${err.hint ? `\nkapman: hint: ${err.hint}` : ''}`;
  return err;
}

/**
 * Reads the settings (once: every connection of the run is opened from them), then takes the
 * lock db:migrate and db:rollback take (the migration lock of the database), in a session of its
 * own, and keeps it until the process ends: the knex CLI exits as soon as its command is done,
 * and the lock, transaction-level, ends with the session (through a pooler too).
 */
async function holdMigrationLock(env: Environment, url: string): Promise<Settings> {
  let settings: Settings;
  let client: Awaited<ReturnType<typeof openClient>>;
  try {
    settings = loadSettings({ env, databaseUrl: url, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS });
    client = await openClient(settings.connection);
  } catch (err) {
    throw forKnexCli(explainDatabaseError(err, displayUrl(url)));
  }
  // Losing this session later loses only the lock; the run's own sessions report their errors.
  client.on('error', () => undefined);
  try {
    await prepareSession(client);
    await client.query('BEGIN');
    await prepareTransaction(client, { lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS });
    await waitForLock(client, MIGRATIONS_LOCK, `the migration lock of ${settings.database}`, DEFAULT_LOCK_TIMEOUT_MS, {
      bound: `the knex CLI waits ${DEFAULT_LOCK_TIMEOUT_MS / 1000} s`,
      longer: 'use `npm run db:migrate -- --lock-timeout <seconds>`',
    });
  } catch (err) {
    await client.end().catch(() => undefined);
    throw forKnexCli(explainDatabaseError(err, settings.displayUrl));
  }
  return settings;
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
  const config = knexConfig(env, undefined); // without a connection: its own says what is missing
  const url = process.env.DATABASE_URL || DEFAULT_URLS[env];
  if (!url) return config;
  let locked: Promise<Settings> | undefined;
  return {
    ...config,
    // A failed migration in the tools' two lines, the statement once (the migrations run once connected: the settings are read).
    migrations: { ...config.migrations, migrationSource: new ExplainedMigrationFiles(() => locked!, forKnexCli) },
    connection: async () => {
      // Under the lock, a database migrated before a squash is carried past it first, as db:migrate does: knex would call it corrupt.
      locked ??= holdMigrationLock(env, url).then(async (settings) => {
        await carryForward(settings, { pgBin: process.env.PG_BIN }).catch((err) => { throw forKnexCli(err instanceof KapmanError ? err : explainDatabaseError(err, settings.displayUrl)); });
        return settings;
      });
      return workingConfig((await locked).connection) as Promise<Knex.PgConnectionConfig>;
    },
    // Knex also logs a failed connection, stack and all, before the CLI prints it: the CLI's line is enough.
    // And of a failed migration it logs the file and the error, which the CLI then prints anyway.
    log: { warn: (message: unknown) => { if (!/^Acquire connection error: kapman: error: |^migration (failed with error: |file ".*" failed$)/.test(String(message))) console.warn(message); } },
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
