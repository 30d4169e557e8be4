// `npm run db:restore -- FILE`: replace the target database with a backup. The same pipeline
// as db:reset (scripts/lib/replace), with pg_restore as the build: the backup is restored
// beside the target under TimescaleDB's procedure (the extension at the backup's version,
// timescaledb_pre_restore(), pg_restore, timescaledb_post_restore()), verified against the
// contract and the backup's row counts, and only then swapped in. A backup that fails to
// restore leaves the target exactly as it was.
import type { KapmanCommand } from './lib/cli/cli';
import { restore } from './lib/backup/restore';
import { log } from './lib/cli/log';

export const command: KapmanCommand<{ file: string; force: boolean; 'dry-run': boolean; acl: boolean }> = {
  database: true,
  options: (y) => y
    .positional('file', { type: 'string', demandOption: true, describe: 'the backup archive (its metadata, FILE.json, beside it)' })
    .option('force', { type: 'boolean', default: false, describe: 'allow a restore in the production environment (replaces all its data)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done and change nothing' })
    .option('acl', { type: 'boolean', default: true, describe: "restore the archive's grants (--no-acl: do not; everything then belongs to the target's owner, with no grants)" }),
  run: async (args, settings) => {
    log(`restoring ${args.file} into ${settings.displayUrl} (environment ${settings.env})`);
    return restore(settings, args.file, { force: args.force, dryRun: args['dry-run'], noAcl: !args.acl });
  },
};
