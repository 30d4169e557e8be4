// A DROP DATABASE that meets a session it may not end yet (as a TimescaleDB scheduler, which runs
// as no role, meets a role that is not a superuser), and a RENAME that meets a session still
// connected (55006, as a session just ended is for a moment, on a slow server or in Docker):
// tried again with short, growing waits, up to a bound, as every drop and rename of the tools and
// of the test harness is.
import { Client, escapeIdentifier } from 'pg';
import { dropDatabase, renameDatabase } from '../../scripts/lib/server/admin';
import { admin, createTestDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, serverSettings, uniqueName, urlAs } from '../support/testDatabase';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

/** A database owned by one role, with a session of another role in it that its owner may not end. */
async function heldByAnother(label: string) {
  const [owner, other] = [await createTestRole(`${label}_own`), await createTestRole(`${label}_oth`)];
  const name = remember(uniqueName(label));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(owner.name)}`));
  const held = new Client({ connectionString: urlAs(other, name) });
  await held.connect();
  const ownerSession = new Client({ connectionString: urlAs(owner, 'postgres') });
  await ownerSession.connect();
  const exists = () => admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
  return { name, held, ownerSession, exists };
}

test.concurrent('the drop waits for a session that leaves a moment later, and succeeds', async () => {
  const { name, held, ownerSession, exists } = await heldByAnother('_dretry');
  try {
    const leaves = new Promise((r) => setTimeout(r, 300)).then(() => held.end());
    await dropDatabase(ownerSession, name);
    await leaves;
    expect(await exists()).toBe(false);
  } finally {
    await ownerSession.end();
  }
});

test.concurrent('a session that stays is not waited for past the bound: the error comes, the database is kept', async () => {
  const { name, held, ownerSession, exists } = await heldByAnother('_dbound');
  try {
    const error = await dropDatabase(ownerSession, name, 400).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/role whose process is being terminated/);
    expect(await exists()).toBe(true);
  } finally {
    await held.end();
    await ownerSession.end();
  }
});

test.concurrent('a rename that meets a session still in the database (55006, "being accessed by other users") waits for it to leave, and succeeds', async () => {
  const db = await createTestDatabase('_rretry');
  const renamed = remember(`${db.database}_r`);
  const session = new Client({ connectionString: db.url });
  await session.connect();
  let leaves: Promise<void> | undefined;
  await withMaintenanceClient(serverSettings(), async (c) => {
    // The server itself waits 5 s for the session before it refuses with 55006; the session
    // leaves as soon as the rename has met that refusal, and the rename is tried again.
    const met: string[] = [];
    const watched = {
      query: (sql: string) => c.query(sql).catch((err) => {
        met.push(`${err.code}: ${err.message}`);
        leaves ??= session.end();
        throw err;
      }),
    } as unknown as Client;
    await renameDatabase(watched, db.database, renamed);
    expect(met).toEqual([`55006: database "${db.database}" is being accessed by other users`]);
    const { rows } = await c.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[db.database, renamed]]);
    expect(rows).toEqual([{ datname: renamed }]);
  });
  await (leaves ?? session.end());
});
