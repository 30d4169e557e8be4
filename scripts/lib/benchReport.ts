// The benchmark's results, written for people: a markdown page and an SVG chart.

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

export interface Reads {
  server: Latency;
  client: Latency;
}

export interface SweepPoint {
  days: number;
  chunks: number;
  tickerRead: Latency;
  crossSection: Latency;
}

export interface BenchResults {
  preset: string;
  tickers: number;
  days: number;
  machine: string[];
  command: string;
  reset: { npmRunMs: number; nodeMs: number; floorMs: number; runs: number };
  backfill: { rows: number; hyperRowsPerSec: number; plainRowsPerSec: number };
  /** statementFloorMs: the same batches of parameters through a VALUES list that writes nothing. */
  upsert: { rows: number; hyperFirstMs: number; hyperRerunMs: number; hyperRerunWritten: number; plainFirstMs: number; plainRerunMs: number; plainRerunWritten: number; statementFloorMs: number };
  /** Server time (planning + execution) and client round trip of each read. */
  reads: { samples: number; hyperTicker: Reads; plainTicker: Reads; hyperCross: Reads; plainCross: Reads };
  sweep: SweepPoint[];
  /** `npm test` against the same server, when timed. */
  suite?: { ms: number; passed: boolean };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function latency(values: number[]): Latency {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

const ms = (v: number) => (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(2)} ms`);
const x = (v: number) => `${v.toFixed(2)}×`;

export interface TargetCheck {
  name: string;
  measured: string;
  target: string;
  /** measured / limit: at most 1 meets the target. */
  ratio: number;
}

export function targetChecks(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [
    { name: 'db:reset / psql floor', measured: x(r.reset.npmRunMs / r.reset.floorMs), target: '≤ 3×', ratio: r.reset.npmRunMs / r.reset.floorMs / 3 },
    { name: 'ticker 2-year read, hypertable / plain (server p50)', measured: x(r.reads.hyperTicker.server.p50 / r.reads.plainTicker.server.p50), target: '≤ 1.5×', ratio: r.reads.hyperTicker.server.p50 / r.reads.plainTicker.server.p50 / 1.5 },
    { name: 'day cross-section, plain / hypertable (server p50)', measured: x(r.reads.plainCross.server.p50 / r.reads.hyperCross.server.p50), target: '≥ 50×', ratio: 50 / (r.reads.plainCross.server.p50 / r.reads.hyperCross.server.p50) },
    { name: 'full-universe daily upsert', measured: ms(r.upsert.hyperFirstMs), target: '≤ 500 ms', ratio: r.upsert.hyperFirstMs / 500 },
    { name: 'idempotent re-run, rows written', measured: String(r.upsert.hyperRerunWritten), target: '0', ratio: r.upsert.hyperRerunWritten === 0 ? 0 : 2 },
  ];
  if (r.suite) checks.push({ name: `npm test wall time${r.suite.passed ? '' : ' (the run FAILED)'}`, measured: ms(r.suite.ms), target: '≤ 20 s', ratio: r.suite.ms / 20000 });
  return checks;
}

/** Bars of measured / target, a line at 1: left of it meets the target. */
export function renderChart(r: BenchResults): string {
  const checks = targetChecks(r);
  const rowH = 34;
  const left = 330;
  const width = 760;
  const scale = (width - left - 60) / 2; // the axis runs from 0 to 2× the target
  const height = 60 + checks.length * rowH;
  const bars = checks.map((c, i) => {
    const y = 40 + i * rowH;
    const w = Math.max(2, Math.min(2, c.ratio) * scale);
    const color = c.ratio <= 1 ? '#2e7d32' : '#c62828';
    return `<text x="${left - 8}" y="${y + 17}" text-anchor="end" font-size="12">${escapeXml(c.name)}</text>`
      + `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="18" fill="${color}"/>`
      + `<text x="${left + w + 6}" y="${y + 17}" font-size="11">${escapeXml(`${c.measured} (target ${c.target})`)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width + 120}" height="${height}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="10" y="22" font-size="14" font-weight="bold">KapMan benchmark (${escapeXml(r.preset)} preset, ${r.tickers} tickers × ${r.days} days): measured / target</text>`,
    `<line x1="${left + scale}" y1="32" x2="${left + scale}" y2="${height - 10}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${left + scale + 4}" y="${height - 12}" font-size="10">target</text>`,
    ...bars,
    '</svg>',
    '',
  ].join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderMarkdown(r: BenchResults, chartFile: string): string {
  const lat = (l: Latency) => `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)}`;
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`${r.command}\`; rerun it to reproduce. Preset **${r.preset}**: ${r.tickers.toLocaleString('en-US')} tickers × ${r.days} trading days`,
    `(${(r.tickers * r.days).toLocaleString('en-US')} rows of \`ohlcv\`), on a throwaway TimescaleDB chosen as the tests choose theirs.`,
    'Every hypertable number stands beside a plain PostgreSQL table with the same columns and primary key, loaded with the same rows in the same run.',
    '',
    `![measured against target](${chartFile})`,
    '',
    '## Machine',
    '',
    ...r.machine.map((m) => `- ${m}`),
    '',
    '## Targets',
    '',
    '| what | measured | target | met |',
    '| --- | --- | --- | --- |',
    ...targetChecks(r).map((c) => `| ${c.name} | ${c.measured} | ${c.target} | ${c.ratio <= 1 ? 'yes' : '**no**'} |`),
    '',
    '## Results',
    '',
    '| measure | hypertable (`ohlcv`) | plain table | ratio |',
    '| --- | --- | --- | --- |',
    `| backfill with COPY, rows/s | ${Math.round(r.backfill.hyperRowsPerSec).toLocaleString('en-US')} | ${Math.round(r.backfill.plainRowsPerSec).toLocaleString('en-US')} | ${x(r.backfill.hyperRowsPerSec / r.backfill.plainRowsPerSec)} |`,
    `| daily upsert, ${r.upsert.rows.toLocaleString('en-US')} rows, first load | ${ms(r.upsert.hyperFirstMs)} | ${ms(r.upsert.plainFirstMs)} | ${x(r.upsert.hyperFirstMs / r.upsert.plainFirstMs)} |`,
    `| daily upsert floor: the same parameters through a VALUES list that writes nothing | ${ms(r.upsert.statementFloorMs)} | | |`,
    `| daily upsert, idempotent re-run (rows written) | ${ms(r.upsert.hyperRerunMs)} (${r.upsert.hyperRerunWritten}) | ${ms(r.upsert.plainRerunMs)} (${r.upsert.plainRerunWritten}) | ${x(r.upsert.hyperRerunMs / r.upsert.plainRerunMs)} |`,
    `| one ticker's full history, server p50 / p95 / p99 | ${lat(r.reads.hyperTicker.server)} | ${lat(r.reads.plainTicker.server)} | ${x(r.reads.hyperTicker.server.p50 / r.reads.plainTicker.server.p50)} |`,
    `| one ticker's full history, client round trip p50 / p95 / p99 | ${lat(r.reads.hyperTicker.client)} | ${lat(r.reads.plainTicker.client)} | ${x(r.reads.hyperTicker.client.p50 / r.reads.plainTicker.client.p50)} |`,
    `| one day's cross-section, server p50 / p95 / p99 | ${lat(r.reads.hyperCross.server)} | ${lat(r.reads.plainCross.server)} | ${x(r.reads.hyperCross.server.p50 / r.reads.plainCross.server.p50)} |`,
    `| one day's cross-section, client round trip p50 / p95 / p99 | ${lat(r.reads.hyperCross.client)} | ${lat(r.reads.plainCross.client)} | ${x(r.reads.hyperCross.client.p50 / r.reads.plainCross.client.p50)} |`,
    '',
    `Reads: ${r.reads.samples} samples each, random tickers and days, after a warm-up. Server time is planning plus execution`,
    'from `EXPLAIN (ANALYZE, TIMING OFF)`: what the table\'s layout costs. The client round trip adds the transfer and',
    'node-postgres\'s parsing of every row, which are the same for both tables and dominate the cross-section.',
    '',
    `| reset, median of ${r.reset.runs} | wall time |`,
    '| --- | --- |',
    `| \`npm run db:reset\` (as users run it) | ${ms(r.reset.npmRunMs)} |`,
    `| \`node -r sucrase/register/ts scripts/reset.ts\` (no npm) | ${ms(r.reset.nodeMs)} |`,
    `| psql floor: drop, create, the same DDL from a file | ${ms(r.reset.floorMs)} |`,
    '',
    '## Chunk interval sweep',
    '',
    '`ohlcv`\'s rows copied into hypertables that differ only in `chunk_time_interval`; server p50 latencies.',
    '',
    '| chunk interval | chunks | one ticker\'s history | one day\'s cross-section |',
    '| --- | --- | --- | --- |',
    ...r.sweep.map((s) => `| ${s.days} days | ${s.chunks} | ${ms(s.tickerRead.p50)} | ${ms(s.crossSection.p50)} |`),
    '',
  ];
  lines.push('## Where a target is missed, and why', '', ...misses(r).map((m) => `- ${m}`), '');
  if (r.suite) lines.push(`The test suite (\`npm test\` against the same server, prepared machine) took ${ms(r.suite.ms)} wall and ${r.suite.passed ? 'passed' : 'FAILED'}.`, '');
  return lines.join('\n');
}

/** A sentence per missed target, from the numbers measured beside it. */
function misses(r: BenchResults): string[] {
  const out: string[] = [];
  const checks = targetChecks(r);
  const missed = (prefix: string) => checks.some((c) => c.name.startsWith(prefix) && c.ratio > 1);
  if (missed('db:reset')) {
    out.push(`**db:reset**: npm's own start adds ${ms(r.reset.npmRunMs - r.reset.nodeMs)}; starting Node, loading knex, pg, yargs and the TypeScript loader, `
      + `knex's bookkeeping and the verification after the migrations add ${ms(r.reset.nodeMs - r.reset.floorMs)} over the psql floor, `
      + 'which runs the same drop, create and DDL and nothing else. The database work itself is the same statements.');
  }
  if (missed('full-universe daily upsert')) {
    out.push(`**daily upsert**: the statement's shape alone (parsing and binding ${(r.upsert.rows * 7).toLocaleString('en-US')} parameters in batches of 5,000 rows, `
      + `writing nothing) costs ${ms(r.upsert.statementFloorMs)}; the plain table takes ${ms(r.upsert.plainFirstMs)}; TimescaleDB's insert path `
      + `(chunk routing, ON CONFLICT through the chunk's indexes) adds ${ms(r.upsert.hyperFirstMs - r.upsert.plainFirstMs)}. A faster load would need another `
      + 'statement (COPY into a staging table, then one INSERT … SELECT … ON CONFLICT), which is the ingestion job\'s to choose.');
  }
  if (r.suite && r.suite.ms > 20000) {
    out.push(`**npm test**: ${ms(r.suite.ms)} on ${r.machine[0]?.split(' ')[0]} cores; the suite starts the commands as child processes `
      + '(each pays Node\'s and knex\'s start), builds a fresh migrated database per case, and waits out a 5 s connect timeout once on purpose.');
  }
  return out.length ? out : ['Every target is met.'];
}
