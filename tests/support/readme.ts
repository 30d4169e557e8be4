// The README read as the tests check it: its tables, and the command lines in its code blocks
// and in the first column of its tables.
import fs from 'fs';
import path from 'path';
import { ROOT } from './cli';

export const README_TEXT = () => fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Each table's rows (cells of the lines under the header's separator), keyed by its header line. */
export function tables(readme: string): Array<{ header: string[]; rows: string[][] }> {
  const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  const out: Array<{ header: string[]; rows: string[][] }> = [];
  const lines = readme.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('|') || !/^\|\s*-{3}/.test(lines[i + 1])) continue;
    const table = { header: cells(lines[i]), rows: [] as string[][] };
    for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) table.rows.push(cells(lines[i]));
    out.push(table);
  }
  return out;
}

/** The table whose header starts with these cells. */
export function table(readme: string, ...header: string[]): string[][] {
  const found = tables(readme).find((t) => header.every((h, i) => t.header[i] === h));
  if (!found) throw new Error(`README.md has no table headed | ${header.join(' | ')} |`);
  return found.rows;
}

/** The code spans of a cell: `a` / `b` gives [a, b]. */
export const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

const COMMAND = /^(npx|npm|node|bash|apt-get|kapman-db|docker|psql|pg_\w+|git|[A-Z_]+=)\b/;

/**
 * Every command line a reader could copy: each line of a sh code block (comments dropped,
 * `\`-continued lines joined) and each code span in a table's first column that starts
 * like a command.
 */
export function commandLines(readme: string): string[] {
  const lines: string[] = [];
  let block: string | undefined;
  let pending = '';
  for (const raw of readme.split('\n')) {
    if (raw.startsWith('```')) {
      block = block === undefined ? raw.slice(3).trim() : undefined;
      continue;
    }
    if (block !== undefined) {
      if (block !== 'sh') continue;
      const text = raw.trim().startsWith('#') ? '' : raw.replace(/\s+#.*$/, '').trim();
      const joined = pending ? `${pending} ${text}` : text;
      if (joined.endsWith('\\')) pending = joined.slice(0, -1).trim();
      else {
        pending = '';
        if (joined) lines.push(joined);
      }
    }
  }
  for (const t of tables(readme)) {
    for (const row of t.rows) lines.push(...codeSpans(row[0]).filter((c) => COMMAND.test(c)));
  }
  return [...new Set(lines)];
}
