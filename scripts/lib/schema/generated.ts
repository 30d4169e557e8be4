// Files the project generates and commits (db/schema.sql, docs/schema.md): written when
// stale, or with `check` only compared.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { PROJECT_ROOT } from '../paths';
import { StaleFileError } from '../cli/errors';
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
    log(`${name} ${current ? 'is current' : o.check ? 'is out of date:' : 'written'}`);
    if (!current && o.check) process.stderr.write(unifiedDiff(file, name, text));
  }
  if (o.check && stale.length) {
    const err = new StaleFileError(`${stale.join(' and ')} out of date`, `run \`${o.command}\` and commit the result`);
    err.result = { stale };
    throw err;
  }
  return stale;
}

/** What would change in `file`, as `diff -u` shows it (diffutils is part of every Debian system). */
function unifiedDiff(file: string, name: string, text: string): string {
  const committed = fs.existsSync(file) ? file : '/dev/null';
  const r = spawnSync('diff', ['-u', '--label', `${name} (committed)`, '--label', `${name} (from the migrations)`, committed, '-'], { input: text, encoding: 'utf8' });
  return r.stdout || `(no diff: ${r.error?.message ?? r.stderr})\n`;
}
