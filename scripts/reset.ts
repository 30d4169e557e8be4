// `npm run db:reset`: drop the target database, recreate it with the same owner, apply
// every migration, and verify the result is the empty baseline. It touches that one
// database only: never roles, passwords, other databases or server settings.
import type { CommandModule } from 'yargs';
import { createDatabase, currentUser, databaseInfo, dropDatabase, ServerFacts, serverFacts, SYSTEM_DATABASES } from './lib/admin';
import { runCli, settingsFromArgs, withEnvironment } from './lib/cli';
import { waitForServer, withMaintenanceClient } from './lib/connection';
import {
  INSTALL_HINT, KapmanError, PermissionDeniedError, RefusedTargetError, TimescaleMissingError,
} from './lib/errors';
import { log, step } from './lib/log';
import { MigrationFiles } from '../db/migrationSource';
import { migrateLatest, printingReporter } from './lib/migrate';
import { refuseProduction, Settings } from './lib/settings';
import { reportVerification, verify, VerifyReport } from './verify';

export interface ResetOptions {
  /** Allow a reset in the production environment. */
  force?: boolean;
  /** Print the plan and change nothing. */
  dryRun?: boolean;
  /** Wait up to this many milliseconds for the server to accept connections. */
  waitMs?: number;
  /** Print each migration file as it runs. */
  verbose?: boolean;
}

export interface ResetResult {
  owner: string;
  applied: string[];
  verification?: VerifyReport;
}

export function assertResettable(settings: Settings, o: ResetOptions): void {
  if (SYSTEM_DATABASES.includes(settings.database)) {
    throw new RefusedTargetError(`refusing to reset the system database "${settings.database}"`,
      'point DATABASE_URL (or --env) at a KapMan database, e.g. kapman_dev');
  }
  refuseProduction(settings, o.force, `reset database "${settings.database}"`, 'this deletes every row in it');
}

/** Why a reset would fail half-way, found before anything is dropped (as Flyway validates first). */
export function preflightProblem(facts: ServerFacts, target: string, owner: string, exists: boolean): KapmanError | undefined {
  if (!facts.timescaleAvailable) {
    return new TimescaleMissingError('TimescaleDB is not installed on the server', INSTALL_HINT);
  }
  if (facts.timescalePreloaded === false) {
    return new TimescaleMissingError("TimescaleDB is installed but not preloaded: shared_preload_libraries does not name 'timescaledb'",
      "add shared_preload_libraries = 'timescaledb' to postgresql.conf and restart the server (scripts/install-timescaledb.sh installs it; npm run db:up configures it)");
  }
  if (!facts.canCreateDatabase) {
    return new PermissionDeniedError(`the connecting role may not create databases, so "${target}" could not be recreated`,
      'connect as a role with CREATEDB (ALTER ROLE … CREATEDB) or a superuser; nothing was dropped');
  }
  if (!facts.canActAsOwner) {
    return new PermissionDeniedError(`the connecting role may not act as "${owner}", the ${exists ? 'owner' : 'intended owner'} of "${target}"`,
      `connect as ${owner}, a member of it, or a superuser; nothing was dropped`);
  }
  return undefined;
}

export async function reset(settings: Settings, o: ResetOptions = {}): Promise<ResetResult> {
  assertResettable(settings, o);
  if (o.waitMs) await waitForServer(settings.url, o.waitMs);
  const target = settings.database;

  const owner = await withMaintenanceClient(settings.url, async (c) => {
    const info = await databaseInfo(c, target);
    if (info?.isTemplate) {
      throw new RefusedTargetError(`refusing to reset "${target}": it is a template database`, 'point DATABASE_URL at a KapMan database');
    }
    const ownerName = info?.owner ?? (await currentUser(c));
    const problem = preflightProblem(await serverFacts(c, ownerName), target, ownerName, Boolean(info));
    if (problem) throw problem;
    if (o.dryRun) {
      const files = await new MigrationFiles().getMigrations();
      log(`plan (dry run, nothing changed): server ${settings.displayUrl}`);
      log(`database ${target} ${info ? `exists, owner ${ownerName}` : `does not exist; would be created, owner ${ownerName}`}`);
      log(`would drop ${target} (ending its sessions), recreate it owned by ${ownerName}, apply ${files.length} migrations:`);
      for (const f of files) log(`  ${f}`);
      return ownerName;
    }
    if (info) await step(`database ${target} dropped`, () => dropDatabase(c, target));
    await step(`database ${target} created, owner ${ownerName}`, () => createDatabase(c, target, ownerName));
    return ownerName;
  });
  if (o.dryRun) return { owner, applied: [] };

  const applied = await step((files: string[]) => `${files.length} migrations applied`,
    () => migrateLatest(settings, { reporter: o.verbose ? printingReporter : undefined }));
  const verification = await step('verified', () => verify(settings, { empty: true }));
  reportVerification(verification);
  return { owner, applied, verification };
}

export const command: CommandModule<object, { env: string; force?: boolean; 'dry-run'?: boolean; wait?: boolean; 'wait-timeout': number; quiet?: boolean }> = {
  command: 'db:reset',
  describe: 'DELETES EVERYTHING in the target database: drops it, recreates it with the same owner, applies every migration, verifies',
  builder: (y) => withEnvironment(y)
    .option('force', { type: 'boolean', default: false, describe: 'allow a reset in the production environment (deletes all its data)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done and change nothing' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait for the server to accept connections first' })
    .option('wait-timeout', { type: 'number', default: 30, describe: 'seconds --wait waits at most' })
    .option('quiet', { type: 'boolean', default: false, describe: 'do not list each migration file' }),
  handler: async (args) => {
    const settings = settingsFromArgs(args);
    log(`resetting ${settings.displayUrl} (environment ${settings.env})`);
    await reset(settings, {
      force: args.force, dryRun: args['dry-run'], waitMs: args.wait ? args['wait-timeout'] * 1000 : undefined, verbose: !args.quiet,
    });
  },
};

if (require.main === module) runCli(command, 'npm run db:reset --');
