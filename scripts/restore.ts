// `npm run db:restore -- FILE`: replace the target database with a backup. The same pipeline
// as db:reset (scripts/lib/replace), with pg_restore as the build: the backup is restored
// beside the target under TimescaleDB's procedure (the extension at the backup's version,
// timescaledb_pre_restore(), pg_restore, timescaledb_post_restore()), verified against the
// contract and the backup's row counts, and only then swapped in. A backup that fails to
// restore leaves the target exactly as it was.
import fs from 'fs';
import type { KapmanCommand } from './command';
import { restore, RestoreResult } from './lib/backup/restore';
import { log } from './lib/cli/log';

/** The archive that `given` names: FILE.json, the metadata beside it, names FILE too. */
export function backupArchive(given: string): string {
  return given.endsWith('.json') && !fs.existsSync(`${given}.json`) ? given.slice(0, -'.json'.length) : given;
}

export const command: KapmanCommand<{ file: string; force: boolean; 'dry-run': boolean; acl: boolean }, RestoreResult & { dryRun?: true }> = {
  database: true,
  options: (y) => y
    .positional('file', { type: 'string', demandOption: true, describe: 'the backup archive (its metadata, FILE.json, beside it)' })
    .option('force', { type: 'boolean', default: false, describe: 'allow a restore in the production environment (replaces all its data)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done and change nothing' })
    .option('acl', { type: 'boolean', default: true, describe: "restore the archive's grants (--no-acl: do not; everything then belongs to the target's owner, with no grants)" }),
  run: async (args, settings) => {
    const file = backupArchive(args.file);
    log(`restoring ${file}${file === args.file ? '' : ` (${args.file} is its metadata)`} into ${settings.displayUrl} (environment ${settings.env})`);
    const result = await restore(settings, file, { force: args.force, dryRun: args['dry-run'], noAcl: !args.acl });
    return args['dry-run'] ? { ...result, dryRun: true } : result;
  },
  outcome: (r, settings) => (r.dryRun ? `dry run, nothing changed: ${settings.database} would be replaced by the backup` : `${settings.database} replaced by the backup, verified`),
};
