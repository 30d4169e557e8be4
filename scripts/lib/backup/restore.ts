// db:restore's work: what the server must offer before a backup is restored there, pg_restore
// itself, giving the restored objects to the owner, and restore(), the replace pipeline with
// all of that as its build.
import path from 'path';
import type { Client } from 'pg';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { MIGRATIONS_SCHEMA } from '../../../db/migrationSource';
import { BackupVersionError, PermissionDeniedError, RestoreFailedError } from '../cli/errors';
import { count, log, step } from '../cli/log';
import { replaceDatabase } from '../replace/replace';
import { rowCounts } from '../schema/introspect';
import { reportVerification, verify } from '../schema/verify';
import { withClient, withMaintenanceClient } from '../server/connection';
import { refuseProduction, Settings } from '../server/settings';
import { BackupMetadata, readBackup } from './metadata';
import { chooseTool, describeTool, FoundTool, runTool } from './tools';

/**
 * Refuses, before anything is touched, a backup this server cannot take: a TimescaleDB
 * version it does not have, or a role that cannot run timescaledb_pre_restore() (it sets
 * timescaledb.restoring, which only a superuser may). Returns the pg_restore to use for `url`.
 */
export async function restoreProblems(admin: Client, file: string, meta: BackupMetadata, url: string): Promise<FoundTool> {
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
  return chooseTool('pg_restore', Math.floor(s.num / 10000), url);
}

/** pg_restore of `file` into the database `url` names; objects are created by the connecting role (--no-owner), the first error stops it. */
export async function runPgRestore(tool: FoundTool, url: string, file: string): Promise<void> {
  const lines: string[] = [];
  const code = await runTool(tool, url, ['--exit-on-error', '--no-owner'], { file, direction: 'read' }, (l) => lines.push(l));
  if (code !== 0) {
    throw new RestoreFailedError(`pg_restore failed (exit ${code}): ${lines.filter((l) => l.trim()).slice(0, 6).join(' | ') || 'no message'}`,
      `the target is unchanged; the backup may be damaged or from another schema${tool.service ? ` (pg_restore ran in the docker compose service ${tool.service}: \`docker compose ps\` shows whether it is up)` : ''}`);
  }
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
  /** Print the plan and change nothing. */
  dryRun?: boolean;
}

export interface RestoreResult {
  owner: string;
  rowCounts: Record<string, number>;
}

async function liveCounts(settings: Settings): Promise<{ rows: Record<string, number>; chunks: Record<string, number> }> {
  return withClient(settings.url, async (c) => {
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
  const tool = await withMaintenanceClient(settings.url, (admin) => restoreProblems(admin, archive, meta, settings.url));
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
        await step(`timescaledb ${meta.timescaledb} created, ready for the restore`, () => withClient(beside.url, async (c) => {
          await c.query(`CREATE EXTENSION timescaledb VERSION ${escapeLiteral(meta.timescaledb!)}`);
          await c.query('SELECT timescaledb_pre_restore()');
        }));
      }
      await step(`${path.basename(archive)} restored`, () => runPgRestore(tool, beside.url, archive));
      await withClient(beside.url, async (c) => {
        if (meta.timescaledb) await c.query('SELECT timescaledb_post_restore()');
        await giveToOwner(c);
      });
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
