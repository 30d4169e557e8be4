// Connections: to the target, to a maintenance database, and waiting for a server.
import { Client } from 'pg';
import { prepareSession, prepareTransaction, SessionOptions } from './session';
import { DatabaseMissingError, explainDatabaseError, ServerUnreachableError } from '../cli/errors';
import { progress } from '../cli/log';
import { displayUrl } from './connectionUrl';
import { urlForDatabase } from './settings';
import { openClient } from './ssl';

/** Opens a client on `url`, with the tools' session setup; any failure comes back as a named error. */
export async function connect(url: string, session: SessionOptions = {}): Promise<Client> {
  let client: Client;
  try {
    client = await openClient(url); // libpq's reading of the URL, sslmode and its fallbacks (ssl.ts)
  } catch (err) {
    throw explainDatabaseError(err, displayUrl(url));
  }
  try {
    await prepareSession(client, session);
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw explainDatabaseError(err, displayUrl(url));
  }
}

/** Runs `work` on `client`, closes it, and names any failure. */
async function runAndClose<T>(client: Client, url: string, work: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } catch (err) {
    throw explainDatabaseError(err, displayUrl(url));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  return runAndClose(await connect(url), url, work);
}

/**
 * Runs `work` in one transaction that starts with the session setup (SET LOCAL), then closes
 * the client: the way to ask questions that also holds behind a transaction pooler.
 */
export async function withTransaction<T>(url: string, work: (client: Client) => Promise<T>, session: SessionOptions = {}): Promise<T> {
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    try {
      await prepareTransaction(client, session);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

// Where to stand while dropping the target: `postgres`, else `template1`.
export const MAINTENANCE_DATABASES = ['postgres', 'template1'];

/** Runs `work` on a maintenance database of the server that `url` points at. */
export async function withMaintenanceClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  for (const [i, db] of MAINTENANCE_DATABASES.entries()) {
    let client: Client;
    try {
      client = await connect(urlForDatabase(url, db));
    } catch (err) {
      const last = i === MAINTENANCE_DATABASES.length - 1;
      if (err instanceof DatabaseMissingError && !last) continue; // that one does not exist here: try the next
      throw err;
    }
    return runAndClose(client, url, work);
  }
  throw new Error('unreachable: MAINTENANCE_DATABASES is empty');
}

/** Polls until the server accepts connections (any database answer counts), printing a dot per try. */
export async function waitForServer(url: string, timeoutMs: number, intervalMs = 500): Promise<void> {
  const write = progress;
  const deadline = Date.now() + timeoutMs;
  write('kapman: waiting for the server');
  for (;;) {
    write('.'); // one per try, the first included
    try {
      await withMaintenanceClient(url, async () => undefined);
      write(' ready\n');
      return;
    } catch (err) {
      if (!(err instanceof ServerUnreachableError)) {
        write('\n');
        throw err; // it answered: a wrong password will not fix itself by waiting
      }
      if (Date.now() >= deadline) {
        write('\n');
        throw new ServerUnreachableError(`the server at ${displayUrl(url)} did not accept connections within ${timeoutMs / 1000} s`,
          'start it (`npm run db:up`), check host and port in DATABASE_URL, or raise --wait-timeout');
      }
      await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
    }
  }
}
