// `npm run db:restore -- FILE`: replace the target database with a backup. The same pipeline
// as db:reset (scripts/lib/replace), with pg_restore as the build: the backup is restored
// beside the target under TimescaleDB's procedure (the extension at the backup's version,
// timescaledb_pre_restore(), pg_restore, timescaledb_post_restore()), verified against the
// contract and the backup's row counts, and only then swapped in. A backup that fails to
// restore leaves the target exactly as it was.
import path from 'path';
import { escapeLiteral } from 'pg';
import type { CommandModule } from 'yargs';
import { readBackup } from './lib/backup/metadata';
import { countDifferences, giveToOwner, restoreProblems, runPgRestore } from './lib/backup/restore';
import { runCli, settingsFromArgs, withEnvironment, withLockTimeout } from './lib/cli/cli';
import { withClient, withMaintenanceClient } from './lib/server/connection';
import { RestoreFailedError } from './lib/cli/errors';
import { rowCounts } from './lib/schema/introspect';
import { log, step } from './lib/cli/log';
import { replaceDatabase } from './lib/replace/replace';
import { refuseProduction, Settings } from './lib/server/settings';
import { reportVerification, verify } from './lib/schema/verify';

export interface RestoreOptions {
  /** Allow a restore in the production environment. */
  force?: boolean;
  /** Print the plan and change nothing. */
  dryRun?: boolean;
}

export interface RestoreResult {
  owner: string;
  rowCounts: Record<string, number>;
}

async function liveCounts(settings: Settings): Promise<{ rows: Record<string, number>; chunks: Record<string, number> }> {
  return withClient(settings.url, async (c) => {
    const { rows: tables } = await c.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')");
    const names = tables.map((t) => t.relname as string);
    const { rows } = await c.query(`SELECT hypertable_name AS h, count(*)::int AS n FROM timescaledb_information.chunks
      WHERE hypertable_schema = 'public' GROUP BY 1`).catch(() => ({ rows: [] as Array<{ h: string; n: number }> }));
    return { rows: await rowCounts(c, names, names), chunks: Object.fromEntries(rows.map((r) => [r.h, r.n])) };
  });
}

export async function restore(settings: Settings, file: string, o: RestoreOptions = {}): Promise<RestoreResult> {
  refuseProduction(settings, o.force, `restore into database "${settings.database}"`, 'this replaces every row in it with the backup\'s');
  const archive = path.resolve(file);
  const meta = await readBackup(archive);
  const tool = await withMaintenanceClient(settings.url, (admin) => restoreProblems(admin, archive, meta));
  const total = Object.values(meta.rowCounts).reduce((a, b) => a + b, 0);
  let counts: Record<string, number> = {};
  const { owner } = await replaceDatabase(settings, {
    dryRun: o.dryRun,
    plan: [
      `restore ${archive}: a backup of ${meta.database} taken ${meta.createdAt} (PostgreSQL ${meta.server.version}, TimescaleDB ${meta.timescaledb ?? 'none'}, ${meta.migrations.length} migrations)`,
      meta.timescaledb
        ? `create extension timescaledb ${meta.timescaledb}, timescaledb_pre_restore(), ${tool.file} (${tool.version}), timescaledb_post_restore()`
        : `${tool.file} (${tool.version})`,
      `verify it is the contract and holds the backup's ${total} rows in ${Object.keys(meta.rowCounts).length} tables`,
    ],
    build: async (beside) => {
      if (meta.timescaledb) {
        await step(`timescaledb ${meta.timescaledb} created, ready for the restore`, () => withClient(beside.url, async (c) => {
          await c.query(`CREATE EXTENSION timescaledb VERSION ${escapeLiteral(meta.timescaledb!)}`);
          await c.query('SELECT timescaledb_pre_restore()');
        }));
      }
      await step(`${path.basename(archive)} restored`, () => runPgRestore(tool, beside.url, archive));
      await withClient(beside.url, async (c) => {
        if (meta.timescaledb) await c.query('SELECT timescaledb_post_restore()');
        await giveToOwner(c);
      });
      // Reported under the target's name: the build becomes it.
      reportVerification({ ...(await step('verified', () => verify(beside))), database: settings.database });
      const live = await liveCounts(beside);
      const differences = countDifferences(meta, live.rows, live.chunks);
      if (differences.length) {
        throw new RestoreFailedError(`the restored database does not hold what the backup recorded: ${differences.join('; ')}`,
          'the target is unchanged; the backup may be damaged');
      }
      counts = live.rows;
      log(`row counts match the backup: ${Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(', ')}`);
    },
  });
  return { owner, rowCounts: counts };
}

export const command: CommandModule<object, { file: string; env: string; force?: boolean; 'dry-run'?: boolean; 'lock-timeout': number }> = {
  command: 'db:restore <file>',
  describe: 'REPLACES EVERYTHING in the target database with a backup (npm run db:backup): restored beside it, verified, then swapped in',
  builder: (y) => withLockTimeout(withEnvironment(y))
    .positional('file', { type: 'string', demandOption: true, describe: 'the backup archive (its metadata, FILE.json, beside it)' })
    .option('force', { type: 'boolean', default: false, describe: 'allow a restore in the production environment (replaces all its data)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done and change nothing' }),
  handler: async (args) => {
    const settings = settingsFromArgs(args);
    log(`restoring ${args.file} into ${settings.displayUrl} (environment ${settings.env})`);
    await restore(settings, args.file, { force: args.force, dryRun: args['dry-run'] });
  },
};

if (require.main === module) runCli(command, 'npm run db:restore --');
