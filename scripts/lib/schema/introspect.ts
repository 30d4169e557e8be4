// Reads a live database's `public` schema into the contract's shape (db/contract.ts),
// so the two can be compared item by item. Knex's bookkeeping schema is not read.
import { Client } from 'pg';
import type { SchemaContract, TableContract } from '../../../db/contract';
import { CHECKSUMS_TABLE, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, SQUASHED_TABLE } from '../../../db/migrationSource';

export interface LiveSchema extends SchemaContract {
  /** Anything else in `public` that the contract has no place for: views, sequences, functions, triggers, types. */
  others: string[];
}

const PUBLIC = "'public'::regnamespace";
// Objects an extension owns (timescaledb's functions in public, its insert-blocker trigger function) are its business.
const notFromExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

export async function readSchema(client: Client): Promise<LiveSchema> {
  const q = async (sql: string) => (await client.query(sql)).rows;

  const extensions = (await q("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname")).map((r) => r.extname);

  const enums: Record<string, string[]> = {};
  for (const r of await q(`SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = ${PUBLIC} GROUP BY t.typname ORDER BY t.typname`)) {
    enums[r.typname] = r.labels;
  }

  const tables = new Map<string, TableContract>();
  for (const r of await q(`SELECT relname FROM pg_class WHERE relnamespace = ${PUBLIC} AND relkind IN ('r', 'p') ORDER BY relname`)) {
    tables.set(r.relname, { name: r.relname, columns: [], constraints: {}, indexes: {} });
  }
  for (const r of await q(`SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
        pg_get_expr(d.adbin, d.adrelid) AS dflt
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE c.relnamespace = ${PUBLIC} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`)) {
    const column = { name: r.attname, type: r.type, notNull: r.attnotnull };
    tables.get(r.relname)!.columns.push(r.dflt === null ? column : { ...column, default: r.dflt });
  }
  for (const r of await q(`SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) AS def
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
      WHERE c.relnamespace = ${PUBLIC} AND c.relkind IN ('r', 'p') ORDER BY c.relname, k.conname`)) {
    tables.get(r.relname)!.constraints[r.conname] = r.def;
  }
  for (const r of await q(`SELECT t.relname AS tablename, i.relname AS indexname, x.indisunique,
        substring(pg_get_indexdef(x.indexrelid) from ' USING (.*)$') AS def
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = ${PUBLIC} AND t.relkind IN ('r', 'p') ORDER BY t.relname, i.relname`)) {
    tables.get(r.tablename)!.indexes[r.indexname] = `${r.indisunique ? 'UNIQUE ' : ''}${r.def}`;
  }

  const hypertables = extensions.includes('timescaledb')
    ? (await q(`SELECT hypertable_name, column_name, time_interval::text AS interval
        FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' ORDER BY hypertable_name, dimension_number`))
        .map((r) => ({ table: r.hypertable_name, timeColumn: r.column_name, chunkInterval: r.interval }))
    : [];

  const others = (await q(`
      SELECT CASE relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
             WHEN 'f' THEN 'foreign table' ELSE 'relation' END || ' ' || relname AS item
        FROM pg_class c WHERE relnamespace = ${PUBLIC} AND relkind IN ('v', 'm', 'S', 'f') AND ${notFromExtension('pg_class', 'c.oid')}
      UNION ALL
      SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
       WHERE pronamespace = ${PUBLIC} AND ${notFromExtension('pg_proc', 'p.oid')}
      UNION ALL
      SELECT 'trigger ' || tgname || ' on ' || c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
       WHERE c.relnamespace = ${PUBLIC} AND NOT g.tgisinternal AND ${notFromExtension('pg_proc', 'g.tgfoid')}
      UNION ALL
      SELECT 'type ' || typname FROM pg_type t
       WHERE typnamespace = ${PUBLIC} AND typtype IN ('b', 'c', 'd', 'r', 'm') AND typcategory <> 'A'
         AND (typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = typrelid) = 'c') -- not a table's row type
         AND ${notFromExtension('pg_type', 't.oid')}
      ORDER BY 1`)).map((r) => r.item);

  return { extensions, enums, tables: [...tables.values()], hypertables, others };
}

/** Row counts of the given tables that exist in `public`. */
export async function rowCounts(client: Client, tables: string[], existing: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of tables.filter((name) => existing.includes(name))) {
    const { rows } = await client.query(`SELECT count(*)::bigint AS n FROM public.${client.escapeIdentifier(t)}`);
    counts[t] = Number(rows[0].n);
  }
  return counts;
}

export interface AppliedMigration {
  name: string;
  /** The file's hash when it was applied; null when it was applied without one being recorded. */
  sha256: string | null;
}

/** The migrations knex has recorded as applied, with their recorded hashes. */
export async function readAppliedMigrations(client: Client): Promise<AppliedMigration[]> {
  const schema = client.escapeIdentifier(MIGRATIONS_SCHEMA);
  const { rows: [has] } = await client.query(
    'SELECT to_regclass($1) IS NOT NULL AS migrations, to_regclass($2) IS NOT NULL AS checksums',
    [`${schema}.${client.escapeIdentifier(MIGRATIONS_TABLE)}`, `${schema}.${client.escapeIdentifier(CHECKSUMS_TABLE)}`]);
  if (!has.migrations) return [];
  const checksums = has.checksums
    ? `LEFT JOIN ${schema}.${client.escapeIdentifier(CHECKSUMS_TABLE)} c ON c.name = m.name`
    : 'LEFT JOIN (SELECT NULL::text AS name, NULL::text AS sha256) c ON false';
  const { rows } = await client.query(
    `SELECT m.name, c.sha256 FROM ${schema}.${client.escapeIdentifier(MIGRATIONS_TABLE)} m ${checksums} ORDER BY m.id`);
  return rows;
}

export interface SquashedMigration {
  name: string;
  /** The baseline recorded in its place when the database was carried past a squash. */
  squashedInto: string;
  /** When it was applied, before the squash, and in which batch. */
  appliedAt: Date;
  batch: number;
}

/** The migrations this database applied before they were squashed: its history, kept when a squash replaced them. */
export async function readSquashedMigrations(client: Client): Promise<SquashedMigration[]> {
  const table = `${client.escapeIdentifier(MIGRATIONS_SCHEMA)}.${client.escapeIdentifier(SQUASHED_TABLE)}`;
  const { rows: [has] } = await client.query('SELECT to_regclass($1) IS NOT NULL AS squashed', [table]);
  if (!has.squashed) return [];
  const { rows } = await client.query(`SELECT name, squashed_into AS "squashedInto", migration_time AS "appliedAt", batch FROM ${table} ORDER BY migration_time, name`);
  return rows;
}

export interface MisownedObject {
  /** e.g. `table public.tickers`, `schema knex`. */
  item: string;
  owner: string;
  /** The database's owner, who should own it. */
  expected: string;
}

/**
 * What the migrations build (in `public` and knex's schema, and that schema itself) but the
 * database's owner does not own: the owner could not use or migrate it.
 */
export async function misownedObjects(client: Client): Promise<MisownedObject[]> {
  const { rows } = await client.query(`WITH db AS (SELECT datdba FROM pg_database WHERE datname = current_database()),
      ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname IN ('public', $1)),
      objects AS (
        SELECT 'schema ' || nspname AS item, nspowner AS owner FROM pg_namespace WHERE nspname = $1
        UNION ALL
        SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'table' END
               || ' ' || ns.nspname || '.' || c.relname, c.relowner
          FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${notFromExtension('pg_class', 'c.oid')}
        UNION ALL
        SELECT 'type ' || ns.nspname || '.' || t.typname, t.typowner
          FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
         WHERE t.typtype IN ('e', 'd', 'c', 'r') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
           AND ${notFromExtension('pg_type', 't.oid')}
        UNION ALL
        SELECT 'function ' || p.oid::regprocedure::text, p.proowner
          FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE ${notFromExtension('pg_proc', 'p.oid')})
    SELECT item, pg_get_userbyid(owner) AS owner, pg_get_userbyid(db.datdba) AS expected
      FROM objects, db WHERE owner <> db.datdba ORDER BY item`, [MIGRATIONS_SCHEMA]);
  return rows;
}
