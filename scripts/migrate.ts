// `npm run db:migrate`: apply every pending migration to the target database, in one batch.
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { migrate } from './lib/migrations/migrate';

export const command: KapmanCommand<object, { database: string; applied: string[] }> = {
  database: true,
  run: async (args, settings) => ({ database: settings.database, applied: await migrate(settings) }),
  outcome: (r) => (r.applied.length ? `${count(r.applied.length, 'migration')} applied to ${r.database}` : `${r.database} is up to date`),
};
