// `npm run db:lint`: rehearse the pending migrations (or the ones named) and lint the SQL they
// send: squawk's Postgres rules and our TimescaleDB rules. Exit 35 when a finding stands.
import path from 'path';
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { lint, LintReport } from './lib/migrations/lint';

export const command: KapmanCommand<{ migrations?: string[] }, LintReport> = {
  database: true,
  options: (y) => y.positional('migrations', { type: 'string', array: true, describe: 'migration files to lint, applied or not (default: the pending ones), e.g. db/migrations/0009_add_watchlists.ts' }),
  run: async (args, settings) => {
    const only = args.migrations?.length ? args.migrations.map((m) => path.basename(m)) : undefined;
    return lint(settings, { only });
  },
  outcome: (r) => `${count(r.migrations.length, 'migration')} of ${r.database} linted: no finding${r.silenced.length ? ` (${count(r.silenced.length, 'finding')} silenced with a reason)` : ''}`,
};
