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
}

export async function readSchemaPanel(client: Client, database: string, probe: Client): Promise<SchemaPanel> {
  const verified = await verifyOn(client, database, { probeOn: probe });
  const source = new MigrationFiles();
  const [files, baselines] = [await source.checksums(), await source.baselines({ squashed: true })];
  const fold = foldSquashed(files, await readAppliedMigrations(client), baselines);
  return {
    matches: verified.ok,
    differences: verified.differences,
    migrations: migrationStates(files, fold.applied).map((m) => ({ name: m.name, state: m.state })),
  };
}
