// `npm run db:erd`: draw the migrations' schema as a Mermaid ER diagram in docs/schema.md
// and in the README, where GitHub renders it.
import fs from 'fs';
import path from 'path';
import type { KapmanCommand } from './command';
import { PROJECT_ROOT } from './lib/paths';
import { StaleFileError } from './lib/cli/errors';
import { syncGenerated } from './lib/schema/generated';
import { LiveSchema, readSchema } from './lib/schema/introspect';
import { renderErd, renderSchemaDoc } from './lib/schema/render';
import { withMigratedScratch } from './lib/migrations/scratch';
import { Settings } from './lib/server/settings';

export const SCHEMA_DOC = path.join(PROJECT_ROOT, 'docs', 'schema.md');
export const README = path.join(PROJECT_ROOT, 'README.md');
const START = '<!-- schema-diagram:start (npm run db:erd) -->';
const END = '<!-- schema-diagram:end -->';

/** The README with its diagram block replaced. */
export function readmeWithDiagram(readme: string, erd: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new StaleFileError('README.md has no schema diagram markers', `put ${START} and ${END} where the diagram goes`);
  return `${readme.slice(0, start + START.length)}\n\`\`\`mermaid\n${erd}\n\`\`\`\n${readme.slice(end)}`;
}

/** The files db:erd writes, path -> text. */
export async function erdFiles(settings: Settings): Promise<Record<string, string>> {
  return erdFilesOf(await withMigratedScratch(settings, readSchema));
}

/** The same, for the schema of a database the migrations built. */
export function erdFilesOf(live: LiveSchema): Record<string, string> {
  return { [SCHEMA_DOC]: renderSchemaDoc(live), [README]: readmeWithDiagram(fs.readFileSync(README, 'utf8'), renderErd(live)) };
}

export async function erd(settings: Settings, o: { check?: boolean } = {}): Promise<string[]> {
  return syncGenerated(await erdFiles(settings), { check: o.check, command: 'npm run db:erd' });
}

export const command: KapmanCommand<{ check: boolean }, { stale: string[] }> = {
  database: true,
  options: (y) => y
    .option('check', { type: 'boolean', default: false, describe: 'only compare with the committed files; print a diff and fail (exit 28) when one differs' }),
  run: async (args, settings) => ({ stale: await erd(settings, { check: args.check }) }),
  outcome: (r) => (r.stale.length ? `written: ${r.stale.join(', ')}` : 'the diagram in docs/schema.md and README.md is current'),
};
