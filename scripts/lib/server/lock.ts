// Serializes kapman-db runs that would step on each other (two resets of one database, two
// migrations). A transaction-level advisory lock, taken by polling: the wait is bounded and
// visible whatever the role's lock_timeout says, and the lock ends with its transaction or
// session, so neither a pooler nor a killed run can leave it behind.
// waitForLock takes it on a session the caller holds (the knexfile's, for the knex CLI);
// acquireLock opens one of its own. And who keeps a run waiting for an ordinary lock:
// watchBlockers polls for those sessions, and its caller reports or ends them.
import { escapeLiteral, type Client } from 'pg';
import { LockTimeoutError } from '../cli/errors';
import { log } from '../cli/log';
import { connect } from './connection';
import { prepareTransaction } from './session';
import type { Settings } from './settings';

// After this long a wait for a lock held by some other session is reported, naming it.
export const REPORT_WAIT_AFTER_MS = 2000;
const POLL_MS = 100;
const NAMESPACE = 'kapman-db';

/** The lock that serializes every migration run of a database: db:migrate, db:rollback and the knex CLI. */
export const MIGRATIONS_LOCK = 'migrations';

/** The driver's client, or anything that answers queries the same way. */
type Queryable = Pick<Client, 'query'>;

// A lock's session sits in an open transaction while the run works, so it asks its questions by
// the simple protocol, values written in as literals: a parameterized query leaves its portal,
// and the portal its snapshot, until the session's next query, and CREATE INDEX CONCURRENTLY
// (a migration outside a transaction) waits for every transaction that holds an older snapshot
// to end: for this one, until the lock timeout.
const literal = (value: string) => escapeLiteral(value);

export interface Blocker {
  pid: number;
  application: string;
  state: string;
  seconds: number;
}

export function describeBlocker(b: Blocker): string {
  if (b.pid === 0) return 'a prepared transaction (see pg_prepared_xacts)';
  return `session ${b.pid} (${b.application || 'no application_name'}, ${b.state || 'state unknown'}, for ${b.seconds} s)`;
}

const SESSION_COLUMNS = `a.pid, coalesce(a.application_name, '') AS application, coalesce(a.state, '') AS state,
  coalesce(extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start)), 0)::int AS seconds`;

async function lockHolders(client: Queryable, name: string): Promise<Blocker[]> {
  await client.query('SELECT pg_stat_clear_snapshot()'); // pg_stat_activity is cached per transaction otherwise
  const { rows } = await client.query(`SELECT ${SESSION_COLUMNS}
      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.classid = hashtext(${literal(NAMESPACE)})::oid AND l.objid = hashtext(${literal(name)})::oid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return rows;
}

/** The sessions (pid 0: a prepared transaction) that keep any of `pids` waiting for a lock. */
export async function blockersOf(client: Queryable, pids: number[]): Promise<Blocker[]> {
  if (pids.length === 0) return [];
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query(`SELECT DISTINCT b.pid AS pid, ${SESSION_COLUMNS.replace('a.pid, ', '')}
      FROM unnest(${literal(`{${pids.map((p) => Math.trunc(Number(p))).join(',')}}`)}::int[]) w(pid), unnest(pg_blocking_pids(w.pid)) b(pid)
      LEFT JOIN pg_stat_activity a ON a.pid = b.pid`);
  return rows;
}

/**
 * Every `everyMs`, on `watcher`, finds the sessions that keep any of `pids()` waiting for a lock
 * and hands each to `act`, `first` the first time that session is met (to say it once): a
 * report, or an end to it. One round at a time; a failed round is skipped. Returns the stop.
 */
export function watchBlockers(watcher: Queryable, pids: () => number[], everyMs: number,
  act: (blocker: Blocker, first: boolean) => Promise<void> | void): () => void {
  const met = new Set<number>();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    (async () => {
      for (const b of await blockersOf(watcher, pids())) {
        await act(b, !met.has(b.pid));
        met.add(b.pid);
      }
    })().catch(() => undefined).finally(() => { busy = false; });
  }, everyMs);
  return () => clearInterval(timer);
}

export interface WaitOptions {
  /** What bounds the wait, for the message ("--lock-timeout"). */
  bound: string;
  /** How to wait longer next time, for the hint. */
  longer: string;
}

/**
 * Takes the transaction-level lock `name` on `client`'s database, polling for at most
 * `timeoutMs`; `what` names it in messages ("the migration lock of kapman_dev"). The lock ends
 * with the client's transaction, or its session.
 */
export async function waitForLock(client: Queryable, name: string, what: string, timeoutMs: number,
  o: WaitOptions = { bound: '--lock-timeout', longer: 'rerun with a larger --lock-timeout' }): Promise<void> {
  const started = Date.now();
  let reported = false;
  for (;;) {
    const { rows: [r] } = await client.query(`SELECT pg_try_advisory_xact_lock(hashtext(${literal(NAMESPACE)}), hashtext(${literal(name)})) AS got`);
    if (r.got) return;
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      const holders = (await lockHolders(client, name)).map(describeBlocker).join(', ') || 'another session';
      throw new LockTimeoutError(`${what} is held by ${holders}; gave up after ${Math.round(waited / 1000)} s (${o.bound})`,
        `nothing was changed; wait for that run to finish, or ${o.longer}`);
    }
    if (!reported) { // another kapman-db run: say so at once
      reported = true;
      const holders = (await lockHolders(client, name)).map(describeBlocker).join(', ') || 'another session';
      log(`waiting for ${what}, held by ${holders}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export interface HeldLock {
  /** The session that holds the lock, inside its transaction (usable for read-only questions). */
  client: Client;
  release(): Promise<void>;
}

/**
 * Takes the lock `name` on `on`'s database, waiting at most `timeoutMs` (its --lock-timeout);
 * `what` names it in messages ("the reset lock of kapman_dev").
 */
export async function acquireLock(on: Settings, name: string, what: string, timeoutMs = on.lockTimeoutMs): Promise<HeldLock> {
  const client = await connect(on);
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

/** Runs `work` holding the lock on `on`'s database; the lock ends with it, however it ends. */
export async function withLock<T>(on: Settings, name: string, what: string, work: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(on, name, what);
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}
