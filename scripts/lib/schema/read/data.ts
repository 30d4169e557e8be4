// What a fresh build holds besides its schema: the rows the migrations insert (seed and
// reference data), what each materialized view holds, and where each sequence stands (a serial's
// and an identity column's too). Read only where a build is small: a squash's proof compares two
// fresh builds by it, and its generator writes the rows out; a live database's rows are never read this way.
import type { TableContract } from '../../../../db/contract';
import { inScope, notBookkeeping, notFromExtension, qualifiedName, Query, sqlName } from './scope';

export interface TableRows {
  /** How many rows the table holds. */
  count: number;
  /** Every row as PostgreSQL writes a row value, in order; absent when there are more than `MAX_SEED_ROWS`. */
  rows?: string[];
  /** A materialized view made WITH NO DATA (or never refreshed): it holds nothing and cannot be read. */
  populated?: false;
}

export interface Data {
  /** Per table, and per materialized view, holding rows (or not populated). */
  rows: Record<string, TableRows>;
  /** Per sequence: `last value N` once used, else `not used`. */
  sequenceState: Record<string, string>;
}

/** Past this many rows in one table, its rows are counted, not read: seed data is small. */
export const MAX_SEED_ROWS = 10_000;

/**
 * The session settings under which rows are written out as text for a baseline, so that the text
 * reads back the same in any session: ISO dates, offsets in UTC, intervals as PostgreSQL writes
 * them, floats exact, bytea in hex.
 */
export const PORTABLE_TEXT: Record<string, string> = {
  DateStyle: 'ISO, YMD', IntervalStyle: 'postgres', TimeZone: 'UTC', extra_float_digits: '3', bytea_output: 'hex',
};

export async function readData(q: Query, tables: TableContract[], materializedViews: string[], quote: (part: string) => string): Promise<Data> {
  const rows: Record<string, TableRows> = {};
  const populated = new Set((await q(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' AND c.relispopulated`)).map((r) => r.name));
  for (const name of [...tables.map((t) => t.name), ...materializedViews]) {
    if (materializedViews.includes(name) && !populated.has(name)) {
      rows[name] = { count: 0, populated: false };
      continue;
    }
    const relation = sqlName(name, quote);
    const [{ n }] = await q(`SELECT count(*)::int AS n FROM ${relation}`);
    if (n === 0) continue;
    rows[name] = n > MAX_SEED_ROWS ? { count: n } : { count: n, rows: (await q(`SELECT r::text AS row FROM ${relation} r ORDER BY 1`)).map((r) => r.row) };
  }
  const sequenceState: Record<string, string> = {};
  const sequences = await q(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'S' AND ${inScope('c.relnamespace')} AND ${notBookkeeping} AND ${notFromExtension('pg_class', 'c.oid')} ORDER BY 1`);
  for (const { name } of sequences) {
    const [r] = await q(`SELECT last_value::text, is_called FROM ${sqlName(name, quote)}`);
    sequenceState[name] = r.is_called ? `last value ${r.last_value}` : 'not used';
  }
  return { rows, sequenceState };
}

/**
 * A table's rows as SQL literals, column by column (`columns` in the table's order), in the
 * order readData reads them; written under PORTABLE_TEXT, which the caller's session has set.
 */
export async function readSeedRows(q: Query, table: string, columns: string[], quote: (part: string) => string): Promise<string[][]> {
  const relation = sqlName(table, quote);
  const literals = columns.map((c) => `quote_nullable(r.${quote(c)}::text)`).join(', ');
  return (await q(`SELECT ARRAY[${literals}] AS v FROM ${relation} r ORDER BY r::text`)).map((r) => r.v);
}

/**
 * How many rows each table in scope holds, as the planner's statistics estimate it: nothing is
 * scanned, so it is cheap on a live database of any size. A hypertable's rows are in its chunks:
 * TimescaleDB's approximate_row_count sums them. Undefined where the table was never analyzed.
 */
export async function readRowEstimates(q: Query): Promise<Record<string, number | undefined>> {
  const hasTimescale = (await q("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).length > 0;
  const estimates: Record<string, number | undefined> = {};
  for (const r of await q(`SELECT ${qualifiedName('n.nspname', 'c.relname')} AS name,
        ${hasTimescale ? `CASE WHEN EXISTS (SELECT 1 FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = n.nspname AND h.hypertable_name = c.relname)
          THEN approximate_row_count(c.oid)::float8 END` : 'NULL::float8'} AS hypertable_rows, c.reltuples::float8 AS reltuples
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND ${inScope('c.relnamespace')} AND ${notBookkeeping} AND ${notFromExtension('pg_class', 'c.oid')}`)) {
    const rows = r.hypertable_rows ?? (r.reltuples < 0 ? undefined : r.reltuples);
    estimates[r.name] = rows === undefined ? undefined : Math.round(rows);
  }
  return estimates;
}
