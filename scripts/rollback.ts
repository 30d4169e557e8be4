// `npm run db:rollback`: revert the last batch of migrations (every batch with --all).
import type { CommandModule } from 'yargs';
import { runCli, settingsFromArgs, withEnvironment, withLockTimeout } from './lib/cli/cli';
import { log, step } from './lib/cli/log';
import { printingReporter, rollback } from './lib/migrations/migrate';
import { refuseProduction, Settings } from './lib/server/settings';

export async function rollBack(settings: Settings, o: { all?: boolean; force?: boolean; migrationsDirectory?: string } = {}): Promise<string[]> {
  refuseProduction(settings, o.force, 'roll back migrations', 'rolling back drops tables and their data');
  const reverted = await step((files: string[]) => `${files.length} migrations reverted in ${settings.database}`,
    () => rollback(settings, Boolean(o.all), { reporter: printingReporter, directory: o.migrationsDirectory }));
  if (reverted.length === 0) log('nothing to roll back');
  return reverted;
}

export const command: CommandModule<object, { env: string; 'lock-timeout': number; all?: boolean; force?: boolean }> = {
  command: 'db:rollback',
  describe: 'Revert the last batch of migrations; DROPS the tables it created, with their data',
  builder: (y) => withLockTimeout(withEnvironment(y))
    .option('all', { type: 'boolean', default: false, describe: 'revert every batch, leaving no KapMan table' })
    .option('force', { type: 'boolean', default: false, describe: 'allow it in the production environment' }),
  handler: async (args) => {
    await rollBack(settingsFromArgs(args), { all: args.all, force: args.force });
  },
};

if (require.main === module) runCli(command, 'npm run db:rollback --');
