// Serializes kapman-db runs that would step on each other (two resets of one database, two
// migrations). A transaction-level advisory lock, taken by polling: the wait is bounded and
// visible whatever the role's lock_timeout says, and the lock ends with its transaction or
// session, so neither a pooler nor a killed run can leave it behind.
import type { Client } from 'pg';
import { prepareTransaction } from '../../../knexfile';
import { connect } from './connection';
import { waitForLock } from './advisoryLock';

export type { Blocker } from './advisoryLock';
export { blockersOf, describeBlocker, MIGRATIONS_LOCK, REPORT_WAIT_AFTER_MS } from './advisoryLock';

export interface HeldLock {
  /** The session that holds the lock, inside its transaction (usable for read-only questions). */
  client: Client;
  release(): Promise<void>;
}

/**
 * Takes the lock `name` on the database `url` points at, waiting at most `timeoutMs`; `what`
 * names it in messages ("the reset lock of kapman_dev").
 */
export async function acquireLock(url: string, name: string, what: string, timeoutMs: number): Promise<HeldLock> {
  const client = await connect(url);
  // The lock ends with the transaction; ending it before closing hands a pooler a clean server connection.
  const release = () => client.query('ROLLBACK').catch(() => undefined).then(() => client.end()).catch(() => undefined);
  try {
    await client.query('BEGIN');
    // This session sits idle in its transaction while the command works: no timeout may end it.
    await prepareTransaction(client, { lockTimeoutMs: timeoutMs });
    await waitForLock(client, name, what, timeoutMs);
    return { client, release };
  } catch (err) {
    await release();
    throw err;
  }
}

/** Runs `work` holding the lock; the lock ends with it, however it ends. */
export async function withLock<T>(url: string, name: string, what: string, timeoutMs: number, work: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(url, name, what, timeoutMs);
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}
