// `npm run db:migrate`: apply every pending migration to the target database, in one batch (a
// migration that cannot run in a transaction alone, outside one); `--dry-run` prints the
// statements they will run instead, changing nothing.
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { migrate, Migrated, MigrationPlan, planMigrations } from './lib/migrations/deploy';

type Applied = Migrated & { database: string };

export const command: KapmanCommand<{ 'dry-run': boolean; 'rehearse-on-target': boolean }, Applied | MigrationPlan> = {
  database: true,
  options: (y) => y
    .option('dry-run', { type: 'boolean', default: false, describe: 'rehearse the pending migrations where nothing is lost and print the SQL each will run; change nothing' })
    .option('rehearse-on-target', { type: 'boolean', default: false, describe: 'where no scratch database can be had, rehearse (--dry-run, production\'s lint) on the target itself in a transaction rolled back (it takes the migrations\' locks there and uses up sequence values)' }),
  run: async (args, settings) => {
    const o = { pgBin: process.env.PG_BIN, rehearseOnTarget: args['rehearse-on-target'] };
    return args['dry-run'] ? planMigrations(settings, o) : { database: settings.database, ...(await migrate(settings, o)) };
  },
  outcome: (r) => ('dryRun' in r ? `${count(r.migrations.length, 'pending migration')} rehearsed on ${r.database}; nothing changed`
    : `${r.carried.map((c) => `${r.database} carried past the squash into ${c.baseline}; `).join('')}${r.applied.length ? `${count(r.applied.length, 'migration')} applied to ${r.database}` : `${r.database} is up to date`}`),
};
