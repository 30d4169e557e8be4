// `npm run db:reset`: replace the target database with the empty baseline. The new database
// is built beside the target under a temporary name, migrated and verified; only then is it
// swapped into the target's place (scripts/lib/replace). A failure or a signal before the
// swap leaves the target exactly as it was. It touches that one database only: never roles,
// passwords, other databases or server settings.
import type { CommandModule } from 'yargs';
import { MigrationFiles } from '../db/migrationSource';
import { runCli, settingsFromArgs, withEnvironment, withLockTimeout } from './lib/cli';
import { waitForServer } from './lib/connection';
import { log, step } from './lib/log';
import { applyMigrations, printingReporter } from './lib/migrate';
import { backupDatabase, defaultBackupFile, restoreCommand } from './lib/backup/backup';
import { replaceDatabase } from './lib/replace/replace';
import { refuseProduction, Settings } from './lib/settings';
import { reportVerification, verify, VerifyReport } from './verify';

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
}

export interface ResetResult {
  owner: string;
  applied: string[];
  verification?: VerifyReport;
  /** The production backup written before the reset. */
  backup?: string;
}

export async function reset(settings: Settings, o: ResetOptions = {}): Promise<ResetResult> {
  refuseProduction(settings, o.force, `reset database "${settings.database}"`, 'this deletes every row in it');
  if (o.waitMs) await waitForServer(settings.url, o.waitMs);
  const files = await new MigrationFiles().getMigrations();
  let applied: string[] = [];
  let verification: VerifyReport | undefined;
  let backup: string | undefined;
  // Production's data is kept before the reset drops it: nothing is dropped unless the backup is written.
  const backsUp = settings.env === 'production' && !o.noBackup;
  const { owner } = await replaceDatabase(settings, {
    dryRun: o.dryRun,
    beforeBuild: backsUp ? async (exists) => {
      if (!exists) return log(`${settings.database} does not exist yet: nothing to back up`);
      backup = (await backupDatabase(settings)).file;
      log(`backup of ${settings.database} written before the reset: ${backup}; to restore it: ${restoreCommand(backup, settings.env)}`);
    } : undefined,
    plan: [...(backsUp ? [`first back up ${settings.database} to ${defaultBackupFile(settings.database)} (--no-backup skips it)`] : []),
      `apply ${files.length} migrations as the owner:`, ...files.map((f) => `  ${f}`), 'verify it is the contract, every table empty'],
    build: async (beside) => {
      applied = await step((done: string[]) => `${done.length} migrations applied`,
        () => applyMigrations(beside, { reporter: o.verbose ? printingReporter : undefined }));
      // Reported under the target's name: the build becomes it.
      verification = { ...(await step('verified', () => verify(beside, { empty: true }))), database: settings.database };
      reportVerification(verification);
    },
  });
  return { owner, applied, verification, backup };
}

export const command: CommandModule<object, { env: string; force?: boolean; 'dry-run'?: boolean; wait?: boolean; 'wait-timeout': number; 'lock-timeout': number; quiet?: boolean; backup: boolean }> = {
  command: 'db:reset',
  describe: 'DELETES EVERYTHING in the target database: builds the empty baseline beside it from the migrations, verifies it, then swaps it in',
  builder: (y) => withLockTimeout(withEnvironment(y))
    .option('force', { type: 'boolean', default: false, describe: 'allow a reset in the production environment (deletes all its data)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done and change nothing' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait for the server to accept connections first' })
    .option('wait-timeout', { type: 'number', default: 30, describe: 'seconds --wait waits at most' })
    .option('quiet', { type: 'boolean', default: false, describe: 'do not list each migration file' })
    .option('backup', { type: 'boolean', default: true, describe: 'in production, back up the target before anything is dropped (--no-backup: do not)' }),
  handler: async (args) => {
    const settings = settingsFromArgs(args);
    log(`resetting ${settings.displayUrl} (environment ${settings.env})`);
    await reset(settings, {
      force: args.force, dryRun: args['dry-run'], waitMs: args.wait ? args['wait-timeout'] * 1000 : undefined, verbose: !args.quiet, noBackup: !args.backup,
    });
  },
};

if (require.main === module) runCli(command, 'npm run db:reset --');
