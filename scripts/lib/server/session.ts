// The one session setup of every connection the tools open (the knexfile's pool included):
// lock_timeout, no statement timeout, search_path, the owner's role, and what a pooler allows.
import type { Knex } from 'knex';
import { escapeIdentifier } from 'pg';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../cli/timeouts';

export interface SessionOptions {
  /** lock_timeout for the session, in milliseconds. */
  lockTimeoutMs?: number;
  /** SET ROLE to the database's owner when allowed, so what the session builds belongs to the owner. */
  asOwner?: boolean;
}

export interface Queryable {
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
  /** The backend's pid as the server announced it at startup (BackendKeyData). */
  processID?: number | null;
}

// Connections found to go through a pooler (see prepareSession).
const pooled = new WeakSet<object>();

/** The connection goes through a pooler (PgBouncer and the like): nothing session-level may be set on it. */
export function isPooled(conn: object): boolean {
  return pooled.has(conn);
}

/**
 * The one session setup of every connection the tools open: whatever the role, database or
 * server defaults say (statement_timeout, search_path, ...), the tools' statements run the same.
 *
 * Behind a transaction pooler a session-level SET stays on the server connection for whoever
 * gets it next, and our next transaction may run on another one. A pooler hands out its own
 * cancel key, so the pid announced at startup is not the backend's: then nothing is set here,
 * and prepareTransaction sets the same with SET LOCAL at the start of every transaction the
 * tools run, which ends with it. (PgBouncer 1.18 refuses the startup `options` parameter.)
 */
export async function prepareSession(conn: Queryable, o: SessionOptions = {}): Promise<void> {
  const { rows: [me] } = await conn.query('SELECT pg_backend_pid() AS pid');
  if (conn.processID != null && me.pid !== conn.processID) {
    pooled.add(conn);
    return;
  }
  await conn.query(setupSql('SET', o));
  if (!o.asOwner) return;
  const owner = await ownerToBecome(conn);
  if (owner) await conn.query(`SET ROLE ${escapeIdentifier(owner)}`);
}

function setupSql(set: 'SET' | 'SET LOCAL', o: SessionOptions): string {
  const lockTimeout = Math.max(1, Math.round(o.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS));
  return `${set} statement_timeout = 0; ${set} idle_in_transaction_session_timeout = 0;
    ${set} lock_timeout = ${lockTimeout}; ${set} search_path = public`;
}

/** The database's owner when the connecting role is not it but may become it. */
async function ownerToBecome(conn: Queryable): Promise<string | undefined> {
  const { rows: [db] } = await conn.query(`SELECT pg_get_userbyid(datdba) AS owner,
      pg_get_userbyid(datdba) <> session_user AND pg_has_role(session_user, datdba, 'MEMBER') AS become
    FROM pg_database WHERE datname = current_database()`);
  return db?.become ? String(db.owner) : undefined;
}

/**
 * The same setup for the current transaction only (SET LOCAL): run first in every transaction
 * the tools open, so that it holds behind a transaction pooler too and leaves nothing behind.
 * On a direct connection it repeats what the session has.
 */
export async function prepareTransaction(conn: Queryable, o: SessionOptions = {}): Promise<void> {
  await conn.query(setupSql('SET LOCAL', o));
  if (!o.asOwner) return;
  const owner = await ownerToBecome(conn);
  if (owner) await conn.query(`SET LOCAL ROLE ${escapeIdentifier(owner)}`);
}

/** A knex transaction as a Queryable (its raw results are pg's). */
export const knexQueryable = (trx: Knex | Knex.Transaction): Queryable => ({
  query: async (sql: string) => (await trx.raw(sql)) as { rows: Array<Record<string, unknown>> },
});
