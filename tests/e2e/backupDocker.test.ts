// In test:e2e: real pg_dump/pg_restore round trips through the docker stand-in, as backup.test.ts.
// db:backup and db:restore through the docker compose development database's own binaries,
// the path taken when no local client is recent enough. The real engine's round trip is
// tests/docker/compose.test.ts; this stand-in for the docker CLI (tests/support/dockerShim.ts)
// records every argv (so a password on a command line would show) and gives the failures a
// real engine will not on demand: no Compose plugin, an exec failing after the checks.
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { backupDatabase } from '../../scripts/lib/backup/backup';
import { restore } from '../../scripts/lib/backup/restore';
import { findTool } from '../../scripts/lib/server/clientTools';
import { BackupFailedError, ClientToolsError, RestoreFailedError } from '../../scripts/lib/cli/errors';
import { buildPrefix } from '../../scripts/lib/replace/replace';
import { withMaintenanceClient } from '../../scripts/lib/server/connection';
import { DEFAULT_PG_BIN } from '../../scripts/lib/server/localCluster';
import { runScript } from '../support/cli';
import { installDockerShim, ShimCall } from '../support/dockerShim';
import { databasesLike } from '../support/schema';
import { fillEveryTable, fingerprint } from '../support/tradingData';
import {
  createMigratedDatabase, dropMadeDatabases, remember, serverSettings, serverUrl, testSettings, uniqueName, withDatabase,
} from '../support/testDatabase';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-docker-'));
const shimDir = path.join(dir, 'bin');
const emptyPgBin = path.join(dir, 'no-postgres');
fs.mkdirSync(shimDir);
fs.mkdirSync(emptyPgBin);
const server = new URL(serverUrl());
const password = decodeURIComponent(server.password);
const shim = installDockerShim(shimDir, {
  server: { host: server.hostname, port: Number(server.port || 5432) },
  binDir: DEFAULT_PG_BIN,
  publishedPort: Number(server.port || 5432),
  compose: true,
  running: true,
  log: path.join(dir, 'docker-calls.jsonl'),
});

// The local client made invisible: PG_BIN an empty folder, PATH without a folder holding pg_dump
// or pg_restore (/usr/bin goes too: Debian links them there), and the stand-in first on it.
const saved = { PATH: process.env.PATH, PG_BIN: process.env.PG_BIN };
const hasClient = (d: string) => ['pg_dump', 'pg_restore'].some((t) => fs.existsSync(path.join(d, t)));
const noClient = { PATH: [shimDir, ...(saved.PATH ?? '').split(path.delimiter).filter((d) => d && !hasClient(d))].join(path.delimiter), PG_BIN: emptyPgBin };
beforeAll(() => Object.assign(process.env, noClient));
afterAll(async () => {
  Object.assign(process.env, saved);
  if (saved.PG_BIN === undefined) delete process.env.PG_BIN;
  fs.rmSync(dir, { recursive: true, force: true });
  await dropMadeDatabases();
});
beforeEach(() => shim.clear());

const execs = (calls: ShimCall[]) => calls.filter((c) => c.argv[1] === 'exec');
const print = (db: Parameters<typeof withDatabase>[0]) => withDatabase(db, fingerprint);

async function filledSource(label: string) {
  const src = await createMigratedDatabase(label);
  await withDatabase(src, (c) => fillEveryTable(c));
  return src;
}

/** A filled database and its backup through the Docker path; made once, by the first test that asks. */
async function sourceAndBackup() {
  const src = await filledSource('_dsrc');
  const before = await print(src);
  const file = path.join(dir, `${src.database}.dump`);
  shim.clear();
  const { metadata } = await backupDatabase(src, { out: file });
  const calls = shim.calls();
  shim.clear();
  return { src, before, file, metadata, calls };
}
let shared: ReturnType<typeof sourceAndBackup> | undefined;
const oneBackup = () => (shared ??= sourceAndBackup());

test('without a local client, a backup and a restore go through docker compose exec and give every row back; no password on any command line', async () => {
  expect(() => findTool('pg_dump', 15)).toThrow(ClientToolsError); // the local client is really out of sight
  const { src, before, file, metadata, calls: backupCalls } = await oneBackup();
  expect(metadata.pgDump).toMatch(/^15\./);
  expect(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith(path.basename(file))).sort()).toEqual([path.basename(file), `${path.basename(file)}.json`]);

  const dst = testSettings(remember(uniqueName('_ddst')));
  const result = await restore(dst, file);
  expect(result.rowCounts).toEqual(metadata.rowCounts);
  expect(await print(dst)).toEqual(before);

  const calls = [...backupCalls, ...shim.calls()];
  const run = execs(calls).filter((c) => !c.argv.includes('--version'));
  expect(run.map((c) => c.argv[c.argv.indexOf('timescaledb') + 1])).toEqual(['pg_dump', 'pg_restore']);
  for (const c of run) {
    expect(c.argv.slice(0, 6)).toEqual(['compose', 'exec', '-T', '-e', 'PGPASSWORD', 'timescaledb']);
    expect(c.envPassed).toEqual(['PGPASSWORD']); // the value was in the CLI's environment, not its argv
    // The container's own connection: its socket, no host or port of this machine.
    const dbname = c.argv.find((a) => a.startsWith('--dbname='))!;
    expect(dbname).not.toMatch(/\b(host|hostaddr|port|password)=/);
  }
  expect(run[0].argv).toContain(`--dbname=user='${server.username}' dbname='${src.database}' application_name='kapman-db'`);
  expect(run[1].argv.some((a) => a.startsWith(`--dbname=user='${server.username}' dbname='${buildPrefix(dst.database)}`))).toBe(true);
  for (const c of calls) expect(JSON.stringify(c.argv)).not.toContain(password);
});

test('a local client recent enough is preferred: docker is not asked; it restores an archive the container wrote', async () => {
  const { file, before } = await oneBackup(); // written through a pipe: pg_dump could not seek to record data offsets
  const src = await createMigratedDatabase('_dlocal');
  const dst = testSettings(remember(uniqueName('_dlocaldst')));
  shim.clear();
  process.env.PG_BIN = DEFAULT_PG_BIN;
  try {
    await backupDatabase(src, { out: path.join(dir, `${src.database}.dump`) });
    await restore(dst, file);
  } finally {
    process.env.PG_BIN = emptyPgBin;
  }
  expect(shim.calls()).toEqual([]);
  expect(await print(dst)).toEqual(before);
});

test('a target that is not the compose service\'s published port is refused with exit 21, saying why, before any exec', async () => {
  const src = await createMigratedDatabase('_dother');
  const other = Number(server.port || 5432) + 1;
  shim.set({ publishedPort: other });
  try {
    const err = await backupDatabase(src, { out: path.join(dir, 'other.dump') }).catch((e) => e);
    expect(err).toBeInstanceOf(ClientToolsError);
    expect(err.exitCode).toBe(21);
    expect(err.message).toContain(`is not the docker compose service timescaledb, published on 0.0.0.0:${other}`);
    expect(err.hint).toContain('apt-get install postgresql-client-15');
  } finally {
    shim.set({ publishedPort: Number(server.port || 5432) });
  }
  expect(execs(shim.calls())).toEqual([]);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('other.dump'))).toEqual([]);
});

test('a docker CLI without the Compose plugin: exit 21 with one plain sentence, none of docker\'s usage text', async () => {
  const src = await createMigratedDatabase('_dnoplugin');
  shim.set({ compose: false });
  try {
    const r = runScript('backup', ['--out', path.join(dir, 'noplugin.dump')], { DATABASE_URL: src.url });
    expect(r.code).toBe(21);
    expect(r.err).toMatch(/pg_dump was not found .*docker compose \(the Compose v2 plugin of the docker CLI\) is not installed/);
    expect(r.err).toContain('postgresql-client-15');
    expect(r.err).not.toMatch(/docker --help|unknown command/);
    expect(`${r.out}${r.err}`).not.toContain(password);
  } finally {
    shim.set({ compose: true });
  }
  expect(shim.calls().map((c) => c.argv.slice(0, 2))).toEqual([['compose', 'version']]);
});

test('an exec that fails after the checks (the container gone) is exit 24 and leaves no file', async () => {
  const src = await createMigratedDatabase('_dgone');
  const file = path.join(dir, 'gone.dump');
  shim.set({ failExec: 'pg_dump' });
  try {
    const err = await backupDatabase(src, { out: file }).catch((e) => e);
    expect(err).toBeInstanceOf(BackupFailedError);
    expect(err.exitCode).toBe(24);
    expect(err.message).toContain('service "timescaledb" is not running');
    expect(err.hint).toContain('docker compose ps');
  } finally {
    shim.set({ failExec: undefined });
  }
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('gone.dump'))).toEqual([]);
});

test('an archive pg_restore rejects at once, streamed into the container, is exit 25 and leaves the target as it was', async () => {
  const { file: good } = await oneBackup();
  const target = await createMigratedDatabase('_dkeep');
  await withDatabase(target, (c) => fillEveryTable(c, 'KEEP'));
  const before = await print(target);

  // Not an archive from its first byte, and far more than a pipe holds, so pg_restore quits with
  // most of it unsent: the broken pipe on our side must not hide its exit code.
  const bad = path.join(dir, 'bad.dump');
  const bytes = Buffer.concat([Buffer.from('NOTADUMP'), crypto.randomBytes(1 << 20)]);
  fs.writeFileSync(bad, bytes);
  const meta = JSON.parse(fs.readFileSync(`${good}.json`, 'utf8'));
  meta.archive = { ...meta.archive, file: 'bad.dump', bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
  fs.writeFileSync(`${bad}.json`, JSON.stringify(meta));

  const err = await restore(target, bad).catch((e) => e);
  expect(err).toBeInstanceOf(RestoreFailedError);
  expect(err.exitCode).toBe(25);
  expect(err.message).toMatch(/pg_restore failed \(exit 1\): .*(not appear to be a valid archive|input file)/);
  expect(err.message).not.toMatch(/EPIPE|reading .* failed/); // pg_restore's reason, not the pipe it left
  expect(await print(target)).toEqual(before);
  expect(await withMaintenanceClient(serverSettings(), (c) => databasesLike(c, buildPrefix(target.database)))).toEqual([]);
  expect(execs(shim.calls()).some((c) => c.argv.includes('pg_restore') && !c.argv.includes('--version'))).toBe(true);
});
