// A small market with known faults planted, for the health report's tests, and the oracle: the
// same figures asked of the database in plain SQL, written apart from the report's own queries.
import { Client } from 'pg';

/** Weekdays from 2024-01-01 to 2024-06-28 but for 2024-02-12 to 2024-02-15, when no ticker has a bar: 126 trading days; the newest bar is 2024-06-28. */
export const NEWEST = '2024-06-28';

/**
 * 12 active tickers with clean daily bars, and the plants:
 * - GAPA misses 2024-03-04 to 2024-03-15 (a gap of 17 calendar days), GAPB one day, 2024-05-15 (no gap over 7 days),
 *   GAPC one trading day, 2024-02-16, after the four without any bar: a gap of 10 calendar days (the others' is 7);
 * - STAL stops on 2024-06-20 (stale by 6 trading days); NONE, active, has no bar at all;
 * - THIN starts on 2024-06-03 (20 bars); OLDX is inactive and stopped in 2024-02 (not stale: inactive), and has
 *   one bar of 2022-06-01, alone in its chunk, when no other ticker has any (a gap of no missing trading day);
 * - bad bars in the 90-day window: high below low (BADA), close above high (BADB), a missing open (BADC),
 *   zero volume (BADD), missing volume (BADE), a range of 30% of the close (BADF), high equal to low (BADG),
 *   a volume spike of 50× (BADH); and, before the window, a bar with high below low and zero volume (BADA, 2024-01-10).
 */
export async function seedMarket(c: Client): Promise<void> {
  const symbols = ['AAPL', 'BADA', 'BADB', 'BADC', 'BADD', 'BADE', 'BADF', 'BADG', 'BADH', 'GAPA', 'GAPB', 'GAPC', 'STAL', 'THIN', 'NONE'];
  await c.query(`INSERT INTO tickers (symbol, name, is_active) SELECT s, 'Ticker ' || s, true FROM unnest($1::text[]) s`, [symbols]);
  await c.query(`INSERT INTO tickers (symbol, name, is_active) VALUES ('OLDX', 'Delisted', false)`);
  // Clean bars: prices drift by ticker and day, volume varies around a million.
  await c.query(`INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume)
    SELECT t.id, d::date, 100 + k, 101 + k, 99 + k, 100.5 + k, 1000000 + (extract(doy FROM d)::int % 7) * 10000
      FROM tickers t, generate_series('2024-01-01'::date, '${NEWEST}', '1 day') d, LATERAL (SELECT (extract(doy FROM d)::int % 5)::numeric AS k) p
     WHERE extract(isodow FROM d) < 6 AND t.symbol NOT IN ('NONE') AND d NOT BETWEEN '2024-02-12' AND '2024-02-15'
       AND NOT (t.symbol = 'GAPA' AND d BETWEEN '2024-03-04' AND '2024-03-15')
       AND NOT (t.symbol = 'GAPB' AND d = '2024-05-15')
       AND NOT (t.symbol = 'GAPC' AND d = '2024-02-16')
       AND NOT (t.symbol = 'STAL' AND d > '2024-06-20')
       AND NOT (t.symbol = 'THIN' AND d < '2024-06-03')
       AND NOT (t.symbol = 'OLDX' AND d > '2024-02-15')`);
  const plant = (symbol: string, date: string, set: string) =>
    c.query(`UPDATE ohlcv SET ${set} WHERE date = $2 AND ticker_id = (SELECT id FROM tickers WHERE symbol = $1)`, [symbol, date]);
  await c.query(`INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume) SELECT id, '2022-06-01', 10, 11, 9, 10, 5000 FROM tickers WHERE symbol = 'OLDX'`);
  await plant('BADA', '2024-06-10', 'high = 95, low = 99');
  await plant('BADB', '2024-06-11', 'close = 105');
  await plant('BADC', '2024-06-12', 'open = NULL');
  await plant('BADD', '2024-06-13', 'volume = 0');
  await plant('BADE', '2024-06-14', 'volume = NULL');
  await plant('BADF', '2024-06-17', 'high = 130, low = 100, open = 101, close = 100');
  await plant('BADG', '2024-06-18', 'high = 100, low = 100, open = 100, close = 100');
  await plant('BADH', '2024-06-26', 'volume = 50000000');
  await plant('BADA', '2024-01-10', 'high = 95, low = 99, volume = 0');
  await c.query('ANALYZE tickers');
  await c.query('ANALYZE ohlcv');
}

/** The report's figures, asked plainly: full scans, lag() and percentile_cont over every row. */
export async function oracle(c: Client, days: number) {
  const one = async (sql: string, values: unknown[] = []) => (await c.query(sql, values)).rows[0];
  const { newest, from } = await one(`SELECT max(date)::text AS newest, (max(date) - $1::int + 1)::text AS "from" FROM ohlcv`, [days]);
  const inWindow = (cond: string) => one(`SELECT count(*)::int AS n FROM ohlcv o WHERE o.date >= $1 AND (${cond})`, [from]).then((r) => r.n as number);
  const lastDays = (await c.query('SELECT DISTINCT date FROM ohlcv ORDER BY date DESC LIMIT 20')).rows;
  const spikes = await one(`WITH base AS (SELECT ticker_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY volume) AS m FROM ohlcv WHERE date >= $2 GROUP BY ticker_id)
    SELECT count(*)::int AS n FROM ohlcv o JOIN base b USING (ticker_id) WHERE o.date >= $1 AND b.m > 0 AND o.volume > 10 * b.m`, [from, lastDays[lastDays.length - 1].date]);
  const gaps = await one(`SELECT count(DISTINCT ticker_id)::int AS tickers, count(*)::int AS gaps FROM
    (SELECT ticker_id, date - lag(date) OVER (PARTITION BY ticker_id ORDER BY date) AS d FROM ohlcv) x WHERE d > 7`);
  const perTicker = `SELECT t.symbol, t.is_active, count(o.date)::int AS bars, max(o.date) AS last FROM tickers t LEFT JOIN ohlcv o ON o.ticker_id = t.id GROUP BY t.id`;
  const tickers = await one(`SELECT count(*) FILTER (WHERE is_active)::int AS active, count(*)::int AS total,
      count(*) FILTER (WHERE is_active AND (last IS NULL OR last < $1))::int AS stale,
      count(*) FILTER (WHERE is_active AND last IS NULL)::int AS without_bars,
      count(*) FILTER (WHERE is_active AND last = $1)::int AS on_newest,
      count(*) FILTER (WHERE bars > 0 AND bars < 50)::int AS under50, count(*) FILTER (WHERE bars > 0 AND bars < 100)::int AS under100
    FROM (${perTicker}) p`, [newest]);
  const perDay = (await c.query(`SELECT o.date::text, count(*)::int AS n FROM ohlcv o JOIN tickers t ON t.id = o.ticker_id
    WHERE t.is_active AND o.date >= $1 GROUP BY o.date ORDER BY o.date`, [from])).rows as Array<{ date: string; n: number }>;
  // Per active ticker, by symbol: the window's trading days on which it has no bar.
  const missing = (await c.query(`WITH days AS (SELECT DISTINCT date FROM ohlcv WHERE date >= $1)
    SELECT t.symbol, (SELECT count(*) FROM days d WHERE NOT EXISTS (SELECT 1 FROM ohlcv o WHERE o.ticker_id = t.id AND o.date = d.date))::int AS n
      FROM tickers t WHERE t.is_active ORDER BY t.symbol`, [from])).rows as Array<{ symbol: string; n: number }>;
  const thinnest = (await c.query(`SELECT symbol FROM (${perTicker}) p WHERE bars > 0 ORDER BY bars, symbol LIMIT 3`)).rows.map((r) => r.symbol);
  const largestGap = await one(`SELECT t.symbol FROM (SELECT ticker_id, date - lag(date) OVER (PARTITION BY ticker_id ORDER BY date) AS d FROM ohlcv) x
    JOIN tickers t ON t.id = x.ticker_id WHERE d > 7 ORDER BY d DESC, t.symbol LIMIT 1`);
  return {
    newest, from, tickers, gaps, perDay, missing, thinnest, largestGap: largestGap?.symbol as string | undefined,
    bars: (await one('SELECT count(*)::int AS n FROM ohlcv')).n as number,
    barsInWindow: await inWindow('true'),
    checks: {
      ohlc: await inWindow(`o.open IS NULL OR o.high IS NULL OR o.low IS NULL OR o.close IS NULL
        OR o.low > o.high OR o.open < o.low OR o.open > o.high OR o.close < o.low OR o.close > o.high`),
      volume: await inWindow('o.volume IS NULL OR o.volume <= 0'),
      range: await inWindow('o.close > 0 AND (o.high - o.low) / o.close > 0.25'),
      spike: spikes.n as number,
      flat: await inWindow('o.high = o.low'),
    },
  };
}
