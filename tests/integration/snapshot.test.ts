// The committed schema snapshot and diagram are exactly what the migrations build;
// db:status tells applied from pending.
import fs from 'fs';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { erdFilesOf } from '../../scripts/erd';
import { SCHEMA_SQL } from '../../scripts/schema-dump';
import { schemaSqlOf } from '../../scripts/lib/schema/render';
import { readSchema } from '../../scripts/lib/schema/introspect';
import { requireAllApplied, status, statusLines } from '../../scripts/status';
import { MigrationsNotAppliedError } from '../../scripts/lib/cli/errors';
import { Settings } from '../../scripts/lib/server/settings';
import { migrationsFolder } from '../support/migrations';
import { createMigratedDatabase, createTestDatabase, dropMadeDatabases, withDatabase } from '../support/testDatabase';

// Rendered and read from one copy of the run's template, which the migrations built (nothing
// here writes to it); the commands build a scratch database instead (run end to end by
// tests/e2e/readme.test.ts and kapmanDb.test.ts).
let migrated: Settings;
beforeAll(async () => {
  migrated = await createMigratedDatabase('_snap');
});
afterAll(dropMadeDatabases);

test('db/schema.sql is what the migrations build (run `npm run db:schema:dump` when a migration changes)', async () => {
  const text = await withDatabase(migrated, schemaSqlOf);
  expect(text).toMatch(/CREATE TABLE public\.ohlcv \(/);
  expect(text).toMatch(/SELECT create_hypertable\('public\.ohlcv'/);
  expect(fs.readFileSync(SCHEMA_SQL, 'utf8')).toEqual(text);
});

test('docs/schema.md and the README diagram are current (run `npm run db:erd` when a migration changes)', async () => {
  const files = erdFilesOf(await withDatabase(migrated, readSchema));
  expect(Object.keys(files)).toHaveLength(2);
  for (const [file, text] of Object.entries(files)) {
    expect(text).toMatch(/erDiagram[\s\S]*tickers \|\|--o\{ ohlcv : "ticker_id"/);
    expect({ file, text: fs.readFileSync(file, 'utf8') }).toEqual({ file, text });
  }
});

test('db:status lists pending, applied and edited migrations', async () => {
  const empty = await createTestDatabase('_status');
  const files = fs.readdirSync(MIGRATIONS_DIR).sort();
  expect((await status(empty)).migrations).toEqual(files.map((name) => ({ name, state: 'pending' })));
  const db = migrated; // what migrating it gives, without the migrating
  expect((await status(db)).migrations).toEqual(files.map((name) => ({ name, state: 'applied' })));

  const sources = Object.fromEntries(files.map((f) => [f, fs.readFileSync(`${MIGRATIONS_DIR}/${f}`, 'utf8')]));
  const edited = migrationsFolder({ ...sources, [files[1]]: `${sources[files[1]]}\n// edited\n`, '0099_later.ts': sources[files[0]] });
  const states = (await status(db, { migrationsDirectory: edited })).migrations;
  expect(states.filter((s) => s.state !== 'applied')).toEqual([
    { name: files[1], state: 'edited since applied' },
    { name: '0099_later.ts', state: 'pending' },
  ]);
});

test('status --check on an applied migration whose file was edited since: it shows [!] and exits 29; as applied, it passes', async () => {
  const files = fs.readdirSync(MIGRATIONS_DIR).sort();
  const sources = Object.fromEntries(files.map((f) => [f, fs.readFileSync(`${MIGRATIONS_DIR}/${f}`, 'utf8')]));
  const asApplied = await status(migrated, { migrationsDirectory: migrationsFolder(sources) });
  expect(() => requireAllApplied(asApplied)).not.toThrow();

  const edited = await status(migrated, { migrationsDirectory: migrationsFolder({ ...sources, [files[2]]: `${sources[files[2]]}\n// edited\n` }) });
  expect(statusLines(edited)).toContain(`[!] ${files[2]} (edited since applied)`);
  let refusal: unknown;
  try {
    requireAllApplied(edited);
  } catch (err) {
    refusal = err;
  }
  expect(refusal).toBeInstanceOf(MigrationsNotAppliedError);
  expect(refusal).toMatchObject({ exitCode: 29, message: `${migrated.database}: 0 pending, 1 edited or missing`, hint: expect.stringMatching(/edited \[!\]/) });
});
