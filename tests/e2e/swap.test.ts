// In tests/e2e (npm run test:e2e): a reset process held at each step of its swap by other sessions' locks, then broken there.
// A swap that stops after the target's drop never says "nothing changed": it says where the
// new data is, whether it is open, and the SQL that finishes the swap; that SQL works.
import { Client, escapeIdentifier } from 'pg';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { Settings } from '../../scripts/lib/server/settings';
import { verify } from '../../scripts/lib/schema/verify';
import { startNpm } from '../support/npm';
import { plainClient, symbols } from '../support/owned';
import { admin, createMigratedDatabase, dropMadeDatabases, remember, serverUrl, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

/** Polls until `sql` (on a maintenance session) returns a row; returns it. */
async function waitForRow(sql: string, params: unknown[]): Promise<Record<string, unknown>> {
  for (;;) {
    const { rows } = await admin((c) => c.query(sql, params));
    if (rows.length) return rows[0];
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The backend of the reset's swap session once its statement starting `start` waits for a lock. */
const waitingOn = (start: string, target: string) => waitForRow(`SELECT pid FROM pg_stat_activity
  WHERE wait_event_type = 'Lock' AND starts_with(query, $1) AND position($2 IN query) > 0`, [start, target]);

/** A session holding a lock that makes a DROP or RENAME of `database` wait: COMMENT ON DATABASE in an open transaction. */
async function holdDatabase(database: string): Promise<Client> {
  const c = await plainClient(serverUrl(), 'holder');
  await c.query('BEGIN');
  await c.query(`COMMENT ON DATABASE ${escapeIdentifier(database)} IS 'held'`);
  return c;
}

async function filled(label: string): Promise<Settings> {
  const db = await createMigratedDatabase(label);
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('OLD')"));
  return db;
}

const allowConn = (name: string) => admin(async (c) =>
  (await c.query('SELECT datallowconn AS open FROM pg_database WHERE datname = $1', [name])).rows.map((r) => r.open as boolean));

/**
 * The lock choreography: a reset of a filled database whose DROP waits on one held
 * session (A), then whose final RENAME waits on another (B, on the build). Returns once the
 * RENAME waits, with A released; `then` runs there, and both sessions are ended after it.
 */
async function resetWaitingAtRename(label: string, then: (o: { run: ReturnType<typeof startNpm>; b: Client; pid: number }) => Promise<void>) {
  const db = await filled(label);
  const ready = remember(`${buildPrefix(db.database)}ready`);
  const a = await holdDatabase(db.database);
  const run = startNpm('db:reset', ['--lock-timeout', '60'], { DATABASE_URL: db.url }, 'reset');
  let b: Client | undefined;
  try {
    await waitingOn('DROP DATABASE', db.database);
    b = await holdDatabase(ready);
    await a.query('ROLLBACK');
    const { pid } = await waitingOn('ALTER DATABASE', ready) as { pid: number };
    await then({ run, b, pid });
  } finally {
    await a.end();
    await b?.end();
  }
  const r = await run.done;
  expect(r.code).toBe(19);
  expect(`${r.out}${r.err}`).not.toMatch(/nothing changed|nothing was left half-done/);
  return { db, ready, r };
}

test('the session is ended after the rename: exit 19, "holds its replacement but is closed", the data is the new; the hint opens it', async () => {
  const { db, r } = await resetWaitingAtRename('_swap1', async ({ run, b, pid }) => {
    // The node process is stopped, the rename let through and its session ended before node hears of it.
    process.kill(run.nodePid(), 'SIGSTOP');
    await b.query('ROLLBACK');
    await waitForRow("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'idle'", [pid]);
    await admin((c) => c.query('SELECT pg_terminate_backend($1)', [pid]));
    process.kill(run.nodePid(), 'SIGCONT');
  });
  expect(r.err).toContain(`${db.database} holds its replacement, complete, but is closed to connections; the old ${db.database} was dropped`);
  expect(await allowConn(db.database)).toEqual([false]);
  const [, sql] = /open it: (ALTER DATABASE .* ALLOW_CONNECTIONS true) \(/.exec(r.err) ?? [];
  expect(sql).toBe(`ALTER DATABASE ${escapeIdentifier(db.database)} ALLOW_CONNECTIONS true`);
  await admin((c) => c.query(sql));
  expect(await symbols(db)).toEqual([]);
  expect((await verify(db, { empty: true })).ok).toBe(true);
});

test('the rename fails after the drop: exit 19, "its replacement is the database …_ready"; the hint finishes the swap', async () => {
  const { db, ready, r } = await resetWaitingAtRename('_swap2', async ({ pid }) => {
    await admin((c) => c.query('SELECT pg_terminate_backend($1)', [pid]));
  });
  expect(r.err).toContain(`the old ${db.database} was dropped; its replacement, complete, is the database ${ready}, closed to connections`);
  expect(await allowConn(db.database)).toEqual([]);
  expect(await allowConn(ready)).toEqual([false]);
  const [, sql] = /finish the swap: (ALTER DATABASE .* ALLOW_CONNECTIONS true) \(/.exec(r.err) ?? [];
  await admin(async (c) => {
    for (const statement of sql.split('; ')) await c.query(statement);
  });
  expect(await symbols(db)).toEqual([]);
  expect((await verify(db, { empty: true })).ok).toBe(true);
});

test('a target left closed by an interrupted swap: a reset says so and leaves it open; status before it names the error and the SQL (exit 32)', async () => {
  const db = await filled('_closed');
  await admin((c) => c.query(`ALTER DATABASE ${escapeIdentifier(db.database)} ALLOW_CONNECTIONS false`));
  for (const command of ['status', 'verify', 'migrate']) {
    const r = startNpm(`db:${command}`, [], { DATABASE_URL: db.url }, command);
    const { code, err } = await r.done;
    expect({ command, code }).toEqual({ command, code: 32 });
    expect(err).toContain(`ALTER DATABASE ${escapeIdentifier(db.database)} ALLOW_CONNECTIONS true`);
  }
  const reset = await startNpm('db:reset', [], { DATABASE_URL: db.url }, 'reset').done;
  expect(reset.code).toBe(0);
  expect(reset.out).toMatch(/is closed to connections \(datallowconn = false\), as an interrupted swap leaves it: the new .* will be open/);
  expect(await allowConn(db.database)).toEqual([true]);
  expect(await symbols(db)).toEqual([]);
});
