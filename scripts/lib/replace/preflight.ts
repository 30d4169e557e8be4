// Everything that could make a replacement fail half-way, or break what depends on the
// target, checked before anything is created or dropped (as Flyway validates first).
import type { Client } from 'pg';
import {
  ConnectionSlotsError, INSTALL_HINT, KapmanError, PermissionDeniedError, ReadOnlyTargetError, TargetInUseError, TimescaleMissingError,
} from '../cli/errors';
import type { DatabaseIdentity } from './identity';

// Sessions a replacement still opens once it holds its lock: the build, and one spare for a
// session that is still closing when the next one opens.
export const EXTRA_SESSIONS = 2;

export interface ServerFacts {
  /** The timescaledb extension is installed on the server. */
  timescaleAvailable: boolean;
  /** shared_preload_libraries names timescaledb; undefined when this role may not read it. */
  timescalePreloaded?: boolean;
  /** The connecting role may create databases. */
  canCreateDatabase: boolean;
  /** The connecting role may act as `owner` (drop its database, give it a new one). */
  canActAsOwner: boolean;
  /** The server is a hot standby. */
  inRecovery: boolean;
  /** Sessions the role may still open: its own limit and the server's free slots (null: no limit). */
  freeSessions: number | null;
}

/** What a replacement needs from the server, read before anything is changed. */
export async function readServerFacts(client: Client, owner: string): Promise<ServerFacts> {
  const { rows: [r] } = await client.query(`SELECT
      EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
      (SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user) AS createdb,
      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role(current_user, $1, 'MEMBER') AS owner,
      pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') AS readable,
      pg_is_in_recovery() AS recovery,
      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super,
      (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) AS role_limit,
      (SELECT count(*)::int FROM pg_stat_activity WHERE usename = current_user AND backend_type = 'client backend') AS role_sessions,
      current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int AS server_slots,
      current_setting('max_connections')::int AS all_slots,
      (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS server_sessions`,
  [owner]);
  let preloaded: boolean | undefined;
  if (r.readable) {
    const { rows: [s] } = await client.query("SELECT current_setting('shared_preload_libraries') AS libs");
    preloaded = String(s.libs).split(',').map((l) => l.trim().replace(/^"|"$/g, '')).includes('timescaledb');
  }
  // Superusers are exempt from role limits and may use the reserved slots.
  const serverFree = (r.super ? r.all_slots : r.server_slots) - r.server_sessions;
  const roleFree = r.super || r.role_limit < 0 ? Infinity : r.role_limit - r.role_sessions;
  const free = Math.min(serverFree, roleFree);
  return {
    timescaleAvailable: r.available, timescalePreloaded: preloaded, canCreateDatabase: r.createdb, canActAsOwner: r.owner,
    inRecovery: r.recovery, freeSessions: Number.isFinite(free) ? free : null,
  };
}

/** Why a replacement would fail half-way, found before anything is changed. */
export function preflightProblem(facts: ServerFacts, target: string, owner: string, exists: boolean, inPlace = false): KapmanError | undefined {
  if (facts.inRecovery) {
    return new ReadOnlyTargetError('the server is a hot standby (read-only): nothing can be replaced there',
      'point DATABASE_URL at the primary server; nothing was changed');
  }
  if (!facts.timescaleAvailable) {
    return new TimescaleMissingError('TimescaleDB is not installed on the server', INSTALL_HINT);
  }
  if (facts.timescalePreloaded === false) {
    return new TimescaleMissingError("TimescaleDB is installed but not preloaded: shared_preload_libraries does not name 'timescaledb'",
      "add shared_preload_libraries = 'timescaledb' to postgresql.conf and restart the server (scripts/install-timescaledb.sh installs it; npm run db:up configures it)");
  }
  if (!facts.canCreateDatabase && !inPlace) { // in place, nothing is created
    return new PermissionDeniedError(`the connecting role may not create databases, so "${target}" could not be rebuilt`,
      'on a managed server (one database, no CREATEDB), empty and rebuild it where it stands: npm run db:reset -- --in-place; '
      + 'else connect as a role with CREATEDB (ALTER ROLE … CREATEDB) or a superuser; nothing was changed');
  }
  if (!facts.canActAsOwner) {
    return new PermissionDeniedError(`the connecting role may not act as "${owner}", the ${exists ? 'owner' : 'intended owner'} of "${target}"`,
      `connect as ${owner}, a member of it, or a superuser; nothing was changed`);
  }
  if (facts.freeSessions !== null && facts.freeSessions < EXTRA_SESSIONS) {
    return new ConnectionSlotsError(`a reset needs ${EXTRA_SESSIONS} more sessions, but only ${Math.max(0, facts.freeSessions)} can be opened (the role's CONNECTION LIMIT or the server's max_connections)`,
      'close other sessions of this role, or raise its connection limit (ALTER ROLE … CONNECTION LIMIT); nothing was changed');
  }
  return undefined;
}

const ON = /^(on|true|yes|1|t|y)$/i;

/** What depends on the target and would be broken by replacing it, or a read-only mark on it. */
export async function targetProblem(client: Client, name: string, target: DatabaseIdentity): Promise<KapmanError | undefined> {
  const { rows: [r] } = await client.query(`SELECT
      (SELECT array_agg(slot_name::text ORDER BY slot_name) FROM pg_replication_slots WHERE database = $1) AS slots,
      (SELECT array_agg(subname::text ORDER BY subname) FROM pg_subscription WHERE subdbid = $2) AS subscriptions,
      (SELECT count(*)::int FROM pg_prepared_xacts WHERE database = $1) AS prepared,
      (SELECT array_agg(c) FROM pg_db_role_setting s, unnest(s.setconfig) c
        WHERE ((s.setdatabase = $2 AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user)))
            OR (s.setdatabase = 0 AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)))
          AND c ILIKE 'default\\_transaction\\_read\\_only=%') AS read_only`,
  [name, target.oid]);
  if ((r.read_only ?? []).some((c: string) => ON.test(c.split('=')[1] ?? ''))) {
    return new ReadOnlyTargetError('the target is marked read-only (default_transaction_read_only = on for the database or the connecting role)',
      'a read-only database is not reset; remove the mark (ALTER DATABASE … RESET default_transaction_read_only) if you mean it; nothing was changed');
  }
  if (r.slots?.length) {
    return new TargetInUseError(`the target has logical replication slots (${r.slots.join(', ')}): replacing it would lose their place`,
      'drop the slots with pg_drop_replication_slot() once their consumers no longer need them; nothing was changed');
  }
  if (r.subscriptions?.length) {
    return new TargetInUseError(`the target has subscriptions (${r.subscriptions.join(', ')})`,
      'drop them (DROP SUBSCRIPTION) before resetting; nothing was changed');
  }
  if (r.prepared > 0) {
    return new TargetInUseError(`the target has ${r.prepared} prepared transaction(s), which would block dropping it`,
      'COMMIT PREPARED or ROLLBACK PREPARED them (see pg_prepared_xacts); nothing was changed');
  }
  return undefined;
}
