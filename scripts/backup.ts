// `npm run db:backup`: pg_dump's custom format of the target, with its metadata beside it
// (scripts/lib/backup): server and TimescaleDB versions, migrations applied, rows per table.
// A pure read of the database: nothing in it is changed.
import type { CommandModule } from 'yargs';
import { backupDatabase, BackupOptions, BackupResult, restoreCommand } from './lib/backup/backup';
import { runCli, settingsFromArgs, withEnvironment } from './lib/cli/cli';
import { log } from './lib/cli/log';
import { Settings } from './lib/server/settings';

export async function backup(settings: Settings, o: BackupOptions = {}): Promise<BackupResult> {
  return backupDatabase(settings, o);
}

export const command: CommandModule<object, { env: string; out?: string }> = {
  command: 'db:backup',
  describe: 'Write a backup of the target database (pg_dump custom format, metadata in FILE.json beside it)',
  builder: (y) => withEnvironment(y)
    .option('out', { type: 'string', describe: 'the archive to write (default backups/<database>-<UTC timestamp>.dump)' }),
  handler: async (args) => {
    const settings = settingsFromArgs(args);
    log(`backing up ${settings.displayUrl} (environment ${settings.env})`);
    const { file } = await backup(settings, { out: args.out });
    log(`to restore it: ${restoreCommand(file, settings.env)}`);
  },
};

if (require.main === module) runCli(command, 'npm run db:backup --');
