// Slow (two squashes, each followed by the copy's whole `npm test`, several minutes): KapMan's
// day-2 chain squashed twice in a git copy of the project, by the runbook of docs/squashing.md.
// First the eight day-2 migrations with their retention and compression policies, folded with
// the MVP into 0016_baseline.ts; then, after his five views went through the daily loop, again
// into 0017_baseline.ts. Each time a fresh build from the baseline equals the chain's (structure,
// policies, views, rows), a database migrated before carries forward with every row (compressed
// chunks included), and the copy's own suite is green. Needs TimescaleDB's community build.
// The tests run in order and share the copy and its databases.
import fs from 'fs';
import path from 'path';
import { Client } from 'pg';
import { compareSchemas } from '../../scripts/lib/schema/compare';
import { dropDatabase } from '../../scripts/lib/server/admin';
import { Settings } from '../../scripts/lib/server/settings';
import { git as gitIn } from '../support/gitProject';
import { migrationFiles } from '../support/expected';
import { DAY2_DIR, day2Migrations } from '../support/migrations';
import { createdFile, fillStub, kapmanIn, npmIn, NpmResult, partsOf, pasteEntries, printedEntries } from '../support/nextMigration';
import { copyProject, removeProject } from '../support/projectCopy';
import {
  admin, createMigratedDatabase, createTestDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, urlAs, withDatabase,
} from '../support/testDatabase';

let copy: string;
let dev: Settings; // the development database, migrated before each squash
let early: Settings; // migrated before each squash too, holding rows and compressed chunks
beforeAll(async () => {
  copy = copyProject('squash-day2', { withTests: true });
  fs.writeFileSync(path.join(copy, '.gitignore'), 'node_modules\n.pgdata/\nbackups/\n');
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'The release');
  [dev, early] = await Promise.all([createMigratedDatabase('_d2_dev'), createMigratedDatabase('_d2_early')]);
});
afterAll(async () => {
  await removeProject(copy);
  await dropMadeDatabases();
  await dropMadeRoles();
});

// A squash, fresh builds and the copy's whole suite: minutes on a loaded machine.
const SQUASH_AND_SUITE_MS = 15 * 60_000;

const git = (...args: string[]) => gitIn(copy, ...args);
const kapman = (args: string[], db: Settings = dev) => kapmanIn(copy, args, { DATABASE_URL: db.url });
const npm = (args: string[], db: Settings = dev) => npmIn(copy, args, { DATABASE_URL: db.url });
const ok = (r: NpmResult, what: unknown) => {
  expect({ what, code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ what, code: 0, out: '' });
  return r.out;
};
const filesIn = (folder: 'migrations' | 'squashed') => fs.readdirSync(path.join(copy, 'db', folder)).filter((f) => f.endsWith('.ts')).sort();

/** verify, its entries pasted into the copy's contract, verify again; then the generated files, committed. */
function settleContract(message: string): void {
  const differs = kapman(['verify']);
  expect(differs.code).toBe(11);
  pasteEntries(copy, printedEntries(differs.out));
  for (const step of [['verify'], ['schema:dump'], ['erd']]) ok(kapman(step), step);
  git('add', '-A');
  git('commit', '-q', '-m', message);
}

/** Tickers with bars over 700 days, the chunks older than 120 days compressed, and options snapshots. */
async function fillAndCompress(c: Client): Promise<void> {
  await c.query("INSERT INTO tickers (symbol) SELECT 'K' || g FROM generate_series(1, 5) g");
  await c.query(`INSERT INTO ohlcv (ticker_id, date, open, high, low, close, volume)
    SELECT t.id, d::date, 10, 11, 9, 10.5, 1000 FROM tickers t, generate_series(current_date - 700, current_date - 1, '1 day') d`);
  await c.query(`INSERT INTO options_chains (time, ticker_id, expiration_date, strike_price, option_type, bid)
    SELECT now() - g * interval '1 day', t.id, current_date + 30, 100, 'C', 1 FROM tickers t, generate_series(1, 300, 30) g`);
  await c.query("SELECT compress_chunk(c) FROM show_chunks('ohlcv', older_than => INTERVAL '120 days') c");
}

/** Every row of every table (md5 per table) and the compressed chunks: what a carry-forward must keep. */
async function rows(c: Client): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const { t } of (await c.query("SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows) {
    out[t] = (await c.query(`SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS md5 FROM ${t} x`)).rows[0];
  }
  out.compressedChunks = (await c.query('SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE is_compressed')).rows[0].n;
  return out;
}

/** A fresh database built by the folder as it is now. */
async function freshBuild(label: string): Promise<Settings> {
  const db = await createTestDatabase(label);
  ok(kapman(['migrate'], db), `migrate ${label}`);
  return db;
}

/** The docs' runbook: squash, review and commit as it prints, migrate each database migrated before. */
function runbook(baseline: string): string {
  const squashed = ok(npm(['db:squash']), 'db:squash');
  expect(squashed).toMatch(/proof: identical on structure, contract, pg_dump --schema-only/);
  expect(squashed).toContain(`written: db/migrations/${baseline}`);
  const review = [...squashed.matchAll(/^kapman: {3}(git .*)$/gm)].map((m) => m[1]);
  expect(review[0]).toBe('git add -A db/');
  git('add', '-A', 'db/');
  git('commit', '-q', '-m', /git commit -m "(.*)"/.exec(review[review.length - 1])![1]);
  for (const db of [dev, early]) {
    expect(ok(npm(['db:migrate'], db), `db:migrate ${db.database}`)).toMatch(new RegExp(`carried past the squash: ${baseline} recorded in place of`));
    ok(kapman(['verify'], db), `verify ${db.database}`);
  }
  return squashed;
}

/** The copy's own `npm test`, as a superuser role of its own on this server (as the second-migration e2e runs it). */
async function copysSuite(label: string): Promise<void> {
  const nested = await createTestRole(label, 'SUPERUSER');
  let suite: NpmResult;
  try {
    suite = npmIn(copy, ['test'], { TEST_DATABASE_URL: urlAs(nested, 'postgres'), KAPMAN_TEST_SERVER_URL: undefined, KAPMAN_TEST_TEMPLATE: undefined, KAPMAN_TEST_RUN: undefined });
  } finally {
    // The copy's run keeps its template between runs on a TEST_DATABASE_URL server, owned by that role.
    await admin(async (c) => {
      const { rows: kept } = await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, 'kapman_template_')
        AND datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)`, [nested.name]);
      for (const r of kept) await dropDatabase(c, r.datname);
    });
  }
  expect({ code: suite.code, failed: suite.code === 0 ? '' : suite.out }).toEqual({ code: 0, failed: '' });
  expect(suite.out).toMatch(/Tests: +\d+ passed, \d+ total/);
}

/** Squash, and what must hold after it: the baseline alone in the folder, a fresh build the chain's, every row kept. */
async function squashAndCheck(baseline: string, label: string): Promise<void> {
  const chain = await freshBuild(`${label}_chain`);
  const before = await withDatabase(early, rows);
  runbook(baseline);
  expect(filesIn('migrations')).toEqual([baseline]);
  const fresh = await freshBuild(`${label}_fresh`);
  const compared = await withDatabase(chain, (c) => withDatabase(fresh, (f) => compareSchemas(c, f, { data: true })));
  expect(compared.differences).toEqual([]);
  expect(compared.left.policies.map((p) => `${p.kind} on ${p.on}`).sort())
    .toEqual(['compression on ohlcv', 'compression on options_chains', 'retention on ohlcv', 'retention on options_chains']);
  expect(await withDatabase(early, rows)).toEqual(before);
  await copysSuite(label);
}

test("the eight day-2 migrations, released and settled, squash with the MVP into 0016_baseline.ts: a fresh build is the chain's, the databases migrated before carry forward with every row, the copy's npm test is green", async () => {
  for (const [name, source] of Object.entries(day2Migrations('0016'))) fs.writeFileSync(path.join(copy, 'db', 'migrations', name), source);
  ok(kapman(['migrate']), 'migrate');
  settleContract("The author's day-2 migrations");
  ok(kapman(['migrate'], early), 'migrate early');
  await withDatabase(early, fillAndCompress);
  expect((await withDatabase(early, rows)).compressedChunks).toBeGreaterThan(0);
  await squashAndCheck('0016_baseline.ts', 'd2_first');
  expect(filesIn('squashed')).toEqual([...migrationFiles(), ...Object.keys(day2Migrations('0016'))].sort());
}, SQUASH_AND_SUITE_MS);

test("his five views go through the daily loop after it, and the baseline with them squashes again into 0017_baseline.ts: the same holds, the copy's npm test green", async () => {
  const made = kapman(['new', 'common views']);
  expect(made.code).toBe(0);
  const file = createdFile(made.out);
  expect(file).toBe('db/migrations/0017_common_views.ts');
  fillStub(copy, file, partsOf(fs.readFileSync(path.join(DAY2_DIR, '0017_common_views.ts'), 'utf8')));
  expect(ok(kapman(['migrate', '--dry-run']), 'dry run')).toMatch(/CREATE OR REPLACE VIEW public\.v_wyckoff_context_events/);
  expect(ok(kapman(['lint']), 'lint')).toMatch(/lint: 0 findings in 1 migration/);
  ok(kapman(['migrate']), 'migrate');
  settleContract('His five views');
  ok(kapman(['migrate'], early), 'migrate early');
  await squashAndCheck('0017_baseline.ts', 'd2_second');
  expect(filesIn('squashed')).toEqual(expect.arrayContaining(['0016_baseline.ts', '0017_common_views.ts']));
  const views = await withDatabase(dev, async (c) => (await c.query("SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.viewname));
  expect(views).toEqual(['v_wyckoff_context_events', 'v_wyckoff_regime_transitions', 'v_wyckoff_sequence_events', 'v_wyckoff_sequences', 'v_wyckoff_snapshot_evidence']);
}, SQUASH_AND_SUITE_MS);
