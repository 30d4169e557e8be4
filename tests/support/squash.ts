// What the squash's tests share: a database migrated from a folder, and a refusal's words.
import { SquashRefusedError } from '../../scripts/lib/cli/errors';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { Settings } from '../../scripts/lib/server/settings';
import { createTestDatabase } from './testDatabase';

/** A new test database with the folder's migrations applied (or `only` these). */
export async function migratedWith(directory: string, label: string, only?: string[]): Promise<Settings> {
  const db = await createTestDatabase(label);
  await applyMigrations(db, { directory, ...(only ? { only } : {}) });
  return db;
}

/** The refusal's message and hint (an error of another class fails the test). */
export async function refusal(work: Promise<unknown>): Promise<string> {
  const err = await work.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(SquashRefusedError);
  return `${(err as SquashRefusedError).message}\n${(err as SquashRefusedError).hint}`;
}
