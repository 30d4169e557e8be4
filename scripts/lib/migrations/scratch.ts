// A throwaway database on the target's server, built by the migrations alone: what the
// schema snapshot and the diagram are drawn from, whatever state the target is in. Where the
// target's role may not create one (a managed server), a throwaway local server holds them.
import crypto from 'crypto';
import { Client } from 'pg';
import { createDatabase, dropDatabase, mayCreateDatabases } from '../server/admin';
import { log } from '../cli/log';
import { DEFAULT_PG_BIN } from '../server/localCluster';
import { startThrowawayCluster } from '../server/testServer';
import { withClient, withMaintenanceClient, withTransaction } from '../server/connection';
import { migrateLatest, MigrateOptions } from './migrate';
import { loadSettings, Settings, settingsForDatabase } from '../server/settings';

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

/**
 * `work` given a server for scratch databases: the target's, when its role may create databases;
 * else, said so, a throwaway cluster from the local binaries (`pgBin`), deleted afterwards.
 */
export async function withScratchServer<T>(settings: Settings, pgBin: string | undefined, work: (server: Settings) => Promise<T>): Promise<T> {
  if (await withTransaction(settings, mayCreateDatabases)) return work(settings);
  const binDir = pgBin || DEFAULT_PG_BIN;
  log(`the role of ${settings.displayUrl} may not create databases (a managed server?): the scratch databases go on a throwaway local server (PostgreSQL in ${binDir})`);
  const server = await startThrowawayCluster(binDir);
  try {
    return await work(loadSettings({ env: settings.env, databaseUrl: server.adminUrl, lockTimeoutMs: settings.lockTimeoutMs }));
  } finally {
    await server.stop();
  }
}
