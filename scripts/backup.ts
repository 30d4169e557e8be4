// `npm run db:backup`: pg_dump's custom format of the target, with its metadata beside it
// (scripts/lib/backup): server and TimescaleDB versions, migrations applied, rows per table.
// A pure read of the database: nothing in it is changed.
import { backupDatabase, BackupOptions, BackupResult, restoreCommand } from './lib/backup/backup';
import type { KapmanCommand } from './command';
import { log } from './lib/cli/log';
import { Settings } from './lib/server/settings';

export async function backup(settings: Settings, o: BackupOptions = {}): Promise<BackupResult> {
  return backupDatabase(settings, o);
}

export const command: KapmanCommand<{ out?: string; force: boolean }, { file: string; metadata: string; bytes: number; ms: number; rowCounts: Record<string, number> }> = {
  database: true,
  options: (y) => y
    .option('out', { type: 'string', describe: 'the archive to write (default backups/<database>-<UTC timestamp>.dump)' })
    .option('force', { type: 'boolean', default: false, describe: 'replace an existing --out that is not a kapman-db backup' }),
  run: async (args, settings) => {
    log(`backing up ${settings.displayUrl} (environment ${settings.env})`);
    const { file, metadata, bytes, ms } = await backup(settings, { out: args.out, force: args.force });
    log(`to restore it: ${restoreCommand(file, settings.env)}`);
    return { file, metadata: `${file}.json`, bytes, ms: Math.round(ms), rowCounts: metadata.rowCounts };
  },
  outcome: (r) => `backup written: ${r.file} (its metadata: ${r.metadata})`,
};
