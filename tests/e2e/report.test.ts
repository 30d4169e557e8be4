// Slow (a Chromium per page, the day-2 migrations, real processes): `kapman-db report` as a person
// sees it. The command writes the page in the production environment (no --force: it only
// reads), Debian's headless Chromium opens it and takes a screenshot (kept in artifacts/, its path
// printed for CI's log), and the DOM Chromium built is checked against the database in plain SQL.
import fs from 'fs';
import path from 'path';
import { Client } from 'pg';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { ARTIFACTS, numberOf, openPage, panels } from '../support/browser';
import { runScript } from '../support/cli';
import { day2Migrations, migrationsFolder, releasedMigrations } from '../support/migrations';
import { oracle, seedMarket } from '../support/reportData';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { migrationFiles } from '../support/expected';
import { Settings } from '../../scripts/lib/server/settings';

afterAll(dropMadeDatabases);

/** The page of `db`, written by the command as a user runs it, opened in Chromium: its DOM. */
function reportPage(db: Settings, name: string): { dom: string; html: string } {
  const out = path.join(ARTIFACTS, `report-${name}.html`);
  const run = runScript('report', ['--env', 'production', '--out', out], { DATABASE_URL: db.url });
  expect({ code: run.code, out: run.out + run.err }).toEqual({ code: 0, out: expect.stringContaining(`report written: ${out}`) });
  const html = fs.readFileSync(out, 'utf8');
  // Self-contained: nothing to fetch, nothing to run.
  expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|url\(/i);
  return { dom: openPage(out, path.join(ARTIFACTS, `report-${name}.png`)), html };
}

test('a seeded database\'s page: every panel, each count equal to the database\'s in plain SQL, the drift of the day-2 migrations on top', async () => {
  const db = await createMigratedDatabase('_page');
  // Day two: compression and its policies, and the watchlists table; neither is in db/contract.ts.
  await applyMigrations(db, { directory: migrationsFolder({ ...releasedMigrations(), ...day2Migrations('0010') }) });
  await withDatabase(db, async (c) => {
    // Paused before any bar is written: the retention policy (730 days) would drop the seeded 2024 chunks.
    await c.query('SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE job_id >= 1000');
    await seedMarket(c);
    // The chunk of OLDX's bar of 2022, compressed; and watchlists with one symbol in each state.
    await c.query("SELECT compress_chunk(c) FROM show_chunks('ohlcv', older_than => DATE '2023-01-01') c");
    await c.query(`INSERT INTO watchlists (watchlist_id, symbol, active, source, effective_date) VALUES
      ('core', 'AAPL', true, 'test', '2024-01-01'), ('core', 'stal', true, 'test', '2024-01-01'), ('core', 'NONE', true, 'test', '2024-01-01'),
      ('core', 'ZZZZ', true, 'test', '2024-01-01'), ('growth', 'THIN', true, 'test', '2024-01-01'), ('growth', 'GAPA', false, 'test', '2024-01-01')`);
    await c.query('ANALYZE');
  });
  const { dom } = reportPage(db, 'seeded');
  const want = await withDatabase(db, (c) => oracle(c, 90));
  const sql = (c: Client, text: string) => c.query(text).then((r) => r.rows[0]);
  const watch = await withDatabase(db, (c) => sql(c, `WITH w AS (SELECT DISTINCT upper(symbol) AS s FROM watchlists WHERE active),
      last AS (SELECT upper(t.symbol) AS s, max(o.date) AS d FROM tickers t LEFT JOIN ohlcv o ON o.ticker_id = t.id GROUP BY 1)
    SELECT count(*) FILTER (WHERE l.d = (SELECT max(date) FROM ohlcv))::int AS current, count(*) FILTER (WHERE l.d < (SELECT max(date) FROM ohlcv))::int AS stale,
           count(*) FILTER (WHERE l.s IS NOT NULL AND l.d IS NULL)::int AS "no-bars", count(*) FILTER (WHERE l.s IS NULL)::int AS "no-ticker"
      FROM w LEFT JOIN last l ON l.s = w.s`));
  const compressed = await withDatabase(db, (c) => sql(c, "SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'ohlcv' AND is_compressed"));
  const recorded = await withDatabase(db, async (c) => (await c.query('SELECT name FROM knex.knex_migrations')).rows.map((r) => r.name as string));
  const files = migrationFiles();

  // Every panel, none left out; the database differs from the contract, so the schema comes first.
  expect(panels(dom)).toEqual(['schema', 'coverage', 'gaps', 'bad bars', 'watchlists', 'storage'].map((panel) => ({ panel, leftOut: false })));
  expect(dom).toMatch(/<section id="schema" class="panel drift"/);
  expect(dom).toContain('unexpected</b> table'); // watchlists, which the contract does not have
  expect({
    active: numberOf(dom, 'active-tickers'), stale: numberOf(dom, 'stale-tickers'), withoutBars: numberOf(dom, 'tickers-without-bars'),
    onNewest: numberOf(dom, 'active-with-bar-on-newest'), bars: numberOf(dom, 'bars'), inWindow: numberOf(dom, 'bars-in-window'),
    gapTickers: numberOf(dom, 'tickers-with-gaps'), gaps: numberOf(dom, 'gaps'), under50: numberOf(dom, 'thin-under-50'),
    ohlc: numberOf(dom, 'check-ohlc'), volume: numberOf(dom, 'check-volume'), range: numberOf(dom, 'check-range'), spike: numberOf(dom, 'check-spike'), flat: numberOf(dom, 'check-flat'),
    current: numberOf(dom, 'watchlist-current'), staleSymbols: numberOf(dom, 'watchlist-stale'), noBars: numberOf(dom, 'watchlist-no-bars'), noTicker: numberOf(dom, 'watchlist-no-ticker'),
    compressed: numberOf(dom, 'compressed-chunks-ohlcv'),
    applied: numberOf(dom, 'migrations-applied'), pending: numberOf(dom, 'migrations-pending'), off: numberOf(dom, 'migrations-off'),
  }).toEqual({
    active: want.tickers.active, stale: want.tickers.stale, withoutBars: want.tickers.without_bars,
    onNewest: want.tickers.on_newest, bars: want.bars, inWindow: want.barsInWindow,
    gapTickers: want.gaps.tickers, gaps: want.gaps.gaps, under50: want.tickers.under50,
    ...want.checks,
    current: watch.current, staleSymbols: watch.stale, noBars: watch['no-bars'], noTicker: watch['no-ticker'],
    compressed: compressed.n,
    // 0009 and 0010 are applied, and db/migrations has no file of them.
    applied: files.filter((f) => recorded.includes(f)).length, pending: files.filter((f) => !recorded.includes(f)).length, off: recorded.filter((r) => !files.includes(r)).length,
  });
  // The plants are in it, so that the equal counts say something.
  expect([want.checks.ohlc, want.tickers.stale, want.gaps.tickers, compressed.n, watch['no-ticker'], recorded.length - files.length]).toEqual([3, 2, 3, 1, 1, 2]);
  // Each chart has a title and a description; its axes are labelled.
  const charts = [...dom.matchAll(/<svg[^>]*role="img"[^>]*>([\s\S]*?)<\/svg>/g)].map((m) => m[1]);
  expect(charts.length).toBeGreaterThanOrEqual(5);
  for (const c of charts) expect(c).toMatch(/^<title id="[^"]+">[^<]+<\/title><desc id="[^"]+">[^<]+<\/desc>/);
});

test('an empty database\'s page says it is empty, draws no chart of bars, and puts the schema, which matches, last', async () => {
  const db = await createMigratedDatabase('_emptypage');
  const { dom } = reportPage(db, 'empty');
  expect(dom).toMatch(/data-figure="empty">This database holds no bars yet/);
  expect(panels(dom)).toEqual([
    { panel: 'coverage', leftOut: true }, { panel: 'gaps', leftOut: true }, { panel: 'bad bars', leftOut: true }, { panel: 'watchlists', leftOut: true },
    { panel: 'storage', leftOut: false }, { panel: 'schema', leftOut: false },
  ]);
  expect(dom).toContain('Left out: ohlcv holds no bar yet.');
  expect(dom).toMatch(/data-figure="schema-matches">The database matches the contract/);
  expect(dom).not.toMatch(/NaN|undefined|Infinity/);
});
