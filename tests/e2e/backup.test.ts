// In tests/e2e (npm run test:e2e): real pg_dump/pg_restore round trips and db:backup/db:restore/db:reset processes.
// db:backup and db:restore: a round trip gives back every row; a restore that cannot finish
// leaves the target as it was; a production reset backs up first; a restored database
// verifies, and a real change to it is still reported.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { escapeIdentifier } from 'pg';
import { CONTRACT, TABLE_NAMES } from '../../db/contract';
import { backupDatabase } from '../../scripts/lib/backup/backup';
import { readBackup, sha256OfFile } from '../../scripts/lib/backup/metadata';
import { clientConnection } from '../../scripts/lib/server/clientTools';
import { readConnectionUrl } from '../../scripts/lib/server/connectionUrl';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { loadSettings, Settings } from '../../scripts/lib/server/settings';
import { restore } from '../../scripts/lib/backup/restore';
import { verify } from '../../scripts/lib/schema/verify';
import { ROOT, runScript, startScript } from '../support/cli';
import { migrationFiles } from '../support/expected';
import { startNpm } from '../support/npm';
import { plainClient } from '../support/owned';
import { databaseAttributes, databasesLike } from '../support/schema';
import { fillEveryTable, fingerprint } from '../support/tradingData';
import {
  admin, createMigratedDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, remember, runPrefix, serverUrl, testSettings, uniqueName, urlAs, withDatabase,
} from '../support/testDatabase';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-backups-'));
const written: string[] = [];
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const f of written) for (const x of [f, `${f}.json`]) fs.rmSync(x, { force: true });
  // Whatever a production command of this run wrote into the project's backups/ (a failed test included).
  const projectBackups = path.join(ROOT, 'backups');
  for (const f of fs.existsSync(projectBackups) ? fs.readdirSync(projectBackups) : []) {
    if (f.startsWith(runPrefix())) fs.rmSync(path.join(projectBackups, f), { force: true });
  }
  await dropMadeDatabases();
  await dropMadeRoles();
});

const print = (db: Settings) => withDatabase(db, fingerprint);
const password = decodeURIComponent(new URL(serverUrl()).password);

/** A migrated database with rows in every table (tagged `tag`), and its fingerprint. */
async function filledDatabase(label: string, tag?: string): Promise<{ target: Settings; before: Record<string, string | number> }> {
  const target = await createMigratedDatabase(label);
  await withDatabase(target, (c) => fillEveryTable(c, tag));
  return { target, before: await print(target) };
}

/** A migrated database with rows in every table, and a backup of it. */
async function sourceAndBackup(label: string): Promise<{ src: Settings; file: string; before: Record<string, string | number> }> {
  const { target: src, before } = await filledDatabase(label);
  const file = path.join(dir, `${src.database}.dump`);
  await backupDatabase(src, { out: file });
  return { src, file, before };
}

let shared: Promise<{ src: Settings; file: string; before: Record<string, string | number> }> | undefined;
const oneBackup = () => (shared ??= sourceAndBackup('_src'));

test('a round trip gives back every row of every table, ohlcv in the same chunks; the source is untouched', async () => {
  const { src, file, before } = await oneBackup();
  expect(before.ohlcvChunks).toBeGreaterThanOrEqual(3);
  expect(before.ohlcv).toMatch(/^3120 rows/);
  for (const t of CONTRACT.tables) expect(before[t.name]).not.toMatch(/^0 rows/);

  const meta = await readBackup(file);
  expect(meta.rowCounts.ohlcv).toBe(3120);
  expect(meta.chunks.ohlcv).toBe(before.ohlcvChunks);
  expect(meta.migrations.map((m) => m.name)).toEqual(migrationFiles());
  expect(meta.migrations.every((m) => /^[0-9a-f]{64}$/.test(m.sha256 ?? ''))).toBe(true);
  expect(meta.timescaledb).toMatch(/^2\./);

  const dst = testSettings(remember(uniqueName('_dst'))); // does not exist yet: the restore creates it
  const result = await restore(dst, file);
  expect(result.rowCounts).toEqual(meta.rowCounts);
  expect(await print(dst)).toEqual(before);
  expect(await print(src)).toEqual(before);
  expect((await verify(dst)).differences).toEqual([]);
});

test('a restored database verifies although its CHECK deparses differently, and a real change to it is still reported', async () => {
  const { file } = await oneBackup();
  const dst = testSettings(remember(uniqueName('_mean')));
  await restore(dst, file);
  const wyckoff = 'daily_snapshots_wyckoff_phase_check';
  const text = await withDatabase(dst, async (c) => (await c.query('SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = $1', [wyckoff])).rows[0].d);
  const contract = CONTRACT.tables.find((t) => t.name === 'daily_snapshots')!.constraints[wyckoff];
  expect(text).not.toBe(contract); // the dump and restore changed the text: the case the comparison is for
  expect((await verify(dst)).ok).toBe(true);

  await withDatabase(dst, async (c) => {
    await c.query(`ALTER TABLE daily_snapshots DROP CONSTRAINT ${wyckoff}`);
    await c.query(`ALTER TABLE daily_snapshots ADD CONSTRAINT ${wyckoff} CHECK (wyckoff_phase IN ('A', 'B', 'C', 'D')) NOT VALID`);
    await c.query('ALTER TABLE tickers ALTER COLUMN is_active SET DEFAULT false');
    await c.query('DROP INDEX ohlcv_date_idx');
    await c.query('CREATE INDEX ohlcv_date_idx ON ohlcv (date)');
  });
  const report = await verify(dst);
  expect(report.ok).toBe(false);
  expect(report.differences.map((d) => [d.group, d.kind, d.item])).toEqual([
    ['tickers', 'changed', 'column is_active'],
    ['ohlcv', 'changed', 'index ohlcv_date_idx'],
    ['daily_snapshots', 'changed', `constraint ${wyckoff}`],
  ]);
  expect(report.differences[0]).toMatchObject({ expected: 'boolean NOT NULL DEFAULT true', actual: 'boolean NOT NULL DEFAULT false' });
  expect(report.differences[1]).toMatchObject({ expected: 'btree (date DESC)', actual: 'btree (date)' });
});

test('a restore into an existing database with other data replaces it, keeps its identity and gives everything to its owner', async () => {
  const { file, before } = await oneBackup();
  const role = await createTestRole('rowner', 'CREATEDB');
  const name = remember(uniqueName('_existing'));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)} CONNECTION LIMIT 30`));
  const asOwner = loadSettings({ env: 'test', databaseUrl: urlAs(role, name) });
  expect(runScript('migrate', [], { DATABASE_URL: asOwner.url }).code).toBe(0);
  await withDatabase(asOwner, (c) => fillEveryTable(c, 'OTHER'));
  const identity = await admin((c) => databaseAttributes(c, name));

  const r = runScript('restore', [file], { DATABASE_URL: testSettings(name).url });
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  expect(`${r.out}${r.err}`).not.toContain(password);
  expect(r.out).toMatch(/row counts match the backup: .*ohlcv 3120/);
  expect(await print(asOwner)).toEqual(before);
  expect(await admin((c) => databaseAttributes(c, name))).toEqual(identity);
  expect((await verify(asOwner)).differences).toEqual([]); // the ownership check included
  expect(runScript('migrate', [], { DATABASE_URL: asOwner.url }).code).toBe(0);
});

test('a truncated backup is refused before anything is touched (exit 22); one that pg_restore cannot read leaves the target as it was (exit 25)', async () => {
  const { file } = await oneBackup();
  const { target, before } = await filledDatabase('_keep', 'KEEP');

  const truncated = path.join(dir, 'truncated.dump');
  fs.writeFileSync(truncated, fs.readFileSync(file).subarray(0, Math.floor(fs.statSync(file).size / 2)));
  fs.copyFileSync(`${file}.json`, `${truncated}.json`);
  const refused = runScript('restore', [truncated], { DATABASE_URL: target.url });
  expect(refused.code).toBe(22);
  expect(refused.err).toMatch(/truncated or changed/);

  // The same archive with metadata that claims it: pg_restore itself fails, in the build.
  const meta = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8'));
  meta.archive = { ...meta.archive, bytes: fs.statSync(truncated).size, sha256: await sha256OfFile(truncated) };
  fs.writeFileSync(`${truncated}.json`, JSON.stringify(meta));
  const failed = runScript('restore', [truncated], { DATABASE_URL: target.url });
  expect(failed.code).toBe(25);
  expect(failed.out).toMatch(/nothing changed: .* is as it was/);
  expect(await print(target)).toEqual(before);
  expect(await admin((c) => databasesLike(c, buildPrefix(target.database)))).toEqual([]);
});

type Metadata = { migrations: object[]; timescaledb: string } & Record<string, unknown>;

/** A copy of the backup `file` as `name` in the test's folder, its metadata changed by `change` (the archive as it was); and the original metadata. */
function withMetadata(file: string, name: string, change: (meta: Metadata) => object): { other: string; meta: Metadata } {
  const other = path.join(dir, name);
  fs.copyFileSync(file, other);
  const meta: Metadata = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8'));
  fs.writeFileSync(`${other}.json`, JSON.stringify(change(meta)));
  return { other, meta };
}

test('a backup of another TimescaleDB version is refused naming both versions, before anything is touched (exit 23)', async () => {
  const { file } = await oneBackup();
  const { target, before } = await filledDatabase('_ver', 'VER');
  const { other, meta } = withMetadata(file, 'other-version.dump', (meta) => ({ ...meta, timescaledb: '2.1.0' }));
  const r = runScript('restore', [other], { DATABASE_URL: target.url });
  expect(r.code).toBe(23);
  expect(r.err).toContain('TimescaleDB 2.1.0');
  expect(r.err).toContain(`TimescaleDB ${meta.timescaledb}`);
  expect(await print(target)).toEqual(before);
});

test('db:restore refuses production without --force (exit 7) and a system database (exit 6); --dry-run prints the plan and changes nothing', async () => {
  const { file } = await oneBackup();
  const { target, before } = await filledDatabase('_guard', 'G');
  const prod = runScript('restore', [file, '--env', 'production'], { DATABASE_URL: target.url });
  expect(prod.code).toBe(7);
  const system = runScript('restore', [file], { DATABASE_URL: testSettings('postgres').url });
  expect(system.code).toBe(6);
  const dry = runScript('restore', [file, '--dry-run', '--env', 'production', '--force'], { DATABASE_URL: target.url });
  expect(dry.code).toBe(0);
  expect(dry.out).toMatch(/plan \(dry run, nothing changed\)/);
  expect(dry.out).toMatch(/timescaledb_pre_restore\(\), .*pg_restore/);
  expect(await print(target)).toEqual(before);
});

test('a production reset writes a backup first, names it and the command that restores it; that command gives the rows back', async () => {
  const { target, before } = await filledDatabase('_prod', 'P');
  const env = { DATABASE_URL: target.url };
  const r = runScript('reset', ['--env', 'production', '--force', '--quiet'], env);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  const [, file, command] = /written before the reset: (\S+); to restore it: (npm run db:restore -- .*)$/m.exec(r.out) ?? [];
  expect(file).toMatch(new RegExp(`backups/${target.database}-\\d{8}T\\d{6}Z\\.dump$`));
  written.push(file);
  expect(command).toBe(`npm run db:restore -- ${JSON.stringify(file)} --env production --force`);
  expect(r.out).not.toContain(password);
  expect((await verify(target, { empty: true })).ok).toBe(true);

  const args = command.replace('npm run db:restore -- ', '').split(' ').map((a) => (a.startsWith('"') ? JSON.parse(a) : a));
  const restored = runScript('restore', args, env);
  expect({ code: restored.code, err: restored.err }).toEqual({ code: 0, err: '' });
  expect(await print(target)).toEqual(before);

  const noBackup = runScript('reset', ['--env', 'production', '--force', '--quiet', '--no-backup'], env);
  expect(noBackup.code).toBe(0);
  expect(noBackup.out).not.toMatch(/backup/);
});

test('no pg_dump of the server\'s version: a named error naming the package (exit 21), and a production reset drops nothing', async () => {
  const { target, before } = await filledDatabase('_tools', 'K');
  const bin = fs.mkdtempSync(path.join(dir, 'bin-'));
  fs.writeFileSync(path.join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 13.9"\n', { mode: 0o755 });
  const env = { DATABASE_URL: target.url, PG_BIN: bin, PATH: bin };
  const backup = runScript('backup', ['--out', path.join(dir, 'never.dump')], env);
  expect(backup.code).toBe(21);
  expect(backup.err).toMatch(/pg_dump is too old for a PostgreSQL 15 server: found .*\(13\.9\)/);
  expect(backup.err).toMatch(/apt-get install postgresql-client-15/);
  expect(fs.existsSync(path.join(dir, 'never.dump'))).toBe(false);
  const reset = runScript('reset', ['--env', 'production', '--force', '--quiet'], env);
  expect(reset.code).toBe(21);
  expect(await print(target)).toEqual(before);
});

test('pg_dump and pg_restore get the password in their environment, never in the conninfo', () => {
  const url = 'postgres://kapman:s3cr%27et@db.example:6543/kap%20man?sslmode=require';
  const inherited = { PGPASSWORD: 'inherited', PGHOST: 'elsewhere', HOME: '/nonexistent' };
  const { conninfo, env } = clientConnection(readConnectionUrl(url, inherited), inherited);
  expect(conninfo).toBe("host='db.example' port='6543' user='kapman' dbname='kap man' sslmode='require' application_name='kapman-db'");
  expect(env).toEqual({ HOME: '/nonexistent', PGPASSWORD: "s3cr'et" });
});

test("db:backup reports progress by table and chunk, hides TimescaleDB's catalog warnings, and shows a real pg_dump error (exit 24, no file)", async () => {
  const { src } = await oneBackup();
  const out = path.join(dir, 'cli.dump');
  const ok = runScript('backup', ['--out', out], { DATABASE_URL: src.url });
  expect({ code: ok.code, err: ok.err }).toEqual({ code: 0, err: '' });
  expect(ok.out).toMatch(/dumping ohlcv: chunk 1 of 4\n[^]*dumping ohlcv: chunk 4 of 4/);
  expect(ok.out).toMatch(/dumping tickers \(20 rows\)/);
  expect(ok.out).toMatch(new RegExp(`backup written: .*cli\\.dump \\([\\d.]+ kB, \\d+ rows in ${TABLE_NAMES.length} tables, [\\d.]+ s\\)`));
  expect(ok.out).not.toMatch(/circular|hypertable data are in the chunks/);
  expect(ok.out).not.toContain(password);
  expect(fs.existsSync(`${out}.json`)).toBe(true);

  // A table its owner may not read, in a schema of its own: pg_dump must fail and say why.
  const role = await createTestRole('dumper');
  const name = remember(uniqueName('_unreadable'));
  await admin((c) => c.query(`CREATE DATABASE ${escapeIdentifier(name)} OWNER ${escapeIdentifier(role.name)}`));
  await withDatabase(testSettings(name), (c) => c.query('CREATE SCHEMA hidden; CREATE TABLE hidden.secret (x int)'));
  const failed = runScript('backup', ['--out', path.join(dir, 'failed.dump')], { DATABASE_URL: urlAs(role, name) });
  expect(failed.code).toBe(24);
  expect(failed.err).toMatch(/pg_dump of .* failed \(exit 1\): .*permission denied for (schema hidden|table secret)/);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('failed.dump'))).toEqual([]);
});

const modeOf = (f: string) => fs.statSync(f).mode & 0o777;

test('backups are private under umask 022: the archive and its metadata 0600, a folder it creates 0700; --out onto a folder or a foreign file is refused (exit 33)', async () => {
  const { src } = await oneBackup();
  const env = { DATABASE_URL: src.url };
  const folder = path.join(dir, 'new', 'private');
  const file = path.join(folder, 'p.dump');
  const umask = process.umask(0o022);
  try {
    const r = runScript('backup', ['--out', file, '--quiet'], env);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  } finally {
    process.umask(umask);
  }
  expect([modeOf(file), modeOf(`${file}.json`), modeOf(folder), modeOf(path.dirname(folder))]).toEqual([0o600, 0o600, 0o700, 0o700]);
  expect(fs.readdirSync(folder).sort()).toEqual(['p.dump', 'p.dump.json']);

  const onFolder = runScript('backup', ['--out', folder], env);
  expect(onFolder.code).toBe(33);
  expect(onFolder.err).toMatch(/is a folder/);
  const foreign = path.join(dir, 'notes.txt');
  fs.writeFileSync(foreign, 'mine', { mode: 0o600 });
  const onForeign = runScript('backup', ['--out', foreign], env);
  expect(onForeign.code).toBe(33);
  expect(onForeign.err).toMatch(/is not a backup written by kapman-db/);
  expect(fs.readFileSync(foreign, 'utf8')).toBe('mine');
  expect(fs.readdirSync(folder).sort()).toEqual(['p.dump', 'p.dump.json']);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('notes.txt'))).toEqual(['notes.txt']);
  // A backup of this tool is replaced; a foreign file with --force too.
  expect(runScript('backup', ['--out', file, '--quiet'], env).code).toBe(0);
  expect(runScript('backup', ['--out', foreign, '--quiet', '--force'], env).code).toBe(0);
  await readBackup(foreign);
});

test('a second backup to an --out that one is writing is refused (exit 33); the first succeeds and its backup is intact', async () => {
  const src = await createMigratedDatabase('_twice');
  await withDatabase(src, (c) => c.query('CREATE SCHEMA extra; CREATE TABLE extra.t (x int)'));
  const file = path.join(dir, 'twice.dump');
  const holder = await plainClient(src.url, 'holder');
  let first: Promise<{ code: number | null; out: string; err: string }>;
  let second: { code: number | null; out: string; err: string } | undefined;
  try {
    await holder.query('BEGIN; LOCK TABLE extra.t IN ACCESS EXCLUSIVE MODE');
    first = startScript('backup', ['--out', file, '--quiet'], { DATABASE_URL: src.url });
    await waitForSession(src.database, "wait_event_type = 'Lock' AND position('extra' IN query) > 0 AND application_name = 'kapman-db'");
    void startScript('backup', ['--out', file, '--quiet'], { DATABASE_URL: src.url }).then((r) => (second = r));
    // Until the second has ended, or waits behind the same lock as the first.
    await waitForSession(src.database, `wait_event_type = 'Lock' AND position('extra' IN query) > 0
      AND (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position('extra' IN query) > 0) > 1`, () => second !== undefined);
  } finally {
    await holder.end();
  }
  const firstDone = await first;
  expect({ code: firstDone.code, err: firstDone.err }).toEqual({ code: 0, err: '' });
  for (let i = 0; i < 600 && !second; i++) await new Promise((r) => setTimeout(r, 50)); // before the fix it waited behind the lock too
  expect(second?.code).toBe(33);
  expect(second?.err).toMatch(/another backup \(pid \d+\) is writing/);
  await readBackup(file);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('twice.dump')).sort()).toEqual(['twice.dump', 'twice.dump.json']);
});

test('the snapshot session ended while pg_dump runs: exit 24 and nothing left; a killed backup\'s files are removed by the next one, which says so', async () => {
  const src = await createMigratedDatabase('_lost');
  // A table the metadata's counts do not read (not in public) and pg_dump does: it waits behind a lock on it, its snapshot imported.
  await withDatabase(src, (c) => c.query('CREATE SCHEMA extra; CREATE TABLE extra.t (x int)'));
  const folder = fs.mkdtempSync(path.join(dir, 'fail-'));
  const file = path.join(folder, 'lost.dump');
  const holder = await plainClient(src.url, 'holder');
  let run: ReturnType<typeof startNpm>;
  try {
    await holder.query('BEGIN; LOCK TABLE extra.t IN ACCESS EXCLUSIVE MODE');
    run = startNpm('db:backup', ['--out', file], { DATABASE_URL: src.url }, 'backup');
    await waitForSession(src.database, "wait_event_type = 'Lock' AND position('extra' IN query) > 0 AND application_name = 'kapman-db'");
    await admin((c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = $1 AND state = 'idle in transaction' AND application_name = 'kapman-db'`, [src.database]));
  } finally {
    await holder.end();
  }
  const r = await run.done;
  expect(r.code).toBe(24);
  expect(r.err).toMatch(/the backup of .* failed: the connection to the server .* was lost/);
  expect(fs.readdirSync(folder)).toEqual([]);

  // Killed while pg_dump waits behind the same lock, so that it cannot finish first on a busy machine.
  const again = await plainClient(src.url, 'holder');
  try {
    await again.query('BEGIN; LOCK TABLE extra.t IN ACCESS EXCLUSIVE MODE');
    const killed = startNpm('db:backup', ['--out', file], { DATABASE_URL: src.url }, 'backup');
    await waitForSession(src.database, "wait_event_type = 'Lock' AND position('extra' IN query) > 0 AND application_name = 'kapman-db'");
    process.kill(killed.nodePid(), 'SIGKILL');
    await killed.done;
  } finally {
    await again.end();
  }
  const left = fs.readdirSync(folder);
  expect(left.length).toBeGreaterThan(0);
  expect(left.filter((f) => !/\.partial$|\.backup-lock$/.test(f))).toEqual([]); // killed part-way: nothing complete
  const next = runScript('backup', ['--out', path.join(folder, 'next.dump')], { DATABASE_URL: src.url });
  expect(next.code).toBe(0);
  for (const f of left) expect(next.out).toContain(`removed ${path.join(folder, f)}, left by an interrupted backup`);
  expect(fs.readdirSync(folder).sort()).toEqual(['next.dump', 'next.dump.json']);
});

test('an archive of the recorded size with one byte changed is refused by its sha256 (exit 22), nothing touched', async () => {
  const { file } = await oneBackup();
  const { target, before } = await filledDatabase('_flip', 'FLIP');
  const flipped = path.join(dir, 'flipped.dump');
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  fs.writeFileSync(flipped, bytes);
  fs.copyFileSync(`${file}.json`, `${flipped}.json`);
  expect(fs.statSync(flipped).size).toBe(fs.statSync(file).size);
  const r = runScript('restore', [flipped], { DATABASE_URL: target.url });
  expect(r.code).toBe(22);
  expect(r.err).toMatch(/truncated or changed/);
  expect(await print(target)).toEqual(before);
  expect(await admin((c) => databasesLike(c, buildPrefix(target.database)))).toEqual([]);
});

/** Polls until a session on `database` matches `where`, or `done` says to stop (at most 60 s). */
async function waitForSession(database: string, where: string, done = () => false): Promise<void> {
  for (let i = 0; i < 1200 && !done(); i++) {
    const { rows } = await admin((c) => c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND ${where}`, [database]));
    if (rows.length) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!done()) throw new Error(`no session on ${database} where ${where}`);
}

test('a backup of another migration set is refused from FILE.json before anything is built (exit 25), naming the difference', async () => {
  const { file } = await oneBackup();
  const { target, before } = await filledDatabase('_set', 'SET');
  const { other } = withMetadata(file, 'other-set.dump', (meta) => ({ ...meta, migrations: [...meta.migrations, { name: '0099_future.ts', sha256: 'f'.repeat(64) }] }));
  const r = runScript('restore', [other], { DATABASE_URL: target.url });
  expect(r.code).toBe(25);
  expect(r.err).toMatch(/another set of migrations than this checkout's \(0099_future\.ts in the backup, not in this checkout\)/);
  expect(r.out).not.toMatch(/created beside|restored/);
  expect(await print(target)).toEqual(before);
});

test("a backup granting to a role the server lacks is refused before anything is built, naming it (exit 34); --no-acl restores it without the grants", async () => {
  const { target: src } = await filledDatabase('_grants', 'GR');
  const reader = await createTestRole('gone');
  await withDatabase(src, (c) => c.query(`GRANT SELECT ON tickers TO ${escapeIdentifier(reader.name)}`));
  const file = path.join(dir, 'grants.dump');
  expect(runScript('backup', ['--out', file, '--quiet'], { DATABASE_URL: src.url }).code).toBe(0);
  await withDatabase(src, (c) => c.query(`REVOKE ALL ON tickers FROM ${escapeIdentifier(reader.name)}`));
  await admin((c) => c.query(`DROP ROLE ${escapeIdentifier(reader.name)}`));

  const { target, before } = await filledDatabase('_acl', 'ACL');
  const refused = runScript('restore', [file], { DATABASE_URL: target.url });
  expect(refused.code).toBe(34);
  expect(refused.err).toContain(`grants to roles this server lacks: ${reader.name}`);
  expect(refused.err).toMatch(/--no-acl/);
  expect(refused.out).not.toMatch(/created beside/);
  expect(await print(target)).toEqual(before);

  const restored = runScript('restore', [file, '--no-acl'], { DATABASE_URL: target.url });
  expect({ code: restored.code, err: restored.err }).toEqual({ code: 0, err: '' });
  expect(restored.out).toContain(`warning: ${file} is a backup of ${src.database}, not of ${target.database}`);
  expect(await print(target)).toEqual(await print(src));
  expect((await verify(target)).differences).toEqual([]);
});
