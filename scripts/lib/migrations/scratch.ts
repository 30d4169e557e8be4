// A throwaway database on the target's server, built by the migrations alone: what the
// schema snapshot and the diagram are drawn from, whatever state the target is in.
import crypto from 'crypto';
import { Client } from 'pg';
import { createDatabase, dropDatabase } from '../server/admin';
import { withClient, withMaintenanceClient } from '../server/connection';
import { migrateLatest, MigrateOptions } from './migrate';
import { loadSettings, Settings, urlForDatabase } from '../server/settings';

export async function withMigratedScratch<T>(settings: Settings, work: (client: Client) => Promise<T>, migrate: MigrateOptions = {}): Promise<T> {
  const name = `kapman_scratch_${crypto.randomBytes(4).toString('hex')}`;
  await withMaintenanceClient(settings.url, (c) => createDatabase(c, name));
  try {
    const scratch = loadSettings({ env: settings.env, databaseUrl: urlForDatabase(settings.url, name) });
    await migrateLatest(scratch, migrate);
    return await withClient(scratch.url, work);
  } finally {
    await withMaintenanceClient(settings.url, (c) => dropDatabase(c, name));
  }
}
