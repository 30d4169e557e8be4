// The guards of a migration run, whichever CLI runs it: `kapman-db migrate` and `rollback` (the
// commands) and `npx knex migrate:*` (knexfile.ts) call these same functions, so that neither
// path goes around them:
//   - production refuses a rollback unless forced (`--force`; the knex CLI: KAPMAN_FORCE=1);
//   - production shows its migrations' plan and lints it before anything changes;
//   - a rollback that would revert a baseline standing for several batches is refused;
//   - a rollback of every batch holds the reset lock, as a reset and a restore do (the lock is
//     the replace layer's, acquireReplaceLock in scripts/lib/replace/replace.ts, which both call).
import { refuseProduction, Settings } from '../server/settings';
import { lintOutcome, lintRehearsal, printLintReport } from './lint';
import { printRehearsal, rehearse, RehearseOptions } from './rehearse';

/** A rollback in production drops tables with their rows: it needs a force. */
export function refuseProductionRollback(settings: Settings, force: boolean | undefined): void {
  refuseProduction(settings, force, 'roll back migrations', 'rolling back drops tables and their data');
}

/**
 * In production, the pending migrations (or `only` these) are rehearsed, printed and linted
 * before anything changes: a finding, or a rehearsal that fails, stops the run there.
 * Elsewhere, nothing.
 */
export async function lintBeforeProductionMigrate(settings: Settings, o: RehearseOptions = {}): Promise<void> {
  if (settings.env !== 'production') return;
  const rehearsal = await rehearse(settings, { ...o, eachSchema: true });
  printRehearsal(rehearsal);
  // Nothing pending may still leave a squash to carry the database past: that is not linted, only checked.
  if (rehearsal.migrations.length === 0 && !rehearsal.failure) return;
  const report = lintRehearsal(rehearsal, { directory: o.directory });
  printLintReport(report);
  lintOutcome(report, rehearsal.failure?.error);
}

// A rollback's refusal of a baseline carried past several batches: where rollback() runs (migrate.ts).
export { refuseRevertingSquashedBatches } from './migrate';
