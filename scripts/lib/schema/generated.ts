// Files the project generates and commits (db/schema.sql, docs/schema.md, the README's
// diagram): written when stale, or with `check` only compared.
import fs from 'fs';
import path from 'path';
import { PROJECT_ROOT } from '../server/devServer';
import { SchemaDriftError } from '../cli/errors';
import { log } from '../cli/log';

/** Brings each file (path -> text) up to date, or checks it is; returns the stale ones. */
export function syncGenerated(files: Record<string, string>, o: { check?: boolean; command: string }): string[] {
  const stale: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const name = path.relative(PROJECT_ROOT, file);
    const current = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
    if (!current) stale.push(name);
    if (!current && !o.check) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
    log(`${name} ${current ? 'is current' : o.check ? 'is out of date' : 'written'}`);
  }
  if (o.check && stale.length) throw new SchemaDriftError(`${stale.join(' and ')} out of date`, `run \`${o.command}\` and commit the result`);
  return stale;
}
