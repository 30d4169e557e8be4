// Looking at a database from outside the code under test: pg_dump and plain catalog queries.
import { execFileSync } from 'child_process';
import { Client } from 'pg';
import { DEFAULT_PG_BIN, localTool } from '../../scripts/lib/server/localCluster';
import { Settings } from '../../scripts/lib/server/settings';
import { withoutBuildStamps } from '../../scripts/lib/schema/compare';

/**
 * `pg_dump --schema-only [...options]`, without the \restrict lines whose key is random since
 * PostgreSQL 15.14, and 15.20's per-build column stamps (which an older pg_dump prints).
 */
export function schemaDump(settings: Settings, options: string[] = []): string {
  // stderr is piped away: pg_dump warns about circular keys in timescaledb's own catalog.
  const out = execFileSync(localTool(process.env.PG_BIN || DEFAULT_PG_BIN, 'pg_dump'), ['--schema-only', ...options, '--dbname', settings.url],
    { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => !/^\\(un)?restrict /.test(l))
    .flatMap((l) => (l && !withoutBuildStamps(l) ? [] : [withoutBuildStamps(l)])).join('\n');
}

export async function publicTables(c: Client): Promise<string[]> {
  const { rows } = await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  return rows.map((r) => r.tablename);
}

export async function publicTypes(c: Client): Promise<string[]> {
  const { rows } = await c.query(
    "SELECT typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e' ORDER BY typname");
  return rows.map((r) => r.typname);
}

// Other test files of this run, and other runs on a shared server (kapman_t_<their run>_…, a template),
// create and drop their own databases and roles meanwhile: those are left out of the
// snapshots, unless the test names them in `keep`.
function concurrentlyMade(name: string, keep: string[]): boolean {
  return (name.startsWith('kapman_t_') || name.startsWith('kapman_scratch_') || name.startsWith('kapman_build_') || name.startsWith('kapman_template_')) && !keep.includes(name);
}

/** Everything about roles that a reset must leave alone, passwords included. */
export async function rolesSnapshot(c: Client, keep: string[] = []): Promise<unknown[]> {
  const { rows } = await c.query(`SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolcanlogin,
      r.rolconnlimit, r.rolvaliduntil, a.rolpassword,
      array(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of
    FROM pg_roles r LEFT JOIN pg_authid a ON a.oid = r.oid ORDER BY r.rolname`);
  return rows.filter((r) => !concurrentlyMade(r.rolname, keep));
}

/** Every database but `except`, with what a reset must not change. */
export async function databasesSnapshot(c: Client, except: string, keep: string[] = []): Promise<unknown[]> {
  const { rows } = await c.query(`SELECT datname, pg_get_userbyid(datdba) AS owner, encoding, datcollate, datistemplate, datallowconn, datconnlimit, datacl::text
    FROM pg_database WHERE datname <> $1 ORDER BY datname`, [except]);
  return rows.filter((r) => !concurrentlyMade(r.datname, keep));
}

export async function settingsSnapshot(c: Client): Promise<unknown[]> {
  const { rows } = await c.query("SELECT name, setting FROM pg_settings WHERE source NOT IN ('session', 'client') ORDER BY name");
  return rows;
}

/** Everything that identifies a database besides its contents, read straight from the catalogs. */
export async function databaseAttributes(c: Client, name: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await c.query(`SELECT pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
      d.datcollate, d.datctype, d.datlocprovider, d.daticulocale, d.datconnlimit, d.datallowconn, d.datistemplate,
      (SELECT spcname FROM pg_tablespace WHERE oid = d.dattablespace) AS tablespace, d.datacl::text AS acl,
      shobj_description(d.oid, 'pg_database') AS comment,
      array(SELECT coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '-') || ': ' || array_to_string(s.setconfig, '; ')
              FROM pg_db_role_setting s WHERE s.setdatabase = d.oid ORDER BY 1) AS settings
    FROM pg_database d WHERE d.datname = $1`, [name]);
  return rows[0];
}

/** Databases whose name starts with `prefix` (builds left beside a target, say). */
export async function databasesLike(c: Client, prefix: string): Promise<string[]> {
  const { rows } = await c.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1', [prefix]);
  return rows.map((r) => r.datname);
}
