// A small database with rows in every table and ohlcv over several chunks, and a fingerprint
// of its contents read with plain SQL, to tell whether two databases hold the same rows.
import { Client, escapeIdentifier } from 'pg';

/** 20 tickers; ohlcv weekly over 2021-2023 (3,120 rows, 4 chunks of 365 days); a few rows in every other table. */
export async function fillEveryTable(c: Client, prefix = 'T'): Promise<void> {
  await c.query(`INSERT INTO tickers (symbol, name, sector) SELECT $1 || g, 'Ticker ' || g, 'Sector ' || (g % 4) FROM generate_series(1, 20) g`, [prefix]);
  await c.query(`INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume)
    SELECT t.id, d::date, 10 + x, 11 + x, 9 + x, 10.5 + x, (1000 * x)::bigint
      FROM tickers t, generate_series('2021-01-04'::date, '2023-12-31', '7 days') d, LATERAL (SELECT random() * 100 AS x) r`);
  await c.query(`INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, bid, ask, volume, implied_volatility)
    SELECT '2023-06-01 20:00+00', t.id, '2023-07-21', s, o::option_type, s / 10, s / 10 + 0.05, 100, 0.25
      FROM tickers t, generate_series(90, 110, 5) s, unnest(ARRAY['C', 'P']) o`);
  await c.query(`INSERT INTO daily_snapshots (time, ticker_id, wyckoff_phase, phase_confidence, events_detected, bc_score, spring_score, events_json)
    SELECT '2023-06-01 20:00+00'::timestamptz + g * interval '1 day', t.id, (ARRAY['A', 'B', 'C', 'D', 'E'])[1 + g % 5], 0.5,
           ARRAY['SC', 'AR'], g, g % 12, '{"k": 1}'
      FROM tickers t, generate_series(0, 9) g`);
  await c.query(`INSERT INTO recommendations (snapshot_time, ticker_id, recommendation_date, direction, action, confidence)
    SELECT time, ticker_id, time::date, 'LONG', 'BUY', 0.7 FROM daily_snapshots WHERE wyckoff_phase = 'C'`);
  await c.query(`INSERT INTO recommendation_outcomes (recommendation_id, evaluation_date, direction_correct, outcome_status)
    SELECT id, recommendation_date + 5, true, 'WIN' FROM recommendations`);
}

/** Per table in public: rows, and an md5 of every row's text in a fixed order; ohlcv's chunks. */
export async function fingerprint(c: Client): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  const { rows } = await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  for (const { tablename } of rows) {
    const t = `public.${escapeIdentifier(tablename)}`;
    const { rows: [r] } = await c.query(`SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS md5 FROM ${t} x`);
    out[tablename] = `${r.n} rows, md5 ${r.md5}`;
  }
  out.ohlcvChunks = (await c.query("SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'ohlcv'")).rows[0].n;
  return out;
}
