// The benchmark's market: a deterministic universe of tickers and their daily bars,
// streamed as CSV into COPY, and the downstream job's daily upsert.
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** The first `count` weekdays from 2023-01-02 on, as YYYY-MM-DD. */
export function weekdays(count: number, start = '2023-01-02'): string[] {
  const out: string[] = [];
  for (const d = new Date(`${start}T00:00:00Z`); out.length < count; d.setUTCDate(d.getUTCDate() + 1)) {
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

// A small seeded generator (mulberry32): the same run gives the same prices.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Bar = [tickerId: string, date: string, open: string, high: string, low: string, close: string, volume: string];

/** One bar per ticker for `date`; `variant` shifts prices, so a re-run with the same variant is identical. */
export function dayBars(tickerIds: string[], date: string, variant = 0): Bar[] {
  const next = random(Number(date.replace(/-/g, '')) + variant * 7919);
  return tickerIds.map((id) => {
    const open = 10 + next() * 490;
    const close = open * (0.95 + next() * 0.1);
    const high = Math.max(open, close) * (1 + next() * 0.02);
    const low = Math.min(open, close) * (1 - next() * 0.02);
    return [id, date, open.toFixed(4), high.toFixed(4), low.toFixed(4), close.toFixed(4), String(Math.floor(next() * 5e7))];
  });
}

/** Creates `count` tickers T00001… and returns their ids in symbol order. */
export async function makeTickers(c: Client, count: number): Promise<string[]> {
  await c.query(`INSERT INTO tickers (symbol, name) SELECT 'T' || lpad(g::text, 5, '0'), 'Ticker ' || g FROM generate_series(1, $1::int) g`, [count]);
  return (await c.query('SELECT id::text FROM tickers ORDER BY symbol')).rows.map((r) => r.id);
}

/** COPY every ticker's bars for `days` into `table` (schema-qualified, already quoted); returns rows. */
export async function copyBars(c: Client, table: string, tickerIds: string[], days: string[]): Promise<number> {
  let rows = 0;
  function* lines() {
    for (const day of days) {
      const chunk = dayBars(tickerIds, day).map((b) => b.join(',')).join('\n');
      rows += tickerIds.length;
      yield `${chunk}\n`;
    }
  }
  await pipeline(Readable.from(lines()), c.query(copyFrom(`COPY ${table} (ticker_id, date, open, high, low, close, volume) FROM STDIN WITH (FORMAT csv)`)));
  return rows;
}

// The downstream ingestion job's statement, verbatim but for the table's name and the batch size.
export function upsertStatement(table: string, rows: number): string {
  const values = Array.from({ length: rows }, (_, i) => `($${i * 7 + 1}, $${i * 7 + 2}, $${i * 7 + 3}, $${i * 7 + 4}, $${i * 7 + 5}, $${i * 7 + 6}, $${i * 7 + 7})`);
  return `INSERT INTO ${table} AS ohlcv (ticker_id, date, open, high, low, close, volume) VALUES ${values.join(', ')} `
    + 'ON CONFLICT (ticker_id, date) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume '
    + 'WHERE (ohlcv.open, ohlcv.high, ohlcv.low, ohlcv.close, ohlcv.volume) IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)';
}

// A statement takes at most 65,535 parameters: 7 per row gives batches of 5,000 rows.
export const UPSERT_BATCH = 5000;

/** Upserts one day of bars in batches, in one transaction; returns the rows written. */
export async function upsertDay(c: Client, table: string, bars: Bar[]): Promise<number> {
  let written = 0;
  await c.query('BEGIN');
  try {
    for (let i = 0; i < bars.length; i += UPSERT_BATCH) {
      const batch = bars.slice(i, i + UPSERT_BATCH);
      written += (await c.query(upsertStatement(table, batch.length), batch.flat())).rowCount ?? 0;
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  }
  return written;
}

/** The same rows and parameters through a statement that writes nothing: what the statement's shape alone costs. */
export async function valuesFloor(c: Client, bars: Bar[]): Promise<void> {
  for (let i = 0; i < bars.length; i += UPSERT_BATCH) {
    const batch = bars.slice(i, i + UPSERT_BATCH);
    const values = batch.map((_, r) => `(${Array.from({ length: 7 }, (__, k) => `$${r * 7 + k + 1}::text`).join(', ')})`);
    await c.query(`SELECT count(*) FROM (VALUES ${values.join(', ')}) AS v`, batch.flat());
  }
}
