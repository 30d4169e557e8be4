// The figures of the health page, read in one read-only snapshot (session.ts): each panel from
// the tables the live catalog has, so a panel whose tables do not exist is left out with one line
// saying why, and a step that fails is left out with its reason, never the whole report.
import type { Client } from 'pg';
import { Settings } from '../server/settings';
import { Market, readMarket } from './market';
import { readSchemaPanel, SchemaPanel } from './schema';
import { guarded, withReadOnlySnapshot } from './session';
import { readStorage, Storage } from './storage';
import { readWatchlists, WATCHLIST_COLUMNS, Watchlists } from './watchlists';

/** The page's panels, in the order they stand when the schema matches. */
export const PANELS = ['coverage', 'gaps', 'bad bars', 'watchlists', 'storage', 'schema'] as const;
export type Panel = typeof PANELS[number];

export interface HealthReport {
  database: string;
  /** When the snapshot was taken, UTC. */
  takenAt: string;
  server: string;
  timescaledb: string | null;
  /** `timescale` (the community build) or `apache`; null without TimescaleDB. */
  license: string | null;
  /** The window of the coverage and bad-bar panels, in calendar days up to the newest bar. */
  days: number;
  /** `no tables`: nothing is built yet; `no bars`: ohlcv holds no bar. */
  empty: 'no tables' | 'no bars' | null;
  schema?: SchemaPanel;
  storage?: Storage;
  market?: Market;
  watchlists?: Watchlists;
  /** Panels left out, each with why. */
  leftOut: Partial<Record<Panel, string>>;
  /** Milliseconds per step, in the order run: what each panel costs. */
  timings: Record<string, number>;
}

export interface ReportOptions {
  days: number;
  statementTimeoutMs?: number;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export async function collectReport(settings: Settings, o: ReportOptions): Promise<HealthReport> {
  return withReadOnlySnapshot(settings, (client, beside, probe) => collectOn({ client, beside, probe }, settings.database, o), { statementTimeoutMs: o.statementTimeoutMs });
}

/**
 * The same on two open read-only sessions of one snapshot: the bars on `client`, the catalog's
 * panels on `beside` at the same time; `probe` is verify's, to compare expressions by meaning.
 */
export async function collectOn(sessions: { client: Client, beside: Client, probe: Client }, database: string, o: ReportOptions): Promise<HealthReport> {
  const { client, beside, probe } = sessions;
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = nowMs();
    try {
      return await work();
    } finally {
      timings[name] = Math.round((nowMs() - started) * 10) / 10;
    }
  };
  const { rows: [facts] } = await client.query(`SELECT now() AS taken_at, (now() AT TIME ZONE 'UTC')::date::text AS today,
      current_setting('server_version') AS server,
      (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb,
      current_setting('timescaledb.license', true) AS license,
      to_regclass('public.ohlcv') IS NOT NULL AS ohlcv, to_regclass('public.tickers') IS NOT NULL AS tickers,
      to_regclass('public.watchlists') IS NOT NULL AS watchlists,
      ARRAY(SELECT c FROM unnest($1::text[]) c WHERE NOT EXISTS (SELECT FROM pg_attribute
        WHERE attrelid = to_regclass('public.watchlists') AND attname = c AND NOT attisdropped)) AS watchlists_lack`, [WATCHLIST_COLUMNS]);
  const report: HealthReport = {
    database, takenAt: new Date(facts.taken_at).toISOString(), server: facts.server, timescaledb: facts.timescaledb,
    license: facts.timescaledb ? facts.license ?? 'apache' : null, days: o.days, empty: null, leftOut: {}, timings,
  };
  const leaveOut = (panels: Panel[], why: string) => {
    for (const p of panels) report.leftOut[p] = why;
  };

  // The catalog's panels beside the bars' (the pass over the bars is the server's work, the
  // schema's comparison mostly this process's).
  const catalog = (async () => {
    const schema = await step('schema', () => guarded(beside, () => readSchemaPanel(beside, database, probe)));
    if ('value' in schema) report.schema = schema.value;
    else leaveOut(['schema'], schema.failed);
    const storage = await step('storage', () => guarded(beside, () => readStorage(beside, { version: report.timescaledb, license: report.license })));
    if ('value' in storage) report.storage = storage.value;
    else leaveOut(['storage'], storage.failed);
  })();
  // Awaited at the end; a failure meanwhile is not an unhandled one.
  catalog.catch(() => undefined);

  let lastBars: Map<string, string | null> | undefined;
  if (!facts.ohlcv || !facts.tickers) {
    leaveOut(['coverage', 'gaps', 'bad bars'], `the database has no table ${!facts.ohlcv ? 'ohlcv' : 'tickers'}`);
  } else {
    const market = await guarded(client, () => readMarket(client, { days: o.days, today: facts.today }, step));
    if ('failed' in market) leaveOut(['coverage', 'gaps', 'bad bars'], market.failed);
    else if (market.value === null) {
      report.empty = 'no bars';
      leaveOut(['coverage', 'gaps', 'bad bars'], 'ohlcv holds no bar yet');
    } else {
      report.market = market.value.market;
      lastBars = market.value.lastBars;
    }
  }

  if (!facts.watchlists) leaveOut(['watchlists'], 'the database has no table watchlists (a later migration adds it)');
  else if (facts.watchlists_lack.length > 0) {
    leaveOut(['watchlists'], `the table watchlists has no column ${facts.watchlists_lack.join(', ')} (the panel reads ${WATCHLIST_COLUMNS.join(', ')})`);
  } else if (!report.market || !lastBars) leaveOut(['watchlists'], report.leftOut.coverage ?? 'no bars to compare the watchlists with');
  else {
    const newest = report.market.newestBar;
    const bars = lastBars;
    const watchlists = await step('watchlists', () => guarded(client, () => readWatchlists(client, newest, bars)));
    if ('value' in watchlists) report.watchlists = watchlists.value;
    else leaveOut(['watchlists'], watchlists.failed);
  }
  await catalog;
  // 'no tables' (from the storage panel) says more than 'no bars'.
  if (report.storage?.tables.length === 0) report.empty = 'no tables';
  return report;
}
