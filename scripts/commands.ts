// Every command of `kapman-db`, with its one-line description: the registry, above the commands
// it loads and the CLI layer it hands them to. A command's file is loaded only when it runs,
// so `kapman-db --help` and each command start without loading the others.
import * as cli from './lib/cli/cli';
import type { CommandEntry, DatabaseArgs, Program } from './lib/cli/cli';
import { InvalidSettingsError, UsageError } from './lib/cli/errors';
import { unfinishedSquashRefusal } from './lib/migrations/squashJournal';
import type { Settings } from './lib/server/settings';

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand, see above */
export const COMMANDS: CommandEntry[] = [
  { name: 'setup', describe: 'Start the development TimescaleDB and migrate it; without Docker, install TimescaleDB first when missing (needs root or sudo)', load: () => require('./setup').command },
  { name: 'up', describe: 'Start the development TimescaleDB (docker compose, or a local cluster in .pgdata/ without Docker)', load: () => require('./db-up').command },
  { name: 'down', describe: 'Stop the development TimescaleDB; its data is kept', load: () => require('./db-down').command },
  { name: 'migrate', describe: 'Apply every pending migration, one batch in one transaction (like `knex migrate:latest`)', load: () => require('./migrate').command },
  { name: 'rollback', describe: 'Revert the last batch of migrations in one transaction; DROPS the tables it created, with their data', load: () => require('./rollback').command },
  { name: 'reset', describe: 'DELETES EVERYTHING in the target database: builds the empty baseline beside it from the migrations, verifies it, then swaps it in', load: () => require('./reset').command },
  { name: 'status', describe: 'List applied [X], pending [ ], edited [!] and missing [?] migrations', load: () => require('./status').command },
  { name: 'verify', describe: 'Check a live database against the schema contract (db/contract.ts); exit 0 only when it matches', load: () => require('./verify').command },
  { name: 'backup', describe: 'Write a backup of the target database (pg_dump custom format, metadata in FILE.json beside it)', load: () => require('./backup').command },
  { name: 'restore', positionals: '<file>', needs: 'the backup to restore (the archive; its FILE.json lies beside it)', placeholder: 'FILE', describe: 'REPLACES EVERYTHING in the target database with a backup: restored beside it, verified, then swapped in', load: () => require('./restore').command },
  { name: 'lint', positionals: '[migrations..]', describe: 'Lint the SQL of the pending migrations (or those named) with squawk and the TimescaleDB rules; exit 35 on a finding', load: () => require('./lint').command },
  { name: 'new', positionals: '<name..>', needs: 'the name of the migration', placeholder: 'NAME', describe: 'Write the next migration, db/migrations/<NNNN>_<name>.ts, from the house stub', load: () => require('./new').command },
  { name: 'squash', describe: 'Fold the migrations (or those up to --through NNNN) into one baseline migration, proven to build the identical database first', load: () => require('./squash').command },
  { name: 'schema:dump', describe: 'Write db/schema.sql from a scratch database built by the migrations (needs CREATEDB on the server)', load: () => require('./schema-dump').command },
  { name: 'erd', describe: 'Write the Mermaid ER diagram of the migrations\' schema into docs/schema.md', load: () => require('./erd').command },
  { name: 'report', describe: 'Write the database\'s health as one HTML page (coverage, gaps, bad bars, watchlists, storage, schema); read-only, safe on production', load: () => require('./report').command },
  { name: 'bench', describe: 'Benchmark reset, backfill, daily upsert, reads, chunk intervals, backup and restore on a throwaway TimescaleDB', load: () => require('./bench').command },
];

/** The Settings of the target that --env, --lock-timeout and DATABASE_URL name. */
export function settingsFromArgs(args: { env?: string; 'lock-timeout'?: number }): Settings {
  const lockTimeout = args['lock-timeout'];
  if (lockTimeout !== undefined) cli.positiveSeconds('lock-timeout')(lockTimeout);
  if (args.env === '') throw new UsageError('--env needs a name: development, test or production');
  // Set but empty (DATABASE_URL="$UNSET" in a script) is a mistake, not a wish for the default database.
  if (process.env.DATABASE_URL === '') {
    throw new InvalidSettingsError('DATABASE_URL is set but empty', 'give it the target\'s URL, or unset it to use the environment\'s default database');
  }
  // Loaded here, not at the top: `kapman-db new` and `--help` need no driver.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadSettings } = require('./lib/server/settings') as typeof import('./lib/server/settings');
  return loadSettings({ env: args.env ?? process.env.NODE_ENV, databaseUrl: process.env.DATABASE_URL, lockTimeoutMs: lockTimeout === undefined ? undefined : lockTimeout * 1000 });
}


/** A database command's target: its Settings, read once here and passed down, the server waited for with --wait. */
async function target(args: DatabaseArgs): Promise<Settings> {
  // A squash stopped while it moved the files: no command reads db/ until `db:squash --finish` has finished it.
  const unfinished = unfinishedSquashRefusal();
  if (unfinished && !(args as { finish?: boolean }).finish) throw unfinished;
  const settings = settingsFromArgs(args);
  if (args.wait) {
    const { waitForServer } = await import('./lib/server/connection');
    await waitForServer(settings, args['wait-timeout'] * 1000);
  }
  return settings;
}

const PROGRAM: Program = { commands: COMMANDS, target };

/** The whole program over these commands: parses, runs, prints any error once; returns the exit code. */
export const runProgram = (given: string[], env: NodeJS.ProcessEnv = process.env) => cli.runProgram(PROGRAM, given, env);

/** `node scripts/kapman-db.js …`: the program as the process. */
export const main = () => cli.main(PROGRAM);

/** The commands, for tests and the README check: each with its options. */
export const describeCommands = () => cli.describeCommands(COMMANDS);
