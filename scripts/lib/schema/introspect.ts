// The one reader of a live database's schema, by meaning, in the contract's shape (db/contract.ts):
// every schema the migrations touch, TimescaleDB's catalog, access and comments, the database's
// settings, and (for a squash's proof) the rows a fresh build holds. db:verify, the drift and
// carry-forward checks, the squash's proof and generator, the lint and db:schema:dump all read
// through it, each comparing what it needs. Knex's bookkeeping is not read (readAppliedMigrations is).
import { Client } from 'pg';
import type { SchemaContract } from '../../../db/contract';
import { CHECKSUMS_TABLE, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, SQUASHED_TABLE } from '../../../db/migrationSource';
import { readAccess } from './read/access';
import { Data, readData, readRowEstimates } from './read/data';
import { readObjects } from './read/objects';
import { inScope, notFromExtension, queryOn, readSchemas } from './read/scope';
import { readStorage, readTables, TableStorage } from './read/tables';
import { readHypertables, readTimescale } from './read/timescale';

export interface LiveSchema extends Required<SchemaContract> {
  /** What the contract has no place for (other types, aggregates, foreign tables): named, so nothing goes unseen. */
  others: string[];
  /** The rows and sequence states, when the scope asked for them. */
  data?: Data;
}

export interface ReadScope {
  /** Also the rows of every table and where each sequence stands: for fresh builds only (a squash's proof). */
  data?: boolean;
}

export async function readSchema(client: Client, scope: ReadScope = {}): Promise<LiveSchema> {
  const q = queryOn(client);
  const extensions = (await q("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname")).map((r) => r.extname);
  const tables = await readTables(q);
  const { enums, views, materializedViews, functions, sequences, others } = await readObjects(q);
  const timescale = extensions.includes('timescaledb') ? await readTimescale(q) : { hypertables: [], policies: [], continuousAggregates: {} };
  // A continuous aggregate is a view to PostgreSQL; its query is read from TimescaleDB instead.
  const plainViews = Object.fromEntries(Object.entries(views).filter(([name]) => !(name in timescale.continuousAggregates)));
  const live: LiveSchema = {
    extensions, enums, tables, ...timescale, schemas: await readSchemas(q), views: plainViews, materializedViews, functions, sequences,
    ...await readAccess(q), others,
  };
  if (scope.data) live.data = await readData(q, tables, Object.keys(materializedViews), (part) => client.escapeIdentifier(part));
  return live;
}

/**
 * What the lint judges a migration's effect by, read before and after each one: the tables,
 * schemas and hypertables, and where each table's rows live (oids, relfilenode), which tells a
 * rebuild or rewrite. Only these: the rest of the schema costs half the read, and the lint reads
 * twice per migration.
 */
export interface Structure extends Pick<LiveSchema, 'tables' | 'schemas' | 'hypertables'> {
  /** Each table's storage: one database's before and after, never two databases. */
  storage: Record<string, TableStorage>;
}

export async function readStructure(client: Client): Promise<Structure> {
  const q = queryOn(client);
  const timescale = (await q("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).length > 0;
  return { tables: await readTables(q), schemas: await readSchemas(q), hypertables: timescale ? await readHypertables(q) : [], storage: await readStorage(q) };
}

/** Each table's row count as the statistics estimate it (nothing scanned; hypertables through their chunks): a live database's size. */
export async function rowEstimates(client: Client): Promise<Record<string, number | undefined>> {
  return readRowEstimates(queryOn(client));
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
 * What the migrations build (in every schema in scope, and those schemas but `public`, which
 * PostgreSQL gives to pg_database_owner) but the database's owner does not own: the owner could
 * not use or migrate it.
 */
export async function misownedObjects(client: Client): Promise<MisownedObject[]> {
  const { rows } = await client.query(`WITH db AS (SELECT datdba FROM pg_database WHERE datname = current_database()),
      ns AS (SELECT oid, nspname, nspowner FROM pg_namespace WHERE ${inScope('oid')}),
      objects AS (
        SELECT 'schema ' || nspname AS item, nspowner AS owner FROM ns WHERE nspname <> 'public'
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
      FROM objects, db WHERE owner <> db.datdba ORDER BY item`);
  return rows;
}
