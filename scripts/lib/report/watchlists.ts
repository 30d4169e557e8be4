// Watchlist coverage: for each active watchlist symbol, whether a ticker has it (symbols compared
// without case, as the ingestion jobs join them) and how its bars stand against the newest day.
import type { Client } from 'pg';
import { LISTED } from './market';

/** The columns of KapMan's watchlists the panel reads: a table of another shape is left out. */
export const WATCHLIST_COLUMNS = ['watchlist_id', 'symbol', 'active'];

export type SymbolState = 'current' | 'stale' | 'no bars' | 'no ticker';
export const SYMBOL_STATES: SymbolState[] = ['current', 'stale', 'no bars', 'no ticker'];

export interface Watchlist {
  id: string;
  /** Active symbols by state. */
  counts: Record<SymbolState, number>;
}

export interface WatchlistProblem {
  watchlist: string;
  symbol: string;
  state: Exclude<SymbolState, 'current'>;
  lastBar: string | null;
}

export interface Watchlists {
  /** Distinct active symbols over every watchlist, by state. */
  symbols: Record<SymbolState, number>;
  lists: Watchlist[];
  problems: WatchlistProblem[];
}

const none = (): Record<SymbolState, number> => ({ current: 0, stale: 0, 'no bars': 0, 'no ticker': 0 });

export async function readWatchlists(client: Client, newestBar: string, lastBars: Map<string, string | null>): Promise<Watchlists> {
  const { rows } = await client.query(`SELECT w.watchlist_id AS watchlist, upper(w.symbol) AS symbol, t.id::text AS ticker
      FROM watchlists w LEFT JOIN (SELECT DISTINCT ON (upper(symbol)) upper(symbol) AS key, id FROM tickers ORDER BY upper(symbol), symbol) t
        ON t.key = upper(w.symbol)
     WHERE w.active ORDER BY w.watchlist_id, upper(w.symbol)`);
  const stateOf = (ticker: string | null): [SymbolState, string | null] => {
    if (ticker === null) return ['no ticker', null];
    const last = lastBars.get(ticker) ?? null;
    return [last === null ? 'no bars' : last < newestBar ? 'stale' : 'current', last];
  };
  const lists = new Map<string, Watchlist>();
  const symbols = new Map<string, SymbolState>();
  const problems: WatchlistProblem[] = [];
  for (const r of rows) {
    const [state, lastBar] = stateOf(r.ticker);
    const list = lists.get(r.watchlist) ?? { id: r.watchlist, counts: none() };
    lists.set(r.watchlist, list);
    list.counts[state]++;
    symbols.set(r.symbol, state);
    if (state !== 'current') problems.push({ watchlist: r.watchlist, symbol: r.symbol, state, lastBar });
  }
  const total = none();
  for (const state of symbols.values()) total[state]++;
  return { symbols: total, lists: [...lists.values()], problems: problems.slice(0, LISTED) };
}
