// db:migrate's work. It applies what is pending; with --dry-run it rehearses it and prints the
// statements instead; in production it does both: the plan is shown and linted before anything
// changes, and a finding stops it there.
import { count, log, step } from '../cli/log';
import { waitForServer } from '../server/connection';
import { Settings } from '../server/settings';
import { Carried, carryForward } from './carryForward';
import { lintBeforeProductionMigrate } from './guards';
import { applyMigrations, oneAtATime, printingReporter } from './migrate';
import { printRehearsal, Rehearsal, rehearse } from './rehearse';

export interface MigrateCommandOptions {
  /** Wait this long for the server first (--wait). */
  waitMs?: number;
  /** Another migrations folder (tests use temporary ones). */
  migrationsDirectory?: string;
  /** The local PostgreSQL binaries, for a rehearsal's or carry-forward's throwaway server where the role may not create databases. */
  pgBin?: string;
  /** Rehearse on the target itself, as asked by name (--rehearse-on-target), where no scratch database can be had. */
  rehearseOnTarget?: boolean;
}

export interface MigrationPlan {
  database: string;
  dryRun: true;
  where: Rehearsal['where'];
  /** Each pending migration with the statements it will run, in order, and whether it runs in a transaction. */
  migrations: Array<{ file: string; statements: string[]; inTransaction: boolean }>;
}

/** `db:migrate --dry-run`: the pending migrations' statements, rehearsed where nothing is lost; the target is not changed. */
export async function planMigrations(settings: Settings, o: MigrateCommandOptions = {}): Promise<MigrationPlan> {
  if (o.waitMs) await waitForServer(settings, o.waitMs);
  const rehearsal = await rehearse(settings, { directory: o.migrationsDirectory, pgBin: o.pgBin, onTarget: o.rehearseOnTarget });
  printRehearsal(rehearsal);
  const plan: MigrationPlan = {
    database: settings.database, dryRun: true, where: rehearsal.where,
    migrations: rehearsal.migrations.map((m) => ({ file: m.file, statements: m.statements, inTransaction: m.inTransaction })),
  };
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
  await lintBeforeProductionMigrate(settings, { directory: o.migrationsDirectory, pgBin: o.pgBin, onTarget: o.rehearseOnTarget });
  let carried: Carried[] = [];
  const applied = await step((files: string[]) => `${count(files.length, 'migration')} applied to ${settings.database}`,
    () => oneAtATime(settings, async (watcher) => {
      carried = await carryForward(settings, { directory: o.migrationsDirectory, pgBin: o.pgBin });
      return applyMigrations(settings, { reporter: printingReporter, directory: o.migrationsDirectory, watcher });
    }));
  if (applied.length === 0) log('already up to date');
  return { applied, carried };
}
