// What the tests expect of a migrated database, read from the contract and the migrations
// folder: a new migration with its contract entry changes the expectations with it. The MVP
// itself is pinned once, in migrations.test.ts.
import fs from 'fs';
import { CONTRACT } from '../../db/contract';
import { MIGRATIONS_DIR } from '../../db/migrationSource';

/**
 * Every migration file, in the order knex applies them. Read at once, so that patterns can be
 * built when a module loads; migrations.test checks it against the migration source's own list.
 */
export function migrationFiles(): string[] {
  return fs.readdirSync(MIGRATIONS_DIR).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
}

/** The migration in the middle of the folder (its first, where it holds one): a moment "while a migration runs" that no squash renames away. */
export const MIDDLE_MIGRATION = migrationFiles()[Math.floor((migrationFiles().length - 1) / 2)];

/** The tables the contract declares, by name. */
export const contractTables = (): string[] => CONTRACT.tables.map((t) => t.name).sort();

/** The foreign keys the contract declares, by constraint name. */
export const contractForeignKeys = (): string[] => CONTRACT.tables
  .flatMap((t) => Object.entries(t.constraints).filter(([, def]) => def.startsWith('FOREIGN KEY')).map(([name]) => name))
  .sort();
