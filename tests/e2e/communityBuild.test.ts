// Slow (a project copy driven through two dozen commands, backups and resets of a database with
// compressed chunks): KapMan's first day-2 migrations on TimescaleDB's community build, through
// the daily loop as a user runs it, and every command that replaces a database keeping what
// compression and policies are. Needs the community (TSL) build.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Client } from 'pg';
import { DAY2_DIR, day2Migrations } from '../support/migrations';
import { createdFile, fillStub, kapmanIn, partsOf, pasteEntries, printedEntries } from '../support/nextMigration';
import { copyProject, removeProject } from '../support/projectCopy';
import { createMigratedDatabase, dropMadeDatabases, serverUrl, withDatabase } from '../support/testDatabase';
import { requireCommunityBuild } from '../support/timescaleEdition';
import { installDockerShim } from '../support/dockerShim';
import { Settings } from '../../scripts/lib/server/settings';
import { DEFAULT_PG_BIN } from '../../scripts/lib/server/localCluster';

let copy: string;
let dev: Settings;
const backups = fs.mkdtempSync(path.join(os.tmpdir(), 'kapman-tsl-backups-'));
beforeAll(async () => {
  copy = copyProject('tsl');
  dev = await createMigratedDatabase('_tsl'); // stands for the development database, at the baseline
  await withDatabase(dev, requireCommunityBuild);
});
afterAll(async () => {
  await removeProject(copy);
  fs.rmSync(backups, { recursive: true, force: true });
  await dropMadeDatabases();
});

let through: Record<string, string> = {};
const kapman = (...args: string[]) => kapmanIn(copy, args, { DATABASE_URL: dev.url, ...through });
const ok = (args: string[]) => {
  const r = kapman(...args);
  expect({ args, code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ args, code: 0, out: '' });
  return r.out;
};

/** The daily loop for one migration written from a fixture: new, dry run, lint, migrate, verify with the entries pasted, dump, diagram. */
function dailyLoop(name: string, fixture: string, expectInPlan: RegExp): void {
  const made = kapman('new', name);
  expect(made.code).toBe(0);
  fillStub(copy, createdFile(made.out), partsOf(fs.readFileSync(path.join(DAY2_DIR, fixture), 'utf8')));
  expect(ok(['migrate', '--dry-run'])).toMatch(expectInPlan);
  expect(ok(['lint'])).toMatch(/lint: 0 findings in 1 migration/);
  ok(['migrate']);
  settleContract();
}

/** verify, its entries pasted into the copy's contract, verify again; then the generated files. */
function settleContract(): void {
  const differs = kapman('verify');
  expect(differs.code).toBe(11);
  pasteEntries(copy, printedEntries(differs.out));
  for (const step of [['verify'], ['schema:dump'], ['erd']]) ok(step);
}

/** Rows (an md5 per table), compressed chunks per hypertable, and the policies with their settings, read with plain SQL. */
async function fingerprint(c: Client): Promise<Record<string, unknown>> {
  const tables = (await c.query("SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows;
  const out: Record<string, unknown> = {};
  for (const { t } of tables) {
    out[t] = (await c.query(`SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS md5 FROM ${t} x`)).rows[0];
  }
  out.chunks = (await c.query(`SELECT hypertable_name, count(*)::int AS chunks, count(*) FILTER (WHERE is_compressed)::int AS compressed
    FROM timescaledb_information.chunks GROUP BY 1 ORDER BY 1`)).rows;
  out.policies = (await c.query(`SELECT hypertable_name, proc_name, config - 'hypertable_id' AS config, schedule_interval::text, scheduled
    FROM timescaledb_information.jobs WHERE job_id >= 1000 ORDER BY 1, 2`)).rows;
  out.compression = (await c.query('SELECT hypertable::text, segmentby, orderby FROM timescaledb_information.hypertable_compression_settings ORDER BY 1')).rows;
  return out;
}

/** Tickers with 700 days of bars to yesterday (inside the 730-day retention), the chunks older than 120 days compressed. */
async function fillAndCompress(c: Client): Promise<void> {
  await c.query("INSERT INTO tickers (symbol) SELECT 'K' || g FROM generate_series(1, 5) g");
  await c.query(`INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume)
    SELECT t.id, d::date, 10, 11, 9, 10.5, 1000 FROM tickers t, generate_series(current_date - 700, current_date - 1, '1 day') d`);
  await c.query(`INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, bid)
    SELECT now() - g * interval '1 day', t.id, current_date + 30, 100, 'C', 1 FROM tickers t, generate_series(1, 300, 30) g`);
  await c.query("SELECT compress_chunk(c) FROM show_chunks('ohlcv', older_than => INTERVAL '120 days') c");
  await c.query("SELECT compress_chunk(c) FROM show_chunks('options_chains', older_than => INTERVAL '120 days') c");
}

const compressedChunks = (f: Record<string, unknown>) => (f.chunks as Array<{ compressed: number }>).reduce((n, r) => n + r.compressed, 0);

test("the author's retention and compression migration goes through the daily loop", () => {
  dailyLoop('ohlcv retention', '0009_ohlcv_retention.ts', /add_retention_policy\('ohlcv', INTERVAL '730 days'/);
  const contract = fs.readFileSync(path.join(copy, 'db', 'contract.ts'), 'utf8');
  expect(contract).toMatch(/compression: \{ segmentBy: 'ticker_id', orderBy: 'date DESC' \}/);
  expect(contract).toMatch(/\{ on: 'ohlcv', kind: 'retention', config: \{ drop_after: '730 days' \}, schedule: '1 day' \}/);
  expect(fs.readFileSync(path.join(copy, 'db', 'schema.sql'), 'utf8')).toMatch(/add_compression_policy\('public\.ohlcv', compress_after => INTERVAL '120 days'/);
});

test('after the rest of the day-2 chain, his five views go through the daily loop', () => {
  // Released meanwhile: the day-2 migrations between, as files, applied in one batch.
  const between = Object.entries(day2Migrations('0016')).filter(([name]) => name.slice(0, 4) > '0009');
  for (const [name, source] of between) fs.writeFileSync(path.join(copy, 'db', 'migrations', name), source);
  ok(['migrate']);
  settleContract();
  dailyLoop('common views', '0017_common_views.ts', /CREATE OR REPLACE VIEW public\.v_wyckoff_context_events/);
  const contract = fs.readFileSync(path.join(copy, 'db', 'contract.ts'), 'utf8');
  for (const view of ['v_wyckoff_context_events', 'v_wyckoff_regime_transitions', 'v_wyckoff_sequence_events', 'v_wyckoff_sequences', 'v_wyckoff_snapshot_evidence']) {
    expect(contract).toContain(`${view}: `);
  }
});

describe('a database with compressed chunks and policies', () => {
  let before: Record<string, unknown>;
  beforeAll(async () => {
    await withDatabase(dev, fillAndCompress);
    before = await withDatabase(dev, fingerprint);
    expect(compressedChunks(before)).toBeGreaterThan(0);
  });

  test('a backup restores with every row, its chunks compressed as they were, and its policies', async () => {
    const file = path.join(backups, 'tsl.dump');
    ok(['backup', '--out', file]);
    ok(['restore', file]);
    expect(await withDatabase(dev, fingerprint)).toEqual(before);
    ok(['verify']);
  });

  test('through docker compose exec too (the development database\'s own binaries: tests/support/dockerShim.ts)', async () => {
    const bin = path.join(backups, 'bin');
    const none = path.join(backups, 'no-postgres');
    fs.mkdirSync(bin);
    fs.mkdirSync(none);
    const server = new URL(serverUrl());
    const shim = installDockerShim(bin, { server: { host: server.hostname, port: Number(server.port || 5432) }, binDir: DEFAULT_PG_BIN,
      publishedPort: Number(server.port || 5432), compose: true, running: true, log: path.join(backups, 'docker-calls.jsonl') });
    // No local client in sight: PG_BIN an empty folder, no folder on PATH with pg_dump or pg_restore, the stand-in first.
    const hasClient = (d: string) => ['pg_dump', 'pg_restore'].some((t) => fs.existsSync(path.join(d, t)));
    through = { PG_BIN: none, PATH: [bin, ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d && !hasClient(d))].join(path.delimiter) };
    try {
      const file = path.join(backups, 'tsl-docker.dump');
      ok(['backup', '--out', file]);
      ok(['restore', file]);
    } finally {
      through = {};
    }
    expect(shim.calls().filter((c) => c.argv[1] === 'exec' && !c.argv.includes('--version')).map((c) => c.argv[c.argv.indexOf('timescaledb') + 1]))
      .toEqual(['pg_dump', 'pg_restore']);
    expect(await withDatabase(dev, fingerprint)).toEqual(before);
  });

  test('a reset, beside and in place, rebuilds the migrations\' schema with its compression and policies', async () => {
    const empty = (f: Record<string, unknown>) => ({ compression: f.compression, policies: f.policies });
    for (const args of [['reset'], ['reset', '--in-place']]) {
      ok(args);
      ok(['verify', '--empty']);
      expect(empty(await withDatabase(dev, fingerprint))).toEqual(empty(before));
      await withDatabase(dev, fillAndCompress); // for the next one: a database full of compressed chunks
    }
  });
});
