// db:restore's work: what the server must offer before a backup is restored there, pg_restore
// itself, giving the restored objects to the owner, and restore(), the replace pipeline with
// all of that as its build.
import { execFileSync } from 'child_process';
import path from 'path';
import type { Client } from 'pg';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { MIGRATIONS_SCHEMA } from '../../../db/migrationSource';
import { MigrationFiles } from '../../../db/migrationSource';
import { BackupVersionError, MissingRolesError, PermissionDeniedError, RestoreFailedError } from '../cli/errors';
import { Difference, diffMigrations } from '../schema/drift';
import { carryForward, foldPast } from '../migrations/carryForward';
import { count, log, step } from '../cli/log';
import { replaceDatabase } from '../replace/replace';
import { rowCounts } from '../schema/introspect';
import { reportVerification, verify } from '../schema/verify';
import { withClient, withMaintenanceClient } from '../server/connection';
import type { ConnectionParams } from '../server/connectionUrl';
import { refuseProduction, Settings } from '../server/settings';
import { BackupMetadata, readBackup } from './metadata';
import { chooseTool, describeTool, FoundTool, runTool } from '../server/clientTools';

/**
 * Refuses, before anything is touched, a backup this server cannot take: a TimescaleDB
 * version it does not have, or a role that cannot run timescaledb_pre_restore() (it sets
 * timescaledb.restoring, which only a superuser may). Returns the pg_restore to use for `url`.
 */
export async function restoreProblems(admin: Client, file: string, meta: BackupMetadata, target: ConnectionParams): Promise<FoundTool> {
  const { rows: [s] } = await admin.query(`SELECT current_setting('server_version_num')::int AS num,
      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super,
      (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS default_version,
      (SELECT coalesce(array_agg(version ORDER BY version), '{}') FROM pg_available_extension_versions WHERE name = 'timescaledb') AS versions`);
  if (meta.timescaledb && !s.versions.includes(meta.timescaledb)) {
    const here = s.default_version ? `TimescaleDB ${s.default_version}` : 'no TimescaleDB';
    throw new BackupVersionError(`backup ${file} was made with TimescaleDB ${meta.timescaledb}, and this server has ${here}${s.versions.length > 1 ? ` (versions available: ${s.versions.join(', ')})` : ''}`,
      `restore it on a server with TimescaleDB ${meta.timescaledb} (a hypertable restores only into the version it was dumped from); nothing was changed`);
  }
  if (meta.timescaledb && !s.super) {
    throw new PermissionDeniedError('restoring a TimescaleDB backup needs a superuser: timescaledb_pre_restore() sets timescaledb.restoring, which only a superuser may',
      'connect as a superuser (DATABASE_URL); nothing was changed');
  }
  return chooseTool('pg_restore', Math.floor(s.num / 10000), target);
}

/** What pg_restore's messages say the cause is, as something to do. */
export function restoreCause(lines: string[]): string {
  const text = lines.join('\n');
  if (/No space left on device|could not extend file|could not write to file/i.test(text)) return "the server's disk is full: free space there and run the restore again";
  const role = /role "([^"]+)" does not exist/.exec(text);
  if (role) return `the backup grants to or is owned by role ${role[1]}, which this server lacks: create it, or restore without the backup's grants (--no-acl)`;
  if (/unsupported version|in file header/i.test(text)) return 'the archive was written by a newer pg_dump than this pg_restore: install the client of that version, or set PG_BIN to it';
  return 'the backup may be damaged: use an intact copy';
}

/**
 * pg_restore of `file` into the database `url` names; objects are created by the connecting
 * role (--no-owner), without the archive's grants with `noAcl`; the first error stops it.
 */
export async function runPgRestore(tool: FoundTool, target: ConnectionParams, file: string, noAcl = false): Promise<void> {
  const lines: string[] = [];
  const code = await runTool(tool, target, ['--exit-on-error', '--no-owner', ...(noAcl ? ['--no-acl'] : [])], { file, direction: 'read' }, (l) => lines.push(l));
  if (code !== 0) {
    throw new RestoreFailedError(`pg_restore failed (exit ${code}): ${lines.filter((l) => l.trim()).slice(0, 6).join(' | ') || 'no message'}`,
      `the target is unchanged; ${restoreCause(lines)}${tool.service ? ` (pg_restore ran in the docker compose service ${tool.service}: \`docker compose ps\` shows whether it is up)` : ''}`);
  }
}

/** An identifier as pg_dump writes it: bare, or double-quoted with "" for a quote. */
const IDENTIFIER = /\s*(?:"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*))/y;

/** The role names of a list such as `reader, "odd ""one""" WITH GRANT OPTION`, up to what is not a name; PUBLIC left out. */
export function roleList(text: string): string[] {
  const names: string[] = [];
  IDENTIFIER.lastIndex = 0;
  for (;;) {
    const m = IDENTIFIER.exec(text);
    if (!m) break;
    if (m[1] !== undefined) names.push(m[1].replace(/""/g, '"'));
    else if (['WITH', 'GRANTED'].includes(m[2])) break;
    else if (m[2] !== 'PUBLIC') names.push(m[2]);
    const comma = /\s*,/y;
    comma.lastIndex = IDENTIFIER.lastIndex;
    if (!comma.exec(text)) break;
    IDENTIFIER.lastIndex = comma.lastIndex;
  }
  return names;
}

/**
 * The roles the archive's grants and default privileges name, read from its SQL without the
 * data (the local pg_restore reads only the file); undefined in the container, where the
 * file is not, or when it cannot be read: the restore itself meets them there.
 */
export function rolesNamed(tool: FoundTool, file: string): string[] | undefined {
  if (tool.service) return undefined;
  let sql: string;
  try {
    sql = execFileSync(tool.file, ['--schema-only', '--file=-', file], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined; // an archive pg_restore cannot read: the restore itself fails on it and says why
  }
  const names = new Set<string>();
  for (const line of sql.split('\n')) {
    const m = /^(?:GRANT|REVOKE) .* (?:TO|FROM) (.*);$/.exec(line) ?? /^SET SESSION AUTHORIZATION (.*);$/.exec(line)
      ?? /^ALTER DEFAULT PRIVILEGES FOR ROLE (.*?) (?:IN SCHEMA|GRANT|REVOKE)/.exec(line);
    if (m) for (const r of roleList(m[1])) names.add(r);
  }
  return [...names].sort();
}

/**
 * What the restore created in public and knex's schema (and that schema) belongs to the
 * database's owner, as a reset builds it. A table's chunks, indexes and sequences follow it.
 */
export async function giveToOwner(client: Client): Promise<void> {
  const { rows } = await client.query(`WITH db AS (SELECT datdba FROM pg_database WHERE datname = current_database()),
      ns AS (SELECT oid FROM pg_namespace WHERE nspname IN ('public', $1)),
      ext(classid, objid) AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
    SELECT 'SCHEMA ' || quote_ident(nspname) AS object FROM pg_namespace, db WHERE nspname = $1 AND nspowner <> db.datdba
    UNION ALL
    SELECT CASE WHEN c.relkind IN ('v', 'm') THEN CASE c.relkind WHEN 'v' THEN 'VIEW ' ELSE 'MATERIALIZED VIEW ' END
                WHEN c.relkind = 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || c.oid::regclass::text
      FROM pg_class c, db WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> db.datdba
       AND (c.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_class'::regclass))
       AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    UNION ALL
    SELECT 'TYPE ' || t.oid::regtype::text FROM pg_type t, db
     WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'r', 'm', 'c') AND t.typowner <> db.datdba
       AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
       AND t.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_type'::regclass)
    UNION ALL
    SELECT 'FUNCTION ' || p.oid::regprocedure::text FROM pg_proc p, db
     WHERE p.pronamespace IN (SELECT oid FROM ns) AND p.proowner <> db.datdba AND p.prokind IN ('f', 'p')
       AND p.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_proc'::regclass)`, [MIGRATIONS_SCHEMA]);
  if (rows.length === 0) return;
  const { rows: [db] } = await client.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()');
  for (const r of rows) await client.query(`ALTER ${r.object} OWNER TO ${escapeIdentifier(db.owner)}`);
}

/**
 * TimescaleDB's pre-restore step, on the empty database a backup is restored into: the backup's
 * version of the extension, then timescaledb_pre_restore(), which sets timescaledb.restoring on
 * for the database (pg_restore then loads the catalog as data) and stops its background workers.
 */
export async function startTimescaleRestore(c: Client, version: string): Promise<void> {
  await c.query(`CREATE EXTENSION timescaledb VERSION ${escapeLiteral(version)}`);
  await c.query('SELECT timescaledb_pre_restore()');
}

/**
 * TimescaleDB's post-restore step, once pg_restore is done: timescaledb_post_restore() takes
 * timescaledb.restoring off the database again and restarts its background workers, so that
 * its jobs are scheduled. Without it the database stays in restoring mode: TimescaleDB inactive
 * in every session, no job run, and a row into a hypertable refused.
 */
export async function finishTimescaleRestore(c: Client): Promise<void> {
  await c.query('SELECT timescaledb_post_restore()');
}

/** Rows and chunks of the restored database against the backup's record; one line per difference. */
export function countDifferences(meta: BackupMetadata, rowCounts: Record<string, number>, chunks: Record<string, number>): string[] {
  const out: string[] = [];
  for (const t of new Set([...Object.keys(meta.rowCounts), ...Object.keys(rowCounts)])) {
    if (meta.rowCounts[t] !== rowCounts[t]) out.push(`${t}: ${rowCounts[t] ?? 'no table'} rows, the backup had ${meta.rowCounts[t] ?? 'no table'}`);
  }
  for (const h of new Set([...Object.keys(meta.chunks), ...Object.keys(chunks)])) {
    if (meta.chunks[h] !== chunks[h]) out.push(`${h}: ${chunks[h] ?? 0} chunks, the backup had ${meta.chunks[h] ?? 0}`);
  }
  return out;
}

export interface RestoreOptions {
  /** Allow a restore in the production environment. */
  force?: boolean;
  /** Restore without the archive's grants (and, as always, its owners): the target's owner owns everything, with no grants. */
  noAcl?: boolean;
  /** Print the plan and change nothing. */
  dryRun?: boolean;
}

export interface RestoreResult {
  owner: string;
  rowCounts: Record<string, number>;
}

async function liveCounts(settings: Settings): Promise<{ rows: Record<string, number>; chunks: Record<string, number> }> {
  return withClient(settings, async (c) => {
    const { rows: tables } = await c.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')");
    const names = tables.map((t) => t.relname as string);
    const { rows } = await c.query(`SELECT hypertable_name AS h, count(*)::int AS n FROM timescaledb_information.chunks
      WHERE hypertable_schema = 'public' GROUP BY 1`).catch(() => ({ rows: [] as Array<{ h: string; n: number }> }));
    return { rows: await rowCounts(c, names, names), chunks: Object.fromEntries(rows.map((r) => [r.h, r.n])) };
  });
}

export async function restore(settings: Settings, file: string, o: RestoreOptions = {}): Promise<RestoreResult> {
  refuseProduction(settings, o.force, `restore into database "${settings.database}"`, 'this replaces every row in it with the backup\'s');
  const archive = path.resolve(file);
  const meta = await readBackup(archive);
  if (meta.database !== settings.database) log(`warning: ${archive} is a backup of ${meta.database}, not of ${settings.database}`);
  // A backup of another migration set would be refused by the verification after the whole load: known now.
  // A backup taken before a squash is carried past it once restored, as db:migrate would.
  const source = new MigrationFiles();
  const fold = await foldPast(source, meta.migrations);
  const mismatch = diffMigrations(await source.checksums(), fold.applied);
  if (mismatch.length) {
    const say = (d: Difference) => `${d.item.replace(/^migration /, '')} ${d.kind === 'missing' ? 'not in the backup' : d.kind === 'unexpected' ? 'in the backup, not in this checkout' : 'of another content'}`;
    throw new RestoreFailedError(`backup ${archive} was taken at another set of migrations than this checkout's (${mismatch.map(say).join('; ')}); ${settings.database} was not changed`,
      'restore it with the checkout of its time (its migrations are in FILE.json), then npm run db:migrate');
  }
  const tool = await withMaintenanceClient(settings, async (admin) => {
    const found = await restoreProblems(admin, archive, meta, settings.connection);
    const named = o.noAcl ? undefined : rolesNamed(found, archive);
    if (named?.length) {
      const { rows } = await admin.query('SELECT r FROM unnest($1::text[]) r WHERE r NOT IN (SELECT rolname FROM pg_roles) ORDER BY 1', [named]);
      if (rows.length) {
        throw new MissingRolesError(`backup ${archive} grants to roles this server lacks: ${rows.map((x) => x.r).join(', ')}`,
          "create them (CREATE ROLE …), or restore without the backup's grants: --no-acl (everything then belongs to the target's owner, with no grants); nothing was changed");
      }
    }
    return found;
  });
  const total = Object.values(meta.rowCounts).reduce((a, b) => a + b, 0);
  let counts: Record<string, number> = {};
  const { owner } = await replaceDatabase(settings, {
    dryRun: o.dryRun,
    plan: [
      `restore ${archive}: a backup of ${meta.database} taken ${meta.createdAt} (PostgreSQL ${meta.server.version}, TimescaleDB ${meta.timescaledb ?? 'none'}, ${count(meta.migrations.length, 'migration')})`,
      meta.timescaledb
        ? `create extension timescaledb ${meta.timescaledb}, timescaledb_pre_restore(), ${describeTool(tool)}, timescaledb_post_restore()`
        : describeTool(tool),
      `verify it is the contract and holds the backup's ${count(total, 'row')} in ${count(Object.keys(meta.rowCounts).length, 'table')}`,
    ],
    build: async (beside) => {
      if (meta.timescaledb) {
        await step(`timescaledb ${meta.timescaledb} created, ready for the restore`, () => withClient(beside, (c) => startTimescaleRestore(c, meta.timescaledb!)));
      }
      await step(`${path.basename(archive)} restored${o.noAcl ? ' (without its grants)' : ''}`, () => runPgRestore(tool, beside.connection, archive, o.noAcl));
      await withClient(beside, async (c) => {
        if (meta.timescaledb) await finishTimescaleRestore(c);
        await giveToOwner(c);
      });
      if (fold.carried.length) await carryForward(beside);
      // Reported under the target's name: the build becomes it.
      reportVerification({ ...(await step('compared with the contract', () => verify(beside))), database: settings.database }, () => new RestoreFailedError(
        `the restored backup does not match this checkout's db/contract.ts; ${settings.database} was not changed`,
        'a backup of another schema version: restore it with the checkout of its time (its migrations are in FILE.json), then migrate'));
      const live = await liveCounts(beside);
      const differences = countDifferences(meta, live.rows, live.chunks);
      if (differences.length) {
        throw new RestoreFailedError(`the restored database does not hold what the backup recorded: ${differences.join('; ')}`,
          'the target is unchanged; the backup may be damaged');
      }
      counts = live.rows;
      log(`row counts match the backup: ${Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(', ')}`);
    },
  });
  return { owner, rowCounts: counts };
}
