// The committed schema snapshot and diagram are exactly what the migrations build;
// db:status tells applied from pending.
import fs from 'fs';
import { MIGRATIONS_DIR } from '../../db/migrationSource';
import { erdFiles } from '../../scripts/erd';
import { SCHEMA_SQL, schemaSql } from '../../scripts/schema-dump';
import { status } from '../../scripts/status';
import { migrateLatest } from '../../scripts/lib/migrations/migrate';
import { migrationsFolder } from '../support/migrations';
import { createTestDatabase, dropMadeDatabases } from '../support/testDatabase';

afterAll(dropMadeDatabases);

// Each test builds on databases of its own: they run side by side (test.concurrent).

test.concurrent('db/schema.sql is what the migrations build (run `npm run db:schema:dump` when a migration changes)', async () => {
  const settings = await createTestDatabase('_snap');
  const text = await schemaSql(settings);
  expect(text).toMatch(/CREATE TABLE public\.ohlcv \(/);
  expect(text).toMatch(/SELECT create_hypertable\('public\.ohlcv'/);
  expect(fs.readFileSync(SCHEMA_SQL, 'utf8')).toEqual(text);
});

test.concurrent('docs/schema.md and the README diagram are current (run `npm run db:erd` when a migration changes)', async () => {
  const settings = await createTestDatabase('_erd');
  const files = await erdFiles(settings);
  expect(Object.keys(files)).toHaveLength(2);
  for (const [file, text] of Object.entries(files)) {
    expect(text).toMatch(/erDiagram[\s\S]*tickers \|\|--o\{ ohlcv : "ticker_id"/);
    expect({ file, text: fs.readFileSync(file, 'utf8') }).toEqual({ file, text });
  }
});

test.concurrent('db:status lists pending, applied and edited migrations', async () => {
  const db = await createTestDatabase('_status');
  const files = fs.readdirSync(MIGRATIONS_DIR).sort();
  expect(await status(db)).toEqual(files.map((name) => ({ name, state: 'pending' })));
  await migrateLatest(db);
  expect(await status(db)).toEqual(files.map((name) => ({ name, state: 'applied' })));

  const sources = Object.fromEntries(files.map((f) => [f, fs.readFileSync(`${MIGRATIONS_DIR}/${f}`, 'utf8')]));
  const edited = migrationsFolder({ ...sources, [files[1]]: `${sources[files[1]]}\n// edited\n`, '0099_later.ts': sources[files[0]] });
  const states = await status(db, { migrationsDirectory: edited });
  expect(states.filter((s) => s.state !== 'applied')).toEqual([
    { name: files[1], state: 'edited since applied' },
    { name: '0099_later.ts', state: 'pending' },
  ]);
});
