// db:migrate's work. It applies what is pending; with --dry-run it rehearses it and prints the
// statements instead; in production it does both: the plan is shown and linted before anything
// changes, and a finding stops it there.
import { count, log, plain, step } from '../cli/log';
import { waitForServer } from '../server/connection';
import { Settings } from '../server/settings';
import { lintOutcome, lintRehearsal, printLintReport } from './lint';
import { Carried, carryForward } from './carryForward';
import { applyMigrations, oneAtATime, printingReporter } from './migrate';
import { Rehearsal, RehearsedMigration, rehearse } from './rehearse';

export interface MigrateCommandOptions {
  /** Wait this long for the server first (--wait). */
  waitMs?: number;
  /** Another migrations folder (tests use temporary ones). */
  migrationsDirectory?: string;
  /** The local PostgreSQL binaries, for a carry-forward's throwaway server where the role may not create databases. */
  pgBin?: string;
}

export interface MigrationPlan {
  database: string;
  dryRun: true;
  where: Rehearsal['where'];
  /** Each pending migration with the statements it will run, in order. */
  migrations: RehearsedMigration[];
}

/** Prints each rehearsed migration and its statements, as they will run. */
export function printRehearsal(r: Rehearsal): void {
  if (r.migrations.length === 0 && !r.failure) {
    log(`no migration pending on ${r.database}`);
    return;
  }
  log(`${count(r.migrations.length, 'pending migration')} of ${r.database}, rehearsed on a ${r.where}:`);
  for (const m of r.migrations) {
    log(`${m.file} (${count(m.statements.length, 'statement')}):`);
    if (m.statements.length) plain(m.statements.map((s) => `${s.trim().replace(/;$/, '')};`).join('\n'));
  }
  if (r.failure) log(`${r.failure.file} fails at its last statement above: ${r.failure.error.message}`);
}

/** `db:migrate --dry-run`: the pending migrations' statements, rehearsed where nothing is lost; the target is not changed. */
export async function planMigrations(settings: Settings, o: MigrateCommandOptions = {}): Promise<MigrationPlan> {
  if (o.waitMs) await waitForServer(settings, o.waitMs);
  const rehearsal = await rehearse(settings, { directory: o.migrationsDirectory });
  printRehearsal(rehearsal);
  const plan: MigrationPlan = { database: settings.database, dryRun: true, where: rehearsal.where, migrations: rehearsal.migrations };
  if (rehearsal.failure) {
    rehearsal.failure.error.result = plan;
    throw rehearsal.failure.error;
  }
  return plan;
}

export interface Migrated {
  /** The migration files applied. */
  applied: string[];
  /** The baselines the database was carried past first (a squash), each with the migrations it replaced. */
  carried: Carried[];
}

/** db:migrate's work: wait for the server when asked, carry the database past a squash, apply what is pending (in production, shown and linted first), say what was done. */
export async function migrate(settings: Settings, o: MigrateCommandOptions = {}): Promise<Migrated> {
  if (o.waitMs) await waitForServer(settings, o.waitMs);
  if (settings.env === 'production') {
    const rehearsal = await rehearse(settings, { directory: o.migrationsDirectory });
    printRehearsal(rehearsal);
    // Nothing pending may still leave a squash to carry the database past: that is not linted, only checked.
    if (rehearsal.migrations.length > 0 || rehearsal.failure) {
      const report = lintRehearsal(rehearsal, { directory: o.migrationsDirectory });
      printLintReport(report);
      lintOutcome(report, rehearsal.failure?.error);
    }
  }
  let carried: Carried[] = [];
  const applied = await step((files: string[]) => `${count(files.length, 'migration')} applied to ${settings.database}`,
    () => oneAtATime(settings, async (watcher) => {
      carried = await carryForward(settings, { directory: o.migrationsDirectory, pgBin: o.pgBin });
      return applyMigrations(settings, { reporter: printingReporter, directory: o.migrationsDirectory, watcher });
    }));
  if (applied.length === 0) log('already up to date');
  return { applied, carried };
}
