// `npm run db:squash`: fold the migrations (or those up to --through NNNN) into one baseline
// migration, proven to build the identical database first; databases migrated before it are
// carried past it by db:migrate.
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { squash, SquashResult } from './lib/migrations/squash';

export const command: KapmanCommand<{ through?: string; 'allow-dirty': boolean }, SquashResult> = {
  database: true,
  options: (y) => y
    .option('through', { type: 'string', describe: 'the number of the last migration to fold in, e.g. 0008 (default: every one)' })
    .option('allow-dirty', { type: 'boolean', default: false, describe: 'squash though db/ has uncommitted changes or is not in a git work tree' }),
  // PG_BIN: where the proof's throwaway server comes from when the target's role may not create databases.
  run: (args, settings) => squash(settings, { through: args.through, allowDirty: args['allow-dirty'], pgBin: process.env.PG_BIN }),
  outcome: (r) => `${count(r.squashed.length, 'migration')} squashed into ${r.baseline}, proven identical in ${(r.proofMs / 1000).toFixed(1)} s`,
};
