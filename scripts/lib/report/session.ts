// The report's one session: safe on a production database by construction. One transaction,
// READ ONLY (the server refuses any write, temporary objects included) and REPEATABLE READ (every
// panel sees the same moment), a statement_timeout, and JIT off (its compile time costs more than
// it saves on the report's short queries). Each step runs under a savepoint, so a step that meets
// the timeout, a lock held too long or a missing privilege is left out with its reason, and the
// rest of the page is still written.
import { Client, DatabaseError } from 'pg';
import { connect } from '../server/connection';
import { prepareTransaction } from '../server/session';
import { explainDatabaseError } from '../cli/errors';
import { Settings } from '../server/settings';

/** Long enough for the per-ticker pass over years of a whole market's bars, short enough that a stuck report lets go. */
export const REPORT_STATEMENT_TIMEOUT_MS = 60_000;

export async function withReadOnlySnapshot<T>(settings: Settings, work: (client: Client) => Promise<T>,
  o: { statementTimeoutMs?: number } = {}): Promise<T> {
  const client = await connect(settings);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // The tools' own transaction setup (lock_timeout, search_path), then the report's limits over it.
    await prepareTransaction(client, { lockTimeoutMs: settings.lockTimeoutMs });
    await client.query(`SET LOCAL statement_timeout = ${Math.round(o.statementTimeoutMs ?? REPORT_STATEMENT_TIMEOUT_MS)}; SET LOCAL jit = off`);
    return await work(client);
  } catch (err) {
    throw explainDatabaseError(err, settings.displayUrl);
  } finally {
    // Nothing was written: a rollback ends it as well as a commit would.
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/** Why a step was left out, in the words the page prints. */
export function stepFailure(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e.code === '57014') return 'its query ran past the statement timeout';
  if (e.code === '55P03') return 'a lock it needed was held by another session past --lock-timeout';
  if (e.code === '42501') return `permission denied: ${e.message}`;
  return String(e.message ?? err);
}

/**
 * Runs `work` under a savepoint: on a database error the savepoint is rolled back (the
 * transaction stays usable) and the reason comes back instead of the result.
 */
export async function guarded<T>(client: Client, work: () => Promise<T>): Promise<{ value: T } | { failed: string }> {
  await client.query('SAVEPOINT kapman_report_step');
  try {
    const value = await work();
    await client.query('RELEASE SAVEPOINT kapman_report_step');
    return { value };
  } catch (err) {
    // Only the server's refusal of a statement: a broken connection is the whole report's failure.
    if (!(err instanceof DatabaseError)) throw err;
    await client.query('ROLLBACK TO SAVEPOINT kapman_report_step');
    return { failed: stepFailure(err) };
  }
}
