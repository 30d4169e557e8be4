// A throwaway database on the target's server, built by the migrations alone: what the
// schema snapshot and the diagram are drawn from, whatever state the target is in.
import crypto from 'crypto';
import { Client } from 'pg';
import { createDatabase, dropDatabase } from '../server/admin';
import { withClient, withMaintenanceClient } from '../server/connection';
import { migrateLatest, MigrateOptions } from './migrate';
import { Settings, settingsForDatabase } from '../server/settings';

/** `work` on a new, empty database beside the target (kapman_scratch_<random>), dropped afterwards. */
export async function withScratchDatabase<T>(settings: Settings, work: (scratch: Settings) => Promise<T>): Promise<T> {
  const name = `kapman_scratch_${crypto.randomBytes(4).toString('hex')}`;
  await withMaintenanceClient(settings, (c) => createDatabase(c, name));
  try {
    return await work(settingsForDatabase(settings, name));
  } finally {
    await withMaintenanceClient(settings, (c) => dropDatabase(c, name));
  }
}

export async function withMigratedScratch<T>(settings: Settings, work: (client: Client) => Promise<T>, migrate: MigrateOptions = {}): Promise<T> {
  return withScratchDatabase(settings, async (scratch) => {
    await migrateLatest(scratch, migrate);
    return withClient(scratch, work);
  });
}
