// Backups and restores in-process, each check once on a small database: the files are private,
// a failed backup leaves nothing, a changed archive is refused by its sha256 before anything is
// touched, and TimescaleDB's post-restore step leaves the database out of restoring mode.
// (Round trips full of data, the commands as processes, signals and the docker path: e2e/backup.test.ts.)
import fs from 'fs';
import os from 'os';
import path from 'path';
import { escapeIdentifier } from 'pg';
import { BackupFailedError, BackupInvalidError } from '../../scripts/lib/cli/errors';
import { backupDatabase } from '../../scripts/lib/backup/backup';
import { restore } from '../../scripts/lib/backup/restore';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { Settings } from '../../scripts/lib/server/settings';
import { databasesLike } from '../support/schema';
import {
  admin, createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, testSettings, uniqueName, urlAs, withDatabase,
} from '../support/testDatabase';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-backup-'));
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await dropMadeDatabases();
  await dropMadeRoles();
});

const modeOf = (f: string) => fs.statSync(f).mode & 0o777;
const symbols = (db: Settings) => withDatabase(db, async (c) => (await c.query('SELECT symbol FROM tickers ORDER BY 1')).rows.map((r) => r.symbol));

/** One backup of a migrated database holding a row, into a folder it creates, under umask 022; shared by the tests below. */
let shared: Promise<{ src: Settings; file: string }> | undefined;
const oneBackup = () => (shared ??= (async () => {
  const src = await createMigratedDatabase('_bk_src');
  await withDatabase(src, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('BACKED')"));
  const file = path.join(dir, 'new', 'private', 'b.dump');
  const umask = process.umask(0o022);
  try {
    await backupDatabase(src, { out: file });
  } finally {
    process.umask(umask);
  }
  return { src, file };
})());

test('backups are private under umask 022: the archive and its metadata 0600, each folder it creates 0700, nothing else left', async () => {
  const { file } = await oneBackup();
  const folder = path.dirname(file);
  expect([modeOf(file), modeOf(`${file}.json`), modeOf(folder), modeOf(path.dirname(folder))]).toEqual([0o600, 0o600, 0o700, 0o700]);
  expect(fs.readdirSync(folder).sort()).toEqual(['b.dump', 'b.dump.json']);
});

test('a backup that fails (pg_dump may not read a table) exits 24 and leaves nothing: no archive, no metadata, no partial file, no lock', async () => {
  const role = await createTestRole('bk_dumper');
  const name = remember(uniqueName('_bk_unreadable'));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)}`));
  await withDatabase(testSettings(name), (c) => c.query('CREATE SCHEMA hidden; CREATE TABLE hidden.secret (x int)'));
  const folder = fs.mkdtempSync(path.join(dir, 'fail-'));
  const failed = backupDatabase(testSettings(name, urlAs(role, name)), { out: path.join(folder, 'failed.dump') });
  await expect(failed).rejects.toBeInstanceOf(BackupFailedError);
  await expect(failed).rejects.toMatchObject({ exitCode: 24, message: expect.stringMatching(/pg_dump of .* failed \(exit 1\): .*permission denied/) });
  expect(fs.readdirSync(folder)).toEqual([]);
});

test('restore checks the archive against its sha256 first: one byte changed, same size, is refused (exit 22) before anything is touched', async () => {
  const { file } = await oneBackup();
  const target = await createMigratedDatabase('_bk_flip');
  await withDatabase(target, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('KEEP')"));
  const flipped = path.join(dir, 'flipped.dump');
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  fs.writeFileSync(flipped, bytes);
  fs.copyFileSync(`${file}.json`, `${flipped}.json`);
  const refused = restore(target, flipped);
  await expect(refused).rejects.toBeInstanceOf(BackupInvalidError);
  await expect(refused).rejects.toMatchObject({ exitCode: 22, message: expect.stringMatching(/truncated or changed/) });
  expect(await symbols(target)).toEqual(['KEEP']);
  expect(await admin((c) => databasesLike(c, buildPrefix(target.database)))).toEqual([]);
});

test("restore's post-restore step (timescaledb_post_restore): the restored database is out of restoring mode, its jobs scheduled, its hypertable takes rows", async () => {
  const { src, file } = await oneBackup();
  const dst = testSettings(remember(uniqueName('_bk_dst')));
  await restore(dst, file);
  expect(await symbols(dst)).toEqual(['BACKED']);
  // timescaledb_pre_restore() set timescaledb.restoring on for the database; the step takes it off again.
  const settings = await admin(async (c) => (await c.query(`SELECT coalesce(array_agg(cfg), '{}') AS cfg FROM pg_db_role_setting s
    JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) cfg WHERE d.datname = $1`, [dst.database])).rows[0].cfg as string[]);
  expect(settings.filter((s) => s.startsWith('timescaledb.restoring'))).toEqual([]);
  const jobs = (db: Settings) => withDatabase(db, async (c) => (await c.query(
    'SELECT application_name, scheduled FROM timescaledb_information.jobs ORDER BY job_id')).rows);
  await withDatabase(dst, async (c) => {
    // What TimescaleDB's scheduler reads before it schedules anything in a database: not restoring.
    expect((await c.query("SELECT current_setting('timescaledb.restoring') AS r")).rows[0].r).toBe('off');
    // Restoring mode refuses a row into a hypertable; out of it, the row makes its chunk.
    const { rows: [ticker] } = await c.query('SELECT id FROM tickers');
    await c.query("INSERT INTO ohlcv (ticker_id, date, close) VALUES ($1, '2024-01-02', 1)", [ticker.id]);
    expect((await c.query("SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'ohlcv'")).rows[0].n).toBe(1);
  });
  // Every database with TimescaleDB (2.15 and later) has a job of its own, its job history's retention.
  const sourceJobs = await jobs(src);
  expect(sourceJobs.length).toBeGreaterThan(0);
  expect(await jobs(dst)).toEqual(sourceJobs.map((j) => ({ ...j, scheduled: true })));
});
