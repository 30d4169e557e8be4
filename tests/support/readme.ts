// The README and the docs/ pages read as the tests check them: their tables, their links, and
// the command lines in their code blocks and in the first column of their tables.
import fs from 'fs';
import path from 'path';
import { SCHEMA_DOC } from '../../scripts/erd';
import { ROOT } from './cli';

export const README_TEXT = () => fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

export interface Page {
  /** The path from the project's root: `README.md`, `docs/…`. */
  file: string;
  text: string;
}

/**
 * Pages a program writes (db:erd, bench): their text is checked against the program by their
 * own tests, so the rules for hand-written pages (command lines, line length) leave them out.
 */
export const GENERATED_PAGES = [path.relative(ROOT, SCHEMA_DOC), path.join('docs', 'benchmarks.md')];

/** README.md, then every page of docs/, in name order. */
export function pages(): Page[] {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f));
  return ['README.md', ...docs].map((file) => ({ file, text: fs.readFileSync(path.join(ROOT, file), 'utf8') }));
}

/** The pages people write. */
export const writtenPages = () => pages().filter((p) => !GENERATED_PAGES.includes(p.file));

/** The page that holds `marker`; an error when none or several do. */
export function pageWith(marker: string | RegExp): Page {
  const found = pages().filter((p) => (typeof marker === 'string' ? p.text.includes(marker) : marker.test(p.text)));
  if (found.length !== 1) throw new Error(`${found.length} pages hold ${marker}: ${found.map((p) => p.file).join(', ')}`);
  return found[0];
}

/** The text of a `## heading` section, up to the next `## `. */
export function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section "## ${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start + 1, end < 0 ? undefined : end + 1);
}

/** Each line with whether it is inside a fenced code block (fences included). */
function linesWithCode(text: string): Array<{ line: string; code: boolean }> {
  let code = false;
  return text.split('\n').map((line) => {
    if (line.startsWith('```')) {
      code = !code;
      return { line, code: true };
    }
    return { line, code };
  });
}

/** Each table's rows (cells of the lines under the header's separator), keyed by its header line. */
export function tables(text: string): Array<{ header: string[]; rows: string[][] }> {
  const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  const out: Array<{ header: string[]; rows: string[][] }> = [];
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('|') || !/^\|\s*-{3}/.test(lines[i + 1])) continue;
    const table = { header: cells(lines[i]), rows: [] as string[][] };
    for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) table.rows.push(cells(lines[i]));
    out.push(table);
  }
  return out;
}

const hasHeader = (t: { header: string[] }, header: string[]) => header.every((h, i) => t.header[i] === h);

/** The rows of the table whose header starts with these cells. */
export function table(text: string, ...header: string[]): string[][] {
  const found = tables(text).find((t) => hasHeader(t, header));
  if (!found) throw new Error(`no table headed | ${header.join(' | ')} |`);
  return found.rows;
}

/** The one table, in any page, whose header starts with these cells: wherever it lives now. */
export function tableInPages(...header: string[]): { file: string; rows: string[][] } {
  const found = pages().flatMap((p) => tables(p.text).filter((t) => hasHeader(t, header)).map((t) => ({ file: p.file, rows: t.rows })));
  if (found.length !== 1) throw new Error(`${found.length} tables headed | ${header.join(' | ')} | in README.md and docs/`);
  return found[0];
}

/** The code spans of a cell: `a` / `b` gives [a, b]. */
export const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

const COMMAND = /^(npx|npm|node|bash|apt-get|kapman-db|docker|psql|pg_\w+|git|[A-Z_]+=)\b/;

/**
 * Every command line a reader could copy: each line of a sh code block (comments dropped,
 * `\`-continued lines joined) and each code span in a table's first column that starts
 * like a command.
 */
export function commandLines(text: string): string[] {
  const lines: string[] = [];
  let block: string | undefined;
  let pending = '';
  for (const raw of text.split('\n')) {
    if (raw.startsWith('```')) {
      block = block === undefined ? raw.slice(3).trim() : undefined;
      continue;
    }
    if (block !== undefined) {
      if (block !== 'sh') continue;
      const line = raw.trim().startsWith('#') ? '' : raw.replace(/\s+#.*$/, '').trim();
      const joined = pending ? `${pending} ${line}` : line;
      if (joined.endsWith('\\')) pending = joined.slice(0, -1).trim();
      else {
        pending = '';
        if (joined) lines.push(joined);
      }
    }
  }
  for (const t of tables(text)) {
    for (const row of t.rows) lines.push(...codeSpans(row[0]).filter((c) => COMMAND.test(c)));
  }
  return [...new Set(lines)];
}

/** The command lines of every hand-written page, README.md first. */
export const allCommandLines = () => [...new Set(writtenPages().flatMap((p) => commandLines(p.text)))];

/** The target of every inline link `[text](target)` outside code, with its line number. */
export function links(text: string): Array<{ target: string; line: number }> {
  const out: Array<{ target: string; line: number }> = [];
  linesWithCode(text).forEach(({ line, code }, i) => {
    if (code) return;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) out.push({ target: m[1], line: i + 1 });
  });
  return out;
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line, code } of linesWithCode(text)) {
    const heading = code ? undefined : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

/** The lines (1-based) longer than `max` characters outside tables and code blocks. */
export function longLines(text: string, max: number): number[] {
  return linesWithCode(text).flatMap(({ line, code }, i) => (!code && !line.startsWith('|') && line.length > max ? [i + 1] : []));
}
