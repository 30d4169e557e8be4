// The downstream OHLCV ingestion job's statements, verbatim, against a migrated database.
import { Settings } from '../../scripts/lib/server/settings';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

const UPSERT_TICKER = 'INSERT INTO tickers (symbol, name, is_active) VALUES ($1,$2,$3) ON CONFLICT (symbol) DO UPDATE SET name = EXCLUDED.name, is_active = EXCLUDED.is_active';
const LIST_TICKERS = 'SELECT id::text, symbol FROM tickers ORDER BY symbol';
const upsertOhlcv = (rows: number) => {
  const values = Array.from({ length: rows }, (_, i) => `($${i * 7 + 1}, $${i * 7 + 2}, $${i * 7 + 3}, $${i * 7 + 4}, $${i * 7 + 5}, $${i * 7 + 6}, $${i * 7 + 7})`);
  return `INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume) VALUES ${values.join(', ')} ON CONFLICT (ticker_id, date) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume WHERE (ohlcv.open, ohlcv.high, ohlcv.low, ohlcv.close, ohlcv.volume) IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)`;
};
const COUNT_RANGE = 'SELECT COUNT(*) FROM ohlcv WHERE date >= $1 AND date <= $2';

let db: Settings;
beforeAll(async () => {
  db = await createMigratedDatabase();
});
afterAll(dropMadeDatabases);

test('the ingestion job upserts tickers and OHLCV days; a second identical run changes nothing', async () => {
  await withDatabase(db, async (c) => {
    for (const [symbol, name] of [['AAPL', 'Apple'], ['MSFT', 'Microsoft'], ['SPY', 'SPDR S&P 500']]) {
      await c.query(UPSERT_TICKER, [symbol, name, true]);
    }
    await c.query(UPSERT_TICKER, ['SPY', 'SPDR S&P 500 ETF', false]); // an update, not a duplicate
    const { rows: tickers } = await c.query(LIST_TICKERS);
    expect(tickers.map((t) => t.symbol)).toEqual(['AAPL', 'MSFT', 'SPY']);
    expect(tickers[0].id).toMatch(/^[0-9a-f-]{36}$/);
    const { rows: [spy] } = await c.query("SELECT name, is_active FROM tickers WHERE symbol = 'SPY'");
    expect(spy).toEqual({ name: 'SPDR S&P 500 ETF', is_active: false });

    const days = ['2025-01-02', '2025-01-03', '2025-01-06'];
    const params = tickers.flatMap((t, i) => days.flatMap((d, j) => [t.id, d, 100 + i, 101 + i, 99 + i, 100.5 + j, 1_000_000 * (j + 1)]));
    const first = await c.query(upsertOhlcv(tickers.length * days.length), params);
    expect(first.rowCount).toBe(9);
    const again = await c.query(upsertOhlcv(tickers.length * days.length), params);
    expect(again.rowCount).toBe(0); // IS DISTINCT FROM: nothing written

    params[5] = 123.25; // one close price corrected
    const corrected = await c.query(upsertOhlcv(tickers.length * days.length), params);
    expect(corrected.rowCount).toBe(1);

    const { rows: [count] } = await c.query(COUNT_RANGE, ['2025-01-03', '2025-01-06']);
    expect(Number(count.count)).toBe(6);
    const { rows: [big] } = await c.query("SELECT volume FROM ohlcv WHERE date = '2025-01-06' LIMIT 1");
    expect(big.volume).toBe('3000000'); // bigint comes back exact, as a string
  });
});

test('deleting a ticker cascades to its OHLCV rows', async () => {
  await withDatabase(db, async (c) => {
    await c.query(UPSERT_TICKER, ['GONE', 'Delisted', false]);
    const { rows: [t] } = await c.query("SELECT id FROM tickers WHERE symbol = 'GONE'");
    await c.query(upsertOhlcv(1), [t.id, '2025-02-03', 1, 1, 1, 1, 1]);
    await c.query('DELETE FROM tickers WHERE id = $1', [t.id]);
    const { rows } = await c.query('SELECT count(*)::int AS n FROM ohlcv WHERE ticker_id = $1', [t.id]);
    expect(rows[0].n).toBe(0);
  });
});
