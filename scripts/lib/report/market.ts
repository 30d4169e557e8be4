// The market data's panels, read from `ohlcv` and `tickers`: coverage over the window, staleness,
// gaps and thin histories over each ticker's whole history, and the bad-bar checks over the window.
// The bars are read in one pass, whatever the data's size: before the window, per ticker, only its
// count, first and last bar; in the window, per ticker, also how many bars fail each check and its
// largest volume. Around it, only small reads: the trading days by a loose scan of the date index
// (one probe a day), the spike check's medians (the last 20 days), and the bars of the few tickers
// that can have a gap, miss a day of the window, have a spike or fail a check (for its examples).
import type { Client } from 'pg';

/** The bad-bar checks, in the page's order. */
export const CHECKS = ['ohlc', 'volume', 'range', 'spike', 'flat'] as const;
export type CheckName = typeof CHECKS[number];

export const CHECK_LABELS: Record<CheckName, string> = {
  ohlc: 'OHLC relations broken (a price missing, low above high, or open or close outside low–high)',
  volume: 'zero, negative or missing volume',
  range: 'daily range (high − low) over 25% of the close',
  spike: 'volume over 10× the ticker\'s median volume of the last 20 trading days',
  flat: 'high equal to low',
};

/** A gap is longer than this many calendar days between two bars of one ticker. */
export const GAP_DAYS = 7;
/** Rows of the coverage heatmap at most: tickers are grouped by symbol beyond it. */
export const HEATMAP_ROWS = 40;
/** Examples and list lengths on the page. */
export const EXAMPLES = 5;
export const LISTED = 25;
const SPIKE_FACTOR = 10;
const SPIKE_BASELINE_DAYS = 20;
const RANGE_SHARE = 0.25;

export interface Bar {
  symbol: string;
  date: string;
  open: string | null;
  high: string | null;
  low: string | null;
  close: string | null;
  volume: string | null;
  /** For a volume spike: the ticker's median volume it is compared with. */
  median?: string;
}

export interface Check {
  name: CheckName;
  label: string;
  count: number;
  /** The newest first, then by symbol. */
  examples: Bar[];
}

export interface HeatmapRow {
  /** A symbol, or the first and last symbol of a group: `AAPL–AMZN`. */
  label: string;
  tickers: number;
  /** Bars on each of the window's trading days, in the order of `Coverage.days`. */
  bars: number[];
}

export interface Coverage {
  /** The window's trading days (days with any bar), oldest first. */
  days: string[];
  /** Active tickers with a bar on each of `days`. */
  perDay: number[];
  rows: HeatmapRow[];
  /** Tickers per heatmap row (1: a row per ticker). */
  groupSize: number;
}

export interface StaleTicker {
  symbol: string;
  /** null: no bar at all. */
  lastBar: string | null;
  /** Trading days (of the data's calendar) after its last bar. */
  behind: number;
}

export interface Gap {
  symbol: string;
  gaps: number;
  /** The longest: the bar before it, the bar after it, and the calendar days between. */
  from: string;
  to: string;
  days: number;
}

export interface Thin {
  symbol: string;
  bars: number;
  first: string;
  last: string;
}

export interface Market {
  /** The newest bar's date: the last trading day the data knows. */
  newestBar: string;
  /** The last weekday up to today (UTC), and how many weekdays the newest bar is behind it. */
  lastWeekday: string;
  weekdaysBehind: number;
  /** Trading days in the whole history, and its first. */
  tradingDays: number;
  firstBar: string;
  window: { days: number; from: string; to: string };
  tickers: { total: number; active: number; activeWithBarOnNewest: number; activeWithBarsInWindow: number };
  bars: { total: number; inWindow: number };
  stale: { count: number; withoutBars: number; listed: StaleTicker[] };
  coverage: Coverage;
  gaps: { tickers: number; gaps: number; listed: Gap[] };
  thin: { listed: Thin[]; under50: number; under100: number; under250: number };
  checks: Check[];
}

export interface StepTimer {
  <T>(name: string, work: () => Promise<T>): Promise<T>;
}

/** The data's trading days, newest first: a loose scan of `ohlcv`'s date index, one probe per day. */
async function tradingDays(client: Client): Promise<string[]> {
  const { rows } = await client.query(`WITH RECURSIVE calendar(day) AS (
      SELECT max(date) FROM ohlcv
      UNION ALL
      SELECT (SELECT max(o.date) FROM ohlcv o WHERE o.date < calendar.day) FROM calendar WHERE calendar.day IS NOT NULL)
    SELECT day::text FROM calendar WHERE day IS NOT NULL`);
  return rows.map((r) => r.day as string);
}

/** Days of `newestFirst` after `date` (a date string; the array is sorted newest first). */
function daysAfter(newestFirst: string[], date: string): number {
  let lo = 0;
  let hi = newestFirst.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newestFirst[mid] > date) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const daysBetween = (from: string, to: string) => (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000;
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** The last weekday on or before `today`, and the weekdays after `date` up to it. Exchange holidays are not known. */
export function weekdaysBehind(date: string, today: string): { lastWeekday: string; behind: number } {
  let last = today;
  while ([0, 6].includes(new Date(`${last}T00:00:00Z`).getUTCDay())) last = addDays(last, -1);
  let behind = 0;
  for (let d = addDays(date, 1); d <= last; d = addDays(d, 1)) if (![0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay())) behind++;
  return { lastWeekday: last, behind };
}

/** Each check as a condition on a bar `o` (and, for the spike, its ticker's baseline `b`): true when the bar fails it. */
const FAILS: Record<CheckName, string> = {
  // An open and a close between low and high put low below high too.
  ohlc: '(o.open BETWEEN o.low AND o.high AND o.close BETWEEN o.low AND o.high) IS NOT TRUE',
  volume: '(o.volume IS NULL OR o.volume <= 0)',
  range: `(o.close > 0 AND o.high - o.low > ${RANGE_SHARE} * o.close) IS TRUE`,
  spike: `(b.median > 0 AND o.volume > ${SPIKE_FACTOR} * b.median) IS TRUE`,
  flat: '(o.high = o.low) IS TRUE',
};

/** Each ticker's median volume over the trading days from `$from` on (a parameter), for the spike check. */
const baseline = (from: string, tickers = '') => `SELECT ticker_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY volume) AS median
  FROM ohlcv WHERE date >= ${from}${tickers ? ` AND ticker_id = ANY(${tickers})` : ''} GROUP BY ticker_id`;

interface TickerRow {
  id: string;
  symbol: string;
  active: boolean;
  bucket: number | null;
  bars: number;
  first: string | null;
  last: string | null;
  in_window: number;
  window_first: string | null;
  window_last: string | null;
  /** Per check: bars of the window that fail it. */
  [check: string]: unknown;
}

/** null when `ohlcv` holds no bar; with the figures, each ticker's last bar (by id; null: none), for the watchlist panel. */
export async function readMarket(client: Client, o: { days: number; today: string }, step: StepTimer): Promise<{ market: Market; lastBars: Map<string, string | null> } | null> {
  const calendar = await step('calendar', () => tradingDays(client));
  if (calendar.length === 0) return null;
  const newestBar = calendar[0];
  const windowFrom = addDays(newestBar, -(o.days - 1));
  const days = calendar.filter((d) => d >= windowFrom).reverse();
  const baselineFrom = calendar[Math.min(SPIKE_BASELINE_DAYS, calendar.length) - 1];

  // One pass over every bar: the history before the window by ticker (count, first, last), the
  // window's bars by ticker with each check's count, and their largest volume, which the spike
  // check compares with the ticker's median.
  const counted = CHECKS.filter((c) => c !== 'spike');
  const tickers = await step('per-ticker pass', async () => (await client.query(`WITH labels AS (
        SELECT id, symbol, is_active,
               CASE WHEN is_active THEN ((row_number() OVER (PARTITION BY is_active ORDER BY symbol) - 1) * least($2, count(*) OVER (PARTITION BY is_active))
                 / count(*) OVER (PARTITION BY is_active))::int END AS bucket
          FROM tickers),
      history AS (SELECT ticker_id, count(*)::int AS bars, min(date) AS first, max(date) AS last FROM ohlcv WHERE date < $1 GROUP BY ticker_id),
      recent AS (
        SELECT o.ticker_id, count(*)::int AS bars, min(o.date) AS first, max(o.date) AS last, max(o.volume)::float8 AS max_volume,
          ${counted.map((c) => `(count(*) FILTER (WHERE ${FAILS[c]}))::int AS ${c}`).join(', ')}
          FROM ohlcv o WHERE o.date >= $1 GROUP BY o.ticker_id)
    SELECT l.id::text, l.symbol, l.is_active AS active, l.bucket, coalesce(h.bars, 0) + coalesce(r.bars, 0) AS bars,
           least(h.first, r.first)::text AS first, greatest(h.last, r.last)::text AS last,
           coalesce(r.bars, 0) AS in_window, r.first::text AS window_first, r.last::text AS window_last, r.max_volume,
           ${counted.map((c) => `coalesce(r.${c}, 0) AS ${c}`).join(', ')}
      FROM labels l LEFT JOIN history h ON h.ticker_id = l.id LEFT JOIN recent r ON r.ticker_id = l.id
     ORDER BY l.symbol`, [windowFrom, HEATMAP_ROWS])).rows as TickerRow[]);

  // Volume spikes: only a ticker whose largest volume in the window is over 10× its median can
  // have one; only those tickers' bars are counted.
  const spikes = await step('volume spikes', async () => {
    const { rows: medians } = await client.query(`SELECT ticker_id::text AS id, median FROM (${baseline('$1')}) b WHERE median > 0`, [baselineFrom]);
    const median = new Map(medians.map((m) => [m.id as string, m.median as number]));
    const candidates = tickers.filter((t) => median.has(t.id) && (t.max_volume as number | null ?? 0) > SPIKE_FACTOR * median.get(t.id)!).map((t) => t.id);
    if (candidates.length === 0) return [];
    return (await client.query(`SELECT o.ticker_id::text AS id, count(*)::int AS n
        FROM ohlcv o JOIN unnest($1::uuid[], $2::float8[]) AS b(ticker_id, median) ON b.ticker_id = o.ticker_id
       WHERE o.date >= $3 AND ${FAILS.spike} GROUP BY o.ticker_id`, [candidates, candidates.map((id) => median.get(id)), windowFrom])).rows;
  });
  for (const t of tickers) t.spike = 0;
  const byId = new Map(tickers.map((t) => [t.id, t]));
  for (const s of spikes) byId.get(s.id)!.spike = s.n;

  // Only two kinds of ticker can have a gap, and only their bars are read one by one: those whose
  // bars number fewer than the trading days from their first bar to their last (they miss a day),
  // and those whose history spans a gap of the calendar itself (days on which no ticker has a bar).
  const tradingDaysBetween = (from: string, to: string) => daysAfter(calendar, addDays(from, -1)) - daysAfter(calendar, to);
  const calendarGaps = calendar.slice(1).map((before, i) => [before, calendar[i]]).filter(([before, after]) => daysBetween(before, after) > GAP_DAYS);
  const missingDays = tickers.filter((t) => t.bars > 0 && (t.bars < tradingDaysBetween(t.first!, t.last!)
    || calendarGaps.some(([before, after]) => t.first! <= before && t.last! >= after)));
  const gapRows = await step('gaps', async () => (missingDays.length === 0 ? [] : (await client.query(`
    SELECT t.symbol, count(*)::int AS gaps, max(g.date - g.prev)::int AS days,
           (array_agg(g.prev::text ORDER BY g.date - g.prev DESC, g.date))[1] AS "from", (array_agg(g.date::text ORDER BY g.date - g.prev DESC, g.date))[1] AS "to"
      FROM (SELECT ticker_id, date, lag(date) OVER (PARTITION BY ticker_id ORDER BY date) AS prev FROM ohlcv WHERE ticker_id = ANY($1::uuid[])) g
      JOIN tickers t ON t.id = g.ticker_id
     WHERE g.date - g.prev > $2
     GROUP BY t.symbol ORDER BY days DESC, gaps DESC, t.symbol`, [missingDays.map((t) => t.id), GAP_DAYS])).rows as Gap[]));

  // The heatmap: a ticker with a bar on every trading day from its first bar in the window to its
  // last adds one to each of those days; only the others' days are read.
  const active = tickers.filter((t) => t.active);
  const dayIndex = new Map(days.map((d, i) => [d, i]));
  const rowCount = active.length === 0 ? 0 : Math.max(...active.map((t) => t.bucket ?? 0)) + 1;
  const rows: HeatmapRow[] = Array.from({ length: rowCount }, (_, b) => {
    const members = active.filter((t) => t.bucket === b);
    const label = members.length === 1 ? members[0].symbol : `${members[0]?.symbol ?? ''}–${members[members.length - 1]?.symbol ?? ''}`;
    return { label, tickers: members.length, bars: days.map(() => 0) };
  });
  const partial = active.filter((t) => t.in_window > 0 && t.in_window < tradingDaysBetween(t.window_first!, t.window_last!));
  const partialDays = await step('window days', async () => (partial.length === 0 ? [] : (await client.query(
    'SELECT ticker_id::text AS id, date::text FROM ohlcv WHERE ticker_id = ANY($1::uuid[]) AND date >= $2', [partial.map((t) => t.id), windowFrom])).rows));
  const bucketOf = new Map(active.map((t) => [t.id, t.bucket!]));
  for (const p of partialDays) rows[bucketOf.get(p.id)!].bars[dayIndex.get(p.date)!]++;
  const partialIds = new Set(partial.map((t) => t.id));
  for (const t of active) {
    if (t.in_window === 0 || partialIds.has(t.id)) continue;
    const row = rows[t.bucket!].bars;
    for (let i = dayIndex.get(t.window_first!)!; i <= dayIndex.get(t.window_last!)!; i++) row[i]++;
  }
  const perDay = days.map((_, i) => rows.reduce((sum, r) => sum + r.bars[i], 0));

  // Each check's first examples, newest first, from the bars of the tickers that have one.
  const checks = await step('bad-bar examples', async () => {
    const out: Check[] = [];
    for (const name of CHECKS) out.push(await checkOf(name));
    return out;
  });
  async function checkOf(name: CheckName): Promise<Check> {
    const hits = tickers.filter((t) => (t[name] as number) > 0);
    const count = hits.reduce((n, t) => n + (t[name] as number), 0);
    if (count === 0) return { name, label: CHECK_LABELS[name], count, examples: [] };
    const ids = hits.map((t) => t.id);
    const { rows: examples } = await client.query(`SELECT t.symbol, o.date::text, o.open::text, o.high::text, o.low::text, o.close::text, o.volume::text
        ${name === 'spike' ? ', round(b.median::numeric, 1)::text AS median' : ''}
        FROM ohlcv o JOIN tickers t ON t.id = o.ticker_id ${name === 'spike' ? `LEFT JOIN (${baseline('$3', '$1::uuid[]')}) b ON b.ticker_id = o.ticker_id` : ''}
       WHERE o.ticker_id = ANY($1::uuid[]) AND o.date >= $2 AND ${FAILS[name]}
       ORDER BY o.date DESC, t.symbol LIMIT ${EXAMPLES}`, name === 'spike' ? [ids, windowFrom, baselineFrom] : [ids, windowFrom]);
    return { name, label: CHECK_LABELS[name], count, examples };
  }

  const staleTickers = active.filter((t) => t.last === null || t.last < newestBar).map((t): StaleTicker => ({
    symbol: t.symbol, lastBar: t.last, behind: t.last === null ? calendar.length : daysAfter(calendar, t.last),
  }));
  const withBars = tickers.filter((t) => t.bars > 0);
  const thin = [...withBars].sort((a, b) => a.bars - b.bars).slice(0, LISTED).map((t): Thin => ({ symbol: t.symbol, bars: t.bars, first: t.first!, last: t.last! }));
  const { lastWeekday, behind } = weekdaysBehind(newestBar, o.today);
  const market: Market = {
    newestBar, lastWeekday, weekdaysBehind: behind, tradingDays: calendar.length, firstBar: calendar[calendar.length - 1],
    window: { days: o.days, from: windowFrom, to: newestBar },
    tickers: {
      total: tickers.length, active: active.length,
      activeWithBarOnNewest: active.filter((t) => t.last === newestBar).length,
      activeWithBarsInWindow: active.filter((t) => t.in_window > 0).length,
    },
    bars: { total: tickers.reduce((n, t) => n + t.bars, 0), inWindow: tickers.reduce((n, t) => n + t.in_window, 0) },
    stale: {
      count: staleTickers.length, withoutBars: staleTickers.filter((t) => t.lastBar === null).length,
      listed: staleTickers.sort((a, b) => b.behind - a.behind).slice(0, LISTED),
    },
    coverage: { days, perDay, rows, groupSize: Math.ceil(active.length / Math.max(1, rowCount)) },
    gaps: { tickers: gapRows.length, gaps: gapRows.reduce((n, g) => n + g.gaps, 0), listed: gapRows.slice(0, LISTED) },
    thin: {
      listed: thin,
      under50: withBars.filter((t) => t.bars < 50).length, under100: withBars.filter((t) => t.bars < 100).length, under250: withBars.filter((t) => t.bars < 250).length,
    },
    checks,
  };
  return { market, lastBars: new Map(tickers.map((t) => [t.id, t.last])) };
}
