// The contract covers what KapMan's migrations make beyond tables: TimescaleDB's compression and
// policies, views, other schemas, functions, triggers, row-level security, grants, comments and
// the database's settings. For each, db:verify names what differs, exits 11, and prints the entry
// that, pasted into db/contract.ts, makes it match. Needs TimescaleDB's community build (policies).
import { Client } from 'pg';
import { CONTRACT, SchemaContract } from '../../db/contract';
import { Difference, diffSchema } from '../../scripts/lib/schema/drift';
import { reconcileExpressions } from '../../scripts/lib/schema/expressions';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { verifyOn } from '../../scripts/lib/schema/verify';
import { Settings } from '../../scripts/lib/server/settings';
import { pasteEntries } from '../support/contractPaste';
import { runInProcess } from '../support/inProcess';
import { actAsOwner, createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';
import { requireCommunityBuild } from '../support/timescaleEdition';

let db: Settings;
beforeAll(async () => {
  db = await createMigratedDatabase('_contract');
});
afterAll(dropMadeDatabases);

/** `work` after `statements`, run as the database's owner, all rolled back after. */
async function withChanges<T>(statements: string[], work: (c: Client) => Promise<T>): Promise<T> {
  return withDatabase(db, async (c) => {
    await c.query('BEGIN');
    try {
      await actAsOwner(c);
      for (const s of statements) await c.query(s);
      return await work(c);
    } finally {
      await c.query('ROLLBACK');
    }
  });
}

/** What `contract` and the database differ in, as db:verify compares them. */
const differences = async (c: Client, contract: SchemaContract) => diffSchema(contract, await reconcileExpressions(c, contract, await readSchema(c)));

/** The contract after pasting the entries db:verify prints for the database as `statements` leave it. */
async function pastedAfter(statements: string[]): Promise<SchemaContract> {
  return withChanges(statements, async (c) => {
    const report = await verifyOn(c, db.database);
    expect(report.ok).toBe(false);
    const contract = pasteEntries(CONTRACT, report.contractEntries!);
    expect(await differences(c, contract)).toEqual([]);
    return contract;
  });
}

const item = (d: Difference) => `${d.kind} ${d.group}: ${d.item}`;

// The first day-2 migration's statements, on a hypertable of the test's own like ohlcv (the project's own
// migrations may have made them already on ohlcv itself).
const BARS = ['CREATE TABLE probe_bars (ticker_id uuid NOT NULL, date date NOT NULL, close numeric, PRIMARY KEY (ticker_id, date))',
  "SELECT create_hypertable('probe_bars', by_range('date', INTERVAL '365 days'))"];
const RETENTION = "SELECT add_retention_policy('probe_bars', INTERVAL '730 days')";
const COMPRESSION = ["ALTER TABLE probe_bars SET (timescaledb.compress, timescaledb.compress_segmentby = 'ticker_id', timescaledb.compress_orderby = 'date DESC')",
  "SELECT add_compression_policy('probe_bars', INTERVAL '120 days')"];
const VIEW = 'CREATE VIEW v_latest_close AS SELECT t.symbol, o.date, o.close FROM ohlcv o JOIN tickers t ON t.id = o.ticker_id';

describe('TimescaleDB: retention and compression as the first day-2 migration makes them', () => {
  let contract: SchemaContract;
  beforeAll(async () => {
    await withDatabase(db, requireCommunityBuild);
    contract = await pastedAfter([...BARS, RETENTION, ...COMPRESSION]);
  });

  test('the pasted contract holds the compression settings and both policies, by name', () => {
    expect(contract.hypertables.find((h) => h.table === 'probe_bars')?.compression).toEqual({ segmentBy: 'ticker_id', orderBy: 'date DESC' });
    expect(contract.policies!.filter((p) => p.on === 'probe_bars')).toEqual([
      expect.objectContaining({ on: 'probe_bars', kind: 'compression', config: { compress_after: '120 days' } }),
      expect.objectContaining({ on: 'probe_bars', kind: 'retention', config: { drop_after: '730 days' } }),
    ]);
  });

  test.each([
    ['a dropped retention policy', ["SELECT remove_retention_policy('probe_bars')"], ['missing database: retention policy on probe_bars']],
    ['a changed retention', ["SELECT remove_retention_policy('probe_bars')", "SELECT add_retention_policy('probe_bars', INTERVAL '365 days')"],
      ['changed database: retention policy on probe_bars']],
    ['a changed compress_after', ["SELECT remove_compression_policy('probe_bars')", "SELECT add_compression_policy('probe_bars', INTERVAL '90 days')"],
      ['changed database: compression policy on probe_bars']],
    ['a paused policy', ["SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'probe_bars'"],
      ['changed database: retention policy on probe_bars']],
    ['a changed run time limit', ["SELECT alter_job(job_id, max_runtime => INTERVAL '1 hour') FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'probe_bars'"],
      ['changed database: retention policy on probe_bars']],
    ['changed compression settings', ["ALTER TABLE probe_bars SET (timescaledb.compress_orderby = 'date ASC')"], ['changed database: compression of probe_bars']],
  ])('%s is a difference, named', async (_label, change, expected) => {
    const found = await withChanges([...BARS, RETENTION, ...COMPRESSION, ...change], (c) => differences(c, contract));
    expect(found.map(item)).toEqual(expected);
  });
});

test.each([
  ['a view', [VIEW], ['unexpected database: view v_latest_close']],
  ['a table in another schema', ['CREATE SCHEMA b4_1', 'CREATE TABLE b4_1.wyckoff_sequences (id bigint PRIMARY KEY, name text NOT NULL)'],
    ['unexpected database: schema b4_1', 'unexpected b4_1.wyckoff_sequences: table']],
  ['a function and its trigger', ['CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created_at := now(); RETURN NEW; END $$',
    'CREATE TRIGGER tickers_touch BEFORE UPDATE ON tickers FOR EACH ROW EXECUTE FUNCTION touch()'],
  ['unexpected database: function touch()', 'unexpected tickers: trigger tickers_touch']],
  ['row-level security with a policy', ['ALTER TABLE tickers ENABLE ROW LEVEL SECURITY', "CREATE POLICY active_only ON tickers FOR SELECT USING (is_active)"],
    ['unexpected tickers: row-level security', 'unexpected tickers: row-level security policy active_only']],
  ['a grant and a comment', ['CREATE ROLE kapman_probe_reader', 'GRANT SELECT ON tickers TO kapman_probe_reader',
    "COMMENT ON COLUMN tickers.symbol IS 'exchange ticker'"],
  ['unexpected database: grant on table tickers to kapman_probe_reader', 'unexpected database: comment on column tickers.symbol']],
  ['a sequence behind a serial column, and an identity column', ['CREATE TABLE probe_lists (id serial PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY)'],
    ['unexpected database: sequence probe_lists_id_seq', 'unexpected probe_lists: table']],
])('%s: verify names it, and its pasted entry makes the database match', async (_label, statements, expected) => {
  await withChanges(statements, async (c) => {
    const report = await verifyOn(c, db.database);
    expect(report.ok).toBe(false);
    expect(report.differences.map(item)).toEqual(expected);
    expect(await differences(c, pasteEntries(CONTRACT, report.contractEntries!))).toEqual([]);
  });
});

test('a changed view is a difference; the same view as PostgreSQL reads its own text back is not', async () => {
  // An IN list on a varchar deparses as a cast array, which parsed again deparses otherwise (expressions.ts): a restore does that.
  const view = "CREATE VIEW v_index_funds AS SELECT symbol FROM tickers WHERE symbol IN ('SPY', 'QQQ', 'IWM')";
  const contract = await pastedAfter([view]);
  const reparsed = `CREATE VIEW v_index_funds AS ${contract.views!.v_index_funds}`;
  await withChanges([reparsed], async (c) => {
    expect((await readSchema(c)).views.v_index_funds).not.toBe(contract.views!.v_index_funds);
    expect(await differences(c, contract)).toEqual([]);
  });
  const other = await withChanges([view.replace("'IWM'", "'DIA'")], (c) => differences(c, contract));
  expect(other.map(item)).toEqual(['changed database: view v_index_funds']);
});

test('a database setting the contract names is compared; one it does not name is ops\' or the platform\'s, as a reset keeps it', async () => {
  const alter = (c: Client, sql: string) => c.query(`ALTER DATABASE ${c.escapeIdentifier(db.database)} ${sql}`);
  await withDatabase(db, async (c) => {
    await alter(c, "SET timezone = 'America/New_York'");
    try {
      expect((await verifyOn(c, db.database)).differences).toEqual([]);
      const contract = { ...CONTRACT, settings: { TimeZone: 'America/New_York' } };
      expect(await differences(c, contract)).toEqual([]);
      await alter(c, "SET timezone = 'UTC'");
      expect((await differences(c, contract)).map(item)).toEqual(['changed database: setting TimeZone']);
      await alter(c, 'RESET timezone');
      expect((await differences(c, contract)).map(item)).toEqual(['missing database: setting TimeZone']);
    } finally {
      await alter(c, 'RESET timezone');
    }
  });
});

test('db:verify exits 11 on a policy the contract lacks, and prints the entry', async () => {
  // A retention policy on the first hypertable of the contract that has none.
  const table = CONTRACT.hypertables.map((h) => h.table).find((t) => !(CONTRACT.policies ?? []).some((p) => p.on === t && p.kind === 'retention'))
    ?? CONTRACT.hypertables[0].table;
  const had = (CONTRACT.policies ?? []).find((p) => p.on === table && p.kind === 'retention');
  await withDatabase(db, async (c) => {
    await requireCommunityBuild(c);
    if (had) await c.query('SELECT remove_retention_policy($1)', [table]);
    await c.query("SELECT add_retention_policy($1, INTERVAL '731 days')", [table]);
  });
  try {
    const r = await runInProcess('verify', [], { DATABASE_URL: db.url });
    expect(r.code).toBe(11);
    expect(r.out).toMatch(new RegExp(`(unexpected|changed) retention policy on ${table}: .*drop_after: 731 days`));
    expect(r.out).toMatch(new RegExp(`policies: \\[\\n[^]*\\{ on: '${table}', kind: 'retention', config: \\{ drop_after: '731 days' \\}, schedule: '1 day' \\},\\n[^]*\\],`));
  } finally {
    await withDatabase(db, async (c) => {
      await c.query('SELECT remove_retention_policy($1)', [table]);
      if (had) await c.query('SELECT add_retention_policy($1, $2::interval, schedule_interval => $3::interval)', [table, had.config.drop_after, had.schedule]);
    });
  }
});
