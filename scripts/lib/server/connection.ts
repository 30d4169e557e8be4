// Connections: to the target, to a maintenance database, and waiting for a server; each opened
// from the settings' connection, with their --lock-timeout.
import { Client } from 'pg';
import { prepareSession, prepareTransaction, SessionOptions } from './session';
import { DatabaseMissingError, explainDatabaseError, ServerUnreachableError } from '../cli/errors';
import { progress } from '../cli/log';
import { Settings, settingsForDatabase } from './settings';
import { openClient } from './ssl';

/** Opens a client on `settings`' database, with the tools' session setup; any failure comes back as a named error. */
export async function connect(settings: Settings, session: SessionOptions = {}): Promise<Client> {
  let client: Client;
  try {
    client = await openClient(settings.connection); // sslmode and its fallbacks as libpq has them (ssl.ts)
  } catch (err) {
    throw explainDatabaseError(err, settings.displayUrl);
  }
  try {
    await prepareSession(client, { lockTimeoutMs: settings.lockTimeoutMs, ...session });
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw explainDatabaseError(err, settings.displayUrl);
  }
}

/** Runs `work` on `client`, closes it, and names any failure. */
async function runAndClose<T>(client: Client, settings: Settings, work: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } catch (err) {
    throw explainDatabaseError(err, settings.displayUrl);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function withClient<T>(settings: Settings, work: (client: Client) => Promise<T>): Promise<T> {
  return runAndClose(await connect(settings), settings, work);
}

/**
 * Runs `work` in one transaction that starts with the session setup (SET LOCAL), then closes
 * the client: the way to ask questions that also holds behind a transaction pooler.
 */
export async function withTransaction<T>(settings: Settings, work: (client: Client) => Promise<T>, session: SessionOptions = {}): Promise<T> {
  return withClient(settings, async (client) => {
    await client.query('BEGIN');
    try {
      await prepareTransaction(client, { lockTimeoutMs: settings.lockTimeoutMs, ...session });
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

/** A session on a maintenance database of `settings`' server (CREATE, DROP, RENAME DATABASE stand there), for the caller to end. */
export async function connectMaintenance(settings: Settings): Promise<Client> {
  for (const [i, db] of MAINTENANCE_DATABASES.entries()) {
    try {
      return await connect(settingsForDatabase(settings, db));
    } catch (err) {
      const last = i === MAINTENANCE_DATABASES.length - 1;
      if (err instanceof DatabaseMissingError && !last) continue; // that one does not exist here: try the next
      throw err;
    }
  }
  throw new Error('unreachable: MAINTENANCE_DATABASES is empty');
}

/** Runs `work` on a maintenance session of `settings`' server, then ends it. */
export async function withMaintenanceClient<T>(settings: Settings, work: (client: Client) => Promise<T>): Promise<T> {
  return runAndClose(await connectMaintenance(settings), settings, work);
}

/** Polls until the server accepts connections (any database answer counts), printing a dot per try. */
export async function waitForServer(settings: Settings, timeoutMs: number, intervalMs = 500): Promise<void> {
  const write = progress;
  const deadline = Date.now() + timeoutMs;
  write('kapman: waiting for the server');
  for (;;) {
    write('.'); // one per try, the first included
    try {
      await withMaintenanceClient(settings, async () => undefined);
      write(' ready\n');
      return;
    } catch (err) {
      if (!(err instanceof ServerUnreachableError)) {
        write('\n');
        throw err; // it answered: a wrong password will not fix itself by waiting
      }
      if (Date.now() >= deadline) {
        write('\n');
        throw new ServerUnreachableError(`the server at ${settings.displayUrl} did not accept connections within ${timeoutMs / 1000} s`,
          'start it (`npm run db:up`), check host and port in DATABASE_URL, or raise --wait-timeout');
      }
      await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
    }
  }
}
