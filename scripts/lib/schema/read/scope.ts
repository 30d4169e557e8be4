// What of a database is the schema's, for every reader: the objects in each schema that is neither
// the system's nor an extension's (TimescaleDB's `_timescaledb_*` and `timescaledb_*` schemas are
// its own), bar knex's bookkeeping and what an extension owns (timescaledb's functions in public,
// its insert-blocker trigger). Names outside `public` are written `schema.name`.
import type { Client } from 'pg';
import { CHECKSUMS_TABLE, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, SQUASHED_TABLE } from '../../../../db/migrationSource';

/** The rows of `sql`, on the reader's session. */
export type Query = (sql: string, values?: unknown[]) => Promise<Record<string, any>[]>;

export const queryOn = (client: Client): Query => async (sql, values) => (await client.query(sql, values)).rows;

/** A condition on a pg_class, pg_proc, pg_type, … row: no extension owns it. */
export const notFromExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

/** A condition on a namespace oid: the schema's own (not the system's, not an extension's). */
export const inScope = (namespace: string) => `${namespace} IN (SELECT n.oid FROM pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
    AND ${notFromExtension('pg_namespace', 'n.oid')})`;

/** knex's bookkeeping tables (and the sequences behind their serial ids): the migrations' record, not the schema. */
const BOOKKEEPING = [MIGRATIONS_TABLE, `${MIGRATIONS_TABLE}_lock`, CHECKSUMS_TABLE, SQUASHED_TABLE];
const BOOKKEEPING_SEQUENCES = [`${MIGRATIONS_TABLE}_id_seq`, `${MIGRATIONS_TABLE}_lock_index_seq`];
/** The same, for those who name relations (pg_dump's --exclude-table). */
export const BOOKKEEPING_RELATIONS = [...BOOKKEEPING, ...BOOKKEEPING_SEQUENCES];

/** A condition on a pg_class row (alias `c`, its schema's name in `n.nspname`): not knex's bookkeeping, nor an index or sequence of it. */
export const notBookkeeping = `NOT (n.nspname = '${MIGRATIONS_SCHEMA}' AND (c.relname = ANY('{${[...BOOKKEEPING, ...BOOKKEEPING_SEQUENCES].join(',')}}')
  OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class
    WHERE relnamespace = n.oid AND relname = ANY('{${BOOKKEEPING.join(',')}}')))))`;

/** The SQL expression of an object's name as the readers write it: bare in `public`, else `schema.name`. */
export const qualifiedName = (schema: string, name: string) =>
  `CASE WHEN ${schema} = 'public' THEN ${name}::text ELSE ${schema} || '.' || ${name} END`;

/** Schemas besides `public` and knex's whose objects are read: those the migrations made. */
export async function readSchemas(q: Query): Promise<string[]> {
  return (await q(`SELECT nspname FROM pg_namespace n WHERE ${inScope('n.oid')} AND nspname NOT IN ('public', $1) ORDER BY 1`,
    [MIGRATIONS_SCHEMA])).map((r) => r.nspname);
}

/** A name as the readers write it (`name` in public, `schema.name` elsewhere), quoted for SQL by `quote`. */
export const sqlName = (name: string, quote: (part: string) => string) =>
  (name.includes('.') ? [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)] : ['public', name]).map(quote).join('.');
