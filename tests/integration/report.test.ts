// The health report's figures and its safety, in-process: each panel's numbers against a plain-SQL
// oracle on a small market with faults planted, and the session's guarantees (read-only, a
// statement timeout, no lock beyond ACCESS SHARE). The page itself, in a browser: tests/e2e/report.test.ts.
import { Client, escapeIdentifier } from 'pg';
import { collectReport } from '../../scripts/lib/report/collect';
import { withReadOnlySnapshot } from '../../scripts/lib/report/session';
import { NEWEST, oracle, seedMarket } from '../support/reportData';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { Settings } from '../../scripts/lib/server/settings';
import { CONTRACT, TABLE_NAMES } from '../../db/contract';
import { WATCHLIST_COLUMNS } from '../../scripts/lib/report/watchlists';

afterAll(dropMadeDatabases);

// The watchlist panel reads KapMan's watchlists table, which a later migration adds: without it,
// or with a table of another shape, the report names what it left out.
const contractWatchlists = CONTRACT.tables.find((t) => t.name === 'watchlists');
const leftOutWithoutWatchlists = !contractWatchlists ? { watchlists: expect.stringContaining('no table watchlists') }
  : WATCHLIST_COLUMNS.every((c) => contractWatchlists.columns.some((k) => k.name === c)) ? {}
    : { watchlists: expect.stringMatching(/^the table watchlists has no column /) };

let seeded: Settings;
beforeAll(async () => {
  seeded = await createMigratedDatabase('_report');
  await withDatabase(seeded, seedMarket);
});

test('every figure of the market panels equals the oracle\'s, on a market with planted gaps, bad bars and a stale ticker', async () => {
  const report = await collectReport(seeded, { days: 90 });
  const want = await withDatabase(seeded, (c) => oracle(c, 90));
  const m = report.market!;
  // The plants are there, so that equal counts mean something.
  expect(want.checks).toEqual({ ohlc: 3, volume: 2, range: 1, spike: 1, flat: 1 });
  expect(want.gaps).toEqual({ tickers: 3, gaps: 3 }); // GAPA's, GAPC's of one missing trading day, and OLDX's of none
  expect(want.tickers.stale).toBeGreaterThan(0);

  expect(report.empty).toBeNull();
  expect(report.leftOut).toEqual(leftOutWithoutWatchlists);
  expect([m.newestBar, m.window.from]).toEqual([want.newest, want.from]);
  expect(m.tickers).toEqual({ total: want.tickers.total, active: want.tickers.active, activeWithBarOnNewest: want.tickers.on_newest, activeWithBarsInWindow: expect.any(Number) });
  expect([m.stale.count, m.stale.withoutBars]).toEqual([want.tickers.stale, want.tickers.without_bars]);
  expect([m.bars.total, m.bars.inWindow]).toEqual([want.bars, want.barsInWindow]);
  expect([m.gaps.tickers, m.gaps.gaps, m.gaps.listed[0]?.symbol]).toEqual([want.gaps.tickers, want.gaps.gaps, want.largestGap]);
  expect([m.thin.under50, m.thin.under100, m.thin.listed.slice(0, 3).map((t) => t.symbol)]).toEqual([want.tickers.under50, want.tickers.under100, want.thinnest]);
  expect(Object.fromEntries(m.checks.map((c) => [c.name, c.count]))).toEqual(want.checks);
  // The heatmap: active tickers with a bar on each trading day of the window.
  expect(m.coverage.days.map((d, i) => ({ date: d, n: m.coverage.perDay[i] }))).toEqual(want.perDay);
  // Fewer active tickers than the heatmap has rows: a row each, and its missing days.
  expect(m.coverage.rows.map((r) => ({ symbol: r.label, n: r.bars.reduce((s, b) => s + r.tickers - b, 0) }))).toEqual(want.missing);
  // Each check's examples are its bars, newest first.
  const examples = Object.fromEntries(m.checks.map((c) => [c.name, c.examples.map((b) => `${b.symbol} ${b.date}`)]));
  expect(examples).toEqual({
    ohlc: ['BADC 2024-06-12', 'BADB 2024-06-11', 'BADA 2024-06-10'], volume: ['BADE 2024-06-14', 'BADD 2024-06-13'],
    range: ['BADF 2024-06-17'], spike: ['BADH 2024-06-26'], flat: ['BADG 2024-06-18'],
  });
  expect(m.stale.listed.map((s) => s.symbol)).toEqual(['NONE', 'STAL']);
  expect(m.newestBar).toBe(NEWEST);
});

test('the storage and schema panels: every contract table with its size, the chunks of ohlcv, verify\'s result and every migration', async () => {
  const report = await collectReport(seeded, { days: 90 });
  expect(report.storage!.tables.map((t) => t.name).sort()).toEqual([...TABLE_NAMES].sort());
  const ohlcv = report.storage!.hypertables.find((h) => h.name === 'ohlcv')!;
  const chunks = await withDatabase(seeded, async (c) => (await c.query("SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'ohlcv'")).rows[0].n);
  expect(ohlcv.chunks).toHaveLength(chunks);
  expect(ohlcv.chunks.every((k) => k.bytes > 0)).toBe(true);
  expect(report.schema!.matches).toBe(true);
  expect(report.schema!.migrations.every((x) => x.state === 'applied')).toBe(true);
});

test("the schema panel is verify's to the letter: a CHECK written as a restore or a squash writes it is the same CHECK", async () => {
  // A CHECK of the contract's that PostgreSQL deparses into another text when given its own text back.
  const [table, name, text] = CONTRACT.tables.flatMap((t) => Object.entries(t.constraints).map(([n, d]) => [t.name, n, d]))
    .find(([, , d]) => /= ANY \(\(ARRAY\[/.test(d))!;
  const db = await createMigratedDatabase('_deparse');
  const live = await withDatabase(db, async (c) => {
    const liveText = async () => (await c.query('SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = $1 AND conrelid = $2::regclass', [name, table])).rows[0].def;
    // Built from the chain, it has the contract's text: added again as pg_dump writes it. (A baseline wrote it so already.)
    if (await liveText() === text) {
      const [t, n] = [escapeIdentifier(table), escapeIdentifier(name)];
      await c.query(`ALTER TABLE ${t} DROP CONSTRAINT ${n}, ADD CONSTRAINT ${n} ${text}`);
    }
    return liveText();
  });
  expect(live).not.toBe(text);
  const report = await collectReport(db, { days: 90 });
  expect(report.schema!.differences).toEqual([]);
  expect(report.schema!.matches).toBe(true);
});

test('the report\'s sessions refuse a write, see one snapshot, give up on a statement past their timeout, and roll back', async () => {
  await expect(withReadOnlySnapshot(seeded, (c) => c.query("INSERT INTO tickers (symbol) VALUES ('WRIT')")))
    .rejects.toThrow(/read-only/);
  await expect(withReadOnlySnapshot(seeded, (_, beside) => beside.query("INSERT INTO tickers (symbol) VALUES ('WRIT')")))
    .rejects.toThrow(/read-only/);
  // A ticker added after the snapshot was taken is seen by neither session.
  const seen = await withReadOnlySnapshot(seeded, async (c, beside) => {
    const count = async (s: Client) => (await s.query('SELECT count(*)::int AS n FROM tickers')).rows[0].n as number;
    const before = [await count(c)];
    await withDatabase(seeded, (w) => w.query("INSERT INTO tickers (symbol) VALUES ('LATE')"));
    return [...before, await count(c), await count(beside)];
  });
  await withDatabase(seeded, (w) => w.query("DELETE FROM tickers WHERE symbol = 'LATE'"));
  expect(new Set(seen).size).toBe(1);
  await expect(withReadOnlySnapshot(seeded, (c) => c.query('CREATE TEMP TABLE scratch (x int)'))).rejects.toThrow(/read-only/);
  await expect(withReadOnlySnapshot(seeded, (c) => c.query('SELECT pg_sleep(5)'), { statementTimeoutMs: 200 })).rejects.toThrow(/statement timeout/);
  expect(await withDatabase(seeded, async (c) => (await c.query("SELECT count(*)::int AS n FROM tickers WHERE symbol = 'WRIT'")).rows[0].n)).toBe(0);
});

test('the report takes no lock beyond ACCESS SHARE: it runs whole while another session holds EXCLUSIVE on every table and chunk', async () => {
  const holder = new Client({ connectionString: seeded.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    // EXCLUSIVE lets readers in (ACCESS SHARE) and nothing else: any stronger lock of the report would wait.
    const { rows } = await holder.query(`SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'knex', '_timescaledb_internal')`);
    for (const r of rows) await holder.query(`LOCK TABLE ${r.t} IN EXCLUSIVE MODE`);
    const report = await collectReport({ ...seeded, lockTimeoutMs: 1000 }, { days: 90 });
    expect(report.leftOut).toEqual(leftOutWithoutWatchlists);
    expect(report.market!.checks.find((c) => c.name === 'ohlc')!.count).toBe(3);
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
  }
});

test('a database with no tables, and one with no bars, give the empty report, each panel left out with its reason', async () => {
  const blank = await createTestDatabase('_blank');
  const none = await collectReport(blank, { days: 90 });
  expect(none.empty).toBe('no tables');
  expect(none.leftOut).toEqual({
    coverage: 'the database has no table ohlcv', gaps: 'the database has no table ohlcv', 'bad bars': 'the database has no table ohlcv',
    watchlists: expect.stringContaining('no table watchlists'),
  });
  expect(none.schema!.matches).toBe(false);
  expect(none.schema!.migrations.every((x) => x.state === 'pending')).toBe(true);

  const migrated = await createMigratedDatabase('_nobars');
  const empty = await collectReport(migrated, { days: 90 });
  expect(empty.empty).toBe('no bars');
  expect(empty.leftOut.coverage).toBe('ohlcv holds no bar yet');
  expect(empty.schema!.matches).toBe(true);

  // A watchlists table of another shape than KapMan's: its panel is left out by name, the rest stands.
  await withDatabase(migrated, (c) => c.query('DROP TABLE IF EXISTS watchlists CASCADE; CREATE TABLE watchlists (id serial PRIMARY KEY, name text, active boolean)'));
  const shaped = await collectReport(migrated, { days: 90 });
  expect(shaped.leftOut.watchlists).toBe('the table watchlists has no column watchlist_id, symbol (the panel reads watchlist_id, symbol, active)');
});
