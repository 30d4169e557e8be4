// What a fresh build holds besides its schema: the rows the migrations insert (seed and
// reference data) and where each sequence stands. Read only where a build is small: a squash's
// proof compares two fresh builds by it; a live database's rows are never read this way.
import type { TableContract } from '../../../../db/contract';
import { Query, sqlName } from './scope';

export interface TableRows {
  /** How many rows the table holds. */
  count: number;
  /** Every row as PostgreSQL writes a row value, in order; absent when there are more than `MAX_SEED_ROWS`. */
  rows?: string[];
}

export interface Data {
  /** Per table holding rows. */
  rows: Record<string, TableRows>;
  /** Per sequence: `last value N` once used, else `not used`. */
  sequenceState: Record<string, string>;
}

/** Past this many rows in one table, its rows are counted, not read: seed data is small. */
export const MAX_SEED_ROWS = 10_000;

export async function readData(q: Query, tables: TableContract[], sequences: string[], quote: (part: string) => string): Promise<Data> {
  const rows: Record<string, TableRows> = {};
  for (const t of tables) {
    const table = sqlName(t.name, quote);
    const [{ n }] = await q(`SELECT count(*)::int AS n FROM ${table}`);
    if (n === 0) continue;
    rows[t.name] = n > MAX_SEED_ROWS ? { count: n } : { count: n, rows: (await q(`SELECT r::text AS row FROM ${table} r ORDER BY 1`)).map((r) => r.row) };
  }
  const sequenceState: Record<string, string> = {};
  for (const s of sequences) {
    const [r] = await q(`SELECT last_value::text, is_called FROM ${sqlName(s, quote)}`);
    sequenceState[s] = r.is_called ? `last value ${r.last_value}` : 'not used';
  }
  return { rows, sequenceState };
}
