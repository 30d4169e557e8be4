// Why each TimescaleDB rule of the lint exists: how long its statement holds its lock on the
// benchmark's ohlcv, each run in a transaction rolled back (the lock is held from the statement's
// start to the transaction's end, and the rollback follows at once), and the same scaled to
// production's size. Rows are what the time grows with; the scaling is linear, a lower bound for
// an index build (n log n) or a rewrite that outgrows memory.
import type { Client } from 'pg';
import { NOTE_RULES } from '../migrations/lint';
import { TIMESCALE_RULES } from '../migrations/timescaleRules';

/** KapMan's production ohlcv: about 15,000 tickers × 10 years of 252 trading days. */
export const PRODUCTION_ROWS = 15_000 * 10 * 252;

export interface LockTiming {
  rule: string;
  statement: string;
  /** Median of the runs, in ms: how long the lock was held. */
  ms: number;
  /** TimescaleDB's refusal, for the rules whose statement it refuses outright. */
  refused?: string;
}

/** The statement each rule fires on; `plain` is ohlcv's plain twin, made a hypertable by the one case that needs a table with rows. */
function cases(plain: string): Record<string, string> {
  return {
    'timescaledb-index-on-populated-hypertable': 'CREATE INDEX ohlcv_volume_idx ON ohlcv (volume)',
    'timescaledb-hypertable-rewrite': 'ALTER TABLE ohlcv ALTER COLUMN close TYPE float8',
    'timescaledb-create-hypertable-without-migrate-data': `SELECT create_hypertable('${plain}', by_range('date', INTERVAL '365 days'), migrate_data => true)`,
    'timescaledb-chunk-interval-change': "SELECT set_chunk_time_interval('ohlcv', INTERVAL '30 days')",
    'timescaledb-unique-without-time-column': 'CREATE UNIQUE INDEX ohlcv_close_key ON ohlcv (ticker_id, close)',
    'timescaledb-concurrent-index': 'CREATE INDEX CONCURRENTLY ohlcv_close_idx ON ohlcv (close)',
    // On ohlcv with compression enabled as the author's day-2 migration enables it (in the same
    // transaction, rolled back): what TimescaleDB does with each, or its refusal.
    'timescaledb-compressed-type-change': `${COMPRESSED}; ALTER TABLE ohlcv ALTER COLUMN close TYPE float8`,
    'timescaledb-compressed-add-column': `${COMPRESSED}; ALTER TABLE ohlcv ADD COLUMN checked boolean NOT NULL DEFAULT now() < '2000-01-01'`,
    'timescaledb-compressed-drop-column': `${COMPRESSED}; ALTER TABLE ohlcv DROP COLUMN ticker_id`,
    'timescaledb-compressed-unique': `${COMPRESSED}; CREATE UNIQUE INDEX ohlcv_close_key ON ohlcv (ticker_id, date, close)`,
    'timescaledb-compressed-add-constraint': `${COMPRESSED}; ALTER TABLE ohlcv ADD CONSTRAINT ohlcv_close_positive CHECK (close > 0)`,
  };
}

const COMPRESSED = "ALTER TABLE ohlcv SET (timescaledb.compress, timescaledb.compress_segmentby = 'ticker_id', timescaledb.compress_orderby = 'date DESC')";

/** The rules that hold a lock: a note (a deprecated API) changes nothing on the table. */
const lockRules = () => TIMESCALE_RULES.map((r) => r.name).filter((name) => !NOTE_RULES.includes(name));

export async function benchLocks(c: Client, plain: string, runs: number): Promise<LockTiming[]> {
  const statements = cases(plain);
  const missing = lockRules().filter((name) => !statements[name]);
  if (missing.length) throw new Error(`no lock case for the lint rule ${missing.join(', ')}`);
  const out: LockTiming[] = [];
  for (const rule of lockRules()) {
    const times: number[] = [];
    let refused: string | undefined;
    for (let i = 0; i < runs; i++) {
      await c.query('BEGIN');
      const started = process.hrtime.bigint();
      try {
        await c.query(statements[rule]);
      } catch (err) {
        refused = (err as Error).message;
      }
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      await c.query('ROLLBACK');
    }
    out.push({ rule, statement: statements[rule], ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)], ...(refused ? { refused } : {}) });
  }
  return out;
}
