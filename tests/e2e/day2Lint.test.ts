// Slow (eight rehearsals, each building a scratch database through the migration before, on
// TimescaleDB's community build): KapMan's day-2 migrations linted one at a time against a
// database holding rows, as their author applied them in production, each applied once linted.
// Only true findings: each is pinned here with why it is true.
import { LintReport, lintRehearsal } from '../../scripts/lib/migrations/lint';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { rehearse } from '../../scripts/lib/migrations/rehearse';
import { day2Migrations, migrationsFolder, releasedMigrations } from '../support/migrations';
import { fillEveryTable } from '../support/tradingData';
import { createMigratedDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

afterAll(dropMadeDatabases);

/** Rule and statement of each finding, in order, and of each note. */
const found = (r: LintReport) => [...r.findings.map((f) => `${f.statement} ${f.rule}`), ...r.notes.map((f) => `${f.statement} note: ${f.rule}`)];

test("the author's eight day-2 migrations, each linted against a database with rows before it is applied: only true findings", async () => {
  const db = await createMigratedDatabase('_day2lint');
  await withDatabase(db, fillEveryTable);
  const day2 = day2Migrations('0016');
  const reports: Record<string, LintReport> = {};
  const rows: Record<string, number> = {};
  for (const file of Object.keys(day2)) {
    const directory = migrationsFolder({ ...releasedMigrations(), ...day2Migrations(file.slice(0, 4)) });
    if (file.startsWith('0015')) {
      // Stage B4.1 wrote sequences into its schema before 0015 moved them.
      await withDatabase(db, (c) => c.query(`INSERT INTO b4_1.wyckoff_sequences (sequence_id, ticker_id, sequence_type, start_date, terminal_date, prior_regime, terminal_event, confidence, created_at)
        SELECT gen_random_uuid(), id, 'ACC-' || symbol, '2023-01-02', '2023-02-01', 'ACCUMULATION', 'SOS', 0.8, now() FROM tickers;
        INSERT INTO b4_1.wyckoff_sequence_events SELECT sequence_id, 'SC', start_date, 'start', 1 FROM b4_1.wyckoff_sequences`));
    }
    await withDatabase(db, async (c) => {
      await c.query('ANALYZE');
      const { rows: counts } = await c.query(`SELECT 'options_chains' AS t, count(*)::int AS n FROM options_chains UNION ALL
        SELECT 'daily_snapshots', count(*)::int FROM daily_snapshots`);
      for (const r of counts) rows[`${file} ${r.t}`] = r.n;
      if (file.startsWith('0015')) rows.b4_1 = (await c.query('SELECT count(*)::int AS n FROM b4_1.wyckoff_sequences')).rows[0].n;
    });
    reports[file] = lintRehearsal(await rehearse(db, { directory, eachSchema: true }), { directory });
    expect({ file, failure: reports[file].failure }).toEqual({ file, failure: undefined });
    await applyMigrations(db, { directory });
  }
  expect(Object.fromEntries(Object.entries(reports).map(([file, r]) => [file, found(r)]))).toEqual({
    // Compression set and its policy added through the API TimescaleDB 2.19 deprecates (timescaledb.compress*,
    // add_compression_policy): notes, since 2.19 runs it as ever; nothing that harms a live table.
    '0009_ohlcv_retention.ts': ['2 note: timescaledb-deprecated-api', '3 note: timescaledb-deprecated-api'],
    '0010_watchlists.ts': [],
    // options_chains and its rows dropped; built again with an enum become char(1) and numerics without their precision;
    // the same deprecated compression API. Its indexes and create_hypertable are on the table it has just created: quiet.
    '0011_options_chains_timescaledb.ts': ['1 table-dropped', '2 column-retyped-by-rebuild', '8 note: timescaledb-deprecated-api', '9 note: timescaledb-deprecated-api'],
    // Each CHECK added with its column is checked against every row of daily_snapshots, under an exclusive lock.
    '0012_wyckoff_regime.ts': ['1 check-with-scan', '2 check-with-scan'],
    '0013_wyckoff_derived.ts': [],
    '0014_b4_1_wyckoff_sequences.ts': [],
    // The DO block drops the schema b4_1 with its two tables and their rows (copied to public first: a reason to silence it, in the file).
    '0015_b4_1_sequences_public.ts': ['2 schema-dropped'],
    '0016_deprecate_wyckoff_canonical_events.ts': [],
  });
  const why = (file: string, rule: string) => reports[file].findings.find((f) => f.rule === rule)!.why;
  expect(why('0011_options_chains_timescaledb.ts', 'table-dropped')).toContain(`holds about ${rows['0011_options_chains_timescaledb.ts options_chains']} rows`);
  expect(why('0011_options_chains_timescaledb.ts', 'column-retyped-by-rebuild')).toMatch(/option_type option_type to character\(1\), bid numeric\(12,4\) to numeric/);
  expect(why('0012_wyckoff_regime.ts', 'check-with-scan')).toContain(`holds about ${rows['0012_wyckoff_regime.ts daily_snapshots']} rows`);
  expect(why('0015_b4_1_sequences_public.ts', 'schema-dropped')).toContain(`b4_1.wyckoff_sequences, about ${rows.b4_1} rows (${db.database}, by its statistics)`);
});
