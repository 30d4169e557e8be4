// Servers configured the way real ones are, each its own throwaway cluster: prepared
// transactions and logical replication slots on the target, a hot standby, a crash in the
// middle of a reset. Each time: refused before anything changes, or unchanged after.
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Client } from 'pg';
import { createDatabase } from '../../scripts/lib/server/admin';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { ReadOnlyTargetError, TargetInUseError } from '../../scripts/lib/cli/errors';
import { DEFAULT_PG_BIN, freePort, run, startCluster, stopCluster } from '../../scripts/lib/server/localCluster';
import { buildPrefix, replaceDatabase } from '../../scripts/lib/replace/replace';
import { loadSettings, Settings, urlForDatabase } from '../../scripts/lib/server/settings';
import { startThrowawayCluster } from '../../scripts/lib/server/testServer';
import { reset } from '../../scripts/reset';
import { verify } from '../../scripts/lib/schema/verify';
import { startNpm } from '../support/npm';
import { databaseAttributes, databasesLike } from '../support/schema';
import { settingsOf, withDatabase } from '../support/testDatabase';
import { MIDDLE_MIGRATION } from '../support/expected';

const binDir = process.env.PG_BIN || DEFAULT_PG_BIN;
let server: Awaited<ReturnType<typeof startThrowawayCluster>>;
const dataDir = () => server.dataDir!;
beforeAll(async () => {
  server = await startThrowawayCluster(binDir, true,
    { extraSettings: ['wal_level = logical', 'max_prepared_transactions = 5', 'max_wal_senders = 5', 'max_replication_slots = 5'] });
});
afterAll(() => server?.stop());

const admin = <T>(work: (c: Client) => Promise<T>) => withMaintenanceClient(settingsOf(server.adminUrl), work);
let counter = 0;

/** A migrated database on this server holding one row. */
async function target(): Promise<Settings> {
  const name = `kapman_e2e_${++counter}`;
  await admin((c) => createDatabase(c, name));
  const db = loadSettings({ env: 'test', databaseUrl: urlForDatabase(server.adminUrl, name) });
  await reset(db);
  await withDatabase(db, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  return db;
}

const rows = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers')).rows.map((r) => r.symbol));

test('a prepared transaction on the target: refused before anything changes, also in --dry-run', async () => {
  const db = await target();
  await withDatabase(db, async (c) => {
    await c.query("BEGIN; INSERT INTO tickers (symbol) VALUES ('PREPARED'); PREPARE TRANSACTION 'kapman_e2e_px'");
  });
  try {
    for (const dryRun of [true, false]) await expect(reset(db, { dryRun })).rejects.toBeInstanceOf(TargetInUseError);
    expect(await rows(db)).toEqual(['KEEP']);
  } finally {
    await withDatabase(db, (c) => c.query("ROLLBACK PREPARED 'kapman_e2e_px'"));
  }
});

test('an inactive logical replication slot on the target: refused, the slot kept', async () => {
  const db = await target();
  await withDatabase(db, (c) => c.query("SELECT pg_create_logical_replication_slot('kapman_e2e_slot', 'test_decoding')"));
  try {
    for (const dryRun of [true, false]) {
      await expect(reset(db, { dryRun })).rejects.toMatchObject({ constructor: TargetInUseError, message: expect.stringMatching(/kapman_e2e_slot/) });
    }
    expect(await rows(db)).toEqual(['KEEP']);
    expect(await admin(async (c) => (await c.query('SELECT slot_name FROM pg_replication_slots')).rows)).toEqual([{ slot_name: 'kapman_e2e_slot' }]);
  } finally {
    await admin((c) => c.query("SELECT pg_drop_replication_slot('kapman_e2e_slot')"));
  }
});

test('a prepared transaction on the target, in a real run through the CLI: refused by the preflight (exit 16) before anything is built', async () => {
  const db = await target();
  await withDatabase(db, (c) => c.query("BEGIN; INSERT INTO tickers (symbol) VALUES ('PREPARED'); PREPARE TRANSACTION 'kapman_e2e_px2'"));
  try {
    const r = await startNpm('db:reset', [], { DATABASE_URL: db.url }, 'reset').done;
    expect(r.code).toBe(16);
    expect(r.err).toMatch(/the target has 1 prepared transaction\(s\), which would block dropping it/);
    expect(r.out).not.toMatch(/created beside/);
    expect(await rows(db)).toEqual(['KEEP']);
  } finally {
    await withDatabase(db, (c) => c.query("ROLLBACK PREPARED 'kapman_e2e_px2'"));
  }
});

test('a logical replication slot made on the target while the replacement is built: the swap finds it (exit 16), the slot and the target kept', async () => {
  const db = await target();
  const replaced = replaceDatabase(db, {
    plan: [],
    build: async () => void await withDatabase(db, (c) => c.query("SELECT pg_create_logical_replication_slot('kapman_e2e_late', 'test_decoding')")),
  });
  try {
    await expect(replaced).rejects.toMatchObject({ constructor: TargetInUseError, message: expect.stringMatching(/logical replication slots \(kapman_e2e_late\)/) });
    expect(await rows(db)).toEqual(['KEEP']);
    expect(await admin(async (c) => (await c.query('SELECT slot_name FROM pg_replication_slots')).rows)).toEqual([{ slot_name: 'kapman_e2e_late' }]);
    expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
  } finally {
    await admin((c) => c.query("SELECT pg_drop_replication_slot('kapman_e2e_late')"));
  }
});

test('a subscription on the target: refused, the subscription kept', async () => {
  const db = await target();
  // Never connected and disabled: a subscription only has to exist to be lost by a reset.
  await withDatabase(db, (c) => c.query(`CREATE SUBSCRIPTION kapman_e2e_sub CONNECTION 'host=127.0.0.1 dbname=none'
    PUBLICATION none WITH (connect = false, enabled = false, slot_name = NONE, create_slot = false)`));
  try {
    for (const dryRun of [true, false]) {
      await expect(reset(db, { dryRun })).rejects.toMatchObject({ constructor: TargetInUseError, message: expect.stringMatching(/kapman_e2e_sub/) });
    }
    expect(await rows(db)).toEqual(['KEEP']);
  } finally {
    await withDatabase(db, (c) => c.query('DROP SUBSCRIPTION kapman_e2e_sub'));
  }
});

test('a hot standby made with pg_basebackup -R: refused as read-only (exit 15), also in --dry-run', async () => {
  const db = await target();
  const standbyDir = path.join(path.dirname(dataDir()), 'standby');
  fs.mkdirSync(standbyDir, { mode: 0o700 });
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', standbyDir]); // the server runs as postgres
  run(binDir, 'pg_basebackup', ['-D', standbyDir, '-R', '-X', 'stream', '-d', server.adminUrl]);
  const port = await freePort();
  fs.appendFileSync(path.join(standbyDir, 'postgresql.conf'), `\nport = ${port}\n`);
  startCluster(binDir, standbyDir);
  try {
    const onStandby = loadSettings({ env: 'test', databaseUrl: (() => { const u = new URL(db.url); u.port = String(port); return u.toString(); })() });
    for (const dryRun of [true, false]) await expect(reset(onStandby, { dryRun })).rejects.toBeInstanceOf(ReadOnlyTargetError);
    const r = startNpm('db:reset', ['--quiet'], { DATABASE_URL: onStandby.url }, 'reset');
    expect((await r.done).code).toBe(15);
    expect(await rows(db)).toEqual(['KEEP']);
  } finally {
    stopCluster(binDir, standbyDir);
  }
});

test.each([
  ['once the build database exists', /created beside/],
  ['while a migration runs', new RegExp(`applying ${MIDDLE_MIGRATION.replace('.', '\\.')}`)],
])('the server crashes %s: exit 4, the target unchanged after restart, the leftover removed by the next reset', async (_moment, moment) => {
  const db = await target();
  const before = await admin((c) => databaseAttributes(c, db.database));
  const run1 = startNpm('db:reset', [], { DATABASE_URL: db.url }, 'reset');
  await run1.waitFor(moment);
  run(binDir, 'pg_ctl', ['-D', dataDir(), '-m', 'immediate', 'stop']); // a crash: no shutdown checkpoint
  const { code, err } = await run1.done;
  expect({ code, err }).toEqual({ code: 4, err: expect.stringMatching(/^kapman: error: (the connection to the server (at \S+ )?was lost|cannot reach the server)/) });
  startCluster(binDir, dataDir());

  expect(await rows(db)).toEqual(['KEEP']);
  expect(await admin((c) => databaseAttributes(c, db.database))).toEqual(before);
  await reset(db);
  expect(await admin((c) => databasesLike(c, buildPrefix(db.database)))).toEqual([]);
  expect((await verify(db, { empty: true })).ok).toBe(true);
});
