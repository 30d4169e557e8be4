// The benchmark's results, written for people: a markdown page and an SVG chart.
import { LockTiming, PRODUCTION_ROWS } from './locks';

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

export interface Reads {
  /** Planning plus execution inside the server (EXPLAIN ANALYZE): what the table's shape costs. */
  server: Latency;
  /** The planning part of `server`: where chunk exclusion and partition pruning happen. */
  planning: Latency;
  /** The round trip as a client sees it, prepared statement and row parsing included. */
  client: Latency;
}

/** `ohlcv` and its two twins: the same columns, defaults, key, indexes and foreign key, loaded with the same rows. */
export const TABLES = ['hyper', 'plain', 'partitioned'] as const;
export type Table = typeof TABLES[number];
export type Twin = Exclude<Table, 'hyper'>;
export type PerTable<T> = Record<Table, T>;

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
  /** The whole run's wall time (runs before it was recorded lack it). */
  durationMs?: number;
  reset: {
    npmRunMs: number; nodeMs: number; floorMs: number; runs: number;
    /** `node -e ""`, and without NODE_EXTRA_CA_CERTS when the environment sets it. */
    nodeStart?: { ms: number; withoutExtraCaMs?: number };
  };
  /** Summed over slices of `sliceDays` trading days, the tables taking turns. */
  backfill: { rows: number; sliceDays: number; rowsPerSec: PerTable<number> };
  /** Medians over `days` new days. statementFloorMs: the same batches of parameters through a VALUES list that writes nothing. */
  upsert: { rows: number; days: number; firstMs: PerTable<number>; rerunMs: PerTable<number>; rerunWritten: PerTable<number>; statementFloorMs: number };
  /** Each sample runs on all three tables with the same parameters, the tables taking turns to go first. */
  reads: { samples: number; ticker: PerTable<Reads>; cross: PerTable<Reads> };
  /** Removing old rows, once each: the oldest calendar month, then the rest of the oldest chunk (the same rows in all three). */
  removal: {
    month: { before: string; rows: PerTable<number>; ms: PerTable<number> };
    oldest: { before: string; rows: PerTable<number>; ms: PerTable<number>; plainVacuumMs: number };
  };
  sweep: SweepPoint[];
  /**
   * db:backup's and db:restore's workers (in-process) on the bench database, medians of `runs` each, against
   * pg_dump and TimescaleDB's restore procedure by hand; both restores read the tool's archive. Absent from older runs.
   */
  backup?: {
    /** The preset of the run that measured them: they may be merged into another run's results. */
    preset: string;
    runs: number; rows: number; archiveBytes: number; floorArchiveBytes: number;
    backupMs: number; backupFloorMs: number; restoreMs: number; restoreFloorMs: number;
    /** Timed once each: the archive's sha256, and counting every table's rows. */
    sha256Ms: number; rowCountsMs: number;
  };
  /** Each lint rule's statement on ohlcv (of `rows` rows), in a transaction rolled back. Absent from older runs. */
  locks?: {
    /** The preset of the run that measured them: they may be merged into another run's results. */
    preset: string;
    rows: number;
    cases: LockTiming[];
  };
  /** Compression with the author's settings, one run per preset measured (a run keeps the other presets' from the results before it). Absent from older runs. */
  compression?: CompressionRun[];
  /**
   * `kapman-db report` on the bench database (every bar of the preset), a process per run: the
   * median wall time, Node's own start beside it, the page's size, and the median of each step
   * the report times itself. Absent from older runs.
   */
  report?: { preset: string; runs: number; ms: number; nodeStartMs: number; bytes: number; steps: Record<string, number>;
    /** The load average (1 min) at the start of the run that measured it and when the report's runs ended: the machine's other work. */
    load?: [number, number];
    /** Measured in a run of its own and merged into another run's results (as the results of a branch are when it joins main). */
    ownRun?: boolean };
  /**
   * npm test on a prepared server (the tests' template there already): ms the median of `runs`;
   * firstMs: the run that built the template. Measured by `npm run bench -- --suite`, in a run of its own.
   */
  suite?: SuiteTimes;
}

export interface SuiteTimes {
  ms: number;
  passed: boolean;
  firstMs?: number;
  busyShare?: number;
  /** Each prepared run's wall time, in order. */
  runs?: number[];
  /** jest alone: one empty test, no global setup, no server. */
  jestStartMs?: number;
  /** The harness's floor: jest, global setup and teardown against the server, and the harness's own test file. */
  floorMs?: number;
  /** `npm run test:e2e` once, on its own throwaway server. */
  e2e?: { ms: number; passed: boolean };
  /** The load average (1 min) at the start and the end of the suite's runs. */
  load?: [number, number];
}

/** The backup figures benchBackup measures. */
export type BackupTimes = NonNullable<BenchResults['backup']>;

/** ohlcv compressed with the author's settings: its size, the two reads beside an uncompressed copy, backup and restore. */
export interface CompressionRun {
  preset: string;
  /** ohlcv's rows and chunks, all compressed. */
  rows: number;
  chunks: number;
  segmentBy: string;
  orderBy: string;
  /** compress_chunk on every chunk, after the settings were set. */
  compressMs: number;
  /** hypertable_size before and after. */
  bytesBefore: number;
  bytesAfter: number;
  /** The same samples on the compressed ohlcv and an uncompressed copy, taking turns. */
  reads: { samples: number; ticker: Record<'compressed' | 'uncompressed', Reads>; cross: Record<'compressed' | 'uncompressed', Reads> };
  /** db:backup and db:restore of the compressed database beside their floors. */
  backup: BackupTimes;
  /** The same run's backup and restore before compression. */
  uncompressed: Pick<BackupTimes, 'backupMs' | 'restoreMs' | 'archiveBytes'>;
  /** The 1-minute load average before and after: a run may be shown beside another run's page. Absent from older runs. */
  load?: [number, number];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function latencyOf(values: number[]): Latency {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

const ms = (v: number) => (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(2)} ms`);
const x = (v: number) => `${v.toFixed(2)}×`;
const count = (n: number) => Math.round(n).toLocaleString('en-US');

export interface TargetCheck {
  name: string;
  measured: string;
  target: string;
  /** measured / limit: at most 1 meets the target. */
  ratio: number;
}

const TWIN: Record<Twin, string> = { plain: 'plain twin', partitioned: 'partitioned twin' };

/** The hypertable's value over the better twin's, the twin named: the faster one, by lower time or higher rate. */
export function againstBest(v: PerTable<number>, higherIsBetter = false): { twin: Twin; ratio: number } {
  const twin: Twin = (v.plain < v.partitioned) !== higherIsBetter ? 'plain' : 'partitioned';
  return { twin, ratio: v.hyper / v[twin] };
}

const vsBest = (v: PerTable<number>, higherIsBetter = false) => {
  const b = againstBest(v, higherIsBetter);
  return `${x(b.ratio)} ${b.twin}`;
};
const p50s = (reads: PerTable<Reads>, part: keyof Reads = 'server') => perTable((t) => reads[t][part].p50);
const perTable = <T>(value: (t: Table) => T): PerTable<T> => ({ hyper: value('hyper'), plain: value('plain'), partitioned: value('partitioned') });

export function targetChecks(r: BenchResults): TargetCheck[] {
  const copy = againstBest(r.backfill.rowsPerSec, true);
  const upsert = againstBest(r.upsert.firstMs);
  const ticker = againstBest(p50s(r.reads.ticker));
  const cross = againstBest(p50s(r.reads.cross));
  const checks: TargetCheck[] = [
    { name: 'db:reset / psql floor', measured: x(r.reset.npmRunMs / r.reset.floorMs), target: '≤ 2×', ratio: r.reset.npmRunMs / r.reset.floorMs / 2 },
    { name: `COPY backfill rate, hypertable / ${TWIN[copy.twin]}`, measured: x(copy.ratio), target: '≥ 0.8×', ratio: 0.8 / copy.ratio },
    { name: `daily upsert time, hypertable / ${TWIN[upsert.twin]}`, measured: x(upsert.ratio), target: '≤ 1.25×', ratio: upsert.ratio / 1.25 },
    { name: `one ticker's history (server p50), hypertable / ${TWIN[ticker.twin]}`, measured: x(ticker.ratio), target: '≤ 1.5×', ratio: ticker.ratio / 1.5 },
    { name: `one day's cross-section (server p50), hypertable / ${TWIN[cross.twin]}`, measured: x(cross.ratio), target: '≤ 1.5×', ratio: cross.ratio / 1.5 },
    { name: 'idempotent re-run, rows written', measured: String(r.upsert.rerunWritten.hyper), target: '0', ratio: r.upsert.rerunWritten.hyper === 0 ? 0 : 2 },
  ];
  if (r.report) {
    const beyond = r.report.ms - r.report.nodeStartMs;
    checks.push({ name: `kapman-db report beyond Node's start (${r.report.preset} preset)`, measured: ms(beyond), target: '≤ 2 s', ratio: beyond / 2000 });
  }
  if (r.suite) {
    const median = r.suite.runs ? `median of ${r.suite.runs.length} runs` : 'one run';
    checks.push({ name: `npm test wall time, ${median}${r.suite.passed ? '' : ' (a run FAILED)'}`, measured: ms(r.suite.ms), target: '≤ 12 s', ratio: r.suite.ms / 12000 });
    if (r.suite.e2e) {
      checks.push({ name: `npm run test:e2e wall time${r.suite.e2e.passed ? '' : ' (the run FAILED)'}`, measured: ms(r.suite.e2e.ms), target: '≤ 180 s', ratio: r.suite.e2e.ms / 180_000 });
    }
  }
  return checks;
}

/** Bars of measured / target, a line at 1: left of it meets the target. */
export function renderChart(r: BenchResults): string {
  const checks = targetChecks(r);
  const rowH = 34;
  const left = 430;
  const width = 860;
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
  const row = (what: string, cell: (t: Table) => string, ratio: string) => `| ${what} | ${TABLES.map(cell).join(' | ')} | ${ratio} |`;
  const readRows = (what: string, reads: PerTable<Reads>) => [
    row(`${what}, server p50 / p95 / p99`, (t) => lat(reads[t].server), vsBest(p50s(reads))),
    row(`${what}, of which planning, p50`, (t) => ms(reads[t].planning.p50), vsBest(p50s(reads, 'planning'))),
    row(`${what}, client round trip p50 / p95 / p99`, (t) => lat(reads[t].client), vsBest(p50s(reads, 'client'))),
  ];
  const { month, oldest } = r.removal;
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`${r.command}\`; rerun it to reproduce. Preset **${r.preset}**: ${count(r.tickers)} tickers × ${r.days} trading days`,
    `(${count(r.tickers * r.days)} rows of \`ohlcv\`), on a throwaway TimescaleDB chosen as the tests choose theirs${r.durationMs ? `; the run took ${(r.durationMs / 60_000).toFixed(1)} min` : ''}.`,
    '',
    'The hypertable `ohlcv` stands beside two twins, loaded with the same rows in the same run, each with `ohlcv`\'s columns,',
    'defaults, primary key `(ticker_id, date)`, `date DESC` index and foreign key to `tickers` (`LIKE ohlcv INCLUDING ALL`,',
    'the foreign key copied from the catalog):',
    '',
    '- **plain twin**: one ordinary table;',
    '- **partitioned twin**: `PARTITION BY RANGE (date)`, one partition per 365 days, on the same boundaries as the hypertable\'s chunks.',
    '',
    'Every ratio is the hypertable\'s number over the better twin\'s for that operation (the faster one), and names that twin.',
    `The tables take turns: COPY runs in slices of ${r.backfill.sliceDays} trading days, each upsert day and each read sample goes to all three`,
    'with the same data, and whoever went first goes last next time, so load from other processes on the machine falls on all alike.',
    '',
    `![measured against target](${chartFile})`,
    '',
    'The Docker path (a compose server, Testcontainers) is measured beside the local one in [benchmarks-docker.md](benchmarks-docker.md).',
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
    '| measure | hypertable (`ohlcv`) | plain twin | partitioned twin | hypertable / better twin |',
    '| --- | --- | --- | --- | --- |',
    row('backfill with COPY, rows/s', (t) => count(r.backfill.rowsPerSec[t]), vsBest(r.backfill.rowsPerSec, true)),
    row(`daily upsert, ${count(r.upsert.rows)} rows, first load, median of ${r.upsert.days} days`, (t) => ms(r.upsert.firstMs[t]), vsBest(r.upsert.firstMs)),
    row('daily upsert, idempotent re-run (rows written)', (t) => `${ms(r.upsert.rerunMs[t])} (${r.upsert.rerunWritten[t]})`, vsBest(r.upsert.rerunMs)),
    ...readRows('one ticker\'s full history', r.reads.ticker),
    ...readRows('one day\'s cross-section', r.reads.cross),
    '',
    `Daily upsert floor: the same ${count(r.upsert.rows * 7)} parameters through a VALUES list that writes nothing take ${ms(r.upsert.statementFloorMs)}.`,
    `Reads: ${r.reads.samples} samples each, random tickers and days, after a warm-up. Server time is planning plus execution`,
    'from `EXPLAIN (ANALYZE, TIMING OFF)`: what the table\'s layout costs. The client round trip adds the transfer and',
    'node-postgres\'s parsing of every row, which are the same for all three tables and dominate the cross-section.',
    '',
    '## Removing old rows',
    '',
    '`drop_chunks` removes whole chunks only, and a partition is dropped whole: with 365-day chunks and yearly partitions,',
    'the oldest month can only be `DELETE`d, on all three. The like-for-like case is the oldest chunk: the partitioned twin\'s',
    'partitions share the chunks\' boundaries, so each table removes the same rows, each the best way it can. Each is timed once,',
    'after the reads.',
    '',
    '| removing | hypertable (`ohlcv`) | plain twin | partitioned twin | hypertable / better twin |',
    '| --- | --- | --- | --- | --- |',
    row(`the oldest month (dates before ${month.before}), rows removed`, (t) => `\`DELETE\` ${ms(month.ms[t])} (${count(month.rows[t])})`, vsBest(month.ms)),
    row(`the rest of the oldest chunk (dates before ${oldest.before}), rows removed`, (t) => `${{ hyper: '`drop_chunks`', plain: '`DELETE`', partitioned: '`DROP TABLE` of the partition' }[t]} ${ms(oldest.ms[t])} (${count(oldest.rows[t])})`, vsBest(oldest.ms)),
    '',
    `The plain twin's \`DELETE\` leaves dead rows behind: the \`VACUUM\` that makes their space reusable took another ${ms(oldest.plainVacuumMs)}.`,
    '',
    `| reset, median of ${r.reset.runs} | wall time |`,
    '| --- | --- |',
    `| \`npm run db:reset\` (as users run it) | ${ms(r.reset.npmRunMs)} |`,
    `| \`node scripts/kapman-db.js reset\` (no npm) | ${ms(r.reset.nodeMs)} |`,
    `| psql floor: drop, create, the same DDL from a file | ${ms(r.reset.floorMs)} |`,
    '',
    '## Chunk interval sweep',
    '',
    '`ohlcv`\'s rows copied into hypertables that differ only in `chunk_time_interval`, read in turns like the twins; server p50 latencies.',
    '',
    '| chunk interval | chunks | one ticker\'s history | one day\'s cross-section |',
    '| --- | --- | --- | --- |',
    ...r.sweep.map((s) => `| ${s.days} days | ${s.chunks} | ${ms(s.tickerRead.p50)} | ${ms(s.crossSection.p50)} |`),
    '',
  ];
  if (r.backup) lines.push(...renderBackup(r.backup, r.preset));
  if (r.compression?.length) lines.push(...renderCompression(r.compression, r.preset));
  if (r.locks) lines.push(...renderLocks(r.locks, r.preset));
  if (r.report) lines.push(...renderReport(r.report, r.preset));
  lines.push('## Where a target is missed, and why', '', ...misses(r).map((m) => `- ${m}`), '');
  if (r.suite) lines.push(...renderSuite(r.suite));
  return lines.join('\n');
}

/** A sentence per missed target, from the numbers measured beside it. */
function misses(r: BenchResults): string[] {
  const out: string[] = [];
  const checks = targetChecks(r);
  const missed = (prefix: string) => checks.some((c) => c.name.startsWith(prefix) && c.ratio > 1);
  if (missed('db:reset')) {
    const start = r.reset.nodeStart;
    const extraCa = start?.withoutExtraCaMs === undefined ? ''
      : ` This machine sets NODE_EXTRA_CA_CERTS, which every Node start reads whole: \`node -e ""\` takes ${ms(start.ms)} here, ${ms(start.withoutExtraCaMs)} without it, and \`npm run\` starts Node twice (npm, then the command).`;
    out.push(`**db:reset**: npm's own start adds ${ms(r.reset.npmRunMs - r.reset.nodeMs)}; starting Node, loading pg, yargs and the TypeScript loader, `
      + 'the lock and preflight sessions, knex\'s bookkeeping (knex itself loads while the server creates the build), the verification after the migrations '
      + `and restarting TimescaleDB's scheduler after the swap add ${ms(r.reset.nodeMs - r.reset.floorMs)} over the psql floor, `
      + `which runs the same drop, create and DDL and nothing else. The database work itself is the same statements.${extraCa}`);
  }
  if (missed('COPY backfill')) {
    const { twin } = againstBest(r.backfill.rowsPerSec, true);
    out.push(`**COPY backfill**: ${count(r.backfill.rowsPerSec.hyper)} rows/s into the hypertable against ${count(r.backfill.rowsPerSec[twin])} into the ${TWIN[twin]}; `
      + `the partitioned twin, which also routes every row to a partition, took ${count(r.backfill.rowsPerSec.partitioned)}. The rest is TimescaleDB's own COPY path: `
      + 'finding the chunk for each row and inserting through that chunk\'s indexes and foreign-key trigger.');
  }
  if (missed('daily upsert')) {
    const { twin } = againstBest(r.upsert.firstMs);
    const floor = r.upsert.statementFloorMs;
    out.push(`**daily upsert**: the statement's shape alone (parsing and binding ${count(r.upsert.rows * 7)} parameters in batches of 5,000 rows, `
      + `writing nothing) costs ${ms(floor)}; above that the ${TWIN[twin]} spends ${ms(r.upsert.firstMs[twin] - floor)} writing and the hypertable `
      + `${ms(r.upsert.firstMs.hyper - floor)}, its insert path routing each row to a chunk and resolving ON CONFLICT through that chunk's indexes. `
      + 'A faster load would need another statement (COPY into a staging table, then one INSERT … SELECT … ON CONFLICT), which is the ingestion job\'s to choose.');
  }
  for (const [prefix, reads] of [['one ticker', r.reads.ticker], ['one day', r.reads.cross]] as const) {
    if (!missed(prefix)) continue;
    const { twin } = againstBest(p50s(reads));
    const planningGap = reads.hyper.planning.p50 - reads[twin].planning.p50;
    const gap = reads.hyper.server.p50 - reads[twin].server.p50;
    out.push(`**${prefix === 'one ticker' ? 'one ticker\'s history' : 'one day\'s cross-section'}**: server p50 ${ms(reads.hyper.server.p50)} on the hypertable, `
      + `${ms(reads[twin].server.p50)} on the ${TWIN[twin]}; planning alone is ${ms(reads.hyper.planning.p50)} against ${ms(reads[twin].planning.p50)}, `
      + `${Math.round((planningGap / gap) * 100)}% of the gap: while planning, TimescaleDB expands the hypertable into its chunks and excludes `
      + 'those the dates do not reach. The rest is execution, one index scan per chunk the dates reach.');
  }
  if (missed('kapman-db report') && r.report) {
    const [first, second] = Object.entries(r.report.steps).sort((a, b) => b[1] - a[1]);
    out.push(`**kapman-db report**: ${ms(r.report.ms - r.report.nodeStartMs)} beyond Node's start; its largest steps are ${first[0]} (${ms(first[1])}) and ${second[0]} (${ms(second[1])}). `
      + 'The per-ticker pass reads every bar once, as the thin histories and the gaps need (no statistic counts a ticker\'s bars), '
      + `in parallel workers that share the machine's cores with whatever else runs${r.report.load ? ` (the load average of its run: ${r.report.load[0].toFixed(1)} and ${r.report.load[1].toFixed(1)})` : ''}.`);
  }
  if (missed('npm test') && r.suite?.busyShare !== undefined) {
    out.push(`**npm test**: ${ms(r.suite.ms)} on ${r.machine[0]?.split(' ')[0]} cores, which the runs kept ${Math.round(r.suite.busyShare * 100)}% busy: `
      + 'the suite is bound by CPU, whatever the number of workers: measured by hand, the machine spent 51 s of CPU with 1 jest worker '
      + '(50 s wall), 50 s with 2 (29 s) and 52 s with 4 (27 s). The server takes 29 s of it (perf: planning and parsing a third, '
      + 'utility statements such as CREATE DATABASE, CREATE EXTENSION timescaledb and the migrations\' DDL a fifth, starting and ending '
      + 'about 970 connections a sixth) and jest 13.5 s in one process; nothing stands out: the largest file, squash.test, is an '
      + 'eighth of it (6.7 s of CPU, run alone). Reaching 12 s means halving the work the safety checks do, or moving '
      + 'half of them out of npm test, which would lose the planted bugs only npm test catches in-process.');
  }
  if (missed('npm run test:e2e') && r.suite?.e2e) {
    out.push(`**npm run test:e2e**: ${ms(r.suite.e2e.ms)}, bound by CPU too (measured by hand with 3 workers: 617 s of CPU in 314 s, `
      + 'as long as with 2); four of its files run a whole npm test in a copy of the project (the quick start from anywhere, the second '
      + 'migration, the day-2 squash twice), so each second npm test loses comes off e2e about four times.');
  }
  return out.length ? out : ['Every target is met.'];
}

function renderBackup(b: NonNullable<BenchResults['backup']>, preset: string): string[] {
  const mb = b.archiveBytes / 2 ** 20;
  // With few runs on a shared machine the tool can come out below its floor: that is noise, said as such.
  const over = (tool: number, floor: number, what: string) => (tool >= floor ? `${ms(tool - floor)} over ${what}`
    : `${ms(floor - tool)} below ${what}: this machine's run-to-run noise hides the extra work`);
  const cells = (msTaken: number) => `${(msTaken / 1000).toFixed(2)} s | ${(mb / (msTaken / 1000)).toFixed(1)}`;
  return [
    '## Backup and restore',
    '',
    ...(b.preset === preset ? [] : [`Measured in a separate run of the **${b.preset}** preset (\`npm run bench${b.preset === 'full' ? ' -- --preset full' : ''}\`), not the run above.`, '']),
    `The bench database once the twins are dropped and \`ohlcv\` holds every row of the preset again: ${count(b.rows)} rows, a ${mb.toFixed(1)} MB archive`,
    `(MB = 2^20 bytes; the floor's archive: ${(b.floorArchiveBytes / 2 ** 20).toFixed(1)} MB). The commands' workers run in-process (no Node start); each floor`,
    'runs the same pg_dump or pg_restore binary with the same format flags. Both restores read the tool\'s archive, each into a new database',
    `dropped afterwards. Tool and floor take turns going first; medians of ${b.runs} runs each. MB/s is the archive's size over the wall time.`,
    '',
    '| operation | seconds | MB/s | tool / floor |',
    '| --- | --- | --- | --- |',
    `| \`db:backup\` (\`backupDatabase\`) | ${cells(b.backupMs)} | ${x(b.backupMs / b.backupFloorMs)} |`,
    `| floor: \`pg_dump --format=custom --file=…\` | ${cells(b.backupFloorMs)} | |`,
    `| \`db:restore\` (\`restore\`) into a new database | ${cells(b.restoreMs)} | ${x(b.restoreMs / b.restoreFloorMs)} |`,
    '| floor: `CREATE DATABASE`, `CREATE EXTENSION timescaledb VERSION …`, `timescaledb_pre_restore()`, '
      + `\`pg_restore --exit-on-error --no-owner\`, \`timescaledb_post_restore()\` | ${cells(b.restoreFloorMs)} | |`,
    '',
    `Where the tool's extra time goes. **Backup** (${over(b.backupMs, b.backupFloorMs, 'pg_dump')}): the metadata, read in the snapshot pg_dump is then given`,
    `(counting every table's rows took ${ms(b.rowCountsMs)} here, plus the chunk list and migrations), \`--verbose\` for its progress lines,`,
    `and the archive's sha256 (${ms(b.sha256Ms)}). **Restore** (${over(b.restoreMs, b.restoreFloorMs, 'the procedure by hand')}): the archive's sha256 checked`,
    'before anything is touched, the checks and the lock of db:reset\'s pipeline, the restore built beside under a temporary name, giving',
    `its objects to the owner, verifying it against the contract, counting its rows and chunks against the backup's (${ms(b.rowCountsMs)} for the rows),`,
    'and the swap (the build closed, renamed, the target dropped, the build renamed into its place).',
    '',
  ];
}

/** What each step of the health page costs; the step names are the report's own (scripts/lib/report/). */
const REPORT_STEPS: Record<string, string> = {
  schema: 'schema: verify\'s reading of the catalog against the contract, and the migrations',
  storage: 'storage: sizes from the catalog, chunks, compression and jobs from TimescaleDB\'s metadata',
  calendar: 'trading days: a loose scan of the date index, one probe per day',
  'volume spikes': 'each ticker\'s median volume of the last 20 trading days, then the window\'s bars of the tickers whose largest volume is over 10× it',
  'per-ticker pass': 'the one pass over every bar: count, first and last bar per ticker; in the window, each check per ticker',
  gaps: 'the bars of the tickers that can have a gap, one by one',
  'window days': 'the window\'s bars of the tickers that miss a day of it',
  'bad-bar examples': 'each check\'s first examples',
  watchlists: 'watchlist coverage',
  page: 'the page: HTML and its SVG charts',
};

function renderReport(p: NonNullable<BenchResults['report']>, preset: string): string[] {
  // schema and storage run on a second session, beside the market's steps: the wall time is less than the sum.
  const beside = ['schema', 'storage'];
  const alongside = Object.entries(p.steps).filter(([k]) => !beside.includes(k)).reduce((a, [, v]) => a + v, 0);
  return [
    '## The health page (`kapman-db report`)',
    '',
    ...(p.preset === preset && !p.ownRun ? [] : [`Measured in a separate run of the **${p.preset}** preset (\`npm run bench${p.preset === 'full' ? ' -- --preset full' : ''}\`), not the run above.`, '']),
    `\`node scripts/kapman-db.js report\` on the bench database once the twins are dropped and \`ohlcv\` holds every bar again, a process per run, median of ${p.runs}:`,
    `${ms(p.ms)} wall, of which Node's own start (\`node -e ""\`) takes ${ms(p.nodeStartMs)}: **${ms(p.ms - p.nodeStartMs)} beyond it** (target: 2 s).`,
    ...(p.load ? [`The load average (1 min) of the run that measured it: ${p.load[0].toFixed(1)} at its start, ${p.load[1].toFixed(1)} after the report's runs.`] : []),
    `The page is ${Math.round(p.bytes / 1024)} kB (${count(p.bytes)} bytes), one HTML file with its style and SVG charts inside. Each step as the report times`,
    'it, the median of each over the runs. `schema` and `storage` run on a second session in the same snapshot, beside the others;',
    'what the steps leave out of the wall time is loading the modules and connecting.',
    '',
    '| step | ms | what it reads |',
    '| --- | --- | --- |',
    ...Object.entries(p.steps).map(([step, v]) => `| ${step} | ${ms(v)} | ${REPORT_STEPS[step] ?? ''} |`),
    `| the steps but schema and storage | ${ms(alongside)} | the first session's work, in a row |`,
    '',
  ];
}

function renderCompression(runs: CompressionRun[], preset: string): string[] {
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
  const lat = (l: Latency) => `${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)}`;
  const label = (p: string) => (p === preset ? `**${p}** (this run)` : `**${p}** (\`npm run bench${p === 'full' ? ' -- --preset full' : ''}\`, a run of its own)`);
  const first = runs[0];
  return [
    '## Compression',
    '',
    `\`ohlcv\` compressed as KapMan's author sets it in his retention migration: \`ALTER TABLE ohlcv SET (timescaledb.compress,`,
    `timescaledb.compress_segmentby = '${first.segmentBy}', timescaledb.compress_orderby = '${first.orderBy}')\`, then \`compress_chunk\` on every chunk.`,
    'Measured at the end of the run, on `ohlcv` holding every row of the preset (the twins dropped). It needs TimescaleDB\'s community build.',
    'Sizes are `hypertable_size` (chunks, compressed chunks, indexes and TOAST; MB = 2^20 bytes).',
    '',
    '| preset | rows | chunks | `ohlcv` before | after | after / before | `compress_chunk`, every chunk |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((c) => `| ${label(c.preset)} | ${count(c.rows)} | ${c.chunks} | ${mb(c.bytesBefore)} | ${mb(c.bytesAfter)} | ${x(c.bytesAfter / c.bytesBefore)} | ${ms(c.compressMs)} |`),
    '',
    ...runs.filter((c) => c.load).map((c) => `The ${c.preset} run's part: load average (1 min) ${c.load![0].toFixed(1)} at its start, ${c.load![1].toFixed(1)} at its end.`),
    ...(runs.some((c) => c.load) ? [''] : []),
    'The two reads on the compressed `ohlcv` beside an uncompressed copy (a hypertable of the same chunk interval, rows and',
    'indexes), the same samples taking turns as the twins do above; server time, p50 / p95 / p99.',
    '',
    '| read | preset | compressed | uncompressed | compressed / uncompressed (p50) |',
    '| --- | --- | --- | --- | --- |',
    ...runs.flatMap((c) => [
      `| one ticker's full history | ${c.preset} | ${lat(c.reads.ticker.compressed.server)} | ${lat(c.reads.ticker.uncompressed.server)} | ${x(c.reads.ticker.compressed.server.p50 / c.reads.ticker.uncompressed.server.p50)} |`,
      `| one day's cross-section | ${c.preset} | ${lat(c.reads.cross.compressed.server)} | ${lat(c.reads.cross.uncompressed.server)} | ${x(c.reads.cross.compressed.server.p50 / c.reads.cross.uncompressed.server.p50)} |`,
    ]),
    '',
    'Why the two differ: compression stores each ticker\'s rows of a chunk in batches of up to 1,000, ordered by date, with each',
    'batch\'s first and last date beside it. One ticker\'s history reads its own batches only; one day\'s cross-section needs one row of',
    'every ticker, so every ticker\'s batch that spans the day is decompressed to find it, where the uncompressed copy reads one index',
    'range. The author\'s policy compresses only chunks older than 120 days (`compress_after`), so the cross-sections of recent days,',
    'which the daily job reads, stay on uncompressed chunks.',
    '',
    'Backup and restore of the compressed database, measured as in [Backup and restore](#backup-and-restore) (the workers in-process,',
    'each beside the same pg_dump or pg_restore procedure by hand, medians), and against the same run\'s uncompressed database.',
    '',
    '| operation | preset | seconds | archive | tool / floor | compressed / uncompressed |',
    '| --- | --- | --- | --- | --- | --- |',
    ...runs.flatMap((c) => [
      `| \`db:backup\` | ${c.preset} | ${(c.backup.backupMs / 1000).toFixed(2)} s | ${mb(c.backup.archiveBytes)} | ${x(c.backup.backupMs / c.backup.backupFloorMs)} | ${x(c.backup.backupMs / c.uncompressed.backupMs)} (archive ${x(c.backup.archiveBytes / c.uncompressed.archiveBytes)}) |`,
      `| floor: \`pg_dump --format=custom\` | ${c.preset} | ${(c.backup.backupFloorMs / 1000).toFixed(2)} s | ${mb(c.backup.floorArchiveBytes)} | | |`,
      `| \`db:restore\` into a new database | ${c.preset} | ${(c.backup.restoreMs / 1000).toFixed(2)} s | | ${x(c.backup.restoreMs / c.backup.restoreFloorMs)} | ${x(c.backup.restoreMs / c.uncompressed.restoreMs)} |`,
      `| floor: TimescaleDB's restore procedure by hand | ${c.preset} | ${(c.backup.restoreFloorMs / 1000).toFixed(2)} s | | | |`,
    ]),
    '',
  ];
}

/** Why each TimescaleDB rule of the lint exists: the lock its statement holds, here and at production's size. */
function renderLocks(l: NonNullable<BenchResults['locks']>, preset: string): string[] {
  const scale = PRODUCTION_ROWS / l.rows;
  return [
    '## Locks the lint warns about',
    '',
    ...(l.preset === preset ? [] : [`Measured in a separate run of the **${l.preset}** preset (\`npm run bench${l.preset === 'full' ? ' -- --preset full' : ''}\`), not the run above.`, '']),
    `Each TimescaleDB rule of \`npm run db:lint\` on its statement against \`ohlcv\` (${count(l.rows)} rows), in a transaction rolled back at once:`,
    'the lock is held from the statement\'s start to the rollback. The last column scales it linearly to 15,000 tickers × 10 years',
    `(${count(PRODUCTION_ROWS)} rows, ×${scale.toFixed(0)}), a lower bound for an index build or a rewrite that outgrows memory. Medians of three runs.`,
    'For `create_hypertable` the statement is the one the rule points to, with `migrate_data` on `ohlcv`\'s plain twin: without it',
    'TimescaleDB refuses a table that holds rows; with it, every row moves into chunks under the lock.',
    '',
    '| rule | statement | lock held here | at 15,000 × 10 years (est.) |',
    '| --- | --- | --- | --- |',
    ...l.cases.map((c) => `| \`${c.rule}\` | \`${c.statement}\` | ${c.refused ? `refused: ${c.refused}` : ms(c.ms)} | ${c.refused ? '' : `${(c.ms * scale / 1000).toFixed(0)} s`} |`),
    '',
  ];
}

function renderSuite(t: SuiteTimes): string[] {
  const first = t.firstMs === undefined ? '' : ` The run before them, which built the tests' template on that server, took ${ms(t.firstMs)}.`;
  const lines = ['## The test suites', ''];
  if (!t.runs) {
    lines.push(`\`npm test\` against the same server, its template already there, took ${ms(t.ms)} wall and ${t.passed ? 'passed' : 'FAILED'}.${first}`, '');
    return lines;
  }
  const sorted = [...t.runs].sort((a, b) => a - b);
  lines.push(
    `Written by \`npm run bench -- --suite\`${t.load ? `, at a load average of ${t.load[0].toFixed(1)} at the start and ${t.load[1].toFixed(1)} at the end` : ''}.`,
    '',
    '| what | wall time |',
    '| --- | --- |',
    `| \`npm test\` on a prepared server, median of ${t.runs.length} runs | ${ms(t.ms)} |`,
    `| the same, fastest and slowest | ${ms(sorted[0])} and ${ms(sorted[sorted.length - 1])} |`,
    ...(t.jestStartMs === undefined ? [] : [`| jest alone: one empty test, no server | ${ms(t.jestStartMs)} |`]),
    ...(t.floorMs === undefined ? [] : [`| the harness's floor: global setup, its own test file (harness.test.ts), teardown | ${ms(t.floorMs)} |`]),
    ...(t.e2e ? [`| \`npm run test:e2e\`, once, on a throwaway server of its own | ${ms(t.e2e.ms)}${t.e2e.passed ? '' : ' (FAILED)'} |`] : []),
    '',
    `Every run ${t.passed ? 'passed' : 'did not pass'}; the cores were ${t.busyShare === undefined ? '?' : Math.round(t.busyShare * 100)}% busy over the prepared runs.${first}`,
    '',
  );
  return lines;
}
