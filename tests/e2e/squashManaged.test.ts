// A squash where the target's role may not create databases (a managed server's usually may
// not): the proof's two scratch databases go on a throwaway local server, and it says so.
import { squash } from '../../scripts/lib/migrations/squash';
import { carryForward } from '../../scripts/lib/migrations/carryForward';
import { applyMigrations } from '../../scripts/lib/migrations/migrate';
import { loadSettings } from '../../scripts/lib/server/settings';
import { gitProject } from '../support/gitProject';
import { migrationOf } from '../support/migrations';
import { createTestDatabase, createTestRole, dropMadeDatabases, dropMadeRoles, urlAs, withDatabase } from '../support/testDatabase';

afterAll(async () => {
  await dropMadeDatabases();
  await dropMadeRoles();
});

test('a role without CREATEDB: the proof runs on a throwaway local server, is clean, the baseline is written, and the database is carried past it', async () => {
  const role = await createTestRole('nocreatedb');
  const db = await createTestDatabase('_sq_managed', role.name);
  await withDatabase(db, (c) => c.query('CREATE EXTENSION IF NOT EXISTS timescaledb')); // as the platform would have
  const asRole = loadSettings({ env: 'test', databaseUrl: urlAs(role, db.database) });
  const directory = gitProject({
    '0001_a.ts': migrationOf(['CREATE EXTENSION IF NOT EXISTS timescaledb', 'CREATE TABLE a (x int NOT NULL, at timestamptz NOT NULL)', "SELECT create_hypertable('a', by_range('at'))"]),
    '0002_b.ts': migrationOf(['CREATE INDEX a_x_idx ON a (x, at)']),
  });
  await applyMigrations(asRole, { directory });
  const r = await squash(asRole, { directory });
  expect(r.proofServer).not.toContain(`@${asRole.connection.host}:${asRole.connection.port}/`);
  expect(r.proofServer).toMatch(/^postgres:\/\/kapman:\*+@127\.0\.0\.1:\d+\/postgres$/);
  expect(r.proof.map((c) => c.check)).toEqual(['structure', 'contract', 'pg_dump --schema-only']);
  expect(r.proof.filter((c) => c.differences.length)).toEqual([]);
  expect(r.baseline).toBe('0002_baseline.ts');
  // The same database, migrated before the squash, is carried past it: its structure checked on a throwaway server too.
  await expect(carryForward(asRole, { directory })).resolves.toEqual([{ baseline: '0002_baseline.ts', squashed: ['0001_a.ts', '0002_b.ts'] }]);
});
