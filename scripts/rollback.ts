// `npm run db:rollback`: revert the last batch of migrations (every batch with --all).
import type { KapmanCommand } from './command';
import { count, log, step } from './lib/cli/log';
import { refuseProductionRollback } from './lib/migrations/guards';
import { acquireReplaceLock } from './lib/replace/replace';
import { printingReporter, rollback } from './lib/migrations/migrate';
import { Settings } from './lib/server/settings';

export async function dbRollback(settings: Settings, o: { all?: boolean; force?: boolean; migrationsDirectory?: string } = {}): Promise<string[]> {
  refuseProductionRollback(settings, o.force);
  // Reverting everything empties the database: it waits for, and holds off, a reset or restore of it.
  const lock = o.all ? await acquireReplaceLock(settings) : undefined;
  try {
    const reverted = await step((files: string[]) => `${count(files.length, 'migration')} reverted in ${settings.database}`,
      () => rollback(settings, Boolean(o.all), { reporter: printingReporter, directory: o.migrationsDirectory }));
    if (reverted.length === 0) log('nothing to roll back');
    return reverted;
  } finally {
    await lock?.release();
  }
}

export const command: KapmanCommand<{ all: boolean; force: boolean }, { database: string; reverted: string[] }> = {
  database: true,
  options: (y) => y
    .option('all', { type: 'boolean', default: false, describe: 'revert every batch, leaving no KapMan table' })
    .option('force', { type: 'boolean', default: false, describe: 'allow it in the production environment' }),
  run: async (args, settings) => ({ database: settings.database, reverted: await dbRollback(settings, { all: args.all, force: args.force }) }),
  outcome: (r) => (r.reverted.length ? `${count(r.reverted.length, 'migration')} reverted in ${r.database}` : `nothing to roll back in ${r.database}`),
};
