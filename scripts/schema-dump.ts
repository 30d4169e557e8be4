// `npm run db:schema:dump`: write db/schema.sql, the migrations' schema as SQL, so every
// schema change shows up in review as a diff of that file (dbmate's schema.sql).
import path from 'path';
import type { KapmanCommand } from './command';
import { PROJECT_ROOT } from './lib/paths';
import { syncGenerated } from './lib/schema/generated';
import { schemaSqlOf } from './lib/schema/render';
import { withMigratedScratch } from './lib/migrations/scratch';
import { Settings } from './lib/server/settings';

export const SCHEMA_SQL = path.join(PROJECT_ROOT, 'db', 'schema.sql');

/** db/schema.sql's text for the schema the migrations build (on a scratch database of the target's server). */
export async function schemaSql(settings: Settings): Promise<string> {
  return withMigratedScratch(settings, schemaSqlOf);
}

/** Writes db/schema.sql, or with `check` only compares; returns it when it was stale. */
export async function schemaDump(settings: Settings, o: { check?: boolean } = {}): Promise<string[]> {
  return syncGenerated({ [SCHEMA_SQL]: await schemaSql(settings) }, { check: o.check, command: 'npm run db:schema:dump' });
}

export const command: KapmanCommand<{ check: boolean }, { stale: string[] }> = {
  database: true,
  options: (y) => y
    .option('check', { type: 'boolean', default: false, describe: 'only compare with the committed file; print a diff and fail (exit 28) when it differs' }),
  run: async (args, settings) => ({ stale: await schemaDump(settings, { check: args.check }) }),
  // With --check, a stale file is an error: what gets here is current, or was just written.
  outcome: (r) => (r.stale.length ? `written: ${r.stale.join(', ')}` : 'db/schema.sql is current'),
};
