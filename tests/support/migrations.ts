// Temporary migration folders for tests that need migrations other than db/migrations.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { migrationFiles } from './expected';

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A folder with the given files (name -> TypeScript source). */
export function migrationsFolder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-migrations-'));
  made.push(dir);
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), source);
  return dir;
}

/** The repository's migrations, name -> source, for a folder that adds one after them. */
export const releasedMigrations = () => Object.fromEntries(migrationFiles().map((f) => [f, fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8')]));

/** A pending migration of raw statements, after the released ones, with optional comment lines. */
export const migrationOf = (statements: string[], comments: string[] = []) => `${comments.join('\n')}
export async function up(knex: any) {
${statements.map((s) => `  await knex.raw(${JSON.stringify(s)});`).join('\n')}
}
export async function down() {}
`;

export const CREATES_TABLE_A = `
export async function up(knex: any) { await knex.schema.createTable('a', (t: any) => { t.integer('x'); }); }
export async function down(knex: any) { await knex.schema.dropTable('a'); }
`;

// Creates a table, then fails: if the batch were not one transaction, table b would stay.
export const FAILS_HALF_WAY = `
export async function up(knex: any) {
  await knex.schema.createTable('b', (t: any) => { t.integer('y'); });
  await knex('no_such_table').insert({ z: 1 });
}
export async function down(knex: any) { await knex.schema.dropTableIfExists('b'); }
`;

/** 0001 creates table a; 0002 creates table b and then fails. */
export function failingMigrations(): string {
  return migrationsFolder({ '0001_creates_a.ts': CREATES_TABLE_A, '0002_fails_half_way.ts': FAILS_HALF_WAY });
}

/** Where KapMan's day-2 migrations wait, as fixtures (tests/fixtures/day2/README.md). */
export const DAY2_DIR = path.join(__dirname, '..', 'fixtures', 'day2');

/** KapMan's day-2 migrations numbered up to `through` (all by default), name -> source, to put after the released ones. */
export function day2Migrations(through = '9999'): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(DAY2_DIR).filter((f) => f.endsWith('.ts') && f.slice(0, 4) <= through)
    .sort().map((f) => [f, fs.readFileSync(path.join(DAY2_DIR, f), 'utf8')]));
}
