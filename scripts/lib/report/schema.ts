// The schema panel: verify's result on the report's own session, and where each migration stands.
import type { Client } from 'pg';
import { MigrationFiles } from '../../../db/migrationSource';
import { Difference, foldSquashed, MigrationState, migrationStates } from '../schema/drift';
import { readAppliedMigrations } from '../schema/introspect';
import { verifyOn } from '../schema/verify';

export interface SchemaPanel {
  /** The contract matches and every migration is applied as written. */
  matches: boolean;
  differences: Difference[];
  migrations: Array<{ name: string; state: MigrationState['state'] }>;
  /**
   * Differences of a CHECK, default, index or view: verify compares those by meaning, on a
   * temporary copy of the table, which a read-only session may not make; here they are compared as text.
   */
  comparedAsText: number;
}

const BY_MEANING = /^(constraint|index|view|materialized view) |^column /;

export async function readSchemaPanel(client: Client, database: string): Promise<SchemaPanel> {
  const verified = await verifyOn(client, database);
  const source = new MigrationFiles();
  const [files, baselines] = [await source.checksums(), await source.baselines({ squashed: true })];
  const fold = foldSquashed(files, await readAppliedMigrations(client), baselines);
  return {
    matches: verified.ok,
    differences: verified.differences,
    migrations: migrationStates(files, fold.applied).map((m) => ({ name: m.name, state: m.state })),
    comparedAsText: verified.differences.filter((d) => d.kind === 'changed' && BY_MEANING.test(d.item)).length,
  };
}
