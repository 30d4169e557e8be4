// `npm run db:migrate`: apply every pending migration to the target database, in one batch;
// `--dry-run` prints the statements they will run instead, changing nothing.
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { migrate, Migrated, MigrationPlan, planMigrations } from './lib/migrations/deploy';

type Applied = Migrated & { database: string };

export const command: KapmanCommand<{ 'dry-run': boolean }, Applied | MigrationPlan> = {
  database: true,
  options: (y) => y
    .option('dry-run', { type: 'boolean', default: false, describe: 'rehearse the pending migrations where nothing is lost and print the SQL each will run; change nothing' }),
  run: async (args, settings) => (args['dry-run'] ? planMigrations(settings) : { database: settings.database, ...(await migrate(settings, { pgBin: process.env.PG_BIN })) }),
  outcome: (r) => ('dryRun' in r ? `${count(r.migrations.length, 'pending migration')} rehearsed on ${r.database}; nothing changed`
    : `${r.carried.map((c) => `${r.database} carried past the squash into ${c.baseline}; `).join('')}${r.applied.length ? `${count(r.applied.length, 'migration')} applied to ${r.database}` : `${r.database} is up to date`}`),
};
