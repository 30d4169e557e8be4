// The report's sessions: safe on a production database by construction. Each one transaction,
// READ ONLY (the server refuses any write, temporary objects included) and REPEATABLE READ, both in
// one snapshot (every panel sees the same moment), a statement_timeout, and JIT off (its compile time costs more than
// it saves on the report's short queries). Each step runs under a savepoint, so a step that meets
// the timeout, a lock held too long or a missing privilege is left out with its reason, and the
// rest of the page is still written.
import { Client, DatabaseError, escapeLiteral } from 'pg';
import { connect } from '../server/connection';
import { prepareTransaction } from '../server/session';
import { explainDatabaseError } from '../cli/errors';
import { Settings } from '../server/settings';

/** Long enough for the per-ticker pass over years of a whole market's bars, short enough that a stuck report lets go. */
export const REPORT_STATEMENT_TIMEOUT_MS = 60_000;

/**
 * Two sessions in one snapshot: the first exports it, the second takes it up (as pg_dump's
 * workers do), so that the catalog's panels are read beside the pass over the bars and every
 * figure still comes from the same moment. A third, `probe`, is verify's for comparing a CHECK,
 * default or index by meaning: it parses each again on a temporary copy of its table, which a
 * read-only transaction may not make, in a transaction always rolled back (nothing else is done on it).
 */
export async function withReadOnlySnapshot<T>(settings: Settings, work: (client: Client, beside: Client, probe: Client) => Promise<T>,
  o: { statementTimeoutMs?: number } = {}): Promise<T> {
  const opened: Client[] = [];
  const begin = async (snapshot?: string) => {
    const client = await connect(settings);
    opened.push(client);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    if (snapshot) await client.query(`SET TRANSACTION SNAPSHOT ${escapeLiteral(snapshot)}`);
    // The tools' own transaction setup (lock_timeout, search_path), then the report's limits over it.
    await prepareTransaction(client, { lockTimeoutMs: settings.lockTimeoutMs });
    await client.query(`SET LOCAL statement_timeout = ${Math.round(o.statementTimeoutMs ?? REPORT_STATEMENT_TIMEOUT_MS)}; SET LOCAL jit = off`);
    return client;
  };
  try {
    const first = await begin();
    const { rows: [exported] } = await first.query('SELECT pg_export_snapshot() AS snapshot');
    const beside = await begin(exported.snapshot);
    const probe = await connect(settings);
    opened.push(probe);
    await probe.query(`SET statement_timeout = ${Math.round(o.statementTimeoutMs ?? REPORT_STATEMENT_TIMEOUT_MS)}`);
    return await work(first, beside, probe);
  } catch (err) {
    throw explainDatabaseError(err, settings.displayUrl);
  } finally {
    // Nothing was written: a rollback ends each as well as a commit would.
    for (const client of opened.reverse()) {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    }
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
