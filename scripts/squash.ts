// `npm run db:squash`: fold the migrations (or those up to --through NNNN) into one baseline
// migration, proven to build the identical database first; databases migrated before it are
// carried past it by db:migrate. `--finish` completes a squash killed while it moved the files.
import type { KapmanCommand } from './command';
import { count } from './lib/cli/log';
import { squash, SquashResult } from './lib/migrations/squash';
import { FinishedSquash, finishSquash } from './lib/migrations/squashJournal';

export const command: KapmanCommand<{ through?: string; 'allow-dirty': boolean; finish: boolean }, SquashResult | FinishedSquash> = {
  database: true,
  options: (y) => y
    .option('through', { type: 'string', describe: 'the number of the last migration to fold in, e.g. 0008 (default: every one)' })
    .option('allow-dirty', { type: 'boolean', default: false, describe: 'squash though db/ has uncommitted changes or is not in a git work tree' })
    .option('finish', { type: 'boolean', default: false, describe: 'finish a squash that was stopped while it moved the files (every command says when one was)' }),
  run: (args, settings) => (args.finish ? finishSquash() : squash(settings, {
    through: args.through,
    allowDirty: args['allow-dirty'],
    // PG_BIN: where the proof's throwaway server comes from when the target's role may not create databases.
    pgBin: process.env.PG_BIN,
    // A test hook, nothing more: the kill tests (tests/e2e/squashKill.test.ts) stop the squash before one step of putting it in place.
    pauseBeforeStep: process.env.KAPMAN_SQUASH_PAUSE_BEFORE_STEP ? Number(process.env.KAPMAN_SQUASH_PAUSE_BEFORE_STEP) : undefined,
  })),
  outcome: (r) => ('proof' in r ? `${count(r.squashed.length, 'migration')} squashed into ${r.baseline}, proven identical in ${(r.proofMs / 1000).toFixed(1)} s`
    : `the squash into ${r.baseline} finished: ${count(r.squashed.length, 'migration')} in db/squashed/`),
};
