// `npm run db:lint`: rehearse the pending migrations (or the ones named) and lint the SQL they
// send and what they do: squawk's Postgres rules, our TimescaleDB rules and our rules on the
// schema before and after each migration. Exit 35 when a finding stands.
import path from 'path';
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { lint, LintReport } from './lib/migrations/lint';

export const command: KapmanCommand<{ migrations?: string[]; 'rehearse-on-target': boolean }, LintReport> = {
  database: true,
  options: (y) => y
    .positional('migrations', { type: 'string', array: true, describe: 'migration files to lint, applied or not (default: the pending ones), e.g. db/migrations/0009_add_watchlists.ts' })
    .option('rehearse-on-target', { type: 'boolean', default: false, describe: 'where no scratch database can be had, rehearse on the target itself in a transaction rolled back (it takes the migrations\' locks there and uses up sequence values)' }),
  run: async (args, settings) => {
    const only = args.migrations?.length ? args.migrations.map((m) => path.basename(m)) : undefined;
    return lint(settings, { only, pgBin: process.env.PG_BIN, onTarget: args['rehearse-on-target'] });
  },
  outcome: (r) => `${count(r.migrations.length, 'migration')} of ${r.database} linted: no finding${r.silenced.length ? ` (${count(r.silenced.length, 'finding')} silenced with a reason)` : ''}${r.notes.length ? `; ${count(r.notes.length, 'note')}` : ''}`,
};
