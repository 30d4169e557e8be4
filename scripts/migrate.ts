// `npm run db:migrate`: apply every pending migration to the target database, in one batch.
import type { KapmanCommand } from './lib/cli/cli';
import { migrate } from './lib/migrations/migrate';

export const command: KapmanCommand = {
  database: true,
  run: async (args, settings) => ({ database: settings.database, applied: await migrate(settings) }),
};
