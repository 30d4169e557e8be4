// A backup of one database: pg_dump's custom format, and beside it the metadata (metadata.ts).
// The counts in the metadata and the dump see the same moment: the counts are read in a
// transaction whose snapshot pg_dump is given (--snapshot), held open until pg_dump is done.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import type { Client } from 'pg';
import { withClient } from '../server/connection';
import { stampedFile } from '../paths';
import {
  BackupFailedError, BackupTargetError, ClientToolsError, ConnectionLostError, DatabaseClosedError, DatabaseMissingError, KapmanError, ServerUnreachableError,
} from '../cli/errors';
import { isStopping, onInterrupt } from '../cli/interrupt';
import { readAppliedMigrations, rowCounts } from '../schema/introspect';
import { count, detail, log } from '../cli/log';
import { Settings } from '../server/settings';
import { BackupMetadata, METADATA_FORMAT, metadataFile, sha256OfFile } from './metadata';
import { chooseTool, describeTool, runTool } from '../server/clientTools';

export interface BackupOptions {
  /** Where to write the archive; default backups/<database>-<UTC timestamp>.dump in the project. */
  out?: string;
  /** Replace an existing `out` that is not a backup of this tool. */
  force?: boolean;
}

export interface BackupResult {
  file: string;
  metadata: BackupMetadata;
  bytes: number;
  ms: number;
}

/** backups/<database>-<UTC timestamp>.dump, the name made safe for any file system. */
export function defaultBackupFile(database: string, now = new Date()): string {
  return stampedFile('backups', database, 'dump', now);
}

export const restoreCommand = (file: string, env: string) =>
  `npm run db:restore -- ${JSON.stringify(file)}${env === 'development' ? '' : ` --env ${env}`}${env === 'production' ? ' --force' : ''}`;

interface Snapshot {
  id: string;
  metadata: Omit<BackupMetadata, 'pgDump' | 'archive'>;
  /** Chunk table (schema.name) -> its hypertable, to report progress by hypertable. */
  chunkOf: Map<string, string>;
  /** TimescaleDB's catalog tables, whose circular keys pg_dump warns about for nothing. */
  catalogTables: Set<string>;
}

async function readSnapshot(client: Client, database: string): Promise<Snapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const { rows: [s] } = await client.query(`SELECT pg_export_snapshot() AS id, current_setting('server_version') AS version,
      current_setting('server_version_num')::int AS num,
      (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb`);
  const { rows: tables } = await client.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1");
  const names = tables.map((t) => t.relname as string);
  const chunks: Record<string, number> = {};
  const chunkOf = new Map<string, string>();
  const catalogTables = new Set<string>();
  if (s.timescaledb) {
    const { rows } = await client.query(`SELECT hypertable_name, chunk_schema || '.' || chunk_name AS chunk
      FROM timescaledb_information.chunks WHERE hypertable_schema = 'public' ORDER BY 1, 2`);
    for (const r of rows) {
      chunks[r.hypertable_name] = (chunks[r.hypertable_name] ?? 0) + 1;
      chunkOf.set(r.chunk, r.hypertable_name);
    }
    const { rows: cat } = await client.query("SELECT relname FROM pg_class WHERE relnamespace = '_timescaledb_catalog'::regnamespace AND relkind = 'r'");
    for (const r of cat) catalogTables.add(r.relname);
  }
  return {
    id: s.id,
    chunkOf,
    catalogTables,
    metadata: {
      format: METADATA_FORMAT, database, createdAt: new Date().toISOString(),
      server: { version: s.version, versionNum: s.num }, timescaledb: s.timescaledb,
      migrations: await readAppliedMigrations(client), rowCounts: await rowCounts(client, names, names), chunks,
    },
  };
}

/**
 * pg_dump's stderr, sorted: table lines become progress, TimescaleDB's harmless noise is
 * dropped (circular keys within its own catalog; "hypertable data are in the chunks"), and
 * anything else is kept, to be printed and, on failure, reported.
 */
export class DumpOutput {
  readonly kept: string[] = [];
  private block: 'circular' | 'notice' | undefined;
  private circular: string[] = [];
  private chunksDone = new Map<string, number>();

  constructor(private snapshot: Pick<Snapshot, 'chunkOf' | 'catalogTables' | 'metadata'>, private say: (line: string) => void) {}

  line(text: string): void {
    const body = text.replace(/^pg_dump: /, '');
    if (this.block === 'circular') {
      const detail = /^detail: (.*)$/.exec(body);
      if (detail) return void this.circular.push(detail[1]);
      if (/^hint: /.test(body)) return;
      this.endCircular();
    }
    if (this.block === 'notice') {
      if (/^(DETAIL|HINT): /.test(text)) return;
      this.block = undefined;
    }
    if (/^warning: there are circular foreign-key constraints/.test(body)) {
      this.block = 'circular';
      this.circular = [body];
      return;
    }
    if (/^NOTICE: +hypertable data are in the chunks/.test(body)) return void (this.block = 'notice');
    const table = /^dumping contents of table "([^"]+)\.([^"]+)"$/.exec(body);
    if (table) return this.progress(table[1], table[2]);
    if (/^(reading|identifying|finding|flagging|saving|last built-in|processing|creating|setting|dumping|executing)\b/.test(body)) return;
    this.kept.push(text);
    this.say(text);
  }

  end(): void {
    if (this.block === 'circular') this.endCircular();
    this.block = undefined;
  }

  private endCircular(): void {
    const [warning, ...tables] = this.circular;
    this.block = undefined;
    if (tables.length && tables.every((t) => this.snapshot.catalogTables.has(t))) return;
    for (const line of [warning, ...tables.map((t) => `detail: ${t}`)]) {
      this.kept.push(`pg_dump: ${line}`);
      this.say(`pg_dump: ${line}`);
    }
  }

  private progress(schema: string, table: string): void {
    const hypertable = this.snapshot.chunkOf.get(`${schema}.${table}`);
    if (hypertable) {
      const done = (this.chunksDone.get(hypertable) ?? 0) + 1;
      this.chunksDone.set(hypertable, done);
      return detail(`dumping ${hypertable}: chunk ${done} of ${this.snapshot.metadata.chunks[hypertable]}`);
    }
    if (schema !== 'public') return; // TimescaleDB's catalog and knex's bookkeeping: small, and not the user's
    const rows = this.snapshot.metadata.rowCounts[table];
    if (this.snapshot.metadata.chunks[table] === undefined) detail(`dumping ${table} (${rows === undefined ? '? rows' : count(rows, 'row')})`);
  }
}

const human = (bytes: number) => (bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / (1 << 20)).toFixed(1)} MB`);

// What a run writes before its files are complete: FILE.<pid>-<random>.partial and
// FILE.json.<pid>-<random>.partial, a name of its own per run; and FILE.backup-lock, holding
// its pid, while it writes FILE. A later run in the folder removes those of a process that is gone.
const PARTIAL = /\.(\d+)-[0-9a-f]{8}\.partial$/;
const LOCK_SUFFIX = '.backup-lock';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // another user's process: alive
  }
}

/** Creates `file` (it must not exist), readable by its owner only whatever the umask. */
function createPrivate(file: string, content = ''): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    if (content) fs.writeSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
}

/** The folder of the backup, created 0700 (each folder it creates) when missing. */
function makeFolder(folder: string): void {
  const first = fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (!first) return;
  for (let d = folder; d.length >= first.length; d = path.dirname(d)) fs.chmodSync(d, 0o700);
}

/** A backup of this tool: its metadata, beside it, says so. */
function isBackup(file: string): boolean {
  try {
    return JSON.parse(fs.readFileSync(metadataFile(file), 'utf8'))?.format === METADATA_FORMAT;
  } catch {
    return false;
  }
}

/** Refuses, before anything is written, an --out that is a folder, or a file that is not a backup (without --force). */
function checkPlace(file: string, force: boolean | undefined): void {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    throw new BackupTargetError(`--out ${file} is a folder`, `name the archive to write, e.g. --out ${path.join(file, 'kapman.dump')}; nothing was written`);
  }
  if (stat && !isBackup(file) && !force) {
    throw new BackupTargetError(`--out ${file} exists and is not a backup written by kapman-db (no ${path.basename(metadataFile(file))} of its own beside it)`,
      'choose another --out, or pass --force to replace it; nothing was written');
  }
}

/** Removes what backups killed in `folder` left (their process is gone), saying so. */
function removeLeftovers(folder: string): void {
  for (const name of fs.readdirSync(folder)) {
    const full = path.join(folder, name);
    let pid: number | undefined;
    if (PARTIAL.test(name)) pid = Number(PARTIAL.exec(name)![1]);
    else if (name.endsWith(LOCK_SUFFIX)) pid = Number(fs.readFileSync(full, 'utf8').trim()) || 0;
    if (pid === undefined || pid === process.pid || (pid > 0 && processAlive(pid))) continue;
    fs.rmSync(full, { force: true });
    log(`removed ${full}, left by an interrupted backup`);
  }
}

/** Takes FILE.backup-lock for this run; refuses when a live backup holds it. Returns its release. */
function lockFile(file: string): () => void {
  const lock = `${file}${LOCK_SUFFIX}`;
  try {
    createPrivate(lock, `${process.pid}\n`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number(fs.readFileSync(lock, 'utf8').trim());
    throw new BackupTargetError(`another backup (pid ${holder}) is writing ${file}`,
      'wait for it to finish, or choose another --out; nothing was written');
  }
  return () => fs.rmSync(lock, { force: true });
}

/**
 * Any failure once the backup has started, as the exit-24 error, its hint naming the cause. A
 * target that is not there to back up (missing, closed) keeps its own error: its hint is the fix.
 */
function backupFailure(err: unknown, database: string): KapmanError {
  if (err instanceof BackupFailedError || err instanceof BackupTargetError || err instanceof ClientToolsError
    || err instanceof DatabaseMissingError || err instanceof DatabaseClosedError) return err;
  const e = err as NodeJS.ErrnoException;
  const cause = e.code === 'ENOSPC' ? 'the disk is full: free space, or choose another --out'
    : err instanceof ConnectionLostError || err instanceof ServerUnreachableError ? 'the connection to the server was lost (a restart, a terminated session, a reset of the database): run the backup again'
      : 'fix the cause above and run the backup again';
  return new BackupFailedError(`the backup of ${database} failed: ${e.message ?? String(err)}`, `nothing was written; ${cause}`, { cause: err });
}

/**
 * pg_dump -Fc of the target into `out`, with its metadata beside it. Both are written under
 * names of this run and are private (0600); once both are complete, the old metadata is
 * removed, the archive renamed into place, then its metadata: a crash never leaves an archive
 * beside metadata that is not its own. Whatever fails, nothing of this run is left.
 */
export async function backupDatabase(settings: Settings, o: BackupOptions = {}): Promise<BackupResult> {
  const file = path.resolve(o.out ?? defaultBackupFile(settings.database));
  checkPlace(file, o.force);
  makeFolder(path.dirname(file));
  removeLeftovers(path.dirname(file));
  const unlock = lockFile(file);
  const tag = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const partial = `${file}.${tag}.partial`;
  const partialMetadata = `${metadataFile(file)}.${tag}.partial`;
  const removePartials = () => {
    for (const f of [partial, partialMetadata]) fs.rmSync(f, { force: true });
    unlock();
  };
  const forget = onInterrupt(async () => {
    removePartials();
    log(`interrupted: no backup written to ${file}`);
  });
  const started = process.hrtime.bigint();
  try {
    return await withClient(settings, async (client) => {
      const snapshot = await readSnapshot(client, settings.database);
      const tool = chooseTool('pg_dump', Math.floor(snapshot.metadata.server.versionNum / 10000), settings.connection);
      log(`backing up ${settings.database} with ${describeTool(tool)} to ${file}`);
      const output = new DumpOutput(snapshot, log);
      createPrivate(partial); // pg_dump (or the stream from the container) writes into it, keeping its mode
      const code = await runTool(tool, settings.connection, ['--format=custom', '--verbose', `--snapshot=${snapshot.id}`],
        { file: partial, direction: 'write' }, (l) => output.line(l));
      output.end();
      await client.query('COMMIT');
      if (code !== 0) {
        throw new BackupFailedError(`pg_dump of ${settings.database} failed (exit ${code}): ${output.kept.join(' | ') || 'no message'}`,
          `nothing was written; fix the cause above and run the backup again${tool.service ? ` (pg_dump ran in the docker compose service ${tool.service}: \`docker compose ps\` shows whether it is up)` : ''}`);
      }
      const bytes = fs.statSync(partial).size;
      const metadata: BackupMetadata = {
        ...snapshot.metadata, pgDump: tool.version, archive: { file: path.basename(file), bytes, sha256: await sha256OfFile(partial) },
      };
      createPrivate(partialMetadata, `${JSON.stringify(metadata, null, 2)}\n`);
      fs.rmSync(metadataFile(file), { force: true });
      fs.renameSync(partial, file);
      fs.renameSync(partialMetadata, metadataFile(file));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const rows = Object.values(metadata.rowCounts).reduce((a, b) => a + b, 0);
      log(`backup written: ${file} (${human(bytes)}, ${count(rows, 'row')} in ${count(Object.keys(metadata.rowCounts).length, 'table')}, ${(ms / 1000).toFixed(2)} s)`);
      return { file, metadata, bytes, ms };
    });
  } catch (err) {
    if (isStopping()) await new Promise(() => undefined); // the signal handler cleans up and exits
    throw backupFailure(err, settings.database);
  } finally {
    forget();
    removePartials();
  }
}
