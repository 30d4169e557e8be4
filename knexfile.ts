// The knex CLI's config (`npx knex migrate:latest --env test` reads the default export): the
// same knexConfig() the scripts use (scripts/lib/server/knex.ts), so the two never disagree,
// with the migration lock held first. It only imports; nothing of the project imports it.
import type { Client } from 'pg';
import type { Knex } from 'knex';
import { loadDotEnv } from './scripts/lib/cli/dotenv';
import { explainDatabaseError, KapmanError, ProductionGuardError, UsageError } from './scripts/lib/cli/errors';
import { DEFAULT_URLS, Environment, knexConfig } from './scripts/lib/server/knex';
import { MIGRATIONS_LOCK, waitForLock } from './scripts/lib/server/lock';
import { displayUrl } from './scripts/lib/server/connectionUrl';
import { prepareSession, prepareTransaction } from './scripts/lib/server/session';
import { openClient, workingConfig } from './scripts/lib/server/ssl';
import { withTransaction } from './scripts/lib/server/connection';
import { loadSettings, Settings } from './scripts/lib/server/settings';
import { MigrationFiles } from './db/migrationSource';
import { carryForward, foldOf } from './scripts/lib/migrations/carryForward';
import { ExplainedMigrationFiles } from './scripts/lib/migrations/migrate';
import { lintBeforeProductionMigrate, refuseProductionRollback, refuseRevertingSquashedBatches } from './scripts/lib/migrations/guards';
import { acquireReplaceLock } from './scripts/lib/replace/replace';
import { DEFAULT_LOCK_TIMEOUT_MS } from './scripts/lib/cli/timeouts';

// The knex CLI prints an error's stack: it gets the tools' two lines instead (the stack with KAPMAN_DEBUG=1).
function forKnexCli(err: KapmanError): KapmanError {
  if (!process.env.KAPMAN_DEBUG) err.stack = `kapman: error: ${err.message}${err.hint ? `\nkapman: hint: ${err.hint}` : ''}`;
  return err;
}

const KNEX_CLI = /knex[\\/]bin[\\/]cli\.js$/;

/** The knex CLI's command as typed (`migrate:rollback --all`, …): what its guards depend on. Undefined outside the knex CLI. */
interface KnexCommand {
  name: string;
  /** `--all` (migrate:rollback). */
  all: boolean;
  /** The migration named after the command (migrate:up, migrate:to, migrate:before, migrate:down). */
  named?: string;
  /** The arguments as typed, for a hint that repeats them. */
  typed: string[];
}

function knexCommand(argv = process.argv): KnexCommand | undefined {
  if (!KNEX_CLI.test(require.main?.filename ?? '')) return undefined;
  const typed = argv.slice(2);
  const at = typed.findIndex((a) => /^(migrate|seed):/.test(a));
  if (at < 0) return undefined;
  const next = typed[at + 1];
  return { name: typed[at], all: typed.includes('--all'), named: next && !next.startsWith('-') ? next : undefined, typed };
}

// A guard's refusal ends the run before knex connects, with the exit code kapman-db gives it (knex would say 1).
function refuse(err: KapmanError): never {
  process.stderr.write(`${forKnexCli(err).stack}\n`);
  process.exit(err.exitCode);
}

/** The pending migrations the command applies: undefined for all of them (migrate:latest). */
async function appliedBy(command: KnexCommand, settings: Settings): Promise<string[] | undefined> {
  if (command.name === 'migrate:latest') return undefined;
  const applied = new Set((await foldOf(settings)).applied.map((a) => a.name));
  const pending = (await new MigrationFiles().getMigrations()).filter((f) => !applied.has(f));
  const named = command.named ?? '';
  const wanted = command.name === 'migrate:up' ? (command.named ? [named] : pending.slice(0, 1))
    : command.name === 'migrate:to' ? pending.filter((f) => f <= named)
      : pending.filter((f) => f < named); // migrate:before
  return wanted.filter((f) => pending.includes(f));
}

/**
 * The guards kapman-db's commands run, run here before knex connects (scripts/lib/migrations/guards.ts):
 * production refuses a rollback without a force (KAPMAN_FORCE=1: the knex CLI has no --force),
 * and lints what a migrate applies; a rollback of every batch takes the reset lock.
 */
async function guardBefore(settings: Settings, command: KnexCommand | undefined): Promise<void> {
  if (!command) return;
  if (/^migrate:(rollback|down)$/.test(command.name)) {
    try {
      refuseProductionRollback(settings, process.env.KAPMAN_FORCE === '1');
    } catch (err) {
      if (!(err instanceof ProductionGuardError)) throw err;
      refuse(new ProductionGuardError(err.message, `${err.loses}; if you mean it, run: KAPMAN_FORCE=1 npx knex ${command.typed.join(' ')}`));
    }
    // Reverting everything empties the database: it waits for, and holds off, a reset or restore of it, until the process ends.
    if (command.all) {
      const held = await acquireReplaceLock(settings);
      held.client.on('error', () => undefined);
    }
  }
  if (/^migrate:(latest|up|to|before)$/.test(command.name)) {
    await lintBeforeProductionMigrate(settings, {
      only: await appliedBy(command, settings), pgBin: process.env.PG_BIN, onTarget: process.env.KAPMAN_REHEARSE_ON_TARGET === '1',
    });
  }
}

/**
 * Under the migration lock: a rollback that would revert a baseline standing for several batches
 * is refused. Asked on a session of its own: the lock's holds no snapshot (lock.ts says why).
 */
async function guardUnderLock(settings: Settings, command: KnexCommand | undefined): Promise<void> {
  const last = command?.name === 'migrate:down' ? 'migration' : command?.name === 'migrate:rollback' && !command.all ? 'batch' : undefined;
  if (last) await withTransaction(settings, (c) => refuseRevertingSquashedBatches(c, settings.database, last));
}

/**
 * Takes the lock db:migrate and db:rollback take (the migration lock of the database), in a
 * session of its own, and keeps it until the process ends: the knex CLI exits as soon as its
 * command is done, and the lock, transaction-level, ends with the session (through a pooler too).
 */
async function holdMigrationLock(settings: Settings): Promise<Client> {
  const client = await openClient(settings.connection);
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
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/**
 * Reads the settings (once: every connection of the run is opened from them), runs the guards
 * of the command, takes the migration lock, carries a database migrated before a squash past
 * it as db:migrate does (knex would call it corrupt), and runs the guards that need the lock.
 */
async function prepareRun(env: Environment, url: string, command: KnexCommand | undefined): Promise<Settings> {
  let settings: Settings;
  try {
    settings = loadSettings({ env, databaseUrl: url, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS });
  } catch (err) {
    throw forKnexCli(explainDatabaseError(err, displayUrl(url)));
  }
  const named = (err: unknown) => (err instanceof KapmanError ? err : explainDatabaseError(err, settings.displayUrl));
  // A guard's refusal ends the run with its own exit code; the lock's and the carry-forward's failures as the knex CLI reports any.
  await guardBefore(settings, command).catch((err) => refuse(named(err)));
  try {
    await holdMigrationLock(settings);
    await carryForward(settings, { pgBin: process.env.PG_BIN });
  } catch (err) {
    throw forKnexCli(named(err));
  }
  await guardUnderLock(settings, command).catch((err) => refuse(named(err)));
  return settings;
}

/**
 * The knex CLI's settings: knexConfig's, and no connection opened before the guards ran and the
 * migration lock is held. Knex checks for its tables and creates them outside any transaction,
 * then locks its lock row: two runs on a fresh database both created the tables, and one failed
 * (a duplicate key in pg_class or pg_type). Knex asks for the connection settings before its
 * first connection, so waiting there holds back the whole run, those checks included, while
 * another run (a db:migrate's too) holds the lock.
 */
function cliConfig(env: Environment): Knex.Config {
  const config = knexConfig(env, undefined); // without a connection: its own says what is missing
  const url = process.env.DATABASE_URL || DEFAULT_URLS[env];
  if (!url) return config;
  let prepared: Promise<Settings> | undefined;
  return {
    ...config,
    // A failed migration in the tools' two lines, the statement once (the migrations run once connected: the settings are read).
    migrations: { ...config.migrations, migrationSource: new ExplainedMigrationFiles(() => prepared!, forKnexCli) },
    connection: async () => {
      prepared ??= prepareRun(env, url, knexCommand());
      return workingConfig((await prepared).connection) as Promise<Knex.PgConnectionConfig>;
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
  if (at < 0 || !KNEX_CLI.test(require.main?.filename ?? '')) return;
  const name = argv[at + 1] && !argv[at + 1].startsWith('-') ? argv[at + 1] : '<name>';
  const err = new UsageError('knex migrate:make is not used in this project: migrations are numbered files in db/migrations, written from the house stub',
    `run instead: npm run db:new -- ${name}`);
  process.stderr.write(forKnexCli(err).stack + '\n');
  process.exit(err.exitCode);
}
refuseKnexMigrateMake();
