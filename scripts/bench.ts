// `npm run bench`: measure the schema and the tooling on a throwaway TimescaleDB, each
// number beside its floor or its plain-table twin, and write docs/benchmarks.md.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import { backupDatabase } from './lib/backup/backup';
import { sha256OfFile } from './lib/backup/metadata';
import { restore } from './lib/backup/restore';
import { clientConnection, findTool } from './lib/server/clientTools';
import { copyBars, dayBars, makeTickers, upsertDay, valuesFloor, weekdays } from './lib/bench/data';
import { chunkInterval, compressAllChunks, hypertableBytes, ORDER_BY, SEGMENT_BY, withCompressionInContract } from './lib/bench/compression';
import { benchLocks } from './lib/bench/locks';
import {
  BenchResults, CompressionRun, latencyOf, median, PerTable, Reads, renderChart, renderMarkdown, SuiteTimes, SweepPoint, Table, TABLES, targetChecks,
} from './lib/bench/report';
import type { KapmanCommand } from './command';
import { log } from './lib/cli/log';
import { rowCounts } from './lib/schema/introspect';
import { createDatabase, dropDatabase } from './lib/server/admin';
import { connect, withClient, withMaintenanceClient } from './lib/server/connection';
import { PROJECT_ROOT } from './lib/paths';
import { DEFAULT_PG_BIN, localTool } from './lib/server/localCluster';
import { withMigratedScratch } from './lib/migrations/scratch';
import { loadSettings, Settings, settingsForDatabase, urlForDatabase } from './lib/server/settings';
import { describeServer, pickTestServer, stopOnSignal } from './lib/server/testServer';
import { describeEdition, readTimescaleEdition, TimescaleEdition } from './lib/server/timescaleEdition';
import { COMMUNITY_BUILD_HINT, TimescaleEditionError } from './lib/cli/errors';

export interface BenchOptions {
  preset: 'quick' | 'full';
  tickers: number;
  days: number;
  /** Resets timed, each way; the median is reported. */
  resetRuns: number;
  /** New days upserted into each table; the median is reported. */
  upsertDays: number;
  /** Timed reads of each kind and table. */
  readSamples: number;
  /** Backups and restores timed, each way (tool and floor taking turns); the median is reported. */
  backupRuns: number;
  /** `kapman-db report` runs timed; the median is reported. */
  reportRuns: number;
  /** Chunk intervals, in days, of the sweep. */
  sweep: number[];
  /** Write docs/benchmarks.md and its chart. */
  write: boolean;
}

export const PRESETS: Record<BenchOptions['preset'], Omit<BenchOptions, 'write'>> = {
  quick: { preset: 'quick', tickers: 1500, days: 252, resetRuns: 5, upsertDays: 5, readSamples: 200, backupRuns: 3, reportRuns: 5, sweep: [7, 30, 90, 180, 365] },
  full: { preset: 'full', tickers: 15000, days: 504, resetRuns: 7, upsertDays: 5, readSamples: 200, backupRuns: 2, reportRuns: 5, sweep: [7, 30, 90, 180, 365] },
};

const BENCH_SCHEMA = 'bench';
const TABLE: PerTable<string> = { hyper: 'public.ohlcv', plain: `${BENCH_SCHEMA}.ohlcv_plain`, partitioned: `${BENCH_SCHEMA}.ohlcv_partitioned` };
// About a month of trading days.
const COPY_SLICE_DAYS = 21;
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
    times.node.push(timedSync(run(process.execPath, ['scripts/kapman-db.js', 'reset', '--quiet'])));
    times.npmRun.push(timedSync(run('npm', ['run', '-s', 'db:reset', '--', '--quiet'])));
    log(`reset run ${i + 1}/${runs}: npm run ${Math.round(times.npmRun[i])} ms, node ${Math.round(times.node[i])} ms, psql floor ${Math.round(times.floor[i])} ms`);
  }
  fs.rmSync(ddlFile, { force: true });
  return { npmRunMs: median(times.npmRun), nodeMs: median(times.node), floorMs: median(times.floor), runs, nodeStart: nodeStart() };
}

/** Busy and total CPU time of all cores so far, in ms (os.cpus() counts since boot). */
function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times: t } of os.cpus()) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** `npm test` as the README runs it, against `url`: its wall time and how busy it kept the cores. */
function benchSuite(url: string, files: string[] = []): { ms: number; passed: boolean; busyShare: number } {
  const before = cpuTimes();
  const started = nowMs();
  const run = spawnSync('npm', ['test', '--silent', ...(files.length ? ['--', ...files] : [])], { cwd: PROJECT_ROOT, stdio: 'ignore', env: { ...process.env, TEST_DATABASE_URL: url } });
  const ms = nowMs() - started;
  const after = cpuTimes();
  return { ms, passed: run.status === 0, busyShare: (after.busy - before.busy) / (after.total - before.total) };
}

const SUITE_RUNS = 5;

/**
 * The suites as a user runs them: `npm test` on a prepared server (its first run builds the
 * tests' template there), SUITE_RUNS times; jest alone; the harness's floor; `npm run test:e2e` once.
 */
export async function benchSuites(o: { e2e: boolean }): Promise<SuiteTimes> {
  const loadAtStart = os.loadavg()[0];
  const server = await pickTestServer();
  stopOnSignal(server);
  let times: Omit<SuiteTimes, 'e2e' | 'load'>;
  try {
    log(`test suites, on ${describeServer(server)}`);
    const first = benchSuite(server.adminUrl);
    log(`npm test: ${Math.round(first.ms)} ms building the template; ${first.passed ? 'passed' : 'FAILED'}`);
    const before = cpuTimes();
    const runs = Array.from({ length: SUITE_RUNS }, (_, i) => {
      const run = benchSuite(server.adminUrl);
      log(`npm test on the prepared server, run ${i + 1}/${SUITE_RUNS}: ${Math.round(run.ms)} ms; ${run.passed ? 'passed' : 'FAILED'}`);
      return run;
    });
    const after = cpuTimes();
    const floor = median(Array.from({ length: 3 }, () => benchSuite(server.adminUrl, ['tests/integration/harness.test.ts']).ms));
    times = {
      ms: median(runs.map((r) => r.ms)), runs: runs.map((r) => Math.round(r.ms)), firstMs: first.ms,
      passed: first.passed && runs.every((r) => r.passed), busyShare: (after.busy - before.busy) / (after.total - before.total),
      jestStartMs: jestAlone(), floorMs: floor,
    };
    log(`npm test: median ${Math.round(times.ms)} ms of ${times.runs!.join(', ')}; jest alone ${Math.round(times.jestStartMs!)} ms, the harness's floor ${Math.round(floor)} ms`);
  } finally {
    await server.stop();
  }
  let e2e: SuiteTimes['e2e'];
  if (o.e2e) {
    const started = nowMs();
    const run = spawnSync('npm', ['run', '-s', 'test:e2e'], { cwd: PROJECT_ROOT, stdio: 'ignore', env: { ...process.env, TEST_DATABASE_URL: undefined } });
    e2e = { ms: nowMs() - started, passed: run.status === 0 };
    log(`npm run test:e2e: ${Math.round(e2e.ms)} ms; ${e2e.passed ? 'passed' : 'FAILED'}`);
  }
  return { ...times, ...(e2e ? { e2e } : {}), load: [loadAtStart, os.loadavg()[0]] };
}

/** jest alone, as this project has it installed: one empty test, no global setup, no server (median of 3). */
function jestAlone(): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-jest-alone-'));
  try {
    fs.writeFileSync(path.join(dir, 'empty.test.js'), "test('nothing', () => expect(1).toBe(1));\n");
    const jest = path.join(PROJECT_ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    return median(Array.from({ length: 3 }, () => timedSync(() => spawnSync(process.execPath, [jest, '--rootDir', dir, '--config', '{}'], { cwd: dir, stdio: 'ignore' }))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Median start of `node -e ""` as this environment has it, and without NODE_EXTRA_CA_CERTS (read whole at every start). */
function nodeStart(runs = 7): { ms: number; withoutExtraCaMs?: number } {
  const time = (env: NodeJS.ProcessEnv) => median(Array.from({ length: runs }, () => timedSync(() => spawnSync(process.execPath, ['-e', ''], { env }))));
  const ms = time(process.env);
  if (!process.env.NODE_EXTRA_CA_CERTS) return { ms };
  return { ms, withoutExtraCaMs: time({ ...process.env, NODE_EXTRA_CA_CERTS: undefined }) };
}

/** `xs` from position `i` on, wrapping: whoever went first last time goes last now, so load from other processes falls on all alike. */
function rotate<T>(xs: readonly T[], i: number): T[] {
  const k = i % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function perKey<K extends string, T>(keys: readonly K[], value: (k: K) => T): Record<K, T> {
  return Object.fromEntries(keys.map((k) => [k, value(k)])) as Record<K, T>;
}

/** Each sample runs `sql` on every table with the same parameters, the tables taking turns to go first. */
async function sample<K extends string>(c: Client, tables: Record<K, string>, kind: string, sql: (table: string) => string, params: () => unknown[], count: number): Promise<Record<K, Reads>> {
  const keys = Object.keys(tables) as K[];
  const name = (k: K) => `${kind}_${tables[k].replace(/\W/g, '_')}`;
  const first = params();
  for (const k of keys) for (let i = 0; i < 20; i++) await c.query({ name: name(k), text: sql(tables[k]), values: first }); // warm-up, plans cached
  const times = perKey(keys, () => ({ client: [] as number[], server: [] as number[], planning: [] as number[] }));
  for (let i = 0; i < count; i++) {
    const values = params();
    for (const k of rotate(keys, i)) {
      const started = nowMs();
      await c.query({ name: name(k), text: sql(tables[k]), values });
      times[k].client.push(nowMs() - started);
      const { rows: [plan] } = await c.query(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${sql(tables[k])}`, values);
      const p = plan['QUERY PLAN'][0];
      times[k].server.push(p['Planning Time'] + p['Execution Time']);
      times[k].planning.push(p['Planning Time']);
    }
  }
  return perKey(keys, (k) => ({ server: latencyOf(times[k].server), planning: latencyOf(times[k].planning), client: latencyOf(times[k].client) }));
}

const tickerSql = (table: string) => `SELECT date, open, high, low, close, volume FROM ${table} WHERE ticker_id = $1 AND date >= $2 AND date <= $3 ORDER BY date`;
const crossSql = (table: string) => `SELECT ticker_id, close, volume FROM ${table} WHERE date = $1`;

async function readLatencies<K extends string>(c: Client, tables: Record<K, string>, ids: string[], days: string[], samples: number) {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
  return {
    ticker: await sample(c, tables, 't', tickerSql, () => [pick(ids), days[0], days[days.length - 1]], samples),
    cross: await sample(c, tables, 'x', crossSql, () => [pick(days)], samples),
  };
}

/** `ohlcv`'s columns, defaults, key and indexes (LIKE … INCLUDING ALL) and its foreign keys (LIKE copies none), on a table of its own. */
async function createTwin(c: Client, table: string, partitionBy = ''): Promise<void> {
  await c.query(`CREATE TABLE ${table} (LIKE ${TABLE.hyper} INCLUDING ALL) ${partitionBy}`);
  const { rows } = await c.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '${TABLE.hyper}'::regclass AND contype = 'f'`);
  for (const fk of rows) await c.query(`ALTER TABLE ${table} ADD ${fk.def}`);
}

/** What makes a table's design, names aside: columns (type, nullability, default), constraints, indexes. */
async function design(c: Client, table: string): Promise<string> {
  const { rows } = await c.query(`
    SELECT format('%s %s not null: %s default: %s', attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(adbin, adrelid)) AS d
      FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
    UNION ALL SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass
    UNION ALL SELECT regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', CASE WHEN indisunique THEN 'unique ' ELSE '' END)
      FROM pg_index WHERE indrelid = $1::regclass
    ORDER BY 1`, [table]);
  return rows.map((r) => r.d).join('\n');
}

/**
 * The hypertable's 365-day chunks covering `dates`, as [from, to) dates. TimescaleDB starts a chunk at a
 * multiple of its interval from the Unix epoch; the partitioned twin uses the same boundaries, one partition
 * a year, so that dropping the oldest of each removes the same rows.
 */
function yearRanges(dates: string[], days = 365): [string, string][] {
  const DAY = 86_400_000;
  const asDate = (n: number) => new Date(n * DAY).toISOString().slice(0, 10);
  const last = Date.parse(dates[dates.length - 1]) / DAY;
  const out: [string, string][] = [];
  for (let n = Math.floor(Date.parse(dates[0]) / DAY / days) * days; n <= last; n += days) out.push([asDate(n), asDate(n + days)]);
  return out;
}

/** The oldest calendar month by DELETE on all three, then the rest of the oldest chunk as each can best remove it. */
async function benchRemoval(c: Client, history: string[], oldestEnd: string, oldestPartition: string): Promise<BenchResults['removal']> {
  const first = new Date(`${history[0]}T00:00:00Z`);
  const monthEnd = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
  const count = async (t: Table, before: string) => (await c.query(`SELECT count(*)::int AS n FROM ${TABLE[t]} WHERE date < $1`, [before])).rows[0].n as number;
  const month = { before: monthEnd, rows: {} as PerTable<number>, ms: {} as PerTable<number> };
  for (const t of TABLES) {
    month.rows[t] = await count(t, monthEnd);
    month.ms[t] = (await timed(() => c.query(`DELETE FROM ${TABLE[t]} WHERE date < $1`, [monthEnd])))[1];
  }
  const oldest = { before: oldestEnd, rows: {} as PerTable<number>, ms: {} as PerTable<number>, plainVacuumMs: 0 };
  for (const t of TABLES) oldest.rows[t] = await count(t, oldestEnd);
  oldest.ms.hyper = (await timed(() => c.query(`SELECT drop_chunks('${TABLE.hyper}', older_than => $1::date)`, [oldestEnd])))[1];
  oldest.ms.plain = (await timed(() => c.query(`DELETE FROM ${TABLE.plain} WHERE date < $1`, [oldestEnd])))[1];
  oldest.plainVacuumMs = (await timed(() => c.query(`VACUUM ${TABLE.plain}`)))[1]; // what makes the deleted rows' space reusable
  oldest.ms.partitioned = (await timed(() => c.query(`DROP TABLE ${oldestPartition}`)))[1];
  for (const t of TABLES) if (await count(t, oldestEnd) !== 0) throw new Error(`${TABLE[t]} still holds rows before ${oldestEnd}`);
  return { month, oldest };
}

async function benchSweep(c: Client, intervals: number[], ids: string[], dates: string[], samples: number): Promise<SweepPoint[]> {
  const tables = perKey(intervals.map(String), (days) => `${BENCH_SCHEMA}.ohlcv_${days}d`);
  for (const days of intervals) {
    const table = tables[days];
    await c.query(`CREATE TABLE ${table} (LIKE ${TABLE.hyper} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    await c.query(`ALTER TABLE ${table} ADD PRIMARY KEY (ticker_id, date)`);
    await c.query(`SELECT create_hypertable('${table}', by_range('date', INTERVAL '${days} days'))`);
    await c.query(`INSERT INTO ${table} SELECT * FROM ${TABLE.hyper}`);
    await c.query(`VACUUM ANALYZE ${table}`);
  }
  const reads = await readLatencies(c, tables, ids, dates, samples);
  const points: SweepPoint[] = [];
  for (const days of intervals) {
    const { rows: [n] } = await c.query(`SELECT count(*)::int AS n FROM show_chunks('${tables[days]}')`);
    points.push({ days, chunks: n.n, tickerRead: reads.ticker[days].server, crossSection: reads.cross[days].server });
    await c.query(`DROP TABLE ${tables[days]}`);
  }
  return points;
}

/**
 * db:backup's and db:restore's workers on the bench database, each beside its floor: pg_dump and
 * pg_restore by hand with the same binary and format flags, and TimescaleDB's documented restore
 * procedure. Tool and floor take turns going first; every file and database made is removed.
 */
async function benchBackup(settings: Settings, preset: string, runs: number): Promise<NonNullable<BenchResults['backup']>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-bench-backup-'));
  const archive = path.join(dir, 'tool.dump');
  const floorArchive = path.join(dir, 'floor.dump');
  const target = settingsForDatabase(settings, `${settings.database}_restored`);
  const floorDb = `${settings.database}_restored_floor`;
  const admin = (work: (c: Client) => Promise<unknown>) => withMaintenanceClient(settings, work);
  const dropRestored = () => admin(async (m) => {
    await dropDatabase(m, target.database);
    await dropDatabase(m, floorDb);
  });
  const { server, timescaledb } = await withClient(settings, async (c) => (await c.query(`SELECT current_setting('server_version_num')::int AS server,
    (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS timescaledb`)).rows[0]);
  // Found once, outside the timings: the floor is the binary alone.
  const binary = { pg_dump: findTool('pg_dump', Math.floor(server / 10000)).file, pg_restore: findTool('pg_restore', Math.floor(server / 10000)).file };
  const run = (tool: keyof typeof binary, on: Settings, args: string[]) => {
    const { conninfo, env } = clientConnection(on.connection);
    const r = spawnSync(binary[tool], [...args, `--dbname=${conninfo}`], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${r.stderr}`);
  };
  const times = { backup: [] as number[], backupFloor: [] as number[], restore: [] as number[], restoreFloor: [] as number[] };
  try {
    await dropRestored(); // a killed run's leftovers
    for (let i = 0; i < runs; i++) {
      for (const turn of rotate(['tool', 'floor'] as const, i)) {
        if (turn === 'tool') times.backup.push((await timed(() => backupDatabase(settings, { out: archive })))[1]);
        // The same format flags as backupDatabase; --verbose (its progress) and --snapshot (its counts' moment) are its own.
        else times.backupFloor.push(timedSync(() => run('pg_dump', settings, ['--format=custom', `--file=${floorArchive}`])));
      }
      log(`backup run ${i + 1}/${runs}: db:backup ${Math.round(times.backup[i])} ms, pg_dump floor ${Math.round(times.backupFloor[i])} ms`);
    }
    // Both restore the tool's archive; each into a database of its own, dropped after every run.
    for (let i = 0; i < runs; i++) {
      for (const turn of rotate(['tool', 'floor'] as const, i)) {
        if (turn === 'tool') times.restore.push((await timed(() => restore(target, archive)))[1]);
        else {
          times.restoreFloor.push((await timed(async () => {
            await admin((m) => createDatabase(m, floorDb));
            const floor = settingsForDatabase(settings, floorDb);
            await withClient(floor, async (c) => {
              if (timescaledb) await c.query(`CREATE EXTENSION timescaledb VERSION ${escapeLiteral(timescaledb)}`);
              if (timescaledb) await c.query('SELECT timescaledb_pre_restore()');
              run('pg_restore', floor, ['--exit-on-error', '--no-owner', archive]);
              if (timescaledb) await c.query('SELECT timescaledb_post_restore()');
            });
          }))[1]);
        }
      }
      await dropRestored();
      log(`restore run ${i + 1}/${runs}: db:restore ${Math.round(times.restore[i])} ms, pg_restore floor ${Math.round(times.restoreFloor[i])} ms`);
    }
    // Two parts of the tool's extra work, timed once: the archive's sha256 (written by the backup, checked by the restore) and the row counts (each side).
    const sha256Ms = (await timed(() => sha256OfFile(archive)))[1];
    const [counts, rowCountsMs] = await timed(() => withClient(settings, async (c) => {
      const names = (await c.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')")).rows.map((r) => r.relname as string);
      return rowCounts(c, names, names);
    }));
    return {
      preset, runs, rows: Object.values(counts).reduce((a, b) => a + b, 0),
      archiveBytes: fs.statSync(archive).size, floorArchiveBytes: fs.statSync(floorArchive).size,
      backupMs: median(times.backup), backupFloorMs: median(times.backupFloor),
      restoreMs: median(times.restore), restoreFloorMs: median(times.restoreFloor),
      sha256Ms, rowCountsMs,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await dropRestored();
  }
}

/**
 * `kapman-db report` on the bench database as a user runs it, a process each time: its wall time
 * beside Node's own start (`node -e ""`), and what each of its steps took, as it reports them.
 */
async function benchReport(settings: Settings, preset: string, runs: number, loadAtStart: number): Promise<NonNullable<BenchResults['report']>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-bench-report-'));
  const env = { ...process.env, DATABASE_URL: settings.url, NODE_ENV: undefined };
  const walls: number[] = [];
  const steps: Record<string, number[]> = {};
  let bytes = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const out = path.join(dir, `report-${i}.html`);
      let stdout = '';
      walls.push(timedSync(() => {
        const r = spawnSync(process.execPath, ['scripts/kapman-db.js', 'report', '--json', '--quiet', '--out', out], { cwd: PROJECT_ROOT, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
        if (r.status !== 0) throw new Error(`kapman-db report failed: ${r.stderr}`);
        stdout = r.stdout;
      }));
      const result = JSON.parse(stdout) as { timings: Record<string, number>; bytes: number };
      for (const [step, ms] of Object.entries(result.timings)) (steps[step] ??= []).push(ms);
      bytes = result.bytes;
      log(`report run ${i + 1}/${runs}: ${Math.round(walls[i])} ms (${Object.entries(result.timings).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')})`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const start = nodeStart();
  return {
    preset, runs, ms: median(walls), nodeStartMs: start.ms, bytes,
    steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, median(v)])),
    load: [loadAtStart, os.loadavg()[0]],
  };
}

/**
 * ohlcv compressed with the author's settings (his retention migration's), every chunk at once:
 * its size before and after; the two reads on the compressed chunks beside an uncompressed copy
 * (a hypertable of the same chunk interval, rows and indexes), in turns; then db:backup and
 * db:restore of the compressed database beside their floors, as benchBackup measures them.
 */
async function benchCompression(c: Client, settings: Settings, o: BenchOptions, ids: string[], dates: string[],
  uncompressed: NonNullable<BenchResults['backup']>): Promise<CompressionRun> {
  const loadAtStart = os.loadavg()[0];
  const copy = `${BENCH_SCHEMA}.ohlcv_uncompressed`;
  await c.query(`CREATE SCHEMA ${BENCH_SCHEMA}`);
  await c.query(`CREATE TABLE ${copy} (LIKE ${TABLE.hyper} INCLUDING ALL)`);
  await c.query(`SELECT create_hypertable('${copy}', by_range('date', $1::interval))`, [await chunkInterval(c, TABLE.hyper)]);
  await c.query(`INSERT INTO ${copy} SELECT * FROM ${TABLE.hyper}`);
  await c.query(`VACUUM ANALYZE ${copy}`);
  const rows = (await c.query(`SELECT count(*)::int AS n FROM ${TABLE.hyper}`)).rows[0].n as number;
  const bytesBefore = await hypertableBytes(c, TABLE.hyper);
  const [chunks, compressMs] = await timed(() => compressAllChunks(c, TABLE.hyper));
  await c.query(`ANALYZE ${TABLE.hyper}`);
  const bytesAfter = await hypertableBytes(c, TABLE.hyper);
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
  log(`compression (segment by ${SEGMENT_BY}, order by ${ORDER_BY}): ${chunks} chunks of ${rows} rows in ${Math.round(compressMs)} ms, ohlcv ${mb(bytesBefore)} -> ${mb(bytesAfter)}`);

  const reads = await readLatencies(c, { compressed: TABLE.hyper, uncompressed: copy }, ids, dates, o.readSamples);
  for (const kind of ['ticker', 'cross'] as const) {
    log(`reads on compressed chunks, ${kind}, server p50: compressed ${reads[kind].compressed.server.p50.toFixed(2)} ms, uncompressed ${reads[kind].uncompressed.server.p50.toFixed(2)} ms`);
  }
  await c.query(`DROP SCHEMA ${BENCH_SCHEMA} CASCADE`);

  // db:restore checks the restore against the contract: as where the author's migration and its entry are.
  const backup = await withCompressionInContract('ohlcv', () => benchBackup(settings, o.preset, o.backupRuns));
  log(`compressed database: db:backup ${Math.round(backup.backupMs)} ms (pg_dump floor ${Math.round(backup.backupFloorMs)} ms), `
    + `db:restore ${Math.round(backup.restoreMs)} ms (floor ${Math.round(backup.restoreFloorMs)} ms), archive ${mb(backup.archiveBytes)} (medians)`);
  return {
    preset: o.preset, rows, chunks, segmentBy: SEGMENT_BY, orderBy: ORDER_BY, compressMs, bytesBefore, bytesAfter,
    reads: { samples: o.readSamples, ...reads },
    backup, uncompressed: { backupMs: uncompressed.backupMs, restoreMs: uncompressed.restoreMs, archiveBytes: uncompressed.archiveBytes },
    load: [loadAtStart, os.loadavg()[0]],
  };
}

function machine(c: { server: string; edition: TimescaleEdition; loadAtStart: number }): string[] {
  const cpus = os.cpus();
  return [
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB memory`,
    // Shared machines vary: the load says how much other work the twins' turns had to share the cores with.
    `load average (1 min): ${c.loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`,
    `${fs.existsSync('/etc/debian_version') ? `Debian ${fs.readFileSync('/etc/debian_version', 'utf8').trim()}, ` : ''}Node ${process.version}`,
    `${describeEdition(c.edition)} (server: ${c.server})`,
  ];
}

export async function bench(o: BenchOptions): Promise<BenchResults> {
  const loadAtStart = os.loadavg()[0];
  const benchStarted = nowMs();
  const server = await pickTestServer();
  stopOnSignal(server);
  log(`benchmark (${o.preset}): ${o.tickers} tickers × ${o.days} days, on ${describeServer(server)}`);
  try {
    const settings = loadSettings({ env: 'test', databaseUrl: urlForDatabase(server.adminUrl, 'kapman_bench') });
    const reset = await benchReset(settings, server.adminUrl, o.resetRuns);
    log(`reset: npm run db:reset ${Math.round(reset.npmRunMs)} ms, psql floor ${Math.round(reset.floorMs)} ms (medians)`);

    const c = await connect(settings);
    try {
      const edition = await readTimescaleEdition(c);
      // Compression, measured last, needs the community build: said now rather than at the end of the run.
      if (edition.license !== 'timescale') {
        throw new TimescaleEditionError(`the benchmark measures compression, which needs TimescaleDB's community build, and the server at ${settings.displayUrl} runs ${describeEdition(edition)}`,
          COMMUNITY_BUILD_HINT);
      }
      const ids = await makeTickers(c, o.tickers);
      const dates = weekdays(o.days + o.upsertDays);
      const history = dates.slice(0, o.days);
      const years = yearRanges(dates);
      await c.query(`CREATE SCHEMA ${BENCH_SCHEMA}`);
      await createTwin(c, TABLE.plain);
      await createTwin(c, TABLE.partitioned, 'PARTITION BY RANGE (date)');
      const partition = (from: string) => `${TABLE.partitioned}_${from.replace(/-/g, '')}`;
      for (const [from, to] of years) await c.query(`CREATE TABLE ${partition(from)} PARTITION OF ${TABLE.partitioned} FOR VALUES FROM ('${from}') TO ('${to}')`);
      const ohlcvDesign = await design(c, TABLE.hyper);
      for (const t of ['plain', 'partitioned'] as const) {
        if (await design(c, TABLE[t]) !== ohlcvDesign) throw new Error(`the ${t} twin differs from ohlcv:\n${await design(c, TABLE[t])}\nagainst\n${ohlcvDesign}`);
      }
      log(`twins: plain and partitioned (${years.length} partitions), each with ohlcv's ${ohlcvDesign.split('\n').length} columns, constraints and indexes`);

      // COPY in month-long slices, the tables taking turns: each grows alike, and a burst of load falls on all three.
      const copyMs = perKey(TABLES, () => 0);
      let rows = 0;
      for (let i = 0; i * COPY_SLICE_DAYS < history.length; i++) {
        const slice = history.slice(i * COPY_SLICE_DAYS, (i + 1) * COPY_SLICE_DAYS);
        for (const t of rotate(TABLES, i)) {
          const [n, ms] = await timed(() => copyBars(c, TABLE[t], ids, slice));
          copyMs[t] += ms;
          if (t === 'hyper') rows += n;
        }
      }
      const rowsPerSec = perKey(TABLES, (t) => rows / (copyMs[t] / 1000));
      log(`backfill: ${rows} rows, COPY rows/s: ${TABLES.map((t) => `${t} ${Math.round(rowsPerSec[t])}`).join(', ')}`);
      for (const t of TABLES) await c.query(`VACUUM ANALYZE ${TABLE[t]}`); // one statement each: VACUUM takes no transaction

      // Each new day: first load, then the idempotent re-run, the tables taking turns; medians over the days.
      const upserts = perKey(TABLES, () => ({ first: [] as number[], rerun: [] as number[], written: 0 }));
      const floors: number[] = [];
      const newDays = dates.slice(o.days);
      for (const [i, day] of newDays.entries()) {
        const bars = dayBars(ids, day);
        for (const t of rotate(TABLES, i)) upserts[t].first.push((await timed(() => upsertDay(c, TABLE[t], bars)))[1]);
        for (const t of rotate(TABLES, i)) {
          const [written, ms] = await timed(() => upsertDay(c, TABLE[t], bars));
          upserts[t].rerun.push(ms);
          upserts[t].written += written;
        }
        floors.push((await timed(() => valuesFloor(c, bars)))[1]);
      }
      const upsert: BenchResults['upsert'] = {
        rows: ids.length, days: newDays.length, statementFloorMs: median(floors),
        firstMs: perKey(TABLES, (t) => median(upserts[t].first)),
        rerunMs: perKey(TABLES, (t) => median(upserts[t].rerun)),
        rerunWritten: perKey(TABLES, (t) => upserts[t].written),
      };
      log(`daily upsert of ${ids.length} rows, median of ${newDays.length} days: ${TABLES.map((t) => `${t} ${Math.round(upsert.firstMs[t])} ms (re-run ${Math.round(upsert.rerunMs[t])} ms, ${upsert.rerunWritten[t]} rows written)`).join(', ')}`);
      for (const t of TABLES) await c.query(`VACUUM ANALYZE ${TABLE[t]}`);

      const locks = { preset: o.preset, rows: rows + upsert.rows * upsert.days, cases: await benchLocks(c, TABLE.plain, 3) };
      for (const l of locks.cases) log(`lock: ${l.rule}: ${l.refused ? `refused (${l.refused})` : `held ${Math.round(l.ms)} ms`}`);

      const reads = await readLatencies(c, TABLE, ids, dates, o.readSamples);
      for (const kind of ['ticker', 'cross'] as const) {
        log(`reads, ${kind}, server p50: ${TABLES.map((t) => `${t} ${reads[kind][t].server.p50.toFixed(2)} ms (planning ${reads[kind][t].planning.p50.toFixed(2)})`).join(', ')}`);
      }

      const sweep = await benchSweep(c, o.sweep, ids, dates, Math.max(50, Math.round(o.readSamples / 2)));
      for (const s of sweep) log(`sweep ${s.days} days: ${s.chunks} chunks, ticker p50 ${s.tickerRead.p50.toFixed(2)} ms, cross-section p50 ${s.crossSection.p50.toFixed(2)} ms`);

      const removal = await benchRemoval(c, history, years[0][1], partition(years[0][0]));
      log(`remove the month before ${removal.month.before} by DELETE: ${TABLES.map((t) => `${t} ${Math.round(removal.month.ms[t])} ms (${removal.month.rows[t]} rows)`).join(', ')}`);
      log(`remove the rest before ${removal.oldest.before}: drop_chunks ${Math.round(removal.oldest.ms.hyper)} ms, plain DELETE ${Math.round(removal.oldest.ms.plain)} ms + VACUUM ${Math.round(removal.oldest.plainVacuumMs)} ms, DROP partition ${Math.round(removal.oldest.ms.partitioned)} ms (${removal.oldest.rows.hyper} rows)`);

      // The backup sees what a user's database holds: ohlcv with every row of the preset again, and no twins.
      await c.query(`DROP SCHEMA ${BENCH_SCHEMA} CASCADE`);
      await copyBars(c, TABLE.hyper, ids, history.filter((d) => d < removal.oldest.before));
      await c.query(`VACUUM ANALYZE ${TABLE.hyper}`);
      const backup = await benchBackup(settings, o.preset, o.backupRuns);
      const mbps = (ms: number) => (backup.archiveBytes / 2 ** 20 / (ms / 1000)).toFixed(1);
      log(`backup of ${backup.rows} rows, ${(backup.archiveBytes / 2 ** 20).toFixed(1)} MB: db:backup ${Math.round(backup.backupMs)} ms (${mbps(backup.backupMs)} MB/s), pg_dump floor ${Math.round(backup.backupFloorMs)} ms (${mbps(backup.backupFloorMs)} MB/s) (medians)`);
      log(`restore: db:restore ${Math.round(backup.restoreMs)} ms (${mbps(backup.restoreMs)} MB/s), pg_restore floor ${Math.round(backup.restoreFloorMs)} ms (${mbps(backup.restoreFloorMs)} MB/s) (medians)`);

      // The health page, on what a user's database holds: every bar of the preset, no twins.
      const report = await benchReport(settings, o.preset, o.reportRuns, loadAtStart);
      log(`report: ${Math.round(report.ms)} ms, ${Math.round(report.ms - report.nodeStartMs)} ms beyond Node's start (median of ${report.runs}); a page of ${Math.round(report.bytes / 1024)} kB`);
      const compression = await benchCompression(c, settings, o, ids, dates, backup);

      return {
        preset: o.preset, tickers: o.tickers, days: o.days,
        machine: machine({ server: server.kind, edition, loadAtStart }),
        command: `npm run bench${o.preset === 'full' ? ' -- --preset full' : ''}`,
        durationMs: Math.round(nowMs() - benchStarted),
        reset,
        backfill: { rows, sliceDays: COPY_SLICE_DAYS, rowsPerSec },
        upsert,
        reads: { samples: o.readSamples, ...reads },
        removal, sweep, backup, locks, compression: [compression], report,
      };
    } finally {
      await c.end();
      await withMaintenanceClient(settings, (m) => dropDatabase(m, settings.database));
    }
  } finally {
    await server.stop();
  }
}

const DOCS = path.join(PROJECT_ROOT, 'docs');
export const RESULTS_JSON = path.join(DOCS, 'benchmarks.json');

/**
 * Writes the page, chart and results. Compression is measured at each preset, and the suites by
 * --suite, in runs of their own: the results keep the other figures from the last results written.
 */
export function writeReport(r: BenchResults): void {
  const docs = DOCS;
  fs.mkdirSync(docs, { recursive: true });
  const earlier: BenchResults | undefined = fs.existsSync(RESULTS_JSON) ? JSON.parse(fs.readFileSync(RESULTS_JSON, 'utf8')) : undefined;
  const measured = new Set((r.compression ?? []).map((run) => run.preset));
  r = { ...r, compression: [...(r.compression ?? []), ...(earlier?.compression ?? []).filter((run) => !measured.has(run.preset))] };
  // The suites are measured by --suite alone: a run of the presets keeps their figures.
  if (!r.suite && earlier?.suite) r = { ...r, suite: earlier.suite };
  fs.writeFileSync(RESULTS_JSON, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(path.join(docs, 'benchmarks.svg'), renderChart(r));
  fs.writeFileSync(path.join(docs, 'benchmarks.md'), renderMarkdown(r, 'benchmarks.svg'));
  log('docs/benchmarks.md, .svg and .json written');
}

export const command: KapmanCommand<{ preset: 'quick' | 'full'; write: boolean; 'render-only': boolean; suite: boolean; e2e: boolean }, { met: number; targets: number; written: boolean }> = {
  database: false,
  options: (y) => y
    .option('preset', { choices: ['quick', 'full'] as const, default: 'quick' as const, describe: 'quick or full (15,000 tickers × 2 years); docs/benchmarks.md gives how long each took' })
    .option('write', { type: 'boolean', default: true, describe: 'write docs/benchmarks.md, .svg and .json' })
    .option('render-only', { type: 'boolean', default: false, describe: 'measure nothing: rewrite the page and chart from docs/benchmarks.json' })
    .option('suite', { type: 'boolean', default: false, describe: `measure only the test suites: npm test ${SUITE_RUNS} times on a prepared server, jest alone, the harness's floor, test:e2e once; the other figures kept from docs/benchmarks.json` })
    .option('e2e', { type: 'boolean', default: true, describe: 'with --suite: also time npm run test:e2e (--no-e2e leaves it out)' }),
  run: async (args) => {
    const earlier = (): BenchResults => JSON.parse(fs.readFileSync(RESULTS_JSON, 'utf8'));
    const results: BenchResults = args['render-only'] ? earlier()
      : args.suite ? { ...earlier(), suite: await benchSuites({ e2e: args.e2e }) }
        : await bench({ ...PRESETS[args.preset], write: args.write });
    const checks = targetChecks(results);
    for (const c of checks) log(`${c.ratio <= 1 ? 'met   ' : 'MISSED'} ${c.name}: ${c.measured} (target ${c.target})`);
    if (args.write) writeReport(results);
    return { met: checks.filter((c) => c.ratio <= 1).length, targets: checks.length, written: args.write };
  },
  outcome: (r) => `${r.met} of ${r.targets} targets met${r.written ? '; docs/benchmarks.md, .svg and .json written' : ''}`,
};
