// A throwaway database on the target's server, built by the migrations alone: what the
// schema snapshot and the diagram are drawn from, whatever state the target is in. Where the
// target's role may not create one (a managed server), a throwaway local server holds them.
import crypto from 'crypto';
import { Client } from 'pg';
import { escapeIdentifier } from 'pg';
import { createDatabase, databaseInUse, dropDatabase, mayCreateDatabases, retrying } from '../server/admin';
import { log } from '../cli/log';
import { DEFAULT_PG_BIN } from '../server/localCluster';
import { startThrowawayCluster } from '../server/testServer';
import { withClient, withMaintenanceClient, withTransaction } from '../server/connection';
import { migrateLatest, MigrateOptions } from './migrate';
import { loadSettings, Settings, settingsForDatabase } from '../server/settings';

const SCRATCH_PREFIX = 'kapman_scratch_';
// The advisory lock a run holds, on its keeper session, for as long as its scratch database lives.
const KEEPER_LOCK = `SELECT %s(hashtext('kapman-db scratch'), hashtext($1))`;

/**
 * `work` on a new, empty database beside the target (or a copy of `copyOf`), dropped afterwards. It is named
 * kapman_scratch_<pid>_<random>, pid the backend of the session that keeps it: that session
 * holds a lock named after it while it lives, so a run killed before its drop (SIGKILL) leaves a
 * database whose lock nobody holds, and the next run that makes one drops it.
 */
export async function withScratchDatabase<T>(settings: Settings, work: (scratch: Settings) => Promise<T>, o: { copyOf?: string } = {}): Promise<T> {
  return withMaintenanceClient(settings, async (keeper) => {
    const { rows: [me] } = await keeper.query('SELECT pg_backend_pid() AS pid');
    const name = `${SCRATCH_PREFIX}${me.pid}_${crypto.randomBytes(4).toString('hex')}`;
    await keeper.query(KEEPER_LOCK.replace('%s', 'pg_advisory_lock'), [name]);
    try {
      await dropDeadScratchDatabases(keeper);
      if (o.copyOf) {
        // A session that just left the database copied (TimescaleDB's scheduler, a check) may take a moment to go.
        await retrying(() => keeper.query(`CREATE DATABASE ${escapeIdentifier(name)} TEMPLATE ${escapeIdentifier(o.copyOf!)}`), databaseInUse);
      } else await createDatabase(keeper, name);
      try {
        return await work(settingsForDatabase(settings, name));
      } finally {
        await dropDatabase(keeper, name);
      }
    } finally {
      await keeper.query(KEEPER_LOCK.replace('%s', 'pg_advisory_unlock'), [name]).catch(() => undefined);
    }
  });
}

/** Drops the scratch databases (ours to drop) whose keeper's lock nobody holds: their runs were killed. */
export async function dropDeadScratchDatabases(admin: Client): Promise<string[]> {
  const { rows } = await admin.query(`SELECT d.datname FROM pg_database d
     WHERE starts_with(d.datname, $1) AND pg_has_role(current_user, d.datdba, 'MEMBER')
       AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
         AND l.classid = hashtext('kapman-db scratch')::oid AND l.objid = hashtext(d.datname)::oid)`, [SCRATCH_PREFIX]);
  const dropped: string[] = [];
  for (const { datname } of rows) {
    try {
      await dropDatabase(admin, datname);
      dropped.push(datname);
      log(`dropped ${datname}, a scratch database a killed run left behind`);
    } catch {
      // Another run dropped it first, or it is another role's: not ours to insist on.
    }
  }
  return dropped;
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
