// `npm run db:reset`: replace the target database with the empty baseline. The new database
// is built beside the target under a temporary name, migrated and verified; only then is it
// swapped into the target's place (scripts/lib/replace). A failure or a signal before the
// swap leaves the target exactly as it was. It touches that one database only: never roles,
// passwords, other databases or server settings.
import type { Knex } from 'knex';
import type { Client } from 'pg';
import { MigrationFiles } from '../db/migrationSource';
import type { KapmanCommand } from './command';
import { waitForServer, withTransaction } from './lib/server/connection';
import { count, log, step } from './lib/cli/log';
import { applyMigrations, loadKnex, printingReporter, withMigrationTransaction } from './lib/migrations/migrate';
import { backupDatabase, defaultBackupFile, restoreCommand } from './lib/backup/backup';
import { resetInPlace } from './lib/replace/inPlace';
import { replaceDatabase } from './lib/replace/replace';
import { refuseProduction, Settings } from './lib/server/settings';
import { UsageError } from './lib/cli/errors';
import { contractMismatch, reportVerification, verifyOn, VerifyReport } from './lib/schema/verify';

export interface ResetOptions {
  /** Allow a reset in the production environment. */
  force?: boolean;
  /** Print the plan and change nothing. */
  dryRun?: boolean;
  /** Wait up to this many milliseconds for the server to accept connections. */
  waitMs?: number;
  /** Print each migration file as it runs. */
  verbose?: boolean;
  /** In production, skip the backup taken before anything is dropped (--no-backup). */
  noBackup?: boolean;
  /** Empty and rebuild the database where it stands, in one transaction (no CREATEDB needed). */
  inPlace?: boolean;
  /** Another migrations folder (tests use temporary ones). */
  migrationsDirectory?: string;
}

export interface ResetResult {
  owner: string;
  applied: string[];
  /** A dry run: nothing was changed; these would be applied. */
  dryRun?: { wouldApply: string[] };
  verification?: VerifyReport;
  /** The production backup written before the reset. */
  backup?: string;
}

export async function reset(settings: Settings, o: ResetOptions = {}): Promise<ResetResult> {
  refuseProduction(settings, o.force, `reset database "${settings.database}"`, 'this deletes every row in it');
  if (o.waitMs) await waitForServer(settings, o.waitMs);
  const directory = o.migrationsDirectory;
  const source = new MigrationFiles(directory);
  const files = await source.getMigrations();
  // A migration that runs outside a transaction (config.transaction = false) cannot join the build's one.
  const outside = files.filter((f) => !source.runsInTransaction(f));
  const dryRun = o.dryRun ? { dryRun: { wouldApply: files } } : {};
  let applied: string[] = [];
  let verification: VerifyReport | undefined;
  const reporter = o.verbose ? printingReporter : undefined;
  let backup: string | undefined;
  // Production's data is kept before the reset drops it: nothing is dropped unless the backup is written.
  const backsUp = settings.env === 'production' && !o.noBackup;
  const backUp = async (exists: boolean) => {
    if (!exists) return log(`${settings.database} does not exist yet: nothing to back up`);
    backup = (await backupDatabase(settings)).file;
    log(`backup of ${settings.database} written before the reset: ${backup}; to restore it: ${restoreCommand(backup, settings.env)}`);
  };
  const plan = [...(backsUp ? [`first back up ${settings.database} to ${defaultBackupFile(settings.database)} (--no-backup skips it)`] : []),
    `apply ${count(files.length, 'migration')} as the owner:`, ...files.map((f) => `  ${f}`), 'verify it is the contract'];
  // Either way, in one transaction: the migrations, then the check on their own session before
  // they commit. A difference rolls everything back (beside, the build is then removed too).
  // Reported under the target's name: beside, the build becomes it.
  const migrateAndVerify = async (trx: Knex.Transaction, session: Client, uncommitted: string) => {
    applied = await step((done: string[]) => `${count(done.length, 'migration')} applied${uncommitted}`,
      async () => (await trx.migrate.latest())[1] as string[]);
    // Nothing else is left to hold rows (a new database, or every schema dropped in place): what
    // the tables hold, the migrations inserted (seed and reference data).
    verification = await step(`compared with the contract${uncommitted}`, () => verifyOn(session, settings.database, { migrationsDirectory: directory }));
    reportVerification(verification, contractMismatch(settings.database));
  };
  if (o.inPlace) {
    if (outside.length) {
      throw new UsageError(`an in-place reset is one transaction, and ${outside.join(', ')} ${outside.length > 1 ? 'run' : 'runs'} outside a transaction (config.transaction is false); nothing was changed`,
        'reset beside instead (leave out --in-place; it needs a role that may create databases), or reset in place from a checkout before that migration and then run npm run db:migrate');
    }
    if (backsUp && !o.dryRun) await backUp(true); // in place, the database exists by definition
    const { owner } = await resetInPlace(settings, {
      dryRun: o.dryRun,
      reporter,
      directory,
      plan,
      build: (trx, client) => migrateAndVerify(trx, client, ' (not committed yet)'),
    });
    return { owner, applied, verification, backup, ...dryRun };
  }
  const { owner } = await replaceDatabase(settings, {
    dryRun: o.dryRun,
    beforeBuild: backsUp ? backUp : undefined,
    whileCreating: loadKnex,
    plan,
    // Beside, the build is thrown away if anything fails: one that runs outside a transaction is built as db:migrate runs it, then verified.
    build: async (beside) => {
      if (outside.length === 0) return withMigrationTransaction(beside, { reporter, directory }, (trx, session) => migrateAndVerify(trx, session, ''));
      applied = await step((done: string[]) => `${count(done.length, 'migration')} applied`, () => applyMigrations(beside, { reporter, directory }));
      verification = await step('compared with the contract', () => withTransaction(beside, (c) => verifyOn(c, settings.database, { migrationsDirectory: directory })));
      reportVerification(verification, contractMismatch(settings.database));
    },
  });
  return { owner, applied, verification, backup, ...dryRun };
}

export const command: KapmanCommand<{ force: boolean; 'dry-run': boolean; 'in-place': boolean; backup: boolean }, ResetResult> = {
  database: true,
  options: (y) => y
    .option('force', { type: 'boolean', default: false, describe: 'allow a reset in the production environment (deletes all its data)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done and change nothing' })
    .option('in-place', { type: 'boolean', default: false, describe: 'keep the database: drop everything in public and knex\'s schema, migrate and verify in one transaction (for a role that may not create databases, e.g. on Timescale Cloud)' })
    .option('backup', { type: 'boolean', default: true, describe: 'in production, back up the target before anything is dropped (--no-backup: do not)' }),
  run: async (args, settings) => {
    log(`resetting ${settings.displayUrl} (environment ${settings.env})`);
    return reset(settings, { force: args.force, dryRun: args['dry-run'], inPlace: args['in-place'], verbose: true, noBackup: !args.backup });
  },
  outcome: (r, settings) => (r.dryRun
    ? `dry run, nothing changed: a reset of ${settings.database} would apply ${count(r.dryRun.wouldApply.length, 'migration')}`
    : `${settings.database} reset: ${count(r.applied.length, 'migration')} applied; it matches the contract${
      r.backup ? `; backup written before the reset: ${r.backup}; to restore it: ${restoreCommand(r.backup, settings.env)}` : ''}`),
};
