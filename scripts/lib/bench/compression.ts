// Compression as KapMan's author set it on ohlcv (his retention migration: segment by ticker,
// newest first within a segment), applied to every chunk at once, and what it makes of the
// table's size. Needs TimescaleDB's community build (the TSL part).
import type { Client } from 'pg';
import { CONTRACT } from '../../../db/contract';

export const SEGMENT_BY = 'ticker_id';
export const ORDER_BY = 'date DESC';

/** Bytes of `table` with its chunks, compressed chunks, indexes and TOAST (hypertable_size). */
export async function hypertableBytes(c: Client, table: string): Promise<number> {
  return Number((await c.query('SELECT hypertable_size($1::regclass) AS bytes', [table])).rows[0].bytes);
}

/** Enables compression on `table` with the author's settings and compresses every chunk; the chunks compressed. */
export async function compressAllChunks(c: Client, table: string): Promise<number> {
  await c.query(`ALTER TABLE ${table} SET (timescaledb.compress, timescaledb.compress_segmentby = '${SEGMENT_BY}', timescaledb.compress_orderby = '${ORDER_BY}')`);
  const { rows } = await c.query('SELECT compress_chunk(chunk) FROM show_chunks($1::regclass) AS chunk', [table]);
  return rows.length;
}

/** `table`'s chunk interval, as create_hypertable takes it ('365 days'). */
export async function chunkInterval(c: Client, table: string): Promise<string> {
  const [schema, name] = table.split('.');
  const { rows: [d] } = await c.query(`SELECT time_interval::text AS interval FROM timescaledb_information.dimensions
    WHERE hypertable_schema = $1 AND hypertable_name = $2 AND dimension_number = 1`, [schema, name]);
  return d.interval;
}

/**
 * `work` with the contract holding `table`'s compression, as a checkout whose migrations compress
 * it has the entry pasted: db:restore verifies what it restored against the contract. In this
 * process only, and taken back after.
 */
export async function withCompressionInContract<T>(table: string, work: () => Promise<T>): Promise<T> {
  const entry = CONTRACT.hypertables.find((h) => h.table === table);
  if (!entry) throw new Error(`db/contract.ts has no hypertable ${table}`);
  const before = entry.compression;
  entry.compression = { segmentBy: SEGMENT_BY, orderBy: ORDER_BY };
  try {
    return await work();
  } finally {
    if (before) entry.compression = before;
    else delete entry.compression;
  }
}
