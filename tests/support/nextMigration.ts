// The README's daily loop in a copy of the project: its commands by their npm scripts there, the
// stub db:new wrote filled in, and the contract entries db:verify prints pasted into db/contract.ts.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';

export interface NpmResult {
  code: number | null;
  /** stdout, then stderr. */
  out: string;
}

/** `node scripts/kapman-db.js …args` in `project` (the README's fastest form), with the environment the tests start commands with. */
export function kapmanIn(project: string, args: string[], env: Record<string, string | undefined> = {}): NpmResult {
  const r = spawnSync(process.execPath, [path.join('scripts', 'kapman-db.js'), ...args], {
    cwd: project, encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The `up`, `down` and reason of a migration file written in the house style (a comment above `up`), to fill a stub with. */
export function partsOf(source: string): { up: string; down: string; why: string } {
  const fn = (name: string) => new RegExp(`export async function ${name}\\([^)]*\\)[^]*?\\n}`).exec(source)?.[0];
  const why = /((?:\/\/ [^\n]*\n)+)export async function up/.exec(source)?.[1].replace(/\/\/ /g, '').replace(/\n/g, ' ').trim();
  const [up, down] = [fn('up'), fn('down')];
  if (!up || !down || !why) throw new Error('not a migration with a reason above up, an up and a down');
  return { up, down: down.replace(/^export async function down\(\)/, 'export async function down(_knex: Knex)'), why };
}

/** `npm run -s …args` in `project`, with the environment the tests start commands with. */
export function npmIn(project: string, args: string[], env: Record<string, string | undefined> = {}): NpmResult {
  const r = spawnSync('npm', ['run', '-s', ...args], {
    cwd: project, encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, NODE_ENV: undefined, DATABASE_URL: undefined, KAPMAN_DEBUG: undefined, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A user's watchlists, one row per ticker on a list: the README's example of a next migration. */
export const WATCHLISTS_UP = `export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('watchlists', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('name', 100).notNullable();
    t.uuid('ticker_id').notNullable().references('id').inTable('tickers').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.index(['ticker_id']);
  });
}`;
export const WATCHLISTS_DOWN = `export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('watchlists');
}`;
export const WATCHLISTS_WHY = "a user's watchlists, one row per ticker on a list; deleting a ticker takes it off every list.";

/** The stub's text with `up`, `down` and the reason written in (each given as its whole function, the reason as one line). */
export function filledStub(stub: string, m: { up: string; down: string; why: string }): string {
  return stub
    .replace(/export async function up\(knex: Knex\)[^]*?\n}/, m.up)
    .replace(/export async function down\(knex: Knex\)[^]*?\n}/, m.down)
    .replace(/\/\/ Why: [^]*?\n(?=export)/, `// Why: ${m.why}\n`);
}

/** Writes `m` into the stub `file` (relative to `project`), as db:new's "created" line names it; returns the new text. */
export function fillStub(project: string, file: string, m: { up: string; down: string; why: string }): string {
  const text = filledStub(fs.readFileSync(path.join(project, file), 'utf8'), m);
  fs.writeFileSync(path.join(project, file), text);
  return text;
}

/** The file db:new says it created, relative to the project. */
export function createdFile(newOut: string): string {
  const m = /created (db\/migrations\/\d{4}_\w+\.ts)/.exec(newOut);
  if (!m) throw new Error(`db:new named no file it created:\n${newOut}`);
  return m[1];
}

/** What db:verify printed for the contract: its lines that are not the tool's own. */
export const printedEntries = (verifyOut: string) => verifyOut.split('\n').filter((l) => l && !l.startsWith('kapman: ')).join('\n');

// Where CONTRACT.tables ends in db/contract.ts, and where CONTRACT itself ends.
const TABLES_END = /\n {2}\],\n {2}hypertables:/;
const CONTRACT_END = /\n\};\n\nexport const TABLE_NAMES/;

/** A top-level field of CONTRACT as db/contract.ts writes it: `  F: …` up to its closing line. */
const fieldOf = (name: string) => new RegExp(`\\n {2}${name}: (\\[[^\\n]*\\],|\\{[^\\n]*\\},|\\[\\n[^]*?\\n {2}\\],|\\{\\n[^]*?\\n {2}\\},)`);

/**
 * The contract with the entries db:verify printed pasted in, as a person would: a table's entry
 * in place of the table's where the contract has one, else where the tables end; a record's
 * entries (`// in views: {...}`) into that field, made where missing; a whole field
 * (`  policies: [...]`) over the field, or added at the contract's end.
 */
export function pastedEntries(contract: string, printed: string): string {
  if (!TABLES_END.test(contract) || !CONTRACT_END.test(contract)) throw new Error('db/contract.ts: no end of its tables or of CONTRACT found');
  let out = contract;
  for (const block of printed.split(/\n(?=\/\/ in |  \w+: )/).map((p) => p.replace(/\n+$/, ''))) {
    const table = /^\/\/ in tables: \[\.\.\.\]\n([^]*)$/.exec(block);
    const record = /^\/\/ in (\w+): \{\.\.\.\}\n([^]*)$/.exec(block);
    const whole = /^ {2}(\w+): /.exec(block);
    if (table) {
      const entry = table[1];
      const name = /^ {4}\{\n {6}name: '([^']+)',/.exec(entry)?.[1];
      if (!name || !entry.endsWith('\n    },')) throw new Error(`not one table entry:\n${entry}`);
      const existing = new RegExp(`\\n {4}\\{\\n {6}name: '${name}',\\n[^]*?\\n {4}\\},`);
      out = existing.test(out) ? out.replace(existing, () => `\n${entry}`) : out.replace(TABLES_END, (end) => `\n${entry}${end}`);
    } else if (record) {
      const [, field, entries] = record;
      const opening = new RegExp(`\\n {2}${field}: \\{\\n`);
      out = opening.test(out) ? out.replace(opening, (o) => `${o}${entries}\n`) : out.replace(CONTRACT_END, (end) => `\n  ${field}: {\n${entries}\n  },${end}`);
    } else if (whole) {
      const existing = fieldOf(whole[1]);
      out = existing.test(out) ? out.replace(existing, () => `\n${block}`) : out.replace(CONTRACT_END, (end) => `\n${block}${end}`);
    } else throw new Error(`not an entry db:verify prints:\n${block}`);
  }
  return out;
}

/** Pastes the entries db:verify printed into `project`'s db/contract.ts. */
export function pasteEntries(project: string, printed: string): void {
  const file = path.join(project, 'db', 'contract.ts');
  fs.writeFileSync(file, pastedEntries(fs.readFileSync(file, 'utf8'), printed));
}
