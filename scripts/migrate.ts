// `npm run db:migrate`: apply every pending migration to the target database, in one batch;
// `--dry-run` prints the statements they will run instead, changing nothing.
import type { KapmanCommand } from './lib/cli/cli';
import { migrate, planMigrations } from './lib/migrations/deploy';

export const command: KapmanCommand<{ 'dry-run': boolean }> = {
  database: true,
  options: (y) => y
    .option('dry-run', { type: 'boolean', default: false, describe: 'rehearse the pending migrations where nothing is lost and print the SQL each will run; change nothing' }),
  run: async (args, settings) => (args['dry-run'] ? planMigrations(settings) : { database: settings.database, applied: await migrate(settings) }),
};
