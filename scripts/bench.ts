// `npm run bench`: measure the schema and the tooling on a throwaway TimescaleDB, each
// number beside its floor or its plain-table twin, and write docs/benchmarks.md.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Client, escapeIdentifier } from 'pg';
import type { CommandModule } from 'yargs';
import { dropDatabase } from './lib/admin';
import { copyBars, dayBars, makeTickers, upsertDay, valuesFloor, weekdays } from './lib/benchData';
import { BenchResults, latency, Latency, median, renderChart, renderMarkdown, SweepPoint, targetChecks } from './lib/benchReport';
import { runCli } from './lib/cli';
import { connect, withMaintenanceClient } from './lib/connection';
import { PROJECT_ROOT } from './lib/devServer';
import { DEFAULT_PG_BIN, localTool } from './lib/localCluster';
import { log } from './lib/log';
import { withMigratedScratch } from './lib/scratch';
import { loadSettings, Settings, urlForDatabase } from './lib/settings';
import { describeServer, pickTestServer, stopOnSignal } from './lib/testServer';

export interface BenchOptions {
  preset: 'quick' | 'full';
  tickers: number;
  days: number;
  /** Resets timed, each way; the median is reported. */
  resetRuns: number;
  /** Timed reads of each kind and table. */
  readSamples: number;
  /** Chunk intervals, in days, of the sweep. */
  sweep: number[];
  /** Also time `npm test`. */
  suite: boolean;
  /** Write docs/benchmarks.md and its chart. */
  write: boolean;
}

export const PRESETS: Record<BenchOptions['preset'], Omit<BenchOptions, 'write'>> = {
  quick: { preset: 'quick', tickers: 1500, days: 252, resetRuns: 5, readSamples: 200, sweep: [7, 30, 90, 180, 365], suite: false },
  // A plain table's cross-section scans all 7.5 M rows (~0.4 s): fewer samples keep the run near 20 minutes.
  full: { preset: 'full', tickers: 15000, days: 504, resetRuns: 7, readSamples: 100, sweep: [7, 30, 90, 180, 365], suite: true },
};

const BENCH_SCHEMA = 'bench';
const PLAIN = `${BENCH_SCHEMA}.ohlcv_plain`;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = nowMs();
  const result = await work();
  return [result, nowMs() - started];
}

function timedSync(work: () => void): number {
  const started = nowMs();
  work();
  return nowMs() - started;
}

/** The DDL the migrations send, collected on a scratch database: the psql floor replays it. */
async function migrationDdl(settings: Settings): Promise<string> {
  const statements: string[] = [];
  await withMigratedScratch(settings, async () => undefined, {
    onQuery: (sql, bindings) => {
      if (bindings.length === 0 && /^\s*(create|alter|select create_hypertable)/i.test(sql) && !/"knex"|\bknex\./.test(sql)) statements.push(`${sql};`);
    },
  });
  return `${statements.join('\n')}\n`;
}

async function benchReset(settings: Settings, maintenanceUrl: string, runs: number) {
  const ddlFile = path.join(os.tmpdir(), `kapman-bench-ddl-${process.pid}.sql`);
  fs.writeFileSync(ddlFile, await migrationDdl(settings));
  const env = { ...process.env, DATABASE_URL: settings.url, NODE_ENV: undefined };
  const run = (cmd: string, args: string[]) => () => {
    const r = spawnSync(cmd, args, { cwd: PROJECT_ROOT, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  };
  const psql = (url: string, ...args: string[]) => run(localTool(process.env.PG_BIN || DEFAULT_PG_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args]);
  const db = escapeIdentifier(settings.database);
  const floor = () => {
    psql(maintenanceUrl, '-c', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, '-c', `CREATE DATABASE ${db} TEMPLATE template0`)();
    psql(settings.url, '-f', ddlFile)();
  };
  const times = { npmRun: [] as number[], node: [] as number[], floor: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.floor.push(timedSync(floor));
    times.node.push(timedSync(run(process.execPath, ['-r', 'ts-node/register', 'scripts/reset.ts', '--quiet'])));
    times.npmRun.push(timedSync(run('npm', ['run', '-s', 'db:reset', '--', '--quiet'])));
    log(`reset run ${i + 1}/${runs}: npm run ${Math.round(times.npmRun[i])} ms, node ${Math.round(times.node[i])} ms, psql floor ${Math.round(times.floor[i])} ms`);
  }
  fs.rmSync(ddlFile, { force: true });
  return { npmRunMs: median(times.npmRun), nodeMs: median(times.node), floorMs: median(times.floor), runs };
}

export interface ReadLatency {
  /** Planning plus execution inside the server (EXPLAIN ANALYZE): what the table's shape costs. */
  server: Latency;
  /** The round trip as a client sees it, prepared statement and row parsing included. */
  client: Latency;
}

async function sample(c: Client, name: string, sql: string, params: () => unknown[], count: number): Promise<ReadLatency> {
  for (let i = 0; i < 20; i++) await c.query({ name, text: sql, values: params() }); // warm-up, plans cached
  const client: number[] = [];
  const server: number[] = [];
  for (let i = 0; i < count; i++) {
    const values = params();
    const started = nowMs();
    await c.query({ name, text: sql, values });
    client.push(nowMs() - started);
    const { rows: [plan] } = await c.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${sql}`, values);
    const p = plan['QUERY PLAN'][0];
    server.push(p['Planning Time'] + p['Execution Time']);
  }
  return { server: latency(server), client: latency(client) };
}

const tickerSql = (table: string) => `SELECT date, open, high, low, close, volume FROM ${table} WHERE ticker_id = $1 AND date >= $2 AND date <= $3 ORDER BY date`;
const crossSql = (table: string) => `SELECT ticker_id, close, volume FROM ${table} WHERE date = $1`;

async function readLatencies(c: Client, table: string, ids: string[], days: string[], samples: number) {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  const key = table.replace(/\W/g, '_');
  return {
    ticker: await sample(c, `t_${key}`, tickerSql(table), () => [pick(ids), days[0], days[days.length - 1]], samples),
    cross: await sample(c, `x_${key}`, crossSql(table), () => [pick(days)], samples),
  };
}

async function sweepPoint(c: Client, days: number, ids: string[], dates: string[], samples: number): Promise<SweepPoint> {
  const table = `${BENCH_SCHEMA}.ohlcv_${days}d`;
  await c.query(`CREATE TABLE ${table} (LIKE public.ohlcv INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
  await c.query(`ALTER TABLE ${table} ADD PRIMARY KEY (ticker_id, date)`);
  await c.query(`SELECT create_hypertable('${table}', by_range('date', INTERVAL '${days} days'))`);
  await c.query(`INSERT INTO ${table} SELECT * FROM public.ohlcv`);
  await c.query(`VACUUM ANALYZE ${table}`);
  const { rows: [n] } = await c.query(`SELECT count(*)::int AS n FROM show_chunks('${table}')`);
  const reads = await readLatencies(c, table, ids, dates, samples);
  await c.query(`DROP TABLE ${table}`);
  return { days, chunks: n.n, tickerRead: reads.ticker.server, crossSection: reads.cross.server };
}

function machine(c: { server: string; pg: string; tsdb: string }): string[] {
  const cpus = os.cpus();
  return [
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB memory`,
    `${fs.existsSync('/etc/debian_version') ? `Debian ${fs.readFileSync('/etc/debian_version', 'utf8').trim()}, ` : ''}Node ${process.version}`,
    `PostgreSQL ${c.pg}, TimescaleDB ${c.tsdb} (server: ${c.server})`,
  ];
}

export async function bench(o: BenchOptions): Promise<BenchResults> {
  const server = await pickTestServer();
  stopOnSignal(server);
  log(`benchmark (${o.preset}): ${o.tickers} tickers × ${o.days} days, on ${describeServer(server)}`);
  try {
    const settings = loadSettings({ env: 'test', databaseUrl: urlForDatabase(server.adminUrl, 'kapman_bench') });
    const reset = await benchReset(settings, server.adminUrl, o.resetRuns);
    log(`reset: npm run db:reset ${Math.round(reset.npmRunMs)} ms, psql floor ${Math.round(reset.floorMs)} ms (medians)`);

    const c = await connect(settings.url);
    try {
      const versions = (await c.query(`SELECT current_setting('server_version') AS pg,
        (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS tsdb`)).rows[0];
      const ids = await makeTickers(c, o.tickers);
      const dates = weekdays(o.days + 1);
      const history = dates.slice(0, o.days);
      const newDay = dates[o.days];
      await c.query(`CREATE SCHEMA ${BENCH_SCHEMA}`);
      await c.query(`CREATE TABLE ${PLAIN} (LIKE public.ohlcv INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      await c.query(`ALTER TABLE ${PLAIN} ADD PRIMARY KEY (ticker_id, date)`);

      const [rows, hyperMs] = await timed(() => copyBars(c, 'public.ohlcv', ids, history));
      log(`backfill: ${rows} rows into ohlcv in ${Math.round(hyperMs)} ms`);
      const [, plainMs] = await timed(() => copyBars(c, PLAIN, ids, history));
      log(`backfill: ${rows} rows into the plain table in ${Math.round(plainMs)} ms`);
      for (const t of ['public.ohlcv', PLAIN]) await c.query(`VACUUM ANALYZE ${t}`); // one statement each: VACUUM takes no transaction

      const bars = dayBars(ids, newDay);
      const [, hyperFirstMs] = await timed(() => upsertDay(c, 'public.ohlcv', bars));
      const [hyperRerunWritten, hyperRerunMs] = await timed(() => upsertDay(c, 'public.ohlcv', bars));
      const [, plainFirstMs] = await timed(() => upsertDay(c, PLAIN, bars));
      const [plainRerunWritten, plainRerunMs] = await timed(() => upsertDay(c, PLAIN, bars));
      const [, statementFloorMs] = await timed(() => valuesFloor(c, bars));
      log(`daily upsert of ${bars.length} rows: ${Math.round(hyperFirstMs)} ms, re-run ${Math.round(hyperRerunMs)} ms writing ${hyperRerunWritten} rows`);
      for (const t of ['public.ohlcv', PLAIN]) await c.query(`VACUUM ANALYZE ${t}`); // one statement each: VACUUM takes no transaction

      const all = dates;
      const hyper = await readLatencies(c, 'public.ohlcv', ids, all, o.readSamples);
      const plain = await readLatencies(c, PLAIN, ids, all, o.readSamples);
      log(`reads, server p50: ticker ${hyper.ticker.server.p50.toFixed(2)} ms (plain ${plain.ticker.server.p50.toFixed(2)}), cross-section ${hyper.cross.server.p50.toFixed(2)} ms (plain ${plain.cross.server.p50.toFixed(2)})`);

      const sweep: SweepPoint[] = [];
      for (const days of o.sweep) {
        sweep.push(await sweepPoint(c, days, ids, all, Math.max(50, Math.round(o.readSamples / 2))));
        const s = sweep[sweep.length - 1];
        log(`sweep ${days} days: ${s.chunks} chunks, ticker p50 ${s.tickerRead.p50.toFixed(2)} ms, cross-section p50 ${s.crossSection.p50.toFixed(2)} ms`);
      }

      let suite: BenchResults['suite'];
      if (o.suite) {
        const started = nowMs();
        const run = spawnSync('npx', ['jest', '--silent'], { cwd: PROJECT_ROOT, stdio: 'ignore', env: { ...process.env, TEST_DATABASE_URL: server.adminUrl } });
        suite = { ms: nowMs() - started, passed: run.status === 0 };
        log(`npm test: ${Math.round(suite.ms)} ms, ${suite.passed ? 'passed' : 'FAILED'}`);
      }
      return {
        preset: o.preset, tickers: o.tickers, days: o.days,
        machine: machine({ server: server.kind, pg: versions.pg, tsdb: versions.tsdb }),
        command: `npm run bench${o.preset === 'full' ? ' -- --preset full' : ''}`,
        reset,
        backfill: { rows, hyperRowsPerSec: rows / (hyperMs / 1000), plainRowsPerSec: rows / (plainMs / 1000) },
        upsert: { rows: bars.length, hyperFirstMs, hyperRerunMs, hyperRerunWritten, plainFirstMs, plainRerunMs, plainRerunWritten, statementFloorMs },
        reads: { samples: o.readSamples, hyperTicker: hyper.ticker, plainTicker: plain.ticker, hyperCross: hyper.cross, plainCross: plain.cross },
        sweep, suite,
      };
    } finally {
      await c.end();
      await withMaintenanceClient(server.adminUrl, (m) => dropDatabase(m, settings.database));
    }
  } finally {
    await server.stop();
  }
}

const DOCS = path.join(PROJECT_ROOT, 'docs');
export const RESULTS_JSON = path.join(DOCS, 'benchmarks.json');

export function writeReport(r: BenchResults): void {
  const docs = DOCS;
  fs.mkdirSync(docs, { recursive: true });
  fs.writeFileSync(RESULTS_JSON, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(path.join(docs, 'benchmarks.svg'), renderChart(r));
  fs.writeFileSync(path.join(docs, 'benchmarks.md'), renderMarkdown(r, 'benchmarks.svg'));
  log('docs/benchmarks.md, .svg and .json written');
}

export const command: CommandModule<object, { preset: 'quick' | 'full'; write: boolean; 'render-only': boolean }> = {
  command: 'bench',
  describe: 'Benchmark reset, backfill, daily upsert, reads and chunk intervals on a throwaway TimescaleDB',
  builder: (y) => y
    .option('preset', { choices: ['quick', 'full'] as const, default: 'quick' as const, describe: 'quick (~2 min) or full (15,000 tickers × 2 years)' })
    .option('write', { type: 'boolean', default: true, describe: 'write docs/benchmarks.md, .svg and .json' })
    .option('render-only', { type: 'boolean', default: false, describe: 'measure nothing: rewrite the page and chart from docs/benchmarks.json' }),
  handler: async (args) => {
    const results: BenchResults = args['render-only']
      ? JSON.parse(fs.readFileSync(RESULTS_JSON, 'utf8'))
      : await bench({ ...PRESETS[args.preset], write: args.write });
    for (const c of targetChecks(results)) log(`${c.ratio <= 1 ? 'met   ' : 'MISSED'} ${c.name}: ${c.measured} (target ${c.target})`);
    if (args.write) writeReport(results);
  },
};

if (require.main === module) runCli(command, 'npm run bench --');
