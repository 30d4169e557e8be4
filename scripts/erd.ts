// `npm run db:erd`: draw the migrations' schema as a Mermaid ER diagram in docs/schema.md,
// where GitHub renders it (the README links it rather than carrying a copy).
import path from 'path';
import type { KapmanCommand } from './command';
import { PROJECT_ROOT } from './lib/paths';
import { syncGenerated } from './lib/schema/generated';
import { LiveSchema, readSchema } from './lib/schema/introspect';
import { renderSchemaDoc } from './lib/schema/render';
import { withMigratedScratch } from './lib/migrations/scratch';
import { Settings } from './lib/server/settings';

export const SCHEMA_DOC = path.join(PROJECT_ROOT, 'docs', 'schema.md');

/** The files db:erd writes, path -> text. */
export async function erdFiles(settings: Settings): Promise<Record<string, string>> {
  return erdFilesOf(await withMigratedScratch(settings, readSchema));
}

/** The same, for the schema of a database the migrations built. */
export function erdFilesOf(live: LiveSchema): Record<string, string> {
  return { [SCHEMA_DOC]: renderSchemaDoc(live) };
}

export async function erd(settings: Settings, o: { check?: boolean } = {}): Promise<string[]> {
  return syncGenerated(await erdFiles(settings), { check: o.check, command: 'npm run db:erd' });
}

export const command: KapmanCommand<{ check: boolean }, { stale: string[] }> = {
  database: true,
  options: (y) => y
    .option('check', { type: 'boolean', default: false, describe: 'only compare with the committed files; print a diff and fail (exit 28) when one differs' }),
  run: async (args, settings) => ({ stale: await erd(settings, { check: args.check }) }),
  outcome: (r) => (r.stale.length ? `written: ${r.stale.join(', ')}` : 'docs/schema.md is current'),
};
