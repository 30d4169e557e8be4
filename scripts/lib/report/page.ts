// The health page: one HTML file with its style and its charts inside (charts.ts), no script, so
// that it opens anywhere, from a mail or a CI artifact, with no server and no network. Each
// figure carries a `data-figure` name, each panel a `data-panel`, for the tests that read the page.
import type { Difference } from '../schema/drift';
import { bars, escapeXml as e, formatBytes, heatmap } from './charts';
import { HealthReport, Panel, PANELS } from './collect';
import { Bar, GAP_DAYS, HEATMAP_ROWS, Market } from './market';
import type { Storage } from './storage';
import { SYMBOL_STATES, Watchlists } from './watchlists';
import type { SchemaPanel } from './schema';

const TITLES: Record<Panel, string> = {
  coverage: 'Coverage',
  gaps: 'Gaps and thin histories',
  'bad bars': 'Bad bars',
  watchlists: 'Watchlist coverage',
  storage: 'Storage',
  schema: 'Schema',
};

const n = (v: number) => v.toLocaleString('en-US');
const plural = (v: number, noun: string, nouns = `${noun}s`) => `${n(v)} ${v === 1 ? noun : nouns}`;
const fig = (name: string, value: string | number) => `<b data-figure="${name}">${e(typeof value === 'number' ? n(value) : value)}</b>`;

function table(head: string[], rows: string[][], o: { caption?: string; rowAttrs?: (i: number) => string } = {}): string {
  if (rows.length === 0) return '';
  return `<table>${o.caption ? `<caption>${e(o.caption)}</caption>` : ''}<thead><tr>${head.map((h) => `<th scope="col">${e(h)}</th>`).join('')}</tr></thead>`
    + `<tbody>${rows.map((r, i) => `<tr${o.rowAttrs?.(i) ?? ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function coverage(m: Market): string {
  const c = m.coverage;
  const short = c.rows.map((r) => ({ ...r, missing: r.bars.reduce((s, b) => s + (r.tickers - b), 0) })).filter((r) => r.missing > 0);
  const perTicker = c.groupSize === 1;
  const chart = heatmap({
    title: `Bars per trading day, last ${m.window.days} days (${m.window.from} to ${m.window.to})`,
    desc: `${c.rows.length} rows of ${perTicker ? 'one active ticker each' : `about ${c.groupSize} active tickers each, by symbol`} over ${c.days.length} trading days. `
      + (short.length === 0 ? 'Every cell is full: each active ticker has a bar on each trading day.'
        : `${short.length} rows miss bars: ${short.slice(0, 10).map((r) => `${r.label} (${plural(r.missing, 'bar')} missing)`).join(', ')}${short.length > 10 ? ', …' : ''}.`),
    columns: c.days,
    rows: c.rows.map((r) => ({ label: perTicker ? r.label : `${r.label} (${r.tickers})`, shares: r.bars.map((b) => (r.tickers ? b / r.tickers : 1)) })),
    xLabel: 'trading day (a day with any bar)', yLabel: perTicker ? 'active ticker' : `active tickers, in ${c.rows.length} groups by symbol`,
  });
  const stale = m.stale.listed.map((s) => [e(s.symbol), s.lastBar ? e(s.lastBar) : 'no bar at all', n(s.behind)]);
  return `<p>${fig('active-tickers', m.tickers.active)} active tickers (of ${fig('tickers', m.tickers.total)}); ${fig('active-with-bar-on-newest', m.tickers.activeWithBarOnNewest)} have a bar on the newest day,
    ${fig('active-with-bars-in-window', m.tickers.activeWithBarsInWindow)} at least one in the window. ${fig('bars', m.bars.total)} bars over ${fig('trading-days', m.tradingDays)} trading days since ${e(m.firstBar)};
    ${fig('bars-in-window', m.bars.inWindow)} in the window's ${fig('trading-days-in-window', c.days.length)}.</p>
    <p class="${m.weekdaysBehind > 0 ? 'warn' : 'ok'}">Newest bar: ${fig('newest-bar', m.newestBar)}; the last weekday is ${fig('last-weekday', m.lastWeekday)}:
    ${fig('weekdays-behind', m.weekdaysBehind)} weekdays behind (weekdays, not the exchange's calendar: a holiday counts as one).</p>
    <figure>${chart}<figcaption>Each cell: the share of the row's active tickers that have a bar that day. A trading day is a day on which any ticker has a bar.</figcaption></figure>
    ${short.length ? `<details><summary>Rows missing bars (${short.length})</summary>${table(['tickers', 'bars missing in the window'], short.map((r) => [e(r.label), n(r.missing)]))}</details>` : ''}
    <h3>Staleness</h3>
    <p class="${m.stale.count ? 'warn' : 'ok'}">${fig('stale-tickers', m.stale.count)} active tickers have no bar on the newest day (${e(m.newestBar)}), of which ${fig('tickers-without-bars', m.stale.withoutBars)} have no bar at all.</p>
    ${table(['ticker', 'last bar', 'trading days behind'], stale, { caption: `The ${stale.length} furthest behind`, rowAttrs: (i) => ` data-stale="${e(m.stale.listed[i].symbol)}"` })}`;
}

function gaps(m: Market): string {
  const g = m.gaps;
  const thin = m.thin.listed;
  const thinChart = thin.length === 0 ? '' : `<figure>${bars({
    title: `The ${thin.length} thinnest histories`, desc: `Bars per ticker, fewest first: ${thin.slice(0, 10).map((t) => `${t.symbol} ${t.bars}`).join(', ')}${thin.length > 10 ? ', …' : ''}.`,
    bars: thin.map((t) => ({ label: t.symbol, value: t.bars })), xLabel: 'bars in the whole history', yLabel: 'ticker', integers: true,
  })}</figure>`;
  return `<p class="${g.tickers ? 'warn' : 'ok'}">${fig('tickers-with-gaps', g.tickers)} tickers have a gap of more than ${GAP_DAYS} calendar days between two bars (${fig('gaps', g.gaps)} gaps in all), over each ticker's whole history.</p>
    ${table(['ticker', 'gaps', 'longest: last bar before', 'next bar', 'calendar days'], g.listed.map((x) => [e(x.symbol), n(x.gaps), e(x.from), e(x.to), n(x.days)]),
      { caption: `The ${g.listed.length} with the longest gaps`, rowAttrs: (i) => ` data-gap="${e(g.listed[i].symbol)}"` })}
    <h3>Thin histories</h3>
    <p>Tickers with fewer than 50 bars: ${fig('thin-under-50', m.thin.under50)}; fewer than 100: ${fig('thin-under-100', m.thin.under100)}; fewer than 250: ${fig('thin-under-250', m.thin.under250)}.</p>
    ${thinChart}
    ${thin.length ? `<details><summary>As a table, with each history's first and last bar</summary>${table(['ticker', 'bars', 'first bar', 'last bar'],
      thin.map((t) => [e(t.symbol), n(t.bars), e(t.first), e(t.last)]), { rowAttrs: (i) => ` data-thin="${e(thin[i].symbol)}"` })}</details>` : ''}`;
}

const barCells = (b: Bar) => [e(b.symbol), e(b.date), ...[b.open, b.high, b.low, b.close, b.volume].map((v) => (v === null ? '<i>null</i>' : e(v)))];

function badBars(m: Market): string {
  const chart = bars({
    title: `Bad bars in the last ${m.window.days} days`, desc: m.checks.map((c) => `${c.label}: ${c.count}`).join('; '),
    bars: m.checks.map((c) => ({ label: c.name === 'ohlc' ? 'OHLC broken' : c.name === 'volume' ? 'zero/null volume' : c.name === 'range' ? 'range > 25%' : c.name === 'spike' ? 'volume spike' : 'high = low', value: c.count, colour: c.count ? '#d73027' : '#1a9850' })),
    xLabel: `bars (of ${n(m.bars.inWindow)} in the window)`, yLabel: 'check', width: 640, integers: true,
  });
  const checks = m.checks.map((c) => `<div class="check" data-check="${c.name}"><h3>${e(c.label)}: <b data-figure="check-${c.name}">${n(c.count)}</b></h3>
    ${table(['ticker', 'date', 'open', 'high', 'low', 'close', 'volume', ...(c.name === 'spike' ? ['median volume'] : [])],
      c.examples.map((b) => [...barCells(b), ...(c.name === 'spike' ? [e(b.median ?? '')] : [])]), { caption: c.count > c.examples.length ? `The first ${c.examples.length}, newest first` : undefined })}</div>`);
  const none = m.checks.every((c) => c.count === 0);
  return `<p>The author's checks over the window's ${n(m.bars.inWindow)} bars (${e(m.window.from)} to ${e(m.window.to)}); a bar may fail several. Each lists its first examples, newest first.</p>
    ${none ? '<p class="ok">No bar of the window fails any check.</p>' : `<figure>${chart}</figure>`}${checks.join('')}`;
}

function watchlists(w: Watchlists, m: Market): string {
  const colours: Record<string, string> = { current: '#1a9850', stale: '#fdae61', 'no bars': '#d73027', 'no ticker': '#762a83' };
  const chart = bars({
    title: 'Active watchlist symbols by state', desc: SYMBOL_STATES.map((s) => `${s}: ${w.symbols[s]}`).join('; '),
    bars: SYMBOL_STATES.map((s) => ({ label: s, value: w.symbols[s], colour: colours[s] })), xLabel: 'distinct active symbols', yLabel: 'state', width: 560, integers: true,
  });
  return `<p>Active symbols over every watchlist: ${SYMBOL_STATES.map((s) => `${e(s)} ${fig(`watchlist-${s.replace(' ', '-')}`, w.symbols[s])}`).join(', ')}
    (current: a bar on the newest day, ${e(m.newestBar)}; stale: an older last bar; symbols compared without case).</p>
    <figure>${chart}</figure>
    ${table(['watchlist', ...SYMBOL_STATES], w.lists.map((l) => [e(l.id), ...SYMBOL_STATES.map((s) => n(l.counts[s]))]), { rowAttrs: (i) => ` data-watchlist="${e(w.lists[i].id)}"` })}
    ${table(['watchlist', 'symbol', 'state', 'last bar'], w.problems.map((p) => [e(p.watchlist), e(p.symbol), e(p.state), e(p.lastBar ?? '')]), { caption: 'Symbols not current' })}`;
}

function storage(s: Storage): string {
  const rows = (r: number | null) => (r === null ? 'not analyzed' : n(r));
  const chart = s.tables.length === 0 ? '' : `<figure>${bars({
    title: 'Size per table', desc: s.tables.map((t) => `${t.name} ${formatBytes(t.bytes)}`).join(', '),
    bars: s.tables.map((t) => ({ label: t.name, value: t.bytes, colour: t.hypertable ? '#4575b4' : '#91bfdb' })), xLabel: 'bytes on disk (table, indexes, TOAST; a hypertable\'s chunks)', yLabel: 'table', format: formatBytes, bytes: true,
  })}</figure>`;
  const hypertables = s.hypertables.map((h) => {
    const c = h.compression;
    const ratio = c && c.afterBytes > 0 ? `${(c.beforeBytes / c.afterBytes).toFixed(1)}×` : '–';
    const compression = c ? `<p data-hypertable-compression="${e(h.name)}">Compression: segment by <code>${e(c.segmentBy || 'nothing')}</code>, order by <code>${e(c.orderBy || 'nothing')}</code>;
      ${fig(`compressed-chunks-${h.name}`, c.compressedChunks)} of ${n(h.chunks.length)} chunks compressed, ${formatBytes(c.beforeBytes)} before, ${formatBytes(c.afterBytes)} after: ratio ${fig(`compression-ratio-${h.name}`, ratio)}.</p>`
      : `<p>Compression: ${s.license === 'timescale' ? 'not enabled' : 'not available on TimescaleDB\'s Apache build'}.</p>`;
    const shown = h.chunks.slice(-60);
    const chunkChart = shown.length === 0 ? '' : `<figure>${bars({
      title: `${h.name}: size per chunk${shown.length < h.chunks.length ? ` (the newest ${shown.length} of ${h.chunks.length})` : ''}`,
      desc: shown.map((k) => `${k.from.slice(0, 10)}: ${formatBytes(k.bytes)}${k.compressed ? ' compressed' : ''}`).join(', '),
      bars: shown.map((k) => ({ label: `${k.from.slice(0, 10)} → ${k.to.slice(0, 10)}`, value: k.bytes, colour: k.compressed ? '#762a83' : '#4575b4', note: k.compressed ? '(compressed)' : '' })),
      xLabel: 'bytes on disk', yLabel: 'chunk (its range)', format: formatBytes, bytes: true,
    })}</figure>`;
    return `<h3 data-hypertable="${e(h.name)}">Hypertable ${e(h.name)}: ${plural(h.chunks.length, 'chunk')}, interval ${e(h.chunkInterval)}</h3>${compression}${chunkChart}
      ${h.chunks.length ? `<details><summary>Its chunks</summary>${table(['chunk', 'from', 'to', 'compressed', 'size', 'rows (estimated)'],
        h.chunks.map((k) => [e(k.name), e(k.from), e(k.to), k.compressed ? 'yes' : 'no', formatBytes(k.bytes), rows(k.rows)]))}</details>` : ''}`;
  });
  const jobs = s.jobs.length === 0 ? `<p>No policies or jobs${s.license === null ? ' (no TimescaleDB)' : ''}.</p>`
    : table(['job', 'kind', 'on', 'every', 'last run', 'last status', 'next run', 'runs', 'failures'], s.jobs.map((j) => [
      String(j.id), e(j.kind), e(j.on ?? ''), e(j.schedule), e(j.lastRunStarted ?? 'never'), j.lastStatus === 'Failed' ? `<span class="bad">${e(j.lastStatus)}</span>` : e(j.lastStatus ?? ''),
      e(j.scheduled ? j.nextStart ?? '' : 'paused'), n(j.runs), n(j.failures)]), { caption: 'Policies and jobs (timescaledb_information.jobs, job_stats)', rowAttrs: (i) => ` data-job="${e(s.jobs[i].kind)} ${e(s.jobs[i].on ?? '')}"` });
  return `<p>Sizes from the catalog, rows estimated from the statistics (as of each table's last ANALYZE); TimescaleDB's build: ${e(s.license ?? 'none')}.</p>
    ${chart}${table(['table', 'size', 'rows (estimated)'], s.tables.map((t) => [`${e(t.name)}${t.hypertable ? ' (hypertable)' : ''}`, formatBytes(t.bytes), rows(t.rows)]), { rowAttrs: (i) => ` data-table="${e(s.tables[i].name)}"` })}
    ${hypertables.join('')}<h3>Policies</h3>${jobs}`;
}

function difference(d: Difference): string {
  const value = (v?: string) => (v === undefined ? '' : `<code>${e(v.length > 300 ? `${v.slice(0, 300)}…` : v)}</code>`);
  return `<li>${e(d.group)}: <b>${e(d.kind)}</b> ${e(d.item)}${d.kind === 'changed' ? `: expected ${value(d.expected)}, found ${value(d.actual)}`
    : d.kind === 'missing' && d.expected ? `: expected ${value(d.expected)}` : d.kind === 'unexpected' && d.actual ? `: ${value(d.actual)}` : ''}</li>`;
}

function schema(s: SchemaPanel): string {
  const pending = s.migrations.filter((m) => m.state === 'pending');
  const off = s.migrations.filter((m) => m.state !== 'applied' && m.state !== 'pending');
  return `<p class="${s.matches ? 'ok' : 'bad'}" data-figure="schema-matches">${s.matches ? 'The database matches the contract (db/contract.ts), and every migration is applied as written.'
      : `The database differs from the contract (db/contract.ts): ${plural(s.differences.length, 'difference')}.`}</p>
    ${s.differences.length ? `<ul class="differences" data-figure="differences" data-count="${s.differences.length}">${s.differences.map(difference).join('')}</ul>` : ''}
    <p>Migrations: ${fig('migrations-applied', s.migrations.filter((m) => m.state === 'applied').length)} applied as written, ${fig('migrations-pending', pending.length)} pending,
      ${fig('migrations-off', off.length)} applied and since edited, or whose file is gone, or with no checksum recorded.</p>
    ${table(['migration', 'state'], s.migrations.map((m) => [e(m.name), m.state === 'applied' ? 'applied' : `<b>${e(m.state)}</b>`]), { rowAttrs: (i) => ` data-migration="${e(s.migrations[i].name)}" data-state="${e(s.migrations[i].state)}"` })}`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1f24;margin:0;background:#f6f7f9}
main{max-width:1080px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:0 0 8px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:#57606a;margin:0 0 12px}
.summary{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0 16px;padding:0;list-style:none}
.summary li{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;min-width:120px}
.summary li span{display:block;color:#57606a;font-size:12px}.summary li b{font-size:17px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;margin:0 0 16px}
section.drift{border:2px solid #cf222e}
section.left-out p{color:#57606a;margin:0}
.banner{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:12px 16px;margin:0 0 16px;font-size:15px}
.ok{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e;font-weight:600}.note{color:#57606a}
table{border-collapse:collapse;margin:8px 0;font-size:13px}caption{text-align:left;color:#57606a;padding:2px 0}
th,td{border-bottom:1px solid #e1e4e8;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
td:not(:first-child){font-variant-numeric:tabular-nums}
figure{margin:8px 0;overflow-x:auto}figcaption{color:#57606a;font-size:12px}
.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:#1b1f24}
.chart .title{font-size:13px;font-weight:600}.chart .label{fill:#57606a}.chart .value{fill:#1b1f24}
.chart .grid{stroke:#e1e4e8}.chart .axis{stroke:#57606a}
code{font-size:12px;background:#f6f8fa;padding:0 3px;border-radius:3px;word-break:break-word}
ul.differences{margin:6px 0;padding-left:20px}details{margin:6px 0}
.check{border-top:1px solid #e1e4e8;margin-top:8px}
`;

function summary(r: HealthReport): string {
  const items: Array<[string, string, string]> = [];
  const m = r.market;
  if (m) {
    items.push(['active tickers', n(m.tickers.active), '']);
    items.push(['newest bar', m.newestBar, m.weekdaysBehind ? 'warn' : 'ok']);
    items.push(['stale tickers', n(m.stale.count), m.stale.count ? 'warn' : 'ok']);
    items.push(['tickers with gaps', n(m.gaps.tickers), m.gaps.tickers ? 'warn' : 'ok']);
    const bad = m.checks.reduce((s, c) => s + c.count, 0);
    items.push([`bad-bar findings, ${m.window.days} days`, n(bad), bad ? 'bad' : 'ok']);
  }
  if (r.schema) items.push(['schema', r.schema.matches ? 'matches' : `${plural(r.schema.differences.length, 'difference')}`, r.schema.matches ? 'ok' : 'bad']);
  if (r.storage) items.push(['size', formatBytes(r.storage.tables.reduce((s, t) => s + t.bytes, 0)), '']);
  return `<ul class="summary">${items.map(([label, value, cls]) => `<li><span>${e(label)}</span><b class="${cls}">${e(value)}</b></li>`).join('')}</ul>`;
}

export function renderPage(r: HealthReport): string {
  const body: Record<Panel, (() => string) | undefined> = {
    coverage: r.market && (() => coverage(r.market!)),
    gaps: r.market && (() => gaps(r.market!)),
    'bad bars': r.market && (() => badBars(r.market!)),
    watchlists: r.watchlists && r.market && (() => watchlists(r.watchlists!, r.market!)),
    storage: r.storage && (() => storage(r.storage!)),
    schema: r.schema && (() => schema(r.schema!)),
  };
  const drifted = r.schema !== undefined && !r.schema.matches;
  // A database the contract does not match: its differences come first, before any figure read from it.
  const order: Panel[] = drifted ? ['schema', ...PANELS.filter((p) => p !== 'schema')] : [...PANELS];
  const sections = order.map((p) => {
    const id = p.replace(' ', '-');
    const render = body[p];
    if (!render) return `<section id="${id}" class="left-out" data-panel="${p}"><h2>${e(TITLES[p])}</h2><p data-left-out="${p}">Left out: ${e(r.leftOut[p] ?? 'nothing to show')}.</p></section>`;
    return `<section id="${id}" class="panel${p === 'schema' && drifted ? ' drift' : ''}" data-panel="${p}"><h2>${e(TITLES[p])}</h2>${render()}</section>`;
  });
  const banner = r.empty === 'no tables' ? '<p class="banner" data-figure="empty">This database is empty: it has no tables yet. <code>npm run db:migrate</code> builds them.</p>'
    : r.empty === 'no bars' ? '<p class="banner" data-figure="empty">This database holds no bars yet: <code>ohlcv</code> is empty, so coverage, gaps and bad bars have nothing to show.</p>' : '';
  const timescale = r.timescaledb ? `TimescaleDB ${e(r.timescaledb)} (${r.license === 'timescale' ? 'community build' : 'Apache build'})` : 'no TimescaleDB';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(r.database)}: database health, ${e(r.takenAt)}</title><style>${STYLE}</style></head>
<body><main>
<h1>Health of ${e(r.database)}</h1>
<p class="meta">Snapshot taken ${e(r.takenAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} in one read-only snapshot; PostgreSQL ${e(r.server)}, ${timescale}.
Coverage and bad bars cover the last ${n(r.days)} days up to the newest bar (<code>--days</code>); gaps and thin histories each ticker's whole history.
Written by <code>kapman-db report</code>.</p>
${banner}${summary(r)}
${sections.join('\n')}
<p class="meta">What each step cost, in ms: ${Object.entries(r.timings).map(([k, v]) => `${e(k)} ${v}`).join(', ')}. Heatmap rows: at most ${HEATMAP_ROWS}.</p>
</main></body></html>
`;
}

